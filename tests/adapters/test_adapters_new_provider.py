"""Adding a provider is one adapter module. FakePay, defined here and nowhere else (its own
signature scheme, callback fields, answers, query API and settlement report), is registered for
each test and works end to end with nothing else edited: its webhook at /webhooks/fakepay,
`recon simulate pay`'s builder, settlement import (its profile picked by the file's header),
`recon settlements fetch`, and the finance workbench's provider filter."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

import adapters
from adapters import (
    Acknowledgement,
    Adapter,
    CallbackEvent,
    CallbackLink,
    EnvSpec,
    MalformedPayload,
    Outcome,
    PaymentStatus,
    RawRequest,
    SimulatedPayment,
    UnknownProvider,
    Wire,
    get_adapter,
    registered,
)
from adapters.base import SignedParts, json_ack, json_body, response_json
from adapters.fields import get_str, get_txn_id, iso_time, load_json_object, parse_vnd
from adapters.pull import (
    ApiRequest,
    ConfirmApi,
    ConfirmedPayment,
    QueryOutcome,
    WaitingOrder,
    answer_object,
    exact_vnd,
    id_text,
    vn_datetime,
)
from recon.cli.simulate import answer_accepted, build_request
from recon.clock import FixedClock
from recon.db import Database
from recon.errors import ConfigurationError
from recon.models import Payment, PaymentIntent, SettlementLine
from recon.review import workbench
from recon.settlements.fetch import fetch
from recon.settlements.importer import PROVIDERS as SETTLEMENT_PROVIDERS
from recon.settlements.importer import check_provider, import_settlement, load_profiles
from tests.conftest import T0
from tests.settlements.conftest import (  # noqa: F401 - fixtures used by name
    FakeProviders,
    Seen,
    fake,
    json_answer,
    make_intent,
    make_settings,
)
from tests.webhooks.whkit import Hooks, make_hooks

HEADER = "X-FakePay-Mac"
SECRET = "fakepay-secret-current"
API_KEY = "fakepay-api-key"


def mac(secret: str, message: bytes) -> str:
    """FakePay's scheme: base64 of HMAC-SHA384 over the raw body (no hex, unlike the others)."""
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha384).digest()).decode()


class FakePayQuery(ConfirmApi):
    """``POST /v1/orders/lookup`` {"order_ref"}, signed like its callbacks."""

    default_base = "https://api.fakepay.invalid"
    required = ("RECON_FAKEPAY_API_KEY", "RECON_FAKEPAY_SECRET")
    credentials = ("RECON_FAKEPAY_API_KEY",)

    def request(self, order: WaitingOrder, now: datetime) -> ApiRequest:
        body = json_body({"order_ref": order.reference, "asked_at": now.isoformat()})
        return ApiRequest("POST", "/v1/orders/lookup", body=body, headers={
            "Content-Type": "application/json",
            "X-FakePay-Key": self.value("RECON_FAKEPAY_API_KEY"),
            HEADER: mac(self.value("RECON_FAKEPAY_SECRET"), body)})

    def read(self, body: bytes) -> QueryOutcome:
        doc = answer_object(body, "FakePay's answer")
        if doc.get("state") == "unknown":
            return QueryOutcome("not_found", "FakePay: no such order")
        if doc.get("state") != "paid":
            return QueryOutcome("waiting", f"FakePay state {doc.get('state')}")
        payment = ConfirmedPayment(provider_txn_id=id_text(doc.get("txn"), "FakePay txn"),
                                   amount=exact_vnd(doc.get("amount_vnd"), "FakePay amount"),
                                   paid_at=vn_datetime(doc.get("paid_at"), "FakePay paid_at"))
        return QueryOutcome("paid", "FakePay state paid", (payment,))


