"""Fuzzing the edges where outside bytes come in: only clean errors, never another exception,
never a wrong amount, nothing written by a refused input.

What the per-module suites already cover is not repeated here (tests/vietqr: arbitrary text and
single-character changes; tests/adapters/test_adapters_properties.py: arbitrary bytes, arbitrary
JSON and correctly signed arbitrary content per adapter). This file adds structure-aware and
multi-change mutations, arbitrary headers, byte-level mutations of signed calls, the HTTP
webhook endpoint, the dossier importers, the intake API and the settlement importer.
"""

from __future__ import annotations

import dataclasses
import json
import string
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from adapters import PROVIDERS, AdapterError, CallbackEvent, RawRequest, get_adapter
from recon.clock import FixedClock
from recon.db import Base, Database
from recon.errors import ReconError
from recon.intake.importer import CSV_COLUMNS, import_file
from recon.models import Callback, Dossier, FeeLine, Payment, SettlementLine
from recon.settlements.importer import import_settlement
from recon.vietqr.banks import directory
from recon.vietqr.codec import VietQRRequest, decode, encode, payload_crc
from tests.conftest import T0
from tests.foundation.helpers import AGENCY, seed_agency
from tests.hardening.hkit import PROVIDER_ENV, make_api, make_app

DB_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
PURE_SETTINGS = settings(max_examples=300, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])
MEMO_PROVIDERS = ("vnpay", "momo", "payos", "sepay", "casso")

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
    st.sampled_from(["100000", "1e5", "100.0", "-1", "0", "100,000", "", " ", "\x00",
                     "\ud800", "٣٠٠", "²"]),
)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)


def counts(db: Database) -> dict[str, int]:
    """Rows per table: what a refused input must leave as it was."""
    with db.read() as s:
        return {t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
                for t in Base.metadata.sorted_tables}


# --------------------------------------------------------------------------------------------
# VietQR: structure-aware payloads (a correct CRC, so the decoder goes past the checksum)


def tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


@st.composite
def tlv_payloads(draw: st.DrawFn) -> str:
    """Well-formed-looking TLV runs with plausible and implausible tags, nested 38 and 62,
    lengths that sometimes lie, and a correct CRC most of the time."""
    value_text = st.text(alphabet=string.printable + "đĐ\u00a0é", max_size=30)
    fields: list[str] = []
    if draw(st.integers(0, 9)):
        fields.append(tlv("00", draw(st.sampled_from(["01", "01", "02", "1"]))))
    for _ in range(draw(st.integers(0, 8))):
        tag = draw(st.sampled_from(["01", "38", "52", "53", "54", "58", "59", "60", "62",
                                    "64", "26", "65", "99", "3A"]))
        if tag == "38":
            sub = [tlv("00", draw(st.sampled_from(["A000000727", "A000000775", "X"])))]
            inner = tlv("00", draw(st.sampled_from(sorted(directory())) | value_text))
            inner += tlv("01", draw(st.text(alphabet=string.ascii_letters + string.digits,
                                            min_size=1, max_size=22)))
            sub.append(tlv("01", inner))
            sub.append(tlv("02", draw(st.sampled_from(["QRIBFTTA", "QRIBFTTC", "Q"]))))
            value = "".join(draw(st.permutations(sub)))
        elif tag == "54":
            value = draw(st.from_regex(r"[0-9]{1,14}\.?", fullmatch=True) | value_text)
        elif tag == "62":
            value = "".join(tlv(t, draw(value_text.filter(bool)))
                            for t in draw(st.lists(st.sampled_from(["01", "05", "07", "08",
                                                                    "09"]), max_size=3)))
        else:
            value = draw(value_text)
        if not value or len(value) > 99:
            continue
        if draw(st.integers(0, 15)) == 0:  # a length that lies
            fields.append(f"{tag}{min(len(value) + draw(st.integers(-3, 3)), 99):02d}{value}")
        else:
            fields.append(tlv(tag, value))
    body = "".join(fields)
    if draw(st.integers(0, 9)):
        return body + payload_crc(body)
    return body + draw(st.text(max_size=8))


def stated_amount(payload: str) -> int | None:
    """The amount the payload itself states in root tag 54 (an independent reading)."""
    pos = 0
    while pos + 4 <= len(payload):
        tag, length = payload[pos:pos + 2], payload[pos + 2:pos + 4]
        if not length.isdigit():
            return None
        value = payload[pos + 4:pos + 4 + int(length)]
        if tag == "54":
            return int(value.rstrip(".")) if value.rstrip(".").isdigit() else None
        pos += 4 + int(length)
    return None


