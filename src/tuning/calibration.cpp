// Measuring the cost model's parameters (tuning.hpp: calibrate). Every figure is the best of
// a few short rounds: the model predicts an undisturbed step, and on a shared machine the best
// round is the one least disturbed.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "dptrain/aligned_buffer.hpp"
#include "dptrain/gemm.hpp"
#include "dptrain/kernel_choice.hpp"
#include "dptrain/parallel/pool.hpp"
#include "dptrain/tuning.hpp"

namespace dptrain::tuning {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// The kernel each calibrated product runs: base.gemm, or with `--gemm auto` the choice's kernel
/// for that shape (Note [Nearest shape] in kernel_choice.cpp for the row counts a step does not
/// run), so that the cost model predicts the kernels the plans will run.
struct Kernels {
  GemmBackend fixed = default_gemm_backend();
  std::shared_ptr<const KernelChoice> choice;
  GemmBackend forward(std::size_t rows, std::size_t in, std::size_t out) const {
    return choice ? choice->backend_for({false, false, true, rows, out, in}) : fixed;
  }
  GemmBackend tile(std::size_t tile, std::size_t out, std::size_t batch) const {
    return choice ? choice->backend_for({true, false, false, tile, out, batch}) : fixed;
  }
};

/// The kernels of `base` for the workload: with gemm `automatic` and no choice yet, the choice
/// for one thread on the data plan with owner weight gradients (whose step runs the forward
/// products at B rows and the weight-gradient tiles calibrate_layer times), from the wisdom
/// file or measured (kernel_choice.hpp).
Kernels kernels_of(const Workload& ref, const TrainConfig& base) {
  Kernels k;
  k.fixed = base.gemm;
  k.choice = base.kernels;
  if (base.gemm != GemmBackend::automatic || k.choice) return k;
  TrainConfig one = workload_config(ref, base, 1);
  one.plan = Plan{};
  one.plan.weight_gradients = WeightGradients::owner;
  one.precision = Precision::fp32;
  one.communicator = nullptr;
  one.deterministic = false;
  resolve_automatic_gemm(ModelSpec::mlp(ref.widths, ref.hidden, ref.output), one);
  k.choice = one.kernels;
  return k;
}

/// Best calls per second of `f` over 3 rounds of about `round` seconds each (one warm call).
template <class F>
double best_rate(F&& f, double round) {
  f();
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    const auto t0 = Clock::now();
    std::size_t calls = 0;
    do {
      f();
      ++calls;
    } while (seconds_since(t0) < round);
    best = std::max(best, double(calls) / seconds_since(t0));
  }
  return best;
}

/// Forward rates for rows = B, B/2, ..., 1 and the tile rate of one layer.
LayerCalibration calibrate_layer(const Kernels& kernels, std::size_t in, std::size_t out,
                                 std::size_t batch) {
  LayerCalibration l;
  l.in = in;
  l.out = out;
  AlignedBuffer<float> x(batch * in), w(in * out), y(batch * std::max(in, out));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(i % 7) * 0.1f;
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = float(i % 5) * 0.1f;
  for (std::size_t rows = batch;; rows = rows / 2) {
    const GemmBackend backend = kernels.forward(rows, in, out);
    const double calls = best_rate(
        [&] {
          gemm<float>(backend, Transpose::no, Transpose::no, rows, out, in, 1.0f, x.data(), in,
                      w.data(), out, 0.0f, y.data(), out);
        },
        0.002);
    l.forward.push_back({rows, calls * 2.0 * double(rows) * double(in) * double(out) / 1e9});
    if (rows == 1) break;
  }
  // The tile: (tile x B) = X^T restricted to tile columns, times the deltas (B x out).
  const std::size_t tile = tile_rows(in, out);
  AlignedBuffer<float> delta(batch * out), grad(tile * out);
  for (std::size_t i = 0; i < delta.size(); ++i) delta[i] = float(i % 3) * 0.1f;
  const GemmBackend backend = kernels.tile(tile, out, batch);
  const double calls = best_rate(
      [&] {
        gemm<float>(backend, Transpose::yes, Transpose::no, tile, out, batch, 1.0f, x.data(), in,
                    delta.data(), out, 0.0f, grad.data(), out);
      },
      0.003);
  l.tile_gflops = calls * 2.0 * double(tile) * double(out) * double(batch) / 1e9;
  return l;
}

/// Per-core rate of the forward product at `rows` rows on `threads` threads at once (each with
/// its own operands), as a fraction of one thread's rate alone measured the same way just before:
/// LayerCalibration::contended. Best of 3 rounds each.
double contended_fraction(GemmBackend backend, std::size_t in, std::size_t out, std::size_t rows,
                          std::size_t threads) {
  struct Operands {
    AlignedBuffer<float> x, w, y;
  };
  std::vector<Operands> ops;
  for (std::size_t t = 0; t < threads; ++t) {
    ops.push_back({AlignedBuffer<float>(rows * in), AlignedBuffer<float>(in * out),
                   AlignedBuffer<float>(rows * out)});
    std::fill_n(ops.back().x.data(), ops.back().x.size(), 0.1f);
    std::fill_n(ops.back().w.data(), ops.back().w.size(), 0.2f);
  }
  auto product = [&](std::size_t t) {
    gemm<float>(backend, Transpose::no, Transpose::no, rows, out, in, 1.0f, ops[t].x.data(), in,
                ops[t].w.data(), out, 0.0f, ops[t].y.data(), out);
  };
  const double alone = best_rate([&] { product(0); }, 0.004);
  double together = 0;
  for (int round = 0; round < 3; ++round) {
    std::vector<double> rates(threads);
    parallel::run_on_new_threads(threads, [&](std::size_t t) {
      product(t);  // warm
      const auto t0 = Clock::now();
      std::size_t calls = 0;
      do {
        product(t);
        ++calls;
      } while (seconds_since(t0) < 0.004);
      rates[t] = double(calls) / seconds_since(t0);
    });
    double mean = 0;
    for (double r : rates) mean += r / double(threads);
    together = std::max(together, mean);
  }
  return std::min(1.0, together / alone);
}

