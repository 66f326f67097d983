"""Reading and writing every file format: round trips, hand-written byte fixtures, bad input, atomic writes."""

from __future__ import annotations

import gzip
import json
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from embedworks.errors import FormatError, InvalidInputError
from embedworks.formats import FORMATS, detect_format, load, save
from embedworks.space import Embeddings

DATA = Path(__file__).parent / "data" / "formats"
WORDS = ["Zürich", "東京", "naïve", "</s>"]

# Values exactly representable in float32 and in 6-decimal text, shared by the fixtures below.
TINY = [("Zürich", (0.5, -1.25, 2.0, 0.0)), ("東京", (1.0, 0.25, -0.5, 3.5)), ("naïve", (-2.0, 0.125, 1.5, -0.75))]
TINY_VECTORS = np.array([values for _, values in TINY], dtype=np.float32)

# tests/data/formats/tiny.bin and tiny.txt were written once, from the repository root, with the
# hand-rolled writers below (struct.pack, no embedworks code involved):
#
#   PYTHONPATH=src python -c "from tests.test_formats import TINY, c_tool_binary, c_tool_text
#   open('tests/data/formats/tiny.bin', 'wb').write(c_tool_binary(TINY))
#   open('tests/data/formats/tiny.txt', 'wb').write(c_tool_text(TINY))"
#
# `test_committed_fixtures_are_the_hand_written_bytes` checks they still match.


def c_tool_binary(rows, newline: bool = True) -> bytes:
    """word2vec binary as the C tool writes it: "count dim\\n", key, space, <f4 values, "\\n".

    With newline=False rows run together, as gensim writes them.
    """
    dim = len(rows[0][1])
    out = f"{len(rows)} {dim}\n".encode()
    for key, values in rows:
        out += key.encode("utf-8") + b" " + struct.pack(f"<{dim}f", *values) + (b"\n" if newline else b"")
    return out


def c_tool_text(rows) -> bytes:
    """word2vec text as the C tool writes it: "%lf " after every value, so rows end with a space."""
    out = f"{len(rows)} {len(rows[0][1])}\n"
    for key, values in rows:
        out += key + " " + "".join("%lf " % v for v in values) + "\n"
    return out.encode("utf-8")


def glove_text(rows) -> bytes:
    return "".join(key + " " + " ".join(repr(v) for v in values) + "\n" for key, values in rows).encode()


def sample(keys=WORDS, dim: int = 5, seed: int = 0, **kwargs) -> Embeddings:
    vectors = np.random.default_rng(seed).standard_normal((len(keys), dim)).astype(np.float32)
    vectors[0, :3] = [1e-38, 3.4028235e38, -0.0]  # extremes a lossy text format would garble
    return Embeddings(keys, vectors, **kwargs)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def assert_same(loaded: Embeddings, original: Embeddings) -> None:
    assert loaded.keys == original.keys
    assert loaded.vectors.dtype == np.float32
    np.testing.assert_array_equal(loaded.vectors, original.vectors)


def siblings(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# ------------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("name", ["e.emb", "e.txt", "e.bin", "e.vec", "vectors.tsv", "e.npy",
                                  "e.txt.gz", "e.bin.gz", "e.vec.gz", "e.tsv.gz", "e.npy.gz", "plain"])
def test_round_trip_by_suffix_keeps_non_ascii_keys_and_exact_floats(tmp_path, name):
    emb = sample()
    written = save(emb, tmp_path / name)
    assert written == tmp_path / name
    assert_same(load(written), emb)


@pytest.mark.parametrize("format", FORMATS)
def test_round_trip_with_explicit_format(tmp_path, format):
    emb = sample()
    path = save(emb, tmp_path / "out", format=format)
    assert_same(load(path, format=format), emb)


def test_unknown_suffix_writes_native(tmp_path):
    path = save(sample(), tmp_path / "model")
    assert detect_format(path) == "native"
    assert (path / "meta.json").is_file()


