"""Word-level intrinsic evaluation: analogy accuracy and word-pair similarity correlation.

Both functions read the test files as published and follow gensim's
`KeyedVectors.evaluate_word_analogies` / `evaluate_word_pairs` semantics, so that numbers are
comparable with gensim's:

* the vocabulary is the first `restrict_vocab` keys (embeddings are sorted by frequency);
* with `case_insensitive=True` words are compared in upper case (`str.upper`, as gensim), and
  a word with several case variants gets the vector of its first (most frequent) variant;
* questions or pairs with a word outside that vocabulary are skipped and counted as OOV;
* an analogy is answered by the best-scoring key other than the three question words (and
  their case variants).

Analogies are scored in batch (one matrix product for the distinct question words, then a
parallel Numba pass that keeps each question's best candidate; never a Python loop over
questions): the whole Google set (19,544 questions) over 30,000 × 100 vectors takes well
under a second once the kernel is compiled (cached on disk after the first call).
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..data.table import is_number
from ..errors import FormatError, InvalidInputError
from ._words import best_candidates

logger = logging.getLogger(__name__)

__all__ = ["analogy", "word_similarity", "AnalogyResult", "SimilarityResult", "SectionScore"]

#: Levy & Goldberg (2014)'s epsilon for 3CosMul (gensim's `most_similar_cosmul` uses 1e-6).
COSMUL_EPSILON = 1e-3
#: Largest (distinct question words × vocabulary) cosine table held at once, in bytes.
_TABLE_BYTES = 256 * 1024 * 1024


# ---------------------------------------------------------------------------------- reading
def _source_name(source) -> str:
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<lines>"


def _lines(source) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without the line ending) of a path (plain or .gz) or of lines.

    `source` is a path (str or PathLike) or an iterable of str lines. CRLF, CR and a missing
    final newline are all fine. Bytes that are not UTF-8 raise `FormatError` naming the line.
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise FormatError(f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                                      path=path, line=number) from None
                if number == 1:
                    text = text.removeprefix("\ufeff")
                yield number, text.rstrip("\r\n")
        return
    if isinstance(source, (bytes, bytearray)):
        raise InvalidInputError("pass a path or an iterable of str lines, not bytes")
    for number, text in enumerate(source, 1):
        if not isinstance(text, str):
            raise InvalidInputError(f"line {number} is {type(text).__name__}, expected str")
        yield number, text.rstrip("\r\n")


def _vocabulary(emb, restrict_vocab: int | None, case_insensitive: bool):
    """(lookup, canon, unit) for the first `restrict_vocab` keys of `emb`.

    lookup: word (upper-cased when case-insensitive) → row of its first variant;
    canon[row]: the row that stands for the row's word (itself unless an earlier key folds to
    the same upper-case form); unit: the restricted rows scaled to unit length (float32).
    """
    keys = emb.keys
    vectors = emb.vectors
    if len(keys) != len(vectors):
        raise InvalidInputError(f"{len(keys)} keys but {len(vectors)} vectors")
    n = len(keys) if restrict_vocab is None else max(0, min(int(restrict_vocab), len(keys)))
    lookup: dict[str, int] = {}
    canon = np.empty(n, dtype=np.int64)
    for row in range(n):
        key = keys[row] if isinstance(keys[row], str) else str(keys[row])
        if case_insensitive:
            key = key.upper()
        canon[row] = lookup.setdefault(key, row)
    unit = np.array(vectors[:n], dtype=np.float32)
    norms = np.linalg.norm(unit, axis=1)
    norms[norms == 0] = 1.0
    unit /= norms[:, None]
    return lookup, canon, unit


# ---------------------------------------------------------------------------------- analogy
class SectionScore(NamedTuple):
    """Correct answers, questions answered (all four words in the vocabulary) and accuracy.

    accuracy is correct / total, and 0.0 for a section with nothing answered (as gensim).
    """

    correct: int
    total: int
    accuracy: float

    @classmethod
    def of(cls, correct: int, total: int) -> "SectionScore":
        correct, total = int(correct), int(total)
        return cls(correct, total, correct / total if total else 0.0)


@dataclass
class AnalogyResult:
    """Analogy accuracy overall, per section and for the semantic and syntactic halves.

    `total` counts the questions answered; `oov` those skipped because a word is outside the
    first `restrict_vocab` keys; `questions` = total + oov; `oov_ratio` = oov / questions (a
    fraction; gensim logs it as a percentage). Sections whose name starts with "gram" are
    syntactic, the others semantic (Mikolov et al.'s split of questions-words.txt).
    """

    correct: int
    total: int
    oov: int
    sections: dict[str, SectionScore]
    semantic: SectionScore
    syntactic: SectionScore
    method: str = "3cosadd"
    restrict_vocab: int | None = None
    section_oov: dict[str, int] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def questions(self) -> int:
        return self.total + self.oov

    @property
    def oov_ratio(self) -> float:
        return self.oov / self.questions if self.questions else 0.0

    def to_dict(self) -> dict:
        return {
            "accuracy": self.accuracy, "correct": self.correct, "total": self.total,
            "oov": self.oov, "oov_ratio": self.oov_ratio, "questions": self.questions,
            "method": self.method, "restrict_vocab": self.restrict_vocab,
            "semantic": self.semantic._asdict(), "syntactic": self.syntactic._asdict(),
            "sections": {name: {**score._asdict(), "oov": self.section_oov.get(name, 0)}
                         for name, score in self.sections.items()},
        }

    def __str__(self) -> str:
        return (f"analogy accuracy {100 * self.accuracy:.2f}% ({self.correct}/{self.total}; "
                f"semantic {100 * self.semantic.accuracy:.2f}%, syntactic "
                f"{100 * self.syntactic.accuracy:.2f}%; {self.oov} OOV questions skipped, "
                f"{100 * self.oov_ratio:.1f}%)")


def _parse_analogies(source):
    """Section names, each question's section and its four words, from the Google format."""
    name = _source_name(source)
    sections: list[str] = []
    section_of: list[int] = []
    words: list[list[str]] = []
    for number, line in _lines(source):
        text = line.strip()
        if not text:
            continue
        if text.startswith(":"):
            title = text[1:].strip()
            if not title:
                raise FormatError("section header ':' without a name", path=name, line=number)
            sections.append(title)
            continue
        parts = text.split()
        if len(parts) != 4:
            raise FormatError(f"expected an analogy question of 4 words 'a b c d', found "
                              f"{len(parts)} word{'s' * (len(parts) != 1)}: {text[:80]!r}",
                              path=name, line=number)
        if not sections:
            raise FormatError("analogy question before the first ': section' header",
                              path=name, line=number)
        section_of.append(len(sections) - 1)
        words.append(parts)
    if not words:
        raise FormatError("no analogy questions found", path=name)
    return sections, np.array(section_of, dtype=np.int64), words


def analogy(emb, path_or_lines, restrict_vocab: int | None = 30000, method: str = "3cosadd",
            case_insensitive: bool = True) -> AnalogyResult:
    """Accuracy on analogy questions "a is to b as c is to d" in the Google questions-words format.

    `path_or_lines` is a file (plain or .gz) or an iterable of lines: `: section` headers, then
    one question of 4 words per line. Only the first `restrict_vocab` keys of `emb` (None: all)
    are used, as question words and as candidate answers; a question with any word outside them
    is skipped and counted in `oov`. The predicted answer is the best candidate other than a, b
    and c (and, case-insensitively, their case variants):

    * "3cosadd" (Mikolov et al. 2013): argmax cos(x, b) − cos(x, a) + cos(x, c), the ranking of
      gensim's `evaluate_word_analogies`;
    * "3cosmul" (Levy & Goldberg 2014): argmax s(x, b)·s(x, c) / (s(x, a) + 1e-3) with the
      shifted cosine s = (cos + 1) / 2.

    Matches gensim's semantics (restriction, upper-casing, OOV skipping); numbers can differ
    from it only by float rounding at exact ties. Malformed lines raise `FormatError`.
    """
    method = method.lower()
    if method not in ("3cosadd", "3cosmul"):
        raise InvalidInputError(f"unknown analogy method {method!r}; choose '3cosadd' or '3cosmul'")
    if restrict_vocab is not None and restrict_vocab <= 0:
        raise InvalidInputError(f"restrict_vocab must be positive or None, got {restrict_vocab}")
    sections, section_of, words = _parse_analogies(path_or_lines)
    lookup, canon, unit = _vocabulary(emb, restrict_vocab, case_insensitive)

    fold = str.upper if case_insensitive else (lambda w: w)
    rows = np.array([[lookup.get(fold(w), -1) for w in question] for question in words],
                    dtype=np.int64).reshape(-1, 4)
    known = (rows >= 0).all(axis=1)
    answered = rows[known]
    is_correct = np.zeros(len(answered), dtype=bool)
    if len(answered):
        is_correct = _solve(unit, canon, answered, method)

    n_sections = len(sections)
    sec = section_of[known]
    correct = np.bincount(sec, weights=is_correct, minlength=n_sections).astype(np.int64)
    total = np.bincount(sec, minlength=n_sections)
    skipped = np.bincount(section_of[~known], minlength=n_sections)
    # duplicate section names (unusual) are merged
    per_name: dict[str, list[int]] = {}
    for i, title in enumerate(sections):
        acc = per_name.setdefault(title, [0, 0, 0])
        acc[0] += int(correct[i]); acc[1] += int(total[i]); acc[2] += int(skipped[i])
    scores = {title: SectionScore.of(c, t) for title, (c, t, _) in per_name.items()}
    syntactic = [title.lower().startswith("gram") for title in sections]
    syn = np.array(syntactic, dtype=bool)
    result = AnalogyResult(
        correct=int(is_correct.sum()), total=int(len(answered)), oov=int((~known).sum()),
        sections=scores,
        semantic=SectionScore.of(correct[~syn].sum(), total[~syn].sum()),
        syntactic=SectionScore.of(correct[syn].sum(), total[syn].sum()),
        method=method, restrict_vocab=restrict_vocab,
        section_oov={title: s for title, (_, _, s) in per_name.items()},
    )
    logger.info("%s", result)
    return result


def _solve(unit: np.ndarray, canon: np.ndarray, rows: np.ndarray, method: str) -> np.ndarray:
    """For each question row (a, b, c, d) whether the best candidate is d (up to case).

    The cosines of each distinct question word with every key are one matrix product (a table
    of at most `_TABLE_BYTES`, else one per chunk of questions); the Numba kernel then combines
    three table rows per question and keeps the best candidate in one pass, without
    materialising a questions × keys score matrix.
    """
    n = len(unit)
    q = canon[rows]  # canonical rows: the vectors used and the identity compared
    mul = method == "3cosmul"
    per_chunk = max(1, _TABLE_BYTES // (3 * 4 * max(n, 1)))
    if len(np.unique(q[:, :3])) * n * 4 <= _TABLE_BYTES:
        per_chunk = len(q)
    out = np.empty(len(q), dtype=bool)
    for lo in range(0, len(q), per_chunk):
        part = q[lo:lo + per_chunk]
        words, inverse = np.unique(part[:, :3], return_inverse=True)
        inverse = inverse.reshape(-1, 3)
        table = unit[words] @ unit.T
        if mul:
            table += 1.0
            table *= 0.5
        best = best_candidates(table, inverse[:, 0].copy(), inverse[:, 1].copy(),
                               inverse[:, 2].copy(), part[:, 0].copy(), part[:, 1].copy(),
                               part[:, 2].copy(), canon, mul, np.float32(COSMUL_EPSILON))
        out[lo:lo + per_chunk] = (best >= 0) & (canon[np.maximum(best, 0)] == part[:, 3])
    return out


# ---------------------------------------------------------------------------------- similarity
@dataclass
class SimilarityResult:
    """Correlation of cosine similarities with human scores over the in-vocabulary pairs.

    `pairs` counts the pairs in the file, `oov` those skipped (a word outside the vocabulary),
    `evaluated` = pairs − oov, `oov_ratio` = oov / pairs (a fraction; gensim returns a
    percentage). Correlations are NaN when fewer than two pairs could be scored.
    `gold` and `predicted` hold the scored pairs' human and cosine scores, `missing` the
    skipped pairs.
    """

    spearman: float
    pearson: float
    pairs: int
    oov: int
    spearman_pvalue: float = math.nan
    pearson_pvalue: float = math.nan
    gold: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    predicted: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    missing: list[tuple[str, str]] = field(default_factory=list, repr=False)

    @property
    def evaluated(self) -> int:
        return self.pairs - self.oov

    @property
    def oov_ratio(self) -> float:
        return self.oov / self.pairs if self.pairs else 0.0

    def to_dict(self) -> dict:
        return {"spearman": self.spearman, "pearson": self.pearson, "pairs": self.pairs,
                "evaluated": self.evaluated, "oov": self.oov, "oov_ratio": self.oov_ratio,
                "spearman_pvalue": self.spearman_pvalue, "pearson_pvalue": self.pearson_pvalue}

    def __str__(self) -> str:
        return (f"Spearman {self.spearman:.4f}, Pearson {self.pearson:.4f} over "
                f"{self.evaluated}/{self.pairs} pairs ({self.oov} OOV, {100 * self.oov_ratio:.1f}%)")


#: Header names (lower case) that hold the human score, in order of preference.
_SCORE_COLUMNS = ("simlex999", "simverb", "score", "similarity", "sim", "relatedness", "mean",
                  "human (mean)", "human", "gold", "rating", "average", "avg")


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is not None:
        return [part.strip() for part in line.split(delimiter)]
    if "\t" in line:
        return [part.strip() for part in line.split("\t")]
    if line.count(",") >= 2:  # CSV copies, e.g. WordSim-353's combined.csv
        return [part.strip() for part in line.split(",")]
    return line.split()


def _parse_pairs(source, delimiter: str | None):
    """(word1, word2, score) triples from a word-pair similarity file as published.

    Accepted: `w1 w2 score` separated by TABs (any extra columns ignored), or by spaces, or by
    commas; `#` comment lines; blank lines; one optional header row (its first line that is
    not a comment, recognised by a non-numeric score field), whose score column is picked by
    name (SimLex999, score, similarity, ...) or is the third of three columns.
    """
    name = _source_name(source)
    triples: list[tuple[str, str, float]] = []
    score_col = 2
    first = True
    for number, line in _lines(source):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = _split(line, delimiter)
        if first:
            first = False
            if len(parts) >= 3 and not is_number(parts[2]):
                lowered = [p.lower() for p in parts]
                score_col = next((lowered.index(c) for c in _SCORE_COLUMNS if c in lowered), None)
                if score_col is None and len(parts) == 3:
                    score_col = 2
                if score_col is None:
                    raise FormatError(f"cannot tell which column of the header {parts} holds the "
                                      f"score", path=name, line=number)
                continue
        if len(parts) <= max(score_col, 1):
            raise FormatError(f"expected 'word1 word2 score', found {len(parts)} field"
                              f"{'s' * (len(parts) != 1)}: {line[:80]!r}", path=name, line=number)
        w1, w2, raw = parts[0], parts[1], parts[score_col]
        if not w1 or not w2:
            raise FormatError(f"empty word in {line[:80]!r}", path=name, line=number)
        try:
            score = float(raw)
        except ValueError:
            raise FormatError(f"score {raw!r} is not a number", path=name, line=number) from None
        triples.append((w1, w2, score))
    if not triples:
        raise FormatError("no word pairs found", path=name)
    return triples


def word_similarity(emb, path, delimiter: str | None = None, case_insensitive: bool = True,
                    restrict_vocab: int | None = 300000) -> SimilarityResult:
    """Spearman and Pearson correlation of cosine similarity with human word-pair scores.

    Reads WordSim-353, SimLex-999, MEN, RW, SimVerb ... as published: `word1 word2 score`
    separated by TABs (or spaces, or `delimiter`), CRLF or LF, with or without a final newline,
    `#` comments (gensim's copies) and a header row (the official SimLex-999.txt, whose
    `SimLex999` column is used). `path` may also be an iterable of lines.

    As gensim's `evaluate_word_pairs`: words are looked up among the first `restrict_vocab`
    keys (None: all), upper-cased when `case_insensitive`; pairs with an unknown word are
    skipped and counted in `oov`; correlations are over the remaining pairs (scipy.stats).
    """
    if restrict_vocab is not None and restrict_vocab <= 0:
        raise InvalidInputError(f"restrict_vocab must be positive or None, got {restrict_vocab}")
    triples = _parse_pairs(path, delimiter)
    lookup, _, unit = _vocabulary(emb, restrict_vocab, case_insensitive)
    fold = str.upper if case_insensitive else (lambda w: w)
    ia = np.array([lookup.get(fold(w1), -1) for w1, _, _ in triples], dtype=np.int64)
    ib = np.array([lookup.get(fold(w2), -1) for _, w2, _ in triples], dtype=np.int64)
    gold_all = np.array([s for _, _, s in triples], dtype=np.float64)
    known = (ia >= 0) & (ib >= 0)
    gold = gold_all[known]
    predicted = np.einsum("ij,ij->i", unit[ia[known]], unit[ib[known]]).astype(np.float64)
    missing = [(w1, w2) for (w1, w2, _), k in zip(triples, known) if not k]
    spearman = pearson = sp_p = pe_p = math.nan
    if len(gold) >= 2:
        from scipy import stats

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant input: NaN, said below
            sp = stats.spearmanr(gold, predicted)
            spearman, sp_p = float(sp.statistic), float(sp.pvalue)
            if np.ptp(gold) > 0 and np.ptp(predicted) > 0:
                pe = stats.pearsonr(gold, predicted)
                pearson, pe_p = float(pe.statistic), float(pe.pvalue)
    if math.isnan(spearman):
        logger.warning("%s: correlation undefined (%d scored pairs of %d)",
                       _source_name(path), len(gold), len(triples))
    result = SimilarityResult(spearman=spearman, pearson=pearson, pairs=len(triples),
                              oov=int((~known).sum()), spearman_pvalue=sp_p, pearson_pvalue=pe_p,
                              gold=gold, predicted=predicted, missing=missing)
    logger.info("%s: %s", _source_name(path), result)
    return result
