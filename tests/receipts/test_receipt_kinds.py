"""The receipt kinds (receipt_missing, receipt_mismatch, receipt_orphan): found by the run's
receipt pass only with receipts on, on both databases, by full and incremental runs, and
auto-resolved when fixed (``recon receipts issue-missing`` fixes receipt_missing)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from recon.cli import cli
from recon.clock import FixedClock
from recon.db import Database
from recon.engine.receipt_check import (
    DossierFees,
    PaidRow,
    ReceiptCheckConfig,
    ReceiptRow,
    check_receipts,
)
from recon.models import Discrepancy, Payment, Receipt
from recon.payments.intents import record_cash
from recon.receipts.document import FeeItem, Party, ReceiptContent, build, figures, to_bytes
from recon.receipts.signing import Signer, sign
from tests.conftest import T0
from tests.receipts.keys import PASSWORD, make_keys
from tests.webhooks.whkit import TOTAL, is_accepted, make_hooks

CODE_B = "000.00.21.H57-210401-0002"
CODE_C = "000.00.21.H57-210401-0003"
RECEIPT_KINDS = ("receipt_missing", "receipt_mismatch", "receipt_orphan")


@pytest.fixture(scope="module")
def p12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("keys"))[0]


def _reconcile(*args: str, at: Any = None) -> dict[str, Any]:
    moment = (at or T0 + timedelta(hours=1)).isoformat()
    result = CliRunner().invoke(cli, ["reconcile", *args, "--as-of", moment],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.output.strip().splitlines()[-1])
    return summary


def _receipt_counts(summary: dict[str, Any]) -> dict[str, int]:
    return {k: summary["counts"][k] for k in RECEIPT_KINDS}


def _open(db: Database) -> dict[str, str]:
    with db.read() as s:
        return {d.identity: d.status for d in s.scalars(
            select(Discrepancy).where(Discrepancy.kind.in_(RECEIPT_KINDS)))}


def _seed(env: dict[str, str], db: Database, clock: FixedClock, tmp_path: Path) -> list[int]:
    """A SePay payment and a cash payment that pay their dossiers in full, and a part payment
    in cash (owed a receipt for the part it pays), recorded with receipts on but no key: no
    receipt."""
    hooks = make_hooks(env, db, clock, RECON_RECEIPTS="on",
                       RECON_RECEIPT_P12_FILE=str(tmp_path / "missing.p12"))
    assert is_accepted("sepay", hooks.send(hooks.call("sepay", hooks.intent("sepay"))))
    for code, amount, number in ((CODE_B, TOTAL, "BL-1"), (CODE_C, TOTAL - 30_000, "BL-2")):
        hooks.dossier(code)
        with db.transaction() as s:
            record_cash(s, clock, hooks.settings, dossier_code=code, amount=amount,
                        receipt_number=number, actor="cashier1")
    with db.read() as s:
        assert s.scalars(select(Receipt)).all() == []
        return list(s.scalars(select(Payment.id).order_by(Payment.id)))


def _receipts_on(monkeypatch: pytest.MonkeyPatch, p12: Path) -> None:
    monkeypatch.setenv("RECON_RECEIPTS", "on")
    monkeypatch.setenv("RECON_RECEIPT_P12_FILE", str(p12))
    monkeypatch.setenv("RECON_RECEIPT_P12_PASSWORD", PASSWORD)


def _resign(db: Database, receipt_id: int, p12: Path, *, items: tuple[FeeItem, ...]) -> None:
    """Replace a receipt's document by one signed with other fee lines (a wrong receipt)."""
    signer = Signer.from_p12(p12, PASSWORD)
    with db.transaction() as s:
        r = s.get(Receipt, receipt_id)
        assert r is not None and r.signed_at is not None
        content = ReceiptContent(
            form_code=r.form_code, series=r.series, number=r.number, signed_at=r.signed_at,
            collector=Party("Trung tâm"), payer=Party("Người nộp"), items=items, method="TM",
            dossier_code=CODE_B)
        r.document = to_bytes(sign(build(content), signer, r.signed_at)).decode("utf-8")
        for column, value in figures(content).items():  # as every writer does (0031)
            setattr(r, column, value)


