"""Onward transfers on a real database (SQLite and PostgreSQL): forward_overdue found by an
incremental run once 24 hours have passed, resolved by the transfers that pay it;
forward_mismatch for a transfer paying more than owed, resolved when the payment it was for
arrives late; the hand-recorded transfer refused twice; a statement of debits read with its
file kept."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from recon.errors import Conflict, DuplicateFile, NotFound, ValidationError
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.models import AuditEvent, Transfer, TransferFile
from recon.settlements.transfers import (
    import_debits,
    record_transfer,
    set_transfer_account,
)
from tests.foundation.helpers import AGENCY, dossier_body
from tests.reconcile.recon_builders import World
from tests.transfers.conftest import COLLECTOR

BUDGET_ACCOUNT = "7111000000001"


def _forwarded_dossier(w: World, code: str = "000.00.21.H57-261126-0001") -> int:
    body = dossier_body(code, fees=[
        {"kind": "le_phi", "name": "Lệ phí hộ tịch", "amount": 100_000,
         "collector_code": COLLECTOR, "budget_code": "2771"},
        {"kind": "phi", "name": "Phí chứng thực", "amount": 80_000,
         "collector_code": COLLECTOR, "budget_code": "2716", "retention_bp": 5000}])
    with w.db.transaction() as s:
        dossier, _ = upsert_dossier(s, w.clock, parse_dossier(body), actor="test")
        return dossier.id


def _forward(w: World, status: str = "open") -> list:  # type: ignore[type-arg]
    return [d for d in w.discrepancies(status) if d.kind.startswith("forward_")]


def _record(w: World, to: str, amount: int, ref: str, *, hours: float = 0) -> dict:  # type: ignore[type-arg]
    return record_transfer(w.db, w.clock, agency=AGENCY, to=to, amount=amount,
                           at=w.clock.now() + timedelta(hours=hours), reference=ref,
                           actor="test")


def test_overdue_after_24_hours_found_incrementally_and_resolved_by_transfers(w: World) -> None:
    d = _forwarded_dossier(w)
    p = w.pay(180_000, reference=w.intent(d, 180_000))
    assert w.run().mode == "full" and _forward(w) == []
    w.later(hours=23, minutes=59)
    assert w.run().mode == "incremental" and _forward(w) == []  # within the 24 hours
    w.later(hours=2)
    summary = w.run()
    assert summary.mode == "incremental"
    (found,) = _forward(w)
    assert found.identity == f"forward_overdue:payment={p}"
    assert (found.expected_amount, found.actual_amount, found.delta) == (180_000, 0, -180_000)
    assert found.payment_id == p and found.dossier_id == d
    assert "100.000\u00a0₫ cho ngân sách nhà nước (lệ phí)" in found.explanation
    assert "80.000\u00a0₫ cho Sở Tư pháp tỉnh Thừa Thiên Huế (phí)" in found.explanation
    assert "quá hạn 1 giờ" in found.explanation
    # the phí is passed on: still overdue for the lệ phí
    _record(w, COLLECTOR, 80_000, "FT21001")
    w.later(minutes=5)
    w.run()
    (still,) = _forward(w)
    assert (still.expected_amount, still.actual_amount) == (100_000, 0)
    _record(w, "budget", 100_000, "FT21002")
    w.later(minutes=5)
    assert w.run().auto_resolved == 1
    (resolved,) = _forward(w, "auto_resolved")
    assert "FT21002" in resolved.auto_resolved_reason
    assert _forward(w) == []


def test_a_transfer_paying_more_than_owed_is_a_mismatch_until_the_late_payment_arrives(
        w: World) -> None:
    d = _forwarded_dossier(w)
    w.pay(180_000, reference=w.intent(d, 180_000))
    sent = _record(w, COLLECTOR, 160_000, "FT21003", hours=1)
    nothing = _record(w, "budget", 100_000, "FT21004", hours=1)
    w.run()
    found = {x.identity: x for x in _forward(w)}
    extra = found[f"forward_mismatch:transfer={sent['id']}"]
    assert (extra.expected_amount, extra.actual_amount, extra.delta) == (80_000, 160_000,
                                                                         80_000)
    assert "thừa 80.000\u00a0₫" in extra.explanation
    assert f"forward_mismatch:transfer={nothing['id']}" not in found  # it paid the lệ phí
    # the second dossier's payment, made before the transfer, reaches us late
    d2 = _forwarded_dossier(w, "000.00.21.H57-261126-0002")
    w.pay(180_000, reference=w.intent(d2, 180_000), paid_at=w.clock.now())
    w.later(minutes=5)
    summary = w.run()
    assert summary.mode == "incremental" and summary.auto_resolved == 1
    assert [x.identity for x in _forward(w)] == []


def test_recording_checks_and_refuses_the_same_reference_twice(w: World) -> None:
    out = _record(w, COLLECTOR, 80_000, "FT21005")
    assert out["source"] == "manual" and out["amount"] == 80_000
    with pytest.raises(Conflict, match="already recorded"):
        _record(w, COLLECTOR, 80_000, "FT21005")
    with pytest.raises(NotFound, match="unknown agency"):
        _record(w, "H57.NOWHERE", 80_000, "FT21006")
    with pytest.raises(ValidationError):
        _record(w, COLLECTOR, "80.5", "FT21007")  # type: ignore[arg-type]
    with w.db.read() as s:
        assert s.scalars(select(Transfer.bank_reference)).all() == ["FT21005"]
        assert s.scalar(select(AuditEvent.action).where(
            AuditEvent.entity_type == "transfer")) == "transfers.recorded"


STATEMENT = """Sao kê tài khoản
Số tham chiếu,Ngày giao dịch,Số tiền ghi nợ,Tài khoản đối ứng,Nội dung
FT26001,26/11/2026 16:00:00,"80,000",114 000 000 999,Chuyen phi thu ho
FT26002,26/11/2026 16:05:00,"100,000",7111000000001,Nop le phi vao NSNN
FT26003,26/11/2026 16:10:00,"22,000",999999,Phi dich vu ngan hang
Tổng cộng,,"202,000",,
"""


def test_a_statement_of_debits_is_read_and_kept(w: World, tmp_path: Path) -> None:
    set_transfer_account(w.db, w.clock, agency=COLLECTOR, account="114000000999",
                         actor="test")
    path = tmp_path / "saoke.csv"
    path.write_text(STATEMENT, encoding="utf-8")
    summary = import_debits(w.db, w.clock, agency=AGENCY, path=path, actor="test",
                            budget=[BUDGET_ACCOUNT])
    assert (summary.transfers, summary.total_amount, summary.not_onward) == (2, 180_000, 1)
    with w.db.read() as s:
        rows = s.execute(select(Transfer.bank_reference, Transfer.destination, Transfer.amount,
                                Transfer.source).order_by(Transfer.id)).all()
        assert [tuple(r) for r in rows] == [("FT26001", COLLECTOR, 80_000, "statement"),
                                            ("FT26002", "budget", 100_000, "statement")]
        assert s.scalar(select(TransferFile.content)) == path.read_bytes()
    with pytest.raises(DuplicateFile):
        import_debits(w.db, w.clock, agency=AGENCY, path=path, actor="test",
                      budget=[BUDGET_ACCOUNT])
