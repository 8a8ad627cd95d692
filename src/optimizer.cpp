#include "dptrain/optimizer.hpp"

#include <cmath>
#include <cstdio>
#include <string>

#include "dispatch.hpp"
#include "dptrain/error.hpp"

namespace dptrain {

double OptimizerConfig::effective_epsilon() const {
  if (epsilon >= 0) return epsilon;
  return kind == OptimizerKind::adagrad ? 1e-10 : 1e-8;
}

namespace {

std::string number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", x);
  return text;
}

/// Throws unless lo <= value <= hi (lo < value when open_lo, value < hi when open_hi), naming
/// the setting and the range: "l2 penalty (--l2) must be in [0, 1000], got 1e+30".
void check_range(const char* what, double value, double lo, bool open_lo, double hi, bool open_hi) {
  const bool above = open_lo ? value > lo : value >= lo;
  const bool below = open_hi ? value < hi : value <= hi;
  if (above && below) return;  // false for NaN
  throw Error(std::string(what) + " must be in " + (open_lo ? "(" : "[") + number(lo) + ", " +
              number(hi) + (open_hi ? ")" : "]") + ", got " + number(value));
}

}  // namespace

void OptimizerConfig::validate() const {
  // Ranges that refuse only values that cannot train (Note [Exploded parameters] catches what
  // explodes inside them): above these a step moves a weight by more than any data justifies.
  check_range("learning rate (--lr)", learning_rate, 0, true, kMaxLearningRate, false);
  check_range("momentum (--momentum)", momentum, 0, false, 1, true);
  check_range("adam beta1", beta1, 0, false, 1, true);
  check_range("adam beta2", beta2, 0, false, 1, true);
  check_range("rmsprop rho", rho, 0, false, 1, true);
  if (!(epsilon < 0))
    check_range("epsilon (negative: the optimizer's default)", epsilon, 0, true, 1, false);
  check_range("weight decay (--weight-decay)", weight_decay, 0, false, kMaxPenalty, false);
  check_range("l1 penalty (--l1)", l1, 0, false, kMaxPenalty, false);
  check_range("l2 penalty (--l2)", l2, 0, false, kMaxPenalty, false);
  if (kind == OptimizerKind::lbfgs && (l1 > 0 || weight_decay > 0))
    throw Error(
        "optimizer lbfgs minimises the loss plus the l2 term (--l2) only: l1 (--l1) and weight "
        "decay (--weight-decay) have no smooth objective for it, got l1 " +
        number(l1) + " and weight decay " + number(weight_decay));
  // Decoupled decay scales the weights by 1 - lr wd every step: at or below 0 it flips them.
  if (learning_rate * weight_decay >= 1)
    throw Error(
        "weight decay (--weight-decay) times the learning rate (--lr) must be below 1 "
        "(each step scales the weights by 1 - lr*wd), got " +
        number(weight_decay) + " x " + number(learning_rate));
}

std::size_t state_slots(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::sgd:
    case OptimizerKind::lbfgs:
      return 0;
    case OptimizerKind::momentum:
    case OptimizerKind::nesterov:
    case OptimizerKind::adagrad:
    case OptimizerKind::rmsprop:
      return 1;
    case OptimizerKind::adam:
    case OptimizerKind::adamw:
      return 2;
  }
  return 0;
}

