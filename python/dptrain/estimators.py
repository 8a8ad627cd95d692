"""scikit-learn estimators over dptrain's engine: MLPClassifier and MLPRegressor.

Parameters follow scikit-learn's ``sklearn.neural_network.MLPClassifier`` with their meanings,
plus dptrain's own (``n_threads``, ``plan``, ``dropout``, ``deterministic``, ``precision``,
``init``).
Differences from scikit-learn, all deliberate and documented in docs/PYTHON.md:

* ``solver`` is ``sgd``, ``adam``, ``lbfgs`` (the library's L-BFGS over the engine's full-batch
  loss and gradient, lbfgs.hpp) or one of dptrain's other optimizers (adamw, adagrad,
  rmsprop, momentum, nesterov). ``solver="sgd"`` with ``momentum > 0`` trains with (Nesterov)
  momentum as scikit-learn does.
* ``alpha`` is scikit-learn's L2 term ``alpha / (2 n) * |W|^2`` per batch of n rows, passed to
  the engine as ``l2 = alpha / batch_size``; ``loss_curve_`` includes it.
* The engine computes in float32: float64 input is converted (values beyond float32's range are
  refused) and the fitted attributes and predictions are returned in the input's dtype.
* Sparse ``X`` is refused. Multilabel indicator ``y`` trains one logistic unit per label.
"""

from __future__ import annotations

import numbers
import sys
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
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
_SOLVERS = ("sgd", "adam", "adamw", "adagrad", "rmsprop", "momentum", "nesterov", "lbfgs")
_SCHEDULES = ("constant", "invscaling", "adaptive", "cosine")
_INITS = ("sklearn", "engine")
_FEATURE_DTYPES = [np.float64, np.float32]  # kept as they are; others become float64
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_SPARSE_FORMATS = ("csr", "csc")  # accepted as scikit-learn's MLP accepts them
_PREDICT_CHUNK = 4096  # rows of a sparse X made dense at a time in predict and score


class _Csr:
    """A sparse training matrix as the engine takes it (Note [Sparse rows] in sparse.hpp):
    float32 values and int64 indices and offsets, converted once per fit."""

    def __init__(self, X):
        X = X.tocsr()
        self.data = np.ascontiguousarray(X.data, dtype=np.float32)
        self.indices = np.ascontiguousarray(X.indices, dtype=np.int64)
        self.indptr = np.ascontiguousarray(X.indptr, dtype=np.int64)
        self.shape = X.shape


def _engine_features(X):
    """X as the engine trains on it: float32 C-contiguous (borrowed when it already is), or
    the rows of a sparse matrix, gathered per minibatch and never made dense whole."""
    return _Csr(X) if sp.issparse(X) else np.ascontiguousarray(X, dtype=np.float32)


def _sparse_position(X, k):
    """(row, column) of the k-th stored value of a CSR or CSC matrix."""
    outer = int(np.searchsorted(X.indptr, k, side="right")) - 1
    inner = int(X.indices[k])
    return (outer, inner) if X.format == "csr" else (inner, outer)


def _dense_chunks(X):
    """The rows of X as dense float32 arrays: X itself, or a sparse X _PREDICT_CHUNK rows at a
    time (memory O(chunk x features))."""
    if not sp.issparse(X):
        yield X
        return
    X = X.tocsr()
    for begin in range(0, X.shape[0], _PREDICT_CHUNK):
        yield np.ascontiguousarray(X[begin:begin + _PREDICT_CHUNK].toarray(), dtype=np.float32)


_PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Units of each hidden layer.
    activation : {'relu', 'tanh', 'logistic', 'identity', 'leaky_relu'}, default='relu'
        Activation of the hidden layers ('sigmoid' is the same as 'logistic').
    solver : {'adam', 'sgd', 'lbfgs', 'adamw', 'adagrad', 'rmsprop', 'momentum', 'nesterov'}, \
            default='adam'
        The optimizer; 'sgd' with ``momentum > 0`` runs (Nesterov) momentum as
        scikit-learn's; 'lbfgs' is the library's L-BFGS on the full-batch loss (no ``partial_fit``).
    alpha : float, default=0.0001
        L2 penalty: ``alpha / (2 n) * |W|^2`` per batch of n rows (weights, not biases).
    batch_size : int or 'auto', default='auto'
        Rows per step; 'auto' is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive', 'cosine'}, default='constant'
        'invscaling' and 'adaptive' as scikit-learn's (with ``solver='sgd'`` only): the rate
        becomes ``learning_rate_init / (t_ + 1) ** power_t`` after each epoch, or is divided by
        5 when ``n_iter_no_change`` epochs did not improve by ``tol`` (stopping below 1e-6).
        'cosine' is dptrain's cosine decay over ``max_iter`` epochs, for every solver.
    learning_rate_init : float, default=0.001
        The initial step size.
    power_t : float, default=0.5
        The exponent of 'invscaling'.
    max_iter : int, default=200
        At most this many epochs per ``fit``.
    shuffle : bool, default=True
        Shuffle the rows every epoch.
    random_state : int, RandomState instance or None, default=None
        Initial parameters (drawn as scikit-learn draws them), the early-stopping split and the
        engine's seed for shuffling (an int is the CLI's ``--seed``).
    tol : float, default=1e-4
        The improvement of the loss (or of the validation score with early stopping) that
        counts as one.
    verbose : bool, default=False
        Print the loss (and validation score) after each epoch.
    warm_start : bool, default=False
        ``fit`` continues from the trained model (``y`` must have the same classes).
    momentum : float, default=0.9
        Momentum of 'sgd', in [0, 1).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum with 'sgd' and ``momentum > 0``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified for single-label classes),
        stop after ``n_iter_no_change`` epochs whose validation score (accuracy or R^2) was
        not ``tol`` above the best, and keep the best epoch's parameters.
    validation_fraction : float, default=0.1
        The held-out fraction, in (0, 1).
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's settings.
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement before stopping (or, with 'adaptive', lowering the rate).
    max_fun : int, default=15000
        With 'lbfgs': at most this many loss evaluations (``max_iter`` bounds its iterations
        and ``tol`` its projected gradient).
    n_threads : int, default=1
        The engine's worker threads.
    plan : str, default='data'
        How a step uses the threads (the CLI's ``--plan``): 'data', 'intra', 'GxT' (G groups
        of T threads; G x T must equal ``n_threads``), each optionally '/owner' or '/buffers',
        or 'auto': chosen at the first fit by timing the plans the cost model shortlists for
        this model (about a second; its pick, and so the bits, may vary between runs).
    dropout : float, default=0.0
        Inverted dropout after every hidden layer, in [0, 1).
    deterministic : bool, default=False
        The same bits for every ``n_threads`` (the CLI's ``--deterministic``).
    precision : {'fp32', 'bf16'}, default='fp32'
        The engine's arithmetic ('bf16' on CPUs with AVX512_BF16).
    init : {'sklearn', 'engine'}, default='sklearn'
        'sklearn': scikit-learn's Glorot-uniform weights and biases from ``random_state``;
        'engine': the CLI's initialisation (He or Glorot by activation, zero biases).
"""

_ATTRIBUTES = """
    Attributes
    ----------
    loss_ : float
        The last epoch's loss (with the L2 term).
    loss_curve_ : list of float
        The loss of each epoch, with the L2 term as scikit-learn's.
    best_loss_ : float or None
        The lowest loss; None with early stopping.
    validation_scores_ : list of float or None
        The validation score after each epoch with early stopping, else None.
    best_validation_score_ : float or None
        The best of ``validation_scores_``, else None.
    coefs_ : list of ndarray of shape (n_inputs, n_units)
        Weights per layer, copies in the dtype of the fitted ``X``; assigning a new list
        replaces the model's weights.
    intercepts_ : list of ndarray of shape (n_units,)
        Biases per layer, likewise.
    n_features_in_ : int
        Features seen at ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of a DataFrame ``X``, when it had string names.
    n_iter_ : int
        Epochs trained.
    t_ : int
        Rows trained on (epochs times rows).
    n_layers_ : int
        Layers, input and output included.
    n_outputs_ : int
        Output units.
    out_activation_ : str
        The output layer's activation.
"""


class _LearningRate:
    """The rate of the current fit, as scikit-learn's ``_optimizer.learning_rate``: sgd's
    invscaling and adaptive schedules change it between epochs."""

    def __init__(self, learning_rate_init):
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)


class _BaseMLP(BaseEstimator):
    """What both estimators share: parameters, the training loop, pickling."""

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
        power_t=0.5,
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
        max_fun=15000,
        n_threads=1,
        dropout=0.0,
        deterministic=False,
        precision="fp32",
        init="sklearn",
        plan="data",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
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
        self.max_fun = max_fun
        self.n_threads = n_threads
        self.dropout = dropout
        self.deterministic = deterministic
        self.precision = precision
        self.init = init
        self.plan = plan

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
        for name in ("max_iter", "n_threads", "max_fun"):
            positive(name, integral=True)
        if self.n_iter_no_change != np.inf:
            positive("n_iter_no_change", integral=True)

        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}")
        if self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {list(_SOLVERS)}, got {self.solver!r}")
        if self.learning_rate not in _SCHEDULES:
            raise ValueError(f"learning_rate must be one of {list(_SCHEDULES)}, got {self.learning_rate!r}")
        if self.init not in _INITS:
            raise ValueError(f"init must be one of {list(_INITS)}, got {self.init!r}")
        if not isinstance(self.power_t, numbers.Real) or not 0 <= self.power_t:
            raise ValueError(f"power_t must be >= 0, got {self.power_t!r}")
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
        if self.solver == "lbfgs":
            return max(1, n_samples)  # the full batch in one pass (Trainer.fit with lbfgs)
        if self.batch_size == "auto":
            return max(1, min(200, n_samples))
        return max(1, min(int(self.batch_size), n_samples))

    def _engine_optimizer(self):
        if self.solver == "sgd" and self.momentum > 0:
            return "nesterov" if self.nesterovs_momentum else "momentum"
        return self.solver

    def _config(self, n_samples, seed):
        batch = self._batch_rows(n_samples)
        lbfgs = self.solver == "lbfgs"
        return _core.TrainConfig(
            batch_size=batch,
            epochs=self.max_iter,
            seed=seed,
            loss=self._engine_loss,
            optimizer=self._engine_optimizer(),
            learning_rate=self._engine_rate(self.learning_rate_init),
            momentum=float(self.momentum),
            beta1=float(self.beta_1),
            beta2=float(self.beta_2),
            epsilon=float(self.epsilon),
            l2=float(self.alpha) / batch / self._loss_scale(),
            threads=int(self.n_threads),
            plan=str(self.plan),
            deterministic=bool(self.deterministic),
            precision=self.precision,
            shuffle=bool(self.shuffle) and not lbfgs,
            schedule="cosine" if self.learning_rate == "cosine" and not lbfgs else "constant",
            max_fun=int(self.max_fun),
            tol=float(self.tol) / self._loss_scale(),  # Note [Multilabel scale]
        )

    # --- training -------------------------------------------------------------------------

    def _initial_layers(self, widths, rng):
        """scikit-learn's initialisation: Glorot-uniform weights and biases, bound
        sqrt(6 / (fan_in + fan_out)) (2 instead of 6 for logistic units), drawn layer by layer
        from random_state, so the same random_state starts from the same parameters."""
        factor = 2.0 if _ACTIVATIONS[self.activation] == "sigmoid" else 6.0
        layers = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            w = rng.uniform(-bound, bound, (fan_in, fan_out))
            layers.append((w, rng.uniform(-bound, bound, fan_out)))
        return layers

    def _start(self, n_features, y, n_samples):
        sizes = self._check_params()
        if isinstance(self.random_state, numbers.Integral):  # the same seed as the CLI's --seed
            rng, self._seed_ = np.random.RandomState(int(self.random_state)), int(self.random_state)
        else:
            rng = check_random_state(self.random_state)
            self._seed_ = int(rng.randint(np.iinfo(np.int32).max))
        layers = self._pending_layers()
        n_outputs, output, self._engine_loss, self.out_activation_ = self._head(y)
        self.n_outputs_ = n_outputs  # before _config: Note [Multilabel scale]
        widths = [n_features, *sizes, n_outputs]
        if layers is not None:  # coefs_ and intercepts_ assigned before the first fit
            widths = [np.shape(layers[0][0])[0], *(np.shape(w)[1] for w, _ in layers)]
            if widths[0] != n_features or widths[-1] != n_outputs:
                raise ValueError(
                    f"the assigned coefs_ map {widths[0]} inputs to {widths[-1]} outputs; the "
                    f"data needs {n_features} inputs and {n_outputs} outputs"
                )
        elif self.init == "sklearn":
            layers = self._initial_layers(widths, rng)
        spec = _core.ModelSpec(
            widths, activation=_ACTIVATIONS[self.activation], output=output,
            dropout=float(self.dropout), init="auto",
        )
        self._trainer = _core.Trainer(spec, self._config(n_samples, self._seed_))
        if layers is not None:
            self._trainer.set_layers(layers)
        names = getattr(self, "feature_names_in_", None)
        self._trainer.set_schema([] if names is None else [str(n) for n in names], self._class_names())
        self.loss_curve_ = []
        self.validation_loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_, self.best_validation_score_, self.best_loss_ = [], -np.inf, None
        else:
            self.validation_scores_, self.best_validation_score_, self.best_loss_ = None, None, np.inf
        self._best_layers = None
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(widths)

    def _continue(self, n_samples):
        """Warm start / partial_fit: today's settings, the trained state."""
        self._check_params()
        config = self._config(n_samples, self._seed_)
        if self.plan == "auto":  # keep the plan the first fit chose
            config.plan = self._trainer.config.plan
        self._trainer.reconfigure(config)
        layers = self._pending_layers()
        if layers is not None:
            self._trainer.set_layers(layers)

    # Note [Multilabel scale]. The engine's bce is the mean over the output units, scikit-learn's
    # multilabel loss their sum: with k units the engine's loss and gradient are 1/k of
    # scikit-learn's. So the estimators report k times the engine's loss and hand it l2 / k
    # and, for the sgd family (whose steps scale with the gradient), k times the rate; adam,
    # adagrad and rmsprop normalise the gradient's scale away.
    def _loss_scale(self):
        """k for a multilabel model of k units, else 1 (Note [Multilabel scale])."""
        return self.n_outputs_ if getattr(self, "_multilabel", False) else 1

    def _engine_rate(self, rate):
        sgd_family = self._engine_optimizer() in ("sgd", "momentum", "nesterov")
        return float(rate) * (self._loss_scale() if sgd_family else 1)

    def _set_rate(self, rate):
        config = self._trainer.config
        if config.learning_rate != self._engine_rate(rate):
            config.learning_rate = self._engine_rate(rate)
            self._trainer.reconfigure(config)

    def _l2_term(self, n_rows):
        """scikit-learn's L2 part of the epoch loss: alpha / (2 n) |W|^2 per batch of n rows,
        averaged over the epoch's rows (with the epoch's final weights)."""
        if not self.alpha:
            return 0.0
        batches = -(-n_rows // self._batch_rows(n_rows))
        squares = sum(float(np.dot(w.ravel(), w.ravel())) for w, _ in self._trainer.layers())
        return 0.5 * float(self.alpha) * squares * batches / n_rows

    def _epoch_done(self, report, n_rows, validation):
        """scikit-learn's bookkeeping after an epoch; False: stop."""
        loss = report["loss"] * self._loss_scale() + self._l2_term(n_rows)
        self.loss_ = loss
        self.loss_curve_.append(loss)
        self.n_iter_ += 1
        self.t_ += n_rows
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}"
                  f"  ({report['samples_per_second']:.0f} samples/s, {report['seconds']:.3f} s)",
                  file=sys.stdout, flush=True)
        if validation is not None:
            score = self._validation_score(*validation)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}", file=sys.stdout, flush=True)
            improved = score >= self.best_validation_score_ + self.tol
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_layers = self._trainer.layers()
        else:
            best = np.inf if self.best_loss_ is None else self.best_loss_  # None: early stopping
            improved = loss <= best - self.tol
            if self.best_loss_ is not None:
                self.best_loss_ = min(self.best_loss_, loss)
        self._no_improvement_count = 0 if improved else self._no_improvement_count + 1
        sgd = self.solver == "sgd"
        if sgd and self.learning_rate == "invscaling":
            self._optimizer.learning_rate = self._optimizer.learning_rate_init / (self.t_ + 1) ** self.power_t
        if self._no_improvement_count > self.n_iter_no_change:
            if sgd and self.learning_rate == "adaptive" and self._optimizer.learning_rate > 1e-6:
                self._optimizer.learning_rate /= 5.0
                self._no_improvement_count = 0
            else:
                self._stopped = True
                return False
        return True

    def _validation_score(self, X_val, y_val):
        """score() on the held-out rows: accuracy (classifier) or R^2 (regressor)."""
        out = self._engine_predict(X_val)
        if self._engine_loss == "mse":
            return float(r2_score(y_val, out.ravel() if out.shape[1] == 1 else out))
        self.validation_loss_curve_.append(
            self._engine_loss_on(X_val, y_val) * self._loss_scale())
        if getattr(self, "_multilabel", False):  # subset accuracy, as score()
            return float(np.mean(np.all((out > 0.5) == (y_val > 0.5), axis=1)))
        guess = (out[:, 0] > 0.5).astype(np.int32) if out.shape[1] == 1 else np.argmax(out, axis=1)
        return float(np.mean(guess == y_val))

    def _engine_fit(self, X, y, **kwargs):
        """Trainer.fit, or Trainer.fit_sparse for a _Csr X (the same bits as its dense form)."""
        if isinstance(X, _Csr):
            return self._trainer.fit_sparse(X.data, X.indices, X.indptr, X.shape[1], y, **kwargs)
        return self._trainer.fit(X, y, **kwargs)

    def _engine_predict(self, X):
        parts = [self._trainer.predict(chunk) for chunk in _dense_chunks(X)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _engine_loss_on(self, X, y):
        """The mean data loss over X, y (a sparse X by chunks, weighted by their rows)."""
        if not sp.issparse(X):
            return self._trainer.evaluate(X, y)["loss"]
        total, begin = 0.0, 0
        for chunk in _dense_chunks(X):
            rows = chunk.shape[0]
            total += self._trainer.evaluate(chunk, y[begin:begin + rows])["loss"] * rows
            begin += rows
        return total / X.shape[0]

    def _fit_lbfgs(self, X, y):
        """The library's L-BFGS (Trainer.fit with optimizer lbfgs: libLBFGS's direction and line
        search over the engine's full-batch loss and gradient on every thread), max_iter
        iterations, max_fun evaluations, tol on the largest gradient component."""
        # Every row is the one batch: a sparse X is made dense here (the engine's activations
        # for all rows take as much memory again).
        X = np.ascontiguousarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32)
        rows = X.shape[0]

        def iteration_done(report):
            loss = report["loss"] * self._loss_scale() + self._l2_term(rows)
            self.loss_curve_.append(loss)
            self.n_iter_ += 1
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {loss:.8f}"
                      f"  ({report['evaluations']} evaluations, {report['seconds']:.3f} s)",
                      file=sys.stdout, flush=True)

        result = self._trainer.fit(X, y, epochs=int(self.max_iter), on_epoch=iteration_done)
        lbfgs = result["lbfgs"]
        self.loss_ = lbfgs["loss"] * self._loss_scale()  # with the L2 term
        self._check_finite()
        if not lbfgs["converged"]:
            warnings.warn(
                f"lbfgs failed to converge: {lbfgs['reason']}.\n\nIncrease the number of "
                "iterations (max_iter) or scale the data as shown in:\n"
                "    https://scikit-learn.org/stable/modules/preprocessing.html",
                ConvergenceWarning,
            )
        return self

    def _train(self, X, y, incremental):
        if self.solver == "lbfgs":
            return self._fit_lbfgs(X, y)
        # Note [Epoch loop]. Without early stopping or an sgd rate that changes between epochs,
        # the engine runs all epochs in one call and reports each to _epoch_done, which may end
        # training; otherwise each epoch is one call (float32 C-contiguous X is borrowed, not
        # copied, per call), so the rate can change and the validation score be taken between
        # epochs.
        validation = None
        if self.early_stopping and not incremental:
            stratify = y if y.ndim == 1 and isinstance(self, ClassifierMixin) and self._can_stratify(y) else None
            X, X_val, y, y_val = train_test_split(
                X, y, test_size=self.validation_fraction, random_state=self._seed_, stratify=stratify
            )
            validation = (X_val, y_val)
            if self.validation_scores_ is None:  # warm start of a fit without early stopping
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
        X = _engine_features(X)
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = _LearningRate(self.learning_rate_init)
        self._stopped = False
        epochs = 1 if incremental else int(self.max_iter)
        rows = X.shape[0]
        per_epoch = validation is not None or (
            self.solver == "sgd" and self.learning_rate in ("invscaling", "adaptive"))
        if per_epoch:
            for _ in range(epochs):
                self._set_rate(self._optimizer.learning_rate)
                report = self._engine_fit(X, y, epochs=1)["epochs"][0]
                if not self._epoch_done(report, rows, validation):
                    break
        else:
            self._engine_fit(X, y, epochs=epochs,
                             on_epoch=lambda r: self._epoch_done(r, rows, None) or incremental)
        if validation is not None and self._best_layers is not None:
            self._trainer.set_layers(self._best_layers)  # scikit-learn's best_validation_score_
        self._check_finite()
        if not incremental and not self._stopped:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
            )
        return self

    def _can_stratify(self, y):
        """Whether the held-out rows can be stratified: a class with one row raises scikit-learn's
        error; too few rows for one per class in each part split without stratifying."""
        counts = np.bincount(y)
        classes = np.count_nonzero(counts)
        held_out = int(np.ceil(self.validation_fraction * len(y)))
        return counts[counts > 0].min() < 2 or min(held_out, len(y) - held_out) >= classes

    def _check_finite(self):
        if not all(np.isfinite(w).all() and np.isfinite(b).all() for w, b in self._trainer.layers()):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large"
                " values and need to be preprocessed."
            )

    def _check_range(self, X):
        """float64 values beyond float32's range (the engine's precision) are refused as such."""
        if X.dtype == np.float64 and X.size:
            values = X.data if sp.issparse(X) else X
            big = np.abs(np.where(np.isfinite(values), values, 0.0))
            at = np.unravel_index(np.argmax(big), values.shape)
            if big[at] > _FLOAT32_MAX:
                row, column = at if not sp.issparse(X) else _sparse_position(X, at[0])
                raise ValueError(
                    f"X holds values too large for float32, the engine's precision: "
                    f"{values[at]!r} at row {row}, column {column} (float32 reaches "
                    f"{_FLOAT32_MAX:.4g}); scale the data first"
                )

    def _fit(self, X, y, incremental, classes=None):
        first = not (incremental or self.warm_start) or not hasattr(self, "_trainer")
        X, y = self._validate_data(
            X, y, reset=first, accept_sparse=_SPARSE_FORMATS, dtype=_FEATURE_DTYPES,
            multi_output=self._multi_output,
            y_numeric=not isinstance(self, ClassifierMixin),
        )
        self._check_range(X)
        y = self._encode_targets(y, first, classes, incremental)
        if first:
            if not (incremental or self.warm_start):  # fit starts afresh, as scikit-learn's
                self.__dict__.pop("_coefs_set", None)
                self.__dict__.pop("_intercepts_set", None)
            self._dtype_ = X.dtype
            self._start(X.shape[1], y, X.shape[0])
        else:
            self._continue(X.shape[0])
        return self._train(X, y, incremental)

    def fit(self, X, y):
        """Fit the model to data matrix X and target(s) y.

        Trains for up to ``max_iter`` epochs, from scratch unless ``warm_start``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in regression).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, incremental=False)

    def _predict_raw(self, X):
        check_is_fitted(self, "_trainer")
        X = self._validate_data(X, reset=False, accept_sparse=_SPARSE_FORMATS,
                                dtype=_FEATURE_DTYPES)
        self._check_range(X)
        layers = self._pending_layers()
        if layers is not None:
            self._trainer.set_layers(layers)
        if self._trainer.config.threads != self.n_threads:
            config = self._trainer.config
            config.threads = int(self.n_threads)
            self._trainer.reconfigure(config)
        return self._engine_predict(X)

    # --- parameters -----------------------------------------------------------------------

    def _pending_layers(self):
        """(W, b) per layer from coefs_ / intercepts_ assigned since the last fit, or None."""
        coefs = self.__dict__.pop("_coefs_set", None)
        intercepts = self.__dict__.pop("_intercepts_set", None)
        if coefs is None and intercepts is None:
            return None
        if coefs is None or intercepts is None:
            current = self._trainer.layers() if hasattr(self, "_trainer") else None
            if current is None:
                raise ValueError("assign both coefs_ and intercepts_ before fitting")
            coefs = coefs if coefs is not None else [w for w, _ in current]
            intercepts = intercepts if intercepts is not None else [b for _, b in current]
        if len(coefs) != len(intercepts):
            raise ValueError(f"coefs_ has {len(coefs)} layers but intercepts_ has {len(intercepts)}")
        return [(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64).ravel())
                for w, b in zip(coefs, intercepts)]

    @property
    def coefs_(self):
        """Weights per layer, shape (inputs, units) each, in the dtype of the fitted X: copies
        (assign a new list to change the model; writing into these arrays does not)."""
        if "_coefs_set" in self.__dict__:
            return self._coefs_set
        check_is_fitted(self, "_trainer")
        return [w.astype(self._dtype_) for w, _ in self._trainer.layers()]

    @coefs_.setter
    def coefs_(self, value):
        self._coefs_set = value  # applied at the next fit, partial_fit or predict

    @property
    def intercepts_(self):
        """Biases per layer, shape (units,) each, in the dtype of the fitted X: copies."""
        if "_intercepts_set" in self.__dict__:
            return self._intercepts_set
        check_is_fitted(self, "_trainer")
        return [b.astype(self._dtype_) for _, b in self._trainer.layers()]

    @intercepts_.setter
    def intercepts_(self, value):
        self._intercepts_set = value

    # --- persistence ----------------------------------------------------------------------

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
        if (trainer.classes == 0) != (cls._task_loss == "mse"):
            kind = "regression" if trainer.classes == 0 else "classification"
            raise ValueError(f"{path}: the checkpoint holds a {kind} model; load it with the other estimator")
        widths = trainer.spec.widths
        est = cls(**_params_of(trainer), n_threads=n_threads)
        est._trainer = trainer
        est._seed_ = trainer.config.seed
        schema = trainer.schema
        est.n_features_in_ = widths[0]
        if schema["feature_names"]:
            est.feature_names_in_ = np.asarray(schema["feature_names"], dtype=object)
        est.n_outputs_ = widths[-1]
        est.n_layers_ = len(widths)
        est.n_iter_ = trainer.epochs_done
        est.t_ = 0
        est.loss_curve_ = []
        est.best_loss_, est.validation_scores_, est.best_validation_score_ = np.inf, None, None
        est._no_improvement_count = 0
        est.validation_loss_curve_, est._best_layers = [], None
        est._engine_loss = trainer.config.loss
        est._multilabel = False
        est._dtype_ = np.dtype(np.float64)
        output = trainer.spec.output_activation
        est.out_activation_ = {"sigmoid": "logistic"}.get(output, output)
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


def _stochastic(estimator):
    """partial_fit exists for the stochastic solvers only (not lbfgs), as in scikit-learn."""
    if estimator.solver == "lbfgs":
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                             f"{estimator.solver} is not stochastic.")
    return True


def _as_numbers(names):
    """Class names from a checkpoint as scikit-learn would hold them: numbers when they all read
    back as the same text (1, 2.5), else the strings ('01' stays '01')."""
    for dtype in (np.int64, np.float64):
        try:
            values = [dtype(n) for n in names]
        except ValueError:
            continue
        if all(str(v) == n for v, n in zip(values, names)):
            return np.asarray(values)
    return np.asarray(names)


def _params_of(trainer):
    """The estimator parameters a checkpoint records: architecture and the training settings."""
    spec, config = trainer.spec, trainer.config
    hidden = spec.describe().split("-")[1:-1]  # e.g. '4-7(relu)-1(sigmoid)'
    activation = hidden[0].split("(")[1].rstrip(")") if hidden else "relu"
    activation = {"sigmoid": "logistic"}.get(activation, activation)
    optimizer = config.optimizer
    solver = "sgd" if optimizer in ("momentum", "nesterov") else optimizer
    return dict(
        hidden_layer_sizes=tuple(spec.widths[1:-1]), activation=activation, solver=solver,
        alpha=config.l2 * config.batch_size, batch_size=config.batch_size,
        learning_rate="cosine" if config.schedule == "cosine" else "constant",
        learning_rate_init=config.learning_rate, max_iter=config.epochs, shuffle=config.shuffle,
        random_state=config.seed, momentum=config.momentum if optimizer in ("momentum", "nesterov") else 0.0 if solver == "sgd" else 0.9,
        nesterovs_momentum=optimizer != "momentum", beta_1=config.beta1, beta_2=config.beta2,
        epsilon=config.epsilon, deterministic=config.deterministic, precision=config.precision,
    )


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = (
        """Multi-layer perceptron classifier trained by dptrain's multi-core engine.

    A drop-in for ``sklearn.neural_network.MLPClassifier``: the same parameters with the same
    meanings, cross-entropy loss, one logistic output for two
    classes (and for one: it then predicts that class) and a softmax output for more. Labels
    may be any values ``np.unique`` sorts.
