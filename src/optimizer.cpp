#include "dptrain/optimizer.hpp"

#include <cmath>
#include <string>

#include "dispatch.hpp"
#include "dptrain/error.hpp"

namespace dptrain {

OptimizerKind parse_optimizer(std::string_view name) {
  if (name == "sgd") return OptimizerKind::sgd;
  if (name == "momentum") return OptimizerKind::momentum;
  if (name == "nesterov") return OptimizerKind::nesterov;
  if (name == "adagrad") return OptimizerKind::adagrad;
  if (name == "rmsprop") return OptimizerKind::rmsprop;
  if (name == "adam") return OptimizerKind::adam;
  if (name == "adamw") return OptimizerKind::adamw;
  throw Error("unknown optimizer '" + std::string(name) +
              "' (expected sgd, momentum, nesterov, adagrad, rmsprop, adam or adamw)");
}

const char* optimizer_name(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::sgd:
      return "sgd";
    case OptimizerKind::momentum:
      return "momentum";
    case OptimizerKind::nesterov:
      return "nesterov";
    case OptimizerKind::adagrad:
      return "adagrad";
    case OptimizerKind::rmsprop:
      return "rmsprop";
    case OptimizerKind::adam:
      return "adam";
    case OptimizerKind::adamw:
      return "adamw";
  }
  return "?";
}

double OptimizerConfig::effective_epsilon() const {
  if (epsilon >= 0) return epsilon;
  return kind == OptimizerKind::adagrad ? 1e-10 : 1e-8;
}

void OptimizerConfig::validate() const {
  auto bad = [](const std::string& what) { throw Error(what); };
  if (!(learning_rate > 0 && std::isfinite(learning_rate)))
    bad("learning rate must be a positive number, got " + std::to_string(learning_rate));
  if (!(momentum >= 0 && momentum < 1)) bad("momentum must be in [0, 1)");
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) bad("adam betas must be in [0, 1)");
  if (!(rho >= 0 && rho < 1)) bad("rmsprop rho must be in [0, 1)");
  if (!(weight_decay >= 0 && std::isfinite(weight_decay))) bad("weight decay must be >= 0");
  if (!(l1 >= 0 && std::isfinite(l1)) || !(l2 >= 0 && std::isfinite(l2)))
    bad("l1 and l2 must be >= 0");
}

std::size_t state_slots(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::sgd:
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
