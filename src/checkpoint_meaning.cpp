#include "checkpoint_meaning.hpp"

#include <cmath>
#include <cstdio>
#include <vector>

#include "dptrain/aligned_buffer.hpp"
#include "dptrain/error.hpp"

namespace dptrain::detail {

// Note [Checkpoint meaning]. The CRC-32 tells damage from a good file, not a forged or edited
// one (anyone can recompute it), and the format only checks that the buffers fit the model the
// metadata describes. A checkpoint is also refused, naming the field, when it says what no run
// writes, because each of these would train or predict on without a word:
//   - the output layer does not fit the loss (ce needs softmax over 2 or more units, bce a
//     sigmoid), or the classes do not fit the output layer (C units for C classes, or one unit
//     for 2), or a trained model with loss ce has no classes; one class is not a classifier;
//   - the schema's task, or a target normaliser, contradicts the classes (a target normaliser
//     is for regression onto an identity output layer);
//   - the step count is below one step per finished epoch plus the current epoch's steps, or
//     above 2^53 (no run takes that many; the optimizer's bias correction counts in a double);
//   - epochs_since_best is above epochs_done; best_validation_loss is not finite, or negative
//     other than -1 (no validation yet); correct predictions exceed the rows counted;
//   - an optimizer state of squared gradients (Adagrad, RMSprop, Adam's second moment) holds a
//     negative value;
//   - a feature normaliser offset is not finite or a scale (1 / spread) not finite and > 0, or
//     a normaliser of kind none holds values;
//   - a parameter or optimizer state value sits in the padding between the layout's blocks,
//     which stays zero from initialisation on (Note [Flat parameters] in src/model.cpp): the
//     buffer was laid out for another model; or a hidden layer is wider than the buffer's
//     layout: a width raised by units that the cache-line padding absorbs keeps the buffer's
//     length, and then the weights the extra units add are exactly the narrower layout's
//     padding zeros (in + out of them at least), which no initialised model holds by chance.

namespace {

constexpr std::uint64_t kMaxSteps = std::uint64_t(1) << 53;

std::string text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void check_classes(const Checkpoint& c) {
  const std::size_t outputs = c.spec.outputs();
  const Activation output = c.spec.output_activation();
  try {
    check_loss_fits(c.loss, output, outputs);
  } catch (const Error& e) {
    throw Error(std::string("'loss' does not fit the output layer: ") + e.what());
  }
  const std::string classes = "'classes' " + std::to_string(c.classes);
  if (c.classes == 1)
    throw Error(classes + ": a classifier has at least 2 classes (0: regression)");
  if (c.classes > 0 && outputs == 1 && c.classes != 2)
    throw Error(classes + " does not fit the output layer's single unit (it fits 2 classes)");
  if (c.classes > 0 && outputs > 1 && outputs != c.classes)
    throw Error(classes + " does not fit the output layer's " + std::to_string(outputs) + " units");
  if (c.classes == 0 && c.loss == Loss::ce && c.step > 0)
    throw Error(classes + " (regression) does not fit loss ce, which trains on class labels");
  if (c.schema.task == Task::classification && c.classes == 0)
    throw Error("'schema.task' is classification but " + classes + " means regression");
  if (c.schema.task == Task::regression && c.classes > 0)
    throw Error("'schema.task' is regression but " + classes + " means classification");
  if (c.target_normalizer.active() && c.classes > 0)
    throw Error("'target_normalizer' standardises regression targets, but " + classes +
                " means classification");
  if (c.target_normalizer.active() && output != Activation::identity)
    throw Error(std::string("'target_normalizer' needs an identity output layer, not ") +
                activation_name(output));
}

void check_position(const Checkpoint& c) {
  const std::string step = "'step' " + std::to_string(c.step);
  if (c.step > kMaxSteps)
    throw Error(step + " is above 2^53, more optimizer steps than any run takes");
  if (c.step < c.epochs_done || c.step - c.epochs_done < c.epoch_progress.steps)
    throw Error(step + " is below the " + std::to_string(c.epochs_done) +
                " finished epochs ('epochs_done') plus the " +
                std::to_string(c.epoch_progress.steps) +
                " steps of the current one ('epoch_progress.steps'): every epoch takes a step");
  if (c.epochs_since_best > c.epochs_done)
    throw Error("'epochs_since_best' " + std::to_string(c.epochs_since_best) +
                " is above 'epochs_done' " + std::to_string(c.epochs_done));
  const double best = c.best_validation_loss;
  if (!std::isfinite(best) || (best < 0 && best != -1))
    throw Error("'best_validation_loss' " + text(best) +
                " must be finite and >= 0, or -1 (no validation yet)");
  const EpochProgress& p = c.epoch_progress;
  if (c.classes > 0 && p.metric_sum > double(p.metric_values))
    throw Error("'epoch_progress.metric_sum' " + text(p.metric_sum) +
                " counts more correct predictions than its " + std::to_string(p.metric_values) +
                " rows");
}

void check_normalizer(const Normalizer& n) {
  if (!n.active()) {
    if (!n.offset.empty() || !n.scale.empty())
      throw Error("'normalizer' of kind none holds offsets or scales");
    return;
  }
  for (std::size_t i = 0; i < n.offset.size(); ++i)
    if (!std::isfinite(n.offset[i]))
      throw Error("'normalizer.offset[" + std::to_string(i) + "]' is " + text(n.offset[i]) +
                  "; an offset must be finite");
  for (std::size_t i = 0; i < n.scale.size(); ++i)
    if (!(std::isfinite(n.scale[i]) && n.scale[i] > 0))
      throw Error("'normalizer.scale[" + std::to_string(i) + "]' is " + text(n.scale[i]) +
                  "; a scale (1 / the feature's spread) must be finite and > 0");
}

/// Adagrad and RMSprop keep (averages of) squared gradients in slot 0, Adam and AdamW in
/// slot 1: never negative (a square root is taken of them).
void check_squares(const Checkpoint& c) {
  const OptimizerKind k = c.optimizer.kind;
  const bool slot0 = k == OptimizerKind::adagrad || k == OptimizerKind::rmsprop;
  const bool slot1 = k == OptimizerKind::adam || k == OptimizerKind::adamw;
  if (!slot0 && !slot1) return;
  const std::vector<float>& squares = slot0 ? c.state0 : c.state1;
  for (std::size_t i = 0; i < squares.size(); ++i)
    if (squares[i] < 0)
      throw Error("optimizer state " + std::to_string(slot0 ? 0 : 1) + " value " +
                  std::to_string(i) + " is " + text(squares[i]) + ", but " + optimizer_name(k) +
                  " keeps squared gradients there (never negative)");
}

}  // namespace

void check_checkpoint_meaning(const Checkpoint& c) {
  check_classes(c);
  check_position(c);
  check_normalizer(c.normalizer);
}

namespace {

/// The used ranges {offset, length} of `spec`'s flat layout (Note [Flat parameters] in
/// src/model.cpp: every weight matrix, then every bias vector, each from a cache line) and the
/// buffer's length, computed without allocating a model.
std::pair<std::vector<std::pair<std::size_t, std::size_t>>, std::size_t> layout(
    const ModelSpec& spec) {
  std::vector<std::pair<std::size_t, std::size_t>> blocks;
  const std::vector<std::size_t> widths = spec.widths();
  std::size_t offset = 0;
  for (std::size_t k = 0; k + 1 < widths.size(); ++k) {
    blocks.emplace_back(offset, widths[k] * widths[k + 1]);
    offset += round_up_to_cache_line<float>(widths[k] * widths[k + 1]);
  }
  for (std::size_t k = 1; k < widths.size(); ++k) {
    blocks.emplace_back(offset, widths[k]);
    offset += round_up_to_cache_line<float>(widths[k]);
  }
  return {blocks, offset};
}

/// True when every value of `values` outside the used ranges of `blocks` is 0.
bool zero_padding(const std::vector<float>& values,
                  const std::vector<std::pair<std::size_t, std::size_t>>& blocks,
                  std::size_t* first_bad = nullptr) {
  std::size_t at = 0;
  const auto check_to = [&](std::size_t end) {
    for (; at < end; ++at)
      if (values[at] != 0.0f) {
        if (first_bad) *first_bad = at;
        return false;
      }
    return true;
  };
  for (const auto& [offset, length] : blocks) {
    if (!check_to(offset)) return false;
    at = offset + length;
  }
  return check_to(values.size());
}

}  // namespace

void check_layout(const Checkpoint& c, const std::string& where) {
  try {
    check_squares(c);
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  const auto [blocks, size] = layout(c.spec);
  const std::pair<const char*, const std::vector<float>*> parts[] = {
      {"parameter", &c.parameters}, {"optimizer state", &c.state0}, {"optimizer state", &c.state1}};
  for (const auto& [name, values] : parts) {
    std::size_t bad = 0;
    if (values->size() == size && !zero_padding(*values, blocks, &bad))
      throw Error(where + ": " + name + " value " + std::to_string(bad) + " (" +
                  text((*values)[bad]) + ") lies in the padding of model " + c.spec.describe() +
                  "'s layout, which training keeps 0: the values were laid out for another "
                  "model (other layer widths)");
  }
  // A hidden layer widened by units that the padding absorbs: the buffer keeps its length, and
  // the values the wider layer adds are the zeros of the narrower layout's padding.
  for (std::size_t k = 0; k + 1 < c.spec.layers.size(); ++k) {
    if (c.spec.layers[k].kind != LayerSpec::Kind::dense) continue;
    ModelSpec narrower = c.spec;
    for (std::size_t& units = narrower.layers[k].units; units > 1;) {
      --units;
      const auto [fewer, fewer_size] = layout(narrower);
      if (fewer_size != size) break;
      bool weights = false;                               // an all-zero model fits every layout
      for (std::size_t b = 0; b < fewer.size() / 2; ++b)  // the weight blocks
        for (std::size_t i = 0; i < fewer[b].second && !weights; ++i)
          weights = c.parameters[fewer[b].first + i] != 0.0f;
      if (weights && zero_padding(c.parameters, fewer))
        throw Error(where + ": its layer " + std::to_string(k + 1) + " has " +
                    std::to_string(c.spec.layers[k].units) +
                    " units, but the parameters are laid out for " + std::to_string(units) +
                    " (the weights the extra units would add are the padding zeros of the "
                    "narrower layout): the width was edited");
    }
  }
}

}  // namespace dptrain::detail
