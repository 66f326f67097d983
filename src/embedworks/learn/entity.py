"""`EntityEmbedding`: embeddings of categorical columns learned by predicting a target (PyTorch).

Guo & Berkhahn, *Entity Embeddings of Categorical Variables* (2016): each categorical column gets
an ``nn.Embedding`` (one row per category, row 0 for `UNKNOWN`), the looked-up vectors are
concatenated with the standardised numeric columns and fed to an MLP (Linear, BatchNorm, ReLU,
Dropout per hidden layer) trained on the target with Adam. Columns, vocabularies and numeric
statistics come from `embedworks.data.TableEncoder`.

After `fit`, ``model.embeddings[column]`` is an `Embeddings` keyed by the category values (plus
``"<unknown>"``), with the training count of each category as metadata; `transform` gives a
downstream model the same features the MLP sees; `predict` / `predict_proba` score tables;
`save` / `load` use a directory (``entity.json``, ``weights.safetensors``, and one native
``<column>.emb`` per categorical column for the CLI and the projector). No pickle.

Torch is imported only when a model is trained or loaded, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..data.table import TASKS, Table, TableEncoder
from ..errors import FormatError, InvalidInputError, MissingExtraError
from ..files import atomic_directory, read_marker
from ..space import Embeddings
from .training import ProgressBar, check_float, check_int

logger = logging.getLogger(__name__)

__all__ = ["EntityEmbedding", "auto_dim", "embedding_files"]

FORMAT = "embedworks-entity"
FORMAT_VERSION = 1
MARKER = "entity.json"
WEIGHTS = "weights.safetensors"
#: rows scored per batch by predict / predict_proba
PREDICT_BATCH = 8192


def auto_dim(cardinality: int) -> int:
    """The "auto" embedding size of a column with `cardinality` rows (unknown included):
    min(50, ⌈cardinality / 2⌉), the rule of fast.ai's first tabular models."""
    return int(min(50, math.ceil(cardinality / 2)))


def _import_torch():
    try:
        import torch
    except ImportError:
        raise MissingExtraError("torch", "tabular") from None
    return torch


def _resolve_device(device: str) -> str:
    from ..encode.text import _resolve_device as resolve

    return resolve(device)


def _network(cardinalities: Sequence[int], dims: Sequence[int], n_numeric: int, hidden: Sequence[int],
             dropout: float, n_out: int):
    """The PyTorch module: embeddings + numeric inputs → MLP → `n_out` outputs."""
    torch = _import_torch()
    from torch import nn

    class EntityNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = nn.ModuleList(nn.Embedding(c, d) for c, d in zip(cardinalities, dims))
            layers, width = [], sum(dims) + n_numeric
            for size in hidden:
                layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU(), nn.Dropout(dropout)]
                width = size
            layers.append(nn.Linear(width, n_out))
            self.head = nn.Sequential(*layers)
            for table in self.embeddings:
                nn.init.normal_(table.weight, std=0.05)
                with torch.no_grad():
                    table.weight[0] = 0  # UNKNOWN starts neutral: it may see no training rows

        def forward(self, codes, numbers):
            parts = [table(codes[:, j]) for j, table in enumerate(self.embeddings)] + [numbers]
            return self.head(torch.cat(parts, dim=1))

    return EntityNet()


@contextlib.contextmanager
def _torch_settings(torch, workers: int | None, deterministic: bool):
    """Thread count and deterministic algorithms for the block, restored afterwards."""
    threads, strict = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    if workers is not None:
        torch.set_num_threads(workers)
    if deterministic:
        torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(strict)