def test_native_keeps_keys_with_whitespace_and_any_characters(tmp_path):
    emb = sample(["new york", "tab\there", "line\nbreak", "", " ", "東京 タワー", '"quoted"'])
    assert_same(load(save(emb, tmp_path / "e.emb")), emb)


def test_tsv_keeps_keys_with_spaces(tmp_path):
    emb = sample(["new york", "São Paulo", "東京 タワー", "naïve"])
    assert_same(load(save(emb, tmp_path / "vectors.tsv")), emb)
    assert (tmp_path / "metadata.tsv").read_text(encoding="utf-8").splitlines()[0] == "new york"


@pytest.mark.parametrize("name", ["e.emb", "e.npy"])
def test_int_keys_stay_ints(tmp_path, name):
    emb = sample([10, 3, -7, 2**40])
    loaded = load(save(emb, tmp_path / name))
    assert_same(loaded, emb)
    assert all(type(k) is int for k in loaded.keys)


def test_native_metadata_and_metric_round_trip(tmp_path):
    metadata = {"count": [3, 1, 4, 1], "score": [0.5, None, -1.25, 1e300],
                "label": ["a b", "tab\t", "新\n行", ""]}
    emb = sample(metadata=metadata, metric="dot")
    loaded = load(save(emb, tmp_path / "e.emb"))
    assert loaded.metadata == metadata
    assert loaded.metric == "dot"
    assert load(tmp_path / "e.emb", metric="euclidean").metric == "euclidean"


def test_native_keeps_the_encoder_spec(tmp_path):
    spec = {"kind": "image", "model": "efficientnet-lite0", "normalize": True}
    emb = Embeddings(["a", "b"], [[1.0, 0.0], [0.0, 1.0]], encoder=spec)
    loaded = load(save(emb, tmp_path / "e.emb"))
    assert loaded.encoder == spec
    assert loaded.subset(["b"]).encoder == spec and loaded.normalized().encoder == spec
    assert json.loads((tmp_path / "e.emb" / "meta.json").read_text())["encoder"] == spec
    other = Embeddings(["c"], [[1.0, 1.0]], encoder={"kind": "text", "model": "minilm"})
    assert loaded.concat(other).encoder is None  # vectors from two encoders share no encoder


def test_native_rejects_a_malformed_encoder_field(tmp_path):
    path = save(sample(), tmp_path / "e.emb")
    meta = json.loads((path / "meta.json").read_text())
    (path / "meta.json").write_text(json.dumps({**meta, "encoder": "minilm"}))
    with pytest.raises(FormatError, match='"encoder" must be a JSON object'):
        load(path)


def test_native_layout(tmp_path):
    path = save(sample(metadata={"n": [1, 2, 3, 4]}), tmp_path / "e.emb")
    assert siblings(path) == ["keys.jsonl", "meta.json", "metadata.jsonl", "vectors.npy"]
    meta = json.loads((path / "meta.json").read_text())
    assert meta == {"format": "embedworks", "version": 1, "count": 4, "dim": 5, "metric": "cosine",
                    "dtype": "float32", "key_type": "str", "metadata_columns": ["n"]}
    assert (path / "keys.jsonl").read_text(encoding="utf-8").splitlines()[0] == '"Zürich"'


def test_native_vectors_are_memory_mapped(tmp_path):
    vectors = load(save(sample(), tmp_path / "e.emb")).vectors
    assert isinstance(vectors, np.memmap) or isinstance(vectors.base, np.memmap)
    assert not vectors.flags.writeable


def test_native_refuses_a_newer_version(tmp_path):
    path = save(sample(), tmp_path / "e.emb")
    meta = json.loads((path / "meta.json").read_text())
    (path / "meta.json").write_text(json.dumps({**meta, "version": 2}))
    with pytest.raises(FormatError, match=r"meta\.json.*version 2.*upgrade embedworks"):
        load(path)


