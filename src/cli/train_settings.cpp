#include "train_settings.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <utility>

#include "data_options.hpp"
#include "dptrain/parallel/pool.hpp"
#include "dptrain/utf8.hpp"
#include "options.hpp"

namespace dptrain::cli {

namespace {

/// The default test set for a training spec: the package's test split for Fashion-MNIST, a
/// fresh sample (seed + 1) of the same generator for synthetic sets, XOR itself for xor.
std::optional<Dataset> default_test_set(const std::string& train_spec, std::uint64_t seed) {
  if (train_spec == "fashion-mnist" || train_spec == "fashion-mnist:train")
    return load_dataset("fashion-mnist:test", seed);
  if (train_spec == "xor") return load_dataset("xor", seed);
  if (is_synthetic_name(train_spec)) {
    Dataset d = load_dataset(train_spec, seed + 1);
    d.source = train_spec + " (test sample)";
    return d;
  }
  return std::nullopt;
}

Activation default_output(Loss loss) {
  switch (loss) {
    case Loss::ce:
      return Activation::softmax;
    case Loss::bce:
      return Activation::sigmoid;
    case Loss::mse:
      return Activation::identity;
  }
  return Activation::identity;
}

void refuse_changed_settings(const cxxopts::ParseResult& r, TrainSettings& s);
void read_model_options(const cxxopts::ParseResult& r, TrainSettings& s);

/// --resume: the checkpoint, and the settings that come from it.
void read_resumed_settings(const cxxopts::ParseResult& r, TrainSettings& s) {
  s.resume_path = r["resume"].as<std::string>();
  s.resumed = load_checkpoint(s.resume_path);
  const Checkpoint& c = *s.resumed;
  s.spec = c.spec;
  if (r.count("layers") && r.count("hidden"))
    throw Error("give --layers (every width) or --hidden (the hidden widths), not both");
  if (r.count("layers")) {
    const auto widths = parse_size_list(r["layers"].as<std::string>(), "layers");
    std::vector<std::size_t> have = {s.spec.inputs};
    for (const LayerSpec& l : s.spec.layers)
      if (l.kind == LayerSpec::Kind::dense) have.push_back(l.units);
    if (widths != have)
      throw Error("checkpoint '" + s.resume_path + "' holds model " + s.spec.describe() +
                  ", which does not match --layers " + r["layers"].as<std::string>());
  }
  TrainConfig& config = s.config;
  apply_checkpoint_settings(c, config);
  if (r.count("epochs")) config.epochs = parse_count(r["epochs"].as<std::string>(), "epochs", 1);
  refuse_changed_settings(r, s);
  if (config.epochs <= c.epochs_done)
    throw Error("checkpoint '" + s.resume_path + "' has already trained " +
                std::to_string(c.epochs_done) + " of " + std::to_string(config.epochs) +
                " epochs: nothing to train (give --epochs above " + std::to_string(c.epochs_done) +
                ")");
}

void read_fresh_training(const cxxopts::ParseResult& r, TrainConfig& config);

std::string number_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

/// A training flag as given and as the checkpoint has it ("with 0.001", "without ...").
struct FlagValues {
  std::string flag, given, have;
};

/// The flags that set the run's settings (RunSettings, Note [Run settings] in
/// src/run_settings.cpp) whose values differ from the checkpoint's: every flag is parsed as in
/// a fresh run (a bad value throws here), then the settings are compared as a whole.
std::vector<FlagValues> training_flags(const cxxopts::ParseResult& r, const TrainSettings& s) {
  TrainConfig given = s.config;  // the checkpoint's settings, then the flags' values
  read_engine_options(r, given);
  read_fresh_training(r, given);
  if (r.count("loss")) given.loss = parse_loss(r["loss"].as<std::string>());
  given.shuffle_mode = read_shuffle_option(r);
  std::vector<FlagValues> flags;
  for (const SettingDifference& d : differences(*s.resumed, given, s.resumed->unrecorded)) {
    if (d.toggle)  // a flag without a value: "--deterministic ..., trained without --deterministic"
      flags.push_back({d.flag, "", (d.recorded == "true" ? "with --" : "without --") + d.flag});
    else
      flags.push_back({d.flag, d.given, "with " + d.recorded});
  }
  return flags;
}

std::string widths_text(const std::vector<std::size_t>& widths) {
  std::string text;
  for (const std::size_t w : widths) {  // appends only: GCC 12's -Wrestrict false positive
    if (!text.empty()) text.push_back(',');
    text.append(std::to_string(w));
  }
  return text;
}

/// The model, loss, normalisation and determinism flags as given (each checked as in a fresh
/// run) and as the checkpoint has them. --activation and --dropout describe hidden layers: a
/// checkpoint without any has nothing to compare them with.
std::vector<FlagValues> model_flags(const cxxopts::ParseResult& r, TrainSettings& s) {
  const Checkpoint& c = *s.resumed;
  read_model_options(r, s);  // s.hidden, s.dropout, s.init as given (defaults where not)
  std::vector<std::size_t> hidden;
  Activation activation = Activation::relu;
  double dropout = 0;
  for (std::size_t i = 0; i + 1 < c.spec.layers.size(); ++i) {  // all but the output layer
    const LayerSpec& l = c.spec.layers[i];
    if (l.kind == LayerSpec::Kind::dropout) dropout = l.rate;
    if (l.kind == LayerSpec::Kind::dense) hidden.push_back(l.units), activation = l.activation;
  }
  // The text of a given flag's value once parsed (a bad value throws here); "" when not given.
  auto given = [&r](const char* flag, auto text_of) {
    return r.count(flag) ? std::string(text_of(r[flag].as<std::string>())) : std::string();
  };
  std::vector<FlagValues> flags = {
      {"hidden",
       given("hidden",
             [](const std::string& t) { return widths_text(parse_size_list(t, "hidden")); }),
       hidden.empty() ? "without hidden layers" : "with " + widths_text(hidden)},
      {"init", s.init, std::string("with ") + kInitNames.name(c.spec.init)},
      {"output",
       given("output", [](const std::string& t) { return activation_name(parse_activation(t)); }),
       std::string("with ") + activation_name(c.spec.output_activation())},
      {"normalize", normalization_name(parse_normalization(r["normalize"].as<std::string>())),
       std::string("with ") + normalization_name(c.normalizer.kind)}};
  if (!hidden.empty()) {
    flags.push_back({"activation", activation_name(s.hidden),
                     std::string("with ") + activation_name(activation)});
    flags.push_back({"dropout", number_text(s.dropout), "with " + number_text(dropout)});
  }
  return flags;
}

/// Note: a resumed run keeps the settings its checkpoint was trained with. Every training flag
/// given anyway is still parsed (an invalid value is an error, as in a fresh run), and one whose
/// value differs from the checkpoint's is refused rather than silently ignored.
void refuse_changed_settings(const cxxopts::ParseResult& r, TrainSettings& s) {
  std::vector<FlagValues> flags = training_flags(r, s);
  for (FlagValues& f : model_flags(r, s)) flags.push_back(std::move(f));
  for (const auto& [flag, given, have] : flags)
    if (!flag.empty() && r.count(flag) && "with " + given != have)
      throw Error("--" + flag + (given.empty() ? "" : " " + given) + " differs from checkpoint '" +
                  s.resume_path + "', trained " + have +
                  "; a resumed run keeps its settings (start a new run to change them)");
}

/// A fresh run: seed, epochs, batch size, optimizer and schedule from the command line.
void read_fresh_training(const cxxopts::ParseResult& r, TrainConfig& config) {
  config.seed = parse_count(r["seed"].as<std::string>(), "seed", 0);
  config.epochs = parse_count(r["epochs"].as<std::string>(), "epochs", 1);
  config.batch_size = parse_count(r["batch-size"].as<std::string>(), "batch-size", 1);
  config.optimizer.kind = parse_optimizer(r["optimizer"].as<std::string>());
  config.optimizer.learning_rate = parse_real(r["lr"].as<std::string>(), "lr");
  config.optimizer.momentum = parse_real(r["momentum"].as<std::string>(), "momentum");
  config.optimizer.weight_decay =
      r.count("weight-decay") ? parse_real(r["weight-decay"].as<std::string>(), "weight-decay")
      : config.optimizer.kind == OptimizerKind::adamw ? 0.01
                                                      : 0.0;
  config.optimizer.l1 = parse_real(r["l1"].as<std::string>(), "l1");
  config.optimizer.l2 = parse_real(r["l2"].as<std::string>(), "l2");
  config.schedule.kind = parse_schedule(r["schedule"].as<std::string>());
  config.schedule.step_epochs =
      parse_count(r["lr-step-epochs"].as<std::string>(), "lr-step-epochs", 1);
  config.schedule.gamma = parse_real(r["lr-gamma"].as<std::string>(), "lr-gamma");
  config.schedule.min_lr = parse_real(r["min-lr"].as<std::string>(), "min-lr");
}

/// A fresh run: the model options (the loss and output activation wait for the data).
void read_fresh_model(const cxxopts::ParseResult& r, TrainSettings& s) {
  if (r.count("layers") && r.count("hidden"))
    throw Error("give --layers (every width) or --hidden (the hidden widths), not both");
  if (r.count("hidden")) {  // input and output widths wait for the data (infer_widths)
    s.widths = parse_size_list(r["hidden"].as<std::string>(), "hidden");
    s.widths.insert(s.widths.begin(), 0);
    s.widths.push_back(0);
    s.infer_widths = true;
  } else {
    s.widths =
        parse_size_list(r.count("layers") ? r["layers"].as<std::string>() : "784,128,10", "layers");
  }
  if (s.widths.size() < 2) throw Error("--layers needs at least an input and an output width");
  read_model_options(r, s);
}

/// --activation, --dropout and --init (fresh and resumed runs: each value checked).
void read_model_options(const cxxopts::ParseResult& r, TrainSettings& s) {
  s.hidden = parse_activation(r["activation"].as<std::string>());
  if (s.hidden == Activation::softmax)
    throw Error("--activation softmax: softmax is only for the output layer");
  s.dropout = parse_real(r["dropout"].as<std::string>(), "dropout");
  if (!(s.dropout >= 0 && s.dropout < 1)) throw Error("--dropout must be in [0, 1)");
  s.init = r["init"].as<std::string>();
  try {
    kInitNames.parse(s.init);
  } catch (const Error& e) {
    throw Error(std::string("--init: ") + e.what());
  }
}

/// --test-data, or the default test set of --data; --test-limit.
std::optional<Dataset> load_test_data(const cxxopts::ParseResult& r, const std::string& data_spec,
                                      std::uint64_t seed, TableOptions table,
                                      const Dataset& train) {
  std::optional<Dataset> test;
  table.model_classes = train.classes;  // test labels map through the training classes
  table.model_schema = train.schema;
  table.model_inputs = train.features;
  if (r.count("test-data")) {
    if (r["test-data"].as<std::string>() != "none")
      test = load_dataset(r["test-data"].as<std::string>(), seed + 1, table);
  } else {
    test = default_test_set(data_spec, seed);
  }
  if (test) *test = conform_data(std::move(*test), train.schema, "train");
  if (test && r.count("test-limit"))
    *test = test->head(parse_count(r["test-limit"].as<std::string>(), "test-limit", 1));
  return test;
}

/// --hidden: the input width is the data's feature count, the output width what the loss needs:
/// one unit per class for ce, one for bce, one per target for mse.
void infer_widths(const Dataset& train, Loss loss, std::vector<std::size_t>& widths) {
  widths.front() = train.features;
  widths.back() = loss == Loss::bce  ? 1
                  : loss == Loss::ce ? train.classes
                                     : std::max<std::size_t>(1, train.target_width);
  if (widths.back() == 0)
    throw Error("data '" + train.source +
                "' has real-valued targets: --hidden cannot size a classifier's output layer "
                "for them (for regression use --loss mse)");
}

/// Guidance: features far from unit scale train badly without normalisation. "Far": some
/// feature with |mean| + std above 10, or the largest such scale over 1000 times the smallest
/// while above 1 (pixels in [0, 1] with near-constant corners are not far).
void warn_if_unscaled(const Dataset& train) {
  const std::size_t f = train.features;
  std::vector<double> sum(f), sq(f);
  for (std::size_t r = 0; r < train.rows; ++r)
    for (std::size_t j = 0; j < f; ++j) {
      const double v = train.feature_values()[r * f + j];
      sum[j] += v, sq[j] += v * v;
    }
  double lo = 0, hi = 0;
  std::size_t worst = 0;
  for (std::size_t j = 0; j < f; ++j) {
    const double mean = sum[j] / double(train.rows);
    const double scale =
        std::abs(mean) + std::sqrt(std::max(0.0, sq[j] / double(train.rows) - mean * mean));
    if (scale > hi) hi = scale, worst = j;
    if (scale > 0 && (lo == 0 || scale < lo)) lo = scale;
  }
  if (hi > 10 || (hi > 1 && hi > 1000 * lo)) {
    const auto& names = train.schema.feature_names;
    const std::string which =
        worst < names.size() ? "'" + names[worst] + "'" : "column " + std::to_string(worst + 1);
    std::fprintf(stderr,
                 "dptrain: warning: features of data '%s' are far from unit scale (feature %s: "
                 "|mean| + std = %.3g); training may stall: add --normalize standard\n",
                 train.source.c_str(), which.c_str(), hi);
  }
}

/// A classifier learns to tell classes apart: training rows of one class are refused, as
/// scikit-learn's classifiers refuse them (before any training, naming the class).
void refuse_one_class(const Dataset& train) {
  if (!train.classification() || train.labels.empty()) return;
  const std::int32_t first = train.labels.front();
  if (std::any_of(train.labels.begin(), train.labels.end(),
                  [first](std::int32_t l) { return l != first; }))
    return;
  throw Error("data '" + train.source + "' has only one class, '" +
              escape_invalid_utf8(train.schema.class_name(std::size_t(first))) + "', in its " +
              std::to_string(train.rows) +
              " training rows: a classifier needs at least 2 classes (for regression targets "
              "use --loss mse)");
}

/// Guidance: whole-number regression targets read as classes make one class per value.
void warn_if_many_classes(const Dataset& train) {
  if (train.classes > 20 && train.classes * 4 > train.rows)
    std::fprintf(stderr,
                 "dptrain: warning: data '%s' has %zu classes in %zu rows; if its labels are "
                 "real-valued targets, use --loss mse\n",
                 train.source.c_str(), train.classes, train.rows);
}

/// --normalize-target: a regression setting; on resume the checkpoint's, which cannot change.
bool read_normalize_target(const cxxopts::ParseResult& r, const TrainSettings& s) {
  const bool asked = r.count("normalize-target") > 0;
  if (!s.resumed) {
    if (asked && r.count("loss") && parse_loss(r["loss"].as<std::string>()) != Loss::mse)
      throw Error("--normalize-target standardises regression targets: it needs --loss mse");
    return asked;
  }
  const bool had = s.resumed->target_normalizer.active();
  if (asked && !had)
    throw Error("--normalize-target: checkpoint '" + s.resume_path +
                "' was trained without it, and target scaling cannot change on resume");
  return had;
}

/// The fitted (or resumed) target normalisation applied to every set; the test targets are kept
/// in the data's units for the final report.
void normalize_targets(const TrainSettings& s, TrainData& d) {
  if (!s.normalize_target) return;
  if (s.config.loss != Loss::mse)
    throw Error("--normalize-target standardises regression targets: it needs --loss mse");
  d.target_normalizer = s.resumed ? s.resumed->target_normalizer : TargetNormalizer::fit(d.train);
  d.target_normalizer.apply(d.train);
  if (d.val) d.target_normalizer.apply(*d.val);
  if (d.test) {
    d.test_targets = d.test->targets;
    d.target_normalizer.apply(*d.test);
  }
}

/// --max-fun and --tol: lbfgs's stopping limits (on resume too, like --epochs).
void read_lbfgs_options(const cxxopts::ParseResult& r, TrainConfig& config) {
  if (config.optimizer.kind != OptimizerKind::lbfgs && (r.count("max-fun") || r.count("tol")))
    throw Error(std::string("--max-fun and --tol apply to --optimizer lbfgs, not ") +
                optimizer_name(config.optimizer.kind));
  if (r.count("max-fun"))  // default: LbfgsSettings's 15000
    config.lbfgs.max_fun = parse_count(r["max-fun"].as<std::string>(), "max-fun", 1);
  if (r.count("tol")) config.lbfgs.tol = parse_real(r["tol"].as<std::string>(), "tol");
}

}  // namespace

TrainSettings read_train_settings(const cxxopts::ParseResult& r, Communicator* comm) {
  TrainSettings s;
  read_engine_options(r, s.config);
  s.config.communicator = comm;
  s.config.shuffle_mode = read_shuffle_option(r);
  if (r.count("resume"))
    read_resumed_settings(r, s);
  else
    read_fresh_training(r, s.config);
  read_lbfgs_options(r, s.config);
  s.config.on_warning = [](const std::string& w) {
    std::fprintf(stderr, "dptrain: warning: %s\n", w.c_str());
  };
  s.config.validate();  // settings first: a typo should not wait for a data set to load
  if (!s.resumed) read_fresh_model(r, s);
  s.normalize = parse_normalization(r["normalize"].as<std::string>());
  s.normalize_target = read_normalize_target(r, s);
  if (r.count("patience")) s.patience = parse_count(r["patience"].as<std::string>(), "patience", 1);
  if (r.count("val-split")) s.val_split = parse_real(r["val-split"].as<std::string>(), "val-split");
  if (s.patience && !s.val_split)
    throw Error("--patience needs a validation set: add --val-split 0.1");
  return s;
}
TrainData load_train_data(const cxxopts::ParseResult& r, TrainSettings& s, bool progress) {
  const auto started = std::chrono::steady_clock::now();
  TrainData d;
  TrainConfig& config = s.config;
  d.spec = r["data"].as<std::string>();
  const bool tabular = d.spec.starts_with("csv:") || d.spec.starts_with("sqlite:");
  // --hidden: the output width follows the data, so ce until the data say otherwise.
  const std::size_t outputs = s.resumed ? s.spec.outputs() : s.infer_widths ? 0 : s.widths.back();
  if (!s.resumed && r.count("loss"))
    config.loss = parse_loss(r["loss"].as<std::string>());
  else if (!s.resumed && tabular)
    config.loss = outputs == 1 ? Loss::bce : Loss::ce;
  TableOptions table = read_table_options(r, config.loss != Loss::mse);
  if (s.resumed) {  // the checkpoint's classes and columns (Note [Column matching])
    table.model_classes = s.resumed->classes;
    table.model_schema = s.resumed->schema;
    table.model_inputs = s.resumed->spec.inputs;
  }
  // CSV is parsed on --threads workers of --backend: a pool for the load, gone before the
  // engine starts its own.
  parallel::WorkerPool pool(config.backend, std::max<std::size_t>(1, config.threads));
  table.pool = &pool;
  d.train = load_main_data(r, config.seed, table, progress);
  if (s.resumed) d.train = conform_data(std::move(d.train), s.resumed->schema, "train");
  if (!s.resumed && !r.count("loss") && !tabular)
    config.loss = !d.train.classification() ? Loss::mse : outputs == 1 ? Loss::bce : Loss::ce;
  refuse_one_class(d.train);
  if (!s.resumed) warn_if_many_classes(d.train);
  if (s.infer_widths) infer_widths(d.train, config.loss, s.widths);
  d.test = load_test_data(r, d.spec, config.seed, table, d.train);
  note_if_larger_than_memory(d.train, config.shuffle_mode);
  d.load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (s.val_split) {
    auto parts = split_validation(d.train, *s.val_split, config.seed);
    d.train = std::move(parts.first);
    d.val = std::move(parts.second);
  }
  if (!s.resumed && s.normalize == Normalization::none && !r.count("normalize"))
    warn_if_unscaled(d.train);
  d.normalizer = s.resumed ? s.resumed->normalizer : Normalizer::fit(s.normalize, d.train);
  d.normalizer.apply(d.train);
  if (d.val) d.normalizer.apply(*d.val);
  if (d.test) d.normalizer.apply(*d.test);
  normalize_targets(s, d);
  return d;
}

ModelSpec fresh_model_spec(const cxxopts::ParseResult& r, const TrainSettings& s) {
  const Activation output = r.count("output") ? parse_activation(r["output"].as<std::string>())
                                              : default_output(s.config.loss);
  ModelSpec spec = ModelSpec::mlp(s.widths, s.hidden, output, s.dropout);
  check_loss_fits(s.config.loss, output, spec.outputs());  // before any work (also in Engine)
  spec.init = kInitNames.parse(s.init);
  return spec;
}

}  // namespace dptrain::cli
