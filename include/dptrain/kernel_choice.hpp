#pragma once
// `--gemm auto`: the kernel of every product shape a model runs, and the way its weight
// gradients are formed, chosen by measuring them on this machine once and remembering the
// result in a cache file (Note [Kernel wisdom]).
//
// Note [Kernel wisdom]. Which GEMM kernel is fastest depends on the CPU, not on dptrain: on
// AVX-512 oneDNN's brgemm matmul wins most shapes, on an AVX2-only CPU (oneDNN 2.6 runs every
// matmul on its older gemm:jit kernel there) OpenBLAS wins the large ones, and the owner tile
// products (x^T dz, a transposed source) are gemm:jit everywhere. So `--gemm auto` records the
// shapes (ta, tb, m, n, k, bias) one step of the model runs, times every kernel of the build
// (onednn, openblas, eigen) on each (the fastest of interleaved rounds, single-threaded, the data
// in cache as in a step) and keeps the fastest per shape: a KernelChoice, immutable, that the
// engine's GemmContext consults for every float product (gemm.hpp). With weight gradients
// `auto` it then times whole steps with owner and with buffers and keeps the faster.
// A choice is remembered like FFTW's wisdom, in $XDG_CACHE_HOME/dptrain/ (else ~/.cache/dptrain/),
// one file per machine key: the CPU model, its ISA flags, ONEDNN_MAX_CPU_ISA and
// OPENBLAS_CORETYPE (when set: they change the kernels), the libraries' versions and the
// wisdom format. The file is written atomically; one that does not parse, or whose key is not
// this machine's, is ignored with a warning and measured again. Shapes already in the file
// are never re-timed except by `dptrain tune`, so runs with the same file use the same kernels
// and give the same bits. DPTRAIN_TUNING selects: `cache` (default: read, measure what is
// missing, write), `fresh` (measure, neither read nor write the file), `builtin` (no
// measuring: the built-in choice, oneDNN where it runs and owner weight gradients, as before
// tuning existed). A choice is recorded in checkpoints (KernelChoice::encode) and a resumed
// run with `auto` reuses it: same kernels, same bits as the run that wrote it.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dptrain/engine.hpp"
#include "dptrain/gemm.hpp"
#include "dptrain/model.hpp"

namespace dptrain {

/// One product as gemm()/gemm_bias() see it: C (m x n) = op(A) (m x k) op(B) (k x n) [+ bias].
struct GemmShape {
  bool ta = false, tb = false, bias = false;
  std::size_t m = 0, n = 0, k = 0;
  bool operator==(const GemmShape&) const = default;
  /// e.g. "NN+b 256x1024x784" (TN: A transposed; +b: with a bias).
  std::string text() const;
};

/// Note [Kernel wisdom]: the kernel of each product shape, and the weight-gradient strategy.
/// Immutable once built; the engine holds it by shared_ptr and its products read it.
struct KernelChoice {
  struct Entry {
    GemmShape shape;
    GemmBackend backend = GemmBackend::onednn;
  };
  std::vector<Entry> entries;
  /// Strategy chosen for the model (never `automatic` once resolved by choose_kernels).
  WeightGradients weight_gradients = WeightGradients::automatic;
  /// Where it came from: "measured", "cache", "checkpoint", "builtin".
  std::string origin = "builtin";

  /// The kernel for a float product; shapes not in the table get the built-in kernel.
  GemmBackend backend_for(const GemmShape& shape) const;
  /// Compact text for checkpoints and logs: "owner;NN+b,256,1024,784,openblas;..." (the
  /// strategy, then one entry per shape). decode throws dptrain::Error for malformed text.
  std::string encode() const;
  static KernelChoice decode(const std::string& text);
  /// For the train header: "auto (cache): openblas 4 shapes, onednn 2 shapes".
  std::string summary() const;
};

/// DPTRAIN_TUNING: cache (default), fresh or builtin; throws dptrain::Error for another value.
enum class TuningMode { cache, fresh, builtin };
TuningMode tuning_mode();

/// The key of this machine's wisdom (CPU model, flags, kernel settings, library versions).
std::string wisdom_key();
/// The file of this machine's wisdom: <cache folder>/dptrain/kernels-<hash of the key>.txt.
std::string wisdom_path();

struct KernelTuning {
  TuningMode mode = tuning_mode();
  bool refresh = false;  ///< `dptrain tune`: re-time the shapes even when the file has them
  bool report = false;   ///< pass each timing (kernel per shape, steps) to on_note
  /// Receives warnings (a corrupt or foreign file) and progress notes; default: dropped.
  std::function<void(const std::string&)> on_note;
};

/// Resolves `--gemm auto` for `spec` trained with `config` (its threads, plan, batch size,
/// loss, weight_gradients): the kernel table, and with weight gradients `automatic` the
/// strategy measured on whole steps (Note [Kernel wisdom]). Throws dptrain::Error for a config
/// the engine refuses.
KernelChoice choose_kernels(const ModelSpec& spec, const EngineConfig& config,
                            const KernelTuning& tuning = {});

/// Applies `--gemm auto` to `config` when config.gemm is GemmBackend::automatic and it carries
/// no choice yet: sets config.kernels (and a measured weight-gradient strategy). The engine
/// settings are otherwise unchanged. A no-op for any other kernel.
void resolve_automatic_gemm(const ModelSpec& spec, EngineConfig& config,
                            const KernelTuning& tuning = {});

/// What a checkpoint records of a run with `config` whose engine forms weight gradients as
/// `actual`: the encoded choice with `--gemm auto`, else empty.
std::string recorded_kernels(const EngineConfig& config, WeightGradients actual);
/// With config.gemm `automatic` and a recorded choice (non-empty `encoded`): config.kernels
/// becomes it (origin "checkpoint") and an `automatic` weight-gradient strategy its strategy.
/// Throws dptrain::Error for malformed text.
void apply_recorded_kernels(const std::string& encoded, EngineConfig& config);

namespace detail {

/// A product seen by gemm()/gemm_bias() with backend `automatic`, with its leading dimensions.
struct RecordedShape {
  GemmShape shape;
  std::size_t lda = 0, ldb = 0;
};

/// While one lives, the float products run with backend `automatic` are collected (each shape
/// once, in first-seen order). One at a time per process (a second throws std::logic_error);
/// choose_kernels uses it around one step of the model.
class ShapeRecorder {
 public:
  ShapeRecorder();
  ~ShapeRecorder();
  ShapeRecorder(const ShapeRecorder&) = delete;
  ShapeRecorder& operator=(const ShapeRecorder&) = delete;
  std::vector<RecordedShape> shapes() const;
};

/// Called by gemm() for every product it resolves; cheap when no recorder lives.
void note_gemm_shape(const GemmShape& shape, std::size_t lda, std::size_t ldb);

}  // namespace detail

}  // namespace dptrain
