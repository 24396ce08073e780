"""Pulling from provider APIs against a fake provider server on 127.0.0.1: statements, confirmers,
timeouts, bounded retries and the signatures on the wire."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.payos import sign as payos_signature
from recon.clock import FixedClock
from recon.db import Database
from recon.errors import ConfigurationError, DuplicateFile, ReconError, ValidationError
from recon.models import AuditEvent, Payment, PaymentIntent, SettlementFile, SettlementLine
from recon.settlements.fetch import FetchError, HttpPolicy, client_for, fetch
from tests.settlements.conftest import FakeProviders, Seen, json_answer, make_settings

DAY = date(2026, 11, 25)
TOKEN = "sepay-api-token-123"


def _txn(id_: int, when: str, amount_in: str = "0.00", amount_out: str = "0.00",
         content: str = "") -> dict[str, Any]:
    return {"id": str(id_), "bank_brand_name": "VietinBank", "account_number": "113000000000",
            "transaction_date": when, "amount_out": amount_out, "amount_in": amount_in,
            "accumulated": "25000000.00", "transaction_content": content,
            "reference_number": f"FT{id_}", "code": None, "sub_account": None,
            "bank_account_id": "19"}


def sepay_route(fake: FakeProviders, txns: list[dict[str, Any]]) -> None:
    """SePay's list: since_id (>=), limit, date range, ascending ids; bearer token checked."""
    def handler(seen: Seen) -> Any:
        if seen.headers.get("authorization") != f"Bearer {TOKEN}":
            return json_answer({"status": 401, "error": "Unauthenticated"}, 401)
        limit = int(seen.arg("limit") or 5000)
        since = int(seen.arg("since_id") or 0)
        low = seen.arg("transaction_date_min") or ""
        high = seen.arg("transaction_date_max") or "~"
        chosen = [t for t in sorted(txns, key=lambda t: int(t["id"]))
                  if int(t["id"]) >= since and low <= t["transaction_date"] <= high][:limit]
        return json_answer({"status": 200, "error": None, "messages": {"success": True},
                            "transactions": chosen})
    fake.route("GET", "/userapi/transactions/list", handler)


STATEMENT = [
    _txn(92704, "2026-11-25 09:12:44", "180000.00", content="MBVCB.32789.HS7K3M9QX2PA.CT"),
    _txn(92705, "2026-11-25 09:40:02", amount_out="2000000.00", content="CHUYEN TIEN"),
    _txn(92711, "2026-11-25 15:03:11", "1250000.00", content="HS4T8WZ2NB6C LE PHI"),
    _txn(92712, "2026-11-25 16:00:00", "100000", content="NOP PHI"),
    _txn(92715, "2026-11-25 23:59:59", "50000.00", content="HS2B6NQ8TR5W"),
    _txn(92720, "2026-11-26 00:00:01", "70000.00", content="next day"),
]


def _counts(db: Database) -> tuple[int, int]:
    with db.read() as s:
        return (s.scalar(select(func.count()).select_from(SettlementFile)) or 0,
                s.scalar(select(func.count()).select_from(SettlementLine)) or 0)


def _sepay(db: Database, clock: FixedClock, fake: FakeProviders, **env: str) -> dict[str, Any]:
    settings = make_settings(fake, RECON_SEPAY_API_TOKEN=TOKEN, **env)
    return fetch(db, clock, settings, "sepay", day=DAY)


# ------------------------------------------------------------------------------ SePay


