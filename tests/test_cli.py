"""The command line through typer's runner: results on stdout, one-line errors with exit code 1."""

import numpy as np
import pytest
from typer.testing import CliRunner

from embedworks import Embeddings, load
from embedworks.cli import app

runner = CliRunner()


@pytest.fixture
def vec_file(tmp_path):
    words = {"king": [1, 0, 1, 0], "queen": [1, 1, 1, 0], "man": [1, 0, 0, 0],
             "woman": [1, 1, 0, 0], "apple": [0, 0, 0, 1], "Zürich": [0, 0.1, 0, 1]}
    path = tmp_path / "words.vec"
    Embeddings(list(words), list(words.values())).save(path)
    return path


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("info", "convert", "similar", "analogy", "demo"):
        assert command in result.output


def test_info(vec_file):
    result = runner.invoke(app, ["info", str(vec_file)])
    assert result.exit_code == 0, result.output
    assert "6" in result.output and "cosine" in result.output and "king" in result.output


def test_similar_and_analogy(vec_file):
    result = runner.invoke(app, ["similar", str(vec_file), "apple", "-k", "1"])
    assert result.exit_code == 0, result.output
    assert "Zürich" in result.output
    result = runner.invoke(app, ["analogy", str(vec_file), "man", "king", "woman", "-k", "1"])
    assert result.exit_code == 0, result.output
    assert "queen" in result.output


def test_convert_round_trip(vec_file, tmp_path):
    target = tmp_path / "words.emb"
    result = runner.invoke(app, ["convert", str(vec_file), str(target)])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(load(target)["queen"], load(vec_file)["queen"])
    tsv = tmp_path / "vectors.tsv"
    assert runner.invoke(app, ["convert", str(target), str(tsv), "--to", "tsv"]).exit_code == 0
    assert load(tsv).keys == load(target).keys


def test_int_keys_from_the_command_line(tmp_path):
    path = tmp_path / "ids.emb"
    Embeddings([10, 20, 30], [[1, 0], [0.9, 0.1], [0, 1]]).save(path)
    result = runner.invoke(app, ["similar", str(path), "10", "-k", "1"])
    assert result.exit_code == 0, result.output
    assert "20" in result.output


