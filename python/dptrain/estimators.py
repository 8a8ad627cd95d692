"""scikit-learn estimators over dptrain's engine: MLPClassifier and MLPRegressor.

Parameters follow scikit-learn's ``sklearn.neural_network.MLPClassifier`` where the concept
exists, plus dptrain's own (``n_threads``, ``dropout``, ``deterministic``, ``precision``).
Differences from scikit-learn, all deliberate and documented in docs/PYTHON.md:

* ``solver`` is one of dptrain's optimizers (sgd, adam, adamw, adagrad, rmsprop, momentum,
  nesterov); ``lbfgs`` is not offered. ``solver="sgd"`` with ``momentum > 0`` trains with
  (Nesterov) momentum as scikit-learn does.
* ``alpha`` is scikit-learn's L2 term ``alpha / (2 n) * |W|^2`` per batch of n rows, passed to
  the engine as ``l2 = alpha / batch_size``.
* The classifier always has one softmax output per class (scikit-learn uses one logistic unit
  for two classes); ``predict_proba`` has the same two columns either way.
* ``early_stopping`` holds out ``validation_fraction`` of the rows and stops after
  ``n_iter_no_change`` epochs without a lower validation *loss*, restoring the best weights
  (scikit-learn watches the validation score with ``tol``).
"""

from __future__ import annotations

import numbers
import sys
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    unique_labels,
)
from sklearn.utils.validation import check_is_fitted

from . import _core

_ACTIVATIONS = {
    "relu": "relu",
    "tanh": "tanh",
    "logistic": "sigmoid",
    "sigmoid": "sigmoid",
    "identity": "identity",
    "leaky_relu": "leaky_relu",
}
_SOLVERS = ("sgd", "adam", "adamw", "adagrad", "rmsprop", "momentum", "nesterov")
_SCHEDULES = ("constant", "cosine")
_FEATURE_DTYPES = [np.float32, np.float64]  # kept as they are; others become float32 once