def test_sepay_statement_is_paged_and_stored_with_its_raw_answers(
        db: Database, clock: FixedClock, fake: FakeProviders) -> None:
    sepay_route(fake, list(STATEMENT))
    summary = _sepay(db, clock, fake, RECON_SEPAY_PAGE_SIZE="2")
    # five transactions on the day, two a page: three calls, each with the bearer token
    assert fake.calls("/userapi/transactions/list") == 3
    assert [r.arg("since_id") for r in fake.requests] == [None, "92706", "92713"]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in fake.requests)
    assert fake.requests[0].arg("transaction_date_min") == "2026-11-25 00:00:00"
    assert fake.requests[0].arg("transaction_date_max") == "2026-11-25 23:59:59"
    assert summary["kind"] == "statement" and summary["source"] == "fetch"
    assert (summary["lines"], summary["outgoing_skipped"], summary["pages"]) == (4, 1, 3)
    assert summary["total_amount"] == 180000 + 1250000 + 100000 + 50000
    with db.read() as s:
        lines = list(s.scalars(select(SettlementLine).order_by(SettlementLine.line_no)))
        stored = s.scalars(select(SettlementFile)).one()
    assert [(ln.provider_txn_id, ln.amount, ln.fee, ln.net) for ln in lines] == [
        ("92704", 180000, 0, 180000), ("92711", 1250000, 0, 1250000),
        ("92712", 100000, 0, 100000), ("92715", 50000, 0, 50000)]
    assert all(ln.provider == "sepay" and ln.settled_on == DAY for ln in lines)
    assert lines[0].transaction_at == datetime(2026, 11, 25, 2, 12, 44, tzinfo=UTC)
    assert lines[0].reference == "MBVCB.32789.HS7K3M9QX2PA.CT"
    assert (stored.source, stored.profile, stored.filename) == (
        "fetch", "sepay_api", "sepay-transactions-2026-11-25.json")
    content = json.loads(stored.content)
    assert len(content["pages"]) == 3
    # nothing lost: each page's body is SePay's answer, byte for byte
    first = json.loads(content["pages"][0]["body"])
    assert first["transactions"][0]["amount_in"] == "180000.00"
    assert hashlib.sha256(stored.content).hexdigest() == stored.sha256


def test_fetching_the_same_data_twice_is_refused_plainly(
        db: Database, clock: FixedClock, fake: FakeProviders) -> None:
    sepay_route(fake, list(STATEMENT))
    _sepay(db, clock, fake)
    before = _counts(db)
    with pytest.raises(DuplicateFile) as caught:
        _sepay(db, clock, fake)
    assert "the same data was already fetched on 2026-11-26 03:00 UTC" in caught.value.message
    assert "nothing was changed" in caught.value.message
    assert _counts(db) == before


def test_a_later_fetch_stores_only_what_is_new(db: Database, clock: FixedClock,
                                               fake: FakeProviders) -> None:
    txns = list(STATEMENT)
    sepay_route(fake, txns)
    _sepay(db, clock, fake)
    txns.append(_txn(92716, "2026-11-25 23:59:59", "20000.00", content="late"))
    summary = _sepay(db, clock, fake)
    assert (summary["lines"], summary["already_settled"]) == (1, 4)
    with db.read() as s:
        ids = s.scalars(select(SettlementLine.provider_txn_id)).all()
    assert sorted(ids) == ["92704", "92711", "92712", "92715", "92716"]


@pytest.mark.parametrize("amount", ["180000.50", "1.8e5", "-180000.00", "abc", "180,000"])
def test_a_fraction_of_a_dong_from_the_api_stores_nothing(
        db: Database, clock: FixedClock, fake: FakeProviders, amount: str) -> None:
    sepay_route(fake, [_txn(1, "2026-11-25 10:00:00", "5000.00"),
                       _txn(2, "2026-11-25 11:00:00", amount)])
    with pytest.raises(ValidationError) as caught:
        _sepay(db, clock, fake)
    assert caught.value.errors[0].line == 2
    assert "transaction '2': amount_in" in caught.value.errors[0].message
    assert _counts(db) == (0, 0)


def test_sepay_without_a_token_says_what_to_set(db: Database, clock: FixedClock,
                                                fake: FakeProviders) -> None:
    with pytest.raises(ConfigurationError) as caught:
        fetch(db, clock, make_settings(fake), "sepay", day=DAY)
    assert "RECON_SEPAY_API_TOKEN is not set" in caught.value.message
    assert "Set RECON_SEPAY_API_TOKEN" in (caught.value.hint or "")
    assert fake.calls() == 0


