#pragma once
// A sequential stack of dense and dropout layers over one flat parameter buffer.
//
// Layout (see Note [Flat parameters]): every dense layer's weight matrix w (in x out, row-major),
// each starting on a cache line, then every layer's bias b (out). Gradients use exactly the same
// layout in buffers the caller owns (one per worker), so zero-grad, reduce, optimizer step and
// checkpoint are each one loop over a span. All weights come before all biases so that
// regularisation applies to the prefix [0, weight_count()).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dptrain/activation.hpp"
#include "dptrain/aligned_buffer.hpp"
#include "dptrain/data.hpp"
#include "dptrain/dense.hpp"
#include "dptrain/gemm.hpp"
#include "dptrain/names.hpp"

namespace dptrain {

struct LayerSpec {
  enum class Kind { dense, dropout };
  Kind kind = Kind::dense;
  std::size_t units = 0;                         ///< dense: output width
  Activation activation = Activation::identity;  ///< dense only
  double rate = 0.0;                             ///< dropout only, in [0, 1)

  static LayerSpec dense(std::size_t units, Activation activation) {
    return {Kind::dense, units, activation, 0.0};
  }
  static LayerSpec dropout(double rate) { return {Kind::dropout, 0, Activation::identity, rate}; }
};

enum class Init { automatic, glorot, he };  ///< automatic: He for relu/leaky_relu, else Glorot
/// Note [Name tables].
inline constexpr NameTable<Init, 3> kInitNames{
    "initialisation", {{{Init::automatic, "auto"}, {Init::he, "he"}, {Init::glorot, "glorot"}}}};
static_assert(kInitNames.complete_through(Init::he));

struct ModelSpec {
  std::size_t inputs = 0;
  std::vector<LayerSpec> layers;
  Init init = Init::automatic;

  /// widths = {inputs, hidden..., outputs}; hidden layers use `hidden`, the last `output`;
  /// dropout > 0 adds a Dropout layer after every hidden layer.
  static ModelSpec mlp(const std::vector<std::size_t>& widths, Activation hidden, Activation output,
                       double dropout = 0.0);

  /// Throws dptrain::Error if the stack is not valid: no dense layer, zero widths, softmax on a
  /// hidden layer, dropout rate outside [0, 1), dropout first or last.
  void validate() const;
  /// Throws dptrain::Error (ErrorTopic::layer_widths) for a width above kMaxLayerWidth or a
  /// parameter count whose training memory exceeds this machine's (limits.hpp).
  void check_sizes() const;
  std::size_t outputs() const;
  /// {inputs, then each dense layer's units}: the widths mlp() takes.
  std::vector<std::size_t> widths() const;
  Activation output_activation() const;
  /// e.g. "784-128(relu)-10(softmax)".
  std::string describe() const;
};

/// Where one dense layer's parameters live in the flat buffer.
struct DenseLayout {
  std::size_t in = 0, out = 0;
  std::size_t weight_offset = 0;  ///< w: in x out
  std::size_t bias_offset = 0;    ///< b: out
  Activation activation = Activation::identity;
};

template <class T>
class Workspace;
template <class T>
class Activations;
template <class T>
class ActivationRows;

/// Parameters of a model. Not copyable by accident (views would alias): use clone().
/// Forward/backward are const and thread-safe for distinct workspaces and gradient buffers:
/// workers share one Model read-only during a step.
template <class T>
class Model {
 public:
  explicit Model(ModelSpec spec);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Model(Model&&) noexcept = default;
  Model& operator=(Model&&) noexcept = default;
  Model clone() const;

  /// Glorot / He uniform initialisation from the seed; biases zero.
  void initialize(std::uint64_t seed);

