// Research probe behind issue 10's note (not part of the build): model B's products on one core
// through oneDNN's SGEMM and through a blocked batch-reduce GEMM on libxsmm's JIT kernels (the
// layout of libxsmm's MLP samples: bm x bn output blocks, K reduced in bk chunks, weights packed
// into [N/bn][K][bn] or read in place), GFLOP/s side by side, with and without packing the weights
// (which a training step would redo after every update). Needs Debian's libxsmm-dev (not a
// dptrain dependency) and libdnnl-dev:
//   g++ -O2 -march=native -std=c++20 scripts/probes/libxsmm_gemm.cpp -o /tmp/xsmm-probe
//       -lxsmm -lopenblas -ldl -ldnnl -lpthread   (one line)
//   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 taskset -c 1 /tmp/xsmm-probe
// Prints the libxsmm configurations within 10% of oneDNN. Compare with `dptrain bench`'s FMA probe.
#include <dnnl.h>
#include <libxsmm.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
using Clock = std::chrono::steady_clock;
static double now() {
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}
float* alloc(size_t n) {
  float* p = (float*)aligned_alloc(64, ((n * 4 + 63) / 64) * 64);
  for (size_t i = 0; i < n; ++i) p[i] = float(i % 17) * 0.01f;
  return p;
}

// C[MxN] = X[MxK] W[KxN], row-major. Packed: W as [N/bn][K][bn].
struct Xsmm {
  int M, N, K, bm, bn, bk;
  bool packed;
  libxsmm_smmfunction_reducebatch_strd k0;
  Xsmm(int M_, int N_, int K_, int bm_, int bn_, int bk_, bool p)
      : M(M_), N(N_), K(K_), bm(bm_), bn(bn_), bk(bk_), packed(p) {
    libxsmm_blasint lda = packed ? bn : N, ldb = K, ldc = N;
    float alpha = 1, beta = 0;
    int flags = LIBXSMM_GEMM_FLAG_NONE;  // beta 0 below
    k0 = libxsmm_smmdispatch_reducebatch_strd(bn, bm, bk, (libxsmm_blasint)(bk * lda * 4),
                                              (libxsmm_blasint)(bk * 4), &lda, &ldb, &ldc, &alpha,
                                              &beta, &flags, nullptr);
    if (!k0) {
      std::printf("no kernel\n");
      std::exit(1);
    }
  }
  void pack(const float* W, float* P) const {
    for (int j = 0; j < N / bn; ++j)
      for (int k = 0; k < K; ++k)
        std::memcpy(P + (size_t(j) * K + k) * bn, W + size_t(k) * N + j * bn, bn * 4);
  }
  void run(const float* X, const float* W, float* C) const {
    unsigned long long count = K / bk;
    for (int j = 0; j < N / bn; ++j) {
      const float* a = packed ? W + size_t(j) * K * bn : W + j * bn;
      for (int i = 0; i < M / bm; ++i)
        k0(a, X + size_t(i) * bm * K, C + size_t(i) * bm * N + j * bn, &count);
    }
  }
};

int main() {
  libxsmm_init();
  struct Shape {
    int M, K, N;
  } shapes[] = {{256, 784, 1024}, {256, 1024, 1024}, {1024, 256, 1024}};
  for (auto s : shapes) {
    float* X = alloc(size_t(s.M) * s.K);
    float* W = alloc(size_t(s.K) * s.N);
    float* C = alloc(size_t(s.M) * s.N);
    float* C2 = alloc(size_t(s.M) * s.N);
    float* P = alloc(size_t(s.K) * s.N);
    const double flops = 2.0 * s.M * s.N * s.K;
    auto rate = [&](auto f) {
      f();
      double best = 1e9;
      for (int r = 0; r < 5; ++r) {
        int n = 0;
        double t0 = now();
        do {
          f();
          ++n;
        } while (now() - t0 < 0.1);
        best = std::min(best, (now() - t0) / n);
      }
      return flops / best / 1e9;
    };
    double dnnl =
        rate([&] { dnnl_sgemm('N', 'N', s.M, s.N, s.K, 1.f, X, s.K, W, s.N, 0.f, C2, s.N); });
    std::printf("%dx%d.%dx%d: oneDNN %.1f GFLOP/s\n", s.M, s.K, s.K, s.N, dnnl);
    int bks[] = {16, 32, 64};
    for (int bk : bks) {
      if (s.K % bk) continue;
      for (int bm : {16, 32, 64})
        for (int bn : {32, 64})
          for (bool packed : {false, true}) {
            Xsmm x(s.M, s.N, s.K, bm, bn, bk, packed);
            if (packed) x.pack(W, P);
            const float* w = packed ? P : W;
            double r = rate([&] { x.run(X, w, C); });
            double rp = packed ? rate([&] {
              x.pack(W, P);
              x.run(X, P, C);
            })
                               : r;
            double err = 0;
            for (size_t i = 0; i < size_t(s.M) * s.N; ++i)
              err = std::max(err, double(std::abs(C[i] - C2[i])) / (1e-3 + std::abs(C2[i])));
            if (r > 0.9 * dnnl)
              std::printf(
                  "  bm %2d bn %2d bk %2d %s: %.1f GFLOP/s (with packing %.1f) rel err %.1e\n", bm,
                  bn, bk, packed ? "packed  " : "strided ", r, rp, err);
          }
    }
  }
  // The register-only probe is in dptrain bench; print the oneDNN figure again for drift.
}