def test_a_refused_token_is_not_retried(db: Database, clock: FixedClock,
                                        fake: FakeProviders) -> None:
    sepay_route(fake, list(STATEMENT))
    settings = make_settings(fake, RECON_SEPAY_API_TOKEN="wrong")
    with pytest.raises(ConfigurationError) as caught:
        fetch(db, clock, settings, "sepay", day=DAY)
    assert "refused our credentials (HTTP 401)" in caught.value.message
    assert "RECON_SEPAY_API_TOKEN" in (caught.value.hint or "")
    assert fake.calls() == 1


# ------------------------------------------------------------------------------ retries, timeouts


def test_retries_are_bounded_on_5xx(db: Database, clock: FixedClock,
                                    fake: FakeProviders) -> None:
    sepay_route(fake, list(STATEMENT))
    fake.fail_first = 100
    with pytest.raises(FetchError) as caught:
        _sepay(db, clock, fake)
    assert fake.calls() == 3
    assert "did not answer after 3 attempts (HTTP 500)" in caught.value.message
    assert "run `recon settlements fetch --provider sepay` again" in (caught.value.hint or "")
    assert _counts(db) == (0, 0)


def test_a_passing_failure_is_retried_to_success(db: Database, clock: FixedClock,
                                                 fake: FakeProviders) -> None:
    sepay_route(fake, list(STATEMENT))
    fake.fail_first = 2
    fake.fail_status = 503
    assert _sepay(db, clock, fake)["lines"] == 4
    assert fake.calls() == 3


def test_the_attempt_count_is_configurable(db: Database, clock: FixedClock,
                                           fake: FakeProviders) -> None:
    sepay_route(fake, list(STATEMENT))
    fake.fail_first = 100
    with pytest.raises(FetchError):
        _sepay(db, clock, fake, RECON_FETCH_ATTEMPTS="5")
    assert fake.calls() == 5


def test_a_hanging_provider_times_out_and_is_retried_a_bounded_number_of_times(
        db: Database, clock: FixedClock, fake: FakeProviders) -> None:
    sepay_route(fake, list(STATEMENT))
    fake.hang_first = 100
    fake.hang_seconds = 5
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        _sepay(db, clock, fake)
    elapsed = time.monotonic() - started
    assert fake.calls() == 3
    assert "no answer within 0.3 s" in caught.value.message
    assert elapsed < 3, elapsed  # three read timeouts of 0.3 s, not three 5 s hangs
    assert _counts(db) == (0, 0)


def test_a_hang_then_an_answer(db: Database, clock: FixedClock, fake: FakeProviders) -> None:
    sepay_route(fake, list(STATEMENT))
    fake.hang_first = 1
    assert _sepay(db, clock, fake)["lines"] == 4
    assert fake.calls() == 2


def test_nobody_listening_is_a_connection_error(db: Database, clock: FixedClock,
                                                fake: FakeProviders) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = make_settings(fake, RECON_SEPAY_API_TOKEN=TOKEN,
                             RECON_SEPAY_API_BASE=f"http://127.0.0.1:{port}")
    with pytest.raises(FetchError) as caught:
        fetch(db, clock, settings, "sepay", day=DAY)
    assert "did not answer after 3 attempts (could not connect)" in caught.value.message


def test_429_waits_as_told_within_bounds(fake: FakeProviders) -> None:
    fake.route("GET", "/ping", lambda seen: json_answer({"ok": True}))
    fake.fail_first = 2
    fake.fail_status = 429
    fake.fail_headers = {"Retry-After": "3"}
    waits: list[float] = []
    settings = make_settings(fake)
    with client_for("sepay", settings, sleep=waits.append) as client:
        response = client.call("GET", "/ping")
    assert response.status_code == 200
    assert waits == [3.0, 3.0]  # Retry-After beats the 0.01 s backoff
    policy = HttpPolicy(backoff=0.5, max_wait=10.0)
    assert [policy.wait_before(n) for n in (2, 3, 4)] == [0.5, 1.0, 2.0]
    assert policy.wait_before(2, retry_after=3600) == 10.0  # never beyond the ceiling