  const ModelSpec& spec() const { return spec_; }
  /// Length of the flat buffer, cache-line padding between blocks included.
  std::size_t parameter_count() const { return params_.size(); }
  /// Trainable values: sum over dense layers of in * out + out (no padding).
  std::size_t trainable_count() const;
  std::size_t weight_count() const { return weight_count_; }
  std::span<T> parameters() { return params_.span(); }
  std::span<const T> parameters() const { return params_.span(); }
  const std::vector<DenseLayout>& dense_layers() const { return dense_; }
  /// Exact FLOPs of one sample's training step in the dense products: 2 x in x out per dense
  /// layer for the forward pass, 2 x in x out for the weight gradient, and 2 x in x out for the
  /// input gradient of every layer but the first (never computed). Biases, activations, loss,
  /// dropout and the update are not counted. The fork threshold (Note [When to fork]) and the
  /// exact-FLOP rates of `dptrain bench` use it.
  double flops_per_sample() const;

  /// Forward pass of `rows` samples x (rows x inputs) with scratch `ws`, writing the layers'
  /// outputs into `a`. Leaves the output layer's logits (pre-activation) in a.logits().
  /// training enables dropout with `key`. Requires rows <= ws.max_rows() and rows <=
  /// a.capacity() (std::logic_error).
  void forward(Workspace<T>& ws, ActivationRows<T> a, const T* x, std::size_t rows, bool training,
               DropoutKey key = {}) const;

  /// Backward pass after forward() on the same rows, with dL/dlogits in a.logit_grad().
  /// Leaves every dense layer's dL/dz in a.delta(k) (the last one's is logit_grad()) and
  /// writes (overwrites) the parameter gradient into `grads` (parameter_count() values, the same
  /// layout as parameters()). With weight_gradients false, only the deltas (input gradients)
  /// are computed and `grads` may be null: the weight gradients are then the caller's (the
  /// engine's owner-computes phase, Note [Owner computes] in src/engine/owner_update.cpp).
  void backward(Workspace<T>& ws, ActivationRows<T> a, const T* x, std::size_t rows, T* grads,
                bool weight_gradients = true) const;

 private:
  // The bf16 forms of one dense layer (index: its position among dense layers); false when the
  // workspace is fp32 or the product is too small for oneDNN, and the fp32 form runs instead.
  bool forward_bf16(Workspace<T>& ws, const DenseLayout& d, std::size_t index, const T* in,
                    std::size_t rows, T* out) const;
  bool backward_bf16(Workspace<T>& ws, const DenseLayout& d, std::size_t index, const T* dz,
                     std::size_t rows, T* grads, T* dx) const;

  ModelSpec spec_;
  std::vector<DenseLayout> dense_;
  std::size_t weight_count_ = 0;
  AlignedBuffer<T> params_;
};

/// Where the activations of up to max_rows samples live, allocated once: the network input,
/// every layer's output and every dense layer's dL/dz. The engine keeps one for the whole batch,
/// each unit writing its rows (Note [One activation layout] in src/engine/engine.cpp); Inference
/// one per worker. Not copyable by accident (rows() views would dangle).
template <class T>
class Activations {
 public:
  Activations(const ModelSpec& spec, std::size_t max_rows);
  Activations(Activations&&) noexcept = default;
  Activations& operator=(Activations&&) noexcept = default;
  std::size_t max_rows() const { return max_rows_; }
  /// Rows [first_row, max_rows()): where one forward/backward pass of its rows lives.
  /// Requires first_row <= max_rows() (std::logic_error).
  ActivationRows<T> rows(std::size_t first_row);
  std::size_t bytes() const;

 private:
  friend class ActivationRows<T>;
  std::size_t max_rows_ = 0, inputs_ = 0;
  AlignedBuffer<T> input_;
  std::vector<AlignedBuffer<T>> layer_out_;  // one per layer spec (dropout: its output)
  std::vector<AlignedBuffer<T>> deltas_;     // one per dense layer: dL/dz, max_rows x out
  std::vector<std::size_t> widths_;          // output width of each spec layer
  std::vector<std::size_t> dense_layer_;     // spec index of dense layer k
};

/// Rows from first_row() on of an Activations, which must outlive the view. Cheap to copy.
template <class T>
class ActivationRows {
 public:
  std::size_t first_row() const { return first_; }
  std::size_t capacity() const { return store_->max_rows_ - first_; }  ///< rows it can hold
  T* input() const { return store_->input_.data() + first_ * store_->inputs_; }  ///< x inputs
  /// Spec layer i's output (x its width); the last layer's is the logits.
  T* layer(std::size_t i) const {
    return store_->layer_out_[i].data() + first_ * store_->widths_[i];
  }
  /// Dense layer k's dL/dz after backward() (x its outputs); the last one's is logit_grad().
  T* delta(std::size_t k) const {
    return store_->deltas_[k].data() + first_ * store_->widths_[store_->dense_layer_[k]];
  }
  /// Dense layer k's input: the network input or the previous layer's output.
  const T* dense_input(std::size_t k) const {
    const std::size_t i = store_->dense_layer_[k];
    return i == 0 ? input() : layer(i - 1);
  }
  T* logits() const { return layer(store_->layer_out_.size() - 1); }
  T* logit_grad() const { return delta(store_->deltas_.size() - 1); }

