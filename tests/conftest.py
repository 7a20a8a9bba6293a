"""Shared fixtures: a Dash app served from a thread, and a headless Chromium page.

The browser is Debian's /usr/bin/chromium driven by Playwright (no browser
download), at a wall screen's 1920x1080.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("MESHWATCH_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
WALL_SCREEN = {"width": 1920, "height": 1080}
# Request lines of the served app would drown the test report.
logging.getLogger("werkzeug").setLevel(logging.WARNING)
# The tests never read a real cluster's Istio config, even when CI runs in one
# (the Kubernetes client is in the test extra): tests that want one set KUBECONFIG.
os.environ.pop("KUBERNETES_SERVICE_HOST", None)
os.environ["KUBECONFIG"] = os.devnull


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], str]]:
    """Serve a Dash app (or any WSGI app) on a free loopback port; returns its base URL."""
    servers = []

    def serve(app: Any) -> str:
        wsgi = getattr(app, "server", app)
        server = make_server("127.0.0.1", 0, wsgi, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server in servers:
        server.shutdown()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (see .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    """A fresh page at 1920x1080; console errors are collected on `page.errors`."""
    context = chromium.new_context(viewport=WALL_SCREEN)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()
