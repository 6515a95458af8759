// The C floor of the pool's hand-off (docs/performance.md, "mlp_infer_b1, session 14"): the caller publishes a sequence
// number, both threads spin for ITEM ns (their "items"), the worker stores the sequence number back, the caller waits for
// it. Prints min / p10 / median per loop: the loop's time minus ITEM is what the hand-off costs.
//   gcc -O2 -pthread -o handoff bench/tools/handoff.c && ./handoff [ITEM_NS=1000] [pin=0]
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <immintrin.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
static _Atomic long seq __attribute__((aligned(128))); static _Atomic long done __attribute__((aligned(128)));
static double item=1e-6; static int pin=0;
static void setcpu(int c){ if(!pin) return; cpu_set_t s;CPU_ZERO(&s);CPU_SET(c,&s);sched_setaffinity(0,sizeof s,&s);}
static void spin(){ double e=now()+item; while(now()<e){} }
static void*worker(void*a){ setcpu(1); long seen=0; for(;;){ long q; while((q=atomic_load_explicit(&seq,memory_order_acquire))==seen) _mm_pause(); if(q<0) return 0; seen=q; spin(); atomic_store_explicit(&done,q,memory_order_release);} }
int main(int argc,char**argv){ item=(argc>1?atof(argv[1]):1000)*1e-9; pin=argc>2?atoi(argv[2]):0; setcpu(0);
  pthread_t t; pthread_create(&t,0,worker,0); int reps=200000; double*ts=malloc(reps*sizeof(double));
  for(int r=0;r<reps;r++){ double t0=now(); long q=r+1; atomic_store_explicit(&seq,q,memory_order_release); spin();
    while(atomic_load_explicit(&done,memory_order_acquire)!=q) _mm_pause(); ts[r]=now()-t0; }
  atomic_store(&seq,-1); qsort(ts,reps,sizeof(double),cmp);
  printf("C hand-off, items of %.0f ns, pin=%d: min %.3f p10 %.3f median %.3f us\n",item*1e9,pin,ts[0]*1e6,ts[reps/10]*1e6,ts[reps/2]*1e6); return 0;}