def test_every_call_carries_the_timeouts(fake: FakeProviders) -> None:
    seen: list[Any] = []

    class Recorder:
        headers: dict[str, str] = {}  # noqa: RUF012 - a stand-in for requests.Session

        def request(self, method: str, url: str, **kw: Any) -> Any:
            seen.append(kw["timeout"])
            raise __import__("requests").ConnectionError("down")

        def close(self) -> None:
            pass

    settings = make_settings(fake, RECON_FETCH_CONNECT_TIMEOUT="5",
                             RECON_FETCH_READ_TIMEOUT="30")
    client = client_for("momo", settings, session=Recorder(),  # type: ignore[arg-type]
                        sleep=lambda _s: None)
    with pytest.raises(FetchError):
        client.call("POST", "/x")
    assert seen == [(5.0, 30.0)] * 3


def test_bad_http_settings_are_named(db: Database, clock: FixedClock,
                                     fake: FakeProviders) -> None:
    with pytest.raises(ConfigurationError) as caught:
        _sepay(db, clock, fake, RECON_FETCH_READ_TIMEOUT="soon")
    assert "RECON_FETCH_READ_TIMEOUT" in caught.value.message


# ------------------------------------------------------------------------------ confirmers

PAYOS_KEYS = {"RECON_PAYOS_CLIENT_ID": "client-1", "RECON_PAYOS_API_KEY": "api-key-1",
              "RECON_PAYOS_CHECKSUM_KEY": "checksum-key-1"}
VNPAY_KEYS = {"RECON_VNPAY_TMN_CODE": "HUETTHCC", "RECON_VNPAY_HASH_SECRET": "vnp-secret"}
ZALOPAY_KEYS = {"RECON_ZALOPAY_APP_ID": "2553", "RECON_ZALOPAY_KEY1": "zalo-key1"}
MOMO_KEYS = {"RECON_MOMO_PARTNER_CODE": "MOMOHUE", "RECON_MOMO_ACCESS_KEY": "F8BBA842ECF85",
             "RECON_MOMO_SECRET_KEY": "momo-secret"}
MakeIntent = Callable[..., PaymentIntent]


def _payments(db: Database) -> list[Payment]:
    with db.read() as s:
        return list(s.scalars(select(Payment).order_by(Payment.id)))


def _intent(db: Database, intent_id: int) -> PaymentIntent:
    with db.read() as s:
        return s.get_one(PaymentIntent, intent_id)


def payos_route(fake: FakeProviders, answers: dict[int, dict[str, Any]],
                *, tamper: bool = False) -> None:
    def handler(seen: Seen) -> Any:
        if (seen.headers.get("x-client-id"), seen.headers.get("x-api-key")) != (
                "client-1", "api-key-1"):
            return json_answer({"code": "401", "desc": "Unauthorized"}, 401)
        order_code = int(seen.path.rsplit("/", 1)[1])
        data = answers.get(order_code)
        if data is None:
            return json_answer({"code": "101", "desc": "Không tìm thấy đơn", "data": None})
        signature = payos_signature(data, PAYOS_KEYS["RECON_PAYOS_CHECKSUM_KEY"])
        if tamper:
            data = {**data, "amountPaid": data["amount"] * 2}
        return json_answer({"code": "00", "desc": "success", "data": data,
                            "signature": signature})
    fake.route("GET", "/v2/payment-requests/", handler)


