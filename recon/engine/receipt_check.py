"""Receipts against payments: the run's receipt pass. Pure, like the core.

With e-receipts on (``RECON_RECEIPTS=on``) every succeeded payment allocated to a dossier is
owed a signed receipt at collection (docs/receipts.md). This module says where that does not
hold:

- ``receipt_missing``: a succeeded payment owed a receipt with none issued, once
  ``grace_minutes`` have passed since it was recorded. Owed means what issuing at payment and
  ``recon receipts issue-missing`` issue: a payment matched to a dossier, one receipt per
  collecting organisation of the fee lines it covers after the dossier's earlier succeeded
  payments (:func:`line_parts`: a part payment is owed its parts; money beyond the fees none),
  and each share of a split transfer. Subject: the dossier and the payment (and the agency
  when it is not the dossier's), so each share of a split is its own finding.
- ``receipt_mismatch``: the receipts issued for one (payment, dossier, collector) state
  another total than the parts of that collector's lines the payment covers, or other fee
  lines (phí / lệ phí and amounts), or a dossier the payment did not pay, or a collector
  whose lines it covers none of. Receipts are added up, so an adjustment receipt (a
  negative amount for the same payment) that corrects one makes the finding go away.
- ``receipt_orphan``: a receipt for a payment that failed, for one refunded whose receipts
  still add up to more than 0 (no adjusting receipt), or for no payment at all (subject: the
  dossier the receipt names).

Only issued receipts count (reserved and spoiled numbers carry no receipt). Inputs come from
:mod:`recon.engine.receipt_load`; the outcome rides on the run's result
(:class:`ReceiptReconciliation`), which also says which subjects the pass saw (an
incremental run judges only the payments that changed).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, NamedTuple

from recon.engine import explain
from recon.engine.core import Reconciliation, WithPass
from recon.engine.forwarding import spread
from recon.engine.records import SUCCEEDED, Discrepancy

RECEIPT_KINDS: Final = ("receipt_missing", "receipt_mismatch", "receipt_orphan")
DEFAULT_GRACE_MINUTES: Final = 10


@dataclass(frozen=True, slots=True)
class ReceiptCheckConfig:
    """``grace_minutes``: how long after a payment is recorded its receipt may still be
    missing (issuing at payment, then the scheduler's minute sweep, normally take seconds)."""

    grace_minutes: int = DEFAULT_GRACE_MINUTES

    def __post_init__(self) -> None:
        value = self.grace_minutes
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"grace_minutes must be a whole number >= 0, got {value!r}")


class PaidRow(NamedTuple):
    """A payment as the receipt pass sees it. ``recorded_at``: when recon recorded it."""

    id: int
    provider: str
    provider_txn_id: str
    amount: int
    status: str
    recorded_at: datetime
    dossier_id: int | None


class DossierFees(NamedTuple):
    """A dossier's code and its assessed fee lines as (kind, amount): kind is the receipt's
    word, ``phí`` or ``lệ phí``. ``collectors``: each line's collecting organisation (agency
    code), in step with ``lines`` (empty: every line is ``home``'s, the dossier's agency)."""

    id: int
    code: str
    lines: tuple[tuple[str, int], ...]
    collectors: tuple[str, ...] = ()
    home: str = ""

    @property
    def total(self) -> int:
        return sum(a for _k, a in self.lines)

    def by_collector(self) -> dict[str, list[tuple[str, int]]]:
        """collector -> its lines, the collectors in the order of their first line."""
        out: dict[str, list[tuple[str, int]]] = {}
        for i, line in enumerate(self.lines):
            who = self.collectors[i] if i < len(self.collectors) else self.home
            out.setdefault(who, []).append(line)
        return out

    def parts_by_collector(self, covered_before: int, paid: int
                           ) -> dict[str, list[tuple[str, int]]]:
        """collector -> (kind, part) of its lines that a payment of ``paid`` takes after
        ``covered_before`` VND of the dossier's earlier payments (:func:`line_parts`)."""
        out: dict[str, list[tuple[str, int]]] = {}
        collectors = [self.collectors[i] if i < len(self.collectors) else self.home
                      for i in range(len(self.lines))]
        for who, items in line_parts([a for _k, a in self.lines], collectors, covered_before,
                                     paid).items():
            out[who] = [(self.lines[i][0], part) for i, part in items]
        return out


