// Read bandwidth of one core over a buffer read again and again, at working-set sizes from the L1 to past the L2
// (docs/performance.md, mlp_infer_b1): per size the best pass reading always in the same direction ("same") and reading in
// alternating direction from pass to pass ("alternating": the lines read last are read first, so an LRU-like L2 still holds
// them; what the batch-1 kernels' alternating panel order approximates).
//   gcc -O2 -mavx512f -o read-bandwidth bench/tools/read-bandwidth.c            (AVX-512)
//   gcc -O2 -mavx2 -mfma -o read-bandwidth bench/tools/read-bandwidth.c         (AVX2, e.g. the Zen 3 EPYC)
//   taskset -c 0 ./read-bandwidth [HUGE [PREFETCH]]
// HUGE = 1: the buffer on transparent huge pages (madvise); PREFETCH = distance in floats of a software prefetch (0: none).
// The loads feed 8 independent FMA chains (the access pattern of the one-row GEMV: streaming reads with FMAs).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#pragma GCC diagnostic ignored "-Wunused-function"
#include "mlp-read.h"
static float* alloc(size_t bytes,int huge){
  if(!huge) return aligned_alloc(64,(bytes+63)&~63ul);
  size_t H=2<<20; size_t len=((bytes+H-1)/H+1)*H;
  char*p=mmap(0,len,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
  char*a=(char*)(((size_t)p+H-1)&~(H-1));
  if(madvise(a,((bytes+H-1)/H)*H,MADV_HUGEPAGE))perror("madvise");
  return (float*)a;
}
// One pass over a[0..n) (n a multiple of 64) in 64-float steps, ascending or descending, 8 chains of FMAs.
static vf pass(const float*a,size_t n,vf x,vf acc,int down,int pf){
  vf c0=acc,c1=vzero(),c2=c1,c3=c1,c4=c1,c5=c1,c6=c1,c7=c1;
  for(size_t s=0;s<n;s+=64){
    size_t i=down?n-64-s:s;
    if(pf){ size_t t=down?(i>=(size_t)pf?i-pf:0):i+pf; _mm_prefetch((const char*)(a+t),_MM_HINT_T0); _mm_prefetch((const char*)(a+t+32),_MM_HINT_T0);}
    c0=vfma(x,vload(a+i),c0); c1=vfma(x,vload(a+i+VW),c1); c2=vfma(x,vload(a+i+2*VW),c2); c3=vfma(x,vload(a+i+3*VW),c3);
    if(VW==8){ c4=vfma(x,vload(a+i+32),c4); c5=vfma(x,vload(a+i+40),c5); c6=vfma(x,vload(a+i+48),c6); c7=vfma(x,vload(a+i+56),c7); }
  }
  return vadd(vadd(vadd(c0,c1),vadd(c2,c3)),vadd(vadd(c4,c5),vadd(c6,c7)));
}
int main(int argc,char**argv){
  int huge=argc>1?atoi(argv[1]):0; int pf=argc>2?atoi(argv[2]):0;
  size_t sizes[]={24<<10,128<<10,256<<10,384<<10,512<<10,803*1024,873*1024,940*1024,2<<20};
  int ns=sizeof sizes/sizeof sizes[0];
  printf("%d-bit vectors, huge=%d, prefetch=%d floats\n",VW*32,huge,pf);
  for(int s=0;s<ns;s++){
    size_t n=sizes[s]/4/64*64; float*a=alloc(n*4+4096,huge); for(size_t i=0;i<n;i++)a[i]=1e-3f*(i%7);
    vf x=vset1(1.0001f),acc=vzero(); double best[2]={1e9,1e9};
    int reps=(int)(4e8/sizes[s]); if(reps<40)reps=40;
    for(int alt=0;alt<2;alt++)
      for(int r=0;r<reps;r++){
        double t0=now(); acc=pass(a,n,x,acc,alt&&(r&1),pf); double t=now()-t0;
        if(t<best[alt])best[alt]=t;
      }
    printf("%5zu KB: same direction best %7.2f us %6.1f GB/s | alternating best %7.2f us %6.1f GB/s  (%g)\n",
      sizes[s]>>10,best[0]*1e6,n*4/best[0]/1e9,best[1]*1e6,n*4/best[1]/1e9,vsum(acc));
    if(s==ns-1&&huge){char cmd[100];sprintf(cmd,"grep AnonHuge /proc/%d/smaps_rollup",getpid());if(system(cmd)){}}
  }
  return 0;
}