class FakePayAdapter(Adapter):
    """FakePay's callbacks: POST JSON ``{txn, order_ref, amount_vnd, paid_at, state, note}``,
    header ``X-FakePay-Mac``; answered ``{"ack": "OK" | "BAD_MAC" | "BAD_REQUEST" | "RETRY"}``."""

    name = "fakepay"
    label = "FakePay"
    channel = "vietqr"
    digest = "sha384"
    hex_signature = False
    env_spec = EnvSpec(required=("RECON_FAKEPAY_SECRET",), optional=("RECON_FAKEPAY_API_KEY",),
                       rotating=("RECON_FAKEPAY_SECRET",))
    link = CallbackLink.reference
    link_field = "order_ref"
    simulated_statuses = ("succeeded", "failed")
    pull_api = FakePayQuery
    settlement_profiles: Mapping[str, Mapping[str, object]] = {
        "fakepay_daily": {
            "description": "FakePay daily settlement (semicolon CSV, amounts as 1.234.000)",
            "delimiter": ";",
            "datetime_formats": ["%d-%m-%Y %H:%M"],
            "date_formats": ["%d-%m-%Y"],
            "thousands_separator": ".",
            "columns": {"provider_txn_id": "Mã GD FakePay", "amount": "Số tiền",
                        "fee": "Phí", "transaction_at": "Thời điểm", "settled_on": "Ngày TT",
                        "reference": "Mã đơn"},
            "optional_columns": ["reference"],
        },
    }

    def _signed_parts(self, request: RawRequest) -> SignedParts:
        return SignedParts(signature=request.headers.get(HEADER), messages=(request.body,),
                           where=f"{HEADER} header")

    def _expected_signature(self, secret: bytes, message: bytes) -> bytes:
        return base64.b64encode(hmac.new(secret, message, self.digest).digest())

    def _parse(self, request: RawRequest) -> CallbackEvent:
        body = load_json_object(request.body)
        state = get_str(body, "state")
        if state not in ("ok", "declined"):
            raise MalformedPayload(f"unknown state {state!r}")
        status: PaymentStatus = "succeeded" if state == "ok" else "failed"
        note = body.get("note")
        return CallbackEvent(
            provider=self.name, provider_txn_id=get_txn_id(body, "txn"),
            amount=parse_vnd(body.get("amount_vnd"), field="amount_vnd"), status=status,
            transaction_at=iso_time(body.get("paid_at"), field="paid_at"),
            reference=get_str(body, "order_ref"), order_code=None,
            memo=note if isinstance(note, str) and note else None,
            raw_status=f"state={state}", channel=self.channel)

    @classmethod
    def acknowledge(cls, outcome: Outcome, detail: str | None = None) -> Acknowledgement:
        if outcome in (Outcome.bad_signature, Outcome.replayed):
            return json_ack(401, {"ack": "BAD_MAC"})
        if outcome is Outcome.malformed:
            return json_ack(400, {"ack": "BAD_REQUEST"})
        if outcome in (Outcome.retry_later, Outcome.not_configured):
            return json_ack(503, {"ack": "RETRY"})
        return json_ack(200, {"ack": "OK"})

    @classmethod
    def delivered(cls, status_code: int, body: bytes | str) -> bool:
        answer = response_json(body)
        return status_code == 200 and isinstance(answer, dict) and answer.get("ack") == "OK"

    def _new_txn_id(self, paid_at: datetime) -> str:
        return f"FP{secrets.randbelow(10**9):09d}"

    def _callback_fields(self, payment: SimulatedPayment) -> dict[str, object]:
        return {"txn": payment.provider_txn_id, "order_ref": payment.reference,
                "amount_vnd": payment.amount, "paid_at": payment.paid_at.isoformat(),
                "state": "ok" if payment.status == "succeeded" else "declined",
                "note": payment.memo}

    def _wire(self, fields: dict[str, object], payment: SimulatedPayment) -> Wire:
        return Wire.json(fields, headers={HEADER: self._sign(json_body(fields))})


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def fakepay() -> Iterator[type[Adapter]]:
    with registered(FakePayAdapter) as cls:
        yield cls


@pytest.fixture
def hooks(env: dict[str, str], db: Database, clock: FixedClock,
          fakepay: type[Adapter]) -> Hooks:
    return make_hooks(env, db, clock, RECON_FAKEPAY_SECRET=SECRET)


