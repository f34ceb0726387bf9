// The field kernel's row loop (a, i and V of SCIENCE.md, aligned rows, double-buffered
// 128x128 grid) written with AVX2 intrinsics, to compare the Rust loop with C
// (docs/BENCHMARKS.md, the field kernel section). Values and constants are arbitrary:
// this times the loop, it does not reproduce the simulation.
//
//   gcc -O2 -mavx2 -mfma -ffp-contract=off -o /tmp/turing_row turing_row.c   # as Rust: no FMA
//   gcc -O2 -mavx2 -mfma -o /tmp/turing_row_fma turing_row.c                  # GCC contracts to FMA
//   /tmp/turing_row 0   # a loop then an i+V loop (the old structure)
//   /tmp/turing_row 1   # one fused loop
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <immintrin.h>
#ifndef N
#define N 128
#endif
#define S (((N+5)+3)/4*4)
#define L 4
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef __m256d V;
#define ld(p) _mm256_load_pd(p)
#define ldu(p) _mm256_loadu_pd(p)
#define add _mm256_add_pd
#define sub _mm256_sub_pd
#define mul _mm256_mul_pd
#define sp _mm256_set1_pd
static inline V lap(const double*u,const double*m,const double*d,int c,V*mm){
  V x=add(ld(u+c),ld(d+c)); x=add(x,ldu(m+c-1)); x=add(x,ldu(m+c+1)); *mm=ld(m+c); return sub(x,mul(sp(4.0),*mm));}
int main(int argc,char**argv){
  int mode=argc>1?atoi(argv[1]):0;
  double *st[6]; for(int k=0;k<6;k++){st[k]=aligned_alloc(64,N*S*8); for(int j=0;j<N*S;j++) st[k][j]=(j%13)*0.005;}
  double *an=aligned_alloc(64,S*8);
  double *v=st[0],*a=st[1],*i=st[2],*nv=st[3],*na=st[4],*ni=st[5];
  V DA=sp(0.1),DI=sp(0.05),RA=sp(0.01),RI=sp(0.02),AL=sp(0.1),TH=sp(0.05),INC=sp(0.005),VLO=sp(-0.095),VHI=sp(0.04),ONE=sp(1.0),ZERO=sp(0.0);
  __m256i act=_mm256_setzero_si256(), clm=_mm256_setzero_si256();
  int steps=4000; double t0=now();
  for(int s=0;s<steps;s++){
    for(int r=0;r<N;r++){
      int ru=(r+N-1)%N, rd=(r+1)%N;
      const double *au=a+ru*S,*am=a+r*S,*ad=a+rd*S,*iu=i+ru*S,*im_=i+r*S,*id=i+rd*S,*vu=v+ru*S,*vm_=v+r*S,*vd=v+rd*S;
      double *ov=nv+r*S,*oa=na+r*S,*oi=ni+r*S;
      if(mode==0){
      for(int c=L;c<L+N;c+=4){
        V m; V la=lap(au,am,ad,c,&m); V im=ld(im_+c);
        V g=mul(RA,sub(mul(m,sub(ONE,m)),im));
        V anew=add(m,add(mul(DA,la),g));
        _mm256_store_pd(an+c,anew);
        _mm256_store_pd(oa+c,_mm256_min_pd(ONE,_mm256_max_pd(ZERO,anew)));
      }
      for(int c=L;c<L+N;c+=4){
        V imm; V li=lap(iu,im_,id,c,&imm); V anew=ld(an+c);
        V inew=add(imm,add(mul(DI,li),mul(RI,sub(anew,imm))));
        _mm256_store_pd(oi+c,_mm256_min_pd(ONE,_mm256_max_pd(ZERO,inew)));
        V vmm; V lv=lap(vu,vm_,vd,c,&vmm);
        V vn=add(vmm,mul(AL,lv));
        V hit=_mm256_cmp_pd(anew,TH,_CMP_GT_OQ);
        act=_mm256_sub_epi64(act,_mm256_castpd_si256(hit));
        vn=_mm256_blendv_pd(vn,add(vn,INC),hit);
        V y=_mm256_min_pd(VHI,_mm256_max_pd(VLO,vn));
        clm=_mm256_sub_epi64(clm,_mm256_castpd_si256(_mm256_cmp_pd(y,vn,_CMP_NEQ_UQ)));
        _mm256_store_pd(ov+c,y);
      }} else {
      for(int c=L;c<L+N;c+=4){
        V m; V la=lap(au,am,ad,c,&m); V imm; V li=lap(iu,im_,id,c,&imm);
        V vmm; V lv=lap(vu,vm_,vd,c,&vmm);
        V g=mul(RA,sub(mul(m,sub(ONE,m)),imm));
        V anew=add(m,add(mul(DA,la),g));
        _mm256_store_pd(oa+c,_mm256_min_pd(ONE,_mm256_max_pd(ZERO,anew)));
        V inew=add(imm,add(mul(DI,li),mul(RI,sub(anew,imm))));
        _mm256_store_pd(oi+c,_mm256_min_pd(ONE,_mm256_max_pd(ZERO,inew)));
        V vn=add(vmm,mul(AL,lv));
        V hit=_mm256_cmp_pd(anew,TH,_CMP_GT_OQ);
        act=_mm256_sub_epi64(act,_mm256_castpd_si256(hit));
        vn=_mm256_blendv_pd(vn,add(vn,INC),hit);
        V y=_mm256_min_pd(VHI,_mm256_max_pd(VLO,vn));
        clm=_mm256_sub_epi64(clm,_mm256_castpd_si256(_mm256_cmp_pd(y,vn,_CMP_NEQ_UQ)));
        _mm256_store_pd(ov+c,y);
      }}
      ov[L-1]=ov[L+N-1]; ov[L+N]=ov[L]; oa[L-1]=oa[L+N-1]; oa[L+N]=oa[L]; oi[L-1]=oi[L+N-1]; oi[L+N]=oi[L];
    }
    double*t; t=v;v=nv;nv=t; t=a;a=na;na=t; t=i;i=ni;ni=t;
  }
  double t=now()-t0; long long q[4]; _mm256_storeu_si256((void*)q,act);
  printf("mode %d N=%d %.3f ns/cell (%lld)\n",mode,N,t/steps/N/N*1e9,q[0]); return 0;}
