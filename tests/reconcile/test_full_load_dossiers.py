"""A full load reads every dossier with its fees' total and keeps those the core needs (the
filter moved from a semi-join on the server to the client): a dossier a payment names, one a
payment without a dossier names through its intent, one an open discrepancy names, one a split
payment's allocation names; not a dossier nothing names, nor one only a resolved discrepancy
names. On SQLite and PostgreSQL, serial and parallel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, insert

from recon.db import Database
from recon.engine.load import _membership, load_full, read_snapshot
from recon.models import (
    Agency,
    Discrepancy,
    Dossier,
    FeeLine,
    Payment,
    PaymentAllocation,
    PaymentIntent,
    Procedure,
)

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _fill(conn: Connection) -> dict[str, int]:
    agency = conn.execute(insert(Agency).values(
        code="A1", name="Cơ quan", bank_bin="970415", account_number="1130",
        account_name="CO QUAN").returning(Agency.id)).scalar_one()
    procedure = conn.execute(insert(Procedure).values(code="1.001", name="Thủ tục")
                             .returning(Procedure.id)).scalar_one()
    ids: dict[str, int] = {}
    for n, name in enumerate(("paid", "by_intent", "open", "resolved", "split", "none")):
        ids[name] = conn.execute(insert(Dossier).values(
            code=f"HS-{name}", agency_id=agency, procedure_id=procedure,
            applicant_name="Nguyễn Văn A", received_at=NOW).returning(Dossier.id)).scalar_one()
        for pos, amount in enumerate((100_000, 80_000 + n)):
            conn.execute(insert(FeeLine).values(dossier_id=ids[name], position=pos,
                                                kind="phi", name=f"Khoản {pos}", amount=amount))

    def pay(txn: str, dossier: int | None, intent: int | None = None) -> int:
        return int(conn.execute(insert(Payment).values(
            provider="vnpay", provider_txn_id=txn, channel="vnpay", amount=180_000,
            status="succeeded", paid_at=NOW, dossier_id=dossier, intent_id=intent)
            .returning(Payment.id)).scalar_one())

    pay("T1", ids["paid"])
    intent = conn.execute(insert(PaymentIntent).values(
        dossier_id=ids["by_intent"], channel="vietqr", amount=180_000, reference="REF1",
        expires_at=NOW).returning(PaymentIntent.id)).scalar_one()
    pay("T2", None, intent)
    split = pay("T3", None)
    conn.execute(insert(PaymentAllocation).values(payment_id=split, dossier_id=ids["split"],
                                                  amount=180_000))
    for status, name in (("open", "open"), ("auto_resolved", "resolved")):
        conn.execute(insert(Discrepancy).values(
            identity=f"underpaid:dossier={ids[name]}", kind="underpaid", status=status,
            dossier_id=ids[name], explanation="x", detected_at=NOW))
    return ids


@pytest.mark.parametrize("parallel", [False, True])
def test_a_full_load_keeps_the_dossiers_something_names(db: Database, parallel: bool) -> None:
    with db.engine.begin() as conn:
        ids = _fill(conn)
    with read_snapshot(db) as conn:
        loaded = load_full(conn, parallel=parallel)
    got = {d.id: d for d in loaded.dossiers}
    assert set(got) == {ids[n] for n in ("paid", "by_intent", "open", "split")}
    assert got[ids["paid"]].code == "HS-paid"
    assert [got[ids[n]].total_assessed for n in ("paid", "by_intent")] == [180_000, 180_001]


@given(wanted=st.lists(st.integers(1, 3_000)), ids=st.lists(st.integers(1, 3_000)),
       sparse=st.booleans())
def test_membership_is_set_membership(wanted: list[int], ids: list[int], sparse: bool) -> None:
    """The kept dossiers' test, by bytes or by a set (ids far apart), is plain membership."""
    if sparse:  # beyond the bytes' bound: the set
        wanted = [w * 10**9 for w in wanted]
        ids = [i * 10**9 for i in ids]
    assert [bool(x) for x in _membership(iter(wanted), ids)] == [i in set(wanted) for i in ids]
