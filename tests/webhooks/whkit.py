"""Helpers shared by the webhook tests: provider secrets, a test app, signed calls, reads."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text

from adapters import Adapter, RawRequest, get_adapter
from recon import create_app
from recon.clock import Clock
from recon.config import load_settings
from recon.db import Database
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.models import Agency, AuditEvent, Callback, Payment, PaymentIntent
from recon.payments.intents import create_intent
from tests.conftest import T0
from tests.foundation.helpers import dossier_body, seed_agency

PROVIDER_ENV: dict[str, str] = {
    "RECON_VNPAY_TMN_CODE": "TESTTMN1",
    "RECON_VNPAY_HASH_SECRET": "vnpay-hash-secret-current",
    "RECON_MOMO_PARTNER_CODE": "MOMOTEST",
    "RECON_MOMO_ACCESS_KEY": "momo-access-key",
    "RECON_MOMO_SECRET_KEY": "momo-secret-key-current",
    "RECON_ZALOPAY_APP_ID": "2553",
    "RECON_ZALOPAY_KEY1": "zalopay-key1",
    "RECON_ZALOPAY_KEY2": "zalopay-key2-current",
    "RECON_PAYOS_CLIENT_ID": "payos-client",
    "RECON_PAYOS_API_KEY": "payos-api-key",
    "RECON_PAYOS_CHECKSUM_KEY": "payos-checksum-key-current",
    "RECON_SEPAY_API_KEY": "sepay-api-key-current",
    "RECON_CASSO_CHECKSUM_KEY": "casso-checksum-key-current",
    "RECON_POS_SECRET": "pos-secret-current",
}
SECRET_VAR = {
    "vnpay": "RECON_VNPAY_HASH_SECRET",
    "momo": "RECON_MOMO_SECRET_KEY",
    "zalopay": "RECON_ZALOPAY_KEY2",
    "payos": "RECON_PAYOS_CHECKSUM_KEY",
    "sepay": "RECON_SEPAY_API_KEY",
    "casso": "RECON_CASSO_CHECKSUM_KEY",
    "pos": "RECON_POS_SECRET",
}
PROVIDERS = tuple(SECRET_VAR)
CHANNEL = {"vnpay": "vnpay", "momo": "momo", "zalopay": "zalopay", "payos": "payos",
           "sepay": "vietqr", "casso": "vietqr", "pos": "pos"}
SIGNATURE_HEADER = {"sepay": "Authorization", "casso": "X-Casso-Signature",
                    "pos": "X-Recon-Signature"}
SIGNATURE_FIELD = {"momo": "signature", "zalopay": "mac", "payos": "signature"}
CODE = "000.00.21.H57-210401-0001"
TOTAL = 180_000
PAID_AT = T0 - timedelta(minutes=5)  # the provider's own time, before our receipt


def json_of(response: Any) -> Any:
    return json.loads(response.get_data(as_text=True)) if response.get_data() else None


def is_accepted(provider: str, response: Any) -> bool:
    body = json_of(response)
    if provider == "vnpay":
        return response.status_code == 200 and body["RspCode"] == "00"
    if provider == "momo":
        return response.status_code == 204
    if provider == "zalopay":
        return response.status_code == 200 and body["return_code"] == 1
    if provider == "pos":
        return response.status_code == 200 and body == {"status": "accepted"}
    return response.status_code == 200 and body == {"success": True}


def is_duplicate(provider: str, response: Any) -> bool:
    body = json_of(response)
    if provider == "vnpay":
        return response.status_code == 200 and body["RspCode"] == "02"
    if provider == "pos":
        return response.status_code == 200 and body == {"status": "duplicate"}
    return is_accepted(provider, response)


def is_retry(provider: str, response: Any) -> bool:
    body = json_of(response)
    if provider == "vnpay":
        return response.status_code == 200 and body["RspCode"] == "99"
    if provider == "zalopay":
        return response.status_code == 200 and body["return_code"] == 0
    return response.status_code >= 500


def is_refused_signature(provider: str, response: Any) -> bool:
    body = json_of(response)
    if provider == "vnpay":
        return response.status_code == 200 and body["RspCode"] == "97"
    if provider == "zalopay":
        return response.status_code == 200 and body["return_code"] == -1
    return response.status_code == 401


@dataclass
class Hooks:
    """One test's app, client and database, with builders for signed provider calls."""

    app: Flask
    client: FlaskClient
    db: Database
    clock: Clock

    @property
    def settings(self) -> Any:
        return self.app.extensions["recon.settings"]

    # -- data -------------------------------------------------------------------------------

    def dossier(self, code: str = CODE) -> str:
        with self.db.read() as s:
            have_agency = s.scalar(select(func.count()).select_from(Agency))
        if not have_agency:
            seed_agency(self.db, self.clock)
        with self.db.transaction() as s:
            upsert_dossier(s, self.clock, parse_dossier(dossier_body(code)), actor="test")
        return code

    def intent(self, provider: str, code: str = CODE) -> PaymentIntent:
        self.dossier(code)
        with self.db.transaction() as s:
            outcome = create_intent(s, self.clock, self.settings, dossier_code=code,
                                    channel=CHANNEL[provider], actor="cashier1")
        return outcome.intent

    def payments(self) -> list[Payment]:
        with self.db.read() as s:
            return list(s.scalars(select(Payment).order_by(Payment.id)))

    def callbacks(self) -> list[Callback]:
        with self.db.read() as s:
            return list(s.scalars(select(Callback).order_by(Callback.id)))

    def intent_row(self, intent_id: int) -> PaymentIntent:
        with self.db.read() as s:
            return s.get_one(PaymentIntent, intent_id)

    def audit_count(self) -> int:
        with self.db.read() as s:
            return int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)

    def audit_count_of(self, action: str) -> int:
        with self.db.read() as s:
            return int(s.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == action)) or 0)

    # -- calls ------------------------------------------------------------------------------

    def adapter(self, provider: str, clock: Clock | None = None,
                **env_overrides: str) -> Adapter:
        env = {**PROVIDER_ENV, **env_overrides}
        return get_adapter(provider, env, max_age_seconds=0, clock=clock or self.clock)

    def call(self, provider: str, intent: PaymentIntent | None = None, *,
             adapter: Adapter | None = None, **kwargs: Any) -> RawRequest:
        values: dict[str, Any] = {"transaction_at": PAID_AT}
        if intent is not None:
            values.update(amount=intent.amount, reference=intent.reference,
                          order_code=intent.order_code)
            if provider in ("sepay", "casso"):
                values["memo"] = (f"MBVCB.3278907687.{intent.reference}."
                                  "NGUYEN VAN A chuyen tien")
        values.setdefault("provider_txn_id", str(10_000_000 + secrets.randbelow(89_999_999)))
        values.update(kwargs)
        return (adapter or self.adapter(provider)).build_callback(**values)

    def send(self, raw: RawRequest, **extra_headers: str) -> Any:
        headers = {**dict(raw.headers), **extra_headers}
        path = raw.path + (f"?{raw.query_string}" if raw.query_string else "")
        return self.client.open(path, method=raw.method, headers=headers,
                                data=raw.body or None)


