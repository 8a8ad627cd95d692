// minimize_lbfgs (lbfgs.hpp): libLBFGS's direction and line search, scikit-learn's stopping
// rules, and no C++ exception through libLBFGS's C frames.
#include "dptrain/lbfgs.hpp"

#include <lbfgs.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <memory>

#include "dptrain/error.hpp"

namespace dptrain {

namespace {

/// scipy's L-BFGS-B default ftol (factr 1e7 times the double epsilon), which scikit-learn keeps.
constexpr double kFtol = 1e7 * std::numeric_limits<double>::epsilon();

std::string number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", x);
  return text;
}

// Note [No exceptions through libLBFGS]. libLBFGS is C: an exception thrown by the objective
// or the callback must not unwind through its frames. The callbacks catch it, keep it, and
// make libLBFGS end at once: the evaluation returns a zero gradient (at the start: "already
// minimised"; in a line search: +inf until the search gives up, without evaluating again) and
// the progress callback cancels. minimize_lbfgs rethrows it after lbfgs() returns.
struct Run {
  const LbfgsObjective& f;
  const LbfgsCallback& callback;
  std::size_t max_iter;
  const LbfgsSettings& settings;
  std::size_t evaluations = 0, counted = 0;  // all, and those of iterations reported
  double previous = 0;                       // the loss at the last iteration's point
  bool stopped = false;
  std::exception_ptr error;
  LbfgsResult result;

  int stop(LbfgsStop why, std::string reason) {
    stopped = true;
    result.stop = why;
    result.reason = std::move(reason);
    return 1;
  }
};

lbfgsfloatval_t evaluate(void* instance, const lbfgsfloatval_t* x, lbfgsfloatval_t* g, int n,
                         lbfgsfloatval_t) {
  Run& r = *static_cast<Run*>(instance);
  const std::size_t size = std::size_t(n);
  if (!r.error) try {
      const double loss = r.f({x, size}, {g, size});
      if (++r.evaluations == 1) {
        if (!std::isfinite(loss))
          throw Error("L-BFGS: the loss is " + std::string(std::isnan(loss) ? "NaN" : "infinite") +
                          " at the starting point",
                      ErrorTopic::divergence);
        r.previous = r.result.loss = loss;
      }
      return loss;
    } catch (...) {
      r.error = std::current_exception();
    }
  std::fill_n(g, size, 0.0);  // Note [No exceptions through libLBFGS]
  return r.evaluations ? std::numeric_limits<double>::infinity() : 0.0;
}

/// scikit-learn's stopping rules after iteration `it` at loss fx: 0, or r.stop(...)'s 1.
int stop_rule(Run& r, const LbfgsIteration& it, double fx) {
  const double tol = r.settings.tol;
  if (it.max_gradient <= tol)
    return r.stop(LbfgsStop::tol, "converged: every gradient component is within tol " +
                                      number(tol) + " (largest " + number(it.max_gradient) + ")");
  if (r.previous - fx <= kFtol * std::max({std::abs(r.previous), std::abs(fx), 1.0}))
    return r.stop(LbfgsStop::tol, "converged: the loss decreased by at most " + number(kFtol) +
                                      " of itself (" + number(r.previous) + " to " + number(fx) +
                                      ")");
  r.previous = fx;
  if (it.iteration >= r.max_iter)
    return r.stop(LbfgsStop::max_iter,
                  "reached the iteration limit (max_iter " + std::to_string(r.max_iter) + ")");
  if (r.evaluations >= r.settings.max_fun)
    return r.stop(LbfgsStop::max_fun, "reached the evaluation limit (max_fun " +
                                          std::to_string(r.settings.max_fun) + ", " +
                                          std::to_string(r.evaluations) + " evaluations)");
  return 0;
}

int progress(void* instance, const lbfgsfloatval_t*, const lbfgsfloatval_t* g, lbfgsfloatval_t fx,
             lbfgsfloatval_t, lbfgsfloatval_t, lbfgsfloatval_t step, int n, int k, int) {
  Run& r = *static_cast<Run*>(instance);
  if (r.error) return 1;
  LbfgsIteration it;
  it.iteration = std::size_t(k);
  it.evaluations = r.evaluations - r.counted;
  it.loss = fx;
  it.step = step;
  for (int i = 0; i < n; ++i) it.max_gradient = std::max(it.max_gradient, std::abs(g[i]));
  r.counted = r.evaluations;
  r.result.iterations = it.iteration;
  r.result.loss = fx;
  const int rule = stop_rule(r, it, fx);  // before the callback: a limit it meets is the reason
  try {
    if (r.callback && !r.callback(it) && !rule)
      return r.stop(LbfgsStop::callback, "stopped by the caller");
  } catch (...) {
    r.error = std::current_exception();
    return 1;
  }
  return rule;
}

bool line_search_status(int status) {
  return status == LBFGSERR_OUTOFINTERVAL || status == LBFGSERR_INCORRECT_TMINMAX ||
         (status >= LBFGSERR_ROUNDING_ERROR && status <= LBFGSERR_INCREASEGRADIENT);
}

}  // namespace

