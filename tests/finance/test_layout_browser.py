"""The workbench fits the screens a centre has (issue 13, items 6 and 8), in headless Chromium
(Debian's /usr/bin/chromium) against a live server on the demo's data:

* the discrepancy queue at 1366 and 1920 px: the table is no wider than its box (nothing to
  scroll sideways), the status column is inside the box, screenshots committed under
  docs/screenshots/ (finance-queue-1366.png, finance-queue-1920.png);
* every finance page at 1366 px: no table wider than its box, the page itself never scrolls
  sideways, and no header cell breaks onto a second line (a Vietnamese word is two or three
  syllables: "Chênh lệch" must not become "Chênh / lệch").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from recon import create_app
from recon.cli.admin import upgrade_database
from recon.clock import SystemClock
from recon.config import load_settings
from recon.db import Database
from tests.finance.demo_world import PASSWORDS, DemoWorld, build_demo_world

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
ARTIFACTS = ROOT / "tests" / "artifacts"
WIDTHS = (1366, 1920)

pytestmark = pytest.mark.browser

#: for every table of the page: how wide it is, how wide its box is, and its header cells that
#: wrap (taller than one line, or wider inside than shown)
MEASURE = """() => {
  const out = [];
  for (const table of document.querySelectorAll('table')) {
    if (!table.offsetParent) continue;  // not shown (print-only, closed details)
    const box = table.parentElement;
    const wrapped = [];
    for (const th of table.querySelectorAll('th')) {
      // the lines the header's text takes (a row's cells share its height: measure the text)
      const range = document.createRange();
      range.selectNodeContents(th);
      const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
        .map(r => Math.round(r.top)));
      const breaks = th.querySelectorAll('br').length;
      if (tops.size > breaks + 1 || th.scrollWidth > th.clientWidth + 1)
        wrapped.push(th.textContent.trim());
    }
    out.push({name: table.dataset.testid || table.className || 'table',
              width: table.scrollWidth, box: box.clientWidth,
              right: table.getBoundingClientRect().right,
              boxRight: box.getBoundingClientRect().right, wrapped: wrapped});
  }
  return {tables: out, page: document.documentElement.scrollWidth, view: window.innerWidth};
}"""


@dataclass
class Live:
    url: str
    world: DemoWorld


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("layout")
    url = f"sqlite:///{tmp / 'demo.db'}"
    upgrade_database(url)
    db = Database(url)
    clock = SystemClock()
    world = build_demo_world(db, clock)
    env = {"RECON_DATABASE_URL": url, "RECON_SECRET_KEY": "layout-test-secret-0123456789abcdef",
           "RECON_ENV": "test", "RECON_INSTANCE_PATH": str(tmp / "instance")}
    app: Flask = create_app(load_settings(env), clock=clock, database=db)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{server.server_port}", world)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser: Browser, live: Live, width: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.goto(f"{live.url}/login")
    page.fill("input[name=username]", "ketoan")
    page.fill("input[name=password]", PASSWORDS["ketoan"])
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live.url}/finance**")
    return page


def _problems(measured: dict[str, Any], url: str, width: int) -> list[str]:
    problems = []
    if measured["page"] > measured["view"]:
        problems.append(f"{url} @{width}: the page scrolls sideways ({measured['page']} px)")
    for t in measured["tables"]:
        if t["width"] > t["box"] or t["right"] > t["boxRight"] + 1:
            problems.append(f"{url} @{width}: table {t['name']} is {t['width']} px in a "
                            f"{t['box']} px box")
        if t["wrapped"]:
            problems.append(f"{url} @{width}: headers break: {t['wrapped']}")
    return problems


@pytest.mark.parametrize("width", WIDTHS)
def test_queue_fits_the_screen(live: Live, browser: Browser, width: int) -> None:
    page = _page(browser, live, width)
    try:
        page.goto(f"{live.url}/finance/discrepancies?status=all")
        page.wait_for_selector("[data-testid=queue]")
        measured = page.evaluate(MEASURE)
        queue = [t for t in measured["tables"] if t["name"] == "queue"]
        assert len(queue) == 1, measured
        assert queue[0]["width"] <= queue[0]["box"], queue
        assert not _problems(measured, "queue", width), _problems(measured, "queue", width)
        # the status column, the last one, is inside the box and reads in full
        box = page.locator("[data-testid=queue-box]").bounding_box()
        assert box is not None
        statuses = page.locator("[data-testid=queue-status]")
        assert statuses.count() == live.world.findings
        texts = set()
        for i in range(statuses.count()):
            cell = statuses.nth(i).bounding_box()
            assert cell is not None and cell["x"] + cell["width"] <= box["x"] + box["width"] + 1
            texts.add(statuses.nth(i).inner_text().split("\n")[0])
        assert {"Đang mở", "Chờ phê duyệt", "Đã xử lý"} <= texts, texts
        assert page.locator("[data-testid=queue] th").last.inner_text() == "Trạng thái"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"finance-queue-{width}.png"), full_page=True)
    finally:
        page.context.close()


def test_every_finance_page_fits_1366_with_headers_on_one_line(live: Live,
                                                                browser: Browser) -> None:
    w = live.world
    urls = ["/finance", "/finance/discrepancies?status=all",
            f"/finance/discrepancies/{w.resolved}", f"/finance/discrepancies/{w.assigned}",
            f"/finance/discrepancies/{w.pending}/approval", "/finance/approvals",
            "/finance/reports/daily?day=2021-03-15",
            "/finance/reports/quarterly?year=2021&quarter=1",
            "/finance/outstanding", "/finance/audit", "/finance/audit/verify",
            "/finance/payouts?month=2021-02"]
    urls += [f"/finance/discrepancies/{ident}" for ident in w.discrepancies.values()]
    page = _page(browser, live, 1366)
    problems: list[str] = []
    tables = 0
    try:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for url in urls:
            response = page.goto(f"{live.url}{url}")
            assert response is not None and response.status == 200, url
            measured = page.evaluate(MEASURE)
            tables += len(measured["tables"])
            problems += _problems(measured, url, 1366)
            name = url.strip("/").replace("/", "-").split("?")[0]
            page.screenshot(path=str(ARTIFACTS / f"layout-{name}-1366.png"), full_page=True)
    finally:
        page.context.close()
    assert tables > 30  # the pages' tables were measured
    assert not problems, problems
