#include "session.hpp"

#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "arrays.hpp"
#include "dptrain/error.hpp"
#include "dptrain/hash.hpp"
#include "dptrain/loss.hpp"
#include "dptrain/sparse.hpp"

namespace dptrain::python {

namespace {

using Clock = std::chrono::steady_clock;

/// TrainConfig::on_step: Note [GIL]. One clock read per step; the GIL only every
/// kSignalCheckEvery.
struct SignalCheck {
  Clock::time_point next = Clock::now() + kSignalCheckEvery;
  void operator()(std::size_t, std::size_t) {
    const Clock::time_point now = Clock::now();
    if (now < next) return;
    next = now + kSignalCheckEvery;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
};

TrainConfig with_hooks(TrainConfig c, const std::shared_ptr<std::vector<std::string>>& warnings) {
  c.on_step = SignalCheck{};
  c.on_warning = [warnings](const std::string& w) { warnings->push_back(w); };
  return c;
}

TrainConfig config_of(const Checkpoint& c, std::size_t threads) {
  TrainConfig t;
  t.gemm = GemmBackend::automatic;  // with the checkpoint's kernel choice, when it has one
  apply_checkpoint_settings(c, t);
  t.threads = threads;
  return t;
}

py::dict epoch_dict(const EpochReport& r) {
  py::dict d;
  d["epoch"] = r.train.epoch;
  d["steps"] = r.train.steps;
  d["loss"] = r.train.train_loss;
  d["metric"] = r.train.train_metric;
  d["learning_rate"] = r.train.learning_rate;
  d["seconds"] = r.train.seconds;
  d["samples_per_second"] = r.train.samples_per_second;
  d["evaluations"] = r.train.evaluations;
  if (r.validation) {
    d["validation_loss"] = r.validation->loss;
    d["validation_metric"] = r.validation->metric();
  }
  d["improved"] = r.improved;
  d["stopping"] = r.stopping;
  return d;
}

py::dict evaluation_dict(const Evaluation& e) {
  py::dict d;
  d["rows"] = e.rows;
  d["loss"] = e.loss;
  d["metric_name"] = e.metric_name();
  d["metric"] = e.metric();
  if (e.classification) {
    const std::size_t c = e.confusion.classes();
    py::array_t<std::int64_t> m({static_cast<py::ssize_t>(c), static_cast<py::ssize_t>(c)});
    auto v = m.mutable_unchecked<2>();
    for (std::size_t t = 0; t < c; ++t)
      for (std::size_t p = 0; p < c; ++p)
        v(py::ssize_t(t), py::ssize_t(p)) = static_cast<std::int64_t>(e.confusion.count(t, p));
    d["accuracy"] = e.confusion.accuracy();
    d["confusion"] = m;
  } else {
    d["mse"] = e.regression.mse();
    d["mae"] = e.regression.mae();
  }
  return d;
}

}  // namespace

Session::Session(const ModelSpec& spec, const TrainConfig& config)
    : config_(with_hooks(config, warnings_)), model_(std::make_unique<Model<float>>(spec)) {
  model_->initialize(config_.seed);
  trainer_ = std::make_unique<Trainer>(*model_, trainer_config(config_));
  config_.plan = trainer_->config().plan;  // plan auto: what it chose
  flush_warnings();
}

Session::Session(const Checkpoint& c, std::size_t threads)
    : config_(with_hooks(config_of(c, threads), warnings_)),
      normalizer_(c.normalizer),
      schema_(c.schema),
      model_(std::make_unique<Model<float>>(model_from_checkpoint(c))) {
  trainer_ = std::make_unique<Trainer>(*model_, trainer_config(config_));
  config_.plan = trainer_->config().plan;
  trainer_->restore(c);
  flush_warnings();
}

std::size_t Session::classes() const {
  if (config_.loss == Loss::mse) return 0;
  return model_->spec().outputs() == 1 ? 2 : model_->spec().outputs();
}

Dataset Session::dataset(const py::array& x, const py::object& y) const {
  Dataset d;
  d.source = "NumPy data";
  d.schema = schema_;  // the trainer records it for checkpoints
  fill_features(d, x, "X");
  if (!y.is_none()) {
    const py::array ya = py::array::ensure(y);
    if (!ya) throw py::value_error("y must be an array");
    // Loss bce with a 2-D y: one 0/1 column per output unit (multilabel indicators).
    if (config_.loss == Loss::mse || (config_.loss == Loss::bce && ya.ndim() == 2))
      fill_targets(d, ya);
    else
      fill_labels(d, ya, classes());
  }
  {
    py::gil_scoped_release release;  // scans every value
    d.validate();
    if (normalizer_.active()) normalizer_.apply(d);
  }
  return d;
}

void Session::rebuild(const TrainConfig& config) {
  TrainConfig next_config = with_hooks(config, warnings_);
  const Checkpoint state = trainer_->checkpoint();
  auto next = std::make_unique<Trainer>(*model_, trainer_config(next_config));
  next_config.plan = next->config().plan;
  if (config.loss != config_.loss)
    throw Error(std::string("the loss cannot change from ") + loss_name(config_.loss) + " to " +
                loss_name(config.loss));
  next->restore(state);
  trainer_ = std::move(next);
  config_ = std::move(next_config);
  flush_warnings();
}

void Session::retarget(std::size_t total_epochs) {
  if (total_epochs == trainer_->config().epochs) return;
  TrainConfig c = config_;
  c.epochs = total_epochs;
  rebuild(c);
}

void Session::reconfigure(const TrainConfig& config) {
  TrainConfig c = config;
  c.epochs = config_.epochs;
  rebuild(c);
}

void Session::flush_warnings() const {
  for (const std::string& w : *warnings_)
    if (PyErr_WarnEx(PyExc_RuntimeWarning, w.c_str(), 1) != 0) throw py::error_already_set();
  warnings_->clear();
}

py::dict Session::fit(const py::array& x, const py::array& y, std::size_t epochs,
                      const py::object& on_epoch, const py::object& validation,
                      std::size_t patience) {
  const Dataset train = dataset(x, y);
  std::optional<Dataset> val;
  if (!validation.is_none()) {
    const auto pair = validation.cast<std::pair<py::array, py::object>>();
    val = dataset(pair.first, pair.second);
  }
  // The schedule's horizon (config().epochs) only grows: fit(epochs=2) twice on a 4-epoch
  // config trains the same steps as one fit().
  const std::size_t until = epochs ? trainer_->epochs_done() + epochs : config_.epochs;
  retarget(std::max(until, config_.epochs));
  FitOptions options;
  options.validation = val ? &*val : nullptr;
  options.patience = patience;
  // Without a Python callback the epochs' reports become dicts after training: no GIL (and no
  // Python objects, so no garbage collection) between epochs.
  std::vector<EpochReport> kept;
  py::list reports;
  options.on_epoch_end = [&](const EpochReport& r) {
    const bool more = r.train.epoch < until;
    if (on_epoch.is_none()) {
      kept.push_back(r);
      return more;
    }
    py::gil_scoped_acquire gil;
    py::dict d = epoch_dict(r);
    reports.append(d);
    const py::object answer = on_epoch(d);
    return more && (answer.is_none() || PyObject_IsTrue(answer.ptr()) == 1);
  };
  FitResult result;
  {
    py::gil_scoped_release release;
    result = trainer_->fit(train, options);
  }
  flush_warnings();
  for (const EpochReport& r : kept) reports.append(epoch_dict(r));
  py::dict out;
  out["epochs"] = reports;
  out["stopped_early"] = result.stopped_early;
  out["restored_best"] = result.restored_best;
  out["best_validation_loss"] = result.best_validation_loss;
  out["lbfgs"] = py::none();
  if (const auto& l = result.lbfgs) {
    py::dict d;
    d["converged"] = l->converged();
    d["reason"] = l->reason;
    d["iterations"] = l->iterations;
    d["evaluations"] = l->evaluations;
    d["loss"] = l->loss;
    out["lbfgs"] = d;
  }
  return out;
}

py::tuple Session::loss_gradient(const py::array& x, const py::array& y) {
  const Dataset data = dataset(x, y);
  trainer_->check_data(data);
  std::vector<std::uint32_t> rows(data.rows);
  std::iota(rows.begin(), rows.end(), 0u);
  py::array_t<float> gradient(py::ssize_t(trainer_->model().parameter_count()));
  LossGradient r;
  {
    py::gil_scoped_release release;
    r = trainer_->engine().loss_gradient(data, rows,
                                         {gradient.mutable_data(), std::size_t(gradient.size())});
  }
  return py::make_tuple(r.loss, r.data_loss, gradient);
}

namespace {

/// A 1-D C-contiguous array of T, or py::value_error naming `what`.
template <class T>
std::span<const T> vector_of(const py::array& a, const char* what, const char* dtype) {
  if (a.ndim() != 1 || !py::isinstance<py::array_t<T>>(a) || !(a.flags() & py::array::c_style))
    throw py::value_error(std::string(what) + " must be a 1-D C-contiguous " + dtype + " array");
  return {static_cast<const T*>(a.data()), static_cast<std::size_t>(a.shape(0))};
}

}  // namespace

py::dict Session::fit_sparse(const py::array& values, const py::array& indices,
                             const py::array& indptr, std::size_t cols, const py::array& y,
                             std::size_t epochs, const py::object& on_epoch) {
  CsrMatrix x;
  x.source = "sparse X";
  x.cols = cols;
  x.values = vector_of<float>(values, "data", "float32");
  x.indices = vector_of<std::int64_t>(indices, "indices", "int64");
  x.indptr = vector_of<std::int64_t>(indptr, "indptr", "int64");
  if (x.indptr.empty()) throw py::value_error("indptr must hold rows + 1 offsets");
  x.rows = x.indptr.size() - 1;
  Dataset labels;
  labels.source = x.source;
  labels.rows = x.rows;
  labels.schema = schema_;
  if (config_.loss == Loss::mse || (config_.loss == Loss::bce && y.ndim() == 2))
    fill_targets(labels, y);
  else
    fill_labels(labels, y, classes());
  std::function<void(Dataset&)> finish;
  if (normalizer_.active()) finish = [this](Dataset& batch) { normalizer_.apply(batch); };
  const std::size_t until = epochs ? trainer_->epochs_done() + epochs : config_.epochs;
  retarget(std::max(until, config_.epochs));
  py::list reports;
  std::optional<CsrBatchSource> source;
  {
    py::gil_scoped_release release;  // validate() scans every value
    source.emplace(x, std::move(labels), config_.seed, config_.shuffle, finish);
  }
  while (trainer_->epochs_done() < until) {
    EpochReport r;
    {
      py::gil_scoped_release release;
      r.train = trainer_->train_epoch(*source);
    }
    flush_warnings();
    if (r.train.stopped) break;
    py::dict d = epoch_dict(r);
    reports.append(d);
    if (!on_epoch.is_none()) {
      const py::object answer = on_epoch(d);
      if (!answer.is_none() && PyObject_IsTrue(answer.ptr()) != 1) break;
    }
  }
  py::dict out;
  out["epochs"] = reports;
  out["stopped_early"] = false;
  out["restored_best"] = false;
  out["best_validation_loss"] = 0.0;
  return out;
}

py::dict Session::evaluate(const py::array& x, const py::array& y) {
  const Dataset data = dataset(x, y);
  Evaluation e;
  {
    py::gil_scoped_release release;
    e = trainer_->evaluate(data);
  }
  return evaluation_dict(e);
}

py::array_t<float> Session::predict(const py::array& x) {
  const Dataset data = dataset(x, py::none());
  std::vector<float> out;
  {
    py::gil_scoped_release release;
    out = trainer_->predict(data);
  }
  return to_numpy(std::move(out), data.rows, model_->spec().outputs());
}

void Session::set_schema(std::vector<std::string> feature_names,
                         std::vector<std::string> class_names) {
  DataSchema s;
  s.task = config_.loss == Loss::mse ? Task::regression : Task::classification;
  s.feature_names = std::move(feature_names);
  s.class_names = std::move(class_names);
  s.check(model_->spec().inputs, classes(), "the schema given");
  schema_ = std::move(s);
}

TrainConfig Session::trainer_config(TrainConfig c) const {
  // checkpoint_path: this session's checkpoints (with its normaliser and schema), written by
  // the trainer that runs now; config_ (what Python sees) keeps no pointer to the session.
  if (!c.checkpoint_every.path.empty())
    c.checkpoint_every.sink = [this, path = c.checkpoint_every.path](const Trainer&) {
      save_checkpoint(path, checkpoint());
    };
  return c;
}

Checkpoint Session::checkpoint() const {
  Checkpoint c = trainer_->checkpoint();
  c.normalizer = normalizer_;
  if (c.classes == 0) c.classes = classes();  // not trained yet: the model's own
  if (c.schema.empty()) c.schema = schema_;   // not trained since set_schema or load
  c.data = "python";
  return c;
}

std::string Session::params_hash() const {
  return hash_hex(dptrain::params_hash<float>(model_->parameters()));
}

py::array_t<float> Session::parameters() const {
  const auto p = model_->parameters();
  py::array_t<float> a(static_cast<py::ssize_t>(p.size()));
  std::copy(p.begin(), p.end(), a.mutable_data());
  return a;
}

py::list Session::layers() const {
  const auto p = model_->parameters();
  py::list out;
  for (const DenseLayout& d : model_->dense_layers()) {
    py::array_t<float> w({static_cast<py::ssize_t>(d.in), static_cast<py::ssize_t>(d.out)});
    py::array_t<float> b(static_cast<py::ssize_t>(d.out));
    std::copy_n(p.begin() + std::ptrdiff_t(d.weight_offset), d.in * d.out, w.mutable_data());
    std::copy_n(p.begin() + std::ptrdiff_t(d.bias_offset), d.out, b.mutable_data());
    out.append(py::make_tuple(w, b));
  }
  return out;
}

void Session::set_layers(const py::list& layers) {
  const std::vector<DenseLayout>& dense = model_->dense_layers();
  if (layers.size() != dense.size())
    throw py::value_error("set_layers: expected " + std::to_string(dense.size()) +
                          " (W, b) pairs, got " + std::to_string(layers.size()));
  // Checked whole before any value is written: a bad layer leaves the model as it was.
  std::vector<float> p(model_->parameters().begin(), model_->parameters().end());
  for (std::size_t i = 0; i < dense.size(); ++i) {
    const auto pair = layers[i].cast<std::pair<py::object, py::object>>();
    using F = py::array_t<float, py::array::c_style | py::array::forcecast>;
    const F w = F::ensure(pair.first), b = F::ensure(pair.second);
    const DenseLayout& d = dense[i];
    const std::string where = "set_layers: layer " + std::to_string(i);
    if (!w || w.ndim() != 2 || std::size_t(w.shape(0)) != d.in || std::size_t(w.shape(1)) != d.out)
      throw py::value_error(where + ": W must have shape (" + std::to_string(d.in) + ", " +
                            std::to_string(d.out) + ")");
    if (!b || b.size() != py::ssize_t(d.out) || b.ndim() > 1)
      throw py::value_error(where + ": b must have " + std::to_string(d.out) + " values");
    const auto finite = [](const float* v, py::ssize_t n) {
      return std::all_of(v, v + n, [](float x) { return std::isfinite(x); });
    };
    if (!finite(w.data(), w.size()) || !finite(b.data(), b.size()))
      throw py::value_error(where + ": values must be finite in float32");
    std::copy_n(w.data(), w.size(), p.begin() + std::ptrdiff_t(d.weight_offset));
    std::copy_n(b.data(), b.size(), p.begin() + std::ptrdiff_t(d.bias_offset));
  }
  // In place, the optimizer state and position kept (a new Trainer would cost its kernels'
  // set-up again: Python's lbfgs and warm starts call this once per fit).
  std::copy(p.begin(), p.end(), model_->parameters().begin());
  trainer_->engine().parameters_changed();
}

}  // namespace dptrain::python
