"""`embedworks collection …` through typer's runner."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from embedworks import Embeddings
from embedworks.cli import app

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture
def emb_file(tmp_path):
    rng = np.random.default_rng(1)
    keys = [f"w{i}" for i in range(30)]
    path = tmp_path / "words.emb"
    Embeddings(keys, rng.normal(size=(30, 6)), metadata={"kind": ["a", "b", "c"] * 10}).save(path)
    return path


def test_create_add_search_info_delete(tmp_path, emb_file):
    col = tmp_path / "words.col"
    code, output = invoke("collection", "create", col, "--dim", 6, "--metric", "euclidean")
    assert code == 0, output
    assert "created collection 'words.col': 6 dims, euclidean" in output
    code, output = invoke("collection", "add", col, emb_file)
    assert code == 0 and "30 upserted; 'words.col' holds 30" in output, output
    code, output = invoke("collection", "search", col, "--key", "w3", "-k", 4, "--json")
    assert code == 0, output
    hits = json.loads(output)
    assert len(hits) == 4 and "w3" not in [key for key, _ in hits]
    code, output = invoke("collection", "search", col, "--key", "w3", "-k", 20, "--where", "kind=a",
                          "--where", "kind=b", "--json")
    assert code == 0 and len(json.loads(output)) == 19, output
    code, output = invoke("collection", "search", col, "--key", "w3", "--where", "kind=a")
    assert code == 0 and "nearest to 'w3'" in output and "distance" in output, output
    code, output = invoke("collection", "delete", col, "w0", "w1")
    assert code == 0 and "2 deleted; 'words.col' holds 28" in output, output
    code, output = invoke("collection", "info", col, "--json")
    assert code == 0, output
    info = json.loads(output)
    assert info["count"] == 28 and info["metric"] == "euclidean" and info["metadata_columns"] == ["kind"]
    code, output = invoke("collection", "info", col)
    assert code == 0 and "exact" in output and "kind" in output, output


def test_index_params_and_errors(tmp_path, emb_file):
    pytest.importorskip("faiss")
    col = tmp_path / "h"
    code, output = invoke("collection", "create", col, "--dim", 6, "--index", "hnsw", "-p", "M=8", "-p", "ef_search=20")
    assert code == 0, output
    assert invoke("collection", "add", col, emb_file)[0] == 0
    code, output = invoke("collection", "info", col, "--json")
    assert json.loads(output)["index"]["params"]["M"] == 8
    errors = [
        (("collection", "create", col, "--dim", 6), "already exists"),
        (("collection", "create", tmp_path / "x", "--dim", 6, "--index", "lsh"), "unknown index kind 'lsh'"),
        (("collection", "create", tmp_path / "y", "--dim", 6, "-p", "M"), "--param wants NAME=VALUE"),
        (("collection", "search", col, "--key", "nope"), "unknown key 'nope'"),
        (("collection", "search", col, "--key", "w1", "--where", "colour=red"), "unknown metadata column 'colour'"),
        (("collection", "search", col, "some text"), "has no encoder"),
        (("collection", "search", col), "give exactly one of"),
        (("collection", "delete", col, "w1", "nope"), "unknown key 'nope'"),
        (("collection", "info", tmp_path / "missing"), "not a collection"),
    ]
    for args, message in errors:
        code, output = invoke(*args)
        assert code == 1 and message in output and "Traceback" not in output, (args, output)


def test_texts_with_a_saved_lsa_encoder(tmp_path):
    pytest.importorskip("sklearn")
    from embedworks.encode.lsa import LSA

    texts = ["cats purr and sleep", "dogs bark and run", "cats and kittens purr", "dogs run in parks",
             "stocks fell sharply", "markets and stocks rose"]
    LSA(dim=3, min_df=1, seed=0).fit(texts).save(tmp_path / "lsa")
    col = tmp_path / "texts"
    code, output = invoke("collection", "create", col, "--encoder", tmp_path / "lsa")
    assert code == 0 and "3 dims" in output, output
    code, output = invoke("collection", "add", col, *texts)
    assert code == 0 and "6 upserted" in output, output
    code, output = invoke("collection", "search", col, "kittens purr", "-k", 2, "--json")
    assert code == 0, output
    assert {key for key, _ in json.loads(output)} == {"cats purr and sleep", "cats and kittens purr"}
    code, output = invoke("collection", "add", col, "a", "b", "--key", "only-one")
    assert code == 1 and "1 --key options for 2 inputs" in output