class _BaseMLP(BaseEstimator):
    """What both estimators share: parameters, the training loop, pickling."""

    _loss = "ce"
    _output = "softmax"

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        n_threads=1,
        dropout=0.0,
        deterministic=False,
        precision="fp32",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.n_threads = n_threads
        self.dropout = dropout
        self.deterministic = deterministic
        self.precision = precision

    # --- settings -------------------------------------------------------------------------

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = [sizes]
        sizes = list(sizes)
        if not all(isinstance(s, numbers.Integral) and s > 0 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}"
            )
        return [int(s) for s in sizes]

    def _check_params(self):
        def positive(name, integral=False):
            v = getattr(self, name)
            kind = numbers.Integral if integral else numbers.Real
            if not isinstance(v, kind) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{name} must be a positive number, got {v!r}")

        for name in ("learning_rate_init", "epsilon"):
            positive(name)
        for name in ("max_iter", "n_iter_no_change", "n_threads"):
            positive(name, integral=True)
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}")
        if self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {list(_SOLVERS)}, got {self.solver!r}")
        if self.learning_rate not in _SCHEDULES:
            raise ValueError(f"learning_rate must be one of {list(_SCHEDULES)}, got {self.learning_rate!r}")
        if not 0 <= self.alpha or not 0 <= self.tol:
            raise ValueError(f"alpha and tol must be >= 0, got {self.alpha!r} and {self.tol!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.batch_size != "auto":
            positive("batch_size", integral=True)
        return self._hidden_sizes()

    def _batch_rows(self, n_samples):
        if self.batch_size == "auto":
            return max(1, min(200, n_samples))
        return max(1, min(int(self.batch_size), n_samples))

    def _optimizer(self):
        if self.solver == "sgd" and self.momentum > 0:
            return "nesterov" if self.nesterovs_momentum else "momentum"
        return self.solver

    def _seed(self):
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)  # the same seed as the CLI's --seed
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _config(self, n_samples, seed):
        batch = self._batch_rows(n_samples)
        return _core.TrainConfig(
            batch_size=batch,
            epochs=self.max_iter,
            seed=seed,
            loss=self._loss,
            optimizer=self._optimizer(),
            learning_rate=float(self.learning_rate_init),
            momentum=float(self.momentum),
            beta1=float(self.beta_1),
            beta2=float(self.beta_2),
            epsilon=float(self.epsilon),
            l2=float(self.alpha) / batch,
            threads=int(self.n_threads),
            deterministic=bool(self.deterministic),
            precision=self.precision,
            shuffle=bool(self.shuffle),
            schedule=self.learning_rate,
        )

    # --- training -------------------------------------------------------------------------

    def _start(self, n_features, n_outputs, n_samples):
        sizes = self._check_params()
        self._seed_ = self._seed()
        spec = _core.ModelSpec(
            [n_features, *sizes, n_outputs],
            activation=_ACTIVATIONS[self.activation],
            output=self._output,
            dropout=float(self.dropout),
        )
        self._trainer = _core.Trainer(spec, self._config(n_samples, self._seed_))
        names = getattr(self, "feature_names_in_", None)
        self._trainer.set_schema([] if names is None else [str(n) for n in names], self._class_names())
        self.loss_curve_ = []
        self.validation_loss_curve_ = []
        self.best_loss_ = np.inf
        self._no_improvement_count = 0
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(sizes) + 2
        self.out_activation_ = self._output

    def _continue(self, n_samples):
        """Warm start / partial_fit: today's settings, the trained state."""
        self._check_params()
        config = self._config(n_samples, self._seed_)
        self._trainer.reconfigure(config)

    def _epoch_done(self, report):
        loss = report["loss"]
        self.loss_curve_.append(loss)
        self.n_iter_ += 1
        self.t_ += report["steps"]
        if "validation_loss" in report:
            self.validation_loss_curve_.append(report["validation_loss"])
        if self.verbose:
            self._print_epoch(report)
        if "validation_loss" in report:
            return True  # early stopping: the engine counts the patience
        if loss > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        self.best_loss_ = min(self.best_loss_, loss)
        return self._no_improvement_count <= self.n_iter_no_change or self._incremental

    def _print_epoch(self, report):
        line = f"Iteration {self.n_iter_}, loss = {report['loss']:.8f}"
        if "validation_loss" in report:
            line += f", validation loss = {report['validation_loss']:.8f}"
        line += f"  ({report['samples_per_second']:.0f} samples/s, {report['seconds']:.3f} s)"
        print(line, file=sys.stdout, flush=True)

    def _train(self, X, y, epochs, incremental):
        self._incremental = incremental
        validation, patience = None, 0
        if self.early_stopping and not incremental:
            stratify = y if isinstance(self, ClassifierMixin) else None
            X, X_val, y, y_val = train_test_split(
                X, y, test_size=self.validation_fraction, random_state=self._seed_, stratify=stratify
            )
            validation, patience = (X_val, y_val), int(self.n_iter_no_change)
        result = self._trainer.fit(
            X, y, epochs=epochs, on_epoch=self._epoch_done, validation=validation, patience=patience
        )
        converged = incremental or result["stopped_early"] or len(result["epochs"]) < epochs
        if not converged:
            warnings.warn(
                f"dptrain: the maximum number of iterations ({self.max_iter}) was reached and "
                "the optimization has not converged yet",
                ConvergenceWarning,
            )
        return self

    def _fit(self, X, y, incremental, classes=None):
        first = not (incremental or self.warm_start) or not hasattr(self, "_trainer")
        X, y = self._validate_data(
            X, y, reset=first, dtype=_FEATURE_DTYPES, multi_output=self._multi_output,
            y_numeric=not isinstance(self, ClassifierMixin),
        )
        y = self._encode_targets(y, first, classes)
        if first:
            self._start(X.shape[1], self._outputs_for(y), X.shape[0])
        else:
            self._continue(X.shape[0])
        return self._train(X, y, 1 if incremental else int(self.max_iter), incremental)

    def fit(self, X, y):
        """Trains for up to max_iter epochs (from scratch unless warm_start). Returns self."""
        return self._fit(X, y, incremental=False)

    def _predict_raw(self, X):
        check_is_fitted(self, "_trainer")
        X = self._validate_data(X, reset=False, dtype=_FEATURE_DTYPES)
        if self._trainer.config.threads != self.n_threads:
            config = self._trainer.config
            config.threads = int(self.n_threads)
            self._trainer.reconfigure(config)
        return self._trainer.predict(X)

    # --- persistence ----------------------------------------------------------------------

    @property
    def coefs_(self):
        """Weights per layer, shape (inputs, units) each: copies (assigning into them does not
        change the model)."""
        check_is_fitted(self, "_trainer")
        return [w for w, _ in self._trainer.layers()]

    @property
    def intercepts_(self):
        """Biases per layer, shape (units,) each: copies."""
        check_is_fitted(self, "_trainer")
        return [b for _, b in self._trainer.layers()]

    def params_hash(self):
        """The CLI's params_hash of the trained parameters (16 hex digits)."""
        check_is_fitted(self, "_trainer")
        return self._trainer.params_hash()

    def save(self, path):
        """Writes the model as a dptrain checkpoint (the CLI's eval/predict read it)."""
        check_is_fitted(self, "_trainer")
        self._trainer.save(str(path))

    def to_onnx(self, path):
        """Writes the model as an ONNX file, as the CLI's ``dptrain export`` does (atomically;
        docs/PYTHON.md, "ONNX export"): input ``input`` (float32, any number of rows), outputs
        ``label`` and ``probabilities`` (classifier) or ``variable`` (regressor)."""
        check_is_fitted(self, "_trainer")
        self._trainer.to_onnx(str(path))

    @classmethod
    def load(cls, path, n_threads=1):
        """An estimator for a checkpoint file (of save() or of the CLI's --save), ready to
        predict: architecture, classes_ and feature names come from the file."""
        trainer = _core.Trainer.load(str(path), threads=int(n_threads))
        if (trainer.classes == 0) != (cls._loss == "mse"):
            kind = "regression" if trainer.classes == 0 else "classification"
            raise ValueError(f"{path}: the checkpoint holds a {kind} model; load it with the other estimator")
        widths = trainer.spec.widths
        est = cls(hidden_layer_sizes=tuple(widths[1:-1]), n_threads=n_threads)
        est._trainer = trainer
        est._seed_ = trainer.config.seed
        schema = trainer.schema
        est.n_features_in_ = widths[0]
        if schema["feature_names"]:
            est.feature_names_in_ = np.asarray(schema["feature_names"], dtype=object)
        est.n_outputs_ = widths[-1]
        est.n_layers_ = len(widths)
        est.n_iter_ = trainer.epochs_done
        est.loss_curve_ = []
        est._restore_targets(trainer, schema)
        return est

    def __getstate__(self):
        state = dict(super().__getstate__())
        trainer = state.pop("_trainer", None)
        if trainer is not None:
            state["_trainer_checkpoint"] = trainer.to_bytes()
        return state

    def __setstate__(self, state):
        state = dict(state)
        checkpoint = state.pop("_trainer_checkpoint", None)
        super().__setstate__(state)
        if checkpoint is not None:
            self._trainer = _core.Trainer.from_bytes(checkpoint, threads=int(self.n_threads))

    def _more_tags(self):
        return {"preserves_dtype": [np.float64]}