def check_decoded(payload: str) -> None:
    result = decode(payload)  # must not raise
    assert result.valid == (not result.errors)
    if result.valid and result.amount is not None:
        assert isinstance(result.amount, int) and result.amount >= 0
        assert result.amount == stated_amount(payload), (payload, result.amount)


@PURE_SETTINGS
@given(tlv_payloads())
def test_vietqr_structured_payloads_never_raise_nor_misread_the_amount(payload: str) -> None:
    check_decoded(payload)


@st.composite
def resealed_mutants(draw: st.DrawFn) -> tuple[str, str]:
    """A valid payload changed in 1-6 places and given a fresh, correct CRC, as a forger would."""
    request = VietQRRequest(
        bin=draw(st.sampled_from(sorted(directory()))),
        account=draw(st.text(alphabet=string.digits, min_size=6, max_size=19)),
        amount=draw(st.none() | st.integers(1, 10**13 - 1)),
        purpose=draw(st.text(alphabet=string.ascii_uppercase + string.digits, max_size=20)),
        static=draw(st.booleans()))
    original = encode(request)
    body = list(original[:-4])  # without the CRC value (keeps "6304")
    for _ in range(draw(st.integers(1, 6))):
        if not body:
            break
        pos = draw(st.integers(0, len(body) - 1))
        action = draw(st.sampled_from(["replace", "insert", "delete", "digit"]))
        char = draw(st.sampled_from(string.printable + "đ"))
        if action == "replace":
            body[pos] = char
        elif action == "insert":
            body.insert(pos, char)
        elif action == "delete":
            del body[pos]
        else:
            body[pos] = draw(st.sampled_from(string.digits))
    text_body = "".join(body)
    if text_body.endswith("6304"):
        return original, text_body + payload_crc(text_body[:-4] + "6304")[-4:]
    return original, text_body + draw(st.sampled_from(["", "6304"]))


@PURE_SETTINGS
@given(resealed_mutants())
def test_vietqr_resealed_mutants_never_raise_nor_misread_the_amount(
        pair: tuple[str, str]) -> None:
    _, mutant = pair
    check_decoded(mutant)


# --------------------------------------------------------------------------------------------
# Adapters: arbitrary headers, byte-level mutations of correctly signed calls

NOW = FixedClock(T0)


def adapter(provider: str) -> Any:
    return get_adapter(provider, PROVIDER_ENV, max_age_seconds=300, clock=NOW)


def built(provider: str, amount: int, txn: str) -> RawRequest:
    kwargs: dict[str, Any] = {"amount": amount, "provider_txn_id": txn,
                              "reference": "HSABCDEFGH", "transaction_at": NOW.now()}
    if provider == "payos":
        kwargs["order_code"] = 123456
    if provider in ("sepay", "casso"):
        kwargs["memo"] = "HSABCDEFGH chuyen tien"
    return adapter(provider).build_callback(**kwargs)  # type: ignore[no-any-return]


def parse(provider: str, raw: RawRequest) -> CallbackEvent | AdapterError:
    try:
        return adapter(provider).parse_callback(raw)  # type: ignore[no-any-return]
    except AdapterError as exc:  # anything else fails the test
        return exc


header_names = st.sampled_from(["Authorization", "X-Casso-Signature", "X-Recon-Signature",
                                "Content-Type", "X-Signature", "Cookie", "X-Forwarded-For"])


@pytest.mark.parametrize("provider", PROVIDERS)
@settings(max_examples=60, deadline=None)
@given(extra=st.dictionaries(header_names | st.text(min_size=1, max_size=20),
                             st.text(max_size=80), max_size=5),
       amount=st.integers(1, 10**12), txn=st.integers(10**5, 10**11).map(str))
def test_adapters_arbitrary_headers_give_clean_errors_or_the_true_amount(
        provider: str, extra: dict[str, str], amount: int, txn: str) -> None:
    raw = built(provider, amount, txn)
    headers = {**dict(raw.headers), **extra}
    result = parse(provider, dataclasses.replace(raw, headers=headers))
    if isinstance(result, CallbackEvent):
        assert (result.amount, result.provider_txn_id) == (amount, txn)


