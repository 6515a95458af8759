// One cache line bounced between two threads (cores 0 and 1 when pinned): the round trip of a hand-off on this machine
// (docs/performance.md, "mlp_infer_b1, session 14"). Prints min / p10 / median of R-round-trip batches, in ns per round trip.
//   gcc -O2 -pthread -o pingpong bench/tools/pingpong.c && ./pingpong [pin=1] [batches=2000] [R=100]
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
static _Atomic long ball __attribute__((aligned(128)));
static int pin=1;
static void setcpu(int c){ if(!pin) return; cpu_set_t s;CPU_ZERO(&s);CPU_SET(c,&s);sched_setaffinity(0,sizeof s,&s);}
static void*other(void*a){ setcpu(1); for(;;){ long v; while(((v=atomic_load_explicit(&ball,memory_order_acquire))&1)==0) _mm_pause(); if(v<0) return 0; atomic_store_explicit(&ball,v+1,memory_order_release);} }
int main(int argc,char**argv){ pin=argc>1?atoi(argv[1]):1; int batches=argc>2?atoi(argv[2]):2000, R=argc>3?atoi(argv[3]):100;
  setcpu(0); pthread_t t; pthread_create(&t,0,other,0);
  double*ts=malloc(batches*sizeof(double)); long v=0;
  for(int b=0;b<batches;b++){ double t0=now();
    for(int r=0;r<R;r++){ atomic_store_explicit(&ball,v+1,memory_order_release); while(atomic_load_explicit(&ball,memory_order_acquire)!=v+2) _mm_pause(); v+=2; }
    ts[b]=(now()-t0)/R*1e9; }
  atomic_store(&ball,-1);
  qsort(ts,batches,sizeof(double),cmp);
  printf("pingpong pin=%d: round trip min %.0f p10 %.0f median %.0f ns\n",pin,ts[0],ts[batches/10],ts[batches/2]);
  return 0;}