// Each case is one simple loop the compiler vectorises (docs/DESIGN.md, "Update loops the
// compiler vectorises": keep the inner loop simple, -fno-math-errno for sqrt). Regularisation
// is folded into the same pass.
template <class T>
DPTRAIN_CLONES void apply_update(const OptimizerConfig& cfg, double lr_d, std::uint64_t t,
                                 UpdateSlice<T> s) {
  T* __restrict w = s.params.data();
  const T* __restrict g_in = s.grads.data();
  T* __restrict s0 = s.state0;
  T* __restrict s1 = s.state1;
  const std::size_t n = s.params.size();
  const T lr = T(lr_d);
  const T l1 = s.regularise ? T(cfg.l1) : T(0);
  const T l2 = s.regularise ? T(cfg.l2) : T(0);
  const T decay = s.regularise ? T(1.0 - lr_d * cfg.weight_decay) : T(1);
  const T eps = T(cfg.effective_epsilon());
  const T mu = T(cfg.momentum);
  auto grad = [&](std::size_t i) {
    const T wi = w[i];
    return g_in[i] + l2 * wi + l1 * T((wi > T(0)) - (wi < T(0)));
  };
  switch (cfg.kind) {
    case OptimizerKind::lbfgs:  // no update rule (Engine::step refuses it)
      return;
    case OptimizerKind::sgd:
      for (std::size_t i = 0; i < n; ++i) {
        const T g = grad(i);
        w[i] = w[i] * decay - lr * g;
      }
      return;
    case OptimizerKind::momentum:
      for (std::size_t i = 0; i < n; ++i) {
        const T g = grad(i);
        s0[i] = mu * s0[i] + g;
        w[i] = w[i] * decay - lr * s0[i];
      }
      return;
    case OptimizerKind::nesterov:
      for (std::size_t i = 0; i < n; ++i) {
        const T g = grad(i);
        s0[i] = mu * s0[i] + g;
        w[i] = w[i] * decay - lr * (g + mu * s0[i]);
      }
      return;
    case OptimizerKind::adagrad:
      for (std::size_t i = 0; i < n; ++i) {
        const T g = grad(i);
        s0[i] += g * g;
        w[i] = w[i] * decay - lr * g / (std::sqrt(s0[i]) + eps);
      }
      return;
    case OptimizerKind::rmsprop: {
      const T rho = T(cfg.rho);
      for (std::size_t i = 0; i < n; ++i) {
        const T g = grad(i);
        s0[i] = rho * s0[i] + (T(1) - rho) * g * g;
        w[i] = w[i] * decay - lr * g / (std::sqrt(s0[i]) + eps);
      }
      return;
    }
    case OptimizerKind::adam:
    case OptimizerKind::adamw: {
      const T b1 = T(cfg.beta1), b2 = T(cfg.beta2);
      const T step_size = T(lr_d / (1.0 - std::pow(cfg.beta1, double(t))));
      const T inv_sqrt_bc2 = T(1.0 / std::sqrt(1.0 - std::pow(cfg.beta2, double(t))));
      for (std::size_t i = 0; i < n; ++i) {
        const T g = grad(i);
        s0[i] = b1 * s0[i] + (T(1) - b1) * g;
        s1[i] = b2 * s1[i] + (T(1) - b2) * g * g;
        w[i] = w[i] * decay - step_size * s0[i] / (std::sqrt(s1[i]) * inv_sqrt_bc2 + eps);
      }
      return;
    }
  }
}

template <class T>
OptimizerState<T>::OptimizerState(const OptimizerConfig& config, std::size_t parameter_count,
                                  std::size_t weight_count)
    : config_(config), weight_count_(weight_count) {
  config_.validate();
  const std::size_t slots = state_slots(config_.kind);
  if (slots >= 1) s0_ = AlignedBuffer<T>(parameter_count);
  if (slots >= 2) s1_ = AlignedBuffer<T>(parameter_count);
}

template <class T>
void OptimizerState<T>::update_range(std::span<T> params, std::size_t begin,
                                     std::span<const T> grads, double lr, std::uint64_t t) {
  const std::size_t end = begin + grads.size();
  auto part = [&](std::size_t b, std::size_t e, bool regularise) {
    if (b >= e) return;
    UpdateSlice<T> s{params.subspan(b, e - b), grads.subspan(b - begin, e - b),
                     s0_.size() ? s0_.data() + b : nullptr, s1_.size() ? s1_.data() + b : nullptr,
                     regularise};
    apply_update(config_, lr, t, s);
  };
  part(begin, std::min(end, weight_count_), true);
  part(std::max(begin, weight_count_), end, false);
}

template void apply_update<float>(const OptimizerConfig&, double, std::uint64_t,
                                  UpdateSlice<float>);
template void apply_update<double>(const OptimizerConfig&, double, std::uint64_t,
                                   UpdateSlice<double>);
template class OptimizerState<float>;
template class OptimizerState<double>;

}  // namespace dptrain
