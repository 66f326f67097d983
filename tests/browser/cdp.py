"""A tiny Chrome DevTools Protocol client over `--remote-debugging-pipe` (no Node, no websockets).

Chromium reads NUL-terminated JSON commands from file descriptor 3 and writes NUL-terminated
JSON replies and events to descriptor 4. `Browser` starts a headless Chromium with a fresh
profile and the flags that keep it from reaching for the network, opens one page and lets a
test drive it: `evaluate`, `screenshot`, `click`, `type_text`.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--hide-scrollbars",
         "--mute-audio", "--disable-extensions", "--remote-debugging-pipe"]
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser() -> str | None:
    """Path of a Chromium-family browser: $EMBEDWORKS_BROWSER, else the first on PATH."""
    explicit = os.environ.get("EMBEDWORKS_BROWSER")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return next((path for path in map(shutil.which, CANDIDATES) if path), None)


class CDPError(RuntimeError):
    pass


class Browser:
    """One headless Chromium and one page, driven through the DevTools protocol."""

    def __init__(self, executable: str, width: int = 1200, height: int = 800, timeout: float = 20.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="embedworks-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # fd 3 = commands in, fd 4 = replies out; the browser's own stdout/stderr go elsewhere
        self.process = subprocess.Popen(
            ["/bin/sh", "-c", 'exec "$@" 3<&0 4>&1 0</dev/null 1>/dev/null', "sh", executable,
             *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            stdin=to_browser_r, stdout=from_browser_w, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self._events: list[dict] = []
        self._cond = threading.Condition()
        self._closed = False
        threading.Thread(target=self._reader, daemon=True).start()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable", session=True)
        self.send("Runtime.enable", session=True)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=True)

    # ------------------------------------------------------------------ protocol
    def _reader(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._cond:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self._events.append(message)
                self._cond.notify_all()

    def send(self, method: str, params: dict | None = None, session: bool = False, timeout: float | None = None):
        with self._cond:
            self._next_id += 1
            ident = self._next_id
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cond:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise CDPError(f"no reply to {method} ({'browser exited' if self._closed else 'timed out'})")
                self._cond.wait(left)
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    # ------------------------------------------------------------------ page
    def goto(self, url: str) -> None:
        self.send("Page.navigate", {"url": url}, session=True)

    def evaluate(self, expression: str, await_promise: bool = False):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": await_promise}, session=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"page script failed: {text}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float | None = None, interval: float = 0.05):
        """Evaluate `expression` until it is truthy; returns its value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise CDPError(f"timed out waiting for: {expression}")
            time.sleep(interval)

    def console_errors(self) -> list[str]:
        with self._cond:
            return [" ".join(str(a.get("value", a.get("description", ""))) for a in e["params"].get("args", []))
                    for e in self._events
                    if e.get("method") == "Runtime.consoleAPICalled" and e["params"].get("type") == "error"] + \
                   [e["params"]["exceptionDetails"].get("exception", {}).get("description", "exception")
                    for e in self._events if e.get("method") == "Runtime.exceptionThrown"]

    def screenshot(self) -> bytes:
        """The viewport as PNG bytes."""
        data = self.send("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        return base64.b64decode(data)

    def click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            params = {"type": kind, "x": x, "y": y, "button": "left" if kind != "mouseMoved" else "none",
                      "clickCount": 1 if kind != "mouseMoved" else 0}
            self.send("Input.dispatchMouseEvent", params, session=True)

    def type_text(self, text: str) -> None:
        self.send("Input.insertText", {"text": text}, session=True)

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                try:
                    self.send("Browser.close", timeout=3)
                except CDPError:
                    pass
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=5)
        finally:
            for fd in (self._to_browser, self._from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
