"""Each agency sees its own (issue 16 item 5): every route of the app, walked with the users and
tokens of two agencies of the demo. Each route that takes an id is asked for the other agency's
object (404) and for its own (found); each list, page, report and export is read and must not
show the other agency (its code, its name, its dossiers' codes, its payments' transaction ids);
each action on the other agency's object answers 404 and changes nothing.

The walker reads ``app.url_map``: a route it cannot classify fails the test, so a new route is
walked (or deliberately listed as not about agencies) before it ships.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.routing import Rule

from recon.accounts.auth import create_token
from recon.accounts.scopes import set_token_scope
from recon.audit.chain import record_on
from recon.clock import VN_TZ, FixedClock
from recon.db import Database
from recon.demo import catalog
from recon.demo.seed import DEMO_USER_AGENCIES, DEMO_USERS, seed_demo
from recon.engine.runner import engine_config_from_env, run_reconciliation
from recon.intake.agencies import create_agency
from recon.models import (
    Agency,
    AuditEvent,
    Discrepancy,
    Dossier,
    FeeLine,
    Payment,
    PaymentIntent,
    Receipt,
    ReceiptCorrection,
    SettlementFile,
    SettlementLine,
)
from recon.payments import intents
from recon.review import periods
from recon.scope import Scope, line_condition
from recon.web.policy import POLICY

A, B = "H57.TPHUE", "H57.HUONGTHUY"
PASSWORDS = {u: p for u, _r, _d, p in DEMO_USERS}
USERS = {code: {role: next(u for u, c in DEMO_USER_AGENCIES.items() if c == code
                           and any(x[0] == u and x[1] == role for x in DEMO_USERS))
                for role in ("cashier", "finance")} for code in (A, B)}

#: routes that are about no agency's data, and why (a new one must be added here knowingly)
NOT_ABOUT_AGENCIES = {
    "static": "the stylesheets and scripts",
    "health.healthz": "the service's liveness",
    "health.detail": "administrators only (the database's words)",
    "auth.login": "the login form", "auth.logout": "ends the session",
    "auth.language": "the language switch",
    "openapi.spec": "the API's description",
    "webhooks.receive": "providers, authenticated by signature, not by a user",
    "bench_endpoints.bare": "bench only", "bench_endpoints.durable": "bench only",
    # the public receipt lookup: one receipt by its unguessable code, no login, no listing
    # (tests/receipts/test_receipt_show.py: a wrong code reveals nothing, rate limit)
    "receipts.lookup_page": "the public receipt lookup (by a receipt's secret code)",
    "receipts.public_pdf": "the public receipt lookup's PDF (by the secret code)",
    "receipts.public_xml": "the public receipt lookup's XML (by the secret code)",
}
#: GET routes that read one object by id: which object the id names
BY_ID = {
    "api.get_dossier": "dossier",
    "payments_api.get_intent": "intent",
    "payments_api.intent_qr_png": "intent",
    "payments_api.intent_qr_svg": "intent",
    "finance.detail": "discrepancy",
    "finance.download_receipt": "receipt",
    "receipts.print_view": "receipt",
    "receipts.print_pdf": "receipt",
    "cashier.intent_receipt": "intent",
    "finance.approval": "discrepancy",
    "periods_api.period_snapshot": "period",
    "finance_periods.report": "period",
    "finance_periods.report_xlsx": "period",
    "finance_receipts.receipt_page": "receipt",
    "finance_receipts.correction_notice": "correction",
    "finance_receipts.summary_file": "summary",
}
#: a whole settlement file spans agencies: only the whole deployment downloads it
FILE_DOWNLOADS = {"finance.download_file", "settlements_api.settlement_file_content"}
#: a bank statement's line credits a provider's batch spanning agencies: only the whole
#: deployment downloads it (a caller of some agencies gets 404 for every line)
LINE_DOWNLOADS = {"finance.download_statement_line"}
#: GET routes that list or sum: their query string, and whether the whole deployment's
#: answer must show both agencies (proof that the markers would be seen if they leaked)
LISTS: dict[str, tuple[str, bool]] = {
    "auth.home": ("", False),
    "api.list_dossiers": ("?limit=500", True),
    "api.list_agencies": ("", True),
    "cashier.index": ("", True),
    "finance.index": ("", False),
    "finance.queue": ("?status=all&limit=200", True),
    "finance.export": ("?status=all", True),
    "finance.approvals": ("", False),
    "finance.dossier_lookup": ("?code={other_dossier}", True),
    "finance.daily": ("?day={other_day}", True),
    "finance.daily_export": ("?day={other_day}", True),
    "finance.quarterly": ("?year=2021&quarter=1", False),
    "finance.quarterly_export": ("?year=2021&quarter=1", False),
    "finance.outstanding": ("", True),
    "finance.outstanding_export": ("", True),
    "finance.audit_log": ("?entity_type=payment_intent", True),
    "finance.audit_verify": ("", False),
    "settlements_api.list_settlement_files": ("", False),
    "discrepancies_api.list_discrepancies": ("?status=all&limit=500", True),
    "discrepancies_api.list_runs": ("", False),
    "periods_api.list_periods": ("", False),
    "finance_periods.index": ("", False),  # periods by id: see the JSON list's check
    # batches and credits are no agency's: a scoped caller's page and exports hold none
    # (tests/finance/test_payouts_page.py proves the whole deployment's shows them)
    "finance.payouts": ("?month={other_month}", False),
    "finance.payouts_export": ("?month={other_month}", False),
    # fees of the lines settling the caller's agencies' payments; declarations of its agencies
    "finance.fees": ("?year=2021", False),
    "finance.declarations_page": ("?month={other_month}", False),
    "finance.declarations_export": ("?month={other_month}", False),
    # the day's receipts, corrections waiting and summary tables of the caller's agencies
    "finance_receipts.index": ("?day=2026-01-02", False),
    # onward transfers of the caller's receiving agencies (tests/transfers prove the figures)
    "finance.transfers": ("", False),
    # vouchers and "not yet remitted" of the caller's agencies (the collectors)
    "finance.remittances_page": ("", False),
}
FORMATS = {"finance.export": ("csv", "xlsx"), "finance.payouts_export": ("csv", "xlsx"),
           "finance.quarterly_export": ("csv", "xlsx", "json"),
           "finance.daily_export": ("csv", "xlsx", "json"),
           "finance.outstanding_export": ("csv", "xlsx"),
           "finance.declarations_export": ("xlsx", "json")}
#: actions on one object: which object
ACTIONS = {
    "api.create_dossier": "dossier_body",
    "payments_api.create_intent": "dossier", "payments_api.record_cash": "dossier",
    "payments_api.cancel_intent": "intent",
    "cashier.create_intent": "dossier", "cashier.record_cash": "dossier",
    "cashier.cancel_intent": "intent",
    "finance.resolve": "discrepancy", "finance.approve": "discrepancy",
    "finance.reject": "discrepancy", "finance.assign": "discrepancy",
    "finance.reopen": "discrepancy",
    "periods_api.approve_period": "period", "periods_api.reopen_period": "period",
    "finance_periods.approve": "period", "finance_periods.reopen": "period",
    "periods_api.propose_period": "agency", "finance_periods.propose": "agency",
    "finance_receipts.propose_correction": "receipt",
    "finance_receipts.approve_correction": "correction",
    "finance_receipts.reject_correction": "correction",
    "finance_receipts.prepare_summary": "summary",
    "finance_receipts.mark_summary_sent": "summary",
}
#: actions of the whole deployment only: refused (403) to a scope of some agencies
WHOLE_ONLY = {"settlements_api.upload_settlement"}


@dataclass
class Side:
    code: str
    agency_id: int = 0
    dossier: str = ""
    intent: int = 0
    discrepancy: int = 0
    period: int = 0
    receipt: int = 0  # an issued e-receipt of the agency's cash payment
    correction: int = 0  # an approved correction of that receipt (its error notice)
    pay_day: str = ""  # a Vietnam day with a payment of the agency (for the daily report)
    markers: set[str] = field(default_factory=set)


def _world(db: Database, clock: FixedClock, app: Flask) -> dict[str, Side]:
    seed_demo(db, clock, dossiers=300, seed=2021)
    run_reconciliation(db, clock=clock, audit=record_on, config=engine_config_from_env({}),
                       mode="full", triggered_by="test")
    sides = {A: Side(A), B: Side(B)}
    settings = app.extensions["recon.settings"]
    with db.transaction() as s:
        for side in sides.values():
            agency = s.scalars(select(Agency).where(Agency.code == side.code)).one()
            side.agency_id = agency.id
            owing = (select(Dossier.code).join(FeeLine, FeeLine.dossier_id == Dossier.id)
                     .where(Dossier.agency_id == agency.id, FeeLine.amount > 0)
                     .where(~select(Payment.id).where(Payment.dossier_id == Dossier.id)
                            .exists())
                     .order_by(Dossier.id))
            owing_codes = list(s.scalars(owing.limit(2)))
            assert len(owing_codes) == 2, f"the demo has no two dossiers of {side.code} owing"
            side.dossier = owing_codes[0]
            # cash taken today for the second one: a payment of the agency, in today's report
            cash = intents.record_cash(s, clock, settings, dossier_code=owing_codes[1],
                                       amount=1000, receipt_number=f"BL-{side.code}",
                                       actor="test")
            receipt = Receipt(form_code="EBL01", series="26T", number=side.agency_id,
                              status="issued", issued_on=date(2026, 1, 2), drawn_by="test",
                              drawn_at=clock.now(), payment_id=cash.result.payment.id,
                              amount=1000, signed_at=clock.now(),
                              document=f"<BienLai><MHSo>{owing_codes[1]}</MHSo></BienLai>")
            s.add(receipt)
            s.flush()
            side.receipt = receipt.id
            correction = ReceiptCorrection(
                receipt_id=receipt.id, kind="replacement", reason="thử", lines="[]",
                status="approved", proposed_by="user:a", proposed_at=clock.now(),
                notice=f"<TBao><TNNT>{agency.name}</TNNT></TBao>")
            s.add(correction)
            s.flush()
            side.correction = correction.id
            intent = intents.create_intent(
                s, clock, settings, dossier_code=side.dossier, channel="vietqr",
                actor="test").intent
            side.intent = intent.id
            dossier_id = s.scalars(select(Dossier.id).where(Dossier.code == side.dossier)).one()
            found = Discrepancy(identity=f"test:{side.code}", kind="underpaid", status="open",
                                dossier_id=dossier_id, expected_amount=1, actual_amount=0,
                                delta=-1, explanation="thử", detected_at=clock.now(),
                                updated_at=clock.now())
            s.add(found)
            s.flush()
            side.discrepancy = found.id
            period = periods.propose(s, clock, actor="user:a", month=date(2020, 12, 1),
                                     agency_code=side.code)
            periods.approve(s, clock, period.id, actor="user:b")
            side.period = period.id
            codes = set(s.scalars(select(Dossier.code).where(Dossier.agency_id == agency.id)))
            txns = {t for t in s.scalars(
                select(Payment.provider_txn_id).join(Dossier, Dossier.id == Payment.dossier_id)
                .where(Dossier.agency_id == agency.id)) if len(t) >= 8}
            side.pay_day = clock.now().astimezone(VN_TZ).date().isoformat()
            side.markers = {side.code, agency.name, intent.reference, *codes, *txns}
    return sides


@dataclass
class Callers:
    """Per agency (and ``"all"``), a session client per user role and a token per role."""

    app: Flask
    sessions: dict[tuple[str, str], tuple[FlaskClient, str]]
    tokens: dict[tuple[str, str], str]


def _login(app: Flask, username: str, password: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf})
    assert response.status_code == 302, response.data
    with client.session_transaction() as sess:
        return client, str(sess["csrf"])


def _callers(app: Flask, db: Database, clock: FixedClock) -> Callers:
    sessions = {}
    tokens = {}
    for code in (A, B):
        for role, username in USERS[code].items():
            sessions[(code, role)] = _login(app, username, PASSWORDS[username])
    sessions[("all", "finance")] = _login(app, "ketoan", PASSWORDS["ketoan"])
    sessions[("all", "cashier")] = _login(app, "thungan", PASSWORDS["thungan"])
    with db.transaction() as s:
        for code in (A, B, "all"):
            # each token belongs to a person of the same agency (or of the whole deployment):
            # the owner's scope then never narrows the token's here
            owner = "ketoan" if code == "all" else USERS[code]["finance"]
            for role in ("intake", "cashier", "finance"):
                row, token = create_token(s, clock, name=f"{role}-{code}", role=role,
                                          user=owner)
                if code != "all":
                    set_token_scope(s, clock, row.id, [code])
                tokens[(code, role)] = token
    return Callers(app, sessions, tokens)


def _body_text(response: Any) -> str:
    data: bytes = response.get_data()
    if data[:2] == b"PK":  # an XLSX: its sheets' XML
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            return "".join(book.read(n).decode("utf-8", "replace") for n in book.namelist())
    return data.decode("utf-8", "replace")


Request = Callable[..., Any]


def _caller(callers: Callers, endpoint: str, code: str) -> Request:
    """A function making a request as a principal of ``code`` allowed on ``endpoint``: a token
    for the API, a logged-in user for pages (POSTs carry the session's CSRF token)."""
    roles = POLICY[endpoint]
    api = endpoint.split(".", maxsplit=1)[0] in ("api", "payments_api", "settlements_api",
                                     "discrepancies_api", "periods_api")
    if api:
        role = next(r for r in ("finance", "cashier", "intake") if r in roles)
        headers = {"Authorization": f"Bearer {callers.tokens[(code, role)]}"}
        client = callers.app.test_client()

        def by_token(method: str, url: str, **kw: Any) -> Any:
            return client.open(url, method=method, headers=headers, **kw)
        return by_token
    role = next(r for r in ("finance", "cashier") if r in roles)
    session_client, csrf = callers.sessions[(code, role)]

    def by_session(method: str, url: str, **kw: Any) -> Any:
        if method == "POST":
            kw.setdefault("data", {})["csrf_token"] = csrf
        return session_client.open(url, method=method, **kw)
    return by_session


def _url(app: Flask, rule: Rule, values: dict[str, Any]) -> str:
    with app.test_request_context():
        return app.url_for(rule.endpoint, **values)


def _id_values(side: Side, what: str) -> dict[str, Any]:
    return {"dossier": {"code": side.dossier}, "intent": {"intent_id": side.intent},
            "discrepancy": {"discrepancy_id": side.discrepancy},
            "period": {"period_id": side.period},
            "receipt": {"receipt_id": side.receipt},
            "correction": {"correction_id": side.correction},
            # a day without receipts: the organisation's (empty) summary table
            "summary": {"agency_code": side.code, "day": "2026-01-03", "fmt": "xml"}}[what]


def _counts(db: Database) -> tuple[int, ...]:
    with db.read() as s:
        return (s.scalar(select(func.count()).select_from(AuditEvent)) or 0,
                s.scalar(select(func.count()).select_from(PaymentIntent)) or 0,
                s.scalar(select(func.count()).select_from(Payment)) or 0)


def _action_request(endpoint: str, what: str, other: Side) -> dict[str, Any]:
    if what == "dossier_body":
        return {"json": {"code": other.dossier, "agency_code": other.code,
                         "procedure_code": "X.1", "procedure_name": "thử",
                         "applicant_name": "Nguyễn Văn A",
                         "received_at": "2021-03-01T08:00:00+07:00",
                         "fees": [{"kind": "phi", "name": "Phí", "amount": 1000}]}}
    if what == "agency":
        if endpoint.startswith("periods_api"):
            return {"json": {"month": "2020-11", "agency": other.code}}
        return {"data": {"month": "2020-11", "agency": other.code}}
    body = {"payments_api.create_intent": {"channel": "vietqr"},
            "payments_api.record_cash": {"amount": 1000, "receipt_number": "BL-1"},
            "periods_api.reopen_period": {"reason": "thử"}}.get(endpoint)
    if body is not None:
        return {"json": body}
    if endpoint.startswith("periods_api"):
        return {"json": {}}
    return {"data": {"amount": "1.000", "receipt_number": "BL-1", "channel": "vietqr",
                     "note": "thử", "resolution_type": "refunded_to_citizen",
                     "user_id": "none", "reason": "thử", "code": other.dossier}}


def test_each_agency_sees_only_its_own_on_every_route(app: Flask, db: Database,
                                                        clock: FixedClock) -> None:
    sides = _world(db, clock, app)
    callers = _callers(app, db, clock)
    assert sides[A].markers.isdisjoint({sides[B].code}) and len(sides[A].markers) > 5
    walked: set[str] = set()
    unclassified: list[str] = []
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
        if endpoint in NOT_ABOUT_AGENCIES:
            continue
        known = (endpoint in BY_ID or endpoint in LISTS or endpoint in ACTIONS
                 or endpoint in FILE_DOWNLOADS or endpoint in WHOLE_ONLY
                 or endpoint in LINE_DOWNLOADS
                 or endpoint == "settlements_api.get_settlement_file")
        if not known:
            unclassified.append(f"{endpoint} {sorted(methods)} {rule.rule}")
            continue
        walked.add(endpoint)
        for me, other in ((sides[B], sides[A]), (sides[A], sides[B])):
            call = _caller(callers, endpoint, me.code)
            if endpoint in BY_ID:
                what = BY_ID[endpoint]
                theirs = call("GET", _url(app, rule, _id_values(other, what)))
                assert theirs.status_code == 404, (endpoint, me.code, theirs.status_code)
                mine = call("GET", _url(app, rule, _id_values(me, what)))
                assert mine.status_code == 200, (endpoint, me.code, mine.status_code,
                                                 mine.get_data()[:300])
                assert not any(m in _body_text(mine) for m in other.markers), (endpoint,
                                                                               me.code)
            elif endpoint in LISTS:
                query, _shows = LISTS[endpoint]
                for fmt in FORMATS.get(endpoint, (None,)):
                    url = _url(app, rule, {"fmt": fmt} if fmt else {})
                    url += query.format(other_dossier=other.dossier, other_day=other.pay_day,
                                           other_month=other.pay_day[:7])
                    got = call("GET", url, follow_redirects=True)
                    if endpoint == "finance.dossier_lookup":  # its answer repeats the code
                        assert got.status_code == 404, got.get_data()[:300]
                        continue
                    assert got.status_code == 200, (endpoint, fmt, got.status_code,
                                                    got.get_data()[:300])
                    text = _body_text(got)
                    leaked = sorted(m for m in other.markers if m in text)[:5]
                    assert not leaked, (endpoint, fmt, me.code, leaked)
            elif endpoint in ACTIONS:
                what = ACTIONS[endpoint]
                values = (_id_values(other, what) if what in (
                    "intent", "discrepancy", "period", "dossier", "receipt", "correction",
                    "summary") else {})
                values.pop("fmt", None)
                before = _counts(db)
                got = call("POST", _url(app, rule, values),
                           **_action_request(endpoint, what, other))
                assert got.status_code == 404, (endpoint, me.code, got.status_code,
                                                 got.get_data()[:300])
                assert _counts(db) == before, endpoint
            elif endpoint in FILE_DOWNLOADS:
                with db.read() as s:
                    file_id = s.scalars(select(SettlementFile.id)).first()
                got = call("GET", _url(app, rule, {"file_id": file_id}))
                assert got.status_code == 404, (endpoint, got.status_code)
            elif endpoint in LINE_DOWNLOADS:
                with db.read() as s:
                    line_ids = list(s.scalars(select(SettlementLine.id).limit(20)))
                assert line_ids, "the demo has no settlement line"
                for line_id in line_ids:
                    got = call("GET", _url(app, rule, {"line_id": line_id}))
                    assert got.status_code == 404, (endpoint, line_id, got.status_code)
            elif endpoint == "settlements_api.get_settlement_file":
                with db.read() as s:
                    for file_id in s.scalars(select(SettlementFile.id)):
                        mine_lines = s.scalar(select(func.count()).select_from(SettlementLine)
                                              .where(SettlementLine.file_id == file_id,
                                                     line_condition(Scope.of([me.agency_id]))))
                        got = call("GET", _url(app, rule, {"file_id": file_id}))
                        if not mine_lines:
                            assert got.status_code == 404, (file_id, got.status_code)
                        else:
                            assert got.status_code == 200
                            assert got.get_json()["lines"]["count"] == mine_lines
            else:  # WHOLE_ONLY
                got = call("POST", _url(app, rule, {}), data={
                    "provider": "sepay", "file": (io.BytesIO(b"a,b\n"), "x.csv")})
                assert got.status_code == 403, (endpoint, got.status_code)
    assert not unclassified, ("routes the agency-scope walker cannot classify; add each to "
                              "one of its tables (tests/hardening/test_agency_scope.py): "
                              f"{unclassified}")
    assert "finance.detail" in walked and "cashier.index" in walked

    # the markers are real: the whole deployment sees both agencies where a list shows them
    for endpoint, (query, shows) in LISTS.items():
        if not shows:
            continue
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        call = _caller(callers, endpoint, "all")
        for fmt in FORMATS.get(endpoint, (None,)):
            url = _url(app, rule, {"fmt": fmt} if fmt else {})
            for side in sides.values():
                text = _body_text(call("GET", url + query.format(other_dossier=side.dossier,
                                                                  other_day=side.pay_day)))
                if endpoint == "cashier.index":
                    continue  # today's list: not every agency has a dossier today
                assert any(m in text for m in side.markers), (endpoint, fmt, side.code)


def _period_ids(callers: Callers, code: str) -> set[int]:
    got = _caller(callers, "periods_api.list_periods", code)("GET", "/api/v1/periods")
    return {p["id"] for p in got.get_json()["items"]}


def _discrepancy_ids(callers: Callers, code: str) -> set[int]:
    got = _caller(callers, "discrepancies_api.list_discrepancies", code)(
        "GET", "/api/v1/discrepancies?status=all&limit=500")
    return {d["id"] for d in got.get_json()["items"]}


def test_lists_hold_ids_of_their_agency_only(app: Flask, db: Database,
                                             clock: FixedClock) -> None:
    sides = _world(db, clock, app)
    callers = _callers(app, db, clock)
    assert _period_ids(callers, A) == {sides[A].period}
    assert _period_ids(callers, B) == {sides[B].period}
    assert _period_ids(callers, "all") >= {sides[A].period, sides[B].period}
    mine, theirs = _discrepancy_ids(callers, B), _discrepancy_ids(callers, A)
    assert sides[B].discrepancy in mine and sides[A].discrepancy not in mine
    assert sides[A].discrepancy in theirs and sides[B].discrepancy not in theirs
    assert mine.isdisjoint(theirs)
    assert mine | theirs <= _discrepancy_ids(callers, "all")


def test_whole_deployment_acts_on_any_agency(app: Flask, db: Database,
                                             clock: FixedClock) -> None:
    """The same objects, read and acted on by the province (no scope): found, not 404."""
    sides = _world(db, clock, app)
    callers = _callers(app, db, clock)
    for side in sides.values():
        for endpoint, what in BY_ID.items():
            rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
            got = _caller(callers, endpoint, "all")("GET",
                                                    _url(app, rule, _id_values(side, what)))
            assert got.status_code == 200, (endpoint, side.code, got.status_code)
        cancel = _caller(callers, "payments_api.cancel_intent", "all")(
            "POST", f"/api/v1/payment-intents/{side.intent}/cancel")
        assert cancel.status_code == 200
        assert cancel.get_json()["status"] == "cancelled"
    files = _caller(callers, "settlements_api.list_settlement_files", "all")(
        "GET", "/api/v1/settlement-files")
    assert files.get_json()["count"] > 0


def test_scoped_desk_uses_its_agency_without_asking(app: Flask, db: Database,
                                                    clock: FixedClock) -> None:
    sides = _world(db, clock, app)
    callers = _callers(app, db, clock)
    client, _csrf = callers.sessions[(B, "cashier")]
    page = client.get("/cashier").get_data(as_text=True)
    assert 'data-testid="desk-agency"' not in page  # no counter to choose
    with db.read() as s:
        name = s.scalars(select(Agency.name).where(Agency.code == B)).one()
    assert name in page
    province, _ = callers.sessions[("all", "cashier")]
    assert 'data-testid="desk-agency"' in province.get("/cashier").get_data(as_text=True)
    # an intent of B's own dossier is issued; A's dossier is not found
    ok = client.post(f"/cashier/dossiers/{sides[B].dossier}/intents",
                     data={"csrf_token": _csrf, "channel": "vietqr"})
    assert ok.status_code == 303
    refused = client.post(f"/cashier/dossiers/{sides[A].dossier}/intents",
                          data={"csrf_token": _csrf, "channel": "vietqr"})
    assert refused.status_code == 404


def _two_agencies(db: Database, clock: FixedClock) -> None:
    with db.transaction() as s:
        for code in (A, B):
            a = catalog.AGENCIES_BY_CODE[code]
            create_agency(s, clock, code=a.code, name=a.name, bank_bin=a.bank_bin,
                          account_number=a.account_number, account_name=a.account_name,
                          actor="test")


@pytest.mark.parametrize("flags, expected", [
    ((), "say what a cashier may see"),
    (("--agency", A, "--all-agencies"), "not both"),
    (("--agency", "NO.SUCH"), "no agency with code NO.SUCH"),
])
def test_cli_scope_is_explicit(env: dict[str, str], db: Database, clock: FixedClock,
                               flags: tuple[str, ...], expected: str) -> None:
    from click.testing import CliRunner

    from recon.cli import cli
    _two_agencies(db, clock)
    result = CliRunner().invoke(cli, ["users", "create", "lan", "--role", "cashier", *flags],
                                input="a-long-password\n")
    assert result.exit_code == 1
    assert expected in result.output
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "user.created",
                               AuditEvent.data.contains('"lan"'))) == 0