def _intent(hooks: Hooks) -> PaymentIntent:
    from recon.payments.intents import create_intent

    code = hooks.dossier()
    with hooks.db.transaction() as s:
        outcome = create_intent(s, hooks.clock, hooks.settings, dossier_code=code,
                                channel=FakePayAdapter.channel, actor="cashier1")
    return outcome.intent


def test_registration_reaches_every_list_and_is_undone() -> None:
    assert "fakepay" not in adapters.PROVIDERS
    with registered(FakePayAdapter):
        assert adapters.PROVIDERS[-1] == "fakepay"
        assert adapters.ADAPTERS["fakepay"] is FakePayAdapter
        assert "fakepay" in SETTLEMENT_PROVIDERS and check_provider("FakePay") == "fakepay"
        assert "fakepay" in workbench.PROVIDERS
        assert workbench.parse_filters({"provider": "fakepay"}).provider == "fakepay"
        profile = load_profiles()["fakepay_daily"]
        assert profile.providers == ("fakepay",) and profile.delimiter == ";"
        assert "fakepay" in load_profiles()["canonical"].providers
        assert adapters.label("fakepay") == "FakePay"
    assert "fakepay" not in adapters.PROVIDERS and "fakepay" not in workbench.PROVIDERS
    assert "fakepay_daily" not in load_profiles()
    with pytest.raises(UnknownProvider):
        adapters.adapter_class("fakepay")


def test_a_name_taken_or_an_incomplete_adapter_is_refused(fakepay: type[Adapter]) -> None:
    twin = type("Twin", (FakePayAdapter,), {})
    with pytest.raises(ValueError, match="already registered"):
        adapters.register(twin)
    nameless = type("Nameless", (FakePayAdapter,), {"name": "Fake Pay!"})
    with pytest.raises(ValueError, match="name"):
        adapters.register(nameless)
    wide = type("Wide", (FakePayAdapter,), {"name": "widepay", "channel": "a-channel-too-long"})
    with pytest.raises(ValueError, match="channel"):
        adapters.register(wide)
    assert "widepay" not in adapters.PROVIDERS


def test_its_simulated_callback_verifies_and_is_accepted_end_to_end(hooks: Hooks) -> None:
    intent = _intent(hooks)
    raw, notes = build_request(hooks.db, hooks.clock, hooks.settings,
                               reference=intent.reference.lower(), provider="fakepay",
                               amount=None, txn_id="FP000000042")
    assert notes == []
    adapter = get_adapter("fakepay", hooks.settings.env, max_age_seconds=300,
                          clock=hooks.clock)
    adapter.verify(raw)  # simulate's builder signs as the adapter checks
    assert raw.headers[HEADER] == mac(SECRET, raw.body)
    assert raw.path == "/webhooks/fakepay"

    response = hooks.send(raw)
    assert answer_accepted("fakepay", response.status_code, response.get_data(as_text=True))
    assert json.loads(response.get_data()) == {"ack": "OK"}
    (payment,) = hooks.payments()
    assert (payment.provider, payment.provider_txn_id, payment.amount, payment.intent_id) == (
        "fakepay", "FP000000042", intent.amount, intent.id)
    assert hooks.intent_row(intent.id).status == "paid"
    (callback,) = hooks.callbacks()
    assert (callback.provider, callback.signature_valid) == ("fakepay", True)

    again = hooks.send(raw)  # a redelivery: answered, not recorded twice
    assert json.loads(again.get_data()) == {"ack": "OK"} and len(hooks.payments()) == 1
    forged = replace(raw, body=raw.body.replace(b'"amount_vnd":', b'"amount_vnd":1'))
    refused = hooks.send(forged)
    assert refused.status_code == 401 and json.loads(refused.get_data()) == {"ack": "BAD_MAC"}
    assert not answer_accepted("fakepay", refused.status_code, refused.get_data(as_text=True))
    assert len(hooks.payments()) == 1


