// Read bandwidth of one core over a buffer hot in cache, at working-set sizes around the L2 (docs/performance.md, mlp_infer_b1).
//   gcc -O2 -mavx512f -o read-bandwidth bench/tools/read-bandwidth.c && taskset -c 0 ./read-bandwidth [HUGE [PREFETCH]]
// HUGE = 1: the buffer on transparent huge pages (madvise); PREFETCH = distance in floats of a software prefetch (0: none).
// 8 independent 512-bit accumulators (the access pattern of the one-row GEMV: streaming reads with FMAs); best of many passes.
#define _GNU_SOURCE
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static float* alloc(size_t bytes,int huge){
  if(!huge) return aligned_alloc(64,(bytes+63)&~63ul);
  size_t H=2<<20; size_t len=((bytes+H-1)/H+1)*H;
  char*p=mmap(0,len,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
  char*a=(char*)(((size_t)p+H-1)&~(H-1));
  if(madvise(a,((bytes+H-1)/H)*H,MADV_HUGEPAGE))perror("madvise");
  return (float*)a;
}
int main(int argc,char**argv){
  int huge=argc>1?atoi(argv[1]):0; int pf=argc>2?atoi(argv[2]):0;
  size_t sizes[]={256<<10,512<<10,803*1024,940*1024,1000*1024,2<<20};
  for(int s=0;s<6;s++){
    size_t n=sizes[s]/4; float*a=alloc(n*4,huge); for(size_t i=0;i<n;i++)a[i]=1e-3f*(i%7);
    __m512 x=_mm512_set1_ps(1.0001f); double best=1e9; volatile float sink=0;
    int reps = (int)(4e8/sizes[s]); if(reps<20)reps=20;
    for(int r=0;r<reps;r++){
      __m512 c0=_mm512_setzero_ps(),c1=c0,c2=c0,c3=c0,c4=c0,c5=c0,c6=c0,c7=c0;
      double t0=now();
      for(size_t i=0;i<n;i+=128){
        if(pf){ _mm_prefetch((char*)(a+i+pf),_MM_HINT_T0); _mm_prefetch((char*)(a+i+pf+64),_MM_HINT_T0);}
        c0=_mm512_fmadd_ps(x,_mm512_load_ps(a+i),c0); c1=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+16),c1);
        c2=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+32),c2); c3=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+48),c3);
        c4=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+64),c4); c5=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+80),c5);
        c6=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+96),c6); c7=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+112),c7);
      }
      double t=now()-t0; if(t<best)best=t;
      sink+=_mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0,c1),_mm512_add_ps(c2,c3)),_mm512_add_ps(_mm512_add_ps(c4,c5),_mm512_add_ps(c6,c7))));
    }
    printf("huge=%d pf=%d %8zu KB: best %8.2f us, %6.1f GB/s\n",huge,pf,sizes[s]>>10,best*1e6,sizes[s]/best/1e9);
    if(s==3&&huge){char cmd[100];sprintf(cmd,"grep AnonHuge /proc/%d/smaps_rollup",getpid());system(cmd);}
  }
  return 0;
}