def line_parts(amounts: Sequence[int], collectors: Sequence[str], covered_before: int,
               paid: int) -> dict[str, list[tuple[int, int]]]:
    """What a receipt of a payment states, per collecting organisation: the payment covers the
    dossier's fee lines (``amounts``, in position order; ``collectors`` in step) after what
    its earlier succeeded payments covered (``covered_before``), as the Treasury leg spreads
    it (:func:`recon.engine.forwarding.spread`). collector -> (line index, part) of its lines
    with a positive part, the collectors in the order of their first such line; what exceeds
    the fees is no line's (an overpayment: no receipt). Pure."""
    parts, _left = spread(amounts, covered_before, paid)
    out: dict[str, list[tuple[int, int]]] = {}
    for i, part in enumerate(parts):
        if part > 0:
            out.setdefault(collectors[i], []).append((i, part))
    return out


def covered_before(payments: Iterable[tuple[int, int, int]]) -> dict[int, int]:
    """payment id -> what the succeeded payments of its dossier before it covered, from
    ``payments`` as (id, dossier id, amount) in order of (paid_at, id) within each dossier
    (the order forwarding and the declarations spread payments in). Pure."""
    running: dict[int, int] = {}
    out: dict[int, int] = {}
    for pid, did, amount in payments:
        out[pid] = running.get(did, 0)
        running[did] = out[pid] + amount
    return out


class ReceiptRow(NamedTuple):
    """An issued receipt: its register row and what its signed document states."""

    id: int
    form_code: str
    series: str
    number: int
    payment_id: int | None
    amount: int
    dossier_code: str | None
    lines: tuple[tuple[str, int], ...]
    collector_code: str | None = None  # the collecting organisation (None: the dossier's)


def receipt_label(form_code: str, series: str, number: int) -> str:
    """``EBL01 21T số 00000123``: how a receipt is named in sentences."""
    return f"{form_code} {series} số {number:08d}"


@dataclass(slots=True)
class ReceiptOutcome:
    """What :func:`check_receipts` found, and the facts a resolution sentence needs."""

    findings: list[Discrepancy]
    receipts_of: dict[int, list[ReceiptRow]] = field(default_factory=dict)  # by payment
    payments: dict[int, PaidRow] = field(default_factory=dict)
    seen_payments: frozenset[int] = frozenset()


