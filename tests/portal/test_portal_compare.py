"""The pure three-way comparison (recon.engine.portal): matching, what is and is not a
``portal_mismatch``, and that the answer does not depend on input order."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from recon.engine.portal import PortalEntry, PortalPayment, ProviderLine, compare

AT = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam
DAY = date(2026, 11, 26)
AG = 1


def entry(i: int, amount: int = 100_000, *, code: str = "HS1", status: str = "succeeded",
          ref: str | None = None, txn: str | None = None, provider: str | None = None,
          agency: int = AG) -> PortalEntry:
    return PortalEntry(i, agency, f"G22.99.3-{i}", code, amount, status, AT, ref, txn, provider)


def payment(i: int, amount: int = 100_000, *, code: str | None = "HS1",
            status: str = "succeeded", ref: str | None = None, provider: str = "vnpay",
            agency: int | None = AG, at: datetime = AT) -> PortalPayment:
    return PortalPayment(i, provider, f"T{i}", amount, status, at, ref, i, code, agency)


def found(entries: list[PortalEntry], payments: list[PortalPayment],
          lines: list[ProviderLine] = ()) -> dict[str, int]:  # type: ignore[assignment]
    out = compare(entries=entries, covered={(AG, DAY)}, payments=payments, lines=lines)
    return {d.identity: d.delta for d in out.findings}


def test_matching_by_provider_id_then_reference_then_dossier_day_and_amount() -> None:
    pays = [payment(1), payment(2, ref="HSREF2"), payment(3, code="HS3")]
    lines = [entry(11, txn="T1", provider="vnpay"), entry(12, ref="HSREF2"),
             entry(13, code="HS3")]
    out = compare(entries=lines, covered={(AG, DAY)}, payments=pays)
    assert out.matched == {11: 1, 12: 2, 13: 3} and out.findings == []


def test_each_difference_is_one_finding_about_the_payment() -> None:
    pays = [payment(1), payment(2), payment(3)]
    assert found([entry(11, 90_000, txn="T1"), entry(12, txn="T2", status="pending"),
                  entry(13, txn="T3", code="HS9")], pays) == {
        "portal_mismatch:payment=1": -10_000, "portal_mismatch:payment=2": 0,
        "portal_mismatch:payment=3": 0}
    out = compare(entries=[entry(11, 90_000, txn="T1", code="HS9")], covered={(AG, DAY)},
                  payments=[payment(1)], lines=[ProviderLine(7, "vnpay", "T1", 100_000)])
    [d] = out.findings
    assert "amount, dossier" in d.explanation_en and "settled 100.000" in d.explanation_en
    assert d.settlement_line_id == 7 and "Cổng DVCQG" in d.explanation


def test_what_one_side_lacks() -> None:
    # recon lacks a paid portal line (the provider has it); a failed one is nothing
    out = compare(entries=[entry(11, txn="X", provider="momo"), entry(12, status="failed",
                                                                       txn="Y")],
                  covered={(AG, DAY)}, payments=[],
                  lines=[ProviderLine(5, "momo", "X", 100_000)])
    assert [(d.identity, d.settlement_line_id) for d in out.findings] == [
        ("portal_mismatch:portal_line=11", 5)]
    assert "momo" in out.findings[0].explanation_en.lower()
    # the portal lacks a paid payment of the agency and day; not cash, not a failed one, not
    # one without dossier, not another agency's or another day's
    pays = [payment(1), payment(2, provider="cash"), payment(3, status="failed"),
            payment(4, agency=None, code=None), payment(5, agency=2),
            payment(6, at=datetime(2026, 11, 27, 3, 0, tzinfo=UTC))]
    assert found([], pays) == {"portal_mismatch:payment=1": -100_000}


def test_a_transaction_listed_twice() -> None:
    assert found([entry(11, txn="T1"), entry(12, txn="T1")], [payment(1)]) == {
        "portal_mismatch:portal_line=12": 100_000}


def test_lines_of_a_day_not_covered_are_not_judged() -> None:
    out = compare(entries=[entry(11, txn="Z", agency=2)], covered={(AG, DAY)}, payments=[])
    assert out.findings == [] and out.entries == {}


def test_the_answer_does_not_depend_on_input_order() -> None:
    rng = random.Random(18)
    pays = [payment(i, 100_000 + i, code=f"HS{i % 5}") for i in range(1, 40)]
    entries = [entry(100 + i, 100_000 + i + (i % 7 == 0) * 5, code=f"HS{i % 5}",
                     txn=f"T{i}" if i % 3 else None) for i in range(1, 45)]
    first = found(entries, pays)
    for _ in range(5):
        rng.shuffle(pays)
        rng.shuffle(entries)
        assert found(entries, pays) == first
    assert first  # the planted differences are there