def _payos_data(order_code: int, amount: int, paid: list[tuple[str, int]],
                status: str = "PAID") -> dict[str, Any]:
    return {
        "id": "124c33293c43417ab7879e14c8d9eb18", "orderCode": order_code, "amount": amount,
        "amountPaid": sum(a for _, a in paid), "amountRemaining": amount - sum(
            a for _, a in paid), "status": status, "createdAt": "2026-11-26T09:30:00+07:00",
        "transactions": [{
            "reference": ref, "amount": a, "accountNumber": "113000000000",
            "description": f"CT HS {order_code}", "transactionDateTime": "2026-11-26 09:31:05",
            "virtualAccountName": None, "virtualAccountNumber": None,
            "counterAccountBankId": "970415", "counterAccountBankName": "VietinBank",
            "counterAccountName": "NGUYEN THI HUONG", "counterAccountNumber": "0123456789",
        } for ref, a in paid],
        "canceledAt": None, "cancellationReason": None,
    }


def test_payos_confirms_a_waiting_intent_exactly_once(
        db: Database, clock: FixedClock, fake: FakeProviders, make_intent: MakeIntent) -> None:
    paid = make_intent("payos", order_code=880001)
    waiting = make_intent("payos", order_code=880002)
    make_intent("payos", order_code=880003)  # payOS does not know it
    payos_route(fake, {
        880001: _payos_data(880001, 180000, [("FT26330000001", 180000)]),
        880002: _payos_data(880002, 180000, [("FT26330000002", 100000)], status="PENDING"),
    })
    settings = make_settings(fake, **PAYOS_KEYS)
    summary = fetch(db, clock, settings, "payos")
    assert summary["kind"] == "confirmations"
    assert (summary["checked"], summary["paid"], summary["still_waiting"],
            summary["not_found"], summary["recorded"]) == (3, 1, 1, 1, 2)
    assert summary["errors"] == []
    payments = _payments(db)
    assert [(p.provider, p.provider_txn_id, p.amount, p.intent_id, p.recorded_by)
            for p in payments] == [
        ("payos", "FT26330000001", 180000, paid.id, "fetch:payos"),
        ("payos", "FT26330000002", 100000, waiting.id, "fetch:payos")]
    # payOS's transaction reference is the bank's: a bank statement line finds it either way
    assert [p.bank_reference for p in payments] == ["FT26330000001", "FT26330000002"]
    assert payments[0].paid_at == datetime(2026, 11, 26, 2, 31, 5, tzinfo=UTC)
    assert _intent(db, paid.id).status == "paid"
    assert _intent(db, waiting.id).status == "issued"  # 100,000 of 180,000
    with db.read() as s:
        evidence = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "payment.confirmed_by_query")).all()
    assert len(evidence) == 2
    assert "FT26330000001" in json.loads(evidence[0].data)["response"]
    # again: the paid intent is no longer asked about; the partial payment is not doubled
    again = fetch(db, clock, settings, "payos")
    assert (again["checked"], again["recorded"], again["already_recorded"]) == (2, 0, 1)
    assert len(_payments(db)) == 2


def test_payos_answer_with_a_bad_signature_records_nothing(
        db: Database, clock: FixedClock, fake: FakeProviders, make_intent: MakeIntent) -> None:
    make_intent("payos", order_code=880001)
    payos_route(fake, {880001: _payos_data(880001, 180000, [("FT1", 180000)])}, tamper=True)
    summary = fetch(db, clock, make_settings(fake, **PAYOS_KEYS), "payos")
    assert summary["recorded"] == 0
    assert "signature that does not match" in summary["errors"][0]["error"]
    assert "RECON_PAYOS_CHECKSUM_KEY" in summary["errors"][0]["error"]
    assert _payments(db) == []


def test_payos_keys_are_required(db: Database, clock: FixedClock,
                                 fake: FakeProviders) -> None:
    with pytest.raises(ConfigurationError) as caught:
        fetch(db, clock, make_settings(fake, RECON_PAYOS_CLIENT_ID="c"), "payos")
    assert "RECON_PAYOS_API_KEY, RECON_PAYOS_CHECKSUM_KEY are not set" in caught.value.message
    assert fake.calls() == 0


