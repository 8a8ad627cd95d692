#pragma once
// dptrain.Trainer for Python: one Model<float> and the dptrain::Trainer that trains it.
//
// Unlike the C++ Trainer, which borrows a model, this one owns it, so Python code never holds a
// dangling reference. Arrays come in as NumPy arrays (arrays.hpp: copied once into a Dataset,
// the library's input type) and go out as NumPy arrays that own the library's result vectors.
//
// Note [GIL]. fit, evaluate and predict release the GIL while the library works, so other
// Python threads keep running. The engine calls TrainConfig::on_step after every step on the
// calling thread; that hook reads the clock, and only when kSignalCheckEvery has passed since
// its last check does it take the GIL and run PyErr_CheckSignals, so Ctrl-C stops training at
// the next step boundary without the GIL being taken every step of a 3 us step. A pending
// signal handler that raises (KeyboardInterrupt) leaves its exception set; the hook throws
// py::error_already_set, which unwinds out of Trainer::fit and reaches Python as that
// exception. The model then holds the parameters of the last completed step (the engine
// applies a step's update before on_step runs); the interrupted epoch is not counted.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dptrain/checkpoint.hpp"
#include "dptrain/data.hpp"
#include "dptrain/model.hpp"
#include "dptrain/normalize.hpp"
#include "dptrain/schema.hpp"
#include "dptrain/trainer.hpp"

namespace dptrain::python {

namespace py = pybind11;

/// How often a training thread looks for signals (Note [GIL]).
inline constexpr std::chrono::milliseconds kSignalCheckEvery{20};

class Session {
 public:
  /// A fresh model of `spec`, initialised from config.seed. Throws dptrain::Error for invalid
  /// settings or a loss that does not fit the model.
  Session(const ModelSpec& spec, const TrainConfig& config);
  /// The model and training state of a checkpoint (as `dptrain train --resume` continues it),
  /// trained with `threads` workers.
  Session(const Checkpoint& checkpoint, std::size_t threads);

  /// Trains `epochs` more epochs (0: until config().epochs epochs are done in all; more raise
  /// config().epochs, the schedule's horizon) on X, y with
  /// the GIL released (Note [GIL]). y: class indices (loss ce/bce), real targets (mse) or, for
  /// bce, rows x outputs 0/1 indicators (multilabel).
  /// validation: None or (X, y), evaluated after each epoch; patience > 0: early stopping on
  /// its loss. on_epoch(dict) is called after each epoch; a false return (not None) stops.
  /// Returns {"epochs": [dict per epoch], "stopped_early", "restored_best",
  /// "best_validation_loss", "lbfgs"}: with optimizer lbfgs a dict of how it ended
  /// ("converged", "reason", "iterations", "evaluations", "loss"), else None.
  py::dict fit(const py::array& x, const py::array& y, std::size_t epochs,
               const py::object& on_epoch, const py::object& validation, std::size_t patience);
  /// Note [Full-batch gradient] (engine.hpp) over all rows of X, y at the current parameters,
  /// with the GIL released: (loss with the l2 term, mean data loss, gradient as float32 in the
  /// parameters() layout). Changes nothing.
  py::tuple loss_gradient(const py::array& x, const py::array& y);
  /// fit() for a sparse X in CSR form (Note [Sparse rows] in sparse.hpp): `values` float32,
  /// `indices` and `indptr` int64 (all 1-D and C-contiguous), `cols` features; each minibatch's
  /// rows are gathered into a dense batch, the whole matrix never. The same bits as fit() on the
  /// dense equivalent. No validation set or early stopping here (the estimators keep their own).
  py::dict fit_sparse(const py::array& values, const py::array& indices, const py::array& indptr,
                      std::size_t cols, const py::array& y, std::size_t epochs,
                      const py::object& on_epoch);
  /// Loss and metrics of the current parameters on X, y (no dropout).
  py::dict evaluate(const py::array& x, const py::array& y);
  /// f(logits) per row: probabilities (ce/bce) or values (mse), rows x outputs float32.
  py::array_t<float> predict(const py::array& x);

  /// Continues with other settings (threads, batch size, learning rate, penalties, ...) from
  /// the current state. The loss and optimizer kind must stay (Trainer::restore); the epoch
  /// total is kept.
  void reconfigure(const TrainConfig& config);

  /// The data schema (schema.hpp, Note [Schema]) stamped on training data from now on, so
  /// checkpoints carry the feature and class names as the CLI's loaders record them. Throws
  /// dptrain::Error when the names do not fit the model.
  void set_schema(std::vector<std::string> feature_names, std::vector<std::string> class_names);
  /// The schema given by set_schema, or the checkpoint's for a loaded model.
  const DataSchema& schema() const { return schema_; }

  /// The checkpoint the CLI would write now (parameters, optimizer state, position, normaliser).
  Checkpoint checkpoint() const;
  /// 16 hex digits, as the CLI's params_hash=.
  std::string params_hash() const;
  /// A copy of the flat parameter buffer (model.cpp: Note [Flat parameters]).
  py::array_t<float> parameters() const;
  /// One (W, b) pair per dense layer, copies: W in x out (the layer's input times its weights),
  /// b out values; scikit-learn's coefs_[i], intercepts_[i].
  py::list layers() const;
  /// Replaces the parameters by one (W, b) pair per dense layer, of the shapes layers() gives
  /// (any real dtype, converted to float32); the optimizer state and position stay. Throws
  /// py::value_error naming the layer whose count or shape differs or whose values are not
  /// finite, before anything changes.
  void set_layers(const py::list& layers);

  const ModelSpec& spec() const { return model_->spec(); }
  const TrainConfig& config() const { return config_; }
  std::size_t epochs_done() const { return trainer_->epochs_done(); }
  std::uint64_t step_count() const { return trainer_->step_count(); }
  /// Classes of the model's output (0: regression).
  std::size_t classes() const;
  const Normalizer& normalizer() const { return normalizer_; }

 private:
  /// X (and y unless None) as a validated Dataset, the checkpoint's normalisation applied.
  Dataset dataset(const py::array& x, const py::object& y) const;
  /// Rebuilds the trainer, keeping its state, when the epochs to reach differ.
  void retarget(std::size_t total_epochs);
  /// Replaces the trainer by one with `config`, carrying the state over.
  void rebuild(const TrainConfig& config);
  /// `c` for a Trainer: with checkpoint_path, a CheckpointEvery sink writing checkpoint().
  TrainConfig trainer_config(TrainConfig c) const;
  /// Issues the library's warnings collected since the last call as Python warnings.
  void flush_warnings() const;

  // Declared first: config_'s on_warning hook holds it.
  std::shared_ptr<std::vector<std::string>> warnings_ =
      std::make_shared<std::vector<std::string>>();
  TrainConfig config_;
  Normalizer normalizer_;
  DataSchema schema_;
  std::unique_ptr<Model<float>> model_;
  std::unique_ptr<Trainer> trainer_;
};

}  // namespace dptrain::python
