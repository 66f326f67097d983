"""Two pure ASGI middlewares: a bound on request bodies, and request counts with latencies."""

from __future__ import annotations

import json
import time
from collections import Counter, deque

import numpy as np

#: latencies kept per route for the percentiles (the most recent ones)
WINDOW = 2048


async def send_error(send, status: int, type_: str, message: str) -> None:
    """Answer with `{"error": {"type", "message"}}` and `status`."""
    body = json.dumps({"error": {"type": type_, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Reads the whole request body first and answers 413 when it passes `max_bytes`.

    A declared Content-Length over the limit is refused before reading; a chunked body is
    counted as it arrives. The endpoint then reads the buffered body as usual.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = f"the request body is larger than the limit of {self.max_bytes:,} bytes"
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await send_error(send, 413, "payload_too_large", too_large)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await send_error(send, 413, "payload_too_large", too_large)
            if not message.get("more_body", False):
                break
        body, delivered = b"".join(chunks), False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class Recorder:
    """Request counts by route and status, and the recent latencies behind p50/p99."""

    def __init__(self):
        self.started = time.time()
        self.counts: Counter = Counter()
        self.latencies: dict[str, deque] = {}

    def record(self, name: str, status: int, seconds: float) -> None:
        self.counts[(name, status)] += 1
        self.latencies.setdefault(name, deque(maxlen=WINDOW)).append(seconds)

    def snapshot(self) -> dict:
        """Totals and, per route, counts by status and latency percentiles in milliseconds."""
        routes: dict[str, dict] = {}
        for (name, status), count in sorted(self.counts.items()):
            entry = routes.setdefault(name, {"requests": 0, "by_status": {}})
            entry["requests"] += count
            entry["by_status"][str(status)] = count
        for name, entry in routes.items():
            ms = np.asarray(self.latencies.get(name, ()), dtype=np.float64) * 1000
            if len(ms):
                entry["latency_ms"] = {"window": len(ms), "mean": round(float(ms.mean()), 3),
                                       "p50": round(float(np.percentile(ms, 50)), 3),
                                       "p99": round(float(np.percentile(ms, 99)), 3),
                                       "max": round(float(ms.max()), 3)}
        errors = sum(c for (_, status), c in self.counts.items() if status >= 500)
        return {"uptime_s": round(time.time() - self.started, 3), "requests": sum(self.counts.values()),
                "server_errors": errors, "routes": routes}


class Timing:
    """Times every request and hands (route, status, seconds) to a `Recorder`."""

    def __init__(self, app, recorder: Recorder):
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500
        began = time.perf_counter()

        async def watch(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            route = getattr(scope.get("route"), "path", None) or "(no route)"
            self.recorder.record(f"{scope['method']} {route}", status, time.perf_counter() - began)