@st.composite
def byte_mutations(draw: st.DrawFn, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not out:
            break
        pos = draw(st.integers(0, len(out) - 1))
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "digit"]))
        if op == "flip":
            out[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            out[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            out.insert(pos, draw(st.sampled_from(list(b" 0123456789,.:{}[]\"\\-e"))))
        elif op == "delete":
            del out[pos]
        else:
            out[pos] = draw(st.sampled_from(list(b"0123456789")))
    return bytes(out)


@pytest.mark.parametrize("provider", PROVIDERS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), amount=st.integers(1, 10**12), txn=st.integers(10**5, 10**11).map(str))
def test_adapters_mutated_signed_calls_are_refused_or_unchanged(
        provider: str, data: st.DataObject, amount: int, txn: str) -> None:
    """A correctly signed call with a few bytes changed (signature untouched) is refused, or,
    if the change fell outside what is signed, parses to the very same money."""
    raw = built(provider, amount, txn)
    if raw.query_string:
        mutated = data.draw(byte_mutations(raw.query_string.encode()))
        changed = dataclasses.replace(raw, query_string=mutated.decode("utf-8", "replace"))
    else:
        changed = dataclasses.replace(raw, body=data.draw(byte_mutations(raw.body)))
    result = parse(provider, changed)
    if isinstance(result, CallbackEvent) and provider == "sepay":
        # SePay signs nothing: its API key authenticates the sender, not the body (TLS keeps
        # it intact in transit). The amount is then exactly what the changed body says.
        assert result.amount == json.loads(changed.body)["transferAmount"]
    elif isinstance(result, CallbackEvent):
        original = parse(provider, raw)
        assert isinstance(original, CallbackEvent)
        assert (result.amount, result.provider_txn_id, result.status) == \
            (original.amount, original.provider_txn_id, original.status)


# --------------------------------------------------------------------------------------------
# The webhook endpoint over HTTP: arbitrary calls are archived and refused, never a 5xx


@DB_SETTINGS
@given(provider=st.sampled_from(PROVIDERS), body=st.binary(max_size=600),
       query=st.text(max_size=100), headers=st.dictionaries(
           header_names, st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126),
                                 max_size=60), max_size=4))
def test_webhooks_arbitrary_calls_are_archived_and_refused(
        webhooks_app: Any, provider: str, body: bytes, query: str,
        headers: dict[str, str]) -> None:
    client, db = webhooks_app
    before = counts(db)
    method = "GET" if provider == "vnpay" else "POST"
    response = client.open(f"/webhooks/{provider}", method=method, data=body or None,
                           query_string=query, headers=headers)
    assert response.status_code < 500, response.get_data()
    after = counts(db)
    assert after["callbacks"] == before["callbacks"] + 1  # archived, whatever it was
    assert after["payments"] == before["payments"]  # unsigned: nothing recorded


@pytest.fixture
def webhooks_app(env: dict[str, str], db: Database, clock: FixedClock) -> tuple[Any, Database]:
    # every generated call comes from one address at one instant: lift the per-address limit on
    # refused calls (tests/webhooks/test_refused_calls.py tests it) so each is archived
    app = make_app(env, db, clock, RECON_REFUSED_CALLBACK_LIMIT="1000000")
    return app.test_client(), db


# --------------------------------------------------------------------------------------------
# Dossier importers: arbitrary and mutated files

VALID_RECORD: dict[str, Any] = {
    "code": "F-0001", "agency_code": AGENCY, "procedure_code": "1.001612",
    "procedure_name": "Đăng ký hộ kinh doanh", "applicant_name": "Trần Văn Bình",
    "received_at": "2021-04-01T08:30:00+07:00",
    "fees": [{"kind": "le_phi", "name": "Lệ phí", "amount": 100000},
             {"kind": "phi", "name": "Phí", "amount": 80000}],
}


@st.composite
def dossier_records(draw: st.DrawFn, index: int) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(json.dumps(VALID_RECORD))
    record["code"] = f"F-{index:04d}-{draw(st.integers(0, 10**6))}"
    for key in draw(st.lists(st.sampled_from(sorted(VALID_RECORD)), max_size=2, unique=True)):
        if draw(st.booleans()):
            record[key] = draw(json_values)
        else:
            del record[key]
    if isinstance(record.get("fees"), list) and record["fees"] and draw(st.booleans()):
        fee = record["fees"][0]
        if isinstance(fee, dict):
            fee[draw(st.sampled_from(["kind", "name", "amount"]))] = draw(json_values)
    return record


