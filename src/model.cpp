#include "dptrain/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "dptrain/error.hpp"
#include "dptrain/limits.hpp"
#include "dptrain/parallel/pool.hpp"
#include "dptrain/rng.hpp"

namespace dptrain {

// ---- ModelSpec --------------------------------------------------------------------------------

ModelSpec ModelSpec::mlp(const std::vector<std::size_t>& widths, Activation hidden,
                         Activation output, double dropout) {
  if (widths.size() < 2)
    throw Error("a model needs at least an input and an output width (e.g. 784,128,10)");
  ModelSpec spec;
  spec.inputs = widths.front();
  for (std::size_t i = 1; i < widths.size(); ++i) {
    const bool last = i + 1 == widths.size();
    spec.layers.push_back(LayerSpec::dense(widths[i], last ? output : hidden));
    if (!last && dropout > 0.0) spec.layers.push_back(LayerSpec::dropout(dropout));
  }
  spec.validate();
  return spec;
}

void ModelSpec::validate() const {
  if (inputs == 0) throw Error("model input width must be at least 1");
  check_sizes();
  if (layers.empty()) throw Error("model has no layers");
  if (layers.back().kind != LayerSpec::Kind::dense)
    throw Error("the last layer must be dense (dropout cannot be the output)");
  if (layers.front().kind != LayerSpec::Kind::dense)
    throw Error("the first layer must be dense (dropout on the inputs is not supported)");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& l = layers[i];
    const std::string where = "layer " + std::to_string(i + 1);
    if (l.kind == LayerSpec::Kind::dense) {
      if (l.units == 0) throw Error(where + ": dense layer width must be at least 1");
      if (l.activation == Activation::softmax && i + 1 != layers.size())
        throw Error(where + ": softmax is only supported on the output layer");
    } else if (layers[i - 1].kind != LayerSpec::Kind::dense) {
      throw Error(where + ": a dropout layer must follow a dense layer");
    } else if (!(l.rate >= 0.0 && l.rate < 1.0)) {
      throw Error(where + ": dropout rate must be in [0, 1), got " + std::to_string(l.rate));
    }
  }
}

std::vector<std::size_t> ModelSpec::widths() const {
  std::vector<std::size_t> w{inputs};
  for (const LayerSpec& l : layers)
    if (l.kind == LayerSpec::Kind::dense) w.push_back(l.units);
  return w;
}

void ModelSpec::check_sizes() const {
  const auto too_wide = [](std::size_t w) { return w > kMaxLayerWidth; };
  double parameters = 0, in = double(inputs);
  if (too_wide(inputs))
    throw Error("model input width " + std::to_string(inputs) + " is above the limit of " +
                    std::to_string(kMaxLayerWidth),
                ErrorTopic::layer_widths);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (layers[i].kind != LayerSpec::Kind::dense) continue;
    if (too_wide(layers[i].units))
      throw Error("layer " + std::to_string(i + 1) + " width " + std::to_string(layers[i].units) +
                      " is above the limit of " + std::to_string(kMaxLayerWidth),
                  ErrorTopic::layer_widths);
    parameters += in * double(layers[i].units) + double(layers[i].units);
    in = double(layers[i].units);
  }
  // Parameters, gradients and two optimizer slots: the least any training needs.
  check_fits_memory(16.0 * parameters,
                    "a model of " + std::to_string(std::size_t(parameters)) + " parameters",
                    ErrorTopic::layer_widths);
}

std::size_t ModelSpec::outputs() const {
  return layers.back().units;
}
Activation ModelSpec::output_activation() const {
  return layers.back().activation;
}

std::string ModelSpec::describe() const {
  std::string s = std::to_string(inputs);
  for (const LayerSpec& l : layers) {
    char part[64];
    if (l.kind == LayerSpec::Kind::dense)
      std::snprintf(part, sizeof part, "-%zu(%s)", l.units, activation_name(l.activation));
    else
      std::snprintf(part, sizeof part, "-dropout(%g)", l.rate);
    s += part;
  }
  return s;
}

// ---- Model ------------------------------------------------------------------------------------

namespace {

std::size_t layer_width(const ModelSpec& spec, std::size_t i) {
  // A dropout layer keeps the width of the layer before it.
  while (spec.layers[i].kind != LayerSpec::Kind::dense) --i;
  return spec.layers[i].units;
}

}  // namespace

