"""Word-level evaluation: analogy accuracy and word-pair similarity, against hand-computed values."""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import numpy as np
import pytest

from embedworks import Embeddings
from embedworks.errors import FormatError, InvalidInputError
from embedworks.evaluate import AnalogyResult, SectionScore, SimilarityResult, analogy, word_similarity
from embedworks.evaluate import words as words_module

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMBEDWORKS_DATA", REPO.parent / "shared" / "data"))
WORDSIM = DATA / "wordsim"


# ------------------------------------------------------------------------------ tiny embeddings
def royal() -> Embeddings:
    """man=(1,0,0), king=(1,1,0), woman=(1,0,1), queen=(1,1,1), apple=(0,0,-1).

    Unit vectors: man e1, king (1,1,0)/√2, woman (1,0,1)/√2, queen (1,1,1)/√3, apple -e3.
    "man king woman ?" scores cos(x,king) + cos(x,woman) − cos(x,man) over the two candidates:
      queen: 2/√6 + 2/√6 − 1/√3 = 1.0556      apple: 0 − 1/√2 − 0 = −0.7071   → queen.
    "man king apple ?" (expected woman): candidates woman and queen:
      woman: 1/2 − 1/√2 − 1/√2 = −0.9142      queen: 2/√6 − 1/√3 − 1/√3 = −0.3382 → queen (wrong).
    """
    return Embeddings(["man", "king", "woman", "queen", "apple"],
                      [[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0, 0, -1]])


def test_analogy_hand_computed_answers_and_sections():
    lines = [": capital-ish", "man king woman queen", "man king apple woman",
             ": gram-ish", "king man queen woman"]
    # "king man queen ?": woman: cos(w,man) + cos(w,queen) − cos(w,king) = 1/√2 + 2/√6 − 1/2 = 1.0236
    #                     apple: 0 − 1/√3 − 0 = −0.5774 → woman (right)
    result = analogy(royal(), lines)
    assert isinstance(result, AnalogyResult)
    assert (result.correct, result.total, result.oov) == (2, 3, 0)
    assert result.accuracy == pytest.approx(2 / 3)
    assert result.sections == {"capital-ish": SectionScore(1, 2, 0.5), "gram-ish": SectionScore(1, 1, 1.0)}
    assert result.semantic == (1, 2, 0.5) and type(result.semantic.accuracy) is float
    assert result.syntactic == (1, 1, 1.0)
    d = result.to_dict()
    assert d["accuracy"] == pytest.approx(2 / 3) and d["sections"]["gram-ish"]["correct"] == 1
    assert d["semantic"] == {"correct": 1, "total": 2, "accuracy": 0.5}


def test_analogy_oov_question_skipped_and_counted():
    lines = [": s", "man king woman queen", "man king woman princess", "MAN prince woman queen"]
    result = analogy(royal(), lines)
    assert (result.correct, result.total, result.oov) == (1, 1, 2)
    assert result.questions == 3
    assert result.oov_ratio == pytest.approx(2 / 3)
    assert result.section_oov == {"s": 2}


def test_restrict_vocab_excludes_words_beyond_the_first_n():
    lines = [": s", "man king woman queen", "man king apple woman"]
    full = analogy(royal(), lines)
    assert (full.total, full.oov) == (2, 0)
    cut = analogy(royal(), lines, restrict_vocab=4)  # apple is row 4: out
    assert (cut.correct, cut.total, cut.oov) == (1, 1, 1)
    assert cut.restrict_vocab == 4


def test_restrict_vocab_also_limits_the_candidates():
    # a decoy exactly on the 3CosAdd target of "man king woman ?" sits at row 5
    emb = Embeddings(["man", "king", "woman", "queen", "apple", "decoy"],
                     [[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0, 0, -1], [0.29289, 0.70711, 0.70711]])
    lines = [": s", "man king woman queen"]
    assert analogy(emb, lines, restrict_vocab=None).correct == 0  # decoy wins
    assert analogy(emb, lines, restrict_vocab=5).correct == 1  # decoy not a candidate


