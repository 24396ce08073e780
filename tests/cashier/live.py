"""What the desk's browser tests share: the app served on a free port, and Debian's Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator
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


@contextmanager
def served(db: Database, clock: Clock, tmp_path: Path) -> Iterator[str]:
    """The app on ``db`` served on 127.0.0.1 in a thread; its base URL. ``db`` is disposed."""
    settings = load_settings({
        "RECON_DATABASE_URL": db.url,
        "RECON_SECRET_KEY": "browser-test-secret-0123456789abcdef",
        "RECON_ENV": "test",
        "RECON_INSTANCE_PATH": str(tmp_path / "instance"),
    })
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
def chromium_page(width: int, height: int) -> Iterator[Page]:
    """A page of a fresh headless Chromium, Vietnamese locale, at ``width`` × ``height``."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": width, "height": height},
                                      locale="vi-VN")
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()
