"""`EntityEmbedding`: embeddings of categorical columns learned by predicting a target (PyTorch).

Guo & Berkhahn, *Entity Embeddings of Categorical Variables* (2016): each categorical column gets
an ``nn.Embedding`` (one row per category, row 0 for `UNKNOWN`), the looked-up vectors are
concatenated with the standardised numeric columns and fed to an MLP (Linear, BatchNorm, ReLU,
Dropout per hidden layer) trained on the target with Adam. Columns, vocabularies and numeric
statistics come from `embedworks.data.TableEncoder`.

After `fit`, ``model.embeddings[column]`` is an `Embeddings` keyed by the category values (plus
``"<unknown>"``), with the training count of each category as metadata; `transform` gives a
downstream model the features the MLP sees (with ``score=True``, also the MLP's score), and
`fit_transform` gives the training rows cross-fitted versions of them (no target leakage);
`predict` / `predict_proba` score tables;
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

__all__ = ["EntityEmbedding", "auto_dim", "embedding_files", "fold_assignment", "fold_seed"]

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
    def fit(self, table) -> EntityEmbedding:
        """Learn from a `Table` (or anything `Table.read` takes: a DataFrame, a CSV or Parquet path)."""
        _, train, validation = self._split(Table.read(table))
        return self._fit(train, validation)

    def fit_transform(self, table, folds: int = 5, score: bool = False) -> np.ndarray:
        """`fit(table)`, then cross-fitted `transform(table, score=score)` features for `table`'s
        rows, for a model stacked on top (gradient boosting, a linear model) without target leakage.

        The model itself is fitted exactly as by `fit` (same seed, same result), so `transform`,
        `predict`, `embeddings` and `save` behave as after `fit`. The returned rows are what
        `transform` would give had the model never seen them, as scikit-learn's
        ``TargetEncoder.fit_transform`` does: the training rows are dealt into `folds` folds
        (seeded, stratified by class), and for each fold a model with the same settings (seed
        derived from `seed` and the fold, the same validation rows for early stopping, the same
        columns, dimensions and numeric/target statistics) learns from the other folds and gives
        the fold's rows their features:

        - the category vectors: the fold model's vectors mapped onto the full model's by an
          orthogonal Procrustes rotation fitted per column on the categories both know; a category
          the fold model never saw (at least `min_count` times) gets its `<unknown>` vector, as an
          unseen category does in `transform`;
        - the standardised numerics, which use no target, are the full model's;
        - with ``score=True``, the score columns (`score_names`): the fold model's output, on the
          same scale as the full model's.

        The held-out validation fraction's rows get the full model's `transform` (no model learns
        from them); rows without a target are dealt into folds like the others. Costs `folds` + 1
        fits (whatever `score` is). `folds` below 2 or above
        the number of training rows is an `InvalidInputError` (a ValueError).
        Returns (len(table), len(feature_names_for(score))) float32.
        """
        if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
            raise InvalidInputError(f"folds must be an integer >= 2, got {folds!r}")
        table = Table.read(table)
        rows, train, validation = self._split(table)
        if folds > len(train):
            raise InvalidInputError(f"folds ({folds}) cannot exceed the number of training rows ({len(train)})")
        self._fit(train, validation)
        out = self.transform(table, score=score)
        full_codes = self.encoder.codes(train)
        y, kept = self.encoder.target_values(train)
        strata = np.full(len(train), -1, dtype=np.int64)
        if self.task != "regression":
            strata[kept] = y
        assignment = fold_assignment(len(train), folds, self.seed, strata)
        full_dims = dict(zip(self.encoder.categories, self._column_dims()))
        n_emb = sum(full_dims.values())
        n_out = self._n_out()
        for k in range(folds):
            held = assignment == k
            logger.info("cross-fitting: fold %d of %d (%d rows held out)", k + 1, folds, int(held.sum()))
            fold = EntityEmbedding(**{**self.get_params(), "dims": full_dims, "seed": fold_seed(self.seed, k),
                                      "validation": 0 if validation is None else validation,
                                      "progress": self.progress})
            fold._fit(train.take(~held), validation, self._fold_encoder(full_codes[~held]))
            part = train.take(held)
            codes, numbers = fold._arrays(part)
            vectors = [emb.vectors[codes[:, j]] @ self._rotation(c, emb)
                       for j, (c, emb) in enumerate(fold.embeddings.items())]
            out[rows[held], :n_emb] = np.concatenate(vectors, axis=1) if vectors else np.zeros((len(part), 0))
            if score:
                out[rows[held], out.shape[1] - n_out:] = fold._scores(codes, numbers)
        return out

    def _split(self, table: Table):
        """(row numbers of the training rows in `table`, training rows, validation Table or None)."""
        validation = self.validation
        if isinstance(validation, Table):
            return np.arange(len(table)), table, validation
        if validation > 0:
            held = table.held_out(validation, seed=self.seed)
            return np.flatnonzero(~held), table.take(~held), table.take(held)
        return np.arange(len(table)), table, None

    def _fit(self, train: Table, validation: Table | None, encoder: TableEncoder | None = None) -> EntityEmbedding:
        torch = _import_torch()
        if encoder is None:
            encoder = TableEncoder.fit(train, self.target, self.task, self.categorical, self.numeric,
                                       self.min_count, self.max_int_categories)
        self.encoder = encoder
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

    def _fold_encoder(self, codes: np.ndarray) -> TableEncoder:
        """The full model's encoder with each vocabulary cut to the categories seen at least
        `min_count` times in the rows whose (full-vocabulary) `codes` are given; numeric and target
        statistics stay the full model's, so inputs and scores mean the same in every fold."""
        full = self.encoder
        categories, counts = {}, {}
        for j, (c, keys) in enumerate(full.categories.items()):
            seen = np.bincount(codes[:, j], minlength=len(keys))
            kept = [i for i in range(1, len(keys)) if seen[i] >= self.min_count]
            categories[c] = [keys[0]] + [keys[i] for i in kept]
            counts[c] = [len(codes) - int(seen[kept].sum())] + [int(seen[i]) for i in kept]
        return TableEncoder(categories, counts, full.numeric, full.target, full.task, full.classes,
                            full.target_stats)

    def _rotation(self, column: str, fold: Embeddings) -> np.ndarray:
        """The orthogonal map that best carries `fold`'s vectors onto the full model's, fitted on
        the categories both hold."""
        from scipy.linalg import orthogonal_procrustes

        target = self.embeddings[column][fold.keys].astype(np.float64)
        rotation, _ = orthogonal_procrustes(fold.vectors.astype(np.float64), target)
        return rotation.astype(np.float32)

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

    def feature_names_for(self, score: bool = False) -> list[str]:
        """Names of the columns of `transform(table, score=score)` and `fit_transform`:
        ``column[i]`` per embedding dimension, the numerics (and ``name (missing)`` indicators),
        then, with ``score=True``, `score_names`."""
        self._check_fitted()
        names = [f"{c}[{i}]" for c, emb in self.embeddings.items() for i in range(emb.dim)]
        names += self.encoder.numeric_features
        return names + self.score_names if score else names

    @property
    def feature_names(self) -> list[str]:
        """Names of the default `transform` columns (no score): `feature_names_for(score=False)`."""
        return self.feature_names_for(False)

    @property
    def score_names(self) -> list[str]:
        """Names of the score columns that ``score=True`` appends: ``<target> (logit)`` for a
        binary task, ``<target>=<class> (logit)`` per class for multiclass, ``<target>
        (prediction)`` (standardised) for regression."""
        self._check_fitted()
        if self.task == "binary":
            return [f"{self.target} (logit)"]
        if self.task == "multiclass":
            return [f"{self.target}={c} (logit)" for c in self.encoder.classes]
        return [f"{self.target} (prediction)"]

    def transform(self, table, score: bool = False) -> np.ndarray:
        """(n, len(feature_names_for(score))) float32 features for a downstream model: each row's
        category vectors, then the standardised numerics (and indicators), exactly what the MLP
        sees; with ``score=True``, then the model's raw score(s) (`score_names`: the logit(s), or
        the standardised prediction for regression).

        On the rows the model was trained on, these features were fitted to the target: the score
        always (a model stacked on it trusts it too much), the vectors the more so the fewer rows a
        category has (an id-like column memorises). `fit_transform` gives those rows cross-fitted
        features instead; `transform` is for new rows.
        """
        self._check_fitted()
        table = Table.read(table)
        codes, numbers = self._arrays(table)
        parts = [emb.vectors[codes[:, j]] for j, emb in enumerate(self.embeddings.values())] + [numbers]
        if score:
            parts.append(self._scores(codes, numbers))
        return np.concatenate(parts, axis=1).astype(np.float32)

    def _scores(self, codes: np.ndarray, numbers: np.ndarray) -> np.ndarray:
        """(n, n_out) float32 raw network outputs for encoded rows."""
        torch = _import_torch()
        device = str(next(self._net.parameters()).device)
        return self._raw_scores(torch, device, codes, numbers).cpu().numpy().astype(np.float32)

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
    def load(cls, path, device: str = "auto") -> EntityEmbedding:
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


def fold_assignment(n: int, folds: int, seed: int, strata: np.ndarray | None = None) -> np.ndarray:
    """The fold (0 … folds − 1) of each of `n` rows: a seeded permutation dealt out in turn, after
    grouping it by `strata` (class indices) when given, so every fold gets each class in proportion.
    Every row is in exactly one fold; fold sizes differ by at most one."""
    order = np.random.default_rng(seed).permutation(n)
    if strata is not None:
        order = order[np.argsort(np.asarray(strata)[order], kind="stable")]
    assignment = np.empty(n, dtype=np.int64)
    assignment[order] = np.arange(n) % folds
    return assignment


def fold_seed(seed: int, fold: int) -> int:
    """The seed of fold `fold`'s model in `EntityEmbedding.fit_transform`, derived from `seed`."""
    return int(np.random.SeedSequence([seed, fold]).generate_state(1)[0])


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
