"""Text embedding evaluation: sentence similarity (STS-B) and retrieval (BEIR); document
classification is `evaluate.classification.classification`.

* `read_sts(path)` → `STSData(sentences1, sentences2, scores)` from an STS Benchmark file as
  published (``sts-train.csv``, ``sts-dev.csv``, ``sts-test.csv``): TAB-separated, no header,
  columns ``genre filename year sid score sentence1 sentence2``; the extra source/licence columns
  some rows carry are ignored, and quotes are not special (the files hold unbalanced ``"``).
* `sts(encoder, sentences1, sentences2, gold)` → `STSResult`: Spearman and Pearson correlation
  between the cosine of each pair's vectors and the gold scores. `encoder` is anything with
  ``.encode(texts)`` (TextEncoder, LSA) or a callable ``texts → (n, dim) array``. Every distinct
  sentence is encoded once.
* `read_beir(folder, split="test")` → `BeirData(corpus, queries, qrels)` from a BEIR dataset
  folder: ``corpus.jsonl`` (or ``.jsonl.gz``) with ``_id``, ``title``, ``text``;
  ``queries.jsonl`` with ``_id``, ``text``; ``qrels/<split>.tsv`` with a header row and
  ``query-id corpus-id score`` rows. As BEIR's ``GenericDataLoader``: `corpus` is
  ``{doc_id: {"title", "text"}}``, `qrels` is ``{query_id: {doc_id: int score}}`` and `queries`
  holds only the split's queries (those in `qrels`).
* `retrieval(results, qrels, k_values=(1, 3, 5, 10, 100))` → `RetrievalResult` with
  nDCG@k, Recall@k, Precision@k and MRR@k for every k (10 and 100 always included).
  `results[qid]` is ``{doc_id: score}`` (ranked by score, highest first, ties broken by
  doc id in decreasing string order as trec_eval does) or a ranked list of doc ids or of
  ``(doc_id, score)`` pairs (taken in the order given; repeats of a doc id ignored).
  Definitions, per query, with ``rel(d)`` the judged relevance (unjudged = 0) and the relevant
  documents those with ``rel > 0`` (trec_eval's / pytrec_eval's, hence BEIR's):

  - ``ndcg@k``   = DCG@k / IDCG@k, DCG@k = Σ_{i=1..k} rel(d_i) / log2(i + 1) (graded, linear gain),
    IDCG@k the DCG@k of the judged documents sorted by relevance;
  - ``recall@k`` = |relevant ∩ top k| / |relevant|;
  - ``precision@k`` = |relevant ∩ top k| / k;
  - ``mrr@k``    = 1 / rank of the first relevant document in the top k, 0 if none.

  Scores are averaged over the queries of `qrels` that have at least one relevant document;
  queries only in `results` are ignored, and a query of `qrels` with no results scores 0
  (trec_eval ``-c``). BEIR's own ``EvaluateRetrieval.evaluate`` averages over the queries present
  in both, so the two agree whenever every query has results. Ids are compared as strings, so
  ``1`` and ``"1"`` name the same document.

These need SciPy only.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import FormatError, InvalidInputError

logger = logging.getLogger(__name__)

__all__ = ["read_sts", "sts", "read_beir", "retrieval", "STSData", "STSResult", "BeirData",
           "RetrievalResult"]


def _lines(path: Path):
    """(1-based line number, line without its LF / CRLF) for every line of a UTF-8 file, plain or .gz.

    Only LF ends a line (a stray CR inside a sentence stays part of it).
    """
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    with (gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")) as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise FormatError(f"not valid UTF-8 ({error})", path=path, line=number) from None
            yield number, line.rstrip("\n").rstrip("\r")


# ------------------------------------------------------------------------------------------ STS
class STSData(NamedTuple):
    """Sentence pairs and their gold similarity scores (float64)."""

    sentences1: list[str]
    sentences2: list[str]
    scores: np.ndarray


def read_sts(path) -> STSData:
    """STS Benchmark pairs from `path` (TAB-separated, no header; see the module docstring)."""
    path = Path(path)
    first, second, scores = [], [], []
    for number, line in _lines(path):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 7:
            raise FormatError(f"expected 7 TAB-separated columns (genre filename year sid score "
                              f"sentence1 sentence2), found {len(fields)}", path=path, line=number)
        try:
            score = float(fields[4])
        except ValueError:
            raise FormatError(f"score {fields[4]!r} (column 5) is not a number", path=path, line=number) from None
        if not math.isfinite(score):
            raise FormatError(f"score {fields[4]!r} (column 5) is not finite", path=path, line=number)
        first.append(fields[5])
        second.append(fields[6])
        scores.append(score)
    if not scores:
        raise InvalidInputError(f"{path}: no sentence pairs")
    return STSData(first, second, np.asarray(scores, dtype=np.float64))


@dataclass
class STSResult:
    """Spearman and Pearson correlation of pair cosines with the gold scores over `n` pairs."""

    spearman: float
    pearson: float
    n: int
    predicted: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    def to_dict(self) -> dict:
        return {"spearman": self.spearman, "pearson": self.pearson, "n": self.n}

    def __str__(self) -> str:
        return f"Spearman {self.spearman:.4f}, Pearson {self.pearson:.4f} over {self.n} pairs"


def _encode_with(encoder) -> Callable[[list[str]], np.ndarray]:
    if hasattr(encoder, "encode") and callable(encoder.encode):
        return encoder.encode
    if callable(encoder):
        return encoder
    raise InvalidInputError(f"expected an encoder with .encode(texts) or a callable, got {type(encoder).__name__}")


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1)


def encode_texts(encoder, texts: list[str]) -> np.ndarray:
    """(len(texts), dim) float64 vectors from `encoder`, checked for shape and finiteness."""
    vectors = np.asarray(_encode_with(encoder)(texts), dtype=np.float64)
    if vectors.ndim != 2 or len(vectors) != len(texts):
        raise InvalidInputError(f"the encoder returned shape {vectors.shape} for {len(texts)} texts; "
                                "expected (n_texts, dim)")
    if not np.isfinite(vectors).all():
        raise InvalidInputError("the encoder returned NaN or infinite values")
    return vectors


def sts(encoder, sentences1: Iterable[str], sentences2: Iterable[str], gold) -> STSResult:
    """Spearman and Pearson of cos(encode(s1), encode(s2)) against `gold`, pair by pair.

    A zero vector (e.g. an LSA text with no known word) has cosine 0 with everything.
    """
    from scipy.stats import pearsonr, spearmanr

    first, second = list(sentences1), list(sentences2)
    gold = np.asarray(gold, dtype=np.float64).reshape(-1)
    if not (len(first) == len(second) == len(gold)):
        raise InvalidInputError(f"{len(first)} first sentences, {len(second)} second sentences and "
                                f"{len(gold)} gold scores: they must be as many")
    if len(gold) < 2:
        raise InvalidInputError(f"need at least 2 pairs to correlate, got {len(gold)}")
    for i, text in enumerate(first + second):
        if not isinstance(text, str):
            side, j = ("sentences1", i) if i < len(first) else ("sentences2", i - len(first))
            raise InvalidInputError(f"{side}[{j}] is {type(text).__name__}, not a str")
    unique = list(dict.fromkeys(first + second))
    row = {text: i for i, text in enumerate(unique)}
    vectors = _unit_rows(encode_texts(encoder, unique))
    a = vectors[[row[t] for t in first]]
    b = vectors[[row[t] for t in second]]
    cosines = np.einsum("ij,ij->i", a, b)
    if np.ptp(cosines) == 0 or np.ptp(gold) == 0:
        spearman = pearson = math.nan
        logger.warning("STS: constant cosines or gold scores; correlations are undefined (NaN)")
    else:
        spearman = float(spearmanr(cosines, gold).statistic)
        pearson = float(pearsonr(cosines, gold).statistic)
    return STSResult(spearman, pearson, len(gold), cosines)


# ------------------------------------------------------------------------------------------ BEIR
class BeirData(NamedTuple):
    """A BEIR dataset split: ``{doc_id: {"title", "text"}}``, ``{query_id: text}``, ``{qid: {doc_id: rel}}``."""

    corpus: dict
    queries: dict
    qrels: dict


def _first_existing(folder: Path, names: Iterable[str]) -> Path:
    names = list(names)
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder}: none of {', '.join(names)} found")


def _jsonl_records(path: Path, fields: tuple[str, ...]):
    """(line number, record) of a JSON-lines file whose objects hold `_id` (as str) and `fields`."""
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise FormatError(f"not valid JSON ({error})", path=path, line=number) from None
        if not isinstance(record, dict) or "_id" not in record:
            raise FormatError('expected a JSON object with an "_id"', path=path, line=number)
        for name in fields:
            value = record.get(name) or ""
            if not isinstance(value, str):
                raise FormatError(f"{name!r} is {type(value).__name__}, not a string", path=path, line=number)
            record[name] = value
        record["_id"] = str(record["_id"])
        yield number, record


def read_qrels(path) -> dict:
    """``{query_id: {doc_id: int relevance}}`` from a BEIR qrels TSV (header row optional)."""
    path = Path(path)
    qrels: dict = {}
    first = True
    for number, line in _lines(path):
        if not line.strip():
            continue
        fields = [part.strip() for part in line.split("\t")]
        if len(fields) < 3:
            raise FormatError(f"expected query-id, corpus-id and score separated by TABs, found {len(fields)} "
                              "column(s)", path=path, line=number)
        try:
            score = int(fields[2])
        except ValueError:
            if first:  # the header row: query-id corpus-id score
                first = False
                continue
            raise FormatError(f"score {fields[2]!r} is not an integer", path=path, line=number) from None
        first = False
        qrels.setdefault(fields[0], {})[fields[1]] = score
    return qrels


def read_beir(folder, split: str = "test") -> BeirData:
    """Corpus, the split's queries and its qrels from a BEIR dataset folder (see the module docstring)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"BEIR folder not found: {folder}")
    corpus_path = _first_existing(folder, ["corpus.jsonl", "corpus.jsonl.gz"])
    queries_path = _first_existing(folder, ["queries.jsonl", "queries.jsonl.gz"])
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        available = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise FileNotFoundError(f"{qrels_path} not found (splits here: {', '.join(available) or 'none'})")
    qrels = read_qrels(qrels_path)
    corpus: dict = {}
    for number, record in _jsonl_records(corpus_path, ("title", "text")):
        if record["_id"] in corpus:
            raise FormatError(f"duplicate _id {record['_id']!r}", path=corpus_path, line=number)
        corpus[record["_id"]] = {"title": record["title"], "text": record["text"]}
    all_queries = {record["_id"]: record["text"] for _, record in _jsonl_records(queries_path, ("text",))}
    missing = [qid for qid in qrels if qid not in all_queries]
    if missing:
        raise FormatError(f"{len(missing)} query ids of the qrels are not in {queries_path.name} "
                          f"(first: {missing[0]!r})", path=qrels_path)
    unknown_docs = {doc for judged in qrels.values() for doc in judged if doc not in corpus}
    if unknown_docs:
        logger.warning("%s: %d judged document ids are not in the corpus (first: %r)", qrels_path,
                       len(unknown_docs), next(iter(unknown_docs)))
    return BeirData(corpus, {qid: all_queries[qid] for qid in qrels}, qrels)


