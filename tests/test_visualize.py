"""Projections, static plots and the projector page, on small synthetic clusters."""

import base64
import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from embedworks import DimensionError, Embeddings, InvalidInputError, UnknownKeyError, load
from embedworks.cli import app
from embedworks.visualize import PCA, TSNE, plot, project, projector, select
from embedworks.visualize.colors import coloring

pytest.importorskip("matplotlib")
pytest.importorskip("openTSNE")

GROUPS = ("animal", "city", "colour", "verb")


def clusters(n_per=60, dim=16, seed=0, metric="cosine"):
    """Four well separated groups, keys w0…, metadata: group (text), weight (float), rank (int)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(GROUPS), dim)) * 4
    vectors = np.concatenate([c + rng.normal(size=(n_per, dim)) for c in centres]).astype(np.float32)
    order = rng.permutation(len(vectors))
    groups = np.repeat(GROUPS, n_per)[order].tolist()
    n = len(vectors)
    return Embeddings([f"w{i}" for i in range(n)], vectors[order],
                      {"group": groups, "weight": np.geomspace(1, 5000, n).tolist(), "rank": list(range(n))},
                      metric=metric)


@pytest.fixture(scope="module")
def emb():
    return clusters()


# ------------------------------------------------------------------ selection
def test_select_keys_top_n_and_where(emb):
    assert select(emb, top_n=10).keys == emb.keys[:10]
    assert select(emb, keys=["w5", "w2"]).keys == ["w5", "w2"]
    cities = select(emb, where={"group": "city"})
    assert len(cities) == 60 and set(cities.metadata["group"]) == {"city"}
    two = select(emb, where={"group": ["city", "verb"]}, top_n=7)
    assert len(two) == 7 and set(two.metadata["group"]) <= {"city", "verb"}
    assert len(select(emb, where={"rank": lambda r: r < 5})) == 5
    assert len(select(emb, where={"rank": "3"})) == 1  # text matches an int column's value
    with pytest.raises(InvalidInputError, match="no metadata column 'colour'.*group"):
        select(emb, where={"colour": "red"})
    with pytest.raises(InvalidInputError, match="no keys match"):
        select(emb, where={"group": "planet"})
    with pytest.raises(UnknownKeyError, match="w9999"):
        select(emb, keys=["w1", "w9999"])


# ------------------------------------------------------------------ projections
def test_pca_is_deterministic_and_matches_sklearn(emb):
    from sklearn.decomposition import PCA as SkPCA

    unit = emb.vectors / np.linalg.norm(emb.vectors, axis=1, keepdims=True)
    reference = SkPCA(n_components=2, svd_solver="full").fit_transform(unit)
    for solver in ("exact", "randomized"):
        xy = project(emb, "pca", dims=2, solver=solver)
        assert xy.shape == (len(emb), 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
        np.testing.assert_array_equal(xy, project(emb, "pca", dims=2, solver=solver))
        for d in range(2):  # equal up to the sign of each component
            sign = np.sign(xy[:, d] @ reference[:, d])
            np.testing.assert_allclose(sign * xy[:, d], reference[:, d], atol=2e-4)
    model = PCA(dims=3).fit(emb)
    assert model.coords.shape == (len(emb), 3) and 0 < model.explained_variance_ratio.sum() <= 1
    np.testing.assert_allclose(model.transform(emb.vectors[:5]), model.coords[:5], atol=1e-5)


def test_tsne_is_seeded_and_keeps_clusters(emb):
    a = project(emb, "tsne", dims=2, seed=3, perplexity=15, workers=1)
    b = project(emb, "tsne", dims=2, seed=3, perplexity=15, workers=1)
    assert a.shape == (len(emb), 2) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, project(emb, "tsne", dims=2, seed=4, perplexity=15, workers=1))
    # each point's nearest map neighbour is from its own group
    groups = np.array(emb.metadata["group"])
    dist = ((a[:, None, :] - a[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    assert (groups[dist.argmin(axis=1)] == groups).mean() > 0.95


def test_tsne_3d_uses_barnes_hut_and_transform_places_new_points(emb):
    model = TSNE(dims=3, perplexity=10, n_iter=200, early_exaggeration_iter=100, workers=1).fit(emb)
    assert model.coords.shape == (len(emb), 3) and model.gradient_used == "bh"
    assert TSNE.choose_gradient(100_000, 3) == "bh" and TSNE.choose_gradient(100_000, 2) == "fft"
    assert TSNE.choose_gradient(5_000, 2) == "bh"
    with pytest.raises(InvalidInputError, match="FFT.*1-2 dims.*Barnes-Hut"):
        TSNE(dims=3, gradient="fft")
    model2 = TSNE(dims=2, perplexity=10, n_iter=250, workers=1).fit(emb)
    groups = np.array(emb.metadata["group"])
    new = emb.vectors[:8] + np.random.default_rng(1).normal(scale=0.05, size=(8, emb.dim)).astype(np.float32)
    placed = model2.transform(new)
    assert placed.shape == (8, 2) and np.isfinite(placed).all()
    nearest = ((placed[:, None, :] - model2.coords[None]) ** 2).sum(-1).argmin(axis=1)
    assert (groups[nearest] == groups[:8]).all()


@pytest.mark.slow  # umap-learn compiles its Numba kernels in every new process: ~30 s before the first map
def test_umap_is_seeded(emb):
    pytest.importorskip("umap")
    a = project(emb, "umap", dims=2, seed=0, n_neighbors=10)
    assert a.shape == (len(emb), 2) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, project(emb, "umap", dims=2, seed=0, n_neighbors=10))


def test_projection_errors_name_the_problem(emb):
    small = select(emb, top_n=50)
    with pytest.raises(InvalidInputError, match=r"perplexity 30 needs more than .*90 points, got 50"):
        project(small, "tsne")
    bad = Embeddings(["a", "b", "c", "d"], [[1, 0], [0, 1], [np.nan, 1], [1, 1]])
    with pytest.raises(InvalidInputError, match="key 'c' .*NaN"):
        project(bad, "pca")
    for dims in (1, 4, 2.5, "2"):
        with pytest.raises(DimensionError, match="dims must be 2 or 3"):
            project(emb, "pca", dims=dims)
    with pytest.raises(InvalidInputError, match="unknown projection method 'mds'"):
        project(emb, "mds")
    with pytest.raises(InvalidInputError, match="no setting 'perplexity'"):
        project(emb, "pca", perplexity=5)
    with pytest.raises(InvalidInputError, match="at least 2 points"):
        project(select(emb, top_n=1), "pca")
    with pytest.raises(InvalidInputError, match="n_neighbors 15 needs more than 15 points"):
        project(select(emb, top_n=10), "umap")


# ------------------------------------------------------------------ colours and plots
def test_coloring_rules():
    text = coloring("g", ["a", "b", None, "a"])
    assert text.kind == "categorical" and text.categories == ["a", "b", "(missing)"] and text.counts == [2, 1, 1]
    assert coloring("n", [1, 2, 3, 2]).kind == "categorical"  # few distinct integers
    many = coloring("word", [f"x{i % 30}" for i in range(300)])
    assert len(many.categories) == 20 and many.categories[-1] == "(other)"
    counts = coloring("count", [5, 50, 5000, 12, 7, 900, 31, 45, 60, 70, 80, 90, 100])
    assert counts.kind == "continuous" and counts.log and counts.vmin == 5
    assert not coloring("x", [0.1, 0.5, 0.9]).log
    assert coloring("x", [0.1, 0.5, 0.9]).rgb().shape == (3, 3)


def test_plot_writes_png_with_legend_matching_categories(emb, tmp_path):
    path = tmp_path / "map.png"
    result = plot(emb, path, method="pca", color_by="group", labels=["w0", "w1", "w2"])
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert list(result.legend) == sorted(GROUPS)
    legend = result.figure.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [f"{g} (60)" for g in sorted(GROUPS)]
    assert legend.get_title().get_text() == "group"
    assert set(result.labelled) | set(result.skipped) == {"w0", "w1", "w2"} and result.labelled
    assert "PCA 2-D map of 240 keys" in result.title and "exact" in result.title
    assert result.coords.shape == (240, 2) and result.colorbar is None


def test_plot_continuous_3d_svg_and_auto_labels(emb, tmp_path):
    result = plot(emb, tmp_path / "map.svg", method="tsne", dims=3, perplexity=10, n_iter=200,
                  early_exaggeration_iter=100, workers=1, color_by="weight", labels="auto")
    assert (tmp_path / "map.svg").read_text().lstrip().startswith("<?xml")
    assert result.colorbar == (1.0, 5000.0, True) and result.legend == {}
    assert "t-SNE 3-D" in result.title and "perplexity 10" in result.title and "seed 0" in result.title
    assert 5 <= len(result.labelled) <= 30
    texts = [t for t in result.figure.axes[0].texts]
    boxes = [t.get_window_extent(result.figure.canvas.get_renderer()) for t in texts]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_plot_errors(emb, tmp_path):
    with pytest.raises(InvalidInputError, match="no metadata column 'colour'"):
        plot(emb, tmp_path / "x.png", method="pca", color_by="colour")
    with pytest.raises(UnknownKeyError, match="nope"):
        plot(emb, tmp_path / "x.png", method="pca", labels=["nope"])
    with pytest.raises(InvalidInputError, match=r"\.png, \.svg or \.pdf"):
        plot(emb, tmp_path / "x.gif", method="pca")
    with pytest.raises(DimensionError, match="dims must be 2 or 3"):
        plot(emb, tmp_path / "x.png", method="pca", dims=4)
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------ projector page
def page_data(path):
    text = path.read_text(encoding="utf-8")
    raw = re.search(r'<script id="embedworks-data" type="application/json">(.*?)</script>', text, re.S).group(1)
    return text, json.loads(raw)


def decoded(text, dtype):
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def test_projector_page_is_self_contained_with_exact_neighbours(emb, tmp_path):
    path = tmp_path / "p.html"
    page = projector(emb, path, methods="pca", dims=(2, 3), neighbors=5, top_n=200, color_by="group",
                     projections={"given": np.zeros((200, 2))}, tensorboard=tmp_path / "tb")
    text, data = page_data(path)
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|https?://", text)  # nothing fetched
    assert [p["name"] for p in data["projections"]] == ["PCA 2-D", "PCA 3-D", "given"]
    assert data["n"] == 200 and data["keys"] == emb.keys[:200] and data["color_by"] == "group"
    coords = decoded(data["projections"][1]["coords"], "<f4").reshape(200, 3)
    np.testing.assert_array_equal(coords, page.projections["PCA 3-D"])
    idx = decoded(data["neighbors"]["indices"], "<i4").reshape(200, 5)
    scores = decoded(data["neighbors"]["scores"], "<f4").reshape(200, 5)
    sub = select(emb, top_n=200)
    for row in (0, 17, 199):
        expected = sub.most_similar(sub.keys[row], k=5)
        assert [sub.keys[i] for i in idx[row]] == [k for k, _ in expected]
        np.testing.assert_allclose(scores[row], [s for _, s in expected], rtol=1e-5)
    kinds = {c["name"]: c["kind"] for c in data["columns"]}
    assert kinds == {"group": "categorical", "weight": "continuous", "rank": "continuous"}
    tb = load(tmp_path / "tb" / "vectors.tsv")
    assert tb.keys == sub.keys and tb.metadata["group"] == sub.metadata["group"]


def test_projector_scales_compactly(tmp_path):
    big = clusters(n_per=2500, dim=8, seed=2, metric="euclidean")  # 10,000 points
    page = projector(big, tmp_path / "big.html", methods="pca", neighbors=3)
    # per point: base64 of 8 coordinate + 24 neighbour bytes (43), a key (~9), 3 metadata columns (~12)
    assert page.size_bytes < 10_000 * 70


def test_projector_errors(emb, tmp_path):
    with pytest.raises(InvalidInputError, match="no metadata column 'colour'"):
        projector(emb, tmp_path / "p.html", methods="pca", color_by="colour")
    with pytest.raises(InvalidInputError, match="name it \\*.html"):
        projector(emb, tmp_path / "p.png", methods="pca")
    with pytest.raises(DimensionError, match="dims must be 2 or 3"):
        projector(emb, tmp_path / "p.html", methods="pca", dims=5)
    with pytest.raises(DimensionError, match="projection 'bad' has shape"):
        projector(emb, tmp_path / "p.html", methods=(), projections={"bad": np.zeros((3, 2))})
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------ command line
def test_cli_plot_and_projector(emb, tmp_path):
    source = tmp_path / "words.emb"
    emb.save(source)
    runner = CliRunner()
    result = runner.invoke(app, ["plot", str(source), "-o", str(tmp_path / "map.png"), "--method", "pca",
                                 "--color-by", "group", "--labels", "w1,w2", "--top-n", "100"])
    assert result.exit_code == 0, result.output
    assert "100 points" in result.output and (tmp_path / "map.png").stat().st_size > 10_000
    result = runner.invoke(app, ["projector", str(source), "-o", str(tmp_path / "p.html"), "--methods", "pca",
                                 "--dims", "2,3", "--neighbors", "4", "--where", "group=city",
                                 "--tensorboard", str(tmp_path / "tb")])
    assert result.exit_code == 0, result.output
    _, data = page_data(tmp_path / "p.html")
    assert data["n"] == 60 and data["neighbors"]["k"] == 4 and len(data["projections"]) == 2
    assert (tmp_path / "tb" / "metadata.tsv").exists()
    result = runner.invoke(app, ["plot", str(source), "-o", str(tmp_path / "x.png"), "--color-by", "nope"])
    assert result.exit_code == 1 and "no metadata column 'nope'" in result.output
    result = runner.invoke(app, ["plot", str(source), "-o", str(tmp_path / "x.png"), "--top-n", "20"])
    assert result.exit_code == 1 and "perplexity" in result.output and "Traceback" not in result.output