// Note [Flat parameters]. All weights first, each matrix starting on a cache line, then all
// biases. Padding between blocks stays zero with zero gradient, so it never changes.
template <class T>
Model<T>::Model(ModelSpec spec) : spec_(std::move(spec)) {
  spec_.validate();
  std::size_t in = spec_.inputs, offset = 0;
  for (const LayerSpec& l : spec_.layers) {
    if (l.kind != LayerSpec::Kind::dense) continue;
    DenseLayout d;
    d.in = in;
    d.out = l.units;
    d.activation = l.activation;
    d.weight_offset = offset;
    offset += round_up_to_cache_line<T>(d.in * d.out);
    dense_.push_back(d);
    in = l.units;
  }
  weight_count_ = offset;
  for (DenseLayout& d : dense_) {
    d.bias_offset = offset;
    offset += round_up_to_cache_line<T>(d.out);
  }
  params_ = AlignedBuffer<T>(offset);
}

template <class T>
Model<T> Model<T>::clone() const {
  Model copy(spec_);
  std::memcpy(copy.params_.data(), params_.data(), params_.bytes());
  return copy;
}

template <class T>
void Model<T>::initialize(std::uint64_t seed) {
  params_.fill_zero();
  Rng rng(hash_position(seed, kStreamInit, 0));
  for (const DenseLayout& d : dense_) {
    bool he = spec_.init == Init::he;
    if (spec_.init == Init::automatic)
      he = d.activation == Activation::relu || d.activation == Activation::leaky_relu;
    // Uniform variants: He U(-sqrt(6/in), +), Glorot U(-sqrt(6/(in+out)), +).
    const double limit = he ? std::sqrt(6.0 / double(d.in)) : std::sqrt(6.0 / double(d.in + d.out));
    T* w = params_.data() + d.weight_offset;
    for (std::size_t i = 0; i < d.in * d.out; ++i) w[i] = T(rng.uniform(-limit, limit));
  }
}

template <class T>
std::size_t Model<T>::trainable_count() const {
  std::size_t n = 0;
  for (const DenseLayout& d : dense_) n += d.in * d.out + d.out;
  return n;
}

template <class T>
double Model<T>::flops_per_sample() const {
  double flops = 0;
  for (std::size_t i = 0; i < dense_.size(); ++i) {
    const double mac = double(dense_[i].in) * double(dense_[i].out);
    flops += 2 * mac * (i == 0 ? 2 : 3);  // forward, dW, and dX except for the input layer
  }
  return flops;
}

template <class T>
bool Model<T>::forward_bf16(Workspace<T>& ws, const DenseLayout& d, std::size_t index, const T* in,
                            std::size_t rows, T* out) const {
  if constexpr (std::is_same_v<T, float>) {
    if (!ws.uses_bf16() || !onednn_runs(rows, d.out, d.in)) return false;
    dense_forward_bf16(ws.gemm_, in, ws.bf16_inputs_[index].data(), rows, d.in,
                       ws.bf16_weights_ + d.weight_offset, params_.data() + d.bias_offset, d.out,
                       out);
    return true;
  }
  return false;
}

template <class T>
bool Model<T>::backward_bf16(Workspace<T>& ws, const DenseLayout& d, std::size_t index, const T* dz,
                             std::size_t rows, T* grads, T* dx) const {
  if constexpr (std::is_same_v<T, float>) {
    if (!ws.uses_bf16() || !onednn_runs(rows, d.out, d.in)) return false;
    dense_backward_bf16(ws.gemm_, ws.bf16_inputs_[index].data(), dz, ws.bf16_grad_.data(), rows,
                        d.in, d.out, ws.bf16_weights_ + d.weight_offset, grads + d.weight_offset,
                        grads + d.bias_offset, dx);
    return true;
  }
  return false;
}

template <class T>
void Model<T>::forward(Workspace<T>& ws, ActivationRows<T> a, const T* x, std::size_t rows,
                       bool training, DropoutKey key) const {
  if (rows > ws.max_rows_ || rows > a.capacity())
    throw std::logic_error("Model::forward: more rows than the workspace or activations hold");
  const T* in = x;
  std::size_t dense_index = 0, width = spec_.inputs;
  for (std::size_t i = 0; i < spec_.layers.size(); ++i) {
    const LayerSpec& l = spec_.layers[i];
    T* out = a.layer(i);
    if (l.kind == LayerSpec::Kind::dense) {
      const DenseLayout& d = dense_[dense_index++];
      if (!forward_bf16(ws, d, dense_index - 1, in, rows, out))
        dense_forward(ws.gemm_, in, rows, d.in, params_.data() + d.weight_offset,
                      params_.data() + d.bias_offset, d.out, out);
      if (i + 1 != spec_.layers.size()) activation_forward(d.activation, out, rows, d.out);
      width = d.out;
    } else if (training && l.rate > 0.0) {
      dropout_forward(in, out, ws.masks_[i].data(), rows, width, l.rate, key, i);
    } else {
      std::memcpy(out, in, rows * width * sizeof(T));
    }
    in = out;
  }
}

