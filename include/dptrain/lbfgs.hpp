#pragma once
// L-BFGS over a full-batch objective: the search direction and the line search are libLBFGS's
// (Debian's liblbfgs, More-Thuente line search), the stopping rules scikit-learn's (its
// MLP's `max_iter`, `max_fun` and `tol`, which it hands to scipy's L-BFGS-B). Trainer::fit runs
// it for OptimizerKind::lbfgs over Engine::loss_gradient (Note [Full-batch gradient] in
// engine.hpp); minimize_lbfgs serves any objective (the Python package's float64 path).
#include <cstddef>
#include <functional>
#include <span>
#include <string>

namespace dptrain {

/// The settings of an L-BFGS run besides its iteration limit (TrainConfig::epochs).
struct LbfgsSettings {
  /// The most loss evaluations (scikit-learn's max_fun); checked after each iteration, so the
  /// last iteration's line search may take a few more.
  std::size_t max_fun = 15000;
  /// Converged when every gradient component is at most tol in magnitude (scikit-learn's tol,
  /// scipy's gtol), or when an iteration lowers the loss by at most 2.2e-9 of it (scipy's
  /// default ftol, relative to max(|f|, |f'|, 1)).
  double tol = 1e-4;
  std::size_t memory = 10;  ///< correction pairs kept (scipy's maxcor)
  /// Throws dptrain::Error naming the setting: max_fun >= 1, tol finite and >= 0, memory 1..1000.
  void validate() const;
};

/// One iteration's figures, handed to the callback after it.
struct LbfgsIteration {
  std::size_t iteration = 0;    ///< 1-based
  std::size_t evaluations = 0;  ///< loss evaluations of this iteration (its line search)
  double loss = 0;              ///< the objective at the iteration's point
  double step = 0;              ///< the line search's step length
  double max_gradient = 0;      ///< the largest gradient component's magnitude there
};

enum class LbfgsStop {
  tol,          ///< the gradient or the loss decrease fell below tol / ftol: converged
  line_search,  ///< the line search found no lower point (rounding): converged as far as it can
  max_iter,     ///< the iteration limit
  max_fun,      ///< the evaluation limit
  callback,     ///< the callback returned false (a stop request, early end)
};

struct LbfgsResult {
  LbfgsStop stop = LbfgsStop::tol;
  std::size_t iterations = 0;
  std::size_t evaluations = 0;
  double loss = 0;     ///< at the point returned
  std::string reason;  ///< why it stopped, in words
  bool converged() const { return stop == LbfgsStop::tol || stop == LbfgsStop::line_search; }
};

/// The objective: writes the gradient at `x` into `gradient` and returns the loss.
using LbfgsObjective = std::function<double(std::span<const double> x, std::span<double> gradient)>;
/// After each iteration; false stops the run (LbfgsStop::callback, unless convergence or a limit
/// ends it at the same iteration: that is then the reason).
using LbfgsCallback = std::function<bool(const LbfgsIteration&)>;

/// Minimises `f` from `x` (overwritten with the last accepted point, where `f` was last called
/// for an accepted step) for at most `max_iter` iterations (>= 1) and settings.max_fun
/// evaluations. Throws dptrain::Error for settings out of range, an empty `x` or an objective
/// that is NaN or infinite at the start; what `f` or `callback` throw passes through.
LbfgsResult minimize_lbfgs(std::span<double> x, std::size_t max_iter, const LbfgsSettings& settings,
                           const LbfgsObjective& f, const LbfgsCallback& callback = {});

}  // namespace dptrain
