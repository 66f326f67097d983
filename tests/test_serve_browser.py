"""The service's web page in a real headless Chromium, served by a real uvicorn on 127.0.0.1.

Type a query, see neighbours; type a user, see recommendations; open the projector. Driven
through the DevTools protocol over a pipe (tests/browser/cdp.py), as the projector's browser
test is; skips, saying why, when no Chromium-family browser is installed.
"""

import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("fastapi", reason="the serve extra is not installed")
uvicorn = pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from embedworks import Embeddings  # noqa: E402
from embedworks.learn.recommend import ALS  # noqa: E402
from embedworks.search import TextIndex  # noqa: E402
from embedworks.serve import create_app  # noqa: E402
from embedworks.serve.resources import EmbeddingsResource, RecommenderResource, TextIndexResource  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "browser"))
from cdp import Browser, CDPError, find_browser  # noqa: E402

BROWSER = find_browser()
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium-family browser installed (apt-get install "
                                                        "chromium, or set EMBEDWORKS_BROWSER)")
TOPICS = {"pets": "cat dog kitten puppy fur vet leash purr paw collar",
          "space": "planet orbit rocket galaxy star telescope astronaut moon comet"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def resources():
    rng = np.random.default_rng(3)
    words = Embeddings([f"w{i}" for i in range(80)], rng.normal(size=(80, 8)), {"group": [f"g{i % 4}" for i in range(80)]})
    docs = [(f"{t}-{i}", t.title(), " ".join(rng.choice(w.split(), size=6))) for t, w in TOPICS.items() for i in range(8)]
    index = TextIndex.build(docs, encoder="lsa", dim=4, workers=1)
    model = ALS(factors=4, iterations=3, workers=1, progress=False).fit(
        sp.random(20, 30, density=0.25, random_state=4, format="csr"))
    return {"words": EmbeddingsResource("words", words), "docs": TextIndexResource("docs", index),
            "ml": RecommenderResource("ml", model)}


@pytest.fixture(scope="module")
def server(resources):
    """A real uvicorn on a free 127.0.0.1 port, in a thread, shut down after the module."""
    port = free_port()
    config = uvicorn.Config(create_app(resources), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)
    assert not thread.is_alive(), "uvicorn did not shut down"


@pytest.fixture(scope="module")
def browser():
    try:
        b = Browser(BROWSER, width=1100, height=800)
    except (CDPError, OSError) as error:
        pytest.skip(f"could not start {BROWSER}: {error}")
    yield b
    b.close()


def listed(browser):
    return browser.evaluate("Array.from(document.querySelectorAll('#results tbody tr')).map("
                            "tr => [tr.cells[1].textContent, +tr.cells[2].textContent])")


def ask(browser, resource, mode, text):
    browser.evaluate(f"servePage.select('{resource}', '{mode}'); document.getElementById('query').value = '';"
                     "document.getElementById('query').focus()")
    before = browser.evaluate("servePage.state.requests")
    browser.type_text(text)  # typing alone runs the query (debounced)
    browser.wait_for(f"servePage.state.requests > {before} && document.getElementById('status').textContent"
                     " !== '…'")


def test_type_a_query_see_results(server, browser, resources):
    browser.goto(server + "/")
    browser.wait_for("window.servePage && servePage.state.ready && "
                     "document.getElementById('resource').options.length === 3")

    ask(browser, "docs", "search", "rocket orbit galaxy")
    rows = listed(browser)
    expected = resources["docs"].index.search("rocket orbit galaxy", k=10)
    assert [k for k, _ in rows] == [k for k, _ in expected]
    assert rows[0][0].startswith("space")

    ask(browser, "words", "similar", "w5")
    rows = listed(browser)
    expected = resources["words"].emb.most_similar("w5", k=10)
    assert [k for k, _ in rows] == [k for k, _ in expected]
    np.testing.assert_allclose([s for _, s in rows], [s for _, s in expected], atol=1e-4)

    browser.evaluate("document.querySelector('#results tbody tr .key button').click()")  # a result's neighbours
    first = rows[0][0]
    browser.wait_for(f"document.getElementById('query').value === '{first}' && "
                     f"servePage.state.results.length === 10 && servePage.state.results[0].key !== '{first}'")

    ask(browser, "ml", "recommend", "3")
    rows = listed(browser)
    assert [k for k, _ in rows] == [str(k) for k, _ in resources["ml"].model.recommend(3, n=10)]

    ask(browser, "words", "similar", "nosuchkey")
    assert "unknown key" in browser.evaluate("document.getElementById('status').textContent")
    assert browser.evaluate("document.getElementById('status').className") == "error"
    assert listed(browser) == []

    href = browser.evaluate("document.getElementById('projector-link').href")
    assert href == server + "/projector/words"
    browser.goto(href)
    browser.wait_for("window.projector && window.projector.ready")
    assert browser.evaluate("projector.projections") == ["PCA 2-D"]
    assert browser.console_errors() == []