def _as_numbers(names):
    """Class names from a checkpoint as scikit-learn would hold them: numbers when they all are."""
    for dtype in (np.int64, np.float64):
        try:
            return np.asarray([dtype(n) for n in names])
        except ValueError:
            pass
    return np.asarray(names)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multilayer perceptron classifier trained by dptrain's multi-core engine.

    Labels may be any values np.unique can sort (strings, integers, ...): they map to the
    model's outputs in the order of ``classes_``. See the module docstring for the parameters
    and docs/PYTHON.md for an example.
    """

    _loss = "ce"
    _output = "softmax"
    _multi_output = False

    def _encode_targets(self, y, first, classes):
        y = column_or_1d(y)
        check_classification_targets(y)
        if first:
            self.classes_ = unique_labels(y) if classes is None else np.asarray(classes)
            if len(self.classes_) < 2:
                only = self.classes_[0]
                only = only.item() if isinstance(only, np.generic) else only  # 0, not np.int64(0)
                raise ValueError(
                    "dptrain: the classifier needs samples of at least 2 classes, but y holds "
                    f"only one class: {only!r}"
                )
        unseen = np.setdiff1d(unique_labels(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"y holds labels {unseen.tolist()!r} that are not in classes_ {self.classes_.tolist()!r}"
            )
        return np.searchsorted(self.classes_, y).astype(np.int32)

    def _outputs_for(self, y):
        return len(self.classes_)

    def _class_names(self):
        indices = np.issubdtype(self.classes_.dtype, np.integer) and np.array_equal(
            self.classes_, np.arange(len(self.classes_))
        )
        return [] if indices else [str(c) for c in self.classes_]  # Note [Schema]

    def _restore_targets(self, trainer, schema):
        names = schema["class_names"]
        self.classes_ = _as_numbers(names) if names else np.arange(trainer.classes)
        self.n_outputs_ = len(self.classes_)

    def partial_fit(self, X, y, classes=None):
        """One epoch over X, y. The first call needs ``classes`` (all labels that will appear)."""
        if _check_partial_fit_first_call(self, classes):
            self.__dict__.pop("_trainer", None)  # a first call starts a new model
        return self._fit(X, y, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Class probabilities, one column per class of ``classes_``."""
        p = self._predict_raw(X).astype(np.float64)
        # A CLI model with one sigmoid unit (loss bce) gives P(class 1) only.
        return np.hstack([1 - p, p]) if p.shape[1] == 1 else p

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row, as a label of ``classes_``."""
        proba = self._predict_raw(X)  # first: raises NotFittedError before classes_ is read
        return self.classes_[np.argmax(proba, axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multilayer perceptron regressor (squared error, identity output) trained by dptrain.

    y may be 1-D or 2-D (several targets). See the module docstring for the parameters.
    """

    _loss = "mse"
    _output = "identity"
    _multi_output = True

    def _encode_targets(self, y, first, classes):
        return np.asarray(y, dtype=np.float32)

    def _outputs_for(self, y):
        return 1 if y.ndim == 1 else y.shape[1]

    def _more_tags(self):
        return {**super()._more_tags(), "multioutput": True}

    def _class_names(self):
        return []

    def _restore_targets(self, trainer, schema):
        pass

    def partial_fit(self, X, y):
        """One epoch over X, y (continues the model when there is one)."""
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """Predicted targets: 1-D when fitted on 1-D y, else one column per target."""
        out = self._predict_raw(X).astype(np.float64)
        return out.ravel() if self.n_outputs_ == 1 else out
