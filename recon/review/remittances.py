"""Remittances to the state budget (issue 18 §3) as the pages and the run read them.

- :func:`remittance_config` is the run's remittance pass (``RECON_REMITTANCE_DUE_DAY``); what
  it reads is :func:`recon.review.declarations.remittance_inputs`; the allocation and the
  judging are pure (:mod:`recon.engine.remittances`).
- :func:`not_remitted` is the finance dashboard's "collected, not yet remitted" per collector
  with ageing; :func:`voucher_page` lists vouchers and their allocation.

Vouchers are recorded and imported by :mod:`recon.settlements.remittances`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from recon.engine.records import EngineConfig
from recon.engine.remittances import (
    DEFAULT_DUE_DAY,
    Ageing,
    RemittanceConfig,
    RemittanceInputs,
    ageing,
    allocate,
    due_on,
)
from recon.errors import FieldError, ValidationError
from recon.models import Remittance
from recon.review import owed_store
from recon.review.declarations import remittance_inputs

DUE_DAY_SETTING: Final = "RECON_REMITTANCE_DUE_DAY"


def due_day_of(env: Mapping[str, str]) -> int:
    """``RECON_REMITTANCE_DUE_DAY``: the day of the following month by which a month's money
    is remitted (default 20: Law 38/2019/QH14 Art. 44, payment following the declaration)."""
    raw = (env.get(DUE_DAY_SETTING) or "").strip()
    day = DEFAULT_DUE_DAY
    if raw:
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 31:
            raise ValidationError(FieldError(DUE_DAY_SETTING,
                                             f"must be a day of the month 1..31, got {raw!r}"),
                                  hint=f"Set {DUE_DAY_SETTING} to e.g. 20, or unset it")
        day = int(raw)
    return day


def with_remittance_pass(config: EngineConfig, env: Mapping[str, str]) -> EngineConfig:
    """``config`` with the remittance pass (what a real run uses: the CLI and the
    scheduler)."""
    return replace(config, remittances=remittance_config(env))


def remittance_config(env: Mapping[str, str]) -> RemittanceConfig:
    """The run's remittance pass, reading on the run's connection, what is owed kept between
    runs (:mod:`recon.review.owed_store`)."""
    return RemittanceConfig(read=_read_on, due_day=due_day_of(env), run_read=_run_reader)


def _read_on(conn: Any) -> RemittanceInputs:
    """The pass's inputs, read on the run's connection (inside its transaction)."""
    with Session(bind=conn) as session:
        return remittance_inputs(session)


def _run_reader(mode: str, write: bool, say: Callable[[str], None],
                since: datetime | None = None) -> Callable[[Any], RemittanceInputs]:
    """A run's reader: what is owed from the kept parts, brought up to date in a transaction
    of their own (a full run recomputes every dossier, or with closed months behind those of
    the open months, ``since``; an incremental one the changed ones; either builds them if
    they never were); a dry run writes nothing and adds the changed dossiers' delta in
    memory. The vouchers and transfers are read on the run's connection."""
    def read(conn: Any) -> RemittanceInputs:
        if write:
            collected: dict[owed_store.PartKey, int] | None = owed_store.refresh_on(
                conn, full=mode == "full", say=say, since=since).collected
        else:
            collected = owed_store.current(conn)
            if collected is None:
                say("owed parts: the tables were never built; a dry run writes nothing, "
                    "so what is owed is read by the whole-history query")
        with Session(bind=conn) as session:
            return remittance_inputs(session, None if collected is None
                                     else owed_store.owed_of(collected))
    return read


# --------------------------------------------------------------------------- pages


def not_remitted(session: Session, today: date, *, due_day: int = DEFAULT_DUE_DAY,
                 collectors: Sequence[str] | None = None) -> list[Ageing]:
    """Per collector: collected, not yet remitted, by days past the deadline."""
    inputs = remittance_inputs(session)
    rows = ageing(inputs.owed, allocate(inputs.owed, inputs.counted), today, due_day=due_day)
    return [r for r in rows if collectors is None or r.collector in collectors]