@pytest.mark.parametrize("args, message", [
    (["similar", "{vec}", "kign"], "unknown key 'kign'"),
    (["similar", "{missing}", "king"], "missing.vec"),
    (["similar", "{vec}", "king", "--metric", "manhattan"], "unknown metric"),
    (["analogy", "{vec}", "man", "king", "womn"], "unknown key 'womn'"),
    (["info", "{bad}"], "line 3"),
])
def test_bad_input_is_one_line_and_exit_1(vec_file, tmp_path, args, message):
    bad = tmp_path / "bad.vec"
    bad.write_text("2 3\na 1 2 3\nb 1 two 3\n")
    args = [a.format(vec=vec_file, missing=tmp_path / "missing.vec", bad=bad) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def tiny_corpus(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(400):
        animal, verb = rng.choice(["cat", "dog"]), rng.choice(["runs", "sleeps", "eats"])
        lines.append(f"the {animal} {verb} in the house")
        lines.append(f"a {rng.choice(['car', 'bus'])} drives on the road fast")
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("trainer, extra", [
    ("word2vec", ["--epochs", "2"]), ("word2vec", ["--cbow", "--epochs", "2"]),
    ("fasttext", ["--epochs", "2", "--bucket", "1000"]), ("glove", ["--epochs", "5"]),
])
def test_train_then_query_and_evaluate(tiny_corpus, tmp_path, trainer, extra):
    out = tmp_path / f"{trainer}.emb"
    result = runner.invoke(app, ["train", trainer, str(tiny_corpus), "-o", str(out), "--dim", "16",
                                 "--min-count", "1", "--workers", "1", "--quiet", *extra])
    assert result.exit_code == 0, result.output
    emb = load(out)
    assert {"cat", "dog", "car", "bus"} <= set(emb.keys) and emb.dim == 16
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("cat\tdog\t9\ncat\tcar\t1\nbus\tcar\t8\ncat\tzebra\t5\n")
    result = runner.invoke(app, ["eval", "similarity", str(out), str(pairs), "--json"])
    assert result.exit_code == 0, result.output
    assert '"oov": 1' in result.output
    questions = tmp_path / "q.txt"
    questions.write_text(": family\ncat dog car bus\ncat zebra car bus\n")
    result = runner.invoke(app, ["eval", "analogy", str(out), str(questions)])
    assert result.exit_code == 0, result.output
    assert "family" in result.output and "1 OOV" in result.output


def test_train_reports_empty_corpus(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = runner.invoke(app, ["train", "word2vec", str(empty), "-o", str(tmp_path / "x.emb")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "empty" in result.output.lower()
    assert not (tmp_path / "x.emb").exists()


@pytest.fixture
def ratings_files(tmp_path):
    """Two taste groups: users 0-9 love items 0-4, users 10-19 love items 5-9; tab-separated like u.data."""
    rng = np.random.default_rng(1)
    rows = []
    for user in range(20):
        liked = range(0, 5) if user < 10 else range(5, 10)
        for item in range(10):
            if rng.random() < 0.7:
                rows.append((user, item, 5 if item in liked else 1, 1000 + item))
    rng.shuffle(rows)
    train, test = rows[:-20], rows[-20:]
    paths = []
    for name, part in (("train.tsv", train), ("test.tsv", test)):
        path = tmp_path / name
        path.write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in part))
        paths.append(path)
    return paths


@pytest.mark.parametrize("trainer, extra", [
    ("mf", ["--factors", "4", "--epochs", "30"]),
    ("als", ["--factors", "4", "--min-value", "4", "--workers", "1"]),
    ("bpr", ["--factors", "4", "--min-value", "4", "--iterations", "300", "--learning-rate", "0.05",
             "--workers", "1"]),
])
def test_train_recommend_and_evaluate(ratings_files, tmp_path, trainer, extra):
    train, test = ratings_files
    model_dir = tmp_path / f"{trainer}-model"
    result = runner.invoke(app, ["train", trainer, str(train), "-o", str(model_dir), *extra])
    assert result.exit_code == 0, result.output
    assert "20 users" in result.output
    result = runner.invoke(app, ["recommend", str(model_dir), "3", "-n", "3", "--include-seen"])
    assert result.exit_code == 0, result.output
    top = [line.split()[3] for line in result.output.splitlines() if line.startswith("│ ") and line.split()[1].isdigit()]
    assert len(top) == 3 and all(int(item) < 5 for item in top), result.output
    result = runner.invoke(app, ["eval", "recommend", str(model_dir), str(test), "-k", "5", "--json"])
    assert result.exit_code == 0, result.output
    assert '"ndcg"' in result.output and ('"rmse"' in result.output) == (trainer == "mf")


def test_recommend_unknown_user_is_one_line(ratings_files, tmp_path):
    train, _ = ratings_files
    model_dir = tmp_path / "m"
    assert runner.invoke(app, ["train", "bpr", str(train), "-o", str(model_dir), "--iterations", "2"]).exit_code == 0
    result = runner.invoke(app, ["recommend", str(model_dir), "999"])
    assert result.exit_code == 1 and "999" in result.output and "Traceback" not in result.output


@pytest.fixture
def two_communities(tmp_path):
    """Two dense groups of 15 nodes joined by two edges; labels say which group."""
    rng = np.random.default_rng(3)
    edges = set()
    for group in (range(0, 15), range(15, 30)):
        nodes = list(group)
        for a in nodes:
            for b in rng.choice(nodes, 6, replace=False):
                if a != b:
                    edges.add((min(a, int(b)), max(a, int(b))))
    edges |= {(0, 15), (7, 22)}
    edge_file, label_file = tmp_path / "edges.txt", tmp_path / "labels.txt"
    edge_file.write_text("# planted\n" + "".join(f"n{a} n{b}\n" for a, b in sorted(edges)))
    label_file.write_text("".join(f"n{v} {'left' if v < 15 else 'right'}\n" for v in range(30)))
    return edge_file, label_file


@pytest.mark.parametrize("trainer, extra", [("deepwalk", []), ("node2vec", ["--p", "0.5", "--q", "2"])])
def test_train_graph_and_classify_nodes(two_communities, tmp_path, trainer, extra):
    edges, labels = two_communities
    out = tmp_path / "nodes.emb"
    result = runner.invoke(app, ["train", trainer, str(edges), "-o", str(out), "--dim", "16", "--walk-length", "20",
                                 "--num-walks", "10", "--window", "5", "--workers", "1", "--quiet", *extra])
    assert result.exit_code == 0, result.output
    assert "30 nodes" in result.output and len(load(out)) == 30
    result = runner.invoke(app, ["eval", "nodes", str(out), str(labels), "--json"])
    assert result.exit_code == 0, result.output
    import json
    scores = json.loads(result.output)
    assert scores["micro_f1"] > 0.9, scores


def test_eval_links_reports_auc(two_communities):
    edges, _ = two_communities
    result = runner.invoke(app, ["eval", "links", str(edges), "--dim", "16", "--walk-length", "20", "--num-walks", "5",
                                 "--window", "5", "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert "hadamard" in result.output


def test_eval_nodes_unknown_label_nodes_is_one_line(two_communities, tmp_path):
    edges, labels = two_communities
    out = tmp_path / "nodes.emb"
    assert runner.invoke(app, ["train", "deepwalk", str(edges), "-o", str(out), "--dim", "8", "--walk-length", "10",
                               "--num-walks", "2", "--workers", "1", "--quiet"]).exit_code == 0
    bad = tmp_path / "bad-labels.txt"
    bad.write_text(labels.read_text() + "ghost left\n")
    result = runner.invoke(app, ["eval", "nodes", str(out), str(bad)])
    assert result.exit_code == 1 and "ghost" in result.output and "Traceback" not in result.output