class EntityEmbedding:
    """Learn one embedding per category of each categorical column by predicting `target`.

    target: the column to predict; task: "binary", "multiclass" or "regression".
    categorical / numeric: feature columns (inferred when not given; see `Table.roles`).
    dims: "auto" (`auto_dim`: min(50, ⌈cardinality / 2⌉), cardinality counting `<unknown>`), an
    int for every column, or a dict column → int (columns it leaves out get "auto").
    min_count: categories seen fewer times in training share the `<unknown>` row.
    hidden, dropout: the MLP's hidden layer sizes and dropout rate.
    epochs, batch_size, lr, weight_decay: Adam training; an epoch is one pass over the rows.
    class_weight: None, "balanced" (each class weighted n / (k · n_class), for rare positives such
    as fraud) or a dict class → weight.
    validation: a fraction of the training rows held out (seeded) or a `Table`; training stops
    after `patience` epochs without a better validation loss and keeps the best epoch's weights.
    0 trains all `epochs` with no validation.
    seed: initial weights and batch order; on CPU with the same `workers` two fits are identical.
    device: "auto" (CUDA when present), "cpu" or "cuda[:n]". workers: torch CPU threads; 1 by
    default because the network is small and its batches short (on UCI Adult, 2 threads made an
    epoch several times slower on a shared 2-core machine); None keeps torch's setting.
    max_int_categories: integer columns with at most this many values are inferred categorical.
    progress: None (a bar on a terminal), True or False.

    The defaults (hidden (128, 64), dropout 0.1, Adam lr 1e-3, batch 256, patience 5) were chosen
    on a validation split of UCI Adult's training file (see docs/entity.md).
    """

    def __init__(self, target: str, task: str = "binary", categorical: Sequence[str] | None = None,
                 numeric: Sequence[str] | None = None, dims="auto", min_count: int = 1,
                 hidden: Sequence[int] = (128, 64), dropout: float = 0.1, epochs: int = 20,
                 batch_size: int = 256, lr: float = 1e-3, weight_decay: float = 1e-5,
                 class_weight=None, patience: int = 5, validation=0.1, seed: int = 0,
                 device: str = "auto", workers: int | None = 1, max_int_categories: int = 20,
                 progress: bool | None = None):
        if task not in TASKS:
            raise InvalidInputError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        if not isinstance(target, str):
            raise InvalidInputError(f"target must be a column name, got {target!r}")
        self.target, self.task = target, task
        self.categorical = None if categorical is None else list(categorical)
        self.numeric = None if numeric is None else list(numeric)
        if not (dims == "auto" or isinstance(dims, Mapping)):
            check_int("dims", dims, 1)
        self.dims = dict(dims) if isinstance(dims, Mapping) else dims
        self.min_count = check_int("min_count", min_count, 1)
        self.hidden = [check_int("hidden layer size", h, 1) for h in hidden]
        self.dropout = check_float("dropout", dropout)
        if self.dropout >= 1:
            raise InvalidInputError(f"dropout must be < 1, got {dropout}")
        self.epochs = check_int("epochs", epochs, 1)
        self.batch_size = check_int("batch_size", batch_size, 2)
        self.lr = check_float("lr", lr, strict=True)
        self.weight_decay = check_float("weight_decay", weight_decay)
        if not (class_weight is None or class_weight == "balanced" or isinstance(class_weight, Mapping)):
            raise InvalidInputError(f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}")
        self.class_weight = dict(class_weight) if isinstance(class_weight, Mapping) else class_weight
        self.patience = check_int("patience", patience, 1)
        if not isinstance(validation, Table):
            validation = check_float("validation", validation)
            if validation >= 1:
                raise InvalidInputError(f"validation must be a fraction below 1 or a Table, got {validation}")
        self.validation = validation
        self.seed = check_int("seed", seed, 0)
        self.device = device
        self.workers = None if workers is None else check_int("workers", workers, 1)
        self.max_int_categories = check_int("max_int_categories", max_int_categories, 0)
        self.progress = progress
        self.encoder: TableEncoder | None = None
        self.embeddings: dict[str, Embeddings] = {}
        self.history: list[dict] = []
        self.best_epoch: int | None = None
        self._net = None

    def get_params(self) -> dict:
        """The hyperparameters as JSON-able values (a validation `Table` is saved as 0.1)."""
        return {"target": self.target, "task": self.task, "categorical": self.categorical,
                "numeric": self.numeric, "dims": self.dims, "min_count": self.min_count,
                "hidden": self.hidden, "dropout": self.dropout, "epochs": self.epochs,
                "batch_size": self.batch_size, "lr": self.lr, "weight_decay": self.weight_decay,
                "class_weight": self.class_weight, "patience": self.patience,
                "validation": self.validation if not isinstance(self.validation, Table) else 0.1,
                "seed": self.seed, "device": self.device, "workers": self.workers,
                "max_int_categories": self.max_int_categories}

    # ------------------------------------------------------------------ training
    def fit(self, table) -> "EntityEmbedding":
        """Learn from a `Table` (or anything `Table.read` takes: a DataFrame, a CSV or Parquet path)."""
        torch = _import_torch()
        table = Table.read(table)
        validation = self.validation
        if isinstance(validation, Table):
            train = table
        elif validation > 0:
            train, validation = table.split(validation, seed=self.seed)
        else:
            train, validation = table, None
        self.encoder = TableEncoder.fit(train, self.target, self.task, self.categorical, self.numeric,
                                        self.min_count, self.max_int_categories)
        device = _resolve_device(self.device)
        x_train = self._arrays(train, with_target=True)
        x_valid = self._arrays(validation, with_target=True) if validation is not None else None
        with _torch_settings(torch, self.workers, deterministic=device == "cpu"):
            torch.manual_seed(self.seed)
            self._net = self._build().to(device)
            self._train(torch, device, x_train, x_valid)
        self._net.eval()
        self._set_embeddings()
        return self

    def _column_dims(self) -> list[int]:
        dims = []
        for c, keys in self.encoder.categories.items():
            d = self.dims.get(c, "auto") if isinstance(self.dims, dict) else self.dims
            dims.append(auto_dim(len(keys)) if d == "auto" else check_int(f"dims[{c!r}]", d, 1))
        return dims

    def _n_out(self) -> int:
        return 1 if self.task in ("binary", "regression") else len(self.encoder.classes)

    def _build(self):
        cards = [len(keys) for keys in self.encoder.categories.values()]
        return _network(cards, self._column_dims(), len(self.encoder.numeric_features), self.hidden,
                        self.dropout, self._n_out())

    def _arrays(self, table: Table, with_target: bool = False):
        codes, numbers = self.encoder.codes(table), self.encoder.numbers(table)
        if not with_target:
            return codes, numbers
        y, kept = self.encoder.target_values(table)
        if not kept.all():
            logger.warning("%d rows have no %r and are left out", int((~kept).sum()), self.target)
        if not kept.any():
            raise InvalidInputError(f"no rows with a value for the target {self.target!r}")
        return codes[kept], numbers[kept], y

    def _loss(self, torch, y: np.ndarray, device):
        """The loss function, with class weights when asked for."""
        nn = torch.nn
        if self.task == "regression":
            return nn.MSELoss()
        weights = self._class_weights(y)
        if self.task == "binary":
            pos = None if weights is None else torch.tensor([weights[1] / weights[0]], device=device)
            return nn.BCEWithLogitsLoss(pos_weight=pos)
        return nn.CrossEntropyLoss(weight=None if weights is None else
                                   torch.tensor(weights, dtype=torch.float32, device=device))

    def _class_weights(self, y: np.ndarray) -> list[float] | None:
        classes = self.encoder.classes
        if self.class_weight is None:
            return None
        if self.class_weight == "balanced":
            counts = np.bincount(y, minlength=len(classes)).astype(np.float64)
            return [len(y) / (len(classes) * n) if n else 1.0 for n in counts]
        unknown = [k for k in self.class_weight if str(k) not in classes]
        if unknown:
            raise InvalidInputError(f"class_weight names {unknown[0]!r}, not a class of {self.target!r} "
                                    f"({', '.join(map(repr, classes))})")
        given = {str(k): check_float(f"class_weight[{k!r}]", w, strict=True) for k, w in self.class_weight.items()}
        return [given.get(c, 1.0) for c in classes]

    def _train(self, torch, device, train, valid) -> None:
        codes, numbers, y = (torch.from_numpy(a).to(device) for a in train)
        target = y.float().unsqueeze(1) if self.task != "multiclass" else y
        loss_fn = self._loss(torch, train[2], device)
        optimizer = torch.optim.Adam(self._net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        generator = torch.Generator().manual_seed(self.seed)
        n = len(y)
        best, best_state, waited = math.inf, None, 0
        self.history, self.best_epoch = [], None
        with ProgressBar(self.progress, self.epochs * n, "entity embeddings", "rows") as bar:
            for epoch in range(1, self.epochs + 1):
                self._net.train()
                order = torch.randperm(n, generator=generator).to(device)
                total = torch.zeros((), device=device)
                for start in range(0, n, self.batch_size):
                    rows = order[start:start + self.batch_size]
                    if len(rows) < 2:  # batch norm needs two rows
                        continue
                    optimizer.zero_grad(set_to_none=True)
                    loss = loss_fn(self._net(codes[rows], numbers[rows]), target[rows])
                    loss.backward()
                    optimizer.step()
                    total += loss.detach() * len(rows)
                    bar.advance(len(rows))
                record = {"epoch": epoch, "loss": float(total) / n}
                if valid is not None:
                    record["val_loss"] = self._evaluate_loss(torch, device, valid, loss_fn)
                self.history.append(record)
                logger.info("epoch %d: %s", epoch, ", ".join(f"{k} {v:.5f}" for k, v in record.items() if k != "epoch"))
                score = record.get("val_loss", record["loss"])
                if score < best:
                    best, waited, self.best_epoch = score, 0, epoch
                    if valid is not None:
                        best_state = {k: v.detach().clone() for k, v in self._net.state_dict().items()}
                elif valid is not None:
                    waited += 1
                    if waited >= self.patience:
                        logger.info("stopping: no better validation loss for %d epochs", waited)
                        break
        if best_state is not None:
            self._net.load_state_dict(best_state)

    def _evaluate_loss(self, torch, device, valid, loss_fn) -> float:
        codes, numbers, y = valid
        target = torch.from_numpy(y).to(device)
        target = target.float().unsqueeze(1) if self.task != "multiclass" else target
        return float(loss_fn(self._raw_scores(torch, device, codes, numbers), target))

    def _raw_scores(self, torch, device, codes: np.ndarray, numbers: np.ndarray):
        """The network's outputs for encoded rows, in eval mode, in batches."""
        self._net.eval()
        outs = []
        with torch.inference_mode():
            for start in range(0, len(codes), PREDICT_BATCH):
                outs.append(self._net(torch.from_numpy(codes[start:start + PREDICT_BATCH]).to(device),
                                      torch.from_numpy(numbers[start:start + PREDICT_BATCH]).to(device)))
        return torch.cat(outs) if outs else torch.zeros((0, self._n_out()), device=device)

    def _set_embeddings(self) -> None:
        self.embeddings = {}
        for table, (c, keys) in zip(self._net.embeddings, self.encoder.categories.items()):
            vectors = table.weight.detach().cpu().numpy().astype(np.float32)
            self.embeddings[c] = Embeddings(keys, vectors, {"count": self.encoder.counts[c]})

    # ------------------------------------------------------------------ using a fitted model
    def _check_fitted(self) -> None:
        if self._net is None:
            raise InvalidInputError("the model is not fitted yet; call fit(table) first")

    @property
    def feature_names(self) -> list[str]:
        """Names of the `transform` columns: ``column[i]`` per embedding dimension, then numerics."""
        self._check_fitted()
        names = [f"{c}[{i}]" for c, emb in self.embeddings.items() for i in range(emb.dim)]
        return names + self.encoder.numeric_features

    def transform(self, table) -> np.ndarray:
        """(n, len(feature_names)) float32: each row's category vectors and standardised numerics,
        exactly what the MLP sees, for a downstream model."""
        self._check_fitted()
        table = Table.read(table)
        codes, numbers = self._arrays(table)
        parts = [emb.vectors[codes[:, j]] for j, emb in enumerate(self.embeddings.values())]
        return np.concatenate(parts + [numbers], axis=1).astype(np.float32)

    def predict_proba(self, table) -> np.ndarray:
        """(n, n_classes) class probabilities, columns in `classes` order (classification only)."""
        self._check_fitted()
        if self.task == "regression":
            raise InvalidInputError("predict_proba is for classification; use predict for regression")
        torch = _import_torch()
        device = str(next(self._net.parameters()).device)
        scores = self._raw_scores(torch, device, *self._arrays(Table.read(table)))
        if self.task == "binary":
            p = torch.sigmoid(scores[:, 0]).cpu().numpy().astype(np.float64)
            return np.stack([1 - p, p], axis=1)
        return torch.softmax(scores, dim=1).cpu().numpy().astype(np.float64)

    def predict(self, table) -> np.ndarray:
        """Predicted class labels (object array), or values for regression (float64)."""
        self._check_fitted()
        if self.task == "regression":
            torch = _import_torch()
            device = str(next(self._net.parameters()).device)
            scores = self._raw_scores(torch, device, *self._arrays(Table.read(table)))
            stats = self.encoder.target_stats
            return scores[:, 0].cpu().numpy().astype(np.float64) * stats["std"] + stats["mean"]
        return np.array(self.classes, dtype=object)[self.predict_proba(table).argmax(axis=1)]

    @property
    def classes(self) -> list[str] | None:
        """The target's classes (strings, sorted); the positive class of a binary task is the second."""
        return None if self.encoder is None else self.encoder.classes

    # ------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """Write the model to directory `path` (replaced atomically) and return it.

        Files: ``entity.json`` (format, version, hyperparameters, vocabularies, numeric and target
        statistics, training history), ``weights.safetensors`` (the network) and one native
        ``<column>.emb`` per categorical column (characters other than letters, digits, ``.``,
        ``_`` and ``-`` in the name become ``_``).
        """
        self._check_fitted()
        from safetensors.numpy import save_file

        path = Path(path)
        files = embedding_files(list(self.embeddings))
        with atomic_directory(path, marker=MARKER) as tmp:
            state = {k: v.detach().cpu().numpy() for k, v in self._net.state_dict().items()}
            save_file(state, str(tmp / WEIGHTS))
            for c, emb in self.embeddings.items():
                emb.save(tmp / files[c])
            meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "params": self.get_params(),
                    "encoder": self.encoder.to_dict(), "dims": self._column_dims(),
                    "embedding_files": files, "history": self.history, "best_epoch": self.best_epoch}
            (tmp / MARKER).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path, device: str = "auto") -> "EntityEmbedding":
        """A model written by `save`, on `device`."""
        path = Path(path)
        meta = read_marker(path, MARKER, FORMAT, FORMAT_VERSION, "an entity embedding model",
                           fields=("params", "encoder"), version_key="format_version")
        torch = _import_torch()
        from safetensors.numpy import load_file

        model = cls(**{**meta["params"], "device": device})
        model.encoder = TableEncoder.from_dict(meta["encoder"])
        model.history, model.best_epoch = meta.get("history", []), meta.get("best_epoch")
        model._net = model._build()
        try:
            state = {k: torch.from_numpy(v) for k, v in load_file(str(path / WEIGHTS)).items()}
            model._net.load_state_dict(state, strict=True)
        except (OSError, RuntimeError, ValueError) as exc:
            raise FormatError(f"cannot read the weights: {exc}", path / WEIGHTS) from None
        model._net.to(_resolve_device(device)).eval()
        model._set_embeddings()
        return model


def embedding_files(columns: list[str]) -> dict[str, str]:
    """Column → ``<column>.emb`` file name, made safe and unique."""
    files, used = {}, set()
    for c in columns:
        base = re.sub(r"[^A-Za-z0-9._-]", "_", c).lstrip(".") or "column"
        name, n = f"{base}.emb", 1
        while name.lower() in used or name == MARKER:
            n += 1
            name = f"{base}_{n}.emb"
        used.add(name.lower())
        files[c] = name
    return files
