"""The registry of discrepancy kinds: every list of kinds in recon is derived from it, the
database admits exactly its kinds, and adding a kind is one entry plus one detector."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

import pytest
from flask import Flask
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from recon.db import Database
from recon.engine import (
    KINDS,
    REGISTRY,
    SUBJECTS,
    Discrepancy,
    Kind,
    KindRegistry,
    PaymentRow,
    Reconciliation,
    classify,
    core,
    explain,
    lifecycle,
    make_identity,
    parse_identity,
    reconcile,
)
from recon.engine.core import Facts
from recon.engine.explain import vnd
from recon.models.reconciliation import DISCREPANCY_KINDS
from recon.models.reconciliation import Discrepancy as DiscrepancyModel
from recon.web import i18n, openapi
from tests.engine.engine_builders import AS_OF, dossier, ids, line, pay

# --------------------------------------------------------------------------- the registry


def test_each_built_in_kind_names_its_own_detector_sentence_and_reason() -> None:
    # 10th: late_for_closed_period (0011_periods); 11th-13th: the payout kinds (0015_payouts);
    # 14th: fee_mismatch (0016_fee_contracts); 15th: multi_reference_unsplit (0018_allocations)
    # 16th-17th: forward_overdue, forward_mismatch (0021_transfers); 18th-20th: the remittance
    # kinds (0022_remittances); 21st: portal_mismatch (0023_portal); 22nd-24th: the receipt
    # kinds (0024_receipt_kinds); 25th: deposit_overdue (0028_deposits); 26th:
    # fee_invoice_mismatch (0033_fee_invoice_mismatch)
    assert len(REGISTRY) == len(KINDS) == 26
    for kind in REGISTRY:
        assert kind.detector is getattr(core, f"detect_{kind.name}")
        assert kind.explain is getattr(explain, kind.name)
        assert kind.resolve is getattr(lifecycle, f"reason_{kind.name}")
        assert kind.stage == ("dossiers" if "dossier" in kind.subject else "transactions")


def test_every_list_of_kinds_equals_the_registry() -> None:
    names = tuple(k.name for k in REGISTRY)
    assert names == KINDS
    assert names == DISCREPANCY_KINDS
    assert {k.name: k.subject for k in REGISTRY} == SUBJECTS
    assert {k.name: (k.label_en, k.label_vi) for k in REGISTRY} == i18n.KIND_LABELS
    for language, pick in (("vi", 1), ("en", 0)):
        assert [REGISTRY.label(k, language) for k in KINDS] == [
            i18n.KIND_LABELS[k][pick] for k in KINDS]
    document = openapi.document()
    assert document["components"]["schemas"]["Discrepancy"]["properties"]["kind"]["enum"] == list(
        names)
    [kind_param] = [p for p in document["paths"]["/api/v1/discrepancies"]["get"]["parameters"]
                    if p["name"] == "kind"]
    assert kind_param["schema"]["enum"] == list(names)
    [check] = [c for c in DiscrepancyModel.__table__.constraints
               if c.name == "ck_discrepancies_kind_known"]
    assert _quoted(str(check.sqltext)) == names  # type: ignore[attr-defined]


def test_finance_pages_name_each_kind_by_its_registry_label() -> None:
    app = Flask(__name__)
    for language, label in (("vi", "label_vi"), ("en", "label_en")):
        with app.test_request_context(f"/?lang={language}"):
            assert i18n.current_language() == language
            assert [i18n.kind_label(k.name) for k in REGISTRY] == [
                getattr(k, label) for k in REGISTRY]


def test_identities_follow_the_subjects() -> None:
    for kind in REGISTRY:
        given = {"dossier_id": 1, "payment_id": 2, "settlement_line_id": 3, "transfer_id": 4,
                 "agency_id": 5, "month": 202103, "budget_item": 2716, "period": 20210301,
                 "fee_invoice_id": 6}
        identity = make_identity(kind.name, **given)
        expected = {"dossier": 1, "payment": 2, "settlement_line": 3, "transfer": 4,
                    "agency": 5, "month": 202103, "budget_item": 2716, "period": 20210301,
                    "fee_invoice": 6}
        assert parse_identity(identity) == (
            kind.name, {part: expected[part] for part in kind.subject})


@pytest.mark.parametrize(("change", "message"), [
    ({"name": "Underpaid"}, "lower-case"),
    ({"name": "a_kind_whose_name_is_far_too_long"}, "at most 24"),
    ({"subject": ()}, "subject"),
    ({"subject": ("payment", "dossier")}, "in that order"),
    ({"subject": ("payment", "payment")}, "each once"),
    ({"subject": ("refund",)}, "subject"),
    ({"stage": "later"}, "stage"),
    ({"severity": "urgent"}, "severity"),
    ({"label_vi": " "}, "label"),
])
def test_a_malformed_entry_is_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(REGISTRY["underpaid"], **change)  # type: ignore[arg-type]


def test_a_kind_is_declared_once() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        REGISTRY.extended(REGISTRY["overpaid"])
    with pytest.raises(ValueError, match="unknown discrepancy kind"):
        REGISTRY["late"]


# --------------------------------------------------------------------------- the database


def _quoted(sql: str) -> tuple[str, ...]:
    return tuple(re.findall(r"'([^']*)'", sql))


def _kind_check(db: Database) -> str:
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "sqlite":
            table = conn.execute(text(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'discrepancies'"
            )).scalar_one()
            found = re.search(r"CONSTRAINT ck_discrepancies_kind_known CHECK \((.*?\))\)",
                              table)
            assert found is not None, table
            return found.group(1)
        return str(conn.execute(text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conname = 'ck_discrepancies_kind_known'")).scalar_one())


def _insert(db: Database, identity: str, kind: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO discrepancies (identity, kind, status, expected_amount, actual_amount, "
            "delta, explanation, explanation_en, within_tolerance, detected_at, updated_at) "
            "VALUES (:identity, :kind, 'open', 0, 0, 0, 'x', 'x', false, CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)"), {"identity": identity, "kind": kind})


def _kinds_stored(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return list(conn.execute(text("SELECT kind FROM discrepancies ORDER BY id")).scalars())


def test_the_migrated_check_admits_exactly_the_registry(db: Database) -> None:
    """The CHECK of the migrated database lists the registry's kinds, and behaves so: every
    kind is stored, anything else refused. A new kind fails this until its migration exists
    (copy migrations/versions/0008_kinds_check.py)."""
    assert set(_quoted(_kind_check(db))) == set(REGISTRY.names)
    for i, kind in enumerate(REGISTRY.names):
        _insert(db, f"{kind}:dossier={i}", kind)
    for bogus in ("late_payment", "Underpaid", ""):
        with pytest.raises(IntegrityError):
            _insert(db, f"{bogus}:x", bogus)
    assert _kinds_stored(db) == list(REGISTRY.names)


def test_0008_downgrades_and_upgrades_keeping_every_discrepancy(db: Database) -> None:
    from alembic import command

    from recon.cli.admin import alembic_config, upgrade_database

    # the kinds 0008 admits (0011_periods adds late_for_closed_period, 0015 the payout kinds,
    # 0016 fee_mismatch, 0018 multi_reference_unsplit, 0021 the forward kinds, 0022 the
    # remittance kinds, 0023 portal_mismatch, 0024 the receipt kinds, 0028 deposit_overdue,
    # 0033 fee_invoice_mismatch)
    kinds_0008 = [n for n in REGISTRY.names
                  if n not in ("late_for_closed_period", "fee_mismatch",
                               "multi_reference_unsplit", "portal_mismatch", "deposit_overdue",
                               "fee_invoice_mismatch")
                  and not n.startswith(("payout_", "forward_", "remittance_", "receipt_"))]
    for i, kind in enumerate(kinds_0008):
        _insert(db, f"{kind}:dossier={i}", kind)
    indexes = {i["name"] for i in inspect(db.engine).get_indexes("discrepancies")}
    db.dispose()
    command.downgrade(alembic_config(db.url), "0007_desk_search")
    db.dispose()
    assert _kinds_stored(db) == kinds_0008
    assert set(_quoted(_kind_check(db))) == set(kinds_0008)  # 0001's list
    db.dispose()
    upgrade_database(db.url)
    db.dispose()
    assert _kinds_stored(db) == kinds_0008
    assert {i["name"] for i in inspect(db.engine).get_indexes("discrepancies")} == indexes
    checks = {c["name"] for c in inspect(db.engine).get_check_constraints("discrepancies")}
    assert {"ck_discrepancies_kind_known", "ck_discrepancies_status_known"} <= checks
    with pytest.raises(IntegrityError):
        _insert(db, "late:x", "late")


# --------------------------------------------------------------------------- adding a kind
#
# Everything a new kind brings, written here and nowhere else: its sentence, its detector, its
# reason, its entry. Nothing in recon is patched.

CASH_LIMIT = 20_000_000  # VND


def cash_over_limit_text(provider: str, txn: str, amount: int) -> tuple[str, str]:
    return (
        f"Khoản thu tiền mặt mã {txn} số tiền {vnd(amount)} vượt hạn mức {vnd(CASH_LIMIT)}.",
        f"Cash payment {txn} of {vnd(amount)} is above the {vnd(CASH_LIMIT)} limit.",
    )


def detect_cash_over_limit(facts: Facts, kind: Kind, emit: core.Emit) -> None:
    for p in facts.payments:
        if p.provider == "cash" and p.status == "succeeded" and p.amount > CASH_LIMIT:
            vi, en = kind.explain(p.provider, p.provider_txn_id, p.amount)
            emit(Discrepancy(
                f"{kind.name}:payment={p.id}", kind.name, facts.dossier_of(p), p.id, None,
                p.provider, CASH_LIMIT, p.amount, p.amount - CASH_LIMIT, vi, en,
            ))


def reason_cash_over_limit(ids: dict[str, int], result: Reconciliation) -> tuple[str, str]:
    payment = result.payment(ids["payment"])
    amount = 0 if payment is None else payment.amount
    return (f"Khoản thu nay là {vnd(amount)}.", f"The payment is now {vnd(amount)}.")


def unassessed_text(code: str, paid: int) -> tuple[str, str]:
    return (f"Hồ sơ {code} chưa có phí nào nhưng đã nộp {vnd(paid)}.",
            f"Dossier {code} has no fees assessed yet was paid {vnd(paid)}.")


def detect_paid_unassessed(facts: Facts, kind: Kind, emit: core.Emit) -> None:
    for balance in facts.balances:  # a shared index: dossiers paid other than assessed
        if balance.assessed == 0:
            vi, en = kind.explain(balance.code, balance.paid)
            emit(Discrepancy(
                f"{kind.name}:dossier={balance.dossier_id}", kind.name, balance.dossier_id,
                None, None, None, 0, balance.paid, balance.paid, vi, en,
            ))


def reason_paid_unassessed(ids: dict[str, int], result: Reconciliation) -> tuple[str, str]:
    return ("Hồ sơ nay đã có phí.", "The dossier now has fees assessed.")


CASH_OVER_LIMIT = Kind(
    "cash_over_limit", ("payment",), "transactions", detect_cash_over_limit,
    cash_over_limit_text, reason_cash_over_limit,
    "Tiền mặt vượt hạn mức", "Cash above the limit", "low",
)
PAID_UNASSESSED = Kind(
    "paid_unassessed", ("dossier",), "dossiers", detect_paid_unassessed, unassessed_text,
    reason_paid_unassessed, "Nộp tiền khi chưa có phí", "Paid with no fees assessed", "medium",
)


@pytest.fixture
def extended() -> KindRegistry:
    return REGISTRY.extended(CASH_OVER_LIMIT, PAID_UNASSESSED)


def _run(kinds: KindRegistry | None, payments: Sequence[PaymentRow], *, assessed: int = 0,
         settled: list[list[Discrepancy]] | None = None) -> Reconciliation:
    return reconcile(
        dossiers=[dossier(1, assessed)], payments=payments,
        settlement_lines=[line(1, p) for p in payments if p.provider != "cash"], as_of=AS_OF,
        kinds=kinds, settled=None if settled is None else settled.append,
    )


def test_adding_a_kind_is_one_entry_and_one_detector(extended: KindRegistry) -> None:
    big = pay(1, 25_000_000, provider="cash", dossier=1)
    before = _run(extended, [big], settled=(early := []))

    # the engine emits the new kinds, each at its stage, beside the built-in ones
    assert ids(before) == ["cash_over_limit:payment=1", "overpaid:dossier=1",
                           "paid_unassessed:dossier=1"]
    assert [d.identity for d in early[0]] == ["cash_over_limit:payment=1"]
    found = {d.kind: d for d in before}
    assert found["cash_over_limit"].explanation == (
        "Khoản thu tiền mặt mã TX1 số tiền 25.000.000\u00a0₫ vượt hạn mức 20.000.000\u00a0₫.")
    assert found["cash_over_limit"].explanation_en == (
        "Cash payment TX1 of 25.000.000\u00a0₫ is above the 20.000.000\u00a0₫ limit.")
    assert (found["cash_over_limit"].delta, found["cash_over_limit"].dossier_id) == (
        5_000_000, 1)
    assert found["paid_unassessed"].explanation_en.startswith("Dossier ")
    assert before.counts() == {**dict.fromkeys(extended.names, 0), "cash_over_limit": 1,
                               "overpaid": 1, "paid_unassessed": 1}
    assert parse_identity("cash_over_limit:payment=1", kinds=extended) == (
        "cash_over_limit", {"payment": 1})
    assert make_identity("paid_unassessed", dossier_id=1, kinds=extended) == (
        "paid_unassessed:dossier=1")

    # the lifecycle auto-resolves them with their own reasons
    after = _run(extended, [pay(1, 15_000_000, provider="cash", dossier=1)], assessed=15_000_000)
    outcome = classify(ids(before), after)
    reasons = {r.identity: (r.kind, r.reason, r.reason_en) for r in outcome.resolved}
    assert reasons["cash_over_limit:payment=1"] == (
        "cash_over_limit", "Khoản thu nay là 15.000.000\u00a0₫.",
        "The payment is now 15.000.000\u00a0₫.")
    assert reasons["paid_unassessed:dossier=1"][1:] == (
        "Hồ sơ nay đã có phí.", "The dossier now has fees assessed.")
    assert lifecycle.resolution_reason("cash_over_limit", {"payment": 1}, after) == (
        reasons["cash_over_limit:payment=1"][1:])
    partial = classify(["cash_over_limit:payment=7"], after, partial=True)
    assert partial.untouched == ["cash_over_limit:payment=7"]

    # its finance labels resolve, in both languages
    assert extended.labels()["cash_over_limit"] == ("Cash above the limit",
                                                    "Tiền mặt vượt hạn mức")
    assert extended.label("paid_unassessed", "vi") == "Nộp tiền khi chưa có phí"
    assert extended.check_clause().endswith("'cash_over_limit', 'paid_unassessed')")


def test_the_built_in_registry_is_untouched_by_an_extension(extended: KindRegistry) -> None:
    big = pay(1, 25_000_000, provider="cash", dossier=1)
    assert "cash_over_limit" in extended and "cash_over_limit" not in REGISTRY
    assert ids(_run(None, [big])) == ["overpaid:dossier=1"]
    assert ids(_run(REGISTRY, [big])) == ["overpaid:dossier=1"]
    with pytest.raises(ValueError, match="unknown discrepancy kind"):
        parse_identity("cash_over_limit:payment=1")
    with pytest.raises(ValueError, match="unknown discrepancy kind"):
        classify(["cash_over_limit:payment=1"], _run(None, [big]))


def test_a_registry_without_a_kind_does_not_detect_it() -> None:
    only_settlements = KindRegistry(k for k in REGISTRY if k.stage == "transactions")
    p = pay(1, 100, dossier=1)
    result = reconcile(dossiers=[dossier(1, 50)], payments=[p],
                       settlement_lines=[line(1, p), line(2, p, settled_on=date(2026, 11, 23))],
                       as_of=AS_OF, kinds=only_settlements)
    assert ids(result) == ["duplicate_settlement:settlement_line=2"]
    assert result.counts() == {**dict.fromkeys(only_settlements.names, 0),
                               "duplicate_settlement": 1}
