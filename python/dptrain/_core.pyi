"""Type stubs of dptrain._core, the C++ engine under the dptrain package (docs/PYTHON.md)."""

from typing import Any, Callable, Literal, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

class Error(ValueError):
    """Bad input reported by the library (shapes, values, settings, files)."""

class ModelSpec:
    """An MLP: widths = [inputs, hidden..., outputs]; `activation` on hidden layers, `output`
    on the last; dropout > 0 adds inverted dropout after every hidden layer."""

    def __init__(
        self,
        widths: Sequence[int],
        activation: str = "relu",
        output: str = "softmax",
        dropout: float = 0.0,
        init: Literal["auto", "he", "glorot"] = "auto",
    ) -> None: ...
    @property
    def inputs(self) -> int: ...
    @property
    def outputs(self) -> int: ...
    @property
    def widths(self) -> list[int]: ...
    @property
    def output_activation(self) -> str: ...
    @property
    def init(self) -> str: ...
    def describe(self) -> str:
        """e.g. '784-128(relu)-10(softmax)'."""

class TrainConfig:
    """The engine's and the epoch loop's settings; keywords set the attributes of the same name
    (an unknown one is a TypeError). Names as the CLI's flags."""

    batch_size: int
    epochs: int
    seed: int
    threads: int
    deterministic: bool
    micro_batches: int
    group_threads: int
    shuffle: bool
    min_flops_per_worker: float
    loss: Literal["ce", "bce", "mse"]
    optimizer: Literal["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "lbfgs"]
    """lbfgs: full-batch L-BFGS in fit (epochs are its iterations; l2 only; batch_size rows per
    pass); the others minibatch steps."""
    max_fun: int
    """lbfgs: at most this many loss evaluations (scikit-learn's max_fun)."""
    tol: float
    """lbfgs: converged when every gradient component is within tol (scikit-learn's tol)."""
    learning_rate: float
    momentum: float
    beta1: float
    beta2: float
    rho: float
    epsilon: float
    weight_decay: float
    l1: float
    l2: float
    schedule: Literal["constant", "step", "cosine"]
    step_epochs: int
    gamma: float
    min_lr: float
    backend: Literal["tbb", "openmp", "threads"]
    plan: str
    """data, intra, GxT (e.g. "4x2"), each optionally /owner or /buffers, or auto (resolved
    when a Trainer is built: its config.plan tells the choice). The CLI's --plan."""
    parallelism: Literal["data", "intra"]
    group_threads: int
    """T of plan GxT (G = threads / T); 1 for data and intra."""
    checkpoint_every_steps: int
    checkpoint_every_seconds: float
    checkpoint_path: str
    """With checkpoint_every_steps N and/or checkpoint_every_seconds S: fit writes the checkpoint
    Trainer.save would write here after every Nth step, or S seconds after the last, but an
    epoch's last step (save those from on_epoch)."""
    gemm: Literal["auto", "onednn", "openblas", "eigen", "reference"]
    precision: Literal["fp32", "bf16"]
    def __init__(self, **settings: Any) -> None: ...
    def validate(self) -> None:
        """Raises ValueError for settings that cannot work."""
    def copy(self) -> TrainConfig: ...

EpochReport = dict[str, Any]
"""epoch, steps, loss, metric, learning_rate, seconds, samples_per_second, evaluations (lbfgs:
the iteration's loss evaluations; else 0), improved, stopping, and validation_loss /
validation_metric when a validation set is given."""

class Trainer:
    """A model and its trainer. fit/evaluate/predict release the GIL; Ctrl-C stops training at
    the next step boundary with KeyboardInterrupt, the model keeping its last completed step."""

    def __init__(self, spec: ModelSpec, config: TrainConfig) -> None:
        """A fresh model initialised from config.seed."""
    def fit(
        self,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        epochs: int = 0,
        on_epoch: Optional[Callable[[EpochReport], Optional[bool]]] = None,
        validation: Optional[Tuple[npt.ArrayLike, npt.ArrayLike]] = None,
        patience: int = 0,
    ) -> dict[str, Any]:
        """Trains `epochs` more epochs (0: until config.epochs are done in all). y holds class
        indices (loss ce/bce), real targets (mse) or, for bce, rows x outputs 0/1 indicators
        (multilabel). on_epoch returning False stops. Returns
        {"epochs": [EpochReport...], "stopped_early", "restored_best", "best_validation_loss",
        "lbfgs"}: with optimizer lbfgs a dict of how it ended ("converged", "reason",
        "iterations", "evaluations", "loss"), else None."""
    def fit_sparse(
        self,
        data: npt.NDArray[np.float32],
        indices: npt.NDArray[np.int64],
        indptr: npt.NDArray[np.int64],
        cols: int,
        y: npt.ArrayLike,
        epochs: int = 0,
        on_epoch: Optional[Callable[[EpochReport], Optional[bool]]] = None,
    ) -> dict[str, Any]:
        """fit() for a CSR matrix (rows = len(indptr) - 1, `cols` features): each minibatch's
        rows are gathered dense, the whole matrix never; the same bits as fit() on its dense
        form. No validation set or early stopping."""
    def loss_gradient(
        self, X: npt.ArrayLike, y: npt.ArrayLike
    ) -> Tuple[float, float, npt.NDArray[np.float32]]:
        """(loss with the l2 term, mean data loss, gradient in the parameters() layout) over all
        rows of X, y at the current parameters, without an update; no dropout."""
    def evaluate(self, X: npt.ArrayLike, y: npt.ArrayLike) -> dict[str, Any]:
        """rows, loss, metric_name, metric; accuracy and confusion (classes) or mse and mae."""
    def predict(self, X: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """rows x outputs: probabilities (ce/bce) or values (mse)."""
    def reconfigure(self, config: TrainConfig) -> None:
        """Continues with other settings (threads, batch size, rates); loss and optimizer stay."""
    @property
    def spec(self) -> ModelSpec: ...
    @property
    def config(self) -> TrainConfig:
        """A copy of the settings."""
    @property
    def epochs_done(self) -> int: ...
    @property
    def step_count(self) -> int: ...
    @property
    def classes(self) -> int:
        """Classes of the output (0: regression)."""
    @property
    def normalized(self) -> bool:
        """The checkpoint it came from normalises features (the CLI's --normalize)."""
    def set_schema(self, feature_names: Sequence[str], class_names: Sequence[str]) -> None:
        """Names recorded in checkpoints (schema.hpp): one per feature, one per class (in class
        index order), or empty lists. Raises ValueError when the counts do not fit the model."""
    @property
    def schema(self) -> dict[str, Any]:
        """task, feature_names, label_column, class_names (of set_schema or the checkpoint)."""
    def params_hash(self) -> str:
        """16 hex digits, as the CLI's params_hash=."""
    def parameters(self) -> npt.NDArray[np.float32]:
        """A copy of the flat parameter buffer."""
    def layers(self) -> list[tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]]:
        """(W, b) per dense layer, copies: W of shape (inputs, units), b of shape (units,);
        a layer computes activation(X @ W + b)."""
    def set_layers(self, layers: Sequence[tuple[npt.ArrayLike, npt.ArrayLike]]) -> None:
        """Replaces the parameters by (W, b) per dense layer, shaped as layers() gives them
        (converted to float32); optimizer state and position stay. ValueError naming the layer
        whose shape differs or whose values are not finite, before anything changes."""
    def save(self, path: str) -> None:
        """Writes a checkpoint file as `dptrain train --save` does."""
    def to_onnx(self, path: str) -> None:
        """Writes the model as ONNX, as `dptrain export` does."""
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes, threads: int = 1) -> Trainer: ...
    @staticmethod
    def load(path: str, threads: int = 1) -> Trainer:
        """A checkpoint file of the CLI or of save()."""

def onnx_export_available() -> bool:
    """Whether this build can write ONNX (to_onnx)."""
def params_hash(values: npt.NDArray[np.float32]) -> str: ...
def gemm_kernel(backend: str = ...) -> str:
    """The GEMM kernel a backend runs on this machine."""
