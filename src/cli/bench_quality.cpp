#include "bench_quality.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "dptrain/io.hpp"
#include "machine_report.hpp"

namespace dptrain::cli {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

std::string bytes_of(const void* data, std::size_t bytes) {
  return std::string(static_cast<const char*>(data), bytes);
}

/// Writes the replay files of one quality check into `dir` and returns its manifest entry.
/// Data files are shared between models that use the same data (A and B).
json export_replay(const std::string& dir, const Reference& ref, const Dataset& data,
                   const Model<float>& model, const TrainConfig& config, std::size_t steps,
                   std::set<std::string>& written) {
  namespace fs = std::filesystem;
  // Appended piecewise: GCC 12 reports a false -Wrestrict for "-" + std::to_string(...) here.
  std::string data_key = ref.quality_data;
  if (ref.quality_rows) data_key.append("-").append(std::to_string(data.rows));
  json d = {{"spec", ref.quality_data},          {"rows", data.rows},
            {"features", data.features},         {"classes", data.classes},
            {"target_width", data.target_width}, {"x", data_key + ".x.f32"}};
  auto write = [&](const std::string& name, const std::string& content) {
    if (written.insert(name).second)
      write_file_atomically((fs::path(dir) / name).string(), content);
  };
  write(data_key + ".x.f32",
        bytes_of(data.feature_values().data(), data.feature_values().size_bytes()));
  if (data.classification()) {
    d["labels"] = data_key + ".labels.i32";
    write(data_key + ".labels.i32",
          bytes_of(data.labels.data(), data.labels.size() * sizeof(std::int32_t)));
  } else {
    d["targets"] = data_key + ".targets.f32";
    write(data_key + ".targets.f32",
          bytes_of(data.targets.data(), data.targets.size() * sizeof(float)));
  }
  json init = json::array();
  const auto params = model.parameters();
  std::size_t i = 0;
  for (const DenseLayout& l : model.dense_layers()) {
    const std::string w = ref.name + ".w" + std::to_string(i) + ".f32";
    const std::string b = ref.name + ".b" + std::to_string(i) + ".f32";
    write(w, bytes_of(params.data() + l.weight_offset, l.in * l.out * sizeof(float)));
    write(b, bytes_of(params.data() + l.bias_offset, l.out * sizeof(float)));
    init.push_back({{"in", l.in},
                    {"out", l.out},
                    {"activation", activation_name(l.activation)},
                    {"weight", w},
                    {"weight_layout", "in x out, row-major"},
                    {"bias", b}});
    ++i;
  }
  const OptimizerConfig& o = config.optimizer;
  return {{"name", ref.name},
          {"what", ref.what},
          {"layers", ref.widths},
          {"hidden", activation_name(ref.hidden)},
          {"output", activation_name(ref.output)},
          {"loss", loss_name(ref.loss)},
          {"loss_note",
           "ce: mean softmax cross-entropy; bce: mean BCE on logits over rows and "
           "outputs; mse: 0.5 x mean squared error"},
          {"optimizer", optimizer_name(o.kind)},
          {"lr", o.learning_rate},
          {"momentum", o.momentum},
          {"beta1", o.beta1},
          {"beta2", o.beta2},
          {"epsilon", o.effective_epsilon()},
          {"batch", config.batch_size},
          {"steps", steps},
          {"order", "step s trains rows (s * batch + j) mod rows, j < batch"},
          {"data", d},
          {"init", init}};
}

/// Trains a fresh copy of `ref` for `steps` steps on its learnable data set and evaluates the
/// final parameters on the same rows.
json quality_check(const Reference& ref, const TrainConfig& base, std::size_t steps,
                   const std::string& export_dir, std::set<std::string>& written, json& manifest) {
  json q = {{"model", ref.name}, {"data", ref.quality_data}, {"steps", steps}, {"threads", 1}};
  Dataset data;
  try {
    data = load_dataset(ref.quality_data, 42);
  } catch (const Error& e) {
    q["skipped"] = e.what();
    return q;
  }
  if (ref.quality_rows) data = data.head(ref.quality_rows);
  q["rows"] = data.rows;
  TrainConfig c = workload_config(ref, base, 1);
  c.plan.parallelism = Parallelism::data;
  Model<float> model(ModelSpec::mlp(ref.widths, ref.hidden, ref.output));
  model.initialize(42);
  json entry;
  if (!export_dir.empty()) entry = export_replay(export_dir, ref, data, model, c, steps, written);
  Trainer trainer(model, c);
  trainer.check_data(data);
  std::vector<std::uint32_t> rows(c.batch_size);
  const auto t0 = Clock::now();
  for (std::size_t s = 0; s < steps; ++s) {
    for (std::size_t j = 0; j < rows.size(); ++j)
      rows[j] = std::uint32_t((s * c.batch_size + j) % data.rows);
    trainer.step(data, rows);
  }
  q["seconds"] = std::chrono::duration<double>(Clock::now() - t0).count();
  const Evaluation e = trainer.evaluate(data);
  q["loss"] = json_number(e.loss);
  q["metric"] = json_number(e.metric());
  q["metric_name"] = e.metric_name();
  if (!export_dir.empty()) {
    entry["dptrain"] = {
        {"loss", q["loss"]}, {"metric", q["metric"]}, {"metric_name", e.metric_name()}};
    manifest["models"].push_back(entry);
  }
  return q;
}

/// One line of the quality table.
void print_quality_line(const Reference& ref, std::size_t steps, const json& q) {
  if (q.contains("skipped")) {
    std::printf("%-6s %-14s skipped: %s\n", ref.name.c_str(), ref.quality_data.c_str(),
                q["skipped"].get<std::string>().c_str());
    return;
  }
  std::printf("%-6s %-14s %6zu %7zu %10.5f %6s %.4f %7.2fs\n", ref.name.c_str(),
              ref.quality_data.c_str(), q["rows"].get<std::size_t>(), steps,
              q["loss"].is_null() ? NAN : q["loss"].get<double>(),
              q["metric_name"].get<std::string>().c_str(),
              q["metric"].is_null() ? NAN : q["metric"].get<double>(), q["seconds"].get<double>());
}

}  // namespace

json run_quality_checks(const std::vector<const Reference*>& models, const TrainConfig& base,
                        const QualitySettings& settings) {
  std::printf(
      "\nquality check: fixed initial parameters (seed 42), rows in fixed cyclic order, "
      "1 thread; loss and metric of the final parameters on the training rows\n");
  std::printf("%-6s %-14s %6s %7s %10s %10s %8s\n", "model", "data", "rows", "steps", "loss",
              "metric", "seconds");
  json manifest = {{"format", "dptrain-replay-1"},
                   {"dptrain_version", version_string},
                   {"models", json::array()}};
  std::set<std::string> written;
  json results = json::array();
  for (const Reference* ref : models) {
    const std::size_t steps = settings.steps ? settings.steps : ref->quality_steps;
    json q = quality_check(*ref, base, steps, settings.export_dir, written, manifest);
    print_quality_line(*ref, steps, q);
    results.push_back(std::move(q));
  }
  if (!settings.export_dir.empty()) {
    write_json((std::filesystem::path(settings.export_dir) / "manifest.json").string(), manifest);
    std::printf("replay files written to %s (manifest.json)\n", settings.export_dir.c_str());
  }
  return results;
}

}  // namespace dptrain::cli