VNPAY_REQUEST_ORDER = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode",
                       "vnp_TxnRef", "vnp_TransactionDate", "vnp_CreateDate", "vnp_IpAddr",
                       "vnp_OrderInfo")
VNPAY_RESPONSE_ORDER = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message",
                        "vnp_TmnCode", "vnp_TxnRef", "vnp_Amount", "vnp_BankCode",
                        "vnp_PayDate", "vnp_TransactionNo", "vnp_TransactionType",
                        "vnp_TransactionStatus", "vnp_OrderInfo", "vnp_PromotionCode",
                        "vnp_PromotionAmount")


def _sha512(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha512).hexdigest()


def vnpay_route(fake: FakeProviders, amounts: dict[str, str], *,
                bad_response_hash: bool = False, method: dict[str, str] | None = None) -> None:
    """``method``: the answer's method fields (default ``vnp_BankCode`` NCB, no card type)."""
    secret = VNPAY_KEYS["RECON_VNPAY_HASH_SECRET"]

    def handler(seen: Seen) -> Any:
        body = seen.json()
        expected = _sha512(secret, "|".join(body[k] for k in VNPAY_REQUEST_ORDER))
        if body["vnp_SecureHash"] != expected:
            return json_answer({"vnp_ResponseCode": "97", "vnp_Message": "Invalid checksum"})
        amount = amounts.get(body["vnp_TxnRef"])
        if amount is None:
            return json_answer({"vnp_ResponseCode": "91", "vnp_Message": "Not found"})
        doc = {"vnp_ResponseId": "R" + body["vnp_RequestId"], "vnp_Command": "querydr",
               "vnp_ResponseCode": "00", "vnp_Message": "QueryDR Success",
               "vnp_TmnCode": body["vnp_TmnCode"], "vnp_TxnRef": body["vnp_TxnRef"],
               "vnp_Amount": amount, "vnp_BankCode": "NCB", "vnp_PayDate": "20261126093512",
               "vnp_TransactionNo": "14509170", "vnp_TransactionType": "01",
               "vnp_TransactionStatus": "00", "vnp_OrderInfo": "Thanh toan le phi",
               "vnp_PromotionCode": "", "vnp_PromotionAmount": "", **(method or {})}
        doc["vnp_SecureHash"] = _sha512(
            "wrong" if bad_response_hash else secret,
            "|".join(doc[k] for k in VNPAY_RESPONSE_ORDER))
        return json_answer(doc)
    fake.route("POST", "/merchant_webapi/api/transaction", handler)


def test_vnpay_querydr_is_signed_in_the_documented_order(
        db: Database, clock: FixedClock, fake: FakeProviders, make_intent: MakeIntent) -> None:
    intent = make_intent("vnpay")
    vnpay_route(fake, {intent.reference: "18000000"})
    summary = fetch(db, clock, make_settings(fake, **VNPAY_KEYS), "vnpay")
    assert summary["errors"] == [] and summary["recorded"] == 1
    sent = fake.requests[0].json()
    assert sent["vnp_Command"] == "querydr" and sent["vnp_Version"] == "2.1.0"
    assert sent["vnp_TmnCode"] == "HUETTHCC" and sent["vnp_TxnRef"] == intent.reference
    assert sent["vnp_TransactionDate"] == "20261126093000"  # the intent's creation, GMT+7
    assert sent["vnp_CreateDate"] == "20261126100000"  # now, GMT+7
    (payment,) = _payments(db)
    assert (payment.provider_txn_id, payment.amount, payment.channel) == (
        "14509170", 180000, "vnpay")  # VND x 100 on the wire
    assert payment.paid_at == datetime(2026, 11, 26, 2, 35, 12, tzinfo=UTC)
    assert _intent(db, intent.id).status == "paid"


