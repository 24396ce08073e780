"""The run's payout pass: read batches, credits and deductions, match them (the pure
:mod:`recon.engine.payouts`), and fold the findings into the run's result.

Batches are the settlement lines of the providers that pay in batches (their own reports,
never a bank statement); credits are the lines of the files imported with a bank-statement
profile (``PayoutConfig.statement_profiles``); deductions are the providers' refunded
payments (chargebacks) and the fee invoices in force a provider deducts from a payout
(:func:`fee_invoice_deductions`, migration 0030; an invoice another replaces is none, 0033).
All of them carry ``change_seq`` (migrations 0009 and 0030), so:

- a **full** run reads every batch line and every credit; one with closed months behind
  (:func:`recon.engine.load.horizon`) reads those from the first open day less twice
  ``PayoutConfig.reach()`` on, and judges and claims only those from that day less the reach
  on, as an incremental window does (below): what lies earlier is closed and was judged
  before, and its open findings stay as they are, not read, not resolved;
- an **incremental** run reads the lines stamped at or after the previous run's mark, and the
  days around them and around the previous run's ``as_of`` (where deadlines may have passed
  since), and the days from the billed month's start to the issue date of each deducted
  invoice stamped since the mark, or replaced by an invoice stamped since the mark (the credit
  it shortened lies near them, and a replaced invoice no longer explains it): a window of days
  widened by ``PayoutConfig.reach()`` on each side. It judges, and
  claims to have seen, only what lies inside the window less that margin on the early side
  (a batch or credit at the edge may miss its other half), so an open finding outside stays
  untouched, as the core leaves what it did not read.

:class:`PayoutPass` is made before the core runs (the credits it claims must be known when the
core hands over its early findings) and applied after.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import compress, repeat
from operator import ge, itemgetter
from typing import Any

from sqlalchemy import Connection, bindparam, text

from recon.db import UTCDateTime
from recon.engine.core import Reconciliation
from recon.engine.explain import vn_date
from recon.engine.fee_invoices import InvoiceRow, replacements
from recon.engine.load import REFUND_OF
from recon.engine.payouts import (
    PAYOUT_KINDS,
    BankCredit,
    Deduction,
    PayoutConfig,
    PayoutOutcome,
    PayoutReconciliation,
    claimed_credit_ids,
    drop_claimed,
    match_payouts,
    with_payouts,
)
from recon.engine.records import Discrepancy, SettlementLineRow

# (REFUND_OF is a constant of recon.engine.load: a refund line's sale, NULL for a sale)
_BATCH_LINES = (
    "SELECT l.id, l.provider, l.provider_txn_id, l.amount, l.fee, l.net, "  # noqa: S608
    f"l.settled_on, l.transaction_at, {REFUND_OF} FROM settlement_lines l "
    "JOIN settlement_files f ON f.id = l.file_id "
    "WHERE l.provider IN :providers AND (f.profile IS NULL OR f.profile NOT IN :statements)")
# the credits: the lines of the statement files, named by their ids (file_id's index). Joined
# to the files by their profile, the planner took a statement for an average file (most lines
# are the providers' reports) and walked every line of the window for a few hundred credits:
# 0.35 s of a bounded full run at 5M dossiers, on its critical path, against 2 ms.
_STATEMENT_FILES = "SELECT f.id FROM settlement_files f WHERE f.profile IN :statements"
_CREDITS = (
    "SELECT l.id, l.provider_txn_id, l.amount, l.settled_on, COALESCE(l.reference, ''), "
    "l.transaction_at, l.file_id FROM settlement_lines l WHERE l.file_id IN :statement_files")
_WINDOW = " AND l.settled_on >= :low AND l.settled_on <= :high"
_FROM = " AND l.settled_on >= :low"
_BEFORE_OPENS = " AND l.settled_on >= :low AND l.settled_on < :opens"
_CHANGED_DAYS = (
    "SELECT MIN(l.settled_on), MAX(l.settled_on) FROM settlement_lines l "
    "JOIN settlement_files f ON f.id = l.file_id WHERE l.change_seq >= :mark "
    "AND (l.provider IN :providers OR f.profile IN :statements)")
_STATED_NETS = (
    "SELECT l.id, l.net FROM settlement_lines l WHERE l.stated_net IS NOT NULL "
    "AND l.stated_net <> l.net AND l.provider IN :providers")
# the refunded payments (chargebacks) that have no refund line: a refund line enters its batch
# instead (recon.engine.payouts, "Refunds"), so the refund is never deducted twice
_REFUNDED = ("SELECT p.provider, p.provider_txn_id, p.amount FROM payments p "
             "WHERE p.status = 'refunded' AND p.provider IN :providers AND NOT EXISTS ("
             "SELECT 1 FROM settlement_lines r WHERE r.provider = p.provider "
             "AND r.kind = 'refund' AND r.original_txn_id = p.provider_txn_id) "
             "AND NOT EXISTS (SELECT 1 FROM settlement_lines r WHERE r.provider = p.provider "
             "AND r.kind = 'refund' AND r.original_txn_id IS NULL "
             "AND r.provider_txn_id = p.provider_txn_id)")
# (the newest line first down the settled_on index, to the first of a statement: the statements
# are the newest data, where a MAX over a join scanned every line, 0.13 s at 1M)
_HORIZON = ("SELECT l.settled_on FROM settlement_lines l "
            "JOIN settlement_files f ON f.id = l.file_id WHERE f.profile IN :statements "
            "ORDER BY l.settled_on DESC LIMIT 1")
_CREDIT_KINDS = frozenset({"payout_mismatch", "payout_unexpected"})  # about a credit
_OPEN = ("SELECT identity, settlement_line_id FROM discrepancies "
         "WHERE status = 'open' AND kind IN :kinds")


class PayoutPass:
    """One run's payout pass (see the module doc)."""

    def __init__(self, outcome: PayoutOutcome, seen: set[int], previous_open: list[str],
                 *, bounded: bool = False, kept: frozenset[int] = frozenset()) -> None:
        self.outcome = outcome
        self.seen = seen
        self.previous_open = previous_open
        self.claimed = claimed_credit_ids(outcome) | kept
        # a full run from a horizon: the payout findings it did not judge are not its own
        self.bounded = bounded

    def early(self, settled: Callable[[list[Discrepancy]], None] | None
              ) -> Callable[[list[Discrepancy]], None] | None:
        """The core's early findings handed on without the payout credits' unexpected
        settlements."""
        if settled is None:
            return None
        claimed = self.claimed

        def hand_on(findings: list[Discrepancy]) -> None:
            settled(drop_claimed(findings, claimed))
        return hand_on

    def apply(self, result: Reconciliation) -> PayoutReconciliation:
        return with_payouts(result, self.outcome, self.seen, claimed=self.claimed)

    def previous(self, loaded: Sequence[str]) -> list[str]:
        """The open identities the run classifies: the loader's and the payout pass's. A full
        run from a horizon classifies all it reads (not partially): the payout findings the
        pass did not judge (before its window) leave the loader's, so none is resolved."""
        if self.bounded:
            loaded = [i for i in loaded if i.partition(":")[0] not in PAYOUT_KINDS]
        return sorted({*loaded, *self.previous_open})


