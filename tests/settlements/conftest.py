"""A fake provider HTTP server on 127.0.0.1, and small builders for settlement tests.

The server counts calls, keeps every request (method, path, query, headers, body), can fail the
first N calls with a status (500, 429, ...) or hang past the client's read timeout, and answers
each path with a handler the test installs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from recon.clock import FixedClock
from recon.config import Settings, load_settings
from recon.db import Database
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.models import PaymentIntent
from tests.foundation.helpers import dossier_body, seed_agency

FIXTURES = Path(__file__).parent / "fixtures"
Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class FakeProviders:
    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    routes: dict[tuple[str, str], Callable[[Seen], Answer]] = field(default_factory=dict)
    fail_first: int = 0
    fail_status: int = 500
    fail_headers: dict[str, str] = field(default_factory=dict)
    hang_first: int = 0
    hang_seconds: float = 3.0
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, method: str, path: str, handler: Callable[[Seen], Answer]) -> None:
        """``path`` ending in ``/`` matches every path under it."""
        self.routes[(method, path)] = handler

    def calls(self, path: str | None = None) -> int:
        return sum(1 for r in self.requests if path is None or r.path.startswith(path))

    def answer(self, seen: Seen) -> tuple[Answer | None, float]:
        with self.lock:
            self.requests.append(seen)
            number = len(self.requests)
        if number <= self.hang_first:
            return None, self.hang_seconds
        if number <= self.hang_first + self.fail_first:
            return (self.fail_status, dict(self.fail_headers), b'{"error": "busy"}'), 0.0
        handler = self.routes.get((seen.method, seen.path))
        if handler is None:
            prefixes = [p for (m, p) in self.routes if m == seen.method and p.endswith("/")
                        and seen.path.startswith(p)]
            if prefixes:
                handler = self.routes[(seen.method, max(prefixes, key=len))]
        if handler is None:
            return (404, {}, b'{"error": "no such route"}'), 0.0
        return handler(seen), 0.0


def json_answer(doc: Any, status: int = 200) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(
        doc, ensure_ascii=False).encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    fake: FakeProviders

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(self.command, parts.path, parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()}, body)
        answer, hang = self.fake.answer(seen)
        if answer is None:
            self.fake.release.wait(hang)
            answer = json_answer({"late": True})
        status, headers, payload = answer
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = _serve
    do_POST = _serve


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    state = FakeProviders()
    handler = type("Handler", (_Handler,), {"fake": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="fake-providers", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


FAST_HTTP = {
    "RECON_FETCH_CONNECT_TIMEOUT": "1",
    "RECON_FETCH_READ_TIMEOUT": "0.3",
    "RECON_FETCH_BACKOFF": "0.01",
    "RECON_FETCH_ATTEMPTS": "3",
}


def make_settings(fake: FakeProviders, **env: str) -> Settings:
    values = {
        "RECON_ENV": "test",
        "RECON_SECRET_KEY": "test-secret-key-0123456789abcdef",
        "RECON_DATABASE_URL": "sqlite://",
        **FAST_HTTP,
    }
    for provider in ("SEPAY", "PAYOS", "VNPAY", "ZALOPAY", "MOMO"):
        values[f"RECON_{provider}_API_BASE"] = fake.url
    values.update(env)
    return load_settings(values)


@pytest.fixture
def make_intent(db: Database, clock: FixedClock) -> Callable[..., PaymentIntent]:
    """``make_intent(channel, amount=..., order_code=..., provider_order_id=...)``."""
    counter = {"n": 0}
    seed_agency(db, clock)

    def _make(channel: str, *, amount: int = 180000, order_code: int | None = None,
              provider_order_id: str | None = None, reference: str | None = None,
              status: str = "issued") -> PaymentIntent:
        from recon.payments.references import mint

        counter["n"] += 1
        code = f"000.00.21.H57-261126-{counter['n']:04d}"
        with db.transaction() as s:
            dossier, _ = upsert_dossier(s, clock, parse_dossier(dossier_body(code)),
                                        actor="test")
            row = PaymentIntent(dossier_id=dossier.id, channel=channel, amount=amount,
                                reference=reference or mint("HS"), status=status,
                                order_code=order_code, provider_order_id=provider_order_id,
                                created_at=clock.now() - timedelta(minutes=30),
                                expires_at=clock.now() - timedelta(minutes=15),
                                updated_at=clock.now())
            s.add(row)
        return row

    return _make