void LbfgsSettings::validate() const {
  if (max_fun == 0) throw Error("L-BFGS max_fun (--max-fun) must be at least 1, got 0");
  if (!(tol >= 0) || !std::isfinite(tol))
    throw Error("L-BFGS tol (--tol) must be a finite number >= 0, got " + number(tol));
  if (memory == 0 || memory > 1000)
    throw Error("L-BFGS memory must be 1 to 1000 correction pairs, got " + std::to_string(memory));
}

LbfgsResult minimize_lbfgs(std::span<double> x, std::size_t max_iter, const LbfgsSettings& settings,
                           const LbfgsObjective& f, const LbfgsCallback& callback) {
  settings.validate();
  if (x.empty() || x.size() > std::size_t(std::numeric_limits<int>::max()))
    throw Error("L-BFGS needs 1 to 2^31 - 1 parameters, got " + std::to_string(x.size()));
  if (max_iter == 0) throw Error("L-BFGS max_iter (--epochs) must be at least 1, got 0");
  const int n = int(x.size());
  const std::unique_ptr<lbfgsfloatval_t, void (*)(lbfgsfloatval_t*)> at(lbfgs_malloc(n),
                                                                        lbfgs_free);
  if (!at) throw Error("L-BFGS: out of memory for " + std::to_string(x.size()) + " parameters");
  std::copy(x.begin(), x.end(), at.get());
  lbfgs_parameter_t param;
  lbfgs_parameter_init(&param);
  param.m = int(settings.memory);
  param.epsilon = 0;  // the stopping rules are progress()'s (scikit-learn's)
  param.past = 0;
  param.max_iterations = 0;
  param.max_linesearch = 20;  // scipy's maxls
  Run run{f, callback, max_iter, settings, 0, 0, 0, false, nullptr, {}};
  lbfgsfloatval_t fx = 0;
  const int status = lbfgs(n, at.get(), &fx, evaluate, progress, &run, &param);
  if (run.error) std::rethrow_exception(run.error);
  std::copy(at.get(), at.get() + n, x.begin());
  LbfgsResult result = run.result;
  result.evaluations = run.evaluations;
  if (run.stopped) return result;
  if (status == LBFGS_SUCCESS || status == LBFGS_ALREADY_MINIMIZED) {
    result.stop = LbfgsStop::tol;
    result.reason = "converged: the gradient is zero";
  } else if (line_search_status(status)) {
    result.stop = LbfgsStop::line_search;
    result.reason =
        "converged as far as the line search can tell: no lower point along the "
        "search direction (libLBFGS status " +
        std::to_string(status) + ")";
  } else {
    throw Error("L-BFGS failed: libLBFGS status " + std::to_string(status));
  }
  return result;
}

}  // namespace dptrain