@dataclass
class RetrievalResult:
    """Mean nDCG@k, Recall@k, Precision@k and MRR@k over `n_queries` judged queries.

    `ndcg`, `recall`, `precision` and `mrr` map each k to its mean; `n_missing` counts judged
    queries that had no results (scored 0). `per_query` maps query ids to ``{"ndcg@10": …}``.
    """

    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float
    n_queries: int
    n_missing: int = 0
    ndcg: dict = field(default_factory=dict)
    recall: dict = field(default_factory=dict)
    precision: dict = field(default_factory=dict)
    mrr: dict = field(default_factory=dict)
    per_query: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        values = {"ndcg@10": self.ndcg_at_10, "recall@100": self.recall_at_100, "mrr@10": self.mrr_at_10,
                  "n_queries": self.n_queries, "n_missing": self.n_missing}
        for name in ("ndcg", "recall", "precision", "mrr"):
            for k, value in getattr(self, name).items():
                values.setdefault(f"{name}@{k}", value)
        return values

    def __str__(self) -> str:
        return (f"nDCG@10 {self.ndcg_at_10:.4f}, Recall@100 {self.recall_at_100:.4f}, "
                f"MRR@10 {self.mrr_at_10:.4f} over {self.n_queries} queries")


def _ranked_ids(ranking) -> list[str]:
    """Doc ids (as str) best first from ``{doc: score}`` or a ranked list of ids or (id, score) pairs."""
    if isinstance(ranking, Mapping):
        pairs = [(str(doc), float(score)) for doc, score in ranking.items()]
        pairs.sort(key=lambda p: p[0], reverse=True)  # trec_eval: ties by doc id, decreasing
        pairs.sort(key=lambda p: p[1], reverse=True)  # stable: score first
        return [doc for doc, _ in pairs]
    ids = [str(item[0]) if isinstance(item, (tuple, list)) else str(item) for item in ranking]
    return list(dict.fromkeys(ids))


