#pragma once
// Element-wise activations and their derivatives, expressed through the activation's output
// (so the backward pass needs no stored pre-activation).
#include <cstddef>
#include <string_view>

#include "dptrain/names.hpp"

namespace dptrain {

enum class Activation { identity, sigmoid, tanh, relu, leaky_relu, softmax };
/// Note [Name tables]; "linear" is accepted for identity.
inline constexpr NameTable<Activation, 6, 1> kActivationNames{
    "activation",
    {{{Activation::identity, "identity"},
      {Activation::sigmoid, "sigmoid"},
      {Activation::tanh, "tanh"},
      {Activation::relu, "relu"},
      {Activation::leaky_relu, "leaky_relu"},
      {Activation::softmax, "softmax"}}},
    {{{Activation::identity, "linear"}}}};
static_assert(kActivationNames.complete_through(Activation::softmax));

/// Slope of leaky_relu for negative inputs.
inline constexpr double kLeakyReluSlope = 0.01;

/// Throws dptrain::Error naming the value unless kActivationNames has it.
inline Activation parse_activation(std::string_view name) {
  return kActivationNames.parse(name);
}
inline const char* activation_name(Activation a) {
  return kActivationNames.name(a);
}

/// In place: values (rows x cols, row-major) go from pre-activation z to a = f(z). softmax
/// normalises each row (max-subtracted, so large logits do not overflow).
template <class T>
void activation_forward(Activation activation, T* values, std::size_t rows, std::size_t cols);

/// In place: grad goes from dL/da to dL/dz, given a = f(z) (rows x cols, row-major). For
/// softmax this applies the row Jacobian: dz_i = a_i (da_i - sum_j da_j a_j).
template <class T>
void activation_backward(Activation activation, const T* a, T* grad, std::size_t rows,
                         std::size_t cols);

}  // namespace dptrain