def test_case_insensitive_matches_gensim_semantics():
    # "Woman" (after "woman") would beat queen for "man king woman ?":
    # unit (1,1,1.2)/1.8547: cos king 0.7625 + cos woman 0.8388 − cos man 0.5392 = 1.0621 > 1.0556
    emb = Embeddings(["man", "king", "woman", "queen", "apple", "Woman"],
                     [[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0, 0, -1], [1, 1, 1.2]])
    lines = [": s", "man king woman queen"]
    # case-insensitive: "Woman" is a variant of the question word "woman", never an answer
    assert analogy(emb, lines).correct == 1
    # case-sensitive: "Woman" is another word, and it wins
    assert analogy(emb, lines, case_insensitive=False).correct == 0
    # upper-case questions only match case-insensitively
    upper = [": s", "MAN KING WOMAN QUEEN"]
    assert analogy(emb, upper).correct == 1
    assert analogy(emb, upper, case_insensitive=False).oov == 1


def test_case_insensitive_uses_the_first_variant_vector():
    # "Man" = −e3 comes before "man" = e1: case-insensitively, "man" in a question means −e3
    emb = Embeddings(["Man", "man", "king", "woman", "queen", "x"],
                     [[0, 0, -1], [1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0.5, 0.5, 1]])
    lines = [": s", "man king woman queen"]
    # x unit (1,1,2)/√6: cos king 0.5774 + cos woman 0.8660 − cos Man (−0.8165) = 2.2599
    # queen:              cos king 0.8165 + cos woman 0.8165 − cos Man (−0.5774) = 2.2104 → x
    assert analogy(emb, lines).correct == 0
    # case-sensitively "man" is e1: x 0.5774 + 0.8660 − 0.4082 = 1.0352 < queen 0.8165 + 0.8165
    # − 0.5774 = 1.0556 → queen
    assert analogy(emb, lines, case_insensitive=False).correct == 1


def test_3cosmul_picks_a_different_answer_than_3cosadd():
    """a = e4, b = e1, c = e2; x1 has cos 0.99 with b, 0 with c; x2 cos 0.45 with both; both 0 with a.

    3CosAdd: x1 0.99 + 0 − 0 = 0.99 > x2 0.45 + 0.45 = 0.90                       → x1
    3CosMul: x1 (1.99/2)(1/2) / (1/2 + 0.001) = 0.99301 < x2 (1.45/2)² / 0.501 = 1.04915 → x2
    """
    x1 = [0.99, 0, 0, 0, math.sqrt(1 - 0.99 ** 2)]
    x2 = [0.45, 0.45, 0, 0, math.sqrt(1 - 2 * 0.45 ** 2)]
    emb = Embeddings(["a", "b", "c", "x1", "x2"],
                     [[0, 0, 0, 1, 0], [1, 0, 0, 0, 0], [0, 1, 0, 0, 0], x1, x2])
    lines = [": s", "a b c x2"]
    assert analogy(emb, lines, method="3cosadd").correct == 0
    mul = analogy(emb, lines, method="3cosmul")
    assert mul.correct == 1 and mul.method == "3cosmul"
    assert analogy(emb, [": s", "a b c x1"], method="3cosadd").correct == 1


def test_unknown_method_and_bad_restrict():
    with pytest.raises(InvalidInputError, match="3cosadd"):
        analogy(royal(), [": s", "man king woman queen"], method="cosine")
    with pytest.raises(InvalidInputError, match="restrict_vocab"):
        analogy(royal(), [": s", "man king woman queen"], restrict_vocab=0)


def _reference(emb, lines, method, restrict, case_insensitive=True):
    """Slow per-question reference with gensim's rules."""
    keys = emb.keys[:restrict]
    fold = str.upper if case_insensitive else (lambda w: w)
    first = {}
    for i, k in enumerate(keys):
        first.setdefault(fold(k), i)
    unit = emb.vectors[:restrict] / np.linalg.norm(emb.vectors[:restrict], axis=1)[:, None]
    correct = total = 0
    for line in lines:
        if line.startswith(":"):
            continue
        ws = [fold(w) for w in line.split()]
        if not all(w in first for w in ws):
            continue
        total += 1
        a, b, c, d = (first[w] for w in ws)
        cos = unit @ unit[[a, b, c]].T
        if method == "3cosadd":
            score = cos[:, 1] + cos[:, 2] - cos[:, 0]
        else:
            s = (cos + 1) / 2
            score = s[:, 1] * s[:, 2] / (s[:, 0] + 1e-3)
        for i, k in enumerate(keys):
            if fold(k) in ws[:3]:
                score[i] = -np.inf
        correct += first[fold(keys[int(np.argmax(score))])] == d
    return correct, total


