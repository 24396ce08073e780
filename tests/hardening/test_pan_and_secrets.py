"""Money safety: a full card number never reaches the database or the logs, and no secret,
bearer token or password is ever logged or stored.

Calls go through the real ``/webhooks/<provider>`` endpoint. After each, a dump of every text
and bytes column of every table (``SELECT *``) and everything logged (pytest's ``caplog`` and
the service's own JSON handler) are searched for each planted value.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, text

from adapters import PROVIDERS, RawRequest, get_adapter
from adapters.pos import sign as pos_sign
from adapters.scrub import contains_pan, luhn_valid, mask_pans
from recon.accounts.auth import create_user
from recon.clock import FixedClock
from recon.db import Database
from recon.intake.importer import import_file
from recon.logs import JsonFormatter, RequestIdFilter
from tests.conftest import TEST_SECRET
from tests.hardening.hkit import CODE, PROVIDER_ENV, SECRET_VALUES, Api, make_api

MEMO_PROVIDERS = ("vnpay", "momo", "payos", "sepay", "casso")
PAN_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
_ESCAPED_DIGIT = re.compile(r"\\u003([0-9])")


# --------------------------------------------------------------------------------------------
# Card numbers


def luhn_check_digit(partial: str) -> str:
    total = 0
    for position, char in enumerate(reversed(partial)):
        value = int(char)
        if position % 2 == 0:  # doubled: the check digit will sit to the right
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


@st.composite
def pans(draw: st.DrawFn) -> str:
    """A Luhn-valid 13–19 digit card number with a real-looking network prefix."""
    length = draw(st.integers(13, 19))
    prefix = draw(st.sampled_from(["4", "51", "55", "37", "6011", "35", "62", "9704"]))
    middle = draw(st.text(alphabet="0123456789", min_size=length - len(prefix) - 1,
                          max_size=length - len(prefix) - 1))
    partial = prefix + middle
    return partial + luhn_check_digit(partial)


def written(pan: str, style: str) -> str:
    if style == "spaced":
        return " ".join(pan[i:i + 4] for i in range(0, len(pan), 4))
    if style == "dashed":
        return "-".join(pan[i:i + 4] for i in range(0, len(pan), 4))
    return pan


@settings(max_examples=200)
@given(pan=pans(), style=st.sampled_from(["plain", "spaced", "dashed"]))
def test_generated_numbers_are_card_numbers(pan: str, style: str) -> None:
    assert luhn_valid(pan) and 13 <= len(pan) <= 19
    assert contains_pan(written(pan, style))  # what the scrubber must catch


@settings(max_examples=200)
@given(pan=pans(), spelling=st.sampled_from(["json", "percent", "plus", "mixed"]))
def test_the_scrubber_reads_encoded_digits(pan: str, spelling: str) -> None:
    """A card number spelled as JSON escapes or percent-encoded is still a card number to
    whoever reads the stored call: it is found, and masked without changing the length."""
    groups = [pan[i:i + 4] for i in range(0, len(pan), 4)]
    if spelling == "json":
        data = '{"r":"' + "".join(f"\\u{ord(c):04x}" for c in pan) + '"}'
    elif spelling == "percent":
        data = "card=" + "".join(f"%{ord(c):02X}" for c in pan) + "&x=1"
    elif spelling == "plus":
        data = "memo=CK+" + "+".join(groups) + "+HS"
    else:
        data = "card=" + "%20".join(groups[:-1]) + "\\u0020" + groups[-1]
    raw = data.encode()
    assert contains_pan(raw)
    out = mask_pans(raw)
    assert len(out) == len(raw)
    assert not contains_pan(out)
    assert pan not in digits_only(out.decode())


# --------------------------------------------------------------------------------------------
# What the service wrote and logged


@dataclass
class Capture:
    """Everything the service logged while a test ran, in its JSON form and as records."""

    stream: io.StringIO = field(default_factory=io.StringIO)
    handler: logging.Handler | None = None

    def text(self, caplog: pytest.LogCaptureFixture) -> str:
        formatter = logging.Formatter()
        records = "\n".join(
            f"{r.getMessage()} {r.__dict__}"
            + (f" {formatter.formatException(r.exc_info)}" if r.exc_info else "")
            for r in caplog.records)
        return self.stream.getvalue() + "\n" + records


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> Iterator[Capture]:
    capture = Capture()
    handler = logging.StreamHandler(capture.stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    capture.handler = handler
    yield capture
    root.removeHandler(handler)
    root.setLevel(level)


def dump(db: Database) -> str:
    """Every text and bytes value of every table, as one searchable text."""
    parts: list[str] = []
    with db.engine.connect() as conn:
        for table in sorted(inspect(conn).get_table_names()):
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for cell in row:
                    value = cell.tobytes() if isinstance(cell, memoryview) else cell
                    if isinstance(value, bytes):
                        parts.append(value.decode("latin-1"))
                    elif isinstance(value, str):
                        parts.append(value)
    return "\n".join(parts)


def readable(haystack: str) -> str:
    """JSON may spell a digit as \\u0034 and a URL as %34, a space as %20 or +: read those
    back before searching (an independent decoding, not the scrubber's own)."""
    text_ = _ESCAPED_DIGIT.sub(lambda m: m.group(1), haystack)
    text_ = re.sub(r"%3([0-9])", lambda m: m.group(1), text_)
    return re.sub(r"%20|%2[dD]|\+|\\u0020|\\u002[dD]", " ", text_)


def digits_only(haystack: str) -> str:
    return re.sub(r"(?<=[0-9])[ -](?=[0-9])", "", readable(haystack))


def assert_no_pan(pan: str, *, db: Database, logs: str) -> None:
    stored = dump(db)
    for where, haystack in (("the database", stored), ("the logs", logs)):
        assert pan not in digits_only(haystack), f"full card number {pan} found in {where}"


@pytest.fixture
def api(env: dict[str, str], db: Database, clock: FixedClock, captured: Capture) -> Api:
    return make_api(env, db, clock)


def send(api: Api, raw: RawRequest, *, query: str | None = None,
         extra_headers: dict[str, str] | None = None) -> Any:
    qs = raw.query_string if query is None else query
    path = raw.path + (f"?{qs}" if qs else "")
    headers = {**dict(raw.headers), **(extra_headers or {})}
    return api.client.open(path, method=raw.method, headers=headers, data=raw.body or None)


def provider_adapter(api: Api, provider: str) -> Any:
    return get_adapter(provider, PROVIDER_ENV, max_age_seconds=0, clock=api.clock)


# --------------------------------------------------------------------------------------------
# POS: card numbers anywhere in a correctly signed payload


POS_PLACES = ("masked_pan", "reference", "terminal_id", "extra_field", "nested", "number",
              "escaped", "event_id")


@PAN_SETTINGS
@given(pan=pans(), style=st.sampled_from(["plain", "spaced", "dashed"]),
       place=st.sampled_from(POS_PLACES), in_header=st.booleans(), in_query=st.booleans(),
       encode_query=st.sampled_from(["raw", "plus", "every"]))
def test_pos_card_numbers_never_stored_nor_logged(
        api: Api, captured: Capture, caplog: pytest.LogCaptureFixture, pan: str, style: str,
        place: str, in_header: bool, in_query: bool, encode_query: str) -> None:
    adapter = provider_adapter(api, "pos")
    raw = adapter.build_callback(amount=50_000, reference="HSZZ", transaction_at=api.clock.now())
    body = json.loads(raw.body)
    shown = written(pan, style)
    if place == "extra_field":
        body["card_number"] = shown
    elif place == "nested":
        body["card"] = {"holder": "NGUYEN VAN A", "pan": shown}
    elif place == "number":
        body["pan_number"] = int(pan)
    elif place == "escaped":
        body["reference"] = "".join(f"\\u{ord(c):04x}" for c in shown)
    else:
        body[place] = shown
    raw_body = json.dumps(body, ensure_ascii=False).encode()
    if place == "escaped":
        raw_body = raw_body.replace(b"\\\\u", b"\\u")  # the escapes, not escaped backslashes
    timestamp = int(api.clock.now().timestamp())
    headers = {**dict(raw.headers),
               "X-Recon-Signature": pos_sign(PROVIDER_ENV["RECON_POS_SECRET"], timestamp,
                                             raw_body)}
    raw = replace(raw, body=raw_body, headers=headers)
    query = None
    if in_query:  # as a provider's client library would encode it, or not
        query = "card=" + {"raw": shown, "plus": quote_plus(shown),
                           "every": "".join(f"%{ord(c):02X}" for c in shown)}[encode_query]
    response = send(api, raw, query=query,
                    extra_headers={"X-Card-Number": shown} if in_header else None)
    assert response.status_code < 500
    assert_no_pan(pan, db=api.db, logs=captured.text(caplog))


# --------------------------------------------------------------------------------------------
# Other providers: a card number in the transfer description (memo) or a header


@PAN_SETTINGS
@given(pan=pans(), style=st.sampled_from(["plain", "spaced", "dashed"]),
       provider=st.sampled_from(MEMO_PROVIDERS), before=st.sampled_from(["", "the ", "CK "]),
       in_header=st.booleans())
def test_card_numbers_in_provider_memos_never_stored_nor_logged(
        api: Api, captured: Capture, caplog: pytest.LogCaptureFixture, pan: str, style: str,
        provider: str, before: str, in_header: bool) -> None:
    adapter = provider_adapter(api, provider)
    memo = f"{before}HSZZ thanh toan the {written(pan, style)} NGUYEN VAN A"
    kwargs: dict[str, Any] = {"amount": 50_000, "memo": memo, "reference": "HSZZ",
                              "transaction_at": api.clock.now() - timedelta(seconds=5)}
    if provider == "payos":
        kwargs["order_code"] = 4242
    raw = adapter.build_callback(**kwargs)
    response = send(api, raw, extra_headers={"X-Note": memo} if in_header else None)
    assert response.status_code < 500, response.get_data()
    assert_no_pan(pan, db=api.db, logs=captured.text(caplog))


def test_a_memo_with_a_card_number_is_still_recorded(api: Api, captured: Capture,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """Masking must not lose the payment: it is recorded, with the masked memo."""
    adapter = provider_adapter(api, "sepay")
    raw = adapter.build_callback(amount=77_000, memo="CK the 4111 1111 1111 1111 HS",
                                 provider_txn_id="5550001",
                                 transaction_at=api.clock.now())
    assert send(api, raw).status_code == 200
    with api.db.read() as s:
        memo, amount = s.execute(text("SELECT memo, amount FROM payments")).one()
    assert amount == 77_000
    assert "1111 1111 1111" not in memo and memo.startswith("CK the 4111 11")
    assert_no_pan("4111111111111111", db=api.db, logs=captured.text(caplog))


# --------------------------------------------------------------------------------------------
# Secrets, tokens and passwords

PASSWORD = "Corr3ct-Pa55word-zz42"
WRONG_PASSWORD = "Wr0ng-Pa55word-zz91"
FAKE_TOKEN = "rcn_NotARealTokenButLooksLikeOne0000000000000"


def every_provider_call(api: Api) -> Iterator[tuple[str, RawRequest]]:
    """For each provider: signed with the current secret, with the previous one, and a forgery."""
    for provider in PROVIDERS:
        env_previous = {name: PROVIDER_ENV[f"{name}_PREVIOUS"] for name in PROVIDER_ENV
                        if f"{name}_PREVIOUS" in PROVIDER_ENV}
        for env in (PROVIDER_ENV, {**PROVIDER_ENV, **env_previous}):
            adapter = get_adapter(provider, env, max_age_seconds=0, clock=api.clock)
            kwargs: dict[str, Any] = {"amount": 60_000, "reference": "HSZZ",
                                      "transaction_at": api.clock.now()}
            if provider == "payos":
                kwargs["order_code"] = 77
            if provider in ("sepay", "casso"):
                kwargs["memo"] = "HSZZ chuyen tien"
            yield provider, adapter.build_callback(**kwargs)
        yield provider, replace(adapter.build_callback(**kwargs), body=b'{"forged": true}')


def test_no_secret_token_or_password_is_logged_or_stored(
        api: Api, captured: Capture, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    # provider callbacks, signed with the current and the previous secrets, and forgeries
    for _provider, raw in every_provider_call(api):
        assert send(api, raw).status_code < 500
    # logins: a wrong password, then the right one
    with api.db.transaction() as s:
        create_user(s, api.clock, username="thu", role="cashier", password=PASSWORD)
    api.client.get("/login")
    with api.client.session_transaction() as sess:
        csrf = sess["csrf"]
    assert api.client.post("/login", data={"username": "thu", "password": WRONG_PASSWORD,
                                           "csrf_token": csrf}).status_code == 401
    assert api.client.post("/login", data={"username": PASSWORD, "password": PASSWORD,
                                           "csrf_token": csrf}).status_code == 401
    assert api.client.post("/login", data={"username": "thu", "password": PASSWORD,
                                           "csrf_token": csrf}).status_code == 302
    # bearer tokens: good, bad, and a write
    for role, token in api.tokens.items():
        assert api.client.get("/api/v1/agencies", headers={
            "Authorization": f"Bearer {token}"}).status_code == 200, role
    assert api.client.get("/api/v1/agencies", headers={
        "Authorization": f"Bearer {FAKE_TOKEN}"}).status_code == 401
    assert api.client.post(f"/api/v1/dossiers/{CODE}/cash-payments", headers=api.auth("cashier"),
                           json={"amount": 1000, "receipt_number": "BL-1"}).status_code == 201
    # imports: dossiers from a file, a settlement report through the API
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"code": "IMP-1", "agency_code": "HUE-TTHCC",
                                "procedure_code": "1.1", "procedure_name": "P",
                                "applicant_name": "A", "received_at": "2021-04-01T08:00:00",
                                "fees": [{"kind": "phi", "name": "F", "amount": 1000}]}))
    import_file(api.db, api.clock, path, actor="cli")
    csv_data = (b"provider_txn_id,amount,fee,transaction_at,settled_on\n"
                b"9000001,60000,600,2026-11-26T09:00:00+07:00,2026-11-27\n")
    response = api.client.post("/api/v1/settlements", headers=api.auth("finance"), data={
        "provider": "momo", "file": (io.BytesIO(csv_data), "momo.csv")})
    assert response.status_code == 201, response.get_data()

    logs = captured.text(caplog)
    stored = dump(api.db)
    assert "callback" in logs and "POST /api/v1/settlements" in logs  # the capture works
    forbidden = {**{f"secret {v}": v for v in SECRET_VALUES},
                 **{f"{role} token": t for role, t in api.tokens.items()},
                 "fake token": FAKE_TOKEN, "password": PASSWORD,
                 "wrong password": WRONG_PASSWORD, "session key": TEST_SECRET}
    for label, value in forbidden.items():
        assert value not in logs, f"{label} appears in the logs"
        assert value not in stored, f"{label} appears in the database"
    # the stored callback headers are kept, redacted
    with api.db.read() as s:
        headers = [json.loads(h) for (h,) in s.execute(text(
            "SELECT headers FROM callbacks WHERE provider = 'sepay'"))]
    assert headers and all(h["Authorization"].startswith("Apikey Zq7s") for h in headers)
    assert all(h["Authorization"].endswith("****") for h in headers)
