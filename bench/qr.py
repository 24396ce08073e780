"""Issue VietQR payment intents through the real Flask app and render their codes.

    python bench/qr.py [--intents 500] [--backend sqlite|postgresql]

A fresh migrated database, one agency, N dossiers; then for each dossier, through the Flask
test client with a cashier's bearer token (policy, auth, JSON, the service, the audit chain and
the commit all included): ``POST /api/v1/dossiers/<code>/payment-intents`` and the first
``GET .../qr.png`` (the render). Then the same images again, from the cache.

Prints one JSON line per mode: intents per second including the render, median and p95
latency of the POST, of the first PNG and of the cached PNG over HTTP, and the cached re-render
itself (the LRU lookup that replaces a render). Targets (issue 3): POST median <= 15 ms on
SQLite, cached re-render <= 1 ms.

Two modes on SQLite, because one effect dominates everything else:
- ``app-default``: the app exactly as configured. ``recon/db.py`` gives SQLite a ``NullPool``,
  so each unit of work opens and closes its own connection; when the last connection to a WAL
  database closes, SQLite checkpoints the WAL into the database (with an fsync) and deletes it,
  and the next connection creates it again. A request does this twice (the token lookup, then
  the work), whatever the work is.
- ``idle-connection-held``: the same, with one idle connection to the file kept open for the
  run (as a long-lived pool connection or any other process would), so no close is the last.
  This is what a change in ``recon/db.py`` (keep one connection open per engine, or a pool)
  would give every request.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_PG, scratch_database
from recon import create_app
from recon.accounts.auth import create_token
from recon.clock import SystemClock
from recon.config import load_settings
from recon.db import Database
from recon.intake.agencies import create_agency
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.payments import intents

AGENCY = "BENCH-QR"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values) * 1000, 3),
            "p95": round(pct(values, 0.95) * 1000, 3),
            "max": round(max(values) * 1000, 3)}


def seed(db: Database, n: int) -> tuple[list[str], str]:
    clock = SystemClock()
    with db.transaction() as s:
        create_agency(s, clock, code=AGENCY, name="Trung tâm Phục vụ hành chính công Huế",
                      bank_bin="970415", account_number="113000000000",
                      account_name="TRUNG TAM PHUC VU HANH CHINH CONG", actor="bench")
        codes = []
        for i in range(n):
            code = f"000.00.21.H57-BENCH-{i:06d}"
            upsert_dossier(s, clock, parse_dossier({
                "code": code, "agency_code": AGENCY, "procedure_code": "1.001612",
                "procedure_name": "Đăng ký thành lập hộ kinh doanh",
                "applicant_name": "Nguyễn Văn Ánh", "received_at": "2026-11-26T08:00:00+07:00",
                "fees": [{"kind": "le_phi", "name": "Lệ phí", "amount": 100000 + i},
                         {"kind": "phi", "name": "Phí", "amount": 80000}]}), actor="bench")
            codes.append(code)
        _, token = create_token(s, clock, name="bench-cashier", role="cashier", user=None)
    return codes, token


def run(url: str, n: int, warmup: int, *, hold_connection: bool = False) -> dict[str, Any]:
    keeper = sqlite3.connect(url.removeprefix("sqlite:///")) if hold_connection else None
    if keeper is not None:
        keeper.execute("SELECT count(*) FROM alembic_version").fetchall()  # really open it
    try:
        return _run(url, n, warmup)
    finally:
        if keeper is not None:
            keeper.close()


def _run(url: str, n: int, warmup: int) -> dict[str, Any]:
    db = Database(url)
    codes, token = seed(db, n + warmup)
    settings = load_settings({"RECON_DATABASE_URL": url, "RECON_ENV": "test",
                              "RECON_SECRET_KEY": "bench-secret-0123456789abcdef",
                              "RECON_INSTANCE_PATH": os.devnull})
    app = create_app(settings, database=db)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    intents.QR_CACHE.clear()

    posts: list[float] = []
    renders: list[float] = []
    totals: list[float] = []
    images: list[tuple[str, int, str]] = []
    for i, code in enumerate(codes):
        t0 = time.perf_counter()
        created = client.post(f"/api/v1/dossiers/{code}/payment-intents",
                              json={"channel": "vietqr"}, headers=headers)
        t1 = time.perf_counter()
        body = created.get_json()
        assert created.status_code == 201, body
        png = client.get(body["qr_png_url"], headers=headers)
        t2 = time.perf_counter()
        assert png.status_code == 200 and png.data[:4] == b"\x89PNG"
        if i >= warmup:
            posts.append(t1 - t0)
            renders.append(t2 - t1)
            totals.append(t2 - t0)
            images.append((body["qr_png_url"], body["id"], body["qr_payload"]))

    cached_http: list[float] = []
    for png_url, _, _ in images:
        t0 = time.perf_counter()
        again = client.get(png_url, headers=headers)
        cached_http.append(time.perf_counter() - t0)
        assert again.status_code == 200
    cached_render: list[float] = []
    for _, intent_id, payload in images:
        t0 = time.perf_counter()
        intents.QR_CACHE.get(intent_id, payload, "png", "screen")
        cached_render.append(time.perf_counter() - t0)
    db.dispose()
    return {
        "intents": len(posts),
        "intents_per_second_including_render": round(len(totals) / sum(totals), 1),
        "post_payment_intents_ms": ms(posts),
        "first_png_render_http_ms": ms(renders),
        "cached_png_http_ms": ms(cached_http),
        "cached_rerender_ms": ms(cached_render),
        "cache": {"hits": intents.QR_CACHE.hits, "misses": intents.QR_CACHE.misses},
        "targets": {"post_median_ms": 15, "cached_rerender_ms": 1},
        "meets_targets": statistics.median(posts) <= 0.015
        and statistics.median(cached_render) <= 0.001,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--intents", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("RECON_BENCH_PG_URL", DEFAULT_PG))
    args = parser.parse_args()
    modes = [("app-default", False)]
    if args.backend == "sqlite":
        modes.append(("idle-connection-held", True))
    for mode, hold in modes:
        with scratch_database(args.backend, args.pg_url) as url:
            result = run(url, args.intents, args.warmup, hold_connection=hold)
        print(json.dumps({"bench": "qr", "backend": args.backend, "mode": mode, **result},
                         ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