def test_cli_user_and_token_of_agencies(env: dict[str, str], db: Database,
                                        clock: FixedClock, app: Flask) -> None:
    from click.testing import CliRunner

    from recon.cli import cli
    _two_agencies(db, clock)
    runner = CliRunner()
    owner = runner.invoke(cli, ["users", "create", "hoa", "--role", "admin"],
                          input="a-long-password\n")
    assert owner.exit_code == 0, owner.output  # an admin: the whole deployment
    made = runner.invoke(cli, ["tokens", "create", "mot-cua-hue", "--role", "intake",
                               "--user", "hoa", "--agency", A])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    agencies = app.test_client().get("/api/v1/agencies",
                                     headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [a["code"] for a in agencies["items"]] == [A]
    widened = runner.invoke(cli, ["tokens", "scope", "1", "--all-agencies"])
    assert widened.exit_code == 0, widened.output
    agencies = app.test_client().get("/api/v1/agencies",
                                     headers={"Authorization": f"Bearer {token}"}).get_json()
    assert sorted(a["code"] for a in agencies["items"]) == sorted([A, B])
    user = runner.invoke(cli, ["users", "create", "lan", "--role", "finance", "--agency", A,
                               "--agency", B], input="a-long-password\n")
    assert user.exit_code == 0, user.output
    assert f"agencies {A}, {B}" in user.output.replace(f"{B}, {A}", f"{A}, {B}")
    with db.read() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "user.scope_set")
                          .order_by(AuditEvent.id.desc())).first()
    assert event is not None and json.loads(event.data)["agencies"] == sorted([A, B])