def as_csv(records: list[dict[str, Any]]) -> str:
    lines = [",".join(CSV_COLUMNS)]
    for r in records:
        head = [str(r.get(k, "")) for k in CSV_COLUMNS[:6]]
        fees = r.get("fees") if isinstance(r.get("fees"), list) else []
        for item in fees or [{}]:
            fee = item if isinstance(item, dict) else {}
            cells = head + [str(fee.get(k, "")) for k in ("kind", "name", "amount")]
            lines.append(",".join('"' + c.replace('"', '""') + '"' for c in cells))
    return "\n".join(lines) + "\n"


@st.composite
def import_files(draw: st.DrawFn) -> tuple[str, bytes, list[dict[str, Any]] | None]:
    suffix = draw(st.sampled_from([".jsonl", ".json", ".csv", ".txt"]))
    if draw(st.integers(0, 3)) == 0:
        raw = draw(st.binary(max_size=400) | st.sampled_from([
            b"[" * 5000, b"{\"a\":" * 3000, b"\xef\xbb\xbf[", b"\x00" * 10,
            b"code\n" + b"x" * 200_000]))
        return suffix, raw, None
    records = [draw(dossier_records(i)) for i in range(draw(st.integers(1, 3)))]
    if suffix == ".jsonl":
        data = "\n".join(json.dumps(r, ensure_ascii=draw(st.booleans())) for r in records)
    elif suffix == ".csv":
        data = as_csv(records)
    else:
        data = json.dumps(records, ensure_ascii=draw(st.booleans()))
    raw = data.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 4)) == 0:
        raw = draw(byte_mutations(raw))
    return suffix, raw, records


@DB_SETTINGS
@given(case=import_files())
def test_dossier_import_gives_clean_errors_and_exact_amounts(
        seeded: tuple[Database, FixedClock, Path], case: tuple[str, bytes, Any]) -> None:
    db, clock, tmp = seeded
    suffix, raw, _ = case
    path = tmp / f"import{suffix}"
    path.write_bytes(raw)
    before = counts(db)
    try:
        summary = import_file(db, clock, path, actor="fuzz")
    except ReconError:
        assert counts(db) == before  # all or nothing
        return
    # accepted: every stored amount is what the file said, to the dong
    records = parsed_records(suffix, raw)
    with db.read() as s:
        for record in records:
            stored = s.execute(select(FeeLine.kind, FeeLine.name, FeeLine.amount)
                               .join(Dossier, Dossier.id == FeeLine.dossier_id)
                               .where(Dossier.code == record["code"].strip())).all()
            sent = [(f["kind"], f["name"].strip(), int(f["amount"])) for f in record["fees"]]
            assert sorted(stored) == sorted(sent)
    assert summary.records == len(records)


def parsed_records(suffix: str, raw: bytes) -> list[dict[str, Any]]:
    text_ = raw.decode("utf-8-sig")
    if suffix == ".csv" or (suffix == ".txt" and not text_.lstrip().startswith(("[", "{"))):
        import csv
        import io
        grouped: dict[str, dict[str, Any]] = {}
        for row in csv.DictReader(io.StringIO(text_)):
            record = grouped.setdefault(row["code"].strip(), {"code": row["code"], "fees": []})
            if row["fee_kind"] or row["fee_name"] or row["fee_amount"]:
                record["fees"].append({"kind": row["fee_kind"], "name": row["fee_name"],
                                       "amount": row["fee_amount"]})
        return list(grouped.values())
    if suffix == ".jsonl" or text_.lstrip().startswith("{"):
        return [json.loads(line) for line in text_.split("\n") if line.strip()]
    loaded: list[dict[str, Any]] = json.loads(text_)
    return loaded


@pytest.fixture
def seeded(db: Database, clock: FixedClock, tmp_path: Path) -> tuple[Database, FixedClock, Path]:
    seed_agency(db, clock)
    return db, clock, tmp_path


# --------------------------------------------------------------------------------------------
# The intake API: generated bodies


@st.composite
def intake_bodies(draw: st.DrawFn) -> str:
    record = draw(dossier_records(draw(st.integers(0, 9999))))
    record["agency_code"] = record.get("agency_code", AGENCY) if draw(st.integers(0, 5)) \
        else draw(json_values)
    if draw(st.booleans()):
        record["reassess"] = draw(st.booleans() | json_scalars)
    body = json.dumps(record, ensure_ascii=draw(st.booleans()))
    # numbers JSON allows but Python would turn into floats or huge ints
    for spelled in draw(st.lists(st.sampled_from(["1e5", "100000.0", "1E400", "-0",
                                                  "100000" + "0" * 30, "NaN", "Infinity"]),
                                 max_size=2)):
        body = body.replace("100000", spelled, 1)
    return body


