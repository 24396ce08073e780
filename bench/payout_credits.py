"""The reconcile bench's bank credits: the centre's statement paying the providers' batches.

Issue 17 measures the full run "with batches and credits": every payout provider's settlement
lines form batches (one per provider and session, as the payout pass builds them), and the
centre's bank statement should carry one credit per batch, its net, on the expected banking
day, with the provider's memo. This module adds that statement to a bench database: one file
of the first statement profile (``vietinbank_statement`` unless the environment says
otherwise), one credit line per batch, except every ``MISSING_EVERY``-th batch, which is left
uncredited (a planned ``payout_missing``).

The batches are grouped on the server (provider and Vietnam day of the transaction), then
folded into sessions with the engine's own :func:`~recon.engine.payouts.session_day` and
banking calendar, so the credits fall where a real statement's would. Idempotent: a database
that already holds the bench's statement (its ``sha256`` is :data:`STATEMENT_SHA`) is left
as it is, so a kept database (``--reuse-database``) built before this module catches up once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, text

from recon.engine.payouts import PayoutConfig, session_day
from recon.models.settlements import SettlementFile, SettlementLine
from recon.settlements.payouts import engine_config

STATEMENT_SHA = "c" * 64
MISSING_EVERY = 100  # the batches at 50, 150, ... get no credit: about 1 % payout_missing
BOOKED_AT = time(2, 0)  # 09:00 in Vietnam
MEMOS = {  # what each provider's credit says on the statement (its adapter's pattern matches)
    "vnpay": "VNPAY TT PHIEN {day:%Y%m%d}",
    "momo": "MOMO THANH TOAN DOI SOAT {day:%Y%m%d}",
    "zalopay": "ZALOPAY TT {day:%Y%m%d}",
    "pos": "POS KET TOAN {day:%Y%m%d}",
}
_VN_DAY = {
    "postgresql": "CAST((l.transaction_at AT TIME ZONE 'UTC') + interval '7 hours' AS DATE)",
    "sqlite": "date(l.transaction_at, '+7 hours')",
}
_BATCH_DAYS = (
    "SELECT l.provider, {day}, SUM(l.net) FROM settlement_lines l "
    "JOIN settlement_files f ON f.id = l.file_id "
    "WHERE l.provider IN :providers AND l.transaction_at IS NOT NULL AND f.profile IS NULL "
    "GROUP BY 1, 2")


def batch_nets(conn: Connection, config: PayoutConfig) -> dict[tuple[str, date], int]:
    """Each batch's net, by provider and session day."""
    query = text(_BATCH_DAYS.format(day=_VN_DAY[conn.dialect.name])).bindparams(
        bindparam("providers", expanding=True))
    out: dict[tuple[str, date], int] = {}
    for provider, day, net in conn.execute(query, {"providers": sorted(config.providers)}):
        on = day if isinstance(day, date) else date.fromisoformat(str(day))
        key = (provider, session_day(on, config.providers[provider], config.add_banking_days))
        out[key] = out.get(key, 0) + int(net)
    return out


def add_credits(engine: Engine, env: Mapping[str, str]) -> int:
    """Add the statement (once); the number of credit lines added (0: already there)."""
    config = engine_config(env).payouts
    if config is None or not config.providers:
        return 0
    profile = sorted(config.statement_profiles)[0]
    with engine.begin() as conn:
        if conn.execute(text("SELECT 1 FROM settlement_files WHERE sha256 = :s"),
                        {"s": STATEMENT_SHA}).first() is not None:
            return 0
        nets = batch_nets(conn, config)
        rows: list[dict[str, Any]] = []
        for index, ((provider, session), net) in enumerate(sorted(nets.items())):
            if index % MISSING_EVERY == MISSING_EVERY // 2:
                continue
            on = config.add_banking_days(session, config.providers[provider].days)
            rows.append({"line_no": index + 1, "provider_txn_id": f"FTBENCH{index:07d}",
                         "amount": net, "settled_on": on,
                         "transaction_at": datetime.combine(on, BOOKED_AT, tzinfo=UTC),
                         "reference": MEMOS.get(provider, provider.upper() + " {day}").format(
                             day=session)})
        file_id = conn.execute(insert(SettlementFile).returning(SettlementFile.id), {
            "provider": "sepay", "filename": "bench-statement.csv", "sha256": STATEMENT_SHA,
            "size": 0, "content": b"", "source": "upload", "profile": profile,
            "imported_at": datetime(2026, 6, 30, 3, tzinfo=UTC), "imported_by": "bench",
            "row_count": len(rows), "total_amount": sum(int(r["amount"]) for r in rows),
        }).scalar_one()
        if rows:
            conn.execute(insert(SettlementLine), [
                {**r, "file_id": file_id, "provider": "sepay", "fee": 0, "net": r["amount"],
                 "created_at": r["transaction_at"]} for r in rows])
    return len(rows)