@dataclass
class VoucherView:
    id: int
    voucher_no: str
    voucher_date: date
    remitter: str
    source: str
    total: int
    lines: list[dict[str, Any]] = field(default_factory=list)
    allocated: list[dict[str, Any]] = field(default_factory=list)
    bank_reference: str | None = None
    #: the receiver's transfer into the budget this voucher records (counted through it)
    same_as: str | None = None


@dataclass
class ReceiverPayment:
    """Lệ phí a receiving centre paid into the budget itself for a collector (its transfer),
    counted as remitted for that collector, month and tiểu mục."""

    transfer: str  # its bank reference and receiver
    day: date
    receiver: str
    collector: str
    budget_code: str
    month: str  # MM/YYYY
    amount: int


def voucher_page(session: Session, *, collectors: Sequence[str] | None = None,
                 due_day: int = DEFAULT_DUE_DAY, limit: int = 200) -> list[VoucherView]:
    """The latest vouchers (newest first) with their lines and where each was allocated."""
    query = select(Remittance).order_by(Remittance.voucher_date.desc(), Remittance.id.desc())
    if collectors is not None:
        query = query.where(Remittance.remitter_code.in_(collectors))
    vouchers = list(session.scalars(query.limit(limit)))
    inputs = remittance_inputs(session)
    allocation = allocate(inputs.owed, inputs.counted)
    by_line: dict[int, list[dict[str, Any]]] = {}
    for part in allocation.parts:
        if part.paid_by is not None:  # a transfer's, listed by receiver_payments
            continue
        by_line.setdefault(part.line_id, []).append({
            "month": f"{part.key[2]:%m/%Y}", "budget_code": part.key[1],
            "owed": inputs.owed.get(part.key, 0), "amount": part.amount,
            "due": due_on(part.key[2], due_day)})
    out: list[VoucherView] = []
    for v in vouchers:
        view = VoucherView(v.id, v.voucher_no, v.voucher_date, v.remitter_code, v.source, 0,
                           bank_reference=v.bank_reference,
                           same_as=inputs.same_as.get(v.voucher_no))
        for ln in v.lines:
            view.total += ln.amount
            view.lines.append({"position": ln.position, "dossier_code": ln.dossier_code,
                               "chapter": ln.chapter, "budget_code": ln.budget_code,
                               "area_code": ln.area_code, "amount": ln.amount,
                               "period": f"{ln.period:%m/%Y}" if ln.period else None,
                               "allocated": by_line.get(ln.id, [])})
        out.append(view)
    return out


def receiver_payments(session: Session, *, collectors: Sequence[str] | None = None,
                      limit: int = 500) -> list[ReceiverPayment]:
    """The lệ phí receiving centres paid into the budget for their collectors (newest first),
    each counted as remitted for the collector (docs/remittances.md)."""
    inputs = remittance_inputs(session)
    out = [ReceiverPayment(ln.voucher_no, ln.voucher_date, ln.paid_by or "", ln.remitter,
                           ln.budget_code, f"{ln.month:%m/%Y}" if ln.month else "—",
                           ln.amount)
           for ln in inputs.discharges
           if collectors is None or ln.remitter in collectors or ln.paid_by in collectors]
    out.sort(key=lambda r: (r.day, r.transfer, r.collector, r.budget_code), reverse=True)
    return out[:limit]


def voucher_count(session: Session) -> int:
    return int(session.scalar(select(func.count(Remittance.id))) or 0)


__all__ = [
    "DUE_DAY_SETTING",
    "ReceiverPayment",
    "VoucherView",
    "due_day_of",
    "not_remitted",
    "receiver_payments",
    "remittance_config",
    "voucher_count",
    "voucher_page",
    "with_remittance_pass",
]
