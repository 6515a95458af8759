// What bench/tools/mlp-read-order.c and mlp-two-cores.c share: a clock, a comparison for qsort, and the weight read with the
// kernels' pattern (512-bit loads, each into an FMA, four independent chains) over n floats (a multiple of 64, 64-byte aligned).
#include <immintrin.h>
#include <stddef.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
static __m512 rd(const float*a,size_t n,__m512 x,__m512 acc){
  __m512 c0=acc,c1=_mm512_setzero_ps(),c2=c1,c3=c1;
  for(size_t i=0;i<n;i+=64){
    c0=_mm512_fmadd_ps(x,_mm512_load_ps(a+i),c0); c1=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+16),c1);
    c2=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+32),c2); c3=_mm512_fmadd_ps(x,_mm512_load_ps(a+i+48),c3);}
  return _mm512_add_ps(_mm512_add_ps(c0,c1),_mm512_add_ps(c2,c3));
}
