"""Load test of `embedworks serve`: a bounded loop of `similar` requests on 127.0.0.1.

    .venv/bin/python benchmarks/serve_load.py [--seconds 30] [--clients 8] [--record]

Serves 100,000 real word vectors (100-d, cosine): `--vectors PATH` if given, else a cached
`benchmarks/.cache/serve-load-words.emb`, else the first 100,000 rows of a native `.emb` with at
least that many rows already in `benchmarks/.cache/` (the ANN benchmark's), else a skip-gram
Word2Vec (1 epoch, min_count 2) trained on the text8-style enwiki corpus that
`benchmarks/words.py` builds. Starts `embedworks serve` as a child process on a free port,
warms up, then runs `--clients` concurrent asyncio clients (httpx) for `--seconds`, each
posting `{"key": <a random vocabulary word>, "k": 10}` to /resources/words/similar and waiting
for the answer before the next. Prints one JSON line and a markdown table; `--record` appends
them to benchmarks/RESULTS.md under "## HTTP service load test". Any non-200 answer or
transport error counts as an error; the run fails (exit 1) when there is one.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import logging
import os
import platform
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

logger = logging.getLogger("serve_load")
ROWS = 100_000
CACHED = "serve-load-words.emb"


# ---------------------------------------------------------------------------------- vectors
def native_rows(path: Path) -> int:
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError):
        return 0
    return int(meta.get("count", 0)) if meta.get("format") == "embedworks" else 0


def word_vectors(given: Path | None) -> tuple[Path, str]:
    """(native .emb with ≥ 100,000 rows, where it came from)."""
    if given is not None:
        return given, "given"
    cache = common.cache_dir()
    target, note = cache / CACHED, cache / (CACHED + ".source")
    if native_rows(target) >= ROWS and note.exists():
        return target, note.read_text().strip()
    from embedworks import load

    candidate = next((c for c in sorted(cache.glob("*.emb")) if c != target and native_rows(c) >= ROWS), None)
    if candidate is not None:
        load(candidate, limit=ROWS).save(target)
        source = f"the first {ROWS:,} rows of benchmarks/.cache/{candidate.name}"
    else:
        from embedworks.learn import Word2Vec
        from words import build_corpus

        corpus, _, tokens = build_corpus()
        logger.info("training Word2Vec on %s (%d tokens, 1 epoch) for the load test", corpus.name, tokens)
        emb = Word2Vec(dim=100, min_count=2, epochs=1, workers=2, seed=0).fit(str(corpus)).embeddings
        if len(emb) < ROWS:
            sys.exit(f"the corpus gives only {len(emb):,} words at min_count 2; need {ROWS:,}")
        emb.subset(emb.keys[:ROWS]).save(target)
        source = (f"the {ROWS:,} most frequent words of a skip-gram Word2Vec (dim 100, 1 epoch, min_count 2) "
                  f"trained on the {tokens:,}-token text8-style enwiki corpus of benchmarks/words.py")
    note.write_text(source + "\n")
    return target, source


# ---------------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(vectors: Path, port: int) -> tuple[subprocess.Popen, list[str]]:
    script = Path(sys.executable).with_name("embedworks")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from embedworks.cli import app; app()"]
    command += ["serve", f"words={vectors}", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL), command


def wait_healthy(httpx, base: str, server: subprocess.Popen, timeout: float = 120.0) -> float:
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if server.poll() is not None:
            sys.exit(f"embedworks serve exited with code {server.returncode}")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return time.perf_counter() - began
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    sys.exit("embedworks serve did not answer /health in time")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


# ---------------------------------------------------------------------------------- load
async def load(httpx, url: str, keys: list, clients: int, seconds: float, seed: int) -> dict:
    """`clients` loops posting `similar` for `seconds`: latencies of 200s, errors otherwise."""
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def worker(n: int) -> None:
            rng = random.Random(seed + n)
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    response = await client.post(url, json={"key": rng.choice(keys), "k": 10})
                    ok = response.status_code == 200 and len(response.json()["hits"]) == 10
                    if not ok:
                        errors.append(f"{response.status_code}: {response.text[:120]}")
                except httpx.HTTPError as error:
                    errors.append(f"{type(error).__name__}: {error}")
                    continue
                if ok:
                    latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(clients)))
        elapsed = time.perf_counter() - began
    ms = np.asarray(latencies) * 1000
    return {"requests": len(latencies) + len(errors), "ok": len(latencies), "errors": len(errors),
            "error_samples": errors[:3], "seconds": round(elapsed, 2),
            "requests_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else None,
            "p90_ms": round(float(np.percentile(ms, 90)), 2) if len(ms) else None,
            "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None,
            "max_ms": round(float(ms.max()), 2) if len(ms) else None}


def table(result: dict) -> str:
    server = result["server_side"]
    return "\n".join([
        "| vectors | clients | seconds | requests | errors | requests/s | p50 ms | p90 ms | p99 ms | max ms "
        "| server p50 ms | server p99 ms |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {result['rows']:,} × {result['dim']} ({result['metric']}) | {result['clients']} | {result['seconds']:.0f} "
        f"| {result['requests']:,} | {result['errors']} | {result['requests_per_s']:,.1f} | {result['p50_ms']:.1f} "
        f"| {result['p90_ms']:.1f} | {result['p99_ms']:.1f} | {result['max_ms']:.1f} | {server.get('p50', 0):.1f} "
        f"| {server.get('p99', 0):.1f} |"])


def record(result: dict, command: str) -> None:
    path = common.BENCH_DIR / "RESULTS.md"
    text = path.read_text(encoding="utf-8")
    heading = "## HTTP service load test"
    if heading in text:  # replace the previous run's section
        start = text.index(heading)
        following = text.find("\n## ", start + len(heading))
        text = text[:start].rstrip() + "\n" + (text[following:] if following >= 0 else "")
    section = (f"\n{heading} — {result['date']}\n\n"
               f"Command: `{command}`\n\n"
               f"`embedworks serve words=benchmarks/.cache/{CACHED} --host 127.0.0.1 --port <free port>` "
               f"on {result['machine']}; the load generator runs on the same machine (asyncio + httpx, "
               f"{result['clients']} concurrent clients, keep-alive, each waiting for its answer) and the "
               f"cores were shared with other jobs (load average {result['load_average'][0]} before, "
               f"{result['load_average'][1]} after). Each request is `POST /resources/words/similar` with "
               f"a random vocabulary word and k 10, answered by exact search over the "
               f"{result['rows']:,} vectors: {result['vectors_from']}. Latencies are client-side, from send "
               f"to parsed answer; the server's p50/p99 come from its own /metrics for the route "
               f"(its window: the last 2,048 requests).\n\n{table(result)}\n")
    path.write_text(text.rstrip() + "\n" + section, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", type=Path, help="native .emb to serve (default: see the module docstring)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", action="store_true", help="append the result to benchmarks/RESULTS.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("httpx", "httpx2", "httpcore"):  # one INFO line per request would load the client
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        import httpx2 as httpx
    except ImportError:
        import httpx

    from embedworks import load as load_vectors

    vectors, source = word_vectors(args.vectors)
    emb = load_vectors(vectors)
    keys = emb.keys
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    load_before = os.getloadavg()[0]
    server, command = start_server(vectors, port)
    try:
        startup = wait_healthy(httpx, base, server)
        url = base + "/resources/words/similar"
        asyncio.run(load(httpx, url, keys, args.clients, args.warmup, args.seed + 1000))
        result = asyncio.run(load(httpx, url, keys, args.clients, args.seconds, args.seed))
        metrics = httpx.get(base + "/metrics", timeout=10).json()
    finally:
        stop_server(server)
    route = metrics["routes"].get("POST /resources/{name}/similar", {})
    result = {"benchmark": "serve_load", "date": datetime.date.today().isoformat(), "rows": len(emb),
              "dim": emb.dim, "metric": emb.metric, "vectors_from": source, "clients": args.clients,
              "startup_s": round(startup, 2), **result, "server_side": route.get("latency_ms", {}),
              "server_errors": metrics["server_errors"], "server_command": command,
              "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
              "machine": f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}"}
    print(json.dumps(result))
    print(table(result))
    if args.record:
        record(result, "python benchmarks/serve_load.py " + " ".join(sys.argv[1:]))
    if result["errors"] or result["server_errors"] or not result["ok"]:
        sys.exit(f"{result['errors']} errors, {result['server_errors']} server errors")


if __name__ == "__main__":
    main()
