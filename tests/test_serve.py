"""The HTTP service through FastAPI's TestClient: every endpoint, every error path, and a
schemathesis run over the OpenAPI spec that must find no 5xx."""

import json
import re
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("fastapi", reason="the serve extra is not installed")
pytest.importorskip("python_multipart", reason="the serve extra is not installed")
from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from embedworks import Embeddings  # noqa: E402
from embedworks.cli import app as cli  # noqa: E402
from embedworks.learn.recommend import ALS  # noqa: E402
from embedworks.search import TextIndex  # noqa: E402
from embedworks.serve import Limits, create_app, load_resources  # noqa: E402
from embedworks.serve.resources import detect_kind, split_spec  # noqa: E402

KEY = "s3cret"
LIMITS = Limits(max_body_bytes=64_000, max_batch=16, max_k=50, max_projector_points=40)
TOPICS = {"pets": "cat dog kitten puppy fur vet leash purr paw collar",
          "money": "stock market bond investor dividend shares trading price bank fund",
          "space": "planet orbit rocket galaxy star telescope astronaut moon comet"}


def documents():
    rng = np.random.default_rng(0)
    return [(f"{topic}-{i}", topic.title(), " ".join(rng.choice(words.split(), size=6)))
            for topic, words in TOPICS.items() for i in range(8)]


