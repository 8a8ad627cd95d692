#include "dptrain/checkpoint.hpp"

#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "checkpoint_meaning.hpp"
#include "dptrain/error.hpp"
#include "dptrain/io.hpp"
#include "dptrain/kernel_choice.hpp"
#include "dptrain/limits.hpp"
#include "dptrain/utf8.hpp"
#include "run_settings_json.hpp"

namespace dptrain {

namespace {

constexpr char kMagic[8] = {'D', 'P', 'T', 'C', 'K', 'P', 'T', '\n'};
using json = nlohmann::json;
using detail::whole;

template <class T>
void put(std::string& out, T value) {
  static_assert(std::is_trivially_copyable_v<T>);
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

void put_floats(std::string& out, const std::vector<float>& v) {
  put<std::uint64_t>(out, v.size());
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

json spec_to_json(const ModelSpec& spec) {
  json layers = json::array();
  for (const LayerSpec& l : spec.layers) {
    if (l.kind == LayerSpec::Kind::dense)
      layers.push_back(
          {{"kind", "dense"}, {"units", l.units}, {"activation", activation_name(l.activation)}});
    else
      layers.push_back({{"kind", "dropout"}, {"rate", l.rate}});
  }
  return {{"inputs", spec.inputs}, {"init", kInitNames.name(spec.init)}, {"layers", layers}};
}

ModelSpec spec_from_json(const json& j) {
  ModelSpec spec;
  spec.inputs = whole(j, "inputs");
  try {
    spec.init = kInitNames.parse(j.at("init").get<std::string>());
  } catch (const Error& e) {
    throw Error(std::string("'init': ") + e.what());
  }
  for (const json& l : j.at("layers")) {
    const std::string kind = l.at("kind").get<std::string>();
    if (kind == "dense")
      spec.layers.push_back(LayerSpec::dense(
          whole(l, "units"), parse_activation(l.at("activation").get<std::string>())));
    else if (kind == "dropout")
      spec.layers.push_back(LayerSpec::dropout(l.at("rate").get<double>()));
    else
      throw Error("unknown layer kind '" + kind + "'");
  }
  spec.validate();
  return spec;
}

/// Reads from a byte range, failing with "truncated" instead of reading past the end.
class Reader {
 public:
  Reader(std::string_view bytes, const std::string& source) : b_(bytes), source_(source) {}
  template <class T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::string_view take(std::uint64_t n) {
    need(n);
    const std::string_view s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::vector<float> floats() {
    const auto n = get<std::uint64_t>();
    if (n > b_.size() / sizeof(float)) truncated();
    const std::string_view raw = take(n * sizeof(float));
    std::vector<float> v(n);
    if (n > 0) std::memcpy(v.data(), raw.data(), raw.size());  // v.data() may be null when n == 0
    return v;
  }
  std::size_t position() const { return pos_; }

 private:
  void need(std::uint64_t n) {
    if (n > b_.size() - pos_) truncated();
  }
  [[noreturn]] void truncated() { throw Error("checkpoint '" + source_ + "' is truncated"); }
  std::string_view b_;
  const std::string& source_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string encode_checkpoint(const Checkpoint& c) {
  check_schema_text(c.schema, "the checkpoint's schema");
  json meta = {
      {"spec", spec_to_json(c.spec)},
      {"epochs_done", c.epochs_done},
      {"step", c.step},
      {"epoch_progress",
       {{"steps", c.epoch_progress.steps},
        {"samples", c.epoch_progress.samples},
        {"metric_values", c.epoch_progress.metric_values},
        {"loss_sum", c.epoch_progress.loss_sum},
        {"metric_sum", c.epoch_progress.metric_sum}}},
      {"normalizer",
       {{"kind", normalization_name(c.normalizer.kind)},
        {"offset", c.normalizer.offset},
        {"scale", c.normalizer.scale}}},
      {"classes", c.classes},
      {"best_validation_loss", c.best_validation_loss},
      {"epochs_since_best", c.epochs_since_best},
      {"data", c.data},
      {"schema",
       {{"task", task_name(c.schema.task)},
        {"feature_names", c.schema.feature_names},
        {"label_column", c.schema.label_column},
        {"class_names", c.schema.class_names}}},
  };
  detail::settings_to_json(c, meta);  // Note [Run settings]
  if (c.data_fingerprint.known())     // Note [Data fingerprint]
    meta["data_fingerprint"] = {{"rows", c.data_fingerprint.rows},
                                {"features", c.data_fingerprint.features},
                                {"hash", c.data_fingerprint.hash}};
  if (!c.kernels.empty()) meta["kernels"] = c.kernels;  // Note [Kernel wisdom]; optional
  if (c.target_normalizer.active())  // optional: older readers and files never see it
    meta["target_normalizer"] = {{"offset", c.target_normalizer.offset},
                                 {"scale", c.target_normalizer.scale}};
  // The schema's names must be UTF-8 (Note [UTF-8 names]); the data spec, a path kept for the
  // record, may hold any bytes: those that are not UTF-8 become U+FFFD.
  const std::string meta_text = meta.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string out(kMagic, sizeof kMagic);
  put<std::uint32_t>(out, kCheckpointVersion);
  put<std::uint64_t>(out, meta_text.size());
  out += meta_text;
  put_floats(out, c.parameters);
  put_floats(out, c.state0);
  put_floats(out, c.state1);
  const uLong crc =
      crc32(0L, reinterpret_cast<const Bytef*>(out.data()), static_cast<uInt>(out.size()));
  put<std::uint32_t>(out, static_cast<std::uint32_t>(crc));
  return out;
}

namespace {

/// "epoch_progress" (absent in files written before it existed: an epoch boundary), checked
/// against the step count and batch size so that an edited file cannot place a resumed run
/// outside its epoch's order.
EpochProgress progress_from_json(const json& meta, const Checkpoint& c) {
  EpochProgress p;
  if (!meta.contains("epoch_progress")) return p;
  const json& j = meta.at("epoch_progress");
  p.steps = whole(j, "steps");
  p.samples = whole(j, "samples");
  p.metric_values = whole(j, "metric_values");
  p.loss_sum = j.at("loss_sum").get<double>();
  p.metric_sum = j.at("metric_sum").get<double>();
  std::size_t most_rows = 0;
  if (p.steps > c.step)
    throw Error("epoch_progress.steps " + std::to_string(p.steps) + " is above step " +
                std::to_string(c.step));
  if (__builtin_mul_overflow(p.steps, c.batch_size, &most_rows) || p.samples > most_rows ||
      p.samples < p.steps || (p.steps == 0) != (p.samples == 0) || p.metric_values < p.samples)
    throw Error("epoch_progress counts " + std::to_string(p.steps) + " steps, " +
                std::to_string(p.samples) + " samples and " + std::to_string(p.metric_values) +
                " metric values, which do not fit batch size " + std::to_string(c.batch_size));
  if (!std::isfinite(p.loss_sum) || !std::isfinite(p.metric_sum) || p.loss_sum < 0 ||
      p.metric_sum < 0)
    throw Error("epoch_progress sums must be finite and >= 0");
  return p;
}

/// The run's settings and the training state (everything but the model spec) into `c`.
void state_from_json(const json& meta, Checkpoint& c) {
  detail::settings_from_json(meta, c, c.unrecorded);  // Note [Run settings]
  c.optimizer.validate();
  c.schedule.validate();
  if (c.micro_batches == 0) c.unrecorded.emplace_back("micro_batches");
  c.epochs_done = whole(meta, "epochs_done");
  c.step = whole(meta, "step");
  const json& n = meta.at("normalizer");
  c.normalizer.kind = parse_normalization(n.at("kind").get<std::string>());
  c.normalizer.offset = n.at("offset").get<std::vector<float>>();
  c.normalizer.scale = n.at("scale").get<std::vector<float>>();
  if (meta.contains("target_normalizer")) {  // absent unless --normalize-target
    const json& t = meta.at("target_normalizer");
    c.target_normalizer.offset = t.at("offset").get<std::vector<float>>();
    c.target_normalizer.scale = t.at("scale").get<std::vector<float>>();
  }
  c.classes = whole(meta, "classes");
  c.best_validation_loss = meta.at("best_validation_loss").get<double>();
  c.epochs_since_best = whole(meta, "epochs_since_best");
  c.data = meta.at("data").get<std::string>();
  if (meta.contains("data_fingerprint")) {  // absent in older checkpoints
    const json& f = meta.at("data_fingerprint");
    c.data_fingerprint = {whole(f, "rows"), whole(f, "features"), whole(f, "hash")};
    if (!c.data_fingerprint.known()) throw Error("'data_fingerprint.rows' must be at least 1");
  }
  if (meta.contains("kernels")) {  // a --gemm auto run's choice (Note [Kernel wisdom])
    c.kernels = meta.at("kernels").get<std::string>();
    KernelChoice::decode(c.kernels);  // throws naming what is wrong
  }
  if (meta.contains("schema")) {  // absent in checkpoints written before schemas
    const json& sc = meta.at("schema");
    c.schema.task = parse_task(sc.at("task").get<std::string>());
    c.schema.feature_names = sc.at("feature_names").get<std::vector<std::string>>();
    c.schema.label_column = sc.at("label_column").get<std::string>();
    c.schema.class_names = sc.at("class_names").get<std::vector<std::string>>();
  }
  if (c.batch_size == 0 || c.batch_size > kMaxBatchSize)
    throw Error("batch_size " + std::to_string(c.batch_size) + " is outside 1.." +
                std::to_string(kMaxBatchSize));
  if (c.micro_batches > kMaxMicroBatches)
    throw Error("micro_batches " + std::to_string(c.micro_batches) + " is above " +
                std::to_string(kMaxMicroBatches));
  c.epoch_progress = progress_from_json(meta, c);
}

/// Note [Exploded parameters]: no NaN or infinity anywhere, no parameter beyond the limit.
void check_finite(const Checkpoint& c, const std::string& where) {
  const std::pair<const char*, const std::vector<float>*> parts[] = {
      {"parameter", &c.parameters}, {"optimizer state", &c.state0}, {"optimizer state", &c.state1}};
  for (const auto& [name, values] : parts) {
    const bool parameters = values == &c.parameters;
    const std::size_t i = first_unusable(*values, parameters ? kMaxParameterMagnitude : 0);
    if (i == values->size()) continue;
    const float v = (*values)[i];
    if (std::isfinite(v)) {
      char text[96];
      std::snprintf(text, sizeof text, " (value %zu is %g, beyond the limit of %g)", i, double(v),
                    kMaxParameterMagnitude);
      throw Error(where + " holds an exploded parameter" + text + ": not a usable model");
    }
    throw Error(where + " holds a non-finite " + name + " (value " + std::to_string(i) + " is " +
                (std::isnan(v) ? "NaN" : "infinite") + "): not a usable model");
  }
}

/// The buffers must fit the model the metadata describes. The trainable values are checked
/// before Model allocates them, so absurd widths in the metadata are an Error, not a huge
/// allocation.
void check_sizes(const Checkpoint& c, const std::string& where) {
  std::size_t trainable = 0, in = c.spec.inputs;
  for (const LayerSpec& l : c.spec.layers) {
    if (l.kind != LayerSpec::Kind::dense) continue;
    std::size_t weights = 0;
    if (__builtin_mul_overflow(in, l.units, &weights) ||
        __builtin_add_overflow(trainable, weights, &trainable) ||
        __builtin_add_overflow(trainable, l.units, &trainable) || trainable > c.parameters.size())
      throw Error(where + " holds " + std::to_string(c.parameters.size()) +
                  " parameters, too few for its model " + c.spec.describe());
    in = l.units;
  }
  const Model<float> model(c.spec);
  const std::size_t expected = model.parameter_count();
  if (c.parameters.size() != expected)
    throw Error(where + " holds " + std::to_string(c.parameters.size()) +
                " parameters but its model " + c.spec.describe() + " needs " +
                std::to_string(expected));
  const std::size_t slots = state_slots(c.optimizer.kind);
  if (c.state0.size() != (slots >= 1 ? expected : 0) ||
      c.state1.size() != (slots >= 2 ? expected : 0))
    throw Error(where + " has optimizer state of the wrong size");
  detail::check_layout(c, where);
  if (c.normalizer.active() &&
      (c.normalizer.offset.size() != c.spec.inputs || c.normalizer.scale.size() != c.spec.inputs))
    throw Error(where + " has normalization for the wrong number of features");
  c.target_normalizer.check(c.spec.outputs(), where);
  c.schema.check(c.spec.inputs, c.classes, where + "'s schema");
}

}  // namespace

Checkpoint decode_checkpoint(std::string_view bytes, const std::string& source) {
  const std::string where = "checkpoint '" + source + "'";
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    throw Error("'" + source + "' is not a dptrain checkpoint (bad magic bytes)");
  Reader r(bytes, source);
  r.take(sizeof kMagic);
  const auto version = r.get<std::uint32_t>();
  if (version != kCheckpointVersion)
    throw Error(where + " has format version " + std::to_string(version) +
                "; this dptrain reads version " + std::to_string(kCheckpointVersion));
  if (bytes.size() < sizeof kMagic + 4 + 4) throw Error(where + " is truncated");
  const std::string_view body = bytes.substr(0, bytes.size() - 4);
  std::uint32_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
  const auto crc = static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  const std::string_view meta_text = r.take(r.get<std::uint64_t>());
  Checkpoint c;
  c.parameters = r.floats();
  c.state0 = r.floats();
  c.state1 = r.floats();
  if (r.position() != body.size())
    throw Error(where + (r.position() < body.size() ? " has trailing bytes" : " is truncated"));
  if (crc != stored) throw Error(where + " is corrupted (CRC-32 mismatch)");
  try {
    const json meta = json::parse(meta_text);
    c.spec = spec_from_json(meta.at("spec"));
    state_from_json(meta, c);
    detail::check_checkpoint_meaning(c);
  } catch (const json::exception& e) {
    throw Error(where + " has corrupt metadata: " + e.what());
  } catch (const Error& e) {
    throw Error(where + " has invalid metadata: " + e.what());
  }
  check_sizes(c, where);
  check_finite(c, where);
  return c;
}

void save_checkpoint(const std::string& path, const Checkpoint& c) {
  check_finite(c, "the model to save as '" + path + "'");
  write_file_atomically(path, encode_checkpoint(c));
}

Checkpoint load_checkpoint(const std::string& path) {
  return decode_checkpoint(read_file(path, "checkpoint"), path);
}

Model<float> model_from_checkpoint(const Checkpoint& c) {
  Model<float> m(c.spec);
  std::memcpy(m.parameters().data(), c.parameters.data(), c.parameters.size() * sizeof(float));
  return m;
}

}  // namespace dptrain