@DB_SETTINGS
@given(body=intake_bodies())
def test_intake_api_only_2xx_or_4xx_and_exact_amounts(intake: Any, body: str) -> None:
    api = intake
    before = counts(api.db)
    response = api.client.post("/api/v1/dossiers", data=body.encode("utf-8", "surrogatepass"),
                               headers={**api.auth("intake"),
                                        "Content-Type": "application/json"})
    assert response.status_code < 500, response.get_data()
    if response.status_code >= 400:
        assert response.json["error"] and response.json["message"]
        assert counts(api.db) == before
        return
    sent = json.loads(body, parse_float=str)
    stored = response.json["dossier"]
    assert sorted((f["kind"], f["name"], f["amount"]) for f in stored["fees"]) == sorted(
        (f["kind"], f["name"].strip(), f["amount"]) for f in sent["fees"])
    assert all(type(f["amount"]) is int for f in sent["fees"])  # only JSON integers get in
    again = api.client.get(f"/api/v1/dossiers/{stored['code']}", headers=api.auth("intake"))
    assert again.json["fees"] == stored["fees"]


@pytest.fixture
def intake(env: dict[str, str], db: Database, clock: FixedClock) -> Any:
    return make_api(env, db, clock)


# --------------------------------------------------------------------------------------------
# Settlement import: arbitrary and mutated files

CANONICAL = ("provider_txn_id,amount,fee,transaction_at,settled_on\n"
             "70000001,100000,1100,2021-04-01T08:41:00+07:00,2021-04-02\n"
             "70000002,80000,0,2021-04-01T09:12:00+07:00,2021-04-02\n")


@st.composite
def settlement_files(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(["report.csv", "report.xlsx", "statement.csv", "x.json"]))
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return name, draw(st.binary(max_size=500))
    if kind == 1:
        return name, b"PK\x03\x04" + draw(st.binary(max_size=300))  # a broken XLSX
    rows = CANONICAL.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        line = draw(st.integers(1, len(rows) - 1))
        cells = rows[line].split(",")
        cells[draw(st.integers(0, len(cells) - 1))] = draw(
            st.text(alphabet=string.printable, max_size=20) | st.sampled_from(
                ["1e5", "100.5", "-1", "100,000", "²", "0x10", "", "99999999999999999999"]))
        rows[line] = ",".join(cells)
    data = ("\n".join(rows) + "\n").encode()
    if draw(st.booleans()):
        data = draw(byte_mutations(data))
    return name, data


@DB_SETTINGS
@given(case=settlement_files(), provider=st.sampled_from(PROVIDERS))
def test_settlement_import_gives_clean_errors_and_exact_amounts(
        seeded: tuple[Database, FixedClock, Path], case: tuple[str, bytes],
        provider: str) -> None:
    db, clock, _ = seeded
    name, data = case
    before = counts(db)
    try:
        summary = import_settlement(db, clock, provider, data, name, actor="fuzz")
    except ReconError:
        assert counts(db) == before
        return
    with db.read() as s:
        lines = s.execute(select(SettlementLine.provider_txn_id, SettlementLine.amount,
                                 SettlementLine.fee, SettlementLine.net)
                          .where(SettlementLine.file_id == summary.file_id)).all()
    expected = expected_lines(data)
    assert sorted(lines) == sorted(expected)


def expected_lines(data: bytes) -> list[tuple[str, int, int, int]]:
    """The canonical CSV read independently: only rows of digit-only amounts can be stored."""
    import csv
    import io
    # newline="": a bare "\r" ends a line, as it does for the importer's csv reader
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    out = []
    for row in rows:
        amount, fee = row["amount"].strip(), row["fee"].strip()
        assert amount.isascii() and amount.isdigit() and fee.isascii() and fee.isdigit(), row
        out.append((row["provider_txn_id"].strip(), int(amount), int(fee),
                    int(amount) - int(fee)))
    return out


# --------------------------------------------------------------------------------------------
# Regressions: what the fuzzers and Schemathesis found (each was a 500)


