// dptrain eval and dptrain predict: use a trained checkpoint on data.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "data_options.hpp"
#include "dptrain/checkpoint.hpp"
#include "dptrain/dptrain.hpp"
#include "dptrain/io.hpp"
#include "options.hpp"

namespace dptrain::cli {

namespace {

struct Loaded {
  Checkpoint checkpoint;
  Model<float> model;
};

Loaded load_model(const cxxopts::ParseResult& r) {
  if (!r.count("model")) throw Error("--model <checkpoint.dpt> is required");
  Checkpoint c = load_checkpoint(r["model"].as<std::string>());
  Model<float> m = model_from_checkpoint(c);
  c.target_normalizer.fold_into(m);  // outputs, losses and metrics in the data's units
  return {std::move(c), std::move(m)};
}

/// Inference on the pool of --threads/--backend with the kernel of --gemm: no optimizer state.
struct InferenceSetup {
  std::unique_ptr<parallel::WorkerPool> pool;
  InferenceOptions options;
};

InferenceSetup inference_setup(const cxxopts::ParseResult& r) {
  EngineConfig engine;
  read_engine_options(r, engine);
  engine.validate();
  InferenceSetup s;
  s.pool = std::make_unique<parallel::WorkerPool>(engine.backend, engine.threads);
  s.options.pool = s.pool.get();
  s.options.gemm = engine.gemm;
  return s;
}

/// Throws Error unless `d` fits the checkpoint's model: the features always, and for
/// evaluation (`labels`) the classes or targets too. Checked here, before the Normalizer and
/// Inference see the data, so that the message names the checkpoint the model came from.
void check_fits_model(const Dataset& d, const Checkpoint& c, const std::string& path, bool labels) {
  const std::string where = "data '" + d.source + "'";
  const std::string model = "model '" + path + "' (" + c.spec.describe() + ")";
  if (d.features != c.spec.inputs)
    throw Error(where + " has " + std::to_string(d.features) + " features but " + model +
                " takes " + std::to_string(c.spec.inputs) +
                (!labels && d.labelled() && d.features + 1 == c.spec.inputs
                     ? " (the data look unlabelled: use --label none)"
                     : " (give data with the features it was trained on)"));
  const std::size_t outputs = c.spec.outputs();
  if (!labels || !d.labelled()) return;  // the Trainer's "no label column" message fits
  if (d.classification() && outputs > 1 && d.classes != outputs)
    throw Error(where + " has " + std::to_string(d.classes) + " classes but " + model + " has " +
                std::to_string(outputs) + " output units");
  if (!d.classification() && c.loss == Loss::ce)
    throw Error(where + " has real-valued targets but " + model +
                " is a classifier (loss ce), which needs class labels");
}

/// --data as the checkpoint's model reads it: labels as classes unless its loss is mse, mapped
/// onto the model's classes; with a header, columns matched to the model's by name (Note
/// [Column matching]); the checkpoint's normalisation applied.
Dataset load_for(const cxxopts::ParseResult& r, const Checkpoint& c, bool labels,
                 parallel::WorkerPool* pool) {
  TableOptions table = read_table_options(r, c.loss != Loss::mse);
  table.pool = pool;  // CSV parsed on the inference workers
  table.model_classes = c.classes;
  table.model_schema = c.schema;
  table.model_inputs = c.spec.inputs;
  Dataset d = load_main_data(r, c.seed, table);
  d = conform_data(std::move(d), c.schema, labels ? "eval" : "predict");
  check_fits_model(d, c, r["model"].as<std::string>(), labels);
  c.normalizer.apply(d);
  return d;
}

/// A CSV field: quoted (RFC 4180) when it holds a delimiter, quote or line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string q = "\"";
  for (char ch : text) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

void add_common(cxxopts::Options& options) {
  options.add_options()("model", "Checkpoint written by dptrain train --save",
                        cxxopts::value<std::string>());
  add_data_options(options, false);
  add_engine_options(options);
  options.add_options()("h,help", "Show this help");
}

void print_eval_json(const std::string& model_path, const Checkpoint& c, const Dataset& data,
                     const Evaluation& e) {
  const ConfusionMatrix& cm = e.confusion;
  nlohmann::json j = {
      {"model", model_path}, {"data", data.source}, {"rows", e.rows}, {"loss", e.loss}};
  if (e.classification) {
    j["accuracy"] = cm.accuracy();
    j["macro"] = {
        {"precision", cm.macro_precision()}, {"recall", cm.macro_recall()}, {"f1", cm.macro_f1()}};
    nlohmann::json per = nlohmann::json::array(), matrix = nlohmann::json::array();
    for (std::size_t k = 0; k < cm.classes(); ++k) {
      per.push_back({{"class", k},
                     {"name", c.schema.class_name(k)},
                     {"precision", cm.precision(k)},
                     {"recall", cm.recall(k)},
                     {"f1", cm.f1(k)}});
      nlohmann::json row = nlohmann::json::array();
      for (std::size_t p = 0; p < cm.classes(); ++p) row.push_back(cm.count(k, p));
      matrix.push_back(row);
    }
    j["per_class"] = per;
    j["confusion_matrix"] = matrix;  // rows: true class, columns: predicted class
  } else {
    j["loss_definition"] = "0.5*mse";  // the training loss: half the mean squared error
    j["mse"] = e.regression.mse();
    j["rmse"] = e.regression.rmse();
    j["mae"] = e.regression.mae();
    j["r2"] = e.regression.r2();
  }
  // Paths may hold any bytes; those that are not UTF-8 become U+FFFD (Note [UTF-8 names]).
  std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

void print_eval_text(const Checkpoint& c, const Dataset& data, const Evaluation& e) {
  const ConfusionMatrix& cm = e.confusion;
  std::printf("model %s on %s: %zu rows\n", c.spec.describe().c_str(), data.source.c_str(), e.rows);
  if (!e.classification) {
    // The training loss of mse is half the mean squared error: named so, beside the metrics.
    const RegressionMetrics& m = e.regression;
    std::printf("loss (½·MSE) %.6f\nmse  %.6f\nrmse %.6f\nmae  %.6f\nr2   %.6f\n", e.loss, m.mse(),
                m.rmse(), m.mae(), m.r2());
    return;
  }
  std::printf("loss %.6f\n", e.loss);
  std::printf("accuracy %.4f\n\n%-8s %10s %10s %10s %8s\n", cm.accuracy(), "class", "precision",
              "recall", "f1", "support");
  for (std::size_t k = 0; k < cm.classes(); ++k) {
    std::uint64_t support = 0;
    for (std::size_t p = 0; p < cm.classes(); ++p) support += cm.count(k, p);
    std::printf("%-8s %10.4f %10.4f %10.4f %8llu\n", c.schema.class_name(k).c_str(),
                cm.precision(k), cm.recall(k), cm.f1(k), static_cast<unsigned long long>(support));
  }
  std::printf(
      "%-8s %10.4f %10.4f %10.4f %8zu\n\nconfusion matrix (rows: true class, columns: "
      "predicted)\n",
      "macro", cm.macro_precision(), cm.macro_recall(), cm.macro_f1(), e.rows);
  std::printf("%8s", "");
  for (std::size_t p = 0; p < cm.classes(); ++p) std::printf(" %7zu", p);
  std::printf("\n");
  for (std::size_t k = 0; k < cm.classes(); ++k) {
    std::printf("%8zu", k);
    for (std::size_t p = 0; p < cm.classes(); ++p)
      std::printf(" %7llu", static_cast<unsigned long long>(cm.count(k, p)));
    std::printf("\n");
  }
}

}  // namespace

int eval_command(int argc, char** argv) {
  cxxopts::Options options("dptrain eval", "Loss and metrics of a trained model on labelled data.");
  add_common(options);
  options.add_options()("format", "text or json",
                        cxxopts::value<std::string>()->default_value("text"));
  const auto r = options.parse(argc, argv);
  if (r.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return 0;
  }
  reject_unmatched(r);
  const std::string format = r["format"].as<std::string>();
  if (format != "text" && format != "json") throw Error("--format must be text or json");
  Loaded loaded = load_model(r);
  const Checkpoint& c = loaded.checkpoint;
  const InferenceSetup setup = inference_setup(r);
  const Dataset data = load_for(r, c, true, setup.pool.get());
  const Evaluation e = evaluate(loaded.model, data, c.loss, setup.options);
  if (!std::isfinite(e.loss))
    throw Error("the loss of model '" + r["model"].as<std::string>() + "' on data '" + data.source +
                "' is " + (std::isnan(e.loss) ? "NaN" : "infinite") +
                ": its outputs overflow on these inputs (is the data normalised as in training?)");
  if (format == "json")
    print_eval_json(r["model"].as<std::string>(), c, data, e);
  else
    print_eval_text(c, data, e);
  return 0;
}

int predict_command(int argc, char** argv) {
  cxxopts::Options options(
      "dptrain predict",
      "Write one prediction per input row (class and probabilities, or values).");
  add_common(options);
  options.add_options()("out", "CSV file to write (atomically; - for standard output)",
                        cxxopts::value<std::string>());
  const auto r = options.parse(argc, argv);
  if (r.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return 0;
  }
  reject_unmatched(r);
  if (!r.count("out")) throw Error("--out <predictions.csv> is required (- for standard output)");
  std::vector<std::string> inputs = input_files(r);
  if (r.count("model")) inputs.push_back(r["model"].as<std::string>());
  const std::string out_path = r["out"].as<std::string>();
  check_output_path(out_path, "out", inputs, true);
  Loaded loaded = load_model(r);
  const Checkpoint& c = loaded.checkpoint;
  const InferenceSetup setup = inference_setup(r);
  const Dataset data = load_for(r, c, false, setup.pool.get());
  const std::vector<float> out = predict(loaded.model, data, setup.options);
  const std::size_t cols = c.spec.outputs();
  const bool classes = c.classes > 0;
  std::ostringstream csv;
  csv.precision(7);
  if (classes) {
    csv << "class";
    if (cols == 1)
      csv << ",p1";
    else
      for (std::size_t k = 0; k < cols; ++k) csv << ",p" << k;
  } else {
    for (std::size_t k = 0; k < cols; ++k) csv << (k ? "," : "") << "y" << k;
  }
  csv << '\n';
  for (std::size_t i = 0; i < data.rows; ++i) {
    const float* row = out.data() + i * cols;
    if (classes) csv << csv_field(c.schema.class_name(predicted_class(row, cols))) << ',';
    for (std::size_t k = 0; k < cols; ++k) csv << (k ? "," : "") << row[k];
    csv << '\n';
  }
  write_output(out_path, csv.str(), "out");
  std::fprintf(stderr, "dptrain predict: wrote %zu rows to %s\n", data.rows,
               is_stdout_path(out_path) ? "standard output" : out_path.c_str());
  return 0;
}

}  // namespace dptrain::cli
