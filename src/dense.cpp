#include "dptrain/dense.hpp"

#include "dispatch.hpp"
#include "dptrain/rng.hpp"

namespace dptrain {

template <class T>
void dense_forward(const GemmContext& backend, const T* x, std::size_t rows, std::size_t in,
                   const T* w, const T* b, std::size_t out, T* z) {
  gemm_bias<T>(backend, Transpose::no, Transpose::no, rows, out, in, x, in, w, out, b, z, out);
}

template <class T>
void dense_backward(const GemmContext& backend, const T* x, const T* dz, std::size_t rows,
                    std::size_t in, std::size_t out, const T* w, T* dw, T* db, T* dx,
                    bool accumulate) {
  const T beta = accumulate ? T(1) : T(0);
  // dw (in x out) = x^T (in x rows) * dz (rows x out)
  gemm<T>(backend, Transpose::yes, Transpose::no, in, out, rows, T(1), x, in, dz, out, beta, dw,
          out);
  if (!accumulate)
    for (std::size_t c = 0; c < out; ++c) db[c] = T(0);
  for (std::size_t r = 0; r < rows; ++r) {
    const T* dzr = dz + r * out;
    for (std::size_t c = 0; c < out; ++c) db[c] += dzr[c];
  }
  // dx (rows x in) = dz (rows x out) * w^T (out x in)
  if (dx)
    gemm<T>(backend, Transpose::no, Transpose::yes, rows, in, out, T(1), dz, out, w, out, T(0), dx,
            in);
}

template <class T>
void dense_input_gradient(const GemmContext& gemm, const T* dz, std::size_t rows, std::size_t in,
                          std::size_t out, const T* w, T* dx) {
  dptrain::gemm<T>(gemm, Transpose::no, Transpose::yes, rows, in, out, T(1), dz, out, w, out, T(0),
                   dx, in);
}

void dense_forward_bf16(const GemmContext& gemm, const float* x, bf16* x16, std::size_t rows,
                        std::size_t in, const bf16* w16, const float* b, std::size_t out,
                        float* z) {
  to_bf16(x, x16, rows * in);
  gemm_bf16(gemm, Transpose::no, Transpose::no, rows, out, in, x16, in, w16, out, 0.0f, z, out, b);
}

void dense_backward_bf16(const GemmContext& gemm, const bf16* x16, const float* dz, bf16* dz16,
                         std::size_t rows, std::size_t in, std::size_t out, const bf16* w16,
                         float* dw, float* db, float* dx) {
  to_bf16(dz, dz16, rows * out);
  // dw (in x out) = x^T dz;  dx (rows x in) = dz w^T
  gemm_bf16(gemm, Transpose::yes, Transpose::no, in, out, rows, x16, in, dz16, out, 0.0f, dw, out,
            nullptr);
  for (std::size_t c = 0; c < out; ++c) db[c] = 0.0f;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < out; ++c) db[c] += dz[r * out + c];
  if (dx)
    gemm_bf16(gemm, Transpose::no, Transpose::yes, rows, in, out, dz16, out, w16, out, 0.0f, dx, in,
              nullptr);
}

template <class T>
void dense_forward_reference(const T* x, std::size_t rows, std::size_t in, const T* w, const T* b,
                             std::size_t out, T* z) {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < out; ++c) {
      T sum = b[c];
      for (std::size_t i = 0; i < in; ++i) sum += x[r * in + i] * w[i * out + c];
      z[r * out + c] = sum;
    }
}

template <class T>
void dense_backward_reference(const T* x, const T* dz, std::size_t rows, std::size_t in,
                              std::size_t out, const T* w, T* dw, T* db, T* dx, bool accumulate) {
  for (std::size_t i = 0; i < in; ++i)
    for (std::size_t c = 0; c < out; ++c) {
      T sum = 0;
      for (std::size_t r = 0; r < rows; ++r) sum += x[r * in + i] * dz[r * out + c];
      dw[i * out + c] = accumulate ? dw[i * out + c] + sum : sum;
    }
  for (std::size_t c = 0; c < out; ++c) {
    T sum = 0;
    for (std::size_t r = 0; r < rows; ++r) sum += dz[r * out + c];
    db[c] = accumulate ? db[c] + sum : sum;
  }
  if (!dx) return;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t i = 0; i < in; ++i) {
      T sum = 0;
      for (std::size_t c = 0; c < out; ++c) sum += dz[r * out + c] * w[i * out + c];
      dx[r * in + i] = sum;
    }
}

template <class T>
void dropout_forward(const T* x, T* y, T* mask, std::size_t rows, std::size_t cols, double rate,
                     DropoutKey key, std::uint64_t layer) {
  const T keep_scale = T(1.0 / (1.0 - rate));
  for (std::size_t r = 0; r < rows; ++r) {
    const std::uint64_t row = key.first_row + r;
    for (std::size_t c = 0; c < cols; ++c) {
      const std::uint64_t bits =
          hash_position(key.seed, kStreamDropout + (layer << 8), key.step, row, c);
      const T m = to_unit_double(bits) < rate ? T(0) : keep_scale;
      mask[r * cols + c] = m;
      y[r * cols + c] = x[r * cols + c] * m;
    }
  }
}

template <class T>
DPTRAIN_CLONES void dropout_backward(const T* mask, T* grad, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) grad[i] *= mask[i];
}

#define DPTRAIN_INSTANTIATE(T)                                                                     \
  template void dense_forward<T>(const GemmContext&, const T*, std::size_t, std::size_t, const T*, \
                                 const T*, std::size_t, T*);                                       \
  template void dense_backward<T>(const GemmContext&, const T*, const T*, std::size_t,             \
                                  std::size_t, std::size_t, const T*, T*, T*, T*, bool);           \
  template void dense_forward_reference<T>(const T*, std::size_t, std::size_t, const T*, const T*, \
                                           std::size_t, T*);                                       \
  template void dense_backward_reference<T>(const T*, const T*, std::size_t, std::size_t,          \
                                            std::size_t, const T*, T*, T*, T*, bool);              \
  template void dropout_forward<T>(const T*, T*, T*, std::size_t, std::size_t, double, DropoutKey, \
                                   std::uint64_t);                                                 \
  template void dropout_backward<T>(const T*, T*, std::size_t);                                    \
  template void dense_input_gradient<T>(const GemmContext&, const T*, std::size_t, std::size_t,    \
                                        std::size_t, const T*, T*);
DPTRAIN_INSTANTIATE(float)
DPTRAIN_INSTANTIATE(double)
#undef DPTRAIN_INSTANTIATE

}  // namespace dptrain
