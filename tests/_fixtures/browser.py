"""Helpers for browser tests: a Streamlit server in a subprocess and headless Chromium.

Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright with that executable and
the flags this closed network needs (no background networking, no component updates).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from geo.settings import ROOT

CHROMIUM = os.environ.get("WANGGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(
    database_url: str,
    *,
    timeout_s: float = 60,
    cache_ttl_s: int = 1,
    dev_login: str | None = "admin",
    app: Path | None = None,
) -> Iterator[str]:
    """Serve ``dashboards/app.py`` (or the entry point ``app``) against ``database_url``;
    yields the base URL.

    ``cache_ttl_s`` is the refresh period of the wall and the dashboards' query cache
    (``WANGGE_CACHE_TTL``): 1 s by default so that tests see refreshes happen.
    ``dev_login`` is the development auto-login (``WANGGE_DEV_LOGIN``, honoured because the
    suite sets ``WANGGE_ALLOW_SUPERUSER``): every browser session is a pseudo user of that
    role, ``admin`` by default; None serves the real login page.  The server never inherits
    a process scope (``WANGGE_SCOPE``): its pages take their scope from the login.
    """
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "WANGGE_CACHE_TTL": str(cache_ttl_s)}
    env.pop("WANGGE_SCOPE", None)
    env.pop("WANGGE_DEV_LOGIN", None)
    if dev_login is not None:
        env["WANGGE_DEV_LOGIN"] = dev_login
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"wangge-streamlit-{port}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(app or ROOT / "dashboards" / "app.py"),
                "--server.port",
                str(port),
                "--server.headless",
                "true",
                "--server.address",
                "127.0.0.1",
                "--browser.gatherUsageStats",
                "false",
                "--client.toolbarMode",
                "viewer",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start; log:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def leaflet_frame(page, *, timeout_s: float = 30):
    """The frame that holds a drawn Leaflet map (a canvas or SVG layer inside the map)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in page.frames:
            try:
                drawn = frame.evaluate(
                    "() => !!(window.L && document.querySelector("
                    "'.leaflet-container canvas, .leaflet-container path.leaflet-interactive'))"
                )
            except Exception:
                drawn = False
            if drawn:
                return frame
        time.sleep(0.2)
    raise AssertionError("no Leaflet map was drawn")