def _query_scores(ranked: list[str], judged: dict[str, int], ks: list[int]) -> dict:
    gains = np.array([max(judged.get(doc, 0), 0) for doc in ranked[:max(ks)]], dtype=np.float64)
    discounts = 1.0 / np.log2(np.arange(2, len(gains) + 2))
    ideal = np.sort(np.array([g for g in judged.values() if g > 0], dtype=np.float64))[::-1]
    ideal_discounts = 1.0 / np.log2(np.arange(2, len(ideal) + 2))
    n_relevant = len(ideal)
    hits = np.cumsum(gains > 0)
    first_hit = int(np.argmax(gains > 0)) + 1 if (gains > 0).any() else None
    scores = {}
    for k in ks:
        dcg = float(np.sum(gains[:k] * discounts[:k]))
        idcg = float(np.sum(ideal[:k] * ideal_discounts[:k]))
        found = int(hits[min(k, len(hits)) - 1]) if len(hits) else 0
        scores[f"ndcg@{k}"] = dcg / idcg
        scores[f"recall@{k}"] = found / n_relevant
        scores[f"precision@{k}"] = found / k
        scores[f"mrr@{k}"] = 1.0 / first_hit if first_hit is not None and first_hit <= k else 0.0
    return scores


def retrieval(results: Mapping, qrels: Mapping, k_values: Iterable[int] = (1, 3, 5, 10, 100)) -> RetrievalResult:
    """nDCG@k, Recall@k, Precision@k and MRR@k of `results` against `qrels` (see the module docstring)."""
    ks = sorted({int(k) for k in k_values} | {10, 100})
    if ks[0] < 1:
        raise InvalidInputError(f"k values must be at least 1, got {ks[0]}")
    if not isinstance(results, Mapping) or not isinstance(qrels, Mapping):
        raise InvalidInputError("results and qrels must be dicts keyed by query id")
    runs = {str(qid): ranking for qid, ranking in results.items()}
    per_query, missing, skipped = {}, 0, 0
    for qid, judged in qrels.items():
        judged = {str(doc): int(rel) for doc, rel in judged.items()}
        if not any(rel > 0 for rel in judged.values()):
            skipped += 1
            continue
        ranking = runs.get(str(qid))
        if ranking is None:
            missing += 1
        per_query[str(qid)] = _query_scores(_ranked_ids(ranking or ()), judged, ks)
    if skipped:
        logger.info("retrieval: %d queries have no relevant document in the qrels and are skipped", skipped)
    if missing:
        logger.warning("retrieval: %d of %d judged queries have no results; they score 0",
                       missing, len(per_query))
    if not per_query:
        raise InvalidInputError("no query of the qrels has a relevant document: nothing to evaluate")
    means = {name: float(np.mean([scores[name] for scores in per_query.values()]))
             for name in next(iter(per_query.values()))}
    by_k = {metric: {k: means[f"{metric}@{k}"] for k in ks} for metric in ("ndcg", "recall", "precision", "mrr")}
    return RetrievalResult(means["ndcg@10"], means["recall@100"], means["mrr@10"], len(per_query), missing,
                           **by_k, per_query=per_query)
