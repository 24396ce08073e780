"""What the browser tests share (the desk's, the workbench's, the closed months'): the app
served on a free port, and Debian's Chromium (/usr/bin/chromium; never a downloaded browser)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from playwright.sync_api import Page, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from recon import create_app
from recon.clock import Clock
from recon.config import load_settings
from recon.db import Database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking"]


def live_env(url: str, tmp_path: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings of a live test server on ``url``; also what a `recon` process beside it
    needs in its environment."""
    return {
        "RECON_DATABASE_URL": url,
        "RECON_SECRET_KEY": "browser-test-secret-0123456789abcdef",
        "RECON_ENV": "test",
        "RECON_INSTANCE_PATH": str(tmp_path / "instance"),
        **(extra or {}),
    }


@contextmanager
def served(db: Database, clock: Clock, tmp_path: Path,
           extra: Mapping[str, str] | None = None) -> Iterator[str]:
    """The app on ``db`` served on 127.0.0.1 in a thread; its base URL. ``db`` is disposed."""
    settings = load_settings(live_env(db.url, tmp_path, extra))
    app: Flask = create_app(settings, clock=clock, database=db)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        db.dispose()


@contextmanager
def chromium_page(width: int, height: int, *, downloads: bool = False) -> Iterator[Page]:
    """A page of a fresh headless Chromium, Vietnamese locale, at ``width`` × ``height``."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": width, "height": height},
                                      locale="vi-VN", accept_downloads=downloads)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def watch_problems(page: Page, *, console_errors: bool = False) -> list[str]:
    """A list that fills with the page's script errors and failed requests (and, with
    ``console_errors``, console errors other than a failed resource load): every problem a
    browser test asserts there was none of (the favicon aside)."""
    problems: list[str] = []
    if console_errors:
        page.on("console", lambda m: problems.append(m.text) if m.type == "error"
                and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and "/favicon" not in r.url else None)
    return problems


def sign_in(page: Page, base_url: str, username: str, password: str, target: str) -> None:
    """Open ``target``, which must send to the login form, sign in there and land back on it."""
    page.goto(f"{base_url}{target}")
    assert "/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base_url}{target}**")


def sign_out(page: Page) -> None:
    page.click("form[action='/logout'] button")
    page.wait_for_url("**/login")