template <class T>
void Model<T>::backward(Workspace<T>& ws, ActivationRows<T> a, const T* x, std::size_t rows,
                        T* grads, bool weight_gradients) const {
  std::size_t k = dense_.size();  // dense layers above the current spec layer
  for (std::size_t i = spec_.layers.size(); i-- > 0;) {
    const LayerSpec& l = spec_.layers[i];
    if (l.kind == LayerSpec::Kind::dropout) {
      // The dense layer below wrote dL/d(dropout output) into its own delta (same width); turn
      // it into dL/d(dropout input), then through that layer's activation (validate() forbids
      // dropout first).
      T* cur = a.delta(k - 1);
      if (l.rate > 0.0) dropout_backward(ws.masks_[i].data(), cur, rows * layer_width(spec_, i));
      const DenseLayout& below = dense_[k - 1];
      activation_backward(below.activation, a.layer(i - 1), cur, rows, below.out);
      continue;
    }
    const DenseLayout& d = dense_[--k];
    const T* dz = a.delta(k);
    const T* input = i == 0 ? x : a.layer(i - 1);
    T* dx = i == 0 ? nullptr : a.delta(k - 1);  // the input layer's dx is never needed
    if (!weight_gradients) {
      if (dx)
        dense_input_gradient(ws.gemm_, dz, rows, d.in, d.out, params_.data() + d.weight_offset, dx);
    } else if (!backward_bf16(ws, d, k, dz, rows, grads, dx)) {
      dense_backward(ws.gemm_, input, dz, rows, d.in, d.out, params_.data() + d.weight_offset,
                     grads + d.weight_offset, grads + d.bias_offset, dx, false);
    }
    if (i == 0) break;
    // dx = dL/d(output of layer i-1). If that layer is dense, go through its activation now;
    // a dropout layer handles its own and the dense layer below it.
    if (spec_.layers[i - 1].kind == LayerSpec::Kind::dense) {
      const DenseLayout& below = dense_[k - 1];
      activation_backward(below.activation, a.layer(i - 1), dx, rows, below.out);
    }
  }
}

// ---- Workspace --------------------------------------------------------------------------------

template <class T>
Workspace<T>::Workspace(const ModelSpec& spec, std::size_t max_rows, GemmContext gemm)
    : max_rows_(max_rows), gemm_(gemm) {
  if (gemm_.backend == GemmBackend::onednn && !gemm_.cache) {  // with a pool: unsplit products
    gemm_cache_ = make_gemm_cache();
    gemm_.cache = gemm_cache_.get();
  }
  if (gemm_.backend == GemmBackend::onednn && gemm_.pool && !gemm_.part_caches) {
    for (std::size_t i = 0; i < gemm_.pool->size(); ++i) {
      part_caches_.push_back(make_gemm_cache());
      part_cache_pointers_.push_back(part_caches_.back().get());
    }
    gemm_.part_caches = part_cache_pointers_.data();  // a moved vector keeps its buffer
  }
  spec.validate();
  const std::size_t rows = std::max<std::size_t>(max_rows, 1);
  for (std::size_t i = 0; i < spec.layers.size(); ++i)
    masks_.emplace_back(
        spec.layers[i].kind == LayerSpec::Kind::dropout ? rows * layer_width(spec, i) : 0);
  outputs_ = AlignedBuffer<T>(rows * spec.outputs());
  labels_ = AlignedBuffer<std::int32_t>(rows);
  target_values_ = AlignedBuffer<float>(rows * spec.outputs());
}

template <class T>
void Workspace<T>::enable_bf16(const ModelSpec& spec, const bf16* weights) {
  const std::size_t rows = std::max<std::size_t>(max_rows_, 1);
  std::size_t in = spec.inputs, widest = spec.inputs;
  bf16_inputs_.clear();
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    if (spec.layers[i].kind != LayerSpec::Kind::dense) continue;
    bf16_inputs_.emplace_back(rows * in);
    in = spec.layers[i].units;
    widest = std::max(widest, in);
  }
  bf16_grad_ = AlignedBuffer<bf16>(rows * widest);
  bf16_weights_ = weights;
}