def test_vnpay_answer_with_a_bad_hash_or_odd_amount_records_nothing(
        db: Database, clock: FixedClock, fake: FakeProviders, make_intent: MakeIntent) -> None:
    intent = make_intent("vnpay")
    vnpay_route(fake, {intent.reference: "18000000"}, bad_response_hash=True)
    summary = fetch(db, clock, make_settings(fake, **VNPAY_KEYS), "vnpay")
    assert "vnp_SecureHash that does not match" in summary["errors"][0]["error"]
    fake.routes.clear()
    vnpay_route(fake, {intent.reference: "18000050"})
    summary = fetch(db, clock, make_settings(fake, **VNPAY_KEYS), "vnpay")
    assert "not a whole number of VND" in summary["errors"][0]["error"]
    assert _payments(db) == []
    # our own signature refused by VNPay (97) says which keys to check
    summary = fetch(db, clock, make_settings(fake, **{**VNPAY_KEYS,
                                                      "RECON_VNPAY_HASH_SECRET": "x"}), "vnpay")
    assert "refused our request signature (97)" in summary["errors"][0]["error"]


def zalopay_route(fake: FakeProviders, paid: dict[str, int]) -> None:
    key1 = ZALOPAY_KEYS["RECON_ZALOPAY_KEY1"]

    def handler(seen: Seen) -> Any:
        form = seen.form()
        mac = hmac.new(key1.encode(), f"{form['app_id']}|{form['app_trans_id']}|{key1}".encode(),
                       hashlib.sha256).hexdigest()
        if form.get("mac") != mac:
            return json_answer({"return_code": 2, "return_message": "mac sai"})
        if form["app_trans_id"] in paid:
            return json_answer({"return_code": 1, "return_message": "Giao dịch thành công",
                                "sub_return_code": 1, "sub_return_message": "",
                                "is_processing": False, "amount": paid[form["app_trans_id"]],
                                "zp_trans_id": 261126000000123, "server_time": 1795675200000,
                                "discount_amount": 0})
        return json_answer({"return_code": 3, "return_message": "Đang xử lý",
                            "sub_return_code": -1, "sub_return_message": "",
                            "is_processing": True})
    fake.route("POST", "/v2/query", handler)


def test_zalopay_query_is_maced_with_key1(db: Database, clock: FixedClock,
                                          fake: FakeProviders, make_intent: MakeIntent) -> None:
    paid = make_intent("zalopay", provider_order_id="261126_HSPAIDREF01")
    pending = make_intent("zalopay")
    zalopay_route(fake, {"261126_HSPAIDREF01": 180000})
    summary = fetch(db, clock, make_settings(fake, **ZALOPAY_KEYS), "zalopay")
    assert (summary["recorded"], summary["still_waiting"]) == (1, 1)
    assert [r.form()["app_trans_id"] for r in fake.requests] == [
        "261126_HSPAIDREF01", f"261126_{pending.reference}"]
    (payment,) = _payments(db)
    assert (payment.provider_txn_id, payment.amount, payment.intent_id) == (
        "261126000000123", 180000, paid.id)
    assert payment.paid_at == datetime.fromtimestamp(1795675200, tz=UTC)


def momo_route(fake: FakeProviders, results: dict[str, int], *,
               pay_type: str | None = "qr") -> None:
    """``pay_type``: the answer's payType (None: left out)."""
    keys = MOMO_KEYS

    def handler(seen: Seen) -> Any:
        body = seen.json()
        raw = (f"accessKey={keys['RECON_MOMO_ACCESS_KEY']}&orderId={body['orderId']}"
               f"&partnerCode={body['partnerCode']}&requestId={body['requestId']}")
        signature = hmac.new(keys["RECON_MOMO_SECRET_KEY"].encode(), raw.encode(),
                             hashlib.sha256).hexdigest()
        if body.get("signature") != signature:
            return json_answer({"resultCode": 11, "message": "Chữ ký không hợp lệ"})
        code = results.get(body["orderId"], 42)
        doc: dict[str, Any] = {"partnerCode": body["partnerCode"], "orderId": body["orderId"],
                               "requestId": body["requestId"], "extraData": "",
                               "amount": 180000, "transId": 3108111745,
                               "resultCode": code, "refundTrans": [],
                               "message": "Thành công." if code == 0 else "Đang chờ",
                               "responseTime": 1795675300000, "lastUpdated": 1795675200000}
        if pay_type is not None:
            doc["payType"] = pay_type
        return json_answer(doc)
    fake.route("POST", "/v2/gateway/api/query", handler)


