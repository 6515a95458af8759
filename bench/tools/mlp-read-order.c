// The MLP's three weights (fc1 803 KB in four panels, fc2 128 KB, fc3 8 KB) read the way one batch-1 forward reads them,
// call after call, by one core: mode 0 always in the same order, mode 1 with fc1's panels in alternating order from call to
// call, mode 2 with finer blocks alternating (docs/performance.md, mlp_infer_b1 session 6). Prints min / p10 / median per call.
// An optional argument reads only that fraction of fc2's rows (session 12: the pair skips the rows of fc2's Wᵀ that a zero
// of the ReLU multiplies, about half of them for the workload's input: `./mlp-read-order 0.5`).
//   gcc -O2 -mavx512f -o mlp-read-order bench/tools/mlp-read-order.c (AVX2: -mavx2 -mfma) && taskset -c 0 ./mlp-read-order
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "mlp-read.h"
// mode 0: all forward; 1: fc1 panels alternate; 2: fc1 in 16 chunks alternate, fc2 in 4 chunks alternate
int main(int argc,char**argv){
  double frac2=argc>1?atof(argv[1]):1.0;
  size_t n1=256*784,n2=(size_t)(128*256*frac2)/256*256,n3=16*128;
  float*w1=aligned_alloc(64,n1*4),*w2=aligned_alloc(64,n2*4),*w3=aligned_alloc(64,n3*4);
  for(size_t i=0;i<n1;i++)w1[i]=1e-3f;for(size_t i=0;i<n2;i++)w2[i]=1e-3f;for(size_t i=0;i<n3;i++)w3[i]=1e-3f;
  vf x=vset1(1.0001f),acc=vzero(); int reps=20000; double*t=malloc(reps*sizeof(double));
  for(int round=0;round<2;round++)
  for(int mode=0;mode<3;mode++){
    int c1=mode==2?16:4, c2=mode==2&&n2%(4*64)==0?4:1;
    for(int r=0;r<reps;r++){
      int rev=mode&&(r&1);
      double t0=now();
      for(int b=0;b<c1;b++){int q=rev?c1-1-b:b; acc=rd(w1+q*(n1/c1),n1/c1,x,acc);}
      for(int b=0;b<c2;b++){int q=rev?c2-1-b:b; acc=rd(w2+q*(n2/c2),n2/c2,x,acc);}
      acc=rd(w3,n3,x,acc);
      t[r]=now()-t0;
    }
    qsort(t,reps,sizeof(double),cmp);
    printf("mode %d: min %5.2f p10 %5.2f median %5.2f us\n",mode,t[0]*1e6,t[reps/10]*1e6,t[reps/2]*1e6);
  }
  volatile float s=vsum(acc);
}