def prepare(conn: Connection, *, config: PayoutConfig | None, mode: str, as_of: datetime,
            mark: int | None = None, since: datetime | None = None,
            loaded_lines: Callable[[], Sequence[SettlementLineRow]] | None = None,
            opens: date | None = None,
            ) -> PayoutPass | None:
    """Read and match (``None`` when the run has no payout configuration).

    ``loaded_lines`` (a full run): every settlement line the run's full load read, in the same
    snapshot. The batch lines are then taken from them (:func:`batch_lines_of`) instead of
    read and kept a second time; only the credits, the refunds and the few lines whose file
    stated another net are read.

    ``opens`` (a full run with closed months behind): the first open day; the pass reads and
    judges from it as the module doc says."""
    if config is None or not config.providers:
        return None
    providers = sorted(config.providers)
    statements = sorted(config.statement_profiles) or [""]
    params: dict[str, Any] = {"providers": providers, "statements": statements}
    window = ""
    inner_low: date | None = None
    if mode != "full" or opens is not None:
        # the days to judge: an incremental run's from its previous as_of to this one, a
        # bounded full run's from the first open day on; either widened to the days of the
        # lines and deducted invoices stamped since the previous run's mark
        if mode != "full":
            assert mark is not None and since is not None
            low, high = vn_date(since), vn_date(as_of)
        else:
            assert opens is not None
            low, high = opens, date.max
        if mark is not None:
            changed = conn.execute(_bind(text(_CHANGED_DAYS), "providers", "statements"),
                                   {**params, "mark": mark}).first()
            if changed is not None and changed[0] is not None:
                low, high = min(low, _day(changed[0])), max(high, _day(changed[1]))
            invoiced = changed_invoice_days(conn, providers, mark)
            if invoiced is not None:
                low, high = min(low, invoiced[0]), max(high, invoiced[1])
        reach = timedelta(days=config.reach())
        inner_low = low - reach
        params["low"] = inner_low - reach
        if high == date.max:
            window = _FROM
        else:
            params["high"] = high + reach
            window = _WINDOW
    if loaded_lines is not None and mode == "full":
        _none, credits, deductions = _read(conn, params, window, batch=False)
        nets = {int(r[0]): int(r[1]) for r in conn.execute(
            _bind(text(_STATED_NETS + window), "providers"), params)}
        # the open months' load holds every line settled from the first open day on; the
        # days before it that the window reaches back to are read here, first (the load's
        # lines may still be coming)
        before = ([] if opens is None else
                  _read_lines(conn, {**params, "opens": opens}, _BEFORE_OPENS))
        loaded = loaded_lines()
        if opens is not None:
            loaded = [*compress(loaded, map(ge, map(_settled_on, loaded), repeat(opens))),
                      *before]
        lines = batch_lines_of(loaded, config.providers, {c.id for c in credits}, nets)
    else:
        lines, credits, deductions = _read(conn, params, window)
    deductions = [*deductions, *fee_invoice_deductions(conn, providers)]
    outcome = match_payouts(lines=lines, credits=credits, config=config, as_of=as_of,
                            deductions=deductions, statements_until=_horizon(conn, params))
    if inner_low is None:
        seen = set(map(_line_id, lines))
        seen.update(map(_line_id, credits))
    else:
        keep = inner_low
        seen = {b.first_line_id for b in outcome.batches if b.session_on >= keep}
        seen |= {c.id for c in credits if c.booked_on >= keep}
        outcome.findings[:] = [d for d in outcome.findings if d.settlement_line_id in seen]
    opened = conn.execute(_bind(text(_OPEN), "kinds"), {"kinds": list(PAYOUT_KINDS)}).all()
    previous = [r[0] for r in opened if inner_low is None or r[1] in seen]
    bounded = opens is not None and mode == "full"
    # a bounded full run's core reads the subjects of every open finding: the credits of
    # those before the window stay the pass's (their unexpected_settlement is not the core's)
    kept = frozenset(r[1] for r in opened if bounded and r[1] not in seen
                     and r[0].partition(":")[0] in _CREDIT_KINDS)
    return PayoutPass(outcome, seen, previous, bounded=bounded, kept=kept)