/// LayerCalibration::split: the forward product at `rows` rows split over a pool of `threads`
/// workers of `backend` exactly as the intra and G x T plans split it (gemm with a pool), in a
/// step's setting: the caller has just written the input (as the layer below does) and reads the
/// output afterwards (as the activation does), so the other workers fetch the input from the
/// caller's cache and hand their parts back through the shared memory system. The time of that
/// writing and reading alone is measured and taken off. Its rate as a fraction of split_rate()
/// x contention; best of 3 rounds each.
double split_fraction(const LayerCalibration& l, GemmBackend gemm_backend,
                      parallel::Backend backend, std::size_t rows, std::size_t threads) {
  AlignedBuffer<float> x(rows * l.in), w(l.in * l.out), y(rows * l.out);
  std::fill_n(x.data(), x.size(), 0.1f);
  std::fill_n(w.data(), w.size(), 0.2f);
  std::fill_n(y.data(), y.size(), 0.0f);
  parallel::WorkerPool pool(backend, threads);
  const GemmContext split{gemm_backend, &pool};
  volatile float sink = 0;
  auto around = [&] {  // the layer below writes x, the activation reads y
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = -x[i];
    float sum = 0;
    for (std::size_t i = 0; i < y.size(); ++i) sum += y[i];
    sink = sink + sum;
  };
  const double alone = best_rate(around, 0.002);
  const double calls = best_rate(
      [&] {
        around();
        gemm<float>(split, Transpose::no, Transpose::no, rows, l.out, l.in, 1.0f, x.data(), l.in,
                    w.data(), l.out, 0.0f, y.data(), l.out);
      },
      0.004);
  const double seconds = std::max(1.0 / calls - 1.0 / alone, 1e-9);
  const double measured = 2.0 * double(rows) * double(l.in) * double(l.out) / seconds / 1e9;
  // A difference of two noisy rates: bounded, so that one bad round cannot make split products
  // free (or endless) in the projection.
  return std::clamp(measured / (split_rate(l, rows, threads) * l.contended), 0.05, 1.5);
}

/// Per-thread buffers of memcpy: 8 MB each way, larger than any L2 (page faults are paid once,
/// at construction, not in the timed copies).
struct CopyBuffers {
  static constexpr std::size_t kBytes = std::size_t(8) << 20;
  explicit CopyBuffers(std::size_t threads)
      : src(threads, std::vector<char>(kBytes, 1)), dst(threads, std::vector<char>(kBytes, 2)) {}
  std::vector<std::vector<char>> src, dst;
};

/// Bytes read + written per second by `threads` threads each copying its own buffer at once,
/// summed; the best of 4 rounds.
double copy_gbs(CopyBuffers& buffers, std::size_t threads) {
  double best = 0;
  for (int r = 0; r < 4; ++r) {
    const auto t0 = Clock::now();
    parallel::run_on_new_threads(threads, [&](std::size_t t) {
      std::memcpy(buffers.dst[t].data(), buffers.src[t].data(), CopyBuffers::kBytes);
    });
    best = std::max(best, 2.0 * double(CopyBuffers::kBytes * threads) / seconds_since(t0) / 1e9);
  }
  return best;
}

/// One empty run of a pool of `workers` workers, microseconds (best of 3 rounds).
double fork_join(parallel::Backend backend, std::size_t workers) {
  parallel::WorkerPool pool(backend, workers);
  const double runs = best_rate([&] { pool.run([](std::size_t) {}); }, 0.005);
  return 1e6 / runs;
}

double optimizer_states(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::sgd:
    case OptimizerKind::lbfgs:
      return 0;
    case OptimizerKind::adam:
    case OptimizerKind::adamw:
      return 2;
    default:
      return 1;  // momentum, nesterov, adagrad, rmsprop: one value per parameter
  }
}

}  // namespace

Calibration calibrate(const Workload& ref, const TrainConfig& base, std::size_t cores) {
  const auto t0 = Clock::now();
  Calibration c;
  c.batch = ref.batch;
  c.optimizer_states = optimizer_states(ref.optimizer);
  cores = std::max<std::size_t>(cores, 1);
  const Kernels kernels = kernels_of(ref, base);
  for (std::size_t k = 0; k + 1 < ref.widths.size(); ++k) {
    c.layers.push_back(calibrate_layer(kernels, ref.widths[k], ref.widths[k + 1], ref.batch));
    if (cores == 1) continue;
    LayerCalibration& l = c.layers.back();
    const std::size_t share = (ref.batch + cores - 1) / cores;
    l.contended =
        contended_fraction(kernels.forward(share, l.in, l.out), l.in, l.out, share, cores);
    // Only a product the engine splits has a split rate to measure.
    if (split_parts(2.0 * double(ref.batch) * double(l.in) * double(l.out), cores) > 1)
      l.split = split_fraction(l, kernels.forward(ref.batch, l.in, l.out), base.backend, ref.batch,
                               cores);
  }
  c.copy_threads = cores;
  {
    CopyBuffers buffers(cores);
    c.copy_gbs_one = copy_gbs(buffers, 1);
    c.copy_gbs_all = cores > 1 ? copy_gbs(buffers, cores) : c.copy_gbs_one;
  }
  for (std::size_t w = 1; w <= cores; ++w) c.fork_join_us.push_back(fork_join(base.backend, w));
  c.seconds = seconds_since(t0);
  return c;
}

}  // namespace dptrain::tuning
