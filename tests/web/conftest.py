"""A real headless browser (Debian's Chromium driven by Playwright) and a live server for the pages.

The browser fixtures skip, with the reason, when /usr/bin/chromium or the playwright package is
missing (`apt-get install chromium`, `pip install playwright`); Playwright's own browser download
is never used. Set AIAYN_ARTIFACTS to a folder to keep the screenshots the tests take.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1200, "height": 900}


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (install it with `apt-get install -y chromium`)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (`pip install playwright`)"
    return None


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium for the session, with a fresh profile (user-data-dir) of its own."""
    reason = browser_missing()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORT,
        )
        context.set_default_timeout(10_000)
        try:
            yield context
        finally:
            context.close()


@dataclass
class BrowserPage:
    """A page and what it did: console errors, uncaught exceptions and every request's URL."""

    page: Any
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def browser_page(browser_context: Any) -> Iterator[BrowserPage]:
    """A new tab whose console errors, page errors and requests are recorded."""
    page = browser_context.new_page()
    seen = BrowserPage(page)
    page.on("console", lambda m: seen.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.console_errors.append(f"uncaught: {e}"))
    page.on("request", lambda r: seen.requests.append(r.url))
    page.on("dialog", lambda d: seen.console_errors.append(f"dialog opened: {d.message}"))
    try:
        yield seen
    finally:
        page.close()


@pytest.fixture
def save_screenshot(tmp_path: Path) -> Callable[[Any, str], Path]:
    """save(page, name): a full-page PNG under tmp_path, copied to $AIAYN_ARTIFACTS if set."""

    def save(page: Any, name: str) -> Path:
        path = tmp_path / name
        page.screenshot(path=str(path), full_page=True)
        artifacts = os.environ.get("AIAYN_ARTIFACTS")
        if artifacts:
            Path(artifacts).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(artifacts) / name)
        return path

    return save


@contextmanager
def _live_server(app: Any) -> Iterator[str]:
    """Run `app` with uvicorn on a free port of 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], str]]:
    """start(app) -> base URL: runs the ASGI `app` on a live local server until the test ends."""
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(_live_server(app))
