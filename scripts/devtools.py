"""A minimal Chrome DevTools Protocol client over Chromium's --remote-debugging-pipe.

Enough to open a page at a chosen viewport width, evaluate JavaScript in it, click in it,
take a screenshot and collect the errors it reports, with the standard library only:
Chromium reads commands (JSON, NUL-terminated) on file descriptor 3 and writes replies
and events on descriptor 4.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any


class DevToolsError(RuntimeError):
    """Chromium answered a command with an error, closed the pipe, or took too long."""


class Browser:
    """One headless Chromium with a fresh profile; use as a context manager."""

    def __init__(self, chromium: str, flags: list[str], timeout_s: float = 60):
        self.timeout_s = timeout_s
        self._profile = tempfile.TemporaryDirectory(prefix="check-book-devtools-",
                                                    ignore_cleanup_errors=True)
        to_child, self._to_chromium = os.pipe()
        self._from_chromium, from_child = os.pipe()
        # the child must see them as fds 3 and 4: move them above 10 first so dup2 cannot clobber
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_child, from_child)]

        def as_fds_3_and_4() -> None:
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self._process = subprocess.Popen(
            [chromium, *flags, f"--user-data-dir={self._profile.name}",
             "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=as_fds_3_and_4)
        for fd in (to_child, from_child, *high):
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self._session = ""
        self._errors: list[str] = []

    def __enter__(self) -> Browser:
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.send("Target.attachToTarget", targetId=target,
                                  flatten=True)["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Log.enable")
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()  # lets Chromium stop its helper processes
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_chromium)
        os.close(self._from_chromium)
        self._profile.cleanup()

    def send(self, method: str, **params: Any) -> dict:
        """Send one command (to the attached page once there is one) and return its result."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self._session:
            message["sessionId"] = self._session
        os.write(self._to_chromium, json.dumps(message).encode() + b"\0")
        reply = self._wait(lambda m: m.get("id") == self._next_id)
        if "error" in reply:
            raise DevToolsError(f"{method}: {reply['error'].get('message')}")
        return reply["result"]

    def open(self, url: str, width: int, height: int) -> None:
        """Load url in a viewport of width x height CSS pixels and wait for its load event."""
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.send("Page.navigate", url=url)
        self._wait(lambda m: m.get("method") == "Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (promises are awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise DevToolsError(f"script failed: {result['exceptionDetails'].get('text')} "
                                f"{result['exceptionDetails'].get('exception', {}).get('description', '')}")
        return result["result"].get("value")

    def click(self, x: float, y: float) -> None:
        """A left click at (x, y), CSS pixels from the viewport's top left."""
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def screenshot(self, path: Path) -> None:
        """Write the viewport as a PNG file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))

    def errors(self) -> list[str]:
        """The errors pages reported since the last call: uncaught exceptions, console.error
        calls and the browser's error log (failed loads, blocked requests)."""
        errors, self._errors = self._errors, []
        return errors

    def _note_error(self, message: dict) -> None:
        params = message.get("params", {})
        if message.get("method") == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self._errors.append("exception: " + details.get("exception", {}).get(
                "description", details.get("text", "")))
        elif message.get("method") == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            self._errors.append("console.error: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif message.get("method") == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            self._errors.append(f"log: {entry['text']} {entry.get('url', '')}".rstrip())

    def _wait(self, wanted) -> dict:
        deadline = time.monotonic() + self.timeout_s
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                self._note_error(message)
                if wanted(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chromium], [], [], left)[0]:
                raise DevToolsError(f"no answer from Chromium within {self.timeout_s} s")
            chunk = os.read(self._from_chromium, 1 << 16)
            if not chunk:
                raise DevToolsError("Chromium closed the DevTools pipe (it exited)")
            self._buffer += chunk