def make_hooks(env: dict[str, str], db: Database, clock: Clock, *, drop: tuple[str, ...] = (),
               **extra: str) -> Hooks:
    values = {**env, **PROVIDER_ENV, **extra}
    for name in drop:
        values.pop(name, None)
    app = create_app(load_settings(values), clock=clock, database=db)
    app.config["TESTING"] = True
    return Hooks(app, app.test_client(), db, clock)


# -- faults inside the database (PostgreSQL) -------------------------------------------------


@contextmanager
def pg_insert_fails_once(db: Database, table: str, *,
                         at_commit: bool = False) -> Iterator[Callable[[], bool]]:
    """PostgreSQL: the first INSERT into ``table`` from now on is refused by the database itself
    (a trigger raising "injected: ..."), whichever way it is written — one statement or a unit
    of work; ``at_commit``: refused at the commit of its transaction instead (a deferred
    constraint trigger). Yields a function telling whether the fault has fired."""
    name = f"test_fault_{table}"
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SEQUENCE {name}_seq")  # not transactional: fires once
        conn.exec_driver_sql(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF nextval('{name}_seq') = 1 THEN RAISE EXCEPTION "
            f"'injected: the database refused this insert into {table}'; END IF; "
            "RETURN NEW; END $$")
        if at_commit:
            conn.exec_driver_sql(f"CREATE CONSTRAINT TRIGGER {name} AFTER INSERT ON {table} "
                                 "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                                 f"EXECUTE FUNCTION {name}()")
        else:
            conn.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
                                 f"FOR EACH ROW EXECUTE FUNCTION {name}()")

    def fired() -> bool:
        with db.engine.connect() as conn:
            return bool(conn.exec_driver_sql(f"SELECT is_called FROM {name}_seq").scalar())

    try:
        yield fired
    finally:
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")
            conn.exec_driver_sql(f"DROP SEQUENCE IF EXISTS {name}_seq")


# -- tampering ------------------------------------------------------------------------------


def tamper_amount(raw: RawRequest, old: int, new: int) -> RawRequest:
    if raw.query_string:
        params = dict(parse_qsl(raw.query_string, keep_blank_values=True))
        params["vnp_Amount"] = str(new * 100)
        return replace(raw, query_string=urlencode(params))
    body = raw.body.replace(str(old).encode(), str(new).encode())
    assert body != raw.body
    return replace(raw, body=body)


def without_signature(provider: str, raw: RawRequest) -> RawRequest:
    if provider == "vnpay":
        params = [(k, v) for k, v in parse_qsl(raw.query_string, keep_blank_values=True)
                  if k != "vnp_SecureHash"]
        return replace(raw, query_string=urlencode(params))
    if provider in SIGNATURE_HEADER:
        name = SIGNATURE_HEADER[provider]
        return replace(raw, headers={k: v for k, v in raw.headers.items()
                                     if k.lower() != name.lower()})
    body = json.loads(raw.body)
    del body[SIGNATURE_FIELD[provider]]
    return replace(raw, body=json.dumps(body, ensure_ascii=False,
                                        separators=(",", ":")).encode())


def wait_for_lock_waiter(url: str, timeout: float = 20.0) -> bool:
    """PostgreSQL: wait until some session of this database waits for a lock (True), or
    ``timeout`` seconds have passed (False)."""
    engine = create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if conn.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND wait_event_type = 'Lock'")).scalar_one():
                    return True
            time.sleep(0.02)
        return False
    finally:
        engine.dispose()