def test_nothing_is_judged_with_receipts_off(env: dict[str, str], db: Database,
                                             clock: FixedClock, tmp_path: Path) -> None:
    _seed(env, db, clock, tmp_path)
    summary = _reconcile("--full")
    assert _receipt_counts(summary) == dict.fromkeys(RECEIPT_KINDS, 0)
    assert "receipts" not in summary["timings"]


def test_missing_then_issued_then_wrong_then_refunded(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    sepay, cash_full, cash_part = _seed(env, db, clock, tmp_path)
    _receipts_on(monkeypatch, p12)
    # within the grace period (10 minutes by default) nothing is missing yet
    early = _reconcile("--full", at=T0 + timedelta(minutes=5))
    assert early["counts"]["receipt_missing"] == 0
    full = _reconcile("--full")
    assert _receipt_counts(full) == {"receipt_missing": 3, "receipt_mismatch": 0,
                                     "receipt_orphan": 0}
    with db.read() as s:
        found = {d.payment_id: d for d in s.scalars(select(Discrepancy).where(
            Discrepancy.kind == "receipt_missing"))}
    assert set(found) == {sepay, cash_full, cash_part}  # the part payment is owed its part
    assert found[cash_part].expected_amount == TOTAL - 30_000
    assert "recon receipts issue-missing" in found[sepay].explanation
    assert "biên lai điện tử" in found[sepay].explanation

    # issue-missing fixes them; the incremental run sees the receipts and resolves both
    issued = CliRunner().invoke(cli, ["receipts", "issue-missing"], catch_exceptions=False)
    assert issued.exit_code == 0, issued.output
    inc = _reconcile("--incremental", at=T0 + timedelta(hours=2))
    assert inc["mode"] == "incremental" and inc["auto_resolved"] == 3
    assert set(_open(db).values()) == {"auto_resolved"}
    with db.read() as s:
        reasons = [d.auto_resolved_reason for d in s.scalars(select(Discrepancy).where(
            Discrepancy.kind == "receipt_missing"))]
        receipt_of = {r.payment_id: r.id for r in s.scalars(select(Receipt))}
    assert all(r and r.startswith("Đã phát hành biên lai EBL01 26T số 0000000") for r in reasons)

    # a receipt re-signed with other fee lines (same total): a mismatch, then fixed
    with db.read() as s:
        original = s.get(Receipt, receipt_of[cash_full])
        assert original is not None
        good = {"document": original.document, "dossier_code": original.dossier_code,
                "total": original.total, "lines": original.lines}
    _resign(db, receipt_of[cash_full], p12,
            items=(FeeItem("phí", "Phí thẩm định", TOTAL),))
    wrong = _reconcile("--incremental", at=T0 + timedelta(hours=3))
    assert wrong["counts"]["receipt_mismatch"] == 1 and wrong["new"] == 1
    key = next(i for i, st in _open(db).items() if i.startswith("receipt_mismatch"))
    assert key.endswith(f":payment={cash_full}") and _open(db)[key] == "open"
    with db.transaction() as s:
        s.execute(update(Receipt).where(Receipt.id == receipt_of[cash_full])
                  .values(**good))
    fixed = _reconcile("--incremental", at=T0 + timedelta(hours=4))
    assert fixed["auto_resolved"] == 1 and _open(db)[key] == "auto_resolved"

    # the SePay payment is refunded: its receipt (no adjusting receipt) is an orphan
    with db.transaction() as s:
        s.execute(update(Payment).where(Payment.id == sepay).values(status="refunded"))
    refunded = _reconcile("--incremental", at=T0 + timedelta(hours=5))
    assert refunded["counts"]["receipt_orphan"] == 1
    assert _open(db)[f"receipt_orphan:payment={sepay}"] == "open"
    # a full run agrees with the incremental one
    again = _reconcile("--full", at=T0 + timedelta(hours=5))
    assert _receipt_counts(again) == {"receipt_missing": 0, "receipt_mismatch": 0,
                                      "receipt_orphan": 1}
    assert again["new"] == 0


def _paid(pid: int, status: str = "succeeded", amount: int = 100_000,
          dossier: int | None = 1) -> PaidRow:
    return PaidRow(pid, "sepay", f"T{pid}", amount, status, T0, dossier)


def _rcpt(rid: int, pid: int | None, amount: int, code: str | None = "HS1",
          lines: tuple[tuple[str, int], ...] | None = None) -> ReceiptRow:
    return ReceiptRow(rid, "EBL01", "26T", rid, pid, amount, code,
                      lines if lines is not None else (("phí", amount),))


def test_the_pure_check_names_each_case() -> None:
    dossiers = {1: DossierFees(1, "HS1", (("phí", 60_000), ("lệ phí", 40_000))),
                2: DossierFees(2, "HS2", (("phí", 50_000),)),
                3: DossierFees(3, "HS3", (("phí", 70_000),))}
    right = (("phí", 60_000), ("lệ phí", 40_000))
    outcome = check_receipts(
        payments=[_paid(1), _paid(2), _paid(3, "failed"), _paid(4, "refunded"),
                  _paid(5, "refunded"), _paid(6, amount=120_000, dossier=None),
                  _paid(7, amount=100_000)],
        shares={6: [(2, 50_000), (3, 70_000)]},
        dossiers=dossiers,
        receipts=[_rcpt(1, 1, 100_000, lines=right),            # right
                  _rcpt(2, 3, 100_000, lines=right),            # for a failed payment
                  _rcpt(3, 4, 100_000, lines=right),            # refunded, not adjusted
                  _rcpt(4, 5, 100_000, lines=right),            # refunded ...
                  _rcpt(5, 5, -100_000, lines=(("phí", -60_000), ("lệ phí", -40_000))),
                  _rcpt(6, 6, 50_000, code="HS2"),              # one share of two
                  _rcpt(7, 7, 90_000, lines=(("phí", 50_000), ("lệ phí", 40_000))),
                  _rcpt(8, None, 70_000, code="HS3")],          # no payment
        as_of=T0 + timedelta(minutes=10), config=ReceiptCheckConfig())
    assert [d.identity for d in outcome.findings] == [
        "receipt_mismatch:dossier=1:payment=7",
        "receipt_missing:dossier=1:payment=2",
        "receipt_missing:dossier=3:payment=6",
        "receipt_orphan:dossier=3",
        "receipt_orphan:payment=3",
        "receipt_orphan:payment=4",
    ]
    mismatch = outcome.findings[0]
    assert (mismatch.expected_amount, mismatch.actual_amount, mismatch.delta) == (
        100_000, 90_000, -10_000)
    assert "EBL01 26T số 00000007" in mismatch.explanation
    # one minute less and the grace period has not passed: nothing is missing yet
    early = check_receipts(payments=[_paid(2)], shares={}, dossiers=dossiers, receipts=[],
                           as_of=T0 + timedelta(minutes=9), config=ReceiptCheckConfig())
    assert early.findings == []
    # the right total with other fee lines is a mismatch too
    lines = check_receipts(payments=[_paid(1)], shares={}, dossiers=dossiers,
                           receipts=[_rcpt(1, 1, 100_000)], as_of=T0,
                           config=ReceiptCheckConfig())
    assert [d.identity for d in lines.findings] == ["receipt_mismatch:dossier=1:payment=1"]
    assert "phí, lệ phí" in lines.findings[0].explanation