def _by_kind(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for kind, amount in lines:
        out[kind] += amount
    return {k: v for k, v in out.items() if v}


def check_receipts(
    *,
    payments: Sequence[PaidRow],
    shares: Mapping[int, Sequence[tuple[int, int]]],
    dossiers: Mapping[int, DossierFees],
    receipts: Sequence[ReceiptRow],
    as_of: datetime,
    config: ReceiptCheckConfig,
    agencies: Mapping[str, int] | None = None,
    covered: Mapping[int, int] | None = None,
) -> ReceiptOutcome:
    """Judge ``payments`` (with their split ``shares``: payment id -> (dossier id, amount)) and
    every issued receipt in ``receipts`` (those of the payments given, and those of no
    payment). ``dossiers`` must hold every dossier a payment or a share names, and those the
    payment-less receipts name (by code) when known. A payment of a dossier is owed one receipt
    per collecting organisation of the fee lines it covers after its dossier's earlier
    succeeded payments (``covered``: payment id -> what they covered, :func:`covered_before`;
    absent: 0), each stating those lines' parts (:meth:`DossierFees.parts_by_collector`); a
    share of a split transfer that pays its dossier's assessed total, one per collector of all
    its lines. Each is judged apart: its identity names the organisation (``agency=``, its id
    in ``agencies``: code -> id) unless it is the dossier's own agency. Deterministic; sorted
    by identity."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be a timezone-aware datetime")
    by_code = {d.code: d for d in dossiers.values()}
    receipts_of: dict[int, list[ReceiptRow]] = {}
    orphans_by_dossier: dict[int, list[ReceiptRow]] = {}
    for r in sorted(receipts, key=lambda r: r.id):
        if r.payment_id is not None:
            receipts_of.setdefault(r.payment_id, []).append(r)
        else:
            d = by_code.get(r.dossier_code or "")
            if d is not None:
                orphans_by_dossier.setdefault(d.id, []).append(r)
    grace = timedelta(minutes=config.grace_minutes)
    out: list[Discrepancy] = []
    paid_by_id = {p.id: p for p in payments}
    for p in sorted(payments, key=lambda p: p.id):
        mine = receipts_of.get(p.id, [])
        if p.status != SUCCEEDED:
            total = sum(r.amount for r in mine)
            if mine and (p.status != "refunded" or total > 0):
                vi, en = explain.receipt_orphan(
                    [receipt_label(r.form_code, r.series, r.number) for r in mine], total,
                    p.provider, p.provider_txn_id, p.status)
                out.append(Discrepancy(
                    f"receipt_orphan:payment={p.id}", "receipt_orphan",
                    p.dossier_id, p.id, None, p.provider, 0, total, total, vi, en))
            continue
        owed: list[tuple[int, int]] = list(shares.get(p.id, ()))
        if not owed and p.dossier_id is not None:
            owed = [(p.dossier_id, p.amount)]
        # the receipts of this payment, by the dossier they name
        groups: dict[int | None, list[ReceiptRow]] = {}
        owed_ids = {did for did, _a in owed}
        for r in mine:
            d = by_code.get(r.dossier_code or "")
            did = d.id if d is not None else (p.dossier_id if not shares.get(p.id) else None)
            groups.setdefault(did, []).append(r)
        split = bool(shares.get(p.id))
        for did, amount in owed:
            dossier = dossiers.get(did)
            got = groups.get(did, [])
            code = dossier.code if dossier is not None else str(did)
            if dossier is None or not dossier.lines or (split and amount != dossier.total):
                # no fee lines, or a split's share that is not its dossier's assessed total:
                # its receipts are judged as a whole against what was paid
                if not got and dossier is not None and dossier.lines and \
                        p.recorded_at + grace <= as_of:
                    vi, en = explain.receipt_missing(
                        code, p.provider, p.provider_txn_id, amount, p.recorded_at,
                        config.grace_minutes)
                    out.append(Discrepancy(
                        f"receipt_missing:dossier={did}:payment={p.id}", "receipt_missing",
                        did, p.id, None, p.provider, amount, 0, -amount, vi, en))
                elif got:
                    out += _mismatch(p, did, code, got, amount, None, None, "")
                continue
            # what the payment's receipts state, per collector: the dossier's fee lines it
            # covers after its earlier payments (a share of a split pays its dossier whole)
            before = 0 if split else (covered or {}).get(p.id, 0)
            parts = dossier.parts_by_collector(before, amount)
            for collector, lines in parts.items():
                mine_c = [r for r in got if (r.collector_code or dossier.home) == collector]
                suffix = _agency_part(collector, dossier.home, agencies)
                label = code if collector == dossier.home else f"{code} ({collector})"
                owed_c = sum(a for _k, a in lines)
                if not mine_c:
                    if p.recorded_at + grace <= as_of:
                        vi, en = explain.receipt_missing(
                            label, p.provider, p.provider_txn_id, owed_c, p.recorded_at,
                            config.grace_minutes)
                        out.append(Discrepancy(
                            f"receipt_missing:dossier={did}:payment={p.id}{suffix}",
                            "receipt_missing", did, p.id, None, p.provider, owed_c, 0, -owed_c,
                            vi, en))
                    continue
                out += _mismatch(p, did, label, mine_c, owed_c, lines, suffix, "")
            assessed = dossier.by_collector()
            strays = [r for r in got if (r.collector_code or dossier.home) not in parts]
            for collector in sorted({r.collector_code or dossier.home for r in strays}):
                theirs = [r for r in strays if (r.collector_code or dossier.home) == collector]
                # a collector with lines the payment covers none of is owed nothing
                out += _mismatch(p, did, f"{code} ({collector})", theirs, 0,
                                 [] if collector in assessed else None,
                                 _agency_part(collector, dossier.home, agencies),
                                 "" if collector in assessed else "collector")
        for did, got in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
            if did in owed_ids:
                continue
            stated = sum(r.amount for r in got)
            code = dossiers[did].code if did is not None and did in dossiers else (
                got[0].dossier_code or "?")
            vi, en = explain.receipt_mismatch(
                [receipt_label(r.form_code, r.series, r.number) for r in got], code,
                p.provider, p.provider_txn_id, 0, stated, "dossier")
            identity = (f"receipt_mismatch:dossier={did}:payment={p.id}" if did is not None
                        else f"receipt_mismatch:payment={p.id}")
            out.append(Discrepancy(identity, "receipt_mismatch", did, p.id, None, p.provider,
                                   0, stated, stated, vi, en))
    for did, got in sorted(orphans_by_dossier.items()):
        total = sum(r.amount for r in got)
        vi, en = explain.receipt_orphan(
            [receipt_label(r.form_code, r.series, r.number) for r in got], total, None, None,
            None, dossier_code=dossiers[did].code)
        out.append(Discrepancy(f"receipt_orphan:dossier={did}", "receipt_orphan", did, None,
                               None, None, 0, total, total, vi, en))
    out.sort(key=lambda d: d.identity)
    return ReceiptOutcome(findings=out, receipts_of=receipts_of, payments=paid_by_id,
                          seen_payments=frozenset(paid_by_id))


def _agency_part(collector: str, home: str, agencies: Mapping[str, int] | None) -> str:
    """``:agency=<id>`` for an organisation other than the dossier's own (whose identity
    keeps the shape it had before receipts were split by collector)."""
    if collector == home or not agencies or collector not in agencies:
        return ""
    return f":agency={agencies[collector]}"


def _mismatch(p: PaidRow, did: int, code: str, got: list[ReceiptRow], amount: int,
              lines: list[tuple[str, int]] | None, suffix: str | None,
              problem: str) -> list[Discrepancy]:
    """The ``receipt_mismatch`` of ``got`` (the receipts of one payment, dossier and
    organisation) against ``amount`` (and the organisation's assessed ``lines``, when the
    payment paid them in full), or none."""
    stated = sum(r.amount for r in got)
    line_total = sum(a for r in got for _k, a in r.lines)
    if not problem:
        if stated != amount:
            problem = "amount"
        elif line_total != stated:
            problem = "lines_total"
        elif lines is not None and _by_kind(x for r in got for x in r.lines) != _by_kind(lines):
            problem = "lines"
    if not problem:
        return []
    vi, en = explain.receipt_mismatch(
        [receipt_label(r.form_code, r.series, r.number) for r in got], code,
        p.provider, p.provider_txn_id, amount, stated, problem)
    return [Discrepancy(f"receipt_mismatch:dossier={did}:payment={p.id}{suffix or ''}",
                        "receipt_mismatch", did, p.id, None, p.provider, amount, stated,
                        stated - amount, vi, en)]


class ReceiptReconciliation(WithPass):
    """A run's result with the receipt pass's findings merged in, sorted by identity
    (:class:`~recon.engine.core.WithPass`): it judged a receipt identity when the pass read
    its payment (or, for one about a dossier alone, that dossier)."""

    __slots__ = ("_seen_dossiers", "receipts")

    def __init__(self, base: Reconciliation, outcome: ReceiptOutcome,
                 seen_dossiers: frozenset[int] | None) -> None:
        super().__init__(base, sorted([*base.discrepancies, *outcome.findings],
                                      key=lambda d: d.identity))
        self.receipts = outcome
        self._seen_dossiers = seen_dossiers

    def judged(self, kind: str, ids: dict[str, int], identity: str) -> bool | None:
        if kind not in RECEIPT_KINDS:
            return None
        if "payment" in ids:
            return ids["payment"] in self.receipts.seen_payments
        return self._seen_dossiers is None or ids.get("dossier") in self._seen_dossiers


def encode_lines(lines: Iterable[tuple[str, int]]) -> str:
    """``receipts.lines`` (migration 0031): a receipt's fee lines (LKThu, STien) as compact
    JSON ``[["phí",50000],...]``."""
    return json.dumps([[kind, amount] for kind, amount in lines], ensure_ascii=False,
                      separators=(",", ":"))


def decode_lines(stored: str) -> tuple[tuple[str, int], ...]:
    """The inverse of :func:`encode_lines`; ValueError on anything else (an amount is a whole
    number of VND, never a float)."""
    lines = json.loads(stored)
    if not isinstance(lines, list):
        raise ValueError(f"receipts.lines is not a list of fee lines: {stored[:80]!r}")
    out: list[tuple[str, int]] = []
    for line in lines:
        if (not isinstance(line, list) or len(line) != 2 or not isinstance(line[0], str)
                or isinstance(line[1], bool) or not isinstance(line[1], int)):
            raise ValueError(f"receipts.lines has a malformed fee line: {line!r}")
        out.append((line[0], line[1]))
    return tuple(out)


__all__ = [
    "DEFAULT_GRACE_MINUTES",
    "RECEIPT_KINDS",
    "DossierFees",
    "PaidRow",
    "ReceiptCheckConfig",
    "ReceiptOutcome",
    "ReceiptReconciliation",
    "ReceiptRow",
    "check_receipts",
    "decode_lines",
    "encode_lines",
    "receipt_label",
]
