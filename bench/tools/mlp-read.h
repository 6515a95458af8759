// What bench/tools/mlp-read-order.c and mlp-two-cores.c share: a clock, a comparison for qsort, and the weight read with the
// kernels' pattern (vector loads, each into an FMA, one chain per vector of a 64-float step) over n floats (a multiple of 64, 64-byte aligned).
#include <immintrin.h>
#include <stddef.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
// vf: the widest vector the tool is compiled for (-mavx512f: 512-bit; -mavx2 -mfma: 256-bit, as on a Zen 3 EPYC).
#ifdef __AVX512F__
typedef __m512 vf;
#define VW 16
static inline vf vset1(float v){return _mm512_set1_ps(v);}
static inline vf vzero(void){return _mm512_setzero_ps();}
static inline vf vfma(vf a,vf b,vf c){return _mm512_fmadd_ps(a,b,c);}
static inline vf vload(const float*a){return _mm512_load_ps(a);}
static inline vf vadd(vf a,vf b){return _mm512_add_ps(a,b);}
static inline void vstore(float*a,vf v){_mm512_store_ps(a,v);}
static inline float vsum(vf v){return _mm512_reduce_add_ps(v);}
#else
typedef __m256 vf;
#define VW 8
static inline vf vset1(float v){return _mm256_set1_ps(v);}
static inline vf vzero(void){return _mm256_setzero_ps();}
static inline vf vfma(vf a,vf b,vf c){return _mm256_fmadd_ps(a,b,c);}
static inline vf vload(const float*a){return _mm256_load_ps(a);}
static inline vf vadd(vf a,vf b){return _mm256_add_ps(a,b);}
static inline void vstore(float*a,vf v){_mm256_store_ps(a,v);}
static inline float vsum(vf v){float t[8];_mm256_storeu_ps(t,v);return t[0]+t[1]+t[2]+t[3]+t[4]+t[5]+t[6]+t[7];}
#endif
// 64 floats per step: four 512-bit or eight 256-bit loads, each into an FMA chain of its own.
static vf rd(const float*a,size_t n,vf x,vf acc){
  vf c0=acc,c1=vzero(),c2=c1,c3=c1,c4=c1,c5=c1,c6=c1,c7=c1;
  for(size_t i=0;i<n;i+=64){
    c0=vfma(x,vload(a+i),c0); c1=vfma(x,vload(a+i+VW),c1); c2=vfma(x,vload(a+i+2*VW),c2); c3=vfma(x,vload(a+i+3*VW),c3);
    if(VW==8){ c4=vfma(x,vload(a+i+32),c4); c5=vfma(x,vload(a+i+40),c5); c6=vfma(x,vload(a+i+48),c6); c7=vfma(x,vload(a+i+56),c7); }}
  return vadd(vadd(vadd(c0,c1),vadd(c2,c3)),vadd(vadd(c4,c5),vadd(c6,c7)));
}