def test_momo_query_is_signed_and_confirms(db: Database, clock: FixedClock,
                                           fake: FakeProviders, make_intent: MakeIntent) -> None:
    paid = make_intent("momo")
    waiting = make_intent("momo")
    make_intent("momo", status="cancelled")  # not asked about
    momo_route(fake, {paid.reference: 0, waiting.reference: 1000})
    summary = fetch(db, clock, make_settings(fake, **MOMO_KEYS), "momo")
    assert (summary["checked"], summary["recorded"], summary["still_waiting"]) == (2, 1, 1)
    assert all(r.json()["partnerCode"] == "MOMOHUE" for r in fake.requests)
    (payment,) = _payments(db)
    assert (payment.provider, payment.provider_txn_id, payment.amount) == (
        "momo", "3108111745", 180000)
    wrong = fetch(db, clock, make_settings(fake, **{**MOMO_KEYS,
                                                    "RECON_MOMO_SECRET_KEY": "x"}), "momo")
    assert wrong["recorded"] == 0
    assert wrong["errors"] == [{"reference": waiting.reference, "error": (
        "MoMo refused our request (11: Chữ ký không hợp lệ): check RECON_MOMO_PARTNER_CODE, "
        "RECON_MOMO_ACCESS_KEY and RECON_MOMO_SECRET_KEY")}]
    assert summary["results"] == [
        {"reference": paid.reference, "state": "paid", "detail": "MoMo 0: Thành công."},
        {"reference": waiting.reference, "state": "waiting", "detail": "MoMo 1000: Đang chờ"}]


def test_a_provider_that_goes_down_mid_run_keeps_what_was_recorded(
        db: Database, clock: FixedClock, fake: FakeProviders, make_intent: MakeIntent) -> None:
    first = make_intent("payos", order_code=1)
    make_intent("payos", order_code=2)
    good = _payos_data(1, 180000, [("FT1", 180000)])

    def handler(seen: Seen) -> Any:
        if seen.path.endswith("/1"):
            return json_answer({"code": "00", "desc": "success", "data": good,
                                "signature": payos_signature(good, "checksum-key-1")})
        return json_answer({"error": "down"}, 502)
    fake.route("GET", "/v2/payment-requests/", handler)
    with pytest.raises(FetchError) as caught:
        fetch(db, clock, make_settings(fake, **PAYOS_KEYS), "payos")
    assert "payOS did not answer after 3 attempts (HTTP 502)" in caught.value.message
    assert fake.calls() == 4
    assert [p.intent_id for p in _payments(db)] == [first.id]


def test_the_date_window_selects_intents(db: Database, clock: FixedClock,
                                         fake: FakeProviders, make_intent: MakeIntent) -> None:
    make_intent("payos", order_code=7)
    payos_route(fake, {})
    settings = make_settings(fake, **PAYOS_KEYS)
    assert fetch(db, clock, settings, "payos", day=date(2026, 11, 26))["checked"] == 1
    assert fetch(db, clock, settings, "payos", day=date(2026, 11, 25))["checked"] == 0


def test_providers_without_a_pull_api_say_what_to_do(db: Database, clock: FixedClock,
                                                     fake: FakeProviders) -> None:
    with pytest.raises(ReconError) as caught:
        fetch(db, clock, make_settings(fake), "casso")
    assert "recon settlements import --provider casso" in (caught.value.hint or "")