def batch_lines_of(lines: Iterable[SettlementLineRow], providers: Container[str],
                   statement_lines: Container[int], nets: Mapping[int, int]
                   ) -> list[SettlementLineRow]:
    """The batch lines among a full load's settlement lines: those of a payout provider that
    are not on a bank statement (``statement_lines``: every line of a file imported with a
    statement profile), with the net the line computed (``nets``: by line id, where its file
    stated another; the load reads the stated one, for ``fee_mismatch``). What
    :data:`_BATCH_LINES` reads, without reading it again."""
    if not statement_lines and not nets:  # the usual case: the payout providers' lines
        return list(compress(lines, map(providers.__contains__, map(_provider_of, lines))))
    out: list[SettlementLineRow] = []
    for line in lines:
        if line.provider in providers and line.id not in statement_lines:
            net = nets.get(line.id)
            out.append(line if net is None else line._replace(net=net))
    return out


def read_window(conn: Connection, *, config: PayoutConfig, as_of: datetime, low: date,
                high: date) -> PayoutOutcome:
    """The batches and credits of the days ``low`` to ``high`` (with their neighbours, so a
    credit finds its batch across the edge), matched as of ``as_of``: what the payouts page
    shows. Nothing is written."""
    reach = timedelta(days=config.reach())
    params: dict[str, Any] = {"providers": sorted(config.providers) or [""],
                              "statements": sorted(config.statement_profiles) or [""],
                              "low": low - reach, "high": high + reach}
    lines, credits, deductions = _read(conn, params, _WINDOW)
    deductions = [*deductions, *fee_invoice_deductions(conn, params["providers"])]
    return match_payouts(lines=lines, credits=credits, config=config, as_of=as_of,
                         deductions=deductions, statements_until=_horizon(conn, params))


