#pragma once
// Optimizers over flat spans. Each update is one function over a contiguous slice of the
// parameters, their (already summed) gradients and the optimizer state, so the data-parallel
// engine can run it per slice on every worker right after reducing that slice.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "dptrain/aligned_buffer.hpp"
#include "dptrain/names.hpp"

namespace dptrain {

/// lbfgs is not an update rule: Trainer::fit runs full-batch L-BFGS iterations (lbfgs.hpp) for
/// it, and Engine::step refuses it.
enum class OptimizerKind { sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, lbfgs };
/// Note [Name tables].
inline constexpr NameTable<OptimizerKind, 8> kOptimizerNames{
    "optimizer",
    {{{OptimizerKind::sgd, "sgd"},
      {OptimizerKind::momentum, "momentum"},
      {OptimizerKind::nesterov, "nesterov"},
      {OptimizerKind::adagrad, "adagrad"},
      {OptimizerKind::rmsprop, "rmsprop"},
      {OptimizerKind::adam, "adam"},
      {OptimizerKind::adamw, "adamw"},
      {OptimizerKind::lbfgs, "lbfgs"}}}};
static_assert(kOptimizerNames.complete_through(OptimizerKind::lbfgs));

/// Throws dptrain::Error naming the value unless kOptimizerNames has it.
inline OptimizerKind parse_optimizer(std::string_view name) {
  return kOptimizerNames.parse(name);
}
inline const char* optimizer_name(OptimizerKind kind) {
  return kOptimizerNames.name(kind);
}

/// Update rules (g = gradient + l2 w + l1 sign(w) on weights; PyTorch conventions):
///   sgd       w -= lr g
///   momentum  v = mu v + g;  w -= lr v
///   nesterov  v = mu v + g;  w -= lr (g + mu v)
///   adagrad   s += g^2;  w -= lr g / (sqrt(s) + eps)
///   rmsprop   s = rho s + (1 - rho) g^2;  w -= lr g / (sqrt(s) + eps)
///   adam      m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
///             w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
///   adamw     adam, after decoupled decay
/// weight_decay (any optimizer; AdamW's defining term) is decoupled: w -= lr wd w on weights.
/// l2 adds the gradient of (l2 / 2) |w|^2, l1 that of l1 |w|_1. Biases are not regularised.
/// Upper ends of OptimizerConfig::validate()'s ranges.
inline constexpr double kMaxLearningRate = 1e4;
inline constexpr double kMaxPenalty = 1e3;  ///< weight decay, l1 and l2

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::adam;
  double learning_rate = 1e-3;
  double momentum = 0.9;  ///< momentum / nesterov
  double beta1 = 0.9, beta2 = 0.999;
  double rho = 0.9;       ///< rmsprop
  double epsilon = -1.0;  ///< < 0: the optimizer's default (1e-8; adagrad 1e-10)
  double weight_decay = 0.0;
  double l1 = 0.0, l2 = 0.0;

  double effective_epsilon() const;
  /// Throws dptrain::Error naming the setting and its range for values that cannot train:
  /// learning rate in (0, 1e4], momentum, betas and rho in [0, 1), epsilon in (0, 1] (or
  /// negative: the default), weight decay, l1 and l2 in [0, 1000], and lr x weight decay < 1;
  /// lbfgs takes l2 only (its objective must be smooth: no l1, and no weight decay, which is a
  /// step rule; the learning rate is unused).
  void validate() const;
};

/// Optimizer state values per parameter (0, 1 or 2).
std::size_t state_slots(OptimizerKind kind);

/// One slice of the flat buffers. state0 / state1 are null when the optimizer has fewer slots.
template <class T>
struct UpdateSlice {
  std::span<T> params;
  std::span<const T> grads;
  T* state0 = nullptr;
  T* state1 = nullptr;
  bool regularise = true;  ///< weights: apply l1, l2 and weight decay; biases: not
};

/// Applies one step (t = 1, 2, ... counts steps taken including this one) with learning rate
/// `lr` to the slice. Pure function of its inputs; thread-safe for disjoint slices.
template <class T>
void apply_update(const OptimizerConfig& config, double lr, std::uint64_t t, UpdateSlice<T> slice);

/// The optimizer state for one model: flat buffers of the parameter layout, plus the step count.
template <class T>
class OptimizerState {
 public:
  OptimizerState(const OptimizerConfig& config, std::size_t parameter_count,
                 std::size_t weight_count);
  const OptimizerConfig& config() const { return config_; }
  std::uint64_t step() const { return step_; }
  void set_step(std::uint64_t step) { step_ = step; }

  /// Update parameters [begin, begin + grads.size()) as step `t`; grads[j] is the gradient of
  /// params[begin + j]. Splits the range at weight_count() so biases are not regularised.
  /// Thread-safe for disjoint ranges.
  void update_range(std::span<T> params, std::size_t begin, std::span<const T> grads, double lr,
                    std::uint64_t t);
  std::span<T> state(std::size_t slot) { return slot == 0 ? s0_.span() : s1_.span(); }
  std::span<const T> state(std::size_t slot) const { return slot == 0 ? s0_.span() : s1_.span(); }
  std::size_t bytes() const { return s0_.bytes() + s1_.bytes(); }

 private:
  OptimizerConfig config_;
  std::size_t weight_count_;
  std::uint64_t step_ = 0;
  AlignedBuffer<T> s0_, s1_;
};

extern template class OptimizerState<float>;
extern template class OptimizerState<double>;

}  // namespace dptrain
