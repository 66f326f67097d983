"""Corpus: streaming sentences from files (plain, .gz, many, one huge line) and iterables."""

import gzip
import logging

import numpy as np
import pytest

from embedworks.data import Corpus, write_corpus
from embedworks.data import corpus as corpus_mod
from embedworks.errors import InvalidInputError


def test_text8_like_single_line_is_cut_into_chunks(tmp_path, monkeypatch):
    words = [f"w{i}" for i in range(25)]
    path = tmp_path / "text8"
    path.write_text(" " + " ".join(words))  # one line, no trailing newline
    monkeypatch.setattr(corpus_mod, "BLOCK_BYTES", 7)  # tokens cut by block ends
    sentences = list(Corpus(path, max_sentence_length=10))
    assert [len(s) for s in sentences] == [10, 10, 5]
    assert sum(sentences, []) == words


def test_lines_are_sentences_and_long_lines_are_chunked(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "BLOCK_BYTES", 5)
    path = tmp_path / "c.txt"
    path.write_text("a b c\n\n  d e f g h i j  \r\nk\n")
    assert list(Corpus(path, max_sentence_length=4)) == [
        ["a", "b", "c"], ["d", "e", "f", "g"], ["h", "i", "j"], ["k"]]
    # re-iterable
    assert list(Corpus(path, max_sentence_length=4)) == list(Corpus(path, max_sentence_length=4))


def test_gz_and_list_of_paths(tmp_path):
    plain = tmp_path / "a.txt"
    plain.write_text("the cat sat\non the mat\n")
    gz = tmp_path / "b.txt.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as f:
        f.write("naïve café\nthe end")
    assert list(Corpus(gz)) == [["naïve", "café"], ["the", "end"]]
    corpus = Corpus([plain, str(gz)])
    assert list(corpus) == [["the", "cat", "sat"], ["on", "the", "mat"], ["naïve", "café"], ["the", "end"]]
    assert corpus.decode_errors == 0


def test_multibyte_characters_across_block_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "BLOCK_BYTES", 3)
    path = tmp_path / "u.txt"
    text = "ελληνικά 日本語 émoji😀 x\n"
    path.write_bytes(text.encode("utf-8"))
    corpus = Corpus(path)
    assert list(corpus) == [text.split()]
    assert corpus.decode_errors == 0


def test_invalid_utf8_is_replaced_counted_and_reported(tmp_path, caplog):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"caf\xe9 ok\n\xff\xfe word\n")
    corpus = Corpus(path)
    with caplog.at_level(logging.WARNING, logger="embedworks.data.corpus"):
        sentences = list(corpus)
    assert sentences == [["caf\ufffd", "ok"], ["\ufffd\ufffd", "word"]]
    assert corpus.decode_errors == 3
    assert corpus.decode_errors_by_file[str(path)] == 3
    assert any("bad.txt" in r.getMessage() and "3" in r.getMessage() for r in caplog.records)


def test_iterables_generators_and_strings():
    data = [["a", "b"], ("c",), "d e f", np.array([1, 2, 3])]
    corpus = Corpus(data, max_sentence_length=2)
    got = list(corpus)
    assert got[:4] == [["a", "b"], ["c"], ["d", "e"], ["f"]]
    assert np.array_equal(got[4], [1, 2, 3])
    assert len(list(corpus)) == 5  # re-iterable
    gen = Corpus(s for s in [["x"]])
    assert gen.one_shot and list(gen) == [["x"]]
    with pytest.raises(InvalidInputError, match="one-shot"):
        list(gen)
    # a list of strings with spaces is a list of sentences, not of paths
    assert list(Corpus(["the cat", "a dog"])) == [["the", "cat"], ["a", "dog"]]


def test_bad_sources(tmp_path):
    with pytest.raises(InvalidInputError, match="not found"):
        Corpus(tmp_path / "missing.txt")
    with pytest.raises(InvalidInputError, match="not found"):
        Corpus([str(tmp_path / "missing.txt")])
    with pytest.raises(InvalidInputError):
        Corpus(42)
    with pytest.raises(InvalidInputError):
        Corpus(b"bytes")
    with pytest.raises(InvalidInputError):
        list(Corpus([3.5]))


def test_write_corpus_round_trip(tmp_path):
    sentences = [["a", "b"], ["ç", "d"], np.array([1, 2])]
    for name in ("out.txt", "out.txt.gz"):
        path = write_corpus(sentences, tmp_path / name)
        assert list(Corpus(path)) == [["a", "b"], ["ç", "d"], ["1", "2"]]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