# (every invoice of the payout providers, whatever it is charged as: a billed invoice may
# replace a deducted one, which then no longer stands)
_INVOICES = ("SELECT id, provider, number, period, amount, replaces, charged_as "
             "FROM fee_invoices WHERE provider IN :providers")
# the deducted invoices stamped since the mark, and those an invoice stamped since the mark
# replaces (the replaced invoice's credit is judged again without it)
_CHANGED_INVOICES = ("SELECT MIN(i.period), MAX(i.issued_on) FROM fee_invoices i "
                     "WHERE i.charged_as = 'deducted' AND i.provider IN :providers "
                     "AND (i.change_seq >= :mark OR EXISTS (SELECT 1 FROM fee_invoices r "
                     "WHERE r.provider = i.provider AND r.replaces = i.number "
                     "AND r.id <> i.id AND r.change_seq >= :mark))")


def fee_invoice_deductions(conn: Connection, providers: Sequence[str]) -> list[Deduction]:
    """The fee invoices the providers that pay in batches deducted from a payout: each a
    ``fee_invoice`` deduction named by the invoice's number (a short credit is matched with
    the invoice named). Only an invoice in force is offered: one that another invoice of its
    provider replaces (``replaces``, migration 0033; decided by
    :func:`~recon.engine.fee_invoices.replacements`, as the fee invoice pass decides) no
    longer stands, so of a chain of replacements only the newest may explain a credit, and
    only if it is deducted itself.
    Few rows (a handful a month), read whole by every run."""
    rows = conn.execute(_bind(text(_INVOICES), "providers"),
                        {"providers": list(providers) or [""]}).all()
    invoices = [InvoiceRow(int(r[0]), r[1], r[2], _day(r[3]), int(r[4]), r[5]) for r in rows]
    gone = replacements(invoices)
    return [Deduction(i.provider, "fee_invoice", i.number, i.amount)
            for i, r in zip(invoices, rows, strict=True)
            if r[6] == "deducted" and i.id not in gone]


def changed_invoice_days(conn: Connection, providers: Sequence[str], mark: int
                         ) -> tuple[date, date] | None:
    """From the earliest billed month's start to the latest issue date of the deducted
    invoices stamped at or after ``mark``, and of the deducted invoices replaced by an
    invoice stamped at or after ``mark`` (``None``: none): the days an incremental run reads
    again, so the credit an invoice shortened (or one a replaced invoice explained) is judged
    again as a full run judges it."""
    row = conn.execute(_bind(text(_CHANGED_INVOICES), "providers"),
                       {"providers": list(providers) or [""], "mark": mark}).first()
    if row is None or row[0] is None:
        return None
    return _day(row[0]), _day(row[1])


def _horizon(conn: Connection, params: dict[str, Any]) -> date:
    """The last day the imported bank statements reach (``date.min`` with none: no batch can be
    missing from statements that were never imported)."""
    last = conn.execute(_bind(text(_HORIZON), "statements"), params).scalar()
    return date.min if last is None else _day(last)


def _read(conn: Connection, params: dict[str, Any], window: str, *, batch: bool = True,
          credits: bool = True,
          ) -> tuple[list[SettlementLineRow], list[BankCredit], list[Deduction]]:
    """The batch lines (none unless ``batch``), the credits and the deductions (neither
    unless ``credits``). The two readers below take the statement files' ids in ``params``
    (``statement_files``), looked up here once."""
    if credits:
        params = {**params, "statement_files": _statement_files(conn, params)}
    if (conn.dialect.name == "postgresql" and conn.connection.dbapi_connection is not None
            and conn.connection.dbapi_connection.info.parameter_status("TimeZone") == "UTC"):
        # (a run's read snapshot sets the session's time zone to UTC: the aware datetimes
        # come back in UTC, as UTCDateTime gives them)
        return _read_pg(conn, params, window, batch=batch, credits=credits)
    return _read_rows(conn, params, window, batch=batch, credits=credits)