template <class T>
std::size_t Workspace<T>::bytes() const {
  std::size_t b = outputs_.bytes() + labels_.bytes() + target_values_.bytes();
  for (const auto& m : masks_) b += m.bytes();
  for (const auto& x : bf16_inputs_) b += x.bytes();
  return b + bf16_grad_.bytes();
}

// ---- Activations ------------------------------------------------------------------------------

template <class T>
Activations<T>::Activations(const ModelSpec& spec, std::size_t max_rows)
    : max_rows_(max_rows), inputs_(spec.inputs) {
  spec.validate();
  const std::size_t rows = std::max<std::size_t>(max_rows, 1);
  input_ = AlignedBuffer<T>(rows * spec.inputs);
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    const std::size_t width = layer_width(spec, i);
    widths_.push_back(width);
    layer_out_.emplace_back(rows * width);
    if (spec.layers[i].kind != LayerSpec::Kind::dense) continue;
    dense_layer_.push_back(i);
    deltas_.emplace_back(rows * width);
  }
}

template <class T>
ActivationRows<T> Activations<T>::rows(std::size_t first_row) {
  if (first_row > max_rows_)
    throw std::logic_error("Activations::rows: first row beyond the activations");
  return ActivationRows<T>(this, first_row);
}

template <class T>
std::size_t Activations<T>::bytes() const {
  std::size_t b = input_.bytes();
  for (const auto& l : layer_out_) b += l.bytes();
  for (const auto& d : deltas_) b += d.bytes();
  return b;
}

template class Model<float>;
template class Model<double>;
template class Workspace<float>;
template class Workspace<double>;
template class Activations<float>;
template class Activations<double>;

}  // namespace dptrain

namespace dptrain {

void check_features_fit(const ModelSpec& spec, const Dataset& data) {
  if (data.features != spec.inputs)
    throw Error("data '" + data.source + "' has " + std::to_string(data.features) +
                    " features but the model's input layer takes " + std::to_string(spec.inputs),
                ErrorTopic::layer_widths);
}

namespace {

/// Sizes that agree with the shape, and every class label in [0, classes): a label out of
/// range would index past the output layer. One pass over the labels (not the features).
void check_labels(const Dataset& data, const std::string& where) {
  if (data.feature_values().size() != data.rows * data.features)
    throw Error(where + ": the feature matrix holds " +
                std::to_string(data.feature_values().size()) +
                " values, not rows x features = " + std::to_string(data.rows * data.features));
  if (!data.classification()) {
    if (data.targets.size() != data.rows * data.target_width)
      throw Error(where + ": the targets hold " + std::to_string(data.targets.size()) +
                  " values, not rows x target columns");
    return;
  }
  if (data.labels.size() != data.rows)
    throw Error(where + ": " + std::to_string(data.labels.size()) + " labels for " +
                std::to_string(data.rows) + " rows");
  for (std::size_t r = 0; r < data.rows; ++r)
    if (data.labels[r] < 0 || std::size_t(data.labels[r]) >= data.classes)
      throw Error(where + ": row " + std::to_string(r + 1) + " has label " +
                  std::to_string(data.labels[r]) + ", outside its classes [0, " +
                  std::to_string(data.classes) + ")");
}

}  // namespace

void check_data_fits(const ModelSpec& spec, Loss loss, const Dataset& data) {
  check_features_fit(spec, data);
  const std::string where = "data '" + data.source + "'";
  const std::size_t outputs = spec.outputs();
  if (!data.labelled())
    throw Error(where + " has no label column; training and evaluation need one",
                ErrorTopic::label_column);
  check_labels(data, where);
  if (data.classification()) {
    if (outputs == 1 && data.classes != 2)
      throw Error(where + " has " + std::to_string(data.classes) +
                      " classes; a single output unit only fits 2 classes (or real-valued "
                      "targets with loss mse)",
                  ErrorTopic::loss);
    if (outputs > 1 && outputs != data.classes)
      throw Error(where + " has " + std::to_string(data.classes) +
                      " classes but the output layer has " + std::to_string(outputs) + " units",
                  ErrorTopic::layer_widths);
  } else {
    if (loss == Loss::ce)
      throw Error(where + " has real-valued targets; loss ce needs class labels (loss mse fits)",
                  ErrorTopic::loss);
    if (data.target_width != outputs)
      throw Error(where + " has " + std::to_string(data.target_width) +
                      " target columns but the output layer has " + std::to_string(outputs) +
                      " units",
                  ErrorTopic::layer_widths);
  }
}

}  // namespace dptrain