 private:
  friend class Activations<T>;
  ActivationRows(Activations<T>* store, std::size_t first) : store_(store), first_(first) {}
  Activations<T>* store_;
  std::size_t first_;
};

/// One worker's scratch for passes of up to max_rows samples, allocated once: its kernel state,
/// dropout masks, the outputs f(logits), gathered labels or targets and, with bf16, the bf16
/// copies of the products' inputs. The activations themselves live in an Activations.
template <class T>
class Workspace {
 public:
  /// `gemm`: the kernel, and with a pool, products split over it (the intra strategy). A
  /// workspace holds its own kernel cache (oneDNN primitives per product shape), so a worker's
  /// products reuse what its earlier steps created.
  Workspace(const ModelSpec& spec, std::size_t max_rows, GemmContext gemm);
  std::size_t max_rows() const { return max_rows_; }
  const GemmContext& gemm() const { return gemm_; }
  T* outputs() { return outputs_.data(); }  ///< max_rows x outputs: f(logits)
  std::int32_t* labels() { return labels_.data(); }
  float* target_values() { return target_values_.data(); }
  /// Bytes held by this workspace.
  std::size_t bytes() const;

  /// bf16 precision (float workspaces; Note [Precision] in engine.hpp): products large enough
  /// for oneDNN (onednn_runs) take bf16 inputs, with `weights` the bf16 copy of the model's
  /// parameters (same layout, kept current by the owner). Allocates the bf16 scratch here.
  void enable_bf16(const ModelSpec& spec, const bf16* weights);
  bool uses_bf16() const { return bf16_weights_ != nullptr; }

 private:
  friend class Model<T>;
  std::size_t max_rows_;
  GemmContext gemm_;
  std::unique_ptr<GemmCache, GemmCacheDeleter> gemm_cache_;  // this worker's kernel state
  // With a pool: one cache per part of a split product (GemmContext::part_caches).
  std::vector<std::unique_ptr<GemmCache, GemmCacheDeleter>> part_caches_;
  std::vector<GemmCache*> part_cache_pointers_;
  const bf16* bf16_weights_ = nullptr;
  std::vector<AlignedBuffer<bf16>> bf16_inputs_;  // per dense layer: its input, rows x in
  AlignedBuffer<bf16> bf16_grad_;                 // dz of the layer in backward
  std::vector<AlignedBuffer<T>> masks_;           // dropout layers only (else empty)
  AlignedBuffer<T> outputs_;
  AlignedBuffer<std::int32_t> labels_;
  AlignedBuffer<float> target_values_;
};

/// Throws dptrain::Error naming the data set when its shape does not fit a model of `spec`
/// trained or evaluated with `loss`: feature count (ErrorTopic::layer_widths), no labels,
/// classes versus output units, real-valued targets with loss ce (ErrorTopic::loss), target
/// columns versus outputs; buffer sizes against the shape and every class label against the
/// classes (one pass over the labels, none over the features: Dataset::validate checks those).
void check_data_fits(const ModelSpec& spec, Loss loss, const Dataset& data);

/// Throws dptrain::Error when `data` cannot be predicted on by a model of `spec` (feature count).
void check_features_fit(const ModelSpec& spec, const Dataset& data);

extern template class Model<float>;
extern template class Model<double>;
extern template class Workspace<float>;
extern template class Workspace<double>;
extern template class Activations<float>;
extern template class Activations<double>;

}  // namespace dptrain
