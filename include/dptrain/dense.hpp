#pragma once
// Dense and dropout layer kernels: each forward sits beside its backward, and a naive reference
// sits beside the optimised version (tests hold them equal).
//
// Shapes (row-major): x (rows x in), w (in x out), b (out), z (rows x out).
#include <cstddef>
#include <cstdint>

#include "dptrain/gemm.hpp"

namespace dptrain {

/// z = x w + b.
template <class T>
void dense_forward(const GemmContext& gemm, const T* x, std::size_t rows, std::size_t in,
                   const T* w, const T* b, std::size_t out, T* z);

/// Given dz = dL/dz: dw (in x out) = x^T dz, db (out) = column sums of dz, and, when dx is not
/// null, dx (rows x in) = dz w^T. With accumulate, dw and db are added to instead of overwritten.
template <class T>
void dense_backward(const GemmContext& gemm, const T* x, const T* dz, std::size_t rows,
                    std::size_t in, std::size_t out, const T* w, T* dw, T* db, T* dx,
                    bool accumulate);

/// The bf16 forms (Note [Precision] in engine.hpp), float only: products with bf16 inputs and
/// fp32 accumulation. Forward converts x into x16 (rows x in), which backward reuses for the
/// weight gradient; backward converts dz into dz16 (rows x out). w16 is the bf16 copy of w;
/// b, z, dw, db and dx are fp32, and db sums the fp32 dz. Overwrites dw and db.
/// dx (rows x in) = dz (rows x out) * w^T: the input gradient alone (the owner-computes
/// engine computes the weight gradients later, over the whole batch).
template <class T>
void dense_input_gradient(const GemmContext& gemm, const T* dz, std::size_t rows, std::size_t in,
                          std::size_t out, const T* w, T* dx);

void dense_forward_bf16(const GemmContext& gemm, const float* x, bf16* x16, std::size_t rows,
                        std::size_t in, const bf16* w16, const float* b, std::size_t out, float* z);
void dense_backward_bf16(const GemmContext& gemm, const bf16* x16, const float* dz, bf16* dz16,
                         std::size_t rows, std::size_t in, std::size_t out, const bf16* w16,
                         float* dw, float* db, float* dx);

/// Reference versions: plain loops, same contracts.
template <class T>
void dense_forward_reference(const T* x, std::size_t rows, std::size_t in, const T* w, const T* b,
                             std::size_t out, T* z);
template <class T>
void dense_backward_reference(const T* x, const T* dz, std::size_t rows, std::size_t in,
                              std::size_t out, const T* w, T* dw, T* db, T* dx, bool accumulate);

/// Identifies one training step's dropout masks: the mask of (row, unit) is a pure function of
/// (seed, layer, step, first_row + row, unit), so it does not depend on how the batch is sharded.
struct DropoutKey {
  std::uint64_t seed = 0;
  std::uint64_t step = 0;
  std::uint64_t first_row = 0;  ///< global index in the batch of this shard's row 0
};

/// Inverted dropout: y = x * mask with mask = 0 (probability `rate`) or 1 / (1 - rate).
/// x and y may alias. mask (rows x cols) is written for the backward pass.
template <class T>
void dropout_forward(const T* x, T* y, T* mask, std::size_t rows, std::size_t cols, double rate,
                     DropoutKey key, std::uint64_t layer);

/// grad *= mask, element-wise over n values.
template <class T>
void dropout_backward(const T* mask, T* grad, std::size_t n);

}  // namespace dptrain