@pytest.fixture
def random_case():
    rng = np.random.default_rng(7)
    base = [f"w{i}" for i in range(60)]
    keys = base + [w.upper() for w in base[::5]] + [f"z{i}" for i in range(40)]
    rng.shuffle(keys)
    emb = Embeddings(keys, rng.normal(size=(len(keys), 8)))
    lines = [": one"]
    for q in range(300):
        if q == 150:
            lines.append(": gram-two")
        picks = rng.choice(len(base) + 5, size=4, replace=False)  # some words unknown (w60..w64)
        lines.append(" ".join(f"w{p}" if p % 3 else f"W{p}" for p in picks))
    return emb, lines


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
@pytest.mark.parametrize("restrict", [None, 70])
def test_batched_scoring_matches_slow_reference(random_case, method, restrict, monkeypatch):
    emb, lines = random_case
    expected = _reference(emb, lines, method, restrict)
    result = analogy(emb, lines, restrict_vocab=restrict, method=method)
    assert (result.correct, result.total) == expected
    assert result.oov == 300 - expected[1]
    # the chunked path (cosine table too big for one go) gives the same answers
    monkeypatch.setattr(words_module, "_TABLE_BYTES", 4 * len(emb) * 3 * 7)
    chunked = analogy(emb, lines, restrict_vocab=restrict, method=method)
    assert (chunked.correct, chunked.total) == expected
    assert chunked.sections == result.sections


def test_analogy_reads_files_crlf_gz_and_no_final_newline(tmp_path):
    text = ": capital-ish\r\nman king woman queen\r\n\r\n: gram-ish\r\nking man queen woman"
    plain = tmp_path / "q.txt"
    plain.write_bytes(text.encode())
    packed = tmp_path / "q.txt.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    for source in (plain, str(plain), packed):
        result = analogy(royal(), source)
        assert (result.correct, result.total) == (2, 2)
        assert list(result.sections) == ["capital-ish", "gram-ish"]


@pytest.mark.parametrize("text, line, message", [
    (": s\nman king woman\n", 2, "4 words"),
    (": s\nman king woman queen\nman king woman queen apple\n", 3, "4 words"),
    ("man king woman queen\n", 1, "before the first"),
    (":\nman king woman queen\n", 1, "without a name"),
])
def test_analogy_malformed_lines_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(FormatError, match=message) as info:
        analogy(royal(), path)
    assert info.value.line == line and str(path) in str(info.value)


