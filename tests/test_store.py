"""Collections: writes, reads, search with filters, reopening, torn logs, readers, the writer lock, kill -9."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import zlib

import numpy as np
import pytest

from embedworks.errors import DimensionError, FormatError, InvalidInputError, UnknownKeyError
from embedworks.store import Collection, CollectionLockedError
from embedworks.store import collection as collection_module

DIM = 8


def vectors_for(keys, dim=DIM):
    """A vector that depends only on its key, so any process can check what was written."""
    return np.stack([np.random.default_rng(zlib.crc32(str(k).encode())).normal(size=dim)
                     for k in keys]).astype(np.float32)


@pytest.fixture
def col(tmp_path):
    collection = Collection.create(tmp_path / "c", dim=DIM, name="things")
    keys = [f"k{i}" for i in range(40)]
    collection.upsert(keys, vectors_for(keys), metadata={"colour": ["red", "blue"] * 20,
                                                         "size": [i % 4 for i in range(40)]})
    yield collection
    collection.close()


def contents(collection):
    emb = collection.to_embeddings()
    order = np.argsort(np.array([str(k) for k in emb.keys]))
    return ([emb.keys[i] for i in order], np.asarray(emb.vectors)[order],
            {c: [v[i] for i in order] for c, v in emb.metadata.items()})


def test_create_upsert_get_delete_search(col):
    assert (len(col), col.name, col.dim, col.metric, col.encoder_spec) == (40, "things", DIM, "cosine", None)
    got = col.get(["k3", "k4"])
    np.testing.assert_array_equal(got.vectors, vectors_for(["k3", "k4"]))
    assert got.metadata == {"colour": ["blue", "red"], "size": [3, 0]}
    hits = col.search(vector=vectors_for(["k7"])[0], k=3)
    assert hits[0][0] == "k7" and hits[0][1] == pytest.approx(1.0) and len(hits) == 3
    assert col.search(key="k7", k=3)[0][0] != "k7"
    col.upsert("k7", vectors_for(["x"])[0], metadata=[{"colour": "green"}])
    assert col.get("k7").metadata == {"colour": ["green"], "size": [None]}
    col.upsert(["k8"], metadata={"size": [99]})  # metadata only: the vector stays
    np.testing.assert_array_equal(col.get("k8").vectors, vectors_for(["k8"]))
    assert col.get("k8").metadata == {"colour": ["red"], "size": [99]}
    assert col.delete(["k1", "k2"]) == 2 and len(col) == 38 and "k1" not in col
    assert all(key not in ("k1", "k2") for key, _ in col.search(vector=np.ones(DIM), k=38))
    batch = col.search(vector=vectors_for(["k3", "k4"]), k=2)
    assert [hits[0][0] for hits in batch] == ["k3", "k4"]
    info = col.info()
    assert info["count"] == 38 and info["index"] == {"kind": "auto", "active": "exact", "params": {}}
    assert info["metadata_columns"] == ["colour", "size"] and info["log_records"] == 4


def test_filter_is_a_pre_filter(col):
    hits = col.search(vector=np.ones(DIM), k=10, filter={"colour": "red"})
    assert len(hits) == 10 and all(col.get(k).metadata["colour"] == ["red"] for k, _ in hits)
    hits = col.search(vector=np.ones(DIM), k=10, filter={"colour": ["red", "blue"], "size": [1, 2]})
    assert len(hits) == 10 and {col.get(k).metadata["size"][0] for k, _ in hits} <= {1, 2}
    assert len(col.search(vector=np.ones(DIM), k=10, filter={"colour": "red", "size": 1})) == 0
    assert len(col.search(key="k0", k=30, filter={"size": 0})) == 9  # 10 match, minus k0 itself
    unknown = r"unknown metadata column 'shape' in filter \(columns: 'colour', 'size'\)"
    with pytest.raises(InvalidInputError, match=unknown):
        col.search(vector=np.ones(DIM), filter={"shape": "round"})


def test_reopen_gives_identical_contents(col, tmp_path):
    col.delete(["k5"])
    col.upsert(["k6"], metadata={"size": [7]})
    before, hits = contents(col), col.search(vector=np.ones(DIM), k=5)
    col.close()
    with Collection.open(tmp_path / "c") as again:
        after = contents(again)
        assert after[0] == before[0] and after[2] == before[2]
        np.testing.assert_array_equal(after[1], before[1])
        assert again.search(vector=np.ones(DIM), k=5) == hits
        again.compact()
        assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [
            "CURRENT", "collection.json", "lock", "log-1.wal", "snapshot-1"]
    with Collection.open(tmp_path / "c", readonly=True) as third:
        assert contents(third)[0] == before[0] and third.info()["generation"] == 1


def test_hnsw_collection_reopens_from_its_saved_index(tmp_path):
    pytest.importorskip("faiss")
    keys = list(range(500))
    with Collection.create(tmp_path / "h", dim=DIM, metric="euclidean",
                           index={"kind": "hnsw", "M": 8, "ef_search": 40}) as col:
        col.upsert(keys, vectors_for(keys), metadata={"even": [k % 2 == 0 for k in keys]})
        col.delete([0, 2])
        col.compact()
        col.upsert([1000], vectors_for([1000]))
        hits = col.search(vector=vectors_for([4])[0], k=5, filter={"even": True})
        assert hits[0] == (4, pytest.approx(0.0, abs=1e-5)) and all(k % 2 == 0 for k, _ in hits)
        assert col.info()["index"]["active"] == "hnsw"
    with Collection.open(tmp_path / "h") as col:
        assert len(col) == 499 and col.info()["index"]["params"]["ef_search"] == 40
        assert col.search(vector=vectors_for([4])[0], k=5, filter={"even": True}) == hits


def test_auto_and_ivfpq_collections_switch_index_when_big_enough(tmp_path, monkeypatch):
    pytest.importorskip("faiss")
    monkeypatch.setattr("embedworks.index.AUTO_HNSW_FROM", 300)
    monkeypatch.setattr(collection_module, "IVF_TRAIN_FROM", 300)
    keys = list(range(400))
    for kind, params in (("auto", {}), ("ivfpq", {"m": 4, "nbits": 5, "nlist": 8})):
        with Collection.create(tmp_path / kind, dim=DIM, index={"kind": kind, **params}) as col:
            col.upsert(keys[:200], vectors_for(keys[:200]))
            assert col.info()["index"]["active"] == "exact"
            col.upsert(keys[200:], vectors_for(keys[200:]))
            assert col.info()["index"]["active"] == ("hnsw" if kind == "auto" else "ivfpq")
            assert col.search(vector=vectors_for([7])[0], k=1)[0][0] == 7


def test_torn_log_tail_is_dropped_with_a_warning(col, tmp_path, caplog):
    before = contents(col)
    col.close()
    log_file = tmp_path / "c" / "log-0.wal"
    size = log_file.stat().st_size
    with open(log_file, "ab") as f:  # half of a record: a writer killed mid-write
        f.write(collection_module.log.encode({"op": "delete", "keys": ["k0"]})[:17])
    with Collection.open(tmp_path / "c", readonly=True) as reader:
        assert contents(reader)[0] == before[0]
    assert log_file.stat().st_size == size + 17  # readers never change files
    with Collection.open(tmp_path / "c") as writer:
        assert contents(writer)[0] == before[0]
        assert "dropping 17 bytes after the last intact record" in caplog.text
        assert log_file.stat().st_size == size
        writer.upsert(["after"], vectors_for(["after"]))
    with Collection.open(tmp_path / "c") as writer:
        assert "after" in writer and len(writer) == 41


def test_flipped_bit_in_the_last_record_is_caught_by_the_checksum(col, tmp_path):
    col.upsert(["last"], vectors_for(["last"]))
    col.close()
    log_file = tmp_path / "c" / "log-0.wal"
    data = bytearray(log_file.read_bytes())
    data[-3] ^= 0x40
    log_file.write_bytes(bytes(data))
    with Collection.open(tmp_path / "c") as writer:
        assert "last" not in writer and len(writer) == 40


def test_second_writer_is_refused_readers_are_not(col, tmp_path):
    with pytest.raises(CollectionLockedError, match=rf"already open for writing by process {os.getpid()}"):
        Collection.open(tmp_path / "c")
    with Collection.open(tmp_path / "c", readonly=True) as reader:
        assert len(reader) == 40
        with pytest.raises(InvalidInputError, match="open read-only"):
            reader.upsert(["x"], vectors_for(["x"]))
    col.close()
    Collection.open(tmp_path / "c").close()  # the lock went with the writer


def test_bad_writes_raise_and_commit_nothing(col, tmp_path):
    size = (tmp_path / "c" / "log-0.wal").stat().st_size
    one = np.ones((1, DIM))
    cases = [
        (DimensionError, "holds 8-dim vectors", lambda: col.upsert(["a"], np.ones((1, 3)))),
        (DimensionError, "2 keys but 1 vectors", lambda: col.upsert(["a", "b"], np.ones((1, DIM)))),
        (InvalidInputError, "vector 1 contains NaN",
         lambda: col.upsert(["a", "b"], np.array([[1] * DIM, [np.nan] * DIM]))),
        (UnknownKeyError, "unknown key 'nope'", lambda: col.delete(["k0", "nope"])),
        (UnknownKeyError, "unknown key 'nope'", lambda: col.upsert(["nope"], metadata={"size": [1]})),
        (InvalidInputError, "key 3 is int but the collection's keys are str", lambda: col.upsert([3], one)),
        (InvalidInputError, "'a' is given twice", lambda: col.upsert(["a", "a"], np.ones((2, DIM)))),
        (InvalidInputError, "metadata 'when' of key 'a' is a list",
         lambda: col.upsert(["a"], one, metadata={"when": [[1]]})),
        (InvalidInputError, "has no encoder", lambda: col.upsert(["a"], items=["some text"])),
        (InvalidInputError, "needs vectors, items or metadata", lambda: col.upsert(["a"])),
    ]
    for error, message, write in cases:
        with pytest.raises(error, match=message):
            write()
    assert (tmp_path / "c" / "log-0.wal").stat().st_size == size and len(col) == 40
    with pytest.raises(DimensionError, match="query vector has shape"):
        col.search(vector=np.ones(3))
    with pytest.raises(InvalidInputError, match="NaN"):
        col.search(vector=np.full(DIM, np.nan))
    with pytest.raises(InvalidInputError, match="exactly one of"):
        col.search(vector=np.ones(DIM), key="k0")
    with pytest.raises(UnknownKeyError, match="'k99'"):
        col.search(key="k99")
    with pytest.raises(InvalidInputError, match="k must be a positive integer"):
        col.search(vector=np.ones(DIM), k=0)


def test_create_and_open_errors(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(InvalidInputError, match="not an empty directory"):
        Collection.create(tmp_path / "full", dim=4)
    with pytest.raises(FormatError, match="not a collection"):
        Collection.open(tmp_path / "full")
    with pytest.raises(InvalidInputError, match="unknown index kind 'lsh'"):
        Collection.create(tmp_path / "a", dim=4, index="lsh")
    with pytest.raises(InvalidInputError, match="unknown metric"):
        Collection.create(tmp_path / "b", dim=4, metric="manhattan")
    with pytest.raises(InvalidInputError, match="unknown encoder 'word2vec'"):
        Collection.create(tmp_path / "c", dim=4, encoder="word2vec")
    assert not any((tmp_path / name).exists() for name in "abc")


class FakeEncoder:
    """Encodes a text as letter counts; stands in for a model in these tests."""

    dim = DIM
    encoder_spec = {"kind": "text", "model": "fake"}

    def encode_array(self, texts):
        return np.array([[t.count(c) for c in "abcdefgh"] for t in texts], dtype=np.float32)


def test_items_and_text_queries_go_through_the_encoder(tmp_path, monkeypatch):
    with Collection.create(tmp_path / "t", encoder=FakeEncoder()) as col:
        assert col.dim == DIM and col.encoder_spec == {"kind": "text", "model": "fake"}
        col.upsert(["x", "y"], items=["aaab", "hhhg"])
        assert col.search(text="ab", k=1)[0][0] == "x"
        assert [hits[0][0] for hits in col.search(["hg", "aa"], k=1)] == ["y", "x"]
    monkeypatch.setattr(collection_module, "_load_encoder", lambda spec: FakeEncoder())  # as from_spec would
    with Collection.open(tmp_path / "t") as col:
        assert col.search("hhh", k=1)[0][0] == "y"


def test_concurrent_reader_sees_whole_writes_only(col, tmp_path):
    """Each upsert writes 10 keys; a reader refreshing meanwhile must always see whole batches."""
    col.log_limit = 5_000  # compactions happen during the run too
    done, seen, errors = threading.Event(), [], []

    def read():
        try:
            with Collection.open(tmp_path / "c", readonly=True) as reader:
                while not done.is_set():
                    reader.refresh()
                    batches = {}
                    for key in reader.keys:
                        if key.startswith("b"):
                            batches[key.split("_")[0]] = batches.get(key.split("_")[0], 0) + 1
                    assert all(n == 10 for n in batches.values()), batches
                    seen.append(len(batches))
        except Exception as error:  # reported by the main thread
            errors.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    for batch in range(60):
        keys = [f"b{batch}_{i}" for i in range(10)]
        col.upsert(keys, vectors_for(keys))
        col.search(vector=np.ones(DIM), k=5)
    done.set()
    reader.join()
    assert not errors, errors
    assert seen and max(seen) > 0 and col.info()["generation"] > 0


WRITER = r"""
import sys, numpy as np
sys.path.insert(0, {tests!r})
from test_store import vectors_for
from embedworks.store import Collection
col = Collection.open({path!r}, log_limit=200_000)
for batch in range(len(col) // 50, 100_000):
    keys = [f"w{{batch}}_{{i}}" for i in range(50)]
    col.upsert(keys, vectors_for(keys, 64), metadata={{"batch": [batch] * 50}})
    print(batch, flush=True)
"""


def run_and_kill_writer(path, acks: int, seed: int) -> int:
    """Start a writer, SIGKILL it after `acks` acknowledged upserts (plus a random delay); the last ack."""
    code = WRITER.format(tests=os.path.dirname(__file__), path=str(path))
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    last = -1
    try:
        for line in process.stdout:
            last = int(line)
            if last + 1 >= acks:
                time.sleep(np.random.default_rng(seed).uniform(0, 0.02))
                break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    for line in process.stdout:  # acks printed before the kill landed
        last = int(line)
    return last


def check_after_kill(path, last_ack: int) -> None:
    with Collection.open(path) as col:
        batches = {}
        for key, batch in zip(col.keys, col.to_embeddings().metadata["batch"]):
            batches.setdefault(batch, []).append(key)
        assert all(b in batches for b in range(last_ack + 1)), "an acknowledged upsert was lost"
        assert max(batches) <= last_ack + 1 and all(len(keys) == 50 for keys in batches.values())
        keys = sorted(batches[last_ack])
        np.testing.assert_array_equal(col.get(keys).vectors, vectors_for(keys, 64))


def test_kill_9_during_writes_loses_nothing_acknowledged(tmp_path):
    Collection.create(tmp_path / "k", dim=64).close()
    last = run_and_kill_writer(tmp_path / "k", acks=40, seed=0)
    assert last >= 39
    check_after_kill(tmp_path / "k", last)


@pytest.mark.slow
def test_kill_9_repeatedly(tmp_path):
    Collection.create(tmp_path / "k", dim=64).close()
    for round_ in range(10):
        with Collection.open(tmp_path / "k") as col:
            start = len(col) // 50
        last = run_and_kill_writer(tmp_path / "k", acks=start + 30, seed=round_)
        check_after_kill(tmp_path / "k", last)
        json.loads((tmp_path / "k" / "CURRENT").read_text())