def tone(path, hz, seconds=0.5, rate=16000):
    import soundfile

    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(path, (0.4 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate)
    return path


def make_collection(path, lsa):
    from embedworks.store import Collection

    return Collection.create(path, dim=6, encoder=str(lsa), name=path.stem)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Every kind of resource saved to disk: word vectors, int-keyed vectors, ALS, a text index,
    and audio clips' vectors that remember their encoder (MFCC)."""
    root = tmp_path_factory.mktemp("serve")
    rng = np.random.default_rng(1)
    words = Embeddings([f"w{i}" for i in range(60)], rng.normal(size=(60, 8)),
                       {"group": [f"g{i % 3}" for i in range(60)], "rank": list(range(60))})
    words.save(root / "words.emb")
    Embeddings(list(range(100, 130)), rng.normal(size=(30, 4)), metric="dot").save(root / "ids.emb")
    clicks = sp.random(25, 40, density=0.2, random_state=2, format="csr")
    ALS(factors=4, iterations=3, workers=1, progress=False).fit(clicks).save(root / "als")
    TextIndex.build(documents(), encoder="lsa", dim=6, workers=1).save(root / "docs")
    notes = make_collection(root / "notes.col", root / "docs" / "encoder")
    notes.upsert([d for d, _, _ in documents()], items=[text for _, _, text in documents()],
                 metadata=[{"topic": d.split("-")[0], "n": i} for i, (d, _, _) in enumerate(documents())])
    notes.close()
    pytest.importorskip("soundfile")
    from embedworks.encode.audio import AudioEncoder

    encoder = AudioEncoder.mfcc()
    clips = [str(tone(root / f"tone{hz}.wav", hz)) for hz in (220, 440, 880, 1760)]
    Embeddings([f"tone{hz}" for hz in (220, 440, 880, 1760)], encoder.encode_array(clips), metric="cosine",
               encoder=encoder.encoder_spec).save(root / "tones.emb")
    return root


@pytest.fixture(scope="module")
def resources(saved):
    return load_resources([str(saved / "words.emb"), f"ids={saved / 'ids.emb'}", f"ml={saved / 'als'}",
                           str(saved / "docs"), str(saved / "tones.emb"), str(saved / "notes.col")])


@pytest.fixture(scope="module")
def client(resources):
    with TestClient(create_app(resources, api_key=KEY, limits=LIMITS)) as c:
        yield c


def post(client, path, body, **kwargs):
    return client.post(path, json=body, **kwargs)


def error(response, status, type_=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    if type_ is not None:
        assert body["error"]["type"] == type_, body
    return body["error"]["message"]


# ------------------------------------------------------------------------------ resources
def test_specs_and_kinds(saved):
    assert split_spec(f"x={saved / 'words.emb'}") == ("x", saved / "words.emb")
    assert split_spec(str(saved / "words.emb"))[0] == "words"
    assert [detect_kind(saved / p) for p in ("words.emb", "als", "docs", "notes.col")] == [
        "embeddings", "recommender", "text-index", "collection"]
    with pytest.raises(Exception, match="two resources are named"):
        load_resources([str(saved / "words.emb"), f"words={saved / 'ids.emb'}"])


def test_health_and_resource_list(client):
    assert client.get("/health").json() == {"status": "ok", "version": "0.1.0", "resources": 6}
    listed = {r["name"]: r for r in client.get("/resources").json()["resources"]}
    assert {n: r["kind"] for n, r in listed.items()} == {
        "words": "embeddings", "ids": "embeddings", "ml": "recommender", "docs": "text-index", "tones": "embeddings",
        "notes": "collection"}
    assert listed["words"]["count"] == 60 and listed["words"]["dim"] == 8
    assert listed["tones"]["encoder"]["kind"] == "audio" and "search" in listed["tones"]["operations"]
    assert "recommend" in listed["ml"]["operations"] and "upsert" not in listed["words"]["operations"]
    assert client.get("/resources/ml").json()["model"] == "ALS"
    error(client.get("/resources/nope"), 404, "unknown_resource")


# ------------------------------------------------------------------------------ similar and analogy
def test_similar_by_key_vector_filter_and_metric(client, resources):
    words = resources["words"].emb
    hits = post(client, "/resources/words/similar", {"key": "w3", "k": 5}).json()["hits"]
    assert [(h["key"], pytest.approx(h["score"], abs=1e-6)) for h in hits] == words.most_similar("w3", k=5)
    assert hits[0]["metadata"] == {"group": words.metadata["group"][words.index_of(hits[0]["key"])],
                                   "rank": words.index_of(hits[0]["key"])}
    vector = words["w7"].tolist()
    assert post(client, "/resources/words/similar", {"vector": vector, "k": 1}).json()["hits"][0]["key"] == "w7"
    filtered = post(client, "/resources/words/similar", {"key": "w3", "k": 4, "filter": {"group": ["g1", "g2"]}})
    assert {h["metadata"]["group"] for h in filtered.json()["hits"]} <= {"g1", "g2"}
    assert len(filtered.json()["hits"]) == 4
    euclid = post(client, "/resources/words/similar", {"key": "w3", "k": 3, "metric": "euclidean"}).json()["hits"]
    assert [h["key"] for h in euclid] == [k for k, _ in words.most_similar("w3", k=3, metric="euclidean")]
    # int keys: 105 and "105" name the same key; recommender items by cosine
    assert post(client, "/resources/ids/similar", {"key": "105", "k": 2}).json() == \
        post(client, "/resources/ids/similar", {"key": 105, "k": 2}).json()
    assert len(post(client, "/resources/ml/similar", {"key": 3, "k": 4}).json()["hits"]) == 4


def test_similar_errors(client):
    error(post(client, "/resources/nope/similar", {"key": "w1"}), 404, "unknown_resource")
    error(post(client, "/resources/words/similar", {"key": "nope"}), 404, "unknown_key")
    assert "w1" in error(post(client, "/resources/words/similar", {"key": "w1x"}), 404)  # suggests close keys
    error(post(client, "/resources/words/similar", {"vector": [1.0] * 7}), 422, "dimension_mismatch")
    error(post(client, "/resources/words/similar", {"vector": [1e39] * 8}), 422, "invalid_input")
    for raw in (b'{"vector": [NaN, 1, 1, 1, 1, 1, 1, 1]}', b'{"vector": [Infinity, 1, 1, 1, 1, 1, 1, 1]}'):
        error(client.post("/resources/words/similar", content=raw, headers={"content-type": "application/json"}),
              422, "validation_error")
    assert "limit is 50" in error(post(client, "/resources/words/similar", {"key": "w1", "k": 51}), 422,
                                  "limit_exceeded")
    error(post(client, "/resources/words/similar", {"key": "w1", "k": 0}), 422, "validation_error")
    error(post(client, "/resources/words/similar", {"key": "w1", "vector": [0.0] * 8}), 422, "validation_error")
    error(post(client, "/resources/words/similar", {}), 422, "validation_error")
    error(post(client, "/resources/words/similar", {"key": "w1", "surprise": 1}), 422, "validation_error")
    error(post(client, "/resources/words/similar", {"key": "w1", "filter": {"colour": "red"}}), 422, "invalid_input")
    error(client.post("/resources/words/similar", content=b'{"key": ', headers={"content-type": "application/json"}),
          400, "malformed_json")
    error(client.post("/resources/words/similar", content=b"key=w1", headers={"content-type": "text/plain"}), 422)
    error(post(client, "/resources/words/recommend", {"user": 1}), 400, "unsupported_operation")


def test_analogy(client, resources):
    words = resources["words"].emb
    body = {"positive": ["w1", "w2"], "negative": ["w3"], "k": 3}
    hits = post(client, "/resources/words/analogy", body).json()["hits"]
    assert [h["key"] for h in hits] == [k for k, _ in words.analogy(["w1", "w2"], ["w3"], k=3)]
    error(post(client, "/resources/words/analogy", {"positive": ["w1", "nope"]}), 404, "unknown_key")
    error(post(client, "/resources/words/analogy", {"positive": []}), 422, "validation_error")
    error(post(client, "/resources/words/analogy", {"positive": ["w1"] * 17}), 422, "limit_exceeded")
    error(post(client, "/resources/ml/analogy", {"positive": [1, 2]}), 400, "unsupported_operation")


# ------------------------------------------------------------------------------ search and encode
def test_search_text_index(client, resources):
    index = resources["docs"].index
    hits = post(client, "/resources/docs/search", {"text": "rocket orbit moon", "k": 4}).json()["hits"]
    assert [h["key"] for h in hits] == [k for k, _ in index.search("rocket orbit moon", k=4)]
    assert all(h["key"].startswith("space") for h in hits) and hits[0]["metadata"]["title"] == "Space"
    assert post(client, "/resources/docs/search", {"text": "zzz unknownword", "k": 3}).json()["hits"] == []
    vector = index.embeddings["money-1"].tolist()
    assert post(client, "/resources/docs/search", {"vector": vector, "k": 1}).json()["hits"][0]["key"] == "money-1"
    by_file = client.post("/resources/docs/search/file", files={"file": ("q.txt", b"cat puppy leash")},
                          data={"k": "3"}).json()["hits"]
    assert by_file and all(h["key"].startswith("pets") for h in by_file)
    error(post(client, "/resources/docs/search", {"text": "cat", "filter": {"a": 1}}), 422, "invalid_input")
    error(post(client, "/resources/words/search", {"text": "cat"}), 400, "unsupported_operation")
    error(post(client, "/resources/docs/search", {"text": ""}), 422, "validation_error")
    error(client.post("/resources/docs/search/file", files={"file": ("q.txt", b"\xff\xfe\x00bad")}), 422,
          "invalid_input")
    error(client.post("/resources/docs/search/file", files={"file": ("q.txt", b"cat")}, data={"k": "99"}), 422,
          "limit_exceeded")
    error(client.post("/resources/docs/search/file", files={"file": ("q.txt", b"cat")}, data={"filter": "{"}), 422,
          "validation_error")
    error(client.post("/resources/docs/search/file", data={"k": "3"}), 422, "validation_error")


def test_search_and_encode_audio_uploads(client, resources, saved):
    clip = (saved / "tone880.wav").read_bytes()
    hits = client.post("/resources/tones/search/file", files={"file": ("q.wav", clip, "audio/wav")},
                       data={"k": "2"}).json()["hits"]
    assert hits[0]["key"] == "tone880" and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    encoded = client.post("/resources/tones/encode/file", files={"file": ("q.wav", clip)}).json()
    np.testing.assert_allclose(encoded["vectors"][0], resources["tones"].emb["tone880"], rtol=1e-5, atol=1e-5)
    assert "could not read" in error(client.post("/resources/tones/search/file",
                                                 files={"file": ("q.wav", b"not audio at all")}), 422)
    error(client.post("/resources/words/encode/file", files={"file": ("q.wav", clip)}), 400, "unsupported_operation")
    error(client.post("/resources/tones/search/file", files={"file": ("big.wav", b"\0" * 70_000)}), 413,
          "payload_too_large")


def test_encode_texts(client, resources):
    body = post(client, "/resources/docs/encode", {"texts": ["cat dog", "bond price"]}).json()
    expected = resources["docs"].index.encoder.encode_array(["cat dog", "bond price"])
    assert body["dim"] == 6
    np.testing.assert_allclose(body["vectors"], expected, atol=1e-6)
    error(post(client, "/resources/docs/encode", {"texts": ["x"] * 17}), 422, "limit_exceeded")
    error(post(client, "/resources/docs/encode", {"texts": ["ok", "  "]}), 422, "invalid_input")
    error(post(client, "/resources/docs/encode", {"texts": []}), 422, "validation_error")
    error(post(client, "/resources/docs/encode", {"texts": [1]}), 422, "validation_error")
    error(post(client, "/resources/words/encode", {"texts": ["cat"]}), 400, "unsupported_operation")


# ------------------------------------------------------------------------------ recommend
def test_recommend(client, resources):
    model = resources["ml"].model
    hits = post(client, "/resources/ml/recommend", {"user": 4, "n": 5}).json()["hits"]
    assert [(h["key"], pytest.approx(h["score"], rel=1e-5)) for h in hits] == model.recommend(4, n=5)
    seen = set(model.train_csr[4].indices.tolist())
    assert not seen & {h["key"] for h in hits}
    unfiltered = post(client, "/resources/ml/recommend", {"user": "4", "n": 40, "filter_seen": False}).json()
    assert seen <= {h["key"] for h in unfiltered["hits"]}
    error(post(client, "/resources/ml/recommend", {"user": 999}), 404, "unknown_key")
    error(post(client, "/resources/ml/recommend", {"user": 4, "n": 51}), 422, "limit_exceeded")
    error(post(client, "/resources/ml/recommend", {"n": 3}), 422, "validation_error")


# ------------------------------------------------------------------------------ limits and plumbing
def test_body_limits(client):
    big = {"key": "w1", "filter": {"group": ["g"] * 20_000}}
    error(post(client, "/resources/words/similar", big), 413, "payload_too_large")

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"key": "w1", "filter": {"group": ['
        for _ in range(12_000):
            yield b'"g0", '
        yield b'"g1"]}}'

    error(client.post("/resources/words/similar", content=chunks(), headers={"content-type": "application/json"}),
          413, "payload_too_large")


def test_unknown_routes_and_methods_are_json(client):
    error(client.get("/nowhere"), 404, "not_found")
    error(client.get("/resources/words/similar"), 405, "method_not_allowed")


def test_metrics_count_requests(client):
    post(client, "/resources/words/similar", {"key": "w1", "k": 2})
    post(client, "/resources/words/similar", {"key": "nope"})
    metrics = client.get("/metrics").json()
    route = metrics["routes"]["POST /resources/{name}/similar"]
    assert route["by_status"]["200"] >= 1 and route["by_status"]["404"] >= 1
    assert 0 < route["latency_ms"]["p50"] <= route["latency_ms"]["p99"]
    assert metrics["server_errors"] == 0 and metrics["requests"] >= 2


def test_pages(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "window.servePage" in page.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text), "the page must not load anything remote"
    projector = client.get("/projector/words")
    assert projector.status_code == 200 and "window.projector" in projector.text
    assert "40 points" in projector.text  # bounded by max_projector_points
    assert client.get("/projector/words").text == projector.text
    assert client.get("/projector/ml").status_code == 200
    error(client.get("/projector/nope"), 404, "unknown_resource")


def test_openapi_spec(client):
    spec = client.get("/openapi.json").json()
    assert {"/resources/{name}/similar", "/resources/{name}/upsert", "/resources/{name}/search/file"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    name = spec["paths"]["/resources/{name}/similar"]["post"]["parameters"][0]
    assert name["schema"]["enum"] == ["docs", "ids", "ml", "notes", "tones", "words"]


def test_writes_need_the_api_key_and_a_collection(client):
    body = {"items": [{"key": "new", "vector": [0.0] * 8}]}
    error(post(client, "/resources/words/upsert", body), 401, "unauthorized")
    error(post(client, "/resources/words/upsert", body, headers={"X-API-Key": "wrong"}), 401, "unauthorized")
    error(post(client, "/resources/words/delete", {"keys": ["w1"]}), 401, "unauthorized")
    error(post(client, "/resources/words/upsert", body, headers={"X-API-Key": KEY}), 400, "unsupported_operation")


# ------------------------------------------------------------------------------ collections
def test_collection_search_filter_and_similar(client, resources):
    notes = resources["notes"].collection
    hits = post(client, "/resources/notes/search", {"text": "rocket moon", "k": 5}).json()["hits"]
    assert [(h["key"], pytest.approx(h["score"], abs=1e-5)) for h in hits] == notes.search(text="rocket moon", k=5)
    filtered = post(client, "/resources/notes/search", {"text": "rocket moon", "k": 5, "filter": {"topic": "pets"}})
    assert len(filtered.json()["hits"]) == 5 and {h["metadata"]["topic"] for h in filtered.json()["hits"]} == {"pets"}
    similar = post(client, "/resources/notes/similar", {"key": "money-2", "k": 3}).json()["hits"]
    assert len(similar) == 3 and "money-2" not in [h["key"] for h in similar]
    by_file = client.post("/resources/notes/search/file", files={"file": ("q.txt", b"bond dividend")},
                          data={"k": "2", "filter": json.dumps({"topic": ["money", "space"]})}).json()["hits"]
    assert [h["metadata"]["topic"] for h in by_file] == ["money", "money"]
    assert post(client, "/resources/notes/encode", {"texts": ["cat"]}).json()["dim"] == 6
    error(post(client, "/resources/notes/similar", {"key": "nope"}), 404, "unknown_key")
    error(post(client, "/resources/notes/similar", {"key": "pets-1", "metric": "dot"}), 422, "invalid_input")
    error(post(client, "/resources/notes/search", {"vector": [1.0] * 5}), 422, "dimension_mismatch")
    error(post(client, "/resources/notes/search", {"text": "cat", "filter": {"colour": "red"}}), 422, "invalid_input")


def test_collection_upsert_and_delete(client, resources, saved):
    auth = {"X-API-Key": KEY}
    before = client.get("/projector/notes").text
    vector = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    written = post(client, "/resources/notes/upsert", {"items": [
        {"key": "v1", "vector": vector, "metadata": {"topic": "new"}}]}, headers=auth)
    assert written.json() == {"resource": "notes", "count": 1, "size": 25}
    hits = post(client, "/resources/notes/search", {"vector": vector, "k": 1, "filter": {"topic": "new"}}).json()
    assert hits["hits"][0]["key"] == "v1"
    texts = post(client, "/resources/notes/upsert", {"items": [{"key": "t1", "text": "galaxy telescope comet"},
                                                              {"key": "t2", "text": "kitten purr"}]}, headers=auth)
    assert texts.json()["count"] == 2
    assert post(client, "/resources/notes/similar", {"key": "t1", "k": 1}).json()["hits"][0]["key"].startswith("space")
    assert client.get("/projector/notes").text != before  # writes refresh the cached projector page
    for body in ({"items": [{"key": "x", "vector": [1.0] * 5}]}, {"items": [{"key": "x", "vector": [1e39] * 6}]},
                 {"items": [{"key": "x", "vector": vector}, {"key": "y", "text": "cat"}]},
                 {"items": [{"key": "x", "vector": vector, "text": "cat"}]},
                 {"items": [{"key": f"k{i}", "vector": vector} for i in range(17)]},
                 {"items": [{"key": "x", "vector": vector, "metadata": {"bad": [1]}}]}, {"items": []}):
        assert post(client, "/resources/notes/upsert", body, headers=auth).status_code == 422, body
    nan = b'{"items": [{"key": "x", "vector": [NaN, 0, 0, 0, 0, 0]}]}'
    error(client.post("/resources/notes/upsert", content=nan, headers={**auth, "content-type": "application/json"}),
          422, "validation_error")
    error(post(client, "/resources/notes/upsert", {"items": [{"key": 7, "vector": vector}]}, headers=auth), 422,
          "invalid_input")  # int key in a str-keyed collection
    error(post(client, "/resources/notes/delete", {"keys": ["v1"]}), 401, "unauthorized")
    assert post(client, "/resources/notes/delete", {"keys": ["v1", "t2"]}, headers=auth).json()["size"] == 25
    error(post(client, "/resources/notes/delete", {"keys": ["v1"]}, headers=auth), 404, "unknown_key")
    error(post(client, "/resources/notes/similar", {"key": "v1"}), 404, "unknown_key")
    from embedworks.store import Collection

    with Collection.open(saved / "notes.col", readonly=True) as reopened:  # committed to disk
        assert "t1" in reopened and "v1" not in reopened and len(reopened) == 25


def test_cli_serve_reports_bad_resources(tmp_path):
    result = CliRunner().invoke(cli, ["serve", str(tmp_path / "missing.emb")])
    assert result.exit_code == 1 and "no such file" in result.output


def test_cli_serve_runs_uvicorn_on_localhost(saved):
    """`embedworks serve` in a child process on a free 127.0.0.1 port answers, then stops."""
    import httpx2

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-c", "from embedworks.cli import app; app()", "serve", f"w={saved / 'words.emb'}",
               "--port", str(port), "--api-key", KEY, "--max-k", "5", "--log-level", "warning"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx2.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx2.TransportError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "embedworks serve did not start"
                time.sleep(0.2)
        assert health.json()["resources"] == 1
        too_many = httpx2.post(f"http://127.0.0.1:{port}/resources/w/similar", json={"key": "w1", "k": 6})
        assert too_many.status_code == 422 and "limit is 5" in too_many.json()["error"]["message"]
    finally:
        server.terminate()
        server.wait(timeout=20)


# ------------------------------------------------------------------------------ property-based
def test_openapi_fuzzing_finds_no_server_error(resources, saved, tmp_path):
    """schemathesis draws valid and invalid requests for every operation from the spec: no 5xx.
    Writes go to a scratch collection of their own."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    from embedworks.serve.collection import CollectionResource

    scratch = make_collection(tmp_path / "scratch.col", saved / "docs" / "encoder")
    scratch.upsert(["a", "b"], items=["cat dog", "rocket moon"], metadata={"topic": ["pets", "space"]})
    served = {**{n: r for n, r in resources.items() if n != "notes"}, "notes": CollectionResource("notes", scratch)}
    app = create_app(served, api_key=KEY, limits=LIMITS)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=12, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case):
                response = case.call(headers={"X-API-Key": KEY})
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} → {response.status_code}: "
                                    f"{response.text[:200]}")
                else:
                    assert response.headers["content-type"][0].split(";")[0] in ("application/json", "text/html")

            try:
                check()
            except Unsatisfiable:  # nothing in the operation can be made invalid (GET /health)
                assert mode == GenerationMode.NEGATIVE
    assert not failures, "\n".join(failures[:5])