def test_analogy_empty_and_non_utf8(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text(": s\n\n")
    with pytest.raises(FormatError, match="no analogy questions"):
        analogy(royal(), empty)
    binary = tmp_path / "latin1.txt"
    binary.write_bytes(b": s\nman king woman queen\nman king caf\xe9 queen\n")
    with pytest.raises(FormatError, match="UTF-8") as info:
        analogy(royal(), binary)
    assert info.value.line == 3


# ------------------------------------------------------------------------------ similarity
def compass() -> Embeddings:
    """x along e1; cosines with x: p 1, q 0.5, r 0, s −1."""
    return Embeddings(["x", "p", "q", "r", "s"],
                      [[1, 0], [2, 0], [0.5, math.sqrt(3) / 2], [0, 3], [-1, 0]])


# gold 9, 4, 6, 1 against cosines 1, 0.5, 0, −1:
#   ranks gold 4, 2, 3, 1; ranks cosine 4, 3, 2, 1; Σd² = 2; ρ = 1 − 6·2 / (4·15) = 0.8
#   Pearson: gold deviations 4, −1, 1, −4 (Σ² 34); cosine deviations .875, .375, −.125, −1.125
#   (Σ² 2.1875); Σ products 7.5; r = 7.5 / √(34 · 2.1875) = 0.869656
SPEARMAN = 0.8
PEARSON = 7.5 / math.sqrt(34 * 2.1875)


def check_compass(result: SimilarityResult, pairs=5, oov=1):
    assert isinstance(result, SimilarityResult)
    assert result.spearman == pytest.approx(SPEARMAN)
    assert result.pearson == pytest.approx(PEARSON)
    assert (result.pairs, result.oov, result.evaluated) == (pairs, oov, pairs - oov)
    assert result.oov_ratio == pytest.approx(oov / pairs)
    assert np.allclose(result.predicted, [1, 0.5, 0, -1], atol=1e-6)


LAYOUTS = {
    # eval-word-vectors EN-*.txt: TAB, CRLF, no final newline, capitals
    "en-crlf": "X\tp\t9\r\nx\tq\t4\r\nx\tr\t6\r\nx\tunknown\t3\r\nx\ts\t1",
    # official SimLex-999.txt: header row, 10 columns, the score is column "SimLex999"
    "simlex-official": ("word1\tword2\tPOS\tSimLex999\tconc(w1)\tconc(w2)\tconcQ\tAssoc(USF)\t"
                        "SimAssoc333\tSD(SimLex)\r\n"
                        "x\tp\tN\t9\t2.7\t2.8\t2\t7.25\t1\t0.41\r\n"
                        "x\tq\tN\t4\t1\t1\t1\t1\t1\t1\r\n"
                        "x\tr\tN\t6\t1\t1\t1\t1\t1\t1\r\n"
                        "x\tunknown\tN\t3\t1\t1\t1\t1\t1\t1\r\n"
                        "x\ts\tN\t1\t1\t1\t1\t1\t1\t1\r\n"),
    # gensim's copies: two '#' comment lines
    "gensim": ("# The SimLex-999 Test data (https://www.cl.cam.ac.uk/~fh295/simlex.html)\n"
               "# Word 1\tWord 2\tHuman (mean)\nx\tp\t9\nx\tq\t4\nx\tr\t6\nx\tunknown\t3\nx\ts\t1\n"),
    # MEN-style space separated
    "spaces": "x p 9.000000\nx q 4.000000\n\nx r 6.000000\nx unknown 3\nx s 1\n",
    # WordSim-353's combined.csv
    "csv": "Word 1,Word 2,Human (mean)\nx,p,9\nx,q,4\nx,r,6\nx,unknown,3\nx,s,1\n",
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_word_similarity_reads_published_layouts(tmp_path, layout):
    path = tmp_path / f"{layout}.txt"
    path.write_bytes(LAYOUTS[layout].encode())
    check_compass(word_similarity(compass(), path))


def test_word_similarity_lines_delimiter_and_case(tmp_path):
    lines = ["x|p|9", "x|q|4", "x|r|6", "x|unknown|3", "x|s|1"]
    check_compass(word_similarity(compass(), lines, delimiter="|"))
    upper = ["X\tP\t9", "x\tq\t4", "x\tr\t6", "x\tunknown\t3", "x\ts\t1"]
    strict = word_similarity(compass(), upper, case_insensitive=False)  # "X P" and "unknown" out
    assert (strict.pairs, strict.oov) == (5, 2)
    assert strict.spearman == pytest.approx(0.5)  # gold 4, 6, 1 vs cos 0.5, 0, −1: Σd² = 2 → 1 − 12/24
    check_compass(word_similarity(compass(), upper))


def test_word_similarity_restrict_vocab_and_to_dict():
    lines = ["x\tp\t9", "x\tq\t4", "x\tr\t6", "x\ts\t1"]
    result = word_similarity(compass(), lines, restrict_vocab=4)  # s (row 4) is out
    assert (result.pairs, result.oov, result.evaluated) == (4, 1, 3)
    assert result.missing == [("x", "s")]
    # gold 9, 4, 6 against cosines 1, 0.5, 0: ranks 3,1,2 vs 3,2,1 → ρ = 1 − 6·2/(3·8) = 0.5
    assert result.spearman == pytest.approx(0.5)
    d = result.to_dict()
    assert d["pairs"] == 4 and d["oov"] == 1 and d["spearman"] == pytest.approx(0.5)


def test_word_similarity_too_few_pairs_gives_nan():
    result = word_similarity(compass(), ["x\tp\t9", "x\tnope\t3"])
    assert math.isnan(result.spearman) and math.isnan(result.pearson)
    assert (result.pairs, result.oov) == (2, 1)


@pytest.mark.parametrize("text, line, message", [
    ("x\tp\t9\nx\tq\n", 2, "expected 'word1 word2 score'"),
    ("x\tp\t9\nx\tq\tlots\n", 2, "not a number"),
    ("# c\nx\tp\t9\r\nx\t\t4\r\n", 3, "empty word"),
    ("a\tb\tc\td\nx\tp\t9\n", 1, "which column"),
])
def test_word_similarity_malformed_lines_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(FormatError, match=message) as info:
        word_similarity(compass(), path)
    assert info.value.line == line and str(path) in str(info.value)


def test_word_similarity_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("# only a comment\n\n")
    with pytest.raises(FormatError, match="no word pairs"):
        word_similarity(compass(), path)


# ------------------------------------------------------------------------------ real files
needs_data = pytest.mark.skipif(not (WORDSIM / "questions-words.txt").exists(),
                                reason=f"word evaluation data not found under {WORDSIM}")


def _all_words_embeddings(paths) -> Embeddings:
    words = {}
    for path in paths:
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.startswith((":", "#")):
                continue
            for word in raw.replace("\t", " ").split()[:4]:
                try:
                    float(word)
                except ValueError:
                    words.setdefault(word.lower(), None)
    rng = np.random.default_rng(0)
    return Embeddings(list(words), rng.normal(size=(len(words), 16)))


@pytest.mark.slow
@needs_data
def test_real_files_parse_with_published_counts():
    pair_files = {"EN-WS-353-ALL.txt": 353, "gensim-wordsim353.tsv": 353, "SimLex-999.txt": 999,
                  "EN-SIMLEX-999.txt": 999, "gensim-simlex999.txt": 999}
    questions = WORDSIM / "questions-words.txt"
    emb = _all_words_embeddings([questions] + [WORDSIM / f for f in pair_files])
    result = analogy(emb, questions, restrict_vocab=None)
    assert result.questions == 19544 and result.oov == 0
    assert len(result.sections) == 14
    assert result.semantic.total == 8869 and result.syntactic.total == 10675
    scores = {}
    for name, count in pair_files.items():
        res = word_similarity(emb, WORDSIM / name)
        assert (res.pairs, res.oov) == (count, 0), name
        scores[name] = res
    # the official SimLex file, its score-only copy and gensim's copy hold the same scores
    assert np.array_equal(scores["SimLex-999.txt"].gold, scores["gensim-simlex999.txt"].gold)
    assert scores["SimLex-999.txt"].spearman == pytest.approx(scores["EN-SIMLEX-999.txt"].spearman)
    # restricted to 300 words most questions become OOV and are counted
    small = analogy(emb, questions, restrict_vocab=300)
    assert small.questions == 19544 and small.oov > 0 and small.total + small.oov == 19544


@pytest.mark.slow
@needs_data
def test_real_files_agree_with_gensim():
    gensim_models = pytest.importorskip("gensim.models")
    questions = WORDSIM / "questions-words.txt"
    emb = _all_words_embeddings([questions, WORDSIM / "gensim-wordsim353.tsv"])
    rng = np.random.default_rng(1)
    order = rng.permutation(len(emb))  # so that restrict_vocab cuts through the question words
    keys = [emb.keys[i] for i in order]
    keys = [k.capitalize() if i % 11 == 0 else k for i, k in enumerate(keys)]
    keys = list(dict.fromkeys(keys))
    vectors = rng.normal(size=(len(keys), 16)).astype(np.float32)
    kv = gensim_models.KeyedVectors(16)
    kv.add_vectors(keys, vectors)
    ours = analogy(Embeddings(keys, vectors), questions, restrict_vocab=400)
    score, sections = kv.evaluate_word_analogies(str(questions), restrict_vocab=400)
    assert ours.accuracy == pytest.approx(score)
    assert ours.total == len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])
    pearson, spearman, oov = kv.evaluate_word_pairs(str(WORDSIM / "gensim-wordsim353.tsv"))
    mine = word_similarity(Embeddings(keys, vectors), WORDSIM / "gensim-wordsim353.tsv")
    assert mine.spearman == pytest.approx(spearman.statistic, abs=1e-6)  # float32 cosines
    assert mine.pearson == pytest.approx(pearson.statistic, abs=1e-6)
    assert 100 * mine.oov_ratio == pytest.approx(oov)