def test_token_scope_never_exceeds_its_owner(env: dict[str, str], db: Database,
                                            clock: FixedClock, app: Flask) -> None:
    """A token's effective scope is its own intersected with its owner's: a token of the
    whole deployment owned by a user of agency A sees A; one of agency B owned by that user
    sees nothing; widening or narrowing the owner changes the token from the next call on."""
    from click.testing import CliRunner

    from recon.cli import cli
    _two_agencies(db, clock)
    runner = CliRunner()
    owner = runner.invoke(cli, ["users", "create", "lan", "--role", "finance", "--agency", A],
                          input="a-long-password\n")
    assert owner.exit_code == 0, owner.output

    def token(*flags: str) -> str:
        made = runner.invoke(cli, ["tokens", "create", "t", "--role", "finance",
                                   "--user", "lan", *flags])
        assert made.exit_code == 0, made.output
        return str(made.stdout.strip().splitlines()[-1])

    def seen(bearer: str) -> list[str]:
        got = app.test_client().get("/api/v1/agencies",
                                    headers={"Authorization": f"Bearer {bearer}"})
        assert got.status_code == 200, got.get_data()[:300]
        return sorted(a["code"] for a in got.get_json()["items"])

    everywhere = token("--all-agencies")
    other = token("--agency", B)
    both = token("--agency", A, "--agency", B)
    assert seen(everywhere) == [A]
    assert seen(other) == []
    assert seen(both) == [A]
    assert runner.invoke(cli, ["users", "scope", "lan", "--all-agencies"]).exit_code == 0
    assert seen(everywhere) == sorted([A, B])
    assert seen(other) == [B]
    assert seen(both) == sorted([A, B])
    assert runner.invoke(cli, ["users", "scope", "lan", "--agency", B]).exit_code == 0
    assert seen(everywhere) == [B] and seen(other) == [B] and seen(both) == [B]


def test_a_month_of_every_agency_is_closed_by_the_province_only(app: Flask, db: Database,
                                                                clock: FixedClock) -> None:
    _world(db, clock, app)
    callers = _callers(app, db, clock)
    client, csrf = callers.sessions[(B, "finance")]
    refused = client.post("/finance/periods", data={"csrf_token": csrf, "month": "2020-10"})
    assert refused.status_code == 403
    assert "cần người dùng cấp tỉnh" in refused.get_data(as_text=True)
    own = client.post("/finance/periods", data={"csrf_token": csrf, "month": "2020-10",
                                                "agency": B})
    assert own.status_code == 303
    province, province_csrf = callers.sessions[("all", "finance")]
    every = province.post("/finance/periods", data={"csrf_token": province_csrf,
                                                    "month": "2020-10"})
    assert every.status_code == 303
