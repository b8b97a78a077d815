"""Drive a real headless Chromium over the DevTools protocol (its pipe transport, stdlib only).

Opens a page, collects every console message, uncaught exception and browser log error (failed
resource loads included), and takes a screenshot: what a user would see in the console and on screen.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-pipe",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageVisit:
    """What opening a page produced."""

    console: list[str] = field(default_factory=list)
    """Console messages (type: text), uncaught exceptions and browser log errors."""
    screenshot: bytes = b""


class _Pipe:
    """JSON messages separated by NUL bytes over fds 3 (to Chromium) and 4 (from Chromium)."""

    def __init__(self, to_browser: int, from_browser: int) -> None:
        self.to_browser, self.reader = to_browser, os.fdopen(from_browser, "rb")
        self.next_id, self.events, self.buffer = 0, [], b""

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        for index, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(index)
        while True:
            event = self._read()
            if event.get("method") == method:
                return event
            self.events.append(event)

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            chunk = self.reader.read1(1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)


def visit(path: Path, width: int = 1200, height: int = 2000, chromium: str | None = None) -> PageVisit:
    """Open `path` in headless Chromium, wait for the load event, and record console and screenshot."""
    binary = chromium or find_chromium()
    if binary is None:
        raise FileNotFoundError("chromium")
    to_read, to_write = os.pipe()   # we write commands; Chromium reads them on fd 3
    from_read, from_write = os.pipe()  # Chromium writes replies on fd 4; we read them

    def wire_fds() -> None:
        os.dup2(to_read, 3)
        os.dup2(from_write, 4)

    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire_fds, pass_fds=(3, 4),
        )
        os.close(to_read)
        os.close(from_write)
        pipe = _Pipe(to_write, from_read)
        try:
            target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Page"):
                pipe.call(f"{domain}.enable", session=session)
            pipe.call("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
            pipe.call("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
            pipe.wait_for("Page.loadEventFired")
            shot = pipe.call("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
            result = PageVisit(console=_console_lines(pipe.events), screenshot=base64.b64decode(shot))
            pipe.call("Browser.close")
        finally:
            os.close(to_write)
            pipe.reader.close()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return result


def _console_lines(events: list[dict[str, Any]]) -> list[str]:
    lines = []
    for event in events:
        params = event.get("params", {})
        if event.get("method") == "Runtime.consoleAPICalled":
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
            lines.append(f"console.{params.get('type')}: {text}")
        elif event.get("method") == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            lines.append(f"exception: {details.get('exception', {}).get('description', details.get('text'))}")
        elif event.get("method") == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
            entry = params["entry"]
            lines.append(f"log.{entry['level']}: {entry.get('text')} {entry.get('url', '')}".strip())
    return lines
