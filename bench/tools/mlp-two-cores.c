// The two-core floor of mlp_infer_b1 (docs/performance.md, "mlp_infer_b1, session 12"): each core reads its fixed half of
// fc1 (401 KB) and of fc2 (64 KB) from its own L2 with the kernels' loads and FMAs, one hand-off per call (the caller
// publishes a sequence number, the worker spins on it and stores its own when done). Prints min / p10 / median per call.
//   gcc -O2 -mavx512f -mfma -pthread -o mlp-two-cores bench/tools/mlp-two-cores.c (AVX2: -mavx2 -mfma) && ./mlp-two-cores 1 1
// arguments: two cores (1) or one core reading both halves (0); pin the threads to cores 0 and 1 (1) or not (0).
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <stdatomic.h>
#include <sys/mman.h>
// HUGE=1 in the environment: the weights in 2 MB-aligned blocks advised MADV_HUGEPAGE (session 13: no different from 4 KB pages).
static void*alloc(size_t b){ if(!getenv("HUGE")) return aligned_alloc(64,b); size_t a=2u<<20, sz=(b+a-1)/a*a; void*p=aligned_alloc(a,sz); madvise(p,sz,MADV_HUGEPAGE); return p; }
#include "mlp-read.h"
static size_t n1=256*784,n2=128*256;
static float*w1,*w2; static float out[2][64] __attribute__((aligned(64)));
static _Atomic long seq __attribute__((aligned(128))); static _Atomic long done __attribute__((aligned(128)));
static void half(int h){ vf x=vset1(1.0001f),acc=vzero();
  acc=rd(w1+h*(n1/2),n1/2,x,acc); acc=rd(w2+h*(n2/2),n2/2,x,acc); vstore(out[h],acc);}
static int pin=1;
static void*worker(void*a){ if(pin){cpu_set_t s;CPU_ZERO(&s);CPU_SET(1,&s);sched_setaffinity(0,sizeof s,&s);}
  long seen=0; for(;;){ long q; while((q=atomic_load_explicit(&seq,memory_order_acquire))==seen) _mm_pause(); if(q<0)return 0; seen=q; half(1); atomic_store_explicit(&done,q,memory_order_release);} }
int main(int argc,char**argv){ int two=argc>1?atoi(argv[1]):1; pin=argc>2?atoi(argv[2]):1;
  if(pin){cpu_set_t s;CPU_ZERO(&s);CPU_SET(0,&s);sched_setaffinity(0,sizeof s,&s);}
  w1=alloc(n1*4);w2=alloc(n2*4);
  for(size_t i=0;i<n1;i++)w1[i]=1e-3f;for(size_t i=0;i<n2;i++)w2[i]=1e-3f;
  pthread_t t; if(two) pthread_create(&t,0,worker,0);
  int reps=200000; double*ts=malloc(reps*sizeof(double));
  for(int round=0;round<3;round++){
  for(int r=0;r<reps;r++){ double t0=now();
    if(two){ long q=atomic_load(&seq)+1; atomic_store_explicit(&seq,q,memory_order_release); half(0); while(atomic_load_explicit(&done,memory_order_acquire)!=q) _mm_pause(); }
    else { half(0); half(1); }
    ts[r]=now()-t0; }
  qsort(ts,reps,sizeof(double),cmp);
  printf("%s pin=%d: min %5.2f p10 %5.2f median %5.2f us\n",two?"2 cores":"1 core",pin,ts[0]*1e6,ts[reps/10]*1e6,ts[reps/2]*1e6);}
  return 0;}
