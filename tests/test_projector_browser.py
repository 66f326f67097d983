"""The projector page in a real headless Chromium: it draws, search highlights, a click lists neighbours.

Driven through the DevTools protocol over a pipe (tests/browser/cdp.py; no Node, no network).
Skips, saying why, when no Chromium-family browser is installed (`make test` installs Debian's
chromium when it can). Set EMBEDWORKS_SCREENSHOTS=DIR to keep the screenshots.
"""

import io
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from embedworks import Embeddings
from embedworks.visualize import project, projector

sys.path.insert(0, str(Path(__file__).parent / "browser"))
from cdp import Browser, CDPError, find_browser  # noqa: E402

BROWSER = find_browser()
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium-family browser installed (apt-get install "
                                                        "chromium, or set EMBEDWORKS_BROWSER)")
pytest.importorskip("PIL", reason="Pillow (a matplotlib dependency) decodes the screenshots")
from PIL import Image  # noqa: E402

HIGHLIGHT = (255, 0, 115)  # the page's colour for search matches
NAMES = ("river", "stone", "cloud", "maple", "tiger", "piano", "orbit", "lemon", "harbor", "violet")


@pytest.fixture(scope="module")
def words():
    """600 keys in 6 clusters, with a text column to colour by."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(6, 24)) * 3
    vectors = np.concatenate([c + rng.normal(size=(100, 24)) for c in centres]).astype(np.float32)
    keys = [f"{NAMES[i % 10]}{i}" for i in range(600)]
    return Embeddings(keys, vectors, {"cluster": [f"c{i // 100}" for i in range(600)]})


@pytest.fixture(scope="module")
def page(words, tmp_path_factory):
    path = tmp_path_factory.mktemp("projector") / "projector.html"
    projector(words, path, methods="pca", dims=(2, 3), neighbors=8,
              projections={"t-SNE 2-D": project(words, "tsne", perplexity=20, n_iter=150,
                                                     early_exaggeration_iter=100, workers=1)})
    return path


@pytest.fixture(scope="module")
def browser():
    try:
        b = Browser(BROWSER, width=1100, height=760)
    except (CDPError, OSError) as error:
        pytest.skip(f"could not start {BROWSER}: {error}")
    yield b
    b.close()


def screenshot(browser, name):
    image = Image.open(io.BytesIO(browser.screenshot())).convert("RGB")
    keep = os.environ.get("EMBEDWORKS_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        image.save(Path(keep) / f"{name}.png")
    return np.asarray(image).astype(int)


def view_box(browser):
    return browser.evaluate("(() => { const r = document.getElementById('view').getBoundingClientRect();"
                            " return [r.left, r.top, r.right, r.bottom]; })()")


def highlight_pixels(pixels, centre=None, radius=12):
    mask = ((np.abs(pixels - HIGHLIGHT) <= (40, 40, 60)).all(axis=-1))
    if centre is not None:
        x, y = int(round(centre["x"])), int(round(centre["y"]))
        mask = mask[max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1]
    return int(mask.sum())


def test_page_draws_searches_and_lists_neighbours(browser, page, words):
    browser.goto(page.as_uri())
    browser.wait_for("window.projector && window.projector.ready")
    assert browser.evaluate("projector.projections") == ["PCA 2-D", "PCA 3-D", "t-SNE 2-D"]

    # points are drawn: many non-white pixels in the plot area
    left, top, right, bottom = (int(v) for v in view_box(browser))
    pixels = screenshot(browser, "1-loaded")
    plot_area = pixels[top:bottom, left:right]
    drawn = int((plot_area.sum(axis=-1) < 3 * 235).sum())
    assert drawn > 3000, f"only {drawn} non-background pixels in the plot"
    assert highlight_pixels(pixels) == 0

    # search: type a key, the page highlights it
    key = "tiger594"  # no other key contains it
    index = browser.evaluate(f"projector.indexOf('{key}')")
    browser.evaluate("document.getElementById('search').focus()")
    browser.type_text(key)
    browser.wait_for(f"projector.state.search === '{key}' && projector.state.frames > 0")
    browser.wait_for(f"projector.highlighted().includes({index})")
    assert browser.evaluate("projector.highlighted()") == [index]
    browser.evaluate("projector.render()")
    pixels = screenshot(browser, "2-search")
    position = browser.evaluate(f"projector.screenPosition({index})")
    assert highlight_pixels(pixels, position) > 15, "the searched key is not drawn in the highlight colour"
    browser.evaluate("projector.search('')")

    # click an isolated point: its nearest neighbours in the original space are listed
    positions = np.array(browser.evaluate("projector.screenPositions()"), dtype=float).reshape(-1, 2)
    gaps = np.sqrt(((positions[:, None] - positions[None]) ** 2).sum(-1))
    np.fill_diagonal(gaps, np.inf)
    inside = (positions[:, 0] > 30) & (positions[:, 0] < right - left - 30) & (positions[:, 1] > 30) & \
             (positions[:, 1] < bottom - top - 30)
    target = int(np.argmax(np.where(inside, gaps.min(axis=1), -1)))
    assert gaps[target].min() > 4
    point = browser.evaluate(f"projector.screenPosition({target})")
    browser.click(point["x"], point["y"])
    browser.wait_for(f"projector.state.selected === {target}")
    listed = browser.evaluate("Array.from(document.querySelectorAll('#neighbours li')).map("
                              "li => [li.querySelector('.key').textContent, +li.querySelector('.score').textContent])")
    expected = words.most_similar(words.keys[target], k=8)
    assert [k for k, _ in listed] == [k for k, _ in expected]
    np.testing.assert_allclose([s for _, s in listed], [s for _, s in expected], atol=6e-5)
    assert browser.evaluate("document.getElementById('selkey').textContent") == words.keys[target]
    screenshot(browser, "3-selected")

    # switching to the 3-D and t-SNE projections still draws
    for which in (1, 2):
        browser.evaluate(f"projector.setProjection({which}); projector.render()")
        pixels = screenshot(browser, f"4-projection-{which}")
        assert int((pixels[top:bottom, left:right].sum(axis=-1) < 3 * 235).sum()) > 3000
    assert browser.console_errors() == []


def test_browser_helper_finds_chromium():
    assert BROWSER and (Path(BROWSER).exists() or shutil.which(BROWSER))
