"""Reference endpoints for ``bench/webhooks.py``, registered by ``recon.web`` only when
``RECON_BENCH_ENDPOINTS=1`` (never in production; they live here, outside the application, and
need the repository's ``bench`` package on the path, as the benchmark's server has). They
bracket the real ingest on the same server:

- ``POST /_bench/bare``: 204 and nothing else (the framework's ceiling);
- ``POST /_bench/durable``: verifies an HMAC-SHA256 of the body (``X-Bench-Signature`` header,
  key ``RECON_BENCH_SECRET``) and commits one insert into ``bench_webhook_events`` (a scratch
  table the benchmark creates; it is not in the migrations): the physical ceiling of a durable
  webhook.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Blueprint, Response, current_app, request
from sqlalchemy import text

from recon.config import Settings
from recon.db import Database

bp = Blueprint("bench_endpoints", __name__)

SCRATCH_TABLE = "bench_webhook_events"
CREATE_SCRATCH = (f"CREATE TABLE IF NOT EXISTS {SCRATCH_TABLE} "
                  "(id BIGSERIAL PRIMARY KEY, txn TEXT UNIQUE NOT NULL, body BYTEA NOT NULL)")


@bp.route("/_bench/bare", methods=["POST"])
def bare() -> Response:
    return Response(status=204)


@bp.route("/_bench/durable", methods=["POST"])
def durable() -> Response:
    settings: Settings = current_app.extensions["recon.settings"]
    secret = (settings.get("BENCH_SECRET") or "").encode()
    body = request.get_data(cache=False)
    sent = request.headers.get("X-Bench-Signature", "")
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not secret or not hmac.compare_digest(sent, expected):
        return Response(b'{"error":"bad signature"}', status=401,
                        content_type="application/json")
    txn = request.headers.get("X-Bench-Txn", "")
    db: Database = current_app.extensions["recon.db"]
    with db.transaction() as session:
        session.execute(text(f"INSERT INTO {SCRATCH_TABLE} (txn, body) VALUES (:t, :b) "
                             "ON CONFLICT (txn) DO NOTHING"), {"t": txn, "b": body})
    return Response(b'{"success":true}', status=200, content_type="application/json")
