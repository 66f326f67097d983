"""Semantic search over texts: corpora in every form, LSA and MiniLM encoders, save/load, the CLI."""

import gzip
import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embedworks.cli import app
from embedworks.encode.lsa import LSA
from embedworks.errors import FormatError, InvalidInputError
from embedworks.search import TextIndex, read_corpus

DATA = Path(os.environ.get("EMBEDWORKS_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
runner = CliRunner()

TOPICS = {
    "pets": ["cat", "dog", "kitten", "puppy", "fur", "vet", "leash", "purr", "paw", "collar"],
    "finance": ["stock", "market", "bond", "investor", "dividend", "shares", "trading", "price", "bank", "fund"],
    "space": ["planet", "orbit", "rocket", "nasa", "galaxy", "star", "telescope", "astronaut", "moon", "comet"],
}


def documents(per_topic=10, seed=0):
    """[(id, title, text)]: ids like "pets-3", 8 topic words per text, the topic name as the title."""
    rng = np.random.default_rng(seed)
    return [(f"{topic}-{i}", topic.title(), " ".join(rng.choice(words, size=8)))
            for topic, words in TOPICS.items() for i in range(per_topic)]


def write_jsonl(path: Path, docs) -> Path:
    lines = "".join(json.dumps({"_id": d, "title": t, "text": x, "metadata": {}}) + "\n" for d, t, x in docs)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(lines)
    else:
        path.write_text(lines, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def lsa_index():
    return TextIndex.build([(d, t, x) for d, t, x in documents()], encoder="lsa", dim=8, workers=1)


def topic_of(doc_id) -> str:
    return str(doc_id).split("-")[0]


# ------------------------------------------------------------------------------------------ corpora
def test_corpus_forms_read_alike(tmp_path):
    docs = documents(per_topic=2)
    expected = ([d for d, _, _ in docs], [t for _, t, _ in docs], [x for _, _, x in docs], 0)
    assert read_corpus(write_jsonl(tmp_path / "c.jsonl", docs)) == expected
    assert read_corpus(write_jsonl(tmp_path / "c.jsonl.gz", docs)) == expected
    assert read_corpus(docs) == expected
    assert read_corpus({d: {"title": t, "text": x} for d, t, x in docs}) == expected
    ids, titles, texts, _ = read_corpus({d: x for d, _, x in docs})
    assert ids == expected[0] and titles == [""] * len(docs) and texts == expected[2]


def test_plain_text_ids_are_line_numbers_and_empty_lines_are_skipped(tmp_path, caplog):
    path = tmp_path / "docs.txt"
    path.write_bytes("first document\r\n\n   \nthird café\n".encode("utf-8"))
    with caplog.at_level(logging.WARNING, logger="embedworks.search"):
        ids, titles, texts, skipped = read_corpus(path)
    assert ids == [1, 4] and texts == ["first document", "third café"] and skipped == 2
    assert "skipped 2 empty" in caplog.text


def test_corpus_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="corpus item 2: duplicate document id 'a' \\(first at corpus item 0\\)"):
        read_corpus([("a", "x"), ("b", "y"), ("a", "z")])
    path = write_jsonl(tmp_path / "dup.jsonl", [("d1", "", "one"), ("d1", "", "two")])
    with pytest.raises(InvalidInputError, match="dup.jsonl, line 2: duplicate document id 'd1'"):
        read_corpus(path)
    with pytest.raises(InvalidInputError, match="all strings or all integers"):
        read_corpus([("a", "x"), (2, "y")])
    with pytest.raises(InvalidInputError, match="no non-empty document"):
        read_corpus([("a", " "), ("b", "")])
    with pytest.raises(InvalidInputError, match="expected \\(id, text\\)"):
        read_corpus(["just a string"])
    (tmp_path / "bad.jsonl").write_text('{"_id": "1", "text": "fine"}\n{"text": "no id"}\n')
    with pytest.raises(FormatError, match="bad.jsonl, line 2"):
        read_corpus(tmp_path / "bad.jsonl")
    with pytest.raises(FileNotFoundError):
        read_corpus(tmp_path / "absent.txt")


# ------------------------------------------------------------------------------------------ search
def test_lsa_index_finds_documents_of_the_query_topic(lsa_index):
    assert len(lsa_index) == 30 and lsa_index.dim == 8 and lsa_index.encoder_spec == {"kind": "lsa"}
    hits = lsa_index.search("a rocket in orbit around the moon", k=5)
    assert len(hits) == 5 and all(topic_of(doc) == "space" for doc, _ in hits)
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True) and -1 <= scores[-1] <= scores[0] <= 1 + 1e-6
    batch = lsa_index.search(["a rocket in orbit around the moon", "stock market prices"], k=5)
    assert batch[0] == hits and all(topic_of(doc) == "finance" for doc, _ in batch[1])
    assert lsa_index.document(hits[0][0])["title"] == "Space"


def test_search_edge_cases(lsa_index):
    assert len(lsa_index.search("cat", k=100)) == 30  # k above the corpus size
    assert lsa_index.search("zebra xylophone") == []  # no known word: a zero vector finds nothing
    assert lsa_index.search([]) == []
    with pytest.raises(InvalidInputError, match="k must be"):
        lsa_index.search("cat", k=0)
    with pytest.raises(InvalidInputError, match="query 1 is int"):
        lsa_index.search(["cat", 3])


def test_title_and_text_are_joined_as_beir_does():
    seen = []

    class Recorder:
        def encode(self, texts):
            seen.extend(texts)
            return np.ones((len(texts), 2), dtype=np.float32)

    TextIndex.build([("a", "Title", "body text"), ("b", "", "  only text "), ("c", "only title", "")], Recorder())
    assert seen == ["Title body text", "only text", "only title"]


def test_a_fitted_lsa_model_or_its_saved_directory_serve_as_encoder(tmp_path):
    docs = documents()
    lsa = LSA(dim=6, min_df=1).fit([x for _, _, x in docs])
    direct = TextIndex.build(docs, encoder=lsa)
    from_dir = TextIndex.build(docs, encoder=lsa.save(tmp_path / "lsa"))
    assert direct.search("telescope galaxy", k=4) == from_dir.search("telescope galaxy", k=4)
    unfitted = LSA(dim=6, min_df=1)
    TextIndex.build(docs, encoder=unfitted)
    assert unfitted.fitted  # an unfitted model is fitted on the corpus


# ------------------------------------------------------------------------------------------ files
def test_save_load_round_trip_needs_no_corpus_encoding(tmp_path, lsa_index, monkeypatch):
    path = lsa_index.save(tmp_path / "index")
    assert sorted(p.name for p in path.iterdir()) == ["documents.jsonl", "encoder", "index.json", "vectors.emb"]
    meta = json.loads((path / "index.json").read_text())
    assert meta["format"] == "embedworks-text-index" and meta["version"] == 1
    assert meta["encoder"] == {"kind": "lsa"} and meta["count"] == 30 and meta["dim"] == 8

    encoded = []
    original = LSA.encode
    monkeypatch.setattr(LSA, "encode", lambda self, texts, *a, **kw: encoded.append(len(texts)) or
                        original(self, texts, *a, **kw))
    loaded = TextIndex.load(path)
    queries = ["kitten fur", "bank bond fund", "comet"]
    assert loaded.search(queries, k=7) == lsa_index.search(queries, k=7)
    assert encoded == [3, 3]  # only the queries, once per index
    assert loaded.ids == lsa_index.ids and loaded.texts == lsa_index.texts and loaded.titles == lsa_index.titles
    assert isinstance(loaded.embeddings.vectors, np.memmap)
    loaded.save(path)  # replacing an index is allowed
    assert TextIndex.load(path).search("comet", k=3) == lsa_index.search("comet", k=3)


def test_int_ids_survive_a_round_trip(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(x for _, _, x in documents()) + "\n", encoding="utf-8")
    index = TextIndex.build(path, encoder="lsa", dim=4)
    loaded = TextIndex.load(index.save(tmp_path / "index"))
    hits = loaded.search("planet star", k=3)
    assert hits == index.search("planet star", k=3) and all(isinstance(doc, int) for doc, _ in hits)
    assert all(21 <= doc <= 30 for doc, _ in hits)  # lines 21-30 are the space documents


def test_custom_encoder_must_be_given_again(tmp_path, caplog):
    class Hashing:
        def encode(self, texts):
            return np.array([[len(t), t.count("a") + 1, 1.0] for t in texts], dtype=np.float32)

    index = TextIndex.build([("x", "aaa"), ("y", "bbbbbbbbbb")], Hashing())
    with caplog.at_level(logging.WARNING, logger="embedworks.search"):
        path = index.save(tmp_path / "index")
    assert "cannot be saved" in caplog.text
    with pytest.raises(InvalidInputError, match="custom encoder \\(Hashing\\)"):
        TextIndex.load(path).search("aaa")
    assert TextIndex.load(path, encoder=Hashing()).search("aaa", k=1)[0][0] == "x"


def test_file_errors(tmp_path, lsa_index):
    unrelated = tmp_path / "photos"
    unrelated.mkdir()
    (unrelated / "cat.jpg").write_bytes(b"\xff")
    with pytest.raises(InvalidInputError, match="refusing to overwrite"):
        lsa_index.save(unrelated)
    assert sorted(p.name for p in unrelated.iterdir()) == ["cat.jpg"]
    with pytest.raises(FormatError, match="no index.json"):
        TextIndex.load(unrelated)
    path = lsa_index.save(tmp_path / "index")
    meta = json.loads((path / "index.json").read_text())
    (path / "index.json").write_text(json.dumps({**meta, "version": 7}))
    with pytest.raises(FormatError, match="version 7"):
        TextIndex.load(path)
    (path / "index.json").write_text(json.dumps(meta))
    lines = (path / "documents.jsonl").read_text().splitlines()
    (path / "documents.jsonl").write_text("\n".join(lines[1:] + lines[:1]) + "\n")
    with pytest.raises(FormatError, match="documents.jsonl, line 1: document id 'pets-1' does not match"):
        TextIndex.load(path)


def test_dimension_mismatch_with_a_replacement_encoder(tmp_path, lsa_index):
    path = lsa_index.save(tmp_path / "index")
    other = LSA(dim=3, min_df=1).fit([x for _, _, x in documents()])
    with pytest.raises(Exception, match="3-dim vectors but the index holds 8-dim"):
        TextIndex.load(path, encoder=other).search("cat")


# ------------------------------------------------------------------------------------------ CLI
def test_cli_index_text_and_search(tmp_path):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", documents())
    index_dir = tmp_path / "idx"
    result = runner.invoke(app, ["index", "text", str(corpus), "-o", str(index_dir), "--model", "lsa", "--dim", "8"])
    assert result.exit_code == 0, result.output
    assert "30 documents × 8 dims" in result.output
    result = runner.invoke(app, ["search", str(index_dir), "kitten [fur] purr", "-k", "3"])
    assert result.exit_code == 0, result.output
    assert "pets-" in result.output and "Pets" in result.output and "[fur]" in result.output
    result = runner.invoke(app, ["search", str(index_dir), "rocket orbit", "-k", "2", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["rank"] for row in rows] == [1, 2] and all(topic_of(row["id"]) == "space" for row in rows)
    assert set(rows[0]) == {"rank", "id", "score", "title", "snippet"} and rows[0]["title"] == "Space"


def test_cli_snippet_is_the_first_80_characters_of_untitled_text(tmp_path):
    corpus = tmp_path / "lines.txt"
    long_line = "cat dog " * 30
    corpus.write_text("\n".join([long_line, "stock market bond", "dog kitten cat", "bond fund stock"]) + "\n")
    index_dir = tmp_path / "idx"
    assert runner.invoke(app, ["index", "text", str(corpus), "-o", str(index_dir), "-m", "lsa", "--dim", "2"]
                         ).exit_code == 0
    rows = json.loads(runner.invoke(app, ["search", str(index_dir), "dog", "--json"]).output)
    first = next(row for row in rows if row["id"] == 1)
    assert first["title"] == "" and first["snippet"] == long_line[:80].strip()


def test_cli_errors_are_one_line(tmp_path):
    result = runner.invoke(app, ["search", str(tmp_path), "query"])
    assert result.exit_code == 1 and "no index.json" in result.output and "Traceback" not in result.output
    dup = write_jsonl(tmp_path / "dup.jsonl", [("d1", "", "one two"), ("d1", "", "three four")])
    result = runner.invoke(app, ["index", "text", str(dup), "-o", str(tmp_path / "x"), "--model", "lsa"])
    assert result.exit_code == 1 and "duplicate document id 'd1'" in result.output
    result = runner.invoke(app, ["index", "text", str(tmp_path / "none.txt"), "-o", str(tmp_path / "x")])
    assert result.exit_code == 1 and "not found" in result.output
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------------------ MiniLM
@pytest.mark.slow  # loads MiniLM twice (build, then from the saved spec): 4-15 s, ~30 s with a cold ONNX cache
def test_minilm_index_round_trip(tmp_path):
    pytest.importorskip("embedworks.encode.text")
    pytest.importorskip("torch")
    docs = [("pets", "", "My cat sleeps on the sofa all afternoon."),
            ("money", "", "The central bank raised interest rates again."),
            ("space", "", "Astronauts docked with the space station last night.")]
    index = TextIndex.build(docs, encoder="minilm")
    assert index.dim == 384 and index.encoder_spec == {"kind": "text", "model": "minilm"}
    assert index.search("a kitten napping", k=1)[0][0] == "pets"
    assert index.search("monetary policy and inflation", k=1)[0][0] == "money"
    loaded = TextIndex.load(index.save(tmp_path / "index"))
    queries = ["a kitten napping", "rocket launch"]
    for before, after in zip(index.search(queries, k=3), loaded.search(queries, k=3)):
        assert [d for d, _ in before] == [d for d, _ in after]
        np.testing.assert_allclose([s for _, s in before], [s for _, s in after], atol=1e-5)


# ------------------------------------------------------------------------------------------ real data
SCIFACT = DATA / "beir-scifact"


@pytest.mark.slow
@pytest.mark.skipif(not SCIFACT.exists(), reason="shared BEIR SciFact data not available")
def test_lsa_retrieval_on_a_scifact_subset():
    from embedworks.evaluate import read_beir, retrieval

    corpus, queries, qrels = read_beir(SCIFACT)
    judged = {doc for docs in qrels.values() for doc in docs}
    subset = {doc: corpus[doc] for i, doc in enumerate(corpus) if doc in judged or i < 500}
    index = TextIndex.build(subset, encoder="lsa", dim=64, workers=1)
    qids = list(queries)
    result = retrieval(dict(zip(qids, index.search([queries[q] for q in qids], k=100))), qrels)
    assert result.n_queries == 300 and result.n_missing == 0
    assert result.ndcg_at_10 > 0.45 and result.recall_at_100 > 0.8