def test_its_simulator_declares_what_it_cannot_send(fakepay: type[Adapter],
                                                    clock: FixedClock) -> None:
    adapter = get_adapter("fakepay", {"RECON_FAKEPAY_SECRET": SECRET}, max_age_seconds=300,
                          clock=clock)
    with pytest.raises(ValueError, match="order_ref"):
        adapter.build_callback(amount=1000)
    with pytest.raises(adapters.NotSupported, match="refunded"):
        adapter.build_callback(amount=1000, reference="HS1", status="refunded")
    declined = adapter.build_callback(amount=1000, reference="HS1", status="failed")
    assert adapter.parse_callback(declined).status == "failed"


REPORT = (
    "Mã GD FakePay;Số tiền;Phí;Thời điểm;Ngày TT;Mã đơn\n"
    "FP000000001;180.000;1.980;25-11-2026 09:12;26-11-2026;HS7K3M9QX2PA\n"
    "FP000000002;1.250.000;13.750;25-11-2026 15:03;26-11-2026;\n"
).encode()


def test_a_settlement_file_in_its_profile_imports(db: Database, clock: FixedClock,
                                                  fakepay: type[Adapter]) -> None:
    summary = import_settlement(db, clock, "fakepay", REPORT, "fakepay-2026-11-26.csv",
                                actor="test")
    assert (summary.profile, summary.lines, summary.total_amount, summary.total_fee) == (
        "fakepay_daily", 2, 1_430_000, 15_730)
    with db.read() as s:
        lines = list(s.scalars(select(SettlementLine).order_by(SettlementLine.line_no)))
    assert [(ln.provider, ln.provider_txn_id, ln.net, ln.settled_on, ln.reference)
            for ln in lines] == [
        ("fakepay", "FP000000001", 178_020, date(2026, 11, 26), "HS7K3M9QX2PA"),
        ("fakepay", "FP000000002", 1_236_250, date(2026, 11, 26), None)]


def test_its_query_api_confirms_a_waiting_intent(
        db: Database, clock: FixedClock, fake: FakeProviders,  # noqa: F811 - the fixture
        make_intent: Callable[..., PaymentIntent],  # noqa: F811 - the fixture
        fakepay: type[Adapter]) -> None:
    paid = make_intent(FakePayAdapter.channel)
    waiting = make_intent(FakePayAdapter.channel)

    def handler(seen: Seen) -> Any:
        if seen.headers.get("x-fakepay-key") != API_KEY or seen.headers.get(
                HEADER.lower()) != mac(SECRET, seen.body):
            return json_answer({"error": "unauthorised"}, 401)
        if seen.json()["order_ref"] != paid.reference:
            return json_answer({"state": "pending"})
        return json_answer({"state": "paid", "txn": "FP777", "amount_vnd": 180000,
                            "paid_at": "2026-11-26 09:40:00"})
    fake.route("POST", "/v1/orders/lookup", handler)
    settings = make_settings(fake, RECON_FAKEPAY_API_BASE=fake.url,
                             RECON_FAKEPAY_API_KEY=API_KEY, RECON_FAKEPAY_SECRET=SECRET)
    summary = fetch(db, clock, settings, "fakepay")
    assert (summary["kind"], summary["checked"], summary["recorded"],
            summary["still_waiting"]) == ("confirmations", 2, 1, 1)
    with db.read() as s:
        (payment,) = s.scalars(select(Payment)).all()
    assert (payment.provider, payment.provider_txn_id, payment.intent_id) == (
        "fakepay", "FP777", paid.id)
    assert payment.paid_at == T0 - timedelta(minutes=20)  # 09:40 in Huế
    assert waiting.reference in {r["reference"] for r in summary["results"]}
    refused = make_settings(fake, RECON_FAKEPAY_API_BASE=fake.url,
                            RECON_FAKEPAY_API_KEY="wrong", RECON_FAKEPAY_SECRET=SECRET)
    with pytest.raises(ConfigurationError, match="refused our credentials") as caught:
        fetch(db, clock, refused, "fakepay")
    assert "RECON_FAKEPAY_API_KEY" in (caught.value.hint or "")