def _read_rows(conn: Connection, params: dict[str, Any], window: str, *, batch: bool = True,
               credits: bool = True,
               ) -> tuple[list[SettlementLineRow], list[BankCredit], list[Deduction]]:
    """:func:`_read` through SQLAlchemy rows (SQLite; the reference of :func:`_read_pg`)."""
    lines = [SettlementLineRow(int(r[0]), r[1], r[2], int(r[3]), int(r[4]), int(r[5]),
                               _day(r[6]), r[7], r[8])
             for r in conn.execute(_bind(text(_BATCH_LINES + window), "providers", "statements")
                                   .columns(transaction_at=UTCDateTime()), params)] if batch else []
    if not credits:
        return lines, [], []
    bank = [BankCredit(int(r[0]), r[1], int(r[2]), _day(r[3]), r[4] or "", r[5], int(r[6]))
            for r in conn.execute(_bind(text(_CREDITS + window), "statement_files")
                                  .columns(transaction_at=UTCDateTime()), params)]
    deductions = [Deduction(r[0], "chargeback", r[1], int(r[2]))
                  for r in conn.execute(_bind(text(_REFUNDED), "providers"), params)]
    return lines, bank, deductions


def _statement_files(conn: Connection, params: Mapping[str, Any]) -> list[int]:
    """The ids of the files imported with a bank-statement profile (a handful a month)."""
    return [int(i) for i in conn.execute(_bind(text(_STATEMENT_FILES), "statements"),
                                         {"statements": params["statements"]}).scalars()]


def _pg_sql(sql: str) -> str:
    """The queries above for psycopg: ``NOT IN :name`` / ``IN :name`` (expanded lists) as
    ``<> ALL(%(name)s)`` / ``= ANY(%(name)s)``, ``:name`` as ``%(name)s``."""
    sql = re.sub(r"NOT IN :(\w+)", r"<> ALL(:\1)", sql)
    return re.sub(r":(\w+)", r"%(\1)s", re.sub(r"\bIN :(\w+)", r"= ANY(:\1)", sql))


def _read_pg(conn: Connection, params: dict[str, Any], window: str, *, batch: bool = True,
             credits: bool = True,
             ) -> tuple[list[SettlementLineRow], list[BankCredit], list[Deduction]]:
    """:func:`_read` on PostgreSQL: binary rows built straight into the tuples, no SQLAlchemy
    row per line (a full run's batch lines are most of the settlement lines). ``settled_on``
    comes as a date, ``transaction_at`` as an aware datetime, the amounts as ints."""
    raw: Any = conn.connection.dbapi_connection
    with raw.cursor(binary=True) as cursor:
        lines: list[SettlementLineRow] = []
        if batch:
            cursor.execute(_pg_sql(_BATCH_LINES + window), params)
            lines = list(map(_make_line, cursor.fetchall()))
        if not credits:
            return lines, [], []
        cursor.execute(_pg_sql(_CREDITS + window), params)
        bank = list(map(_make_credit, cursor.fetchall()))
        cursor.execute(_pg_sql(_REFUNDED), params)
        deductions = [Deduction(r[0], "chargeback", r[1], int(r[2]))
                      for r in cursor.fetchall()]
    return lines, bank, deductions


def _read_lines(conn: Connection, params: dict[str, Any], window: str
               ) -> list[SettlementLineRow]:
    """The batch lines of ``window`` alone."""
    lines, _credits, _deductions = _read(conn, params, window, credits=False)
    return lines


_make_line = functools.partial(tuple.__new__, SettlementLineRow)
_provider_of = itemgetter(1)
_settled_on = itemgetter(SettlementLineRow._fields.index("settled_on"))
_line_id = itemgetter(0)
_make_credit = functools.partial(tuple.__new__, BankCredit)


def _bind(clause: Any, *names: str) -> Any:
    return clause.bindparams(*(bindparam(n, expanding=True) for n in names))


def _day(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


__all__ = ["PayoutPass", "batch_lines_of", "changed_invoice_days", "fee_invoice_deductions",
           "prepare", "read_window"]