def test_findings_are_clean_errors_now(intake: Any) -> None:
    api = intake
    h = {**api.auth("admin"), "Content-Type": "application/json"}
    post: Callable[..., Any] = api.client.post
    get: Callable[..., Any] = api.client.get
    # JSON nested deeper than the parser's stack
    assert post("/api/v1/dossiers", data="[" * 100_000, headers=h).status_code == 422
    # "\u0000" and "\ud800" parse as JSON, but no database stores them
    for bad in ("A\\u0000B", "A\\ud800B"):
        body = json.dumps({**VALID_RECORD, "applicant_name": "NAME"}).replace("NAME", bad)
        response = post("/api/v1/dossiers", data=body, headers=h)
        assert response.status_code == 422, response.json
        assert response.json["errors"][0]["field"] == "applicant_name"
    # NUL in a URL (PostgreSQL refuses it in a query parameter)
    assert get("/api/v1/dossiers?q=a%00b", headers=h).status_code == 422
    assert get("/api/v1/dossiers/a%00b", headers=h).status_code == 422
    # ids beyond BIGINT: no such row, not an overflow
    assert get(f"/api/v1/payment-intents/{2**63}", headers=h).status_code == 404
    for url in ("/api/v1/dossiers?after=", "/api/v1/settlement-files?before=",
                "/api/v1/discrepancies?after=", "/api/v1/recon-runs?before="):
        assert get(url + str(2**63), headers=h).status_code == 422, url
        assert get(url + "²", headers=h).status_code == 422, url
    # "reassess": "false" is not false
    body = json.dumps({**VALID_RECORD, "reassess": "false"})
    response = post("/api/v1/dossiers", data=body, headers=h)
    assert response.status_code == 422
    assert [e["field"] for e in response.json["errors"]] == ["reassess"]
    # an authenticated caller asking for a route that does not exist: 404, not 403
    assert get("/api/v1/nothing-here", headers=h).status_code == 404
    assert api.client.delete("/api/v1/agencies", headers=h).status_code == 405
    with api.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Dossier)) == 1  # the seeded one
        assert s.execute(text("SELECT 1")).scalar() == 1


def test_webhook_with_unread_body_is_archived(webhooks_app: Any) -> None:
    """Sanity of the HTTP fuzz harness: a real, signed call through the same client records
    exactly one payment (so the fuzz test's 'nothing recorded' is meaningful)."""
    client, db = webhooks_app
    raw = dataclasses.replace(built("pos", 12_345, "998877"),
                              received_at=NOW.now() + timedelta(seconds=1))
    response = client.post("/webhooks/pos", data=raw.body, headers=dict(raw.headers))
    assert response.status_code == 200, response.get_data()
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 1
        assert s.scalar(select(Payment.amount)) == 12_345
        assert s.scalar(select(func.count()).select_from(Callback)) == 1



@pytest.mark.parametrize(("suffix", "content"), [
    (".json", "[" + json.dumps(VALID_RECORD) + ","),  # truncated mid-transfer
    (".json", "["),
    (".json", "[" + json.dumps(VALID_RECORD) + "][" + json.dumps(VALID_RECORD) + "]"),
    (".jsonl", "[" * 100_000),
    (".jsonl", '{"code": 1e1000000000000000000}'),
    (".csv", "code\n" + "x" * 200_000),  # a field over the csv module's limit
])
def test_dossier_files_the_fuzzer_broke_are_refused(
        seeded: tuple[Database, FixedClock, Path], suffix: str, content: str) -> None:
    """Each was a crash, or (the first three) a silent partial or empty import."""
    db, clock, tmp = seeded
    path = tmp / f"broken{suffix}"
    path.write_text(content)
    before = counts(db)
    with pytest.raises(ReconError):
        import_file(db, clock, path, actor="fuzz")
    assert counts(db) == before


@pytest.mark.parametrize("provider", PROVIDERS)
def test_numbers_beyond_decimal_range_are_malformed_not_a_crash(provider: str) -> None:
    """1e1000000000000000000 parses as JSON but not as a Decimal: MoMo, ZaloPay, payOS and SePay
    raised decimal.InvalidOperation (a 500 on an unauthenticated call) before adapters.fields
    caught ArithmeticError."""
    body = (b'{"amount": 1e1000000000000000000, "transferAmount": 1e1000000000000000000, '
            b'"data": {"amount": 1e1000000000000000000}}')
    raw = RawRequest("POST", f"/webhooks/{provider}", "vnp_Amount=1e1000000000000000000",
                     {"Authorization": f"Apikey {PROVIDER_ENV['RECON_SEPAY_API_KEY']}"}, body,
                     NOW.now())
    assert isinstance(parse(provider, raw), AdapterError)
