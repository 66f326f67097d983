"""Text evaluation: STS-B reading and correlation, BEIR reading and retrieval metrics, classification.

Every metric is checked against values worked by hand on tiny inputs.
"""

import gzip
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from embedworks.errors import FormatError, InvalidInputError
from embedworks.evaluate import (
    ClassificationResult, RetrievalResult, STSResult, classification, read_beir, read_sts, retrieval, sts,
)

DATA = Path(os.environ.get("EMBEDWORKS_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
LOG2_3 = math.log2(3)


# ------------------------------------------------------------------------------------------ STS
def test_read_sts_published_layout(tmp_path):
    rows = ["main-captions\tMSRvid\t2012test\t0001\t5.000\tA plane is taking off.\tAn air plane is taking off.",
            'main-news\theadlines\t2013\t0002\t0.800\tHe said "yes.\tShe said no.\tsource\tlicence',
            "main-forums\tdeft-forum\t2014\t0003\t3.250\tOne, two\tthree\r"]
    path = tmp_path / "sts-test.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    data = read_sts(path)
    assert data.sentences1 == ["A plane is taking off.", 'He said "yes.', "One, two"]
    assert data.sentences2 == ["An air plane is taking off.", "She said no.", "three"]
    np.testing.assert_array_equal(data.scores, [5.0, 0.8, 3.25])
    first, second, scores = data  # unpacks as a plain triple


@pytest.mark.parametrize("line, message", [
    ("genre\tfile\t2012\t0001\t5.0\tonly one sentence", "expected 7 TAB-separated columns"),
    ("genre\tfile\t2012\t0001\tfive\ta\tb", "score 'five'"),
])
def test_read_sts_bad_rows_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "sts.csv"
    path.write_text("g\tf\t2012\t0000\t1.0\ta\tb\n" + line + "\n", encoding="utf-8")
    with pytest.raises(FormatError, match=message) as error:
        read_sts(path)
    assert "sts.csv, line 2" in str(error.value)


VECTORS = {"a": [1.0, 0.0], "b": [2.0, 0.0], "c": [0.0, 3.0], "d": [-1.0, 0.0]}


def test_sts_correlations_hand_computed():
    # cosines: (a, b) = 1, (a, c) = 0, (a, d) = -1; gold 5, 1, 2.
    # Spearman: ranks [3, 2, 1] vs [3, 1, 2], d² = 0 + 1 + 1 → 1 - 6·2 / (3·8) = 0.5.
    # Pearson: x = [1, 0, -1], y - ȳ = [7/3, -5/3, -2/3] → 3 / sqrt(2 · 78/9) = 9 / sqrt(156).
    calls = []

    def encode(texts):
        calls.append(list(texts))
        return np.array([VECTORS[t] for t in texts])

    result = sts(encode, ["a", "a", "a"], ["b", "c", "d"], [5, 1, 2])
    assert isinstance(result, STSResult) and result.n == 3
    assert result.spearman == pytest.approx(0.5)
    assert result.pearson == pytest.approx(9 / math.sqrt(156))
    np.testing.assert_allclose(result.predicted, [1, 0, -1], atol=1e-12)
    assert calls == [["a", "b", "c", "d"]]  # every distinct sentence encoded once
    assert result.to_dict() == {"spearman": result.spearman, "pearson": result.pearson, "n": 3}


def test_sts_takes_an_object_with_encode_and_handles_zero_vectors():
    class Encoder:
        def encode(self, texts):
            return np.array([VECTORS.get(t, [0.0, 0.0]) for t in texts])

    result = sts(Encoder(), ["a", "a", "zero"], ["b", "c", "a"], [3, 2, 1])
    np.testing.assert_allclose(result.predicted, [1, 0, 0])
    assert result.spearman == pytest.approx(math.sqrt(3) / 2)  # ranks [3, 1.5, 1.5] vs [3, 2, 1]


def test_sts_bad_input():
    with pytest.raises(InvalidInputError, match="as many"):
        sts(lambda t: np.ones((len(t), 2)), ["a", "b"], ["c"], [1, 2])
    with pytest.raises(InvalidInputError, match="returned shape"):
        sts(lambda t: np.ones(len(t)), ["a", "b"], ["c", "d"], [1, 2])
    with pytest.raises(InvalidInputError, match="encoder with .encode"):
        sts(42, ["a", "b"], ["c", "d"], [1, 2])
    with pytest.raises(InvalidInputError, match=r"sentences2\[1\] is int"):
        sts(lambda t: np.ones((len(t), 2)), ["a", "b"], ["c", 4], [1, 2])


# ------------------------------------------------------------------------------------------ BEIR
def write_beir(folder: Path):
    folder.mkdir()
    corpus = [{"_id": "d1", "title": "Cats", "text": "Cats purr.", "metadata": {}},
              {"_id": "d2", "title": "", "text": "Dogs bark."},
              {"_id": 3, "title": "Stocks", "text": "Markets fell."}]
    with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(doc) + "\n" for doc in corpus)
    queries = [{"_id": "q1", "text": "do cats purr?", "metadata": {}}, {"_id": "q2", "text": "markets"},
               {"_id": "q9", "text": "a training query"}]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_bytes(b"query-id\tcorpus-id\tscore\r\nq1\td1\t2\r\nq1\td2\t0\r\nq2\t3\t1\r\n")
    (folder / "qrels" / "train.tsv").write_bytes(b"query-id\tcorpus-id\tscore\nq9\td2\t1\n")


def test_read_beir(tmp_path):
    write_beir(tmp_path / "toy")
    data = read_beir(tmp_path / "toy")
    assert data.corpus == {"d1": {"title": "Cats", "text": "Cats purr."}, "d2": {"title": "", "text": "Dogs bark."},
                           "3": {"title": "Stocks", "text": "Markets fell."}}
    assert data.queries == {"q1": "do cats purr?", "q2": "markets"}  # only the split's queries
    assert data.qrels == {"q1": {"d1": 2, "d2": 0}, "q2": {"3": 1}}
    corpus, queries, qrels = read_beir(tmp_path / "toy", split="train")
    assert queries == {"q9": "a training query"} and qrels == {"q9": {"d2": 1}}


def test_read_beir_errors(tmp_path):
    write_beir(tmp_path / "toy")
    with pytest.raises(FileNotFoundError, match="splits here: test, train"):
        read_beir(tmp_path / "toy", split="dev")
    (tmp_path / "toy" / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq7\td1\t1\n")
    with pytest.raises(FormatError, match="'q7'"):
        read_beir(tmp_path / "toy")
    (tmp_path / "toy" / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\thigh\n")
    with pytest.raises(FormatError, match="test.tsv, line 2: score 'high'"):
        read_beir(tmp_path / "toy")
    (tmp_path / "toy" / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    (tmp_path / "toy" / "queries.jsonl").write_text('{"_id": "q1", "text": "ok"}\n{broken\n')
    with pytest.raises(FormatError, match="queries.jsonl, line 2"):
        read_beir(tmp_path / "toy")
    with pytest.raises(FileNotFoundError):
        read_beir(tmp_path / "absent")


# ------------------------------------------------------------------------------------------ retrieval
QRELS = {
    "q1": {"d1": 2, "d2": 1, "d3": 0},  # graded, d3 judged not relevant
    "q2": {"d5": 1},
    "q3": {"d8": 1},                    # no results: scores 0
    "q5": {"d9": 0},                    # nothing relevant: skipped
}
RESULTS = {
    "q1": ["d3", "d1", "d4", "d2"],                      # a ranked list
    "q2": {"d5": 0.5, "d6": 0.5, "d7": 0.9},             # scores: d7, then the tie d6 > d5 by id (trec_eval)
    "q4": {"d1": 1.0},                                   # not judged: ignored
}


def test_retrieval_graded_ndcg_recall_mrr_worked_by_hand():
    result = retrieval(RESULTS, QRELS, k_values=[1, 3])
    assert isinstance(result, RetrievalResult)
    assert result.n_queries == 3 and result.n_missing == 1
    q1, q2, q3 = (result.per_query[q] for q in ("q1", "q2", "q3"))
    # q1: gains by rank [0, 2, 0, 1]; DCG@10 = 2/log2(3) + 1/log2(5); IDCG = 2/log2(2) + 1/log2(3).
    assert q1["ndcg@10"] == pytest.approx((2 / LOG2_3 + 1 / math.log2(5)) / (2 + 1 / LOG2_3))
    assert q1["ndcg@10"] == pytest.approx(0.6433224083306327)
    assert q1["ndcg@3"] == pytest.approx((2 / LOG2_3) / (2 + 1 / LOG2_3))
    assert q1["ndcg@1"] == 0.0
    assert (q1["recall@1"], q1["recall@3"], q1["recall@10"]) == (0.0, 0.5, 1.0)
    assert q1["precision@3"] == pytest.approx(1 / 3) and q1["precision@10"] == pytest.approx(0.2)
    assert (q1["mrr@1"], q1["mrr@10"]) == (0.0, 0.5)
    # q2: ranking d7, d6, d5 → the one relevant document at rank 3.
    assert q2["ndcg@10"] == pytest.approx(1 / math.log2(4)) and q2["mrr@10"] == pytest.approx(1 / 3)
    assert q2["recall@1"] == 0 and q2["recall@3"] == 1
    assert all(value == 0 for value in q3.values())
    assert result.ndcg_at_10 == pytest.approx((0.6433224083306327 + 0.5 + 0) / 3)
    assert result.recall_at_100 == pytest.approx(2 / 3)
    assert result.mrr_at_10 == pytest.approx((0.5 + 1 / 3) / 3)
    assert sorted(result.ndcg) == [1, 3, 10, 100]
    flat = result.to_dict()
    assert flat["ndcg@10"] == result.ndcg_at_10 and flat["recall@3"] == result.recall[3]
    assert flat["n_queries"] == 3 and flat["n_missing"] == 1 and "per_query" not in flat


def test_retrieval_takes_search_output_and_compares_ids_as_strings():
    qrels = {"1": {"10": 1, "20": 1}}
    a = retrieval({1: [(10, 0.9), (30, 0.8), (10, 0.7), (20, 0.1)]}, qrels)  # repeated 10 ignored
    b = retrieval({"1": ["10", "30", "20"]}, qrels)
    assert a.to_dict() == b.to_dict()
    assert a.ndcg_at_10 == pytest.approx((1 + 1 / 2) / (1 + 1 / LOG2_3))  # hits at ranks 1 and 3


def test_retrieval_perfect_ranking_and_errors():
    perfect = retrieval({"q": {"a": 3.0, "b": 2.0, "c": 1.0}}, {"q": {"a": 3, "b": 2, "c": 1}})
    assert perfect.ndcg_at_10 == pytest.approx(1) and perfect.mrr_at_10 == 1
    with pytest.raises(InvalidInputError, match="no query of the qrels"):
        retrieval({"q": ["a"]}, {"q": {"a": 0}})
    with pytest.raises(InvalidInputError, match="at least 1"):
        retrieval({"q": ["a"]}, {"q": {"a": 1}}, k_values=[0])


# ------------------------------------------------------------------------------------------ classification
def test_classification_accuracy_and_macro_f1_hand_computed():
    rng = np.random.default_rng(0)
    train_X = np.concatenate([rng.normal(-5, 0.5, (20, 2)), rng.normal(5, 0.5, (20, 2))])
    train_y = ["neg"] * 20 + ["pos"] * 20
    test_X = np.array([[-5, -5], [-4, -4], [5, 5], [4, 4]])
    test_y = ["neg", "neg", "pos", "neg"]  # the last one is mislabelled: predicted "pos"
    result = classification(train_X, train_y, test_X, test_y, seed=0)
    assert isinstance(result, ClassificationResult)
    assert result.accuracy == pytest.approx(3 / 4)
    # neg: tp 2, fn 1 → F1 4/5; pos: tp 1, fp 1 → F1 2/3.
    assert result.macro_f1 == pytest.approx((4 / 5 + 2 / 3) / 2)
    assert result.to_dict() == {"accuracy": 0.75, "macro_f1": result.macro_f1, "n_train": 40, "n_test": 4,
                                "n_classes": 2}


def test_classification_bad_input():
    X = np.zeros((4, 2))
    with pytest.raises(InvalidInputError, match="4 training vectors but 3"):
        classification(X, [0, 1, 0], X, [0, 1, 0, 1])
    with pytest.raises(InvalidInputError, match="1 class"):
        classification(X, [1, 1, 1, 1], X, [0, 1, 0, 1])
    with pytest.raises(InvalidInputError, match="2 dims, test vectors 3"):
        classification(X, [0, 1, 0, 1], np.zeros((2, 3)), [0, 1])


# ------------------------------------------------------------------------------------------ real data
STS_TEST = DATA / "sts" / "sts-test.csv"
SCIFACT = DATA / "beir-scifact"


@pytest.mark.slow
@pytest.mark.skipif(not STS_TEST.exists(), reason="shared STS-B data not available")
def test_real_sts_benchmark_files():
    test = read_sts(STS_TEST)
    assert len(test.scores) == 1379 and test.scores.min() >= 0 and test.scores.max() <= 5
    assert test.sentences1[0] == "A girl is styling her hair."
    assert len(read_sts(DATA / "sts" / "sts-dev.csv").scores) == 1500
    train = read_sts(DATA / "sts" / "sts-train.csv")
    assert len(train.scores) == 5749

    from embedworks.encode.lsa import LSA

    lsa = LSA(dim=64, workers=1).fit(train.sentences1 + train.sentences2)
    result = sts(lsa, *test)
    assert 0.3 < result.spearman < 0.6 and result.n == 1379


@pytest.mark.slow
@pytest.mark.skipif(not SCIFACT.exists(), reason="shared BEIR SciFact data not available")
def test_real_beir_scifact():
    corpus, queries, qrels = read_beir(SCIFACT)
    assert len(corpus) == 5183 and len(queries) == 300
    assert sum(len(judged) for judged in qrels.values()) == 339
    assert all(doc in corpus for judged in qrels.values() for doc in judged)
    # an oracle run puts every relevant document first: nDCG@10 = recall@100 = MRR@10 = 1
    oracle = retrieval({q: list(judged) for q, judged in qrels.items()}, qrels)
    assert (oracle.ndcg_at_10, oracle.recall_at_100, oracle.mrr_at_10) == (1, 1, 1)