"""
        + _PARAMETERS
        + _ATTRIBUTES
        + """    classes_ : ndarray of shape (n_classes,)
        The class labels.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from dptrain import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    """
    )

    _task_loss = "ce"
    _multi_output = True  # multilabel indicators; other 2-D y is refused below

    def _head(self, y):
        """Outputs, engine output and loss, out_activation_: one logistic unit for two classes
        (scikit-learn's), one per label for multilabel y, else one softmax unit per class."""
        k = len(self.classes_)  # one class, as scikit-learn's: one unit trained towards 0
        if self._multilabel:
            return k, "sigmoid", "bce", "logistic"
        return (1, "sigmoid", "bce", "logistic") if k <= 2 else (k, "softmax", "ce", "softmax")

    def _more_tags(self):
        return {**super()._more_tags(), "multilabel": True}

    def _encode_targets(self, y, first, classes, incremental):
        multilabel = type_of_target(y) == "multilabel-indicator"
        if not multilabel:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if first:
            self._multilabel = multilabel
            self.classes_ = unique_labels(y) if classes is None else np.asarray(classes)
        elif multilabel != self._multilabel:
            raise ValueError("y is multilabel now but was not at the first fit, or the other way round")
        elif self.warm_start and not incremental:
            present = unique_labels(y)
            if set(present) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes_}, `y` has {present}"
                )
        unseen = np.setdiff1d(unique_labels(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"y holds labels {unseen.tolist()!r} that are not in classes_ {self.classes_.tolist()!r}"
            )
        if multilabel:
            return np.ascontiguousarray(y, dtype=np.float32)  # rows x labels, 0/1
        return np.searchsorted(self.classes_, y).astype(np.int32)

    def _class_names(self):
        if len(self.classes_) == 1:
            return []  # the checkpoint's one unit stands for two classes; the label is not kept
        indices = np.issubdtype(self.classes_.dtype, np.integer) and np.array_equal(
            self.classes_, np.arange(len(self.classes_))
        )
        return [] if indices else [str(c) for c in self.classes_]  # Note [Schema]

    def _restore_targets(self, trainer, schema):
        names = schema["class_names"]
        self.classes_ = _as_numbers(names) if names else np.arange(trainer.classes)

    @available_if(_stochastic)
    def partial_fit(self, X, y, classes=None):
        """Train one epoch over X, y (not offered with ``solver='lbfgs'``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,)
            Class labels, each one of ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every label that will appear; needed on the first call only.

        Returns
        -------
        self : object
            The trained estimator.
        """
        if _check_partial_fit_first_call(self, classes):
            self.__dict__.pop("_trainer", None)  # a first call starts a new model
        return self._fit(X, y, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Probability of each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            One column per class of ``classes_``, in the dtype of the fitted ``X``.
        """
        p = self._predict_raw(X).astype(self._dtype_)
        if len(self.classes_) == 1:
            return np.ones((len(p), 1), dtype=self._dtype_)
        # One sigmoid unit (two classes, loss bce) gives P(class 1) only.
        return np.hstack([1 - p, p]) if p.shape[1] == 1 else p

    def predict_log_proba(self, X):
        """Logarithm of ``predict_proba(X)``."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predict with the trained model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            The most probable class of each row, a label of ``classes_``.
        """
        proba = self._predict_raw(X)  # first: raises NotFittedError before classes_ is read
        if len(self.classes_) == 1:
            return np.full(len(proba), self.classes_[0])
        if self._multilabel:
            return (proba > 0.5).astype(int)
        if proba.shape[1] == 1:
            return self.classes_[(proba[:, 0] > 0.5).astype(np.intp)]
        return self.classes_[np.argmax(proba, axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = (
        """Multi-layer perceptron regressor trained by dptrain's multi-core engine.

    A drop-in for ``sklearn.neural_network.MLPRegressor``: squared-error loss, identity
    output; ``y`` may be 1-D or hold several targets per row.
"""
        + _PARAMETERS
        + _ATTRIBUTES
        + """
    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from dptrain import MLPRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, random_state=0)
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), max_iter=500, random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
    """
    )

    _task_loss = "mse"
    _multi_output = True

    def _head(self, y):
        return (1 if y.ndim == 1 else y.shape[1]), "identity", "mse", "identity"

    def _encode_targets(self, y, first, classes, incremental):
        return np.asarray(y, dtype=np.float32)

    def _more_tags(self):
        return {**super()._more_tags(), "multioutput": True}

    def _class_names(self):
        return []

    def _restore_targets(self, trainer, schema):
        pass

    @available_if(_stochastic)
    def partial_fit(self, X, y):
        """Train one epoch over X, y (not offered with ``solver='lbfgs'``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            The targets.

        Returns
        -------
        self : object
            The trained estimator.
        """
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """Predict with the trained model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
            1-D when fitted on 1-D ``y``, in the dtype of the fitted ``X``.
        """
        out = self._predict_raw(X).astype(self._dtype_)
        return out.ravel() if self.n_outputs_ == 1 else out
