// A 5-point stencil step (u <- u + a*L(u), no wrap-around) over 128 rows with AVX2
// intrinsics, rows starting at an offset of OFF doubles and STRIDE apart: how much
// cache-line-straddling vectors cost (docs/BENCHMARKS.md, the field kernel section).
//
//   gcc -O2 -mavx2 -o /tmp/stencil_align stencil_align.c
//   /tmp/stencil_align 0 130   # rows 8 bytes off a 32-byte boundary every other row
//   /tmp/stencil_align 3 132   # every row's values 32-byte aligned
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <immintrin.h>
#define N 128
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  int off=atoi(argv[1]); int S=atoi(argv[2]); // off in doubles, S stride
  double *A=aligned_alloc(64,(N*S+64)*8), *B=aligned_alloc(64,(N*S+64)*8);
  double *a=A+off,*b=B+off;
  for(int k=0;k<N*S;k++){a[k]=k%7*0.01;b[k]=0;}
  __m256d al=_mm256_set1_pd(0.2), f=_mm256_set1_pd(4.0);
  int steps=20000; double t0=now();
  for(int s=0;s<steps;s++){
    for(int r=1;r<N-1;r++){
      double *u=a+(r-1)*S,*m=a+r*S,*d=a+(r+1)*S,*o=b+r*S;
      for(int c=1;c<=N;c+=4){
        __m256d x=_mm256_add_pd(_mm256_loadu_pd(u+c),_mm256_loadu_pd(d+c));
        x=_mm256_add_pd(x,_mm256_loadu_pd(m+c-1));
        x=_mm256_add_pd(x,_mm256_loadu_pd(m+c+1));
        __m256d mm=_mm256_loadu_pd(m+c);
        x=_mm256_sub_pd(x,_mm256_mul_pd(f,mm));
        _mm256_storeu_pd(o+c,_mm256_add_pd(mm,_mm256_mul_pd(al,x)));
      }
    }
    double*t=a;a=b;b=t;
  }
  double t=now()-t0; printf("off=%d S=%d %.3f ns/cell\n",off,S,t/steps/(N-2)/N*1e9); return a[5]>1e9;}