def test_tsv_metadata_round_trip_with_types(tmp_path):
    metadata = {"label": ["cat", "dog", "7", "007"], "year": [1999, 2001, -5, 0], "weight": [0.5, 1e-05, 2.0, -3.25]}
    emb = sample(metadata=metadata)
    save(emb, tmp_path / "vectors.tsv")
    lines = (tmp_path / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "key\tlabel\tyear\tweight"
    loaded = load(tmp_path / "vectors.tsv")
    assert_same(loaded, emb)
    assert loaded.metadata == {"label": ["cat", "dog", "7", "007"], "year": [1999, 2001, -5, 0],
                               "weight": [0.5, 1e-05, 2.0, -3.25]}


def test_tsv_without_metadata_file_uses_row_numbers(tmp_path):
    write(tmp_path / "v.tsv", b"1\t2\n3\t4\n")
    loaded = load(tmp_path / "v.tsv")
    assert loaded.keys == [0, 1]
    np.testing.assert_array_equal(loaded.vectors, [[1, 2], [3, 4]])


def test_tsv_metadata_without_key_column_keeps_all_columns(tmp_path):
    write(tmp_path / "vectors.tsv", b"1\t2\n3\t4\n")
    write(tmp_path / "metadata.tsv", b"label\tsize\ncat\t1\ncat\t2\n")
    loaded = load(tmp_path / "vectors.tsv")
    assert loaded.keys == [0, 1]
    assert loaded.metadata == {"label": ["cat", "cat"], "size": [1, 2]}


def test_npy_without_keys_file_uses_row_numbers(tmp_path):
    np.save(tmp_path / "m.npy", np.eye(3, dtype=np.float64))
    loaded = load(tmp_path / "m.npy")
    assert loaded.keys == [0, 1, 2]
    assert loaded.vectors.dtype == np.float32


# ------------------------------------------------------------------------------------- hand-written bytes
@pytest.mark.parametrize("newline", [True, False], ids=["c-tool-newlines", "gensim-no-newlines"])
def test_binary_reader_on_hand_written_bytes(tmp_path, newline):
    loaded = load(write(tmp_path / "w.bin", c_tool_binary(TINY, newline=newline)))
    assert loaded.keys == [k for k, _ in TINY]
    np.testing.assert_array_equal(loaded.vectors, TINY_VECTORS)


def test_binary_writer_writes_the_c_tool_layout(tmp_path):
    save(Embeddings([k for k, _ in TINY], TINY_VECTORS), tmp_path / "w.bin")
    assert (tmp_path / "w.bin").read_bytes() == c_tool_binary(TINY)


def test_text_reader_on_hand_written_bytes(tmp_path):
    loaded = load(write(tmp_path / "w.txt", c_tool_text(TINY)))
    assert loaded.keys == [k for k, _ in TINY]
    np.testing.assert_array_equal(loaded.vectors, TINY_VECTORS)


def test_text_writer_layout(tmp_path):
    save(Embeddings(["a", "b"], [[0.5, -2.0], [0.1, 3.0]]), tmp_path / "w.txt")
    assert (tmp_path / "w.txt").read_bytes() == b"2 2\na 0.5 -2\nb 0.100000001 3\n"


def test_glove_reader_on_hand_written_bytes_with_crlf(tmp_path):
    data = glove_text(TINY).replace(b"\n", b"\r\n")
    loaded = load(write(tmp_path / "g.txt", data))
    assert loaded.keys == [k for k, _ in TINY]
    np.testing.assert_array_equal(loaded.vectors, TINY_VECTORS)


def test_committed_fixtures_are_the_hand_written_bytes():
    assert (DATA / "tiny.bin").read_bytes() == c_tool_binary(TINY)
    assert (DATA / "tiny.txt").read_bytes() == c_tool_text(TINY)


@pytest.mark.parametrize("name", ["tiny.bin", "tiny.txt"])
def test_committed_fixtures_load(name):
    loaded = load(DATA / name)
    assert loaded.keys == [k for k, _ in TINY]
    np.testing.assert_array_equal(loaded.vectors, TINY_VECTORS)


@pytest.mark.parametrize("name,data", [("w.bin.gz", c_tool_binary(TINY)), ("w.txt.gz", c_tool_text(TINY)),
                                       ("g.txt.gz", glove_text(TINY)), ("w.vec.gz", c_tool_text(TINY))])
def test_gzip_is_read_transparently(tmp_path, name, data):
    np.testing.assert_array_equal(load(write(tmp_path / name, data)).vectors, TINY_VECTORS)


def test_truncated_gzip_is_a_format_error(tmp_path):
    rows = [(f"w{i}", (float(i), 0.5)) for i in range(200)]
    (tmp_path / "g.txt.gz").write_bytes(gzip.compress(glove_text(rows))[:-30])
    with pytest.raises(FormatError, match=r"g\.txt\.gz: corrupt or truncated gzip"):
        load(tmp_path / "g.txt.gz", format="glove")


# ------------------------------------------------------------------------------------- limit
@pytest.mark.parametrize("name", ["e.emb", "e.txt", "e.bin", "e.vec", "vectors.tsv", "e.npy", "e.bin.gz"])
def test_limit_reads_only_the_first_rows(tmp_path, name):
    emb = sample(metadata={"n": [1, 2, 3, 4]})
    loaded = load(save(emb, tmp_path / name), limit=2)
    assert loaded.keys == WORDS[:2]
    np.testing.assert_array_equal(loaded.vectors, emb.vectors[:2])


def test_limit_stops_before_damage_further_on(tmp_path):
    data = c_tool_binary(TINY)
    write(tmp_path / "w.bin", data[:-5])
    assert load(tmp_path / "w.bin", limit=2).keys == ["Zürich", "東京"]
    write(tmp_path / "g.txt", glove_text(TINY) + b"broken row\n")
    assert len(load(tmp_path / "g.txt", limit=3)) == 3


def test_limit_must_be_positive(tmp_path):
    with pytest.raises(InvalidInputError):
        load(save(sample(), tmp_path / "e.emb"), limit=0)


def test_glove_grows_beyond_the_first_allocation(tmp_path):
    rows = [(f"w{i}", (float(i), -float(i))) for i in range(2500)]
    loaded = load(write(tmp_path / "big.txt", glove_text(rows)))
    assert len(loaded) == 2500 and loaded.keys[-1] == "w2499"
    np.testing.assert_array_equal(loaded.vectors[:, 0], np.arange(2500, dtype=np.float32))


# ------------------------------------------------------------------------------------- detection
@pytest.mark.parametrize("name,data,expected", [
    ("a.txt", c_tool_text(TINY), "word2vec"),
    ("a.txt", glove_text(TINY), "glove"),
    ("a.txt", c_tool_binary(TINY), "word2vec-binary"),
    ("a.txt", c_tool_binary(TINY, newline=False), "word2vec-binary"),
    ("a.txt.gz", glove_text(TINY), "glove"),
    ("no_suffix", c_tool_text(TINY), "word2vec"),
    ("a.bin", b"", "word2vec-binary"),
    ("a.vec", b"", "fasttext"),
    ("a.TSV", b"", "tsv"),
    ("a.npy.gz", b"", "npy"),
])
def test_detect_format(tmp_path, name, data, expected):
    assert detect_format(write(tmp_path / name, data)) == expected


def test_detect_format_of_directories(tmp_path):
    assert detect_format(save(sample(), tmp_path / "x")) == "native"
    (tmp_path / "other").mkdir()
    with pytest.raises(FormatError, match="no meta.json"):
        detect_format(tmp_path / "other")


def test_undetectable_content_says_to_pass_format(tmp_path):
    with pytest.raises(FormatError, match=r"x\.txt.*pass format="):
        load(write(tmp_path / "x.txt", b"just some words\nin a file\n"))


def test_unknown_format_name():
    with pytest.raises(InvalidInputError, match="unknown format 'csv'"):
        load("whatever", format="csv")


# ------------------------------------------------------------------------------------- bad input
BAD_TEXT = [  # (file name, content, where the error must point, what it must say)
    ("w.txt", b"2 3\na 1 2 3\nb 1 2\n", "line 3", "2 values for key 'b', expected 3"),
    ("w.txt", b"2 3\na 1 x 3\nb 1 2 3\n", "line 2", "column 3: 'x' is not a number"),
    ("w.txt", b"2 3\na 1 2 3 4\n", "line 2", "4 values for key 'a', expected 3 (from the header)"),
    ("w.txt", b"3 2\na 1 2\nb 3 4\n", "line 4", "file ends after 2 of the 3 rows"),
    ("w.txt", b"1 2\na 1 2\nb 3 4\n", "line 3", "more rows than the 1"),
    ("w.txt", b"2 2\na 1 2\n\xff\xfeb 3 4\n", "line 3", "not valid UTF-8"),
    ("w.txt", b"2 2\na 1 2\na 3 4\n", "line 3", "duplicate key 'a' (first on line 2)"),
    ("w.txt", b"2 2\na 1 2\nb nan 4\n", "line 3", "non-finite value nan"),
    ("w.vec", b"1 2\na inf 4\n", "line 2", "non-finite value inf"),
    ("w.vec", b"two 2\na 1 2\n", "line 1", 'expected a header "count dim"'),
    ("w.vec", b"", "line 1", "empty file"),
    ("w.vec", b"1000000000000 2\na 1 2\n", "line 3", "file ends after 1 of the 1000000000000 rows"),
    ("w.txt.gz", b"2 3\na 1 2 3\nb 1 2\n", "line 3", "expected 3"),
    ("g.glove", b"a 1 2\nb 1\n", "line 2", "1 values for key 'b', expected 2 (from line 1)"),
    ("g.glove", b"a 1 2\nb 1 y\n", "line 2", "column 3: 'y' is not a number"),
    ("g.glove", b"a 1 2\n\xc3( 1 2\n", "line 2", "not valid UTF-8"),
    ("g.glove", b"a 1 2\nb -nan 2\n", "line 2", "non-finite"),
    ("g.glove", b"a 1 2\nlonely\n", "line 2", "0 values for key 'lonely'"),
    ("g.glove", b"\n\n", None, "empty file"),
    ("vectors.tsv", b"1\t2\n1\t2\t3\n", "line 2", "3 values, expected 2 (from line 1)"),
    ("vectors.tsv", b"1\t2\n1\tabc\n", "line 2", "column 2: 'abc' is not a number"),
    ("vectors.tsv", b"1\t2\nNaN\t2\n", "line 2", "non-finite"),
    ("vectors.tsv", b"", None, "empty file"),
]


@pytest.mark.parametrize("name,data,where,message", BAD_TEXT)
def test_bad_text_input_names_file_and_line(tmp_path, name, data, where, message):
    path = write(tmp_path / name, data)
    format = "glove" if name.endswith(".glove") else None
    with pytest.raises(FormatError) as caught:
        load(path, format=format)
    text = str(caught.value)
    assert text.startswith(str(path)), text
    if where:
        assert f"{path}, {where}:" in text, text
        assert caught.value.line == int(where.split()[1])
    assert message in text, text


def binary_row(key: bytes, *values: float) -> bytes:
    return key + b" " + struct.pack(f"<{len(values)}f", *values) + b"\n"


BAD_BINARY = [
    (b"2 2\n" + binary_row(b"a", 1, 2) + b"b " + struct.pack("<f", 3), "row 2", "file ends inside the row"),
    (b"3 2\n" + binary_row(b"a", 1, 2) + binary_row(b"b", 3, 4), "row 3", "file ends after 2 of the 3 rows"),
    (b"2 2\n" + binary_row(b"a", 1, 2) + binary_row(b"\xff\xfe", 3, 4), "row 2", "not valid UTF-8"),
    (b"2 2\n" + binary_row(b"a", 1, 2) + binary_row(b"b", float("nan"), 4), "row 2", "non-finite value nan"),
    (b"2 2\n" + binary_row(b"a", 1, 2) + binary_row(b"a", 3, 4), "row 2", "duplicate key 'a' (first on row 1)"),
    (b"1 2\n" + binary_row(b"a", 1, 2) + binary_row(b"b", 3, 4), "row 2", "more data after the 1 rows"),
    (b"1 2\n" + b"x" * 70000, "row 1", "no space"),
    (b"", "line 1", "empty file"),
]


@pytest.mark.parametrize("data,where,message", BAD_BINARY)
@pytest.mark.parametrize("name", ["w.bin", "w.bin.gz"])
def test_bad_binary_input_names_file_and_row(tmp_path, name, data, where, message):
    path = write(tmp_path / name, data)
    with pytest.raises(FormatError) as caught:
        load(path)
    text = str(caught.value)
    assert (f"{path}: {where}:" if where.startswith("row") else f"{path}, {where}:") in text, text
    assert message in text, text


@pytest.mark.parametrize("metadata,where,message", [
    (b"a\nb\nc\n", "line 3", "more metadata rows than the 2 vectors"),
    (b"a\n", "line 2", "1 metadata rows for 2 vectors"),
    (b"a\na\n", "line 2", "duplicate key 'a' (first on line 1)"),
    (b"key\tx\na\t1\nb\n", "line 3", "1 columns, expected 2"),
    (b"a\n\xff\n", "line 2", "not valid UTF-8"),
])
def test_bad_tsv_metadata_names_file_and_line(tmp_path, metadata, where, message):
    write(tmp_path / "vectors.tsv", b"1\t2\n3\t4\n")
    path = write(tmp_path / "metadata.tsv", metadata)
    with pytest.raises(FormatError) as caught:
        load(tmp_path / "vectors.tsv")
    assert f"{path}, {where}: {message}" in str(caught.value)


def test_bad_npy_input(tmp_path):
    np.save(tmp_path / "nan.npy", np.array([[1, 2], [np.nan, 0]], dtype=np.float32))
    with pytest.raises(FormatError, match=r"nan\.npy: row 1 \(key 1\) has a non-finite value"):
        load(tmp_path / "nan.npy")
    np.save(tmp_path / "flat.npy", np.zeros(3, dtype=np.float32))
    with pytest.raises(FormatError, match=r"flat\.npy: expected a 2-D float array"):
        load(tmp_path / "flat.npy")
    np.save(tmp_path / "k.npy", np.zeros((2, 2), dtype=np.float32))
    (tmp_path / "k.keys.json").write_text('["a"]')
    with pytest.raises(FormatError, match=r"k\.keys\.json: expected a JSON list of 2 keys"):
        load(tmp_path / "k.npy")
    (tmp_path / "k.keys.json").write_text('["a", "a"]')
    with pytest.raises(FormatError, match=r"k\.keys\.json: item 1: duplicate key 'a'"):
        load(tmp_path / "k.npy")


def test_files_that_are_not_what_their_suffix_says(tmp_path):
    with pytest.raises(FormatError, match=r"w\.txt\.gz: corrupt or truncated gzip data"):
        load(write(tmp_path / "w.txt", c_tool_text(TINY)).rename(tmp_path / "w.txt.gz"))
    with pytest.raises(FormatError, match=r"e\.npy: not a readable \.npy array"):
        load(write(tmp_path / "e.npy", b""))
    with pytest.raises(FormatError, match=r"e\.emb: not native embeddings: no meta\.json"):
        load(write(tmp_path / "e.emb", b"{}"))


def test_bad_native_keys_name_file_and_line(tmp_path):
    path = save(sample(), tmp_path / "e.emb")
    lines = (path / "keys.jsonl").read_text(encoding="utf-8").splitlines()
    (path / "keys.jsonl").write_text("\n".join([lines[0], "not json", *lines[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"keys\.jsonl, line 2: not valid JSON"):
        load(path)
    (path / "keys.jsonl").write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"keys\.jsonl, line 4: file ends after 3 of 4 lines"):
        load(path)


def test_native_shape_mismatch(tmp_path):
    path = save(sample(), tmp_path / "e.emb")
    np.save(path / "vectors.npy", np.zeros((3, 5), dtype=np.float32))
    with pytest.raises(FormatError, match=r"vectors\.npy: holds \(3, 5\)"):
        load(path)


# ------------------------------------------------------------------------------------- safe writes
@pytest.mark.parametrize("name,format", [("w.txt", None), ("w.bin", None), ("w.vec", None),
                                         ("g.txt", "glove"), ("w.txt.gz", None)])
@pytest.mark.parametrize("key", ["new york", "tab\tkey", "line\nbreak", "ideographic\u3000space", ""])
def test_whitespace_key_is_refused_and_existing_file_kept(tmp_path, name, format, key):
    good = save(sample(), tmp_path / name, format=format)
    before = good.read_bytes()
    with pytest.raises(FormatError, match=re.escape(f"key {key!r} (row 1)")) as caught:
        save(sample(["ok", key, "fine", "also"]), good, format=format)
    assert str(good) in str(caught.value)
    assert good.read_bytes() == before
    assert siblings(tmp_path) == [name]


def test_whitespace_key_creates_no_file(tmp_path):
    with pytest.raises(FormatError):
        save(sample(["a", "b c", "d", "e"]), tmp_path / "w.bin")
    assert siblings(tmp_path) == []


@pytest.mark.parametrize("keys,metadata", [(["a", "b\tc", "d", "e"], None),
                                           (["a", "b", "c", "d"], {"note": ["x", "y\nz", "", ""]})])
def test_tsv_refuses_tabs_and_newlines_and_keeps_existing_files(tmp_path, keys, metadata):
    save(sample(), tmp_path / "vectors.tsv")
    before = {n: (tmp_path / n).read_bytes() for n in siblings(tmp_path)}
    with pytest.raises(FormatError, match="tab or line break"):
        save(sample(keys, metadata=metadata), tmp_path / "vectors.tsv")
    assert {n: (tmp_path / n).read_bytes() for n in siblings(tmp_path)} == before


def test_native_failure_keeps_the_old_directory(tmp_path):
    path = save(sample(), tmp_path / "e.emb")
    before = {n: (path / n).read_bytes() for n in siblings(path)}
    with pytest.raises(InvalidInputError, match="cannot be stored"):
        save(sample(metadata={"odd": [object(), 1, 2, 3]}), path)
    assert {n: (path / n).read_bytes() for n in siblings(path)} == before
    assert siblings(tmp_path) == ["e.emb"]


def test_native_replaces_an_old_directory_even_while_mapped(tmp_path):
    path = save(sample(seed=1), tmp_path / "e.emb")
    old = load(path)
    new = sample(["x", "y"], seed=2)
    save(new, path)
    assert_same(load(path), new)
    assert old.vectors.shape == (4, 5)  # the old map stays readable
    assert siblings(tmp_path) == ["e.emb"]


def test_native_round_trip_onto_its_own_path(tmp_path):
    path = save(sample(), tmp_path / "e.emb")
    emb = load(path)
    save(emb, path)
    assert_same(load(path), sample())


@pytest.mark.parametrize("make", [lambda p: p.write_text("precious"), lambda p: (p.mkdir(), (p / "f").touch())])
def test_native_refuses_to_replace_other_things(tmp_path, make):
    target = tmp_path / "e.emb"
    make(target)
    with pytest.raises(FormatError, match="refusing to replace"):
        save(sample(), target)
    assert target.exists()


def test_written_files_get_ordinary_permissions(tmp_path):
    path = save(sample(), tmp_path / "w.txt")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
