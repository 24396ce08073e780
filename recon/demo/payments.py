"""Demo payments for the generated quarter: what the Huế centre published, and some faults.

The Huế centre reported for Q1 2021: 28,300 dossiers received; 2,835 dossiers paid cashless for
274,207,000 VND, 61% of the dossiers paid. :func:`seed_payments` gives the demo quarter the same
figures, exactly (``recon report quarterly --year 2021 --quarter 1`` prints them):

- 2,835 dossiers with fees are paid cashless (VietQR transfers seen by SePay or Casso, VNPay,
  MoMo, ZaloPay, payOS, card on the POS terminal), 1,813 more in cash (2,835 / 4,648 = 60.99%);
- every amount is a real fee total of its dossier, except the few faults below; the picks are
  random (seeded), and the last few are chosen by a small subset-sum so that the succeeded,
  matched cashless payments add up to 274,207,000 VND exactly;
- each cashless payment has its payment intent (reference, VietQR payload), its callback (a
  plausible body in the provider's shape, marked as demo data) and, for most, a line in the
  provider's daily settlement file (canonical CSV, stored like an uploaded file) -- except the
  bank transfers into the province centre's VietinBank account seen by SePay or Casso: those
  are settled by that account's daily VietinBank statement (profile ``vietinbank_statement``),
  which lists each credit by the bank's reference, the one their callbacks carry
  (``payments.bank_reference``), not by SePay's or Casso's id;
- about 2% are faults so that ``recon reconcile`` finds work for finance: settlements missing or
  late, gross amounts that differ, transactions settled twice, settlements with no payment, a
  refunded payment that was settled, dossiers paid twice, under- and overpaid transfers,
  transfers whose memo names no reference (unmatched), and fees deducted above the demo's
  fee contracts (``recon/data/fee_contracts.toml``: by provider and payment method, MoMo's
  wallet tiered by the month's count; :func:`demo_method` gives each payment its method);
- ``SPLIT_TRANSFERS`` SePay or Casso transfers each pay two or three dossiers nobody else pays,
  the memo naming each reference: decided by :func:`recon.payments.split.split_by_references`
  as recording decides, most are split (``payment_allocations``, audited
  ``payment.allocated``), ``FAULTS["multi_reference_unsplit"]`` refused (audited
  ``payment.split_refused``). The quarterly report counts each share under its dossier, so
  the plan counts them too: it chooses the split transfers first and aims the ordinary
  payments at the published figures less the split shares (dossiers and amount), so that the
  report prints the published figures exactly, shares included.

Deterministic (one seeded ``random.Random``; ids come from the database), idempotent (a second
run sees its audit event and does nothing) and bulk-inserted (``recon.bulk``), in one
transaction. A quarter of another size gets proportional targets.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from recon.audit import chain as audit
from recon.bulk import allocate_ids, insert_rows
from recon.clock import VN_TZ, Clock
from recon.contracts import Contract, ContractBook, MonthCounter, load_contracts
from recon.db import Database
from recon.demo.catalog import DOSSIER_PREFIX, quarter_bounds
from recon.engine.payouts import build_batches
from recon.engine.records import SettlementLineRow
from recon.models import Agency, AuditEvent, Dossier, FeeLine
from recon.payments.recording import ALLOCATED, SPLIT_REFUSED, refusal_json
from recon.payments.references import mint
from recon.payments.split import (
    AllocationPlan,
    Owed,
    Refusal,
    memo_references,
    split_by_references,
)
from recon.settlements.payouts import payout_config
from recon.vietqr.codec import VietQRRequest, encode

PUBLISHED_DOSSIERS = 28_300
PUBLISHED_CASHLESS = 2_835
PUBLISHED_AMOUNT = 274_207_000
PUBLISHED_CASH = 1_813  # 2,835 / (2,835 + 1,813) = 60.99 % -> "61 %"
SEEDED_ACTION = "demo.payments_seeded"
ADJUST = 40  # picks chosen last, by subset-sum, to hit the amount exactly

# Faults at the published scale (scaled down with the quarter).
FAULTS = {
    "missing_settlement": 14,
    "late_settlement": 10,
    "amount_mismatch": 8,
    "duplicate_settlement": 5,
    "unexpected_settlement": 4,
    "status_mismatch": 3,
    "duplicate_payment": 5,
    "underpaid": 4,
    "overpaid": 3,
    "unmatched_payment": 8,
    "failed_attempt": 20,
    # payouts (a gateway's batch against the bank credit that paid it), about 1 % of the
    # quarter's ~320 batches each: a batch never credited, a credit short, a stray credit
    "payout_missing": 3,
    "payout_mismatch": 3,
    "payout_unexpected": 3,
    "fee_mismatch": 14,  # ~1 % of the lines that carry a fee (VNPay, MoMo, ZaloPay, POS)
    # transfers naming several references that are refused (not split): of SPLIT_TRANSFERS
    "multi_reference_unsplit": 2,
}
# bank transfers (SePay, Casso) paying two or three dossiers at once, their memo naming each
# reference (a service agent's): SPLIT_TRANSFERS at the published scale, of which
# FAULTS["multi_reference_unsplit"] are refused (alternately: the amount differs by
# SPLIT_FAULT_EXTRA, a reference mistyped) and the others split across their dossiers
SPLIT_TRANSFERS = 12
SPLIT_FAULT_EXTRA = 10_000
SPLIT_REFUSALS = ("amount_differs", "unknown_reference")
PAYOUT_FAULTS = ("payout_missing", "payout_mismatch", "payout_unexpected")
PAYOUT_SHORT = 7_000  # what a short payout credit lacks
PAYOUT_MEMOS = {  # how the demo's providers describe a payout (real ones: unverified)
    "vnpay": "VNPAY TT PHIEN {day:%d%m%Y} MERCHANT TTHCC",
    "momo": "MSERVICE TT DOI SOAT {day:%d%m%Y}",
    "zalopay": "ZALOPAY THANH TOAN {day:%d%m%Y}",
    "pos": "POS KET TOAN {day:%d%m%Y} TID 00012345",
}
# refunds: payments of dossiers nobody else pays, refunded after their sale was settled; the
# provider's files carry the sale's line and, a few days later, a refund line (amount: the gross
# refunded; fee: the contract's refund fee). REFUND_FAULTS of them are charged REFUND_FEE_EXTRA
# above that refund fee (fee_mismatch findings; the others reconcile: no finding)
REFUNDS = 60
REFUND_FAULTS = {"fee_mismatch": 2}
REFUND_FEE_EXTRA = 2_000
REFUND_PROVIDERS = ("vnpay", "momo", "zalopay", "pos")
REFUND_AFTER = timedelta(days=3, hours=2)
REFUND_MIN = 20_000  # refunds of at least this much (a refund fee never exceeds them)
# a fee fault: the provider deducted this much more than the demo's contract (an undue fixed
# part); every other fee is the shipped contracts' (recon/data/fee_contracts.toml), by the
# payment's method and, for a tiered contract, its place in the month's count
FEE_FAULT_EXTRA = 1_100

# received channel -> (payment channel, weight)
CHANNEL_MIX: dict[str, tuple[tuple[str, int], ...]] = {
    "online": (("vnpay", 30), ("vietqr", 25), ("payos", 20), ("momo", 15), ("zalopay", 10)),
    "counter": (("vietqr", 55), ("pos", 30), ("momo", 7), ("vnpay", 5), ("zalopay", 3)),
    "postal": (("vietqr", 70), ("vnpay", 20), ("momo", 10)),
}
BANK_FEEDS = (("sepay", 60), ("casso", 40))
SETTLE_DAYS = {"vnpay": 1, "momo": 1, "zalopay": 1, "pos": 1, "payos": 0, "sepay": 0,
               "casso": 0}
STATEMENT_BIN = "970415"  # VietinBank: the agencies banking there reconcile SePay and Casso
STATEMENT_PROVIDERS = ("sepay", "casso")  # credits by its account statement
STATEMENT_PROFILE = "vietinbank_statement"
DEMO_NOTE = "demo data generated by `recon demo`; not a provider's call"


@dataclass(frozen=True)
class Candidate:
    dossier_id: int
    code: str
    agency_id: int
    received_at: datetime
    received_channel: str
    assessed: int


@dataclass
class PaymentPlan:
    """One payment to write (intent, callback and settlement lines follow from it)."""

    candidate: Candidate | None
    provider: str
    channel: str
    amount: int
    status: str
    paid_at: datetime
    matched: bool = True
    settle: str = "normal"  # normal | missing | late | mismatch | twice | fee | none
    # | refund | refund_fee (settled, then refunded with a refund line; refund_fee: a fault)
    intent_amount: int | None = None
    kind: str = "clean"
    # a transfer paying several dossiers (candidate None): each one's dossier, and how it is
    # refused ("" when it splits: see SPLIT_REFUSALS)
    shares: tuple[Candidate, ...] = ()
    refusal: str = ""


@dataclass
class SeedReport:
    skipped: bool = False
    cashless_dossiers: int = 0
    cashless_amount: int = 0
    cash_dossiers: int = 0
    payments: int = 0
    intents: int = 0
    callbacks: int = 0
    settlement_files: int = 0
    settlement_lines: int = 0
    split_transfers: int = 0
    allocations: int = 0
    faults: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"skipped": self.skipped, "cashless_dossiers": self.cashless_dossiers,
                "split_transfers": self.split_transfers, "allocations": self.allocations,
                "cashless_amount": self.cashless_amount, "cash_dossiers": self.cash_dossiers,
                "payments": self.payments, "intents": self.intents,
                "callbacks": self.callbacks, "settlement_files": self.settlement_files,
                "settlement_lines": self.settlement_lines, "faults": self.faults}


# --------------------------------------------------------------------------- choosing


def _weighted_order(rng: random.Random, items: Sequence[Candidate],
                    weight: dict[str, float]) -> list[Candidate]:
    """A weighted random order without replacement (Efraimidis–Spirakis keys)."""
    keyed = [(rng.random() ** (1.0 / weight[c.received_channel]), c.dossier_id, c)
             for c in items]
    keyed.sort(key=lambda k: (-k[0], k[1]))
    return [c for _, _, c in keyed]


def exact_pick(values: Counter[int], count: int, target: int) -> list[int] | None:
    """``count`` values (with multiplicity at most ``values[v]``) summing to ``target``, or
    None. Bitset dynamic programming over (how many, which sum), one layer per distinct value."""
    if count == 0:
        return [] if target == 0 else None
    if target < 0 or not values:
        return None
    unit = 0
    for v in values:
        unit = math.gcd(unit, v)
    unit = math.gcd(unit, target)
    if target % unit or any(v % unit for v in values):
        return None
    goal = target // unit
    mask = (1 << (goal + 1)) - 1
    distinct_values = sorted(values)
    layers: list[list[int]] = []
    reach = [1] + [0] * count  # reach[c]: bit s set <=> c items can sum to s
    for v in distinct_values:
        step = v // unit
        limit = min(values[v], count)
        layers.append(reach)
        new = list(reach)
        for c in range(1, count + 1):
            acc = new[c]
            for j in range(1, min(limit, c) + 1):
                shifted = (reach[c - j] << (j * step)) & mask
                acc |= shifted
            new[c] = acc
        reach = new
    if not (reach[count] >> goal) & 1:
        return None
    out: list[int] = []
    c, s = count, goal
    for index in range(len(distinct_values) - 1, -1, -1):
        v = distinct_values[index]
        step = v // unit
        prev = layers[index]
        for j in range(0, min(values[v], c) + 1):
            rest = s - j * step
            if rest >= 0 and (prev[c - j] >> rest) & 1:
                out += [v] * j
                c, s = c - j, rest
                break
    assert c == 0 and s == 0
    return out


def _scaled(base: int, scale_num: int, scale_den: int) -> int:
    return (base * scale_num * 2 + scale_den) // (scale_den * 2)


def _pick_provider(rng: random.Random, received_channel: str) -> tuple[str, str]:
    mix = CHANNEL_MIX.get(received_channel, CHANNEL_MIX["counter"])
    channel = rng.choices([c for c, _ in mix], weights=[w for _, w in mix])[0]
    if channel == "vietqr":
        provider = rng.choices([p for p, _ in BANK_FEEDS], weights=[w for _, w in BANK_FEEDS])[0]
    else:
        provider = channel
    return channel, provider


def _paid_at(rng: random.Random, c: Candidate, quarter_end: datetime) -> datetime:
    minutes = rng.randint(10, 240) if c.received_channel == "online" else rng.randint(3, 25)
    at = c.received_at + timedelta(minutes=minutes, seconds=rng.randint(0, 59))
    if at >= quarter_end:
        at = c.received_at + timedelta(seconds=30)
    return at


def _load_candidates(session: Session, start: datetime, end: datetime) -> list[Candidate]:
    assessed = func.sum(FeeLine.amount)
    rows = session.execute(
        select(Dossier.id, Dossier.code, Dossier.agency_id, Dossier.received_at,
               Dossier.received_channel, assessed)
        .join(FeeLine, FeeLine.dossier_id == Dossier.id)
        .where(Dossier.received_at >= start, Dossier.received_at < end,
               Dossier.code.like(f"{DOSSIER_PREFIX}-%"))
        .group_by(Dossier.id, Dossier.code, Dossier.agency_id, Dossier.received_at,
                  Dossier.received_channel)
        .having(assessed > 0)
        .order_by(Dossier.code))
    return [Candidate(i, code, a, r, ch, int(amt)) for i, code, a, r, ch, amt in rows]


@dataclass
class Plan:
    payments: list[PaymentPlan]
    cashless_dossiers: int
    cashless_amount: int
    cash_dossiers: int
    unexpected_lines: int
    faults: dict[str, int]
    payout_faults: dict[str, int] = field(default_factory=dict)


def plan_quarter(candidates: list[Candidate], *, cashless: int, amount: int | None,
                 cash: int, rng: random.Random, quarter_end: datetime,
                 fault_scale: tuple[int, int]) -> Plan:
    """Choose who pays what, how, and which payments go wrong. Pure."""
    cashless = min(cashless, len(candidates))
    faults = {k: _scaled(v, *fault_scale) for k, v in FAULTS.items()}
    order = _weighted_order(rng, candidates, {"online": 3.0, "counter": 1.0, "postal": 1.0})
    # the split transfers first, from the dossiers least likely to be paid online (the end of
    # that order): their dossiers nobody else pays, and the shares of those split count
    # toward the targets as the quarterly report counts them (each under its dossier)
    groups = _split_groups(order[::-1], _scaled(SPLIT_TRANSFERS, *fault_scale),
                           faults["multi_reference_unsplit"])
    in_split = {c.dossier_id for group, _refusal in groups for c in group}
    shared = [c for group, refusal in groups if not refusal for c in group]
    order = [c for c in order if c.dossier_id not in in_split]
    cashless = max(0, min(cashless - len(shared), len(order)))
    if amount is not None:
        amount -= sum(c.assessed for c in shared)
    adjust = min(ADJUST, cashless)
    first_n = cashless - adjust
    # phase A: random picks, keeping the running average near what the target needs
    picked: list[Candidate] = []
    spent = 0
    rest: list[Candidate] = []
    smallest = min((c.assessed for c in candidates), default=0)
    for c in order:
        if len(picked) >= first_n:
            rest.append(c)
            continue
        if amount is not None:
            slots = cashless - len(picked)
            budget = amount - spent
            if c.assessed > 3 * budget // max(slots, 1) or \
                    budget - c.assessed < (slots - 1) * smallest:
                rest.append(c)
                continue
        picked.append(c)
        spent += c.assessed
    payments: list[PaymentPlan] = []
    plans: dict[int, PaymentPlan] = {}
    for c in picked:
        channel, provider = _pick_provider(rng, c.received_channel)
        p = PaymentPlan(c, provider, channel, c.assessed, "succeeded",
                        _paid_at(rng, c, quarter_end), intent_amount=c.assessed)
        payments.append(p)
        plans[c.dossier_id] = p
    # faults on phase-A payments, each on a different payment
    pool = list(range(len(payments)))
    rng.shuffle(pool)

    def take(n: int, ok: Any = lambda _p: True) -> list[PaymentPlan]:
        out: list[PaymentPlan] = []
        for i in list(pool):
            if len(out) >= n:
                break
            if ok(payments[i]):
                out.append(payments[i])
                pool.remove(i)
        return out

    extra: list[PaymentPlan] = []
    for p in take(faults["underpaid"], lambda p: p.channel == "vietqr" and p.amount >= 50_000):
        p.amount -= 10_000 if p.amount > 20_000 else p.amount // 2
        p.kind = "underpaid"
    for p in take(faults["overpaid"], lambda p: p.channel == "vietqr"):
        p.amount += 10_000
        p.kind = "overpaid"
    for p in take(faults["duplicate_payment"]):
        assert p.candidate is not None
        extra.append(PaymentPlan(p.candidate, p.provider, p.channel, p.amount, "succeeded",
                                 p.paid_at + timedelta(minutes=rng.randint(2, 30)),
                                 intent_amount=p.intent_amount, kind="duplicate_payment"))
    for p in take(faults["missing_settlement"], lambda p: p.provider not in ("sepay", "casso")):
        p.settle = "missing"
    for p in take(faults["late_settlement"]):
        p.settle = "late"
    for p in take(faults["amount_mismatch"],
                  lambda p: p.provider not in ("sepay", "casso") and p.amount >= 20_000):
        p.settle = "mismatch"
    for p in take(faults["duplicate_settlement"]):
        p.settle = "twice"
    for p in take(faults["failed_attempt"], lambda p: p.provider in ("vnpay", "momo", "zalopay")):
        extra.append(PaymentPlan(p.candidate, p.provider, p.channel, p.intent_amount or p.amount,
                                 "failed", p.paid_at - timedelta(minutes=rng.randint(2, 9)),
                                 settle="none", intent_amount=p.intent_amount,
                                 kind="failed_attempt"))
    for p in take(faults["fee_mismatch"],
                  lambda p: p.provider in ("vnpay", "momo", "zalopay", "pos")):
        p.settle = "fee"
    fixed = sum(p.amount for p in payments) + sum(
        p.amount for p in extra if p.status == "succeeded")
    # phase B: the last picks, chosen so the total is exact
    chosen_ids = {c.dossier_id for c in picked}
    remaining = [c for c in rest if c.dossier_id not in chosen_ids]
    last: list[Candidate] = []
    if amount is not None and adjust:
        values = Counter(c.assessed for c in remaining)
        wanted = exact_pick(values, adjust, amount - fixed)
        if wanted is None:  # a quarter too small (or too odd) for an exact total
            last = remaining[:adjust]
        else:
            need = Counter(wanted)
            for c in remaining:
                if need[c.assessed] > 0:
                    need[c.assessed] -= 1
                    last.append(c)
    else:
        last = remaining[:adjust]
    for c in last:
        channel, provider = _pick_provider(rng, c.received_channel)
        payments.append(PaymentPlan(c, provider, channel, c.assessed, "succeeded",
                                    _paid_at(rng, c, quarter_end), intent_amount=c.assessed))
        chosen_ids.add(c.dossier_id)
    # cash at the desk, mostly for dossiers received at the counter
    unpaid = [c for c in order if c.dossier_id not in chosen_ids]
    cash_order = _weighted_order(rng, unpaid, {"online": 0.15, "counter": 1.0, "postal": 0.5})
    cash_picks = cash_order[:cash]
    for c in cash_picks:
        payments.append(PaymentPlan(c, "cash", "cash", c.assessed, "succeeded",
                                    _paid_at(rng, c, quarter_end), settle="none"))
    leftover = cash_order[cash:]
    # a refunded payment that the provider settled anyway (the dossier stays outstanding)
    for c in leftover[:faults["status_mismatch"]]:
        extra.append(PaymentPlan(c, "vnpay", "vnpay", c.assessed, "refunded",
                                 _paid_at(rng, c, quarter_end), intent_amount=c.assessed,
                                 kind="status_mismatch"))
    # transfers whose memo names no reference: money with no dossier
    for i in range(faults["unmatched_payment"]):
        donor = order[(i * 997) % len(order)] if order else None
        if donor is None:
            break
        provider = BANK_FEEDS[i % 2][0]
        extra.append(PaymentPlan(None, provider, "vietqr", donor.assessed, "succeeded",
                                 _paid_at(rng, donor, quarter_end), matched=False,
                                 kind="unmatched_payment"))
    extra += _split_transfers(rng, groups, quarter_end)
    # refunded payments with a refund line, last (their own random stream: the rest of the
    # quarter is drawn as without them)
    extra += _refunds(leftover[faults["status_mismatch"]:], quarter_end, fault_scale)
    all_payments = payments + extra
    cashless_ids = {p.candidate.dossier_id for p in all_payments
                    if p.candidate and p.matched and p.status == "succeeded"
                    and p.channel != "cash"} | {c.dossier_id for c in shared}
    total = sum(p.amount for p in all_payments
                if p.candidate and p.matched and p.status == "succeeded" and p.channel != "cash"
                ) + sum(c.assessed for c in shared)
    counts = Counter(p.kind for p in all_payments if p.kind != "clean")
    settle_fault = {"missing": "missing_settlement", "late": "late_settlement",
                    "mismatch": "amount_mismatch", "twice": "duplicate_settlement",
                    "fee": "fee_mismatch", "refund_fee": "fee_mismatch"}
    counts.update(settle_fault[p.settle] for p in all_payments if p.settle in settle_fault)
    counts["unexpected_settlement"] = faults["unexpected_settlement"]
    payout_faults = {k: faults[k] for k in PAYOUT_FAULTS}
    counts.update(payout_faults)
    return Plan(all_payments, len(cashless_ids), total, len(cash_picks),
                faults["unexpected_settlement"], dict(sorted(counts.items())), payout_faults)


def _refunds(unpaid: Sequence[Candidate], quarter_end: datetime,
             fault_scale: tuple[int, int]) -> list[PaymentPlan]:
    """``REFUNDS`` (scaled) gateway payments of dossiers nobody else pays, refunded: each
    settled, then refunded by a refund line; ``REFUND_FAULTS`` of them with a wrong refund
    fee, spread over the list."""
    count = _scaled(REFUNDS, *fault_scale)
    wrong_count = _scaled(REFUND_FAULTS["fee_mismatch"], *fault_scale)
    picked = [c for c in unpaid if c.assessed >= REFUND_MIN][:count]
    wrong = {int((k + 0.5) * len(picked) / wrong_count) for k in range(wrong_count)
             } if picked and wrong_count else set()
    rng = random.Random(f"recon-demo-refunds:{len(picked)}")  # noqa: S311
    out = []
    for i, c in enumerate(picked):
        provider = REFUND_PROVIDERS[i % len(REFUND_PROVIDERS)]
        out.append(PaymentPlan(c, provider, provider, c.assessed, "refunded",
                               _paid_at(rng, c, quarter_end),
                               intent_amount=c.assessed,
                               settle="refund_fee" if i in wrong else "refund"))
    return out


def _split_groups(dossiers: Sequence[Candidate], count: int, refused: int,
                 ) -> list[tuple[tuple[Candidate, ...], str]]:
    """``count`` groups of two or three dossiers of one agency received the same day (taken
    in order from ``dossiers``), each paid by one bank transfer, with how the transfer is
    refused: "" for the first ``count - refused`` (split), then alternately each of
    SPLIT_REFUSALS. Pure."""
    out: list[tuple[tuple[Candidate, ...], str]] = []
    groups: dict[tuple[int, date], list[Candidate]] = {}
    for c in dossiers:
        if len(out) >= count:
            break
        key = (c.agency_id, c.received_at.astimezone(VN_TZ).date())
        group = groups.setdefault(key, [])
        group.append(c)
        if len(group) < 2 + len(out) % 2:
            continue
        del groups[key]
        n = len(out)
        refusal = SPLIT_REFUSALS[(n - (count - refused)) % len(SPLIT_REFUSALS)] \
            if n >= count - refused else ""
        out.append((tuple(group), refusal))
    return out


def _split_transfers(rng: random.Random, groups: Sequence[tuple[tuple[Candidate, ...], str]],
                     quarter_end: datetime) -> list[PaymentPlan]:
    """The bank transfers of :func:`_split_groups`, one per group, paying its dossiers'
    assessed total (plus SPLIT_FAULT_EXTRA for an ``amount_differs`` refusal). They pay no
    dossier of their own (``candidate`` None); the plan counts the shares of those split
    under their dossiers, as the quarterly report does."""
    out: list[PaymentPlan] = []
    for n, (group, refusal) in enumerate(groups):
        amount = sum(x.assessed for x in group)
        if refusal == "amount_differs":
            amount += SPLIT_FAULT_EXTRA
        provider = BANK_FEEDS[n % 2][0]
        last = max(group, key=lambda x: (x.received_at, x.dossier_id))
        out.append(PaymentPlan(None, provider, "vietqr", amount, "succeeded",
                               _paid_at(rng, last, quarter_end), matched=False,
                               kind="multi_reference_unsplit" if refusal else "clean",
                               shares=group, refusal=refusal))
    return out


# --------------------------------------------------------------------------- writing


def _txn_id(rng: random.Random, provider: str, paid_at: datetime, n: int) -> str:
    vn = paid_at.astimezone(VN_TZ)
    if provider == "sepay":
        return str(1_200_000 + n)
    if provider == "casso":
        return str(3_400_000 + n)
    if provider == "vnpay":
        return str(13_500_000 + n)
    if provider == "momo":
        return str(2_460_000_000 + n * 7 + rng.randint(0, 6))
    if provider == "zalopay":
        return f"{vn:%y%m%d}{n:06d}"
    if provider == "payos":
        return f"FT21{vn:%j}{n:08d}"
    if provider == "pos":
        return f"{vn:%y}{vn:%j}{n:07d}"
    return f"BL{vn:%y}-{n:06d}"  # cash: the receipt number


def _bank_reference(provider: str, txn: str) -> str | None:
    """The bank's reference of a credit, as the bank feeds report it (payOS: its own id)."""
    if provider in ("sepay", "casso"):
        return f"FT21{txn}"
    if provider == "payos":
        return txn
    return None


def demo_method(provider: str, n: int) -> tuple[str | None, bool | None]:
    """The demo payment's method and whether its card is foreign, by its number (no draw from
    the plan's random stream): VNPay by QR, one in three by domestic card; MoMo and ZaloPay
    from the wallet; POS by NAPAS card, one in four by Visa (one Visa in five issued abroad);
    the bank transfers (VietQR via SePay, Casso, payOS) report no method."""
    if provider == "vnpay":
        return ("domestic_card" if n % 3 == 0 else "qr"), None
    if provider in ("momo", "zalopay"):
        return "wallet", None
    if provider == "pos":
        if n % 4 == 0:
            return "visa", n % 20 == 0
        return "napas", False
    return None, None


_CARD_FIELDS = {"qr": ("QRCODE", "VNPAYQR"), "domestic_card": ("ATM", "NCB")}


def _callback_body(provider: str, p: PaymentPlan, txn: str, ref: str | None, memo: str | None,
                   order_code: int | None, account: str, method: str | None = None,
                   foreign: bool | None = None) -> tuple[str, str, bytes, dict[str, str]]:
    """(HTTP method, query string, body, headers) shaped like the provider's own call;
    ``method`` and ``foreign`` from :func:`demo_method`."""
    vn = p.paid_at.astimezone(VN_TZ)
    headers = {"Content-Type": "application/json", "X-Recon-Demo": DEMO_NOTE}
    data: dict[str, Any]
    if provider == "vnpay":
        status = "00" if p.status == "succeeded" else "24"
        card_type, bank_code = _CARD_FIELDS[method or "domestic_card"]
        query = (f"vnp_Amount={p.amount * 100}&vnp_BankCode={bank_code}&vnp_CardType={card_type}"
                 f"&vnp_OrderInfo=Thanh+toan+ho+so+{ref}&vnp_PayDate={vn:%Y%m%d%H%M%S}"
                 f"&vnp_ResponseCode={status}&vnp_TmnCode=DEVTMN01&vnp_TransactionNo={txn}"
                 f"&vnp_TransactionStatus={status}&vnp_TxnRef={ref}&vnp_SecureHash=demo")
        return "GET", query, b"", {"X-Recon-Demo": DEMO_NOTE}
    if provider == "sepay":
        data = {"id": int(txn), "gateway": "VietinBank",
                "transactionDate": f"{vn:%Y-%m-%d %H:%M:%S}", "accountNumber": account,
                "code": ref, "content": memo, "transferType": "in",
                "transferAmount": p.amount, "referenceCode": _bank_reference(provider, txn),
                "description": memo}
        headers["Authorization"] = "Apikey demo"
    elif provider == "casso":
        data = {"error": 0, "data": {"id": int(txn), "reference": _bank_reference(provider, txn),
                                     "description": memo, "amount": p.amount,
                                     "transactionDateTime": f"{vn:%Y-%m-%d %H:%M:%S}",
                                     "accountNumber": account, "bankName": "VietinBank"}}
        headers["X-Casso-Signature"] = "t=0,v1=demo"
    elif provider == "momo":
        data = {"partnerCode": "MOMODEV", "orderId": ref, "requestId": ref, "amount": p.amount,
                "orderInfo": f"Thanh toan ho so {ref}", "orderType": "momo_wallet",
                "transId": int(txn), "resultCode": 0 if p.status == "succeeded" else 1006,
                "message": "Successful." if p.status == "succeeded" else "Transaction denied.",
                "payType": "qr", "responseTime": int(vn.timestamp() * 1000), "extraData": "",
                "signature": "demo"}
    elif provider == "zalopay":
        inner = {"app_id": 2553, "app_trans_id": f"{vn:%y%m%d}_{ref}",
                 "app_time": int(vn.timestamp() * 1000), "amount": p.amount,
                 "zp_trans_id": int(txn), "server_time": int(vn.timestamp() * 1000),
                 "channel": 38, "merchant_user_id": "", "user_fee_amount": 0,
                 "discount_amount": 0}
        data = {"data": json.dumps(inner, separators=(",", ":")), "mac": "demo", "type": 1}
    elif provider == "payos":
        data = {"code": "00", "desc": "success", "success": True,
                "data": {"orderCode": order_code, "amount": p.amount, "description": ref,
                         "accountNumber": account, "reference": txn,
                         "transactionDateTime": f"{vn:%Y-%m-%d %H:%M:%S}", "currency": "VND",
                         "code": "00", "desc": "Thành công"},
                "signature": "demo"}
    else:  # pos
        data = {"event_id": f"evt_{txn}", "type": "sale", "terminal_id": "70012345",
                "rrn": txn, "response_code": "00",
                "masked_pan": "411111******1111" if method == "visa" else "970415******1234",
                "card_brand": "VISA" if method == "visa" else "NAPAS",
                "issuer_country": "KR" if foreign else "VN", "amount": p.amount,
                "currency": "704", "transaction_at": vn.isoformat(), "reference": ref}
        headers["X-Recon-Signature"] = "t=0,v1=demo"
    return "POST", "", json.dumps(data, ensure_ascii=False).encode("utf-8"), headers


def _line_kind(line: Sequence[Any]) -> tuple[str, str | None]:
    """A demo line's kind and a refund's original id (a refund line has two more fields)."""
    return (line[6], line[7]) if len(line) > 6 else ("sale", None)


def _settlement_csv(lines: list[Sequence[Any]]) -> bytes:
    """The canonical CSV; with the kind and original_txn_id columns when a line is a refund."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    kinds = any(len(line) > 6 for line in lines)
    writer.writerow(["provider_txn_id", "amount", "fee", "transaction_at", "settled_on",
                     "net_amount", "reference"] + (["kind", "original_txn_id"] if kinds else []))
    for line in lines:
        txn, amount, fee, at, settled_on, ref = line[:6]
        kind, original = _line_kind(line)
        writer.writerow([txn, amount, fee, at.astimezone(VN_TZ).isoformat(),
                         settled_on.isoformat(), amount - fee, ref or ""]
                        + ([kind, original or ""] if kinds else []))
    return out.getvalue().encode("utf-8")


def _file_order(key: tuple[str, date, int | None]) -> tuple[str, date, int]:
    return (key[0], key[1], key[2] or 0)


def _statement_csv(agency: Agency, day: date, lines: list[Sequence[Any]]) -> bytes:
    """A VietinBank account statement (Sao kê tài khoản) of the credits, as the
    ``vietinbank_statement`` profile reads it: the bank's reference is the id, amounts as
    ``180,000``, a title block above the header and a total below."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["NGÂN HÀNG TMCP CÔNG THƯƠNG VIỆT NAM - VIETINBANK"])
    writer.writerow(["SAO KÊ TÀI KHOẢN / ACCOUNT STATEMENT"])
    writer.writerow([f"Số tài khoản: {agency.account_number}",
                     f"Tên tài khoản: {agency.account_name}"])
    writer.writerow([f"Từ ngày: {day:%d/%m/%Y}", f"Đến ngày: {day:%d/%m/%Y}"])
    writer.writerow([])
    writer.writerow(["STT", "Ngày giao dịch", "Số tham chiếu", "Nội dung", "Số tiền ghi nợ",
                     "Số tiền ghi có"])
    for number, (bank_ref, amount, _fee, at, _settled_on, memo) in enumerate(lines, start=1):
        writer.writerow([number, f"{at.astimezone(VN_TZ):%d/%m/%Y %H:%M:%S}", bank_ref,
                         memo or "", "", f"{amount:,}"])
    writer.writerow(["Tổng cộng", "", "", "", "0", f"{sum(ln[1] for ln in lines):,}"])
    return out.getvalue().encode("utf-8")


def seed_payments(db: Database, clock: Clock, *, year: int = 2021, quarter: int = 1,
                  seed: int = 2021) -> SeedReport:
    """Give the demo quarter its payments (see the module doc). Idempotent."""
    report = SeedReport()
    start, end = quarter_bounds(year, quarter)
    with db.transaction() as s:
        marker = s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == SEEDED_ACTION, AuditEvent.entity_id == f"{year}Q{quarter}"))
        if marker:
            report.skipped = True
            return report
        candidates = _load_candidates(s, start, end)
        if not candidates:
            return report
        received = int(s.scalar(select(func.count()).select_from(Dossier).where(
            Dossier.received_at >= start, Dossier.received_at < end,
            Dossier.code.like(f"{DOSSIER_PREFIX}-%"))) or 0)
        published = received == PUBLISHED_DOSSIERS
        cashless = PUBLISHED_CASHLESS if published else _scaled(
            PUBLISHED_CASHLESS, received, PUBLISHED_DOSSIERS)
        cash = PUBLISHED_CASH if published else _scaled(PUBLISHED_CASH, received,
                                                        PUBLISHED_DOSSIERS)
        amount = PUBLISHED_AMOUNT if published else None
        rng = random.Random(f"recon-demo-payments:{seed}:{year}:Q{quarter}")  # noqa: S311
        plan = plan_quarter(candidates, cashless=cashless, amount=amount, cash=cash, rng=rng,
                            quarter_end=end.astimezone(VN_TZ),
                            fault_scale=(cashless, PUBLISHED_CASHLESS))
        agencies = {a.id: a for a in s.scalars(select(Agency))}
        counts = _write(s, clock, plan, agencies, rng)
        report.cashless_dossiers = plan.cashless_dossiers
        report.cashless_amount = plan.cashless_amount
        report.cash_dossiers = plan.cash_dossiers
        report.faults = plan.faults
        report.payments = counts.get("payments", 0)
        report.intents = counts.get("intents", 0)
        report.callbacks = counts.get("callbacks", 0)
        report.settlement_files = counts.get("files", 0)
        report.settlement_lines = counts.get("lines", 0)
        report.split_transfers = counts.get("splits", 0)
        report.allocations = counts.get("allocations", 0)
        audit.record(s, clock, actor="demo", action=SEEDED_ACTION, entity_type="demo",
                     entity_id=f"{year}Q{quarter}", data=report.as_dict())
    return report


def _contract(book: ContractBook, provider: str, method: str | None,
              at: datetime) -> Contract | None:
    return book.find(provider, method, at.astimezone(VN_TZ).date())


def _price(priced: list[tuple[datetime, date, int, list[Any], Contract, bool | None, bool,
                              int]]) -> None:
    """Each line's fee by its contract: a tiered contract's rate by the line's place in its
    month's count, in transaction order (the order the engine counts in: transaction time,
    then line id, which follows the settlement date and the order within the file)."""
    counter = MonthCounter()
    for at, _settled_on, _order, line, contract, foreign, counted, extra in sorted(
            priced, key=lambda item: item[:3]):
        count = counter.next(contract, at.astimezone(VN_TZ).date()) if counted else 0
        rate = contract.rate_at(contract.level_for(count))
        line[2] = contract.fee(line[1], rate_bp=rate, foreign_card=bool(foreign)) + extra


def _write(s: Session, clock: Clock, plan: Plan, agencies: dict[int, Agency],
           rng: random.Random) -> dict[str, int]:
    """Bulk-insert the plan: callbacks, intents, payments, settlement files and lines."""
    now = clock.now()
    intents: list[tuple[Any, ...]] = []
    payments: list[tuple[Any, ...]] = []
    callbacks: list[tuple[Any, ...]] = []
    # settlement lines grouped by (provider, day, the statement's agency or None for the
    # provider's own report)
    files: dict[tuple[str, date, int | None], list[Sequence[Any]]] = {}
    twice: list[tuple[tuple[str, date, int | None], Sequence[Any]]] = []
    book = load_contracts()
    # (transaction time, settled on, order, the line, its contract, foreign card, counted in
    # the month, fault extra): the provider lines whose fee the contracts set
    priced: list[tuple[datetime, date, int, list[Any], Contract, bool | None, bool, int]] = []
    cashless = [p for p in plan.payments if p.channel != "cash"]
    n_callbacks = len(cashless)
    n_intents = len({p.candidate.dossier_id for p in cashless if p.candidate is not None}) + \
        sum(len(p.shares) for p in cashless)
    intent_ids = iter(allocate_ids(s, "payment_intents", n_intents))
    callback_ids = iter(allocate_ids(s, "callbacks", n_callbacks))
    payment_ids = iter(allocate_ids(s, "payments", len(plan.payments)))
    intent_for: dict[int, tuple[int, str, int | None]] = {}  # dossier -> (intent, ref, code)
    # split transfers: (payment id, outcome, plan); their allocations are written below
    splits: list[tuple[int, AllocationPlan | Refusal, PaymentPlan]] = []
    receipt_no = 0
    for n, p in enumerate(plan.payments, start=1):
        payment_id = next(payment_ids)
        if p.channel == "cash":
            receipt_no += 1
            assert p.candidate is not None
            receipt = f"BL{p.paid_at.astimezone(VN_TZ):%y}-{receipt_no:06d}"
            payments.append((payment_id, "cash", receipt, "cash", p.amount, p.status, p.paid_at,
                             p.paid_at, None, None, None, None, p.candidate.dossier_id, None,
                             receipt, "user:thungan", now, None, None, None, None))
            continue
        txn = _txn_id(rng, p.provider, p.paid_at, n)
        received_at = p.paid_at + timedelta(seconds=rng.randint(1, 20))
        ref: str | None = None
        order_code: int | None = None
        intent_id: int | None = None
        agency = agencies[p.candidate.agency_id] if p.candidate else (
            agencies[p.shares[0].agency_id] if p.shares else next(iter(agencies.values())))
        split: AllocationPlan | Refusal | None = None
        if p.shares:
            split, memo_refs = _split_intents(p, agency, intents, intent_ids, rng, now)
        if p.candidate is not None:
            known = intent_for.get(p.candidate.dossier_id)
            if known is None:
                intent_id = next(intent_ids, None)
                if intent_id is None:  # pragma: no cover - counted above
                    raise RuntimeError("intent ids ran out")
                ref = mint("HS", rng=rng.randrange)
                created = p.paid_at - timedelta(minutes=rng.randint(1, 6))
                order_code = 21_000_000 + intent_id if p.channel == "payos" else None
                app_trans = (f"{created.astimezone(VN_TZ):%y%m%d}_{ref}"
                             if p.channel == "zalopay" else None)
                intent_amount = p.intent_amount or p.amount
                payload = (encode(VietQRRequest(bin=agency.bank_bin,
                                                account=agency.account_number,
                                                amount=intent_amount, purpose=ref))
                           if p.channel == "vietqr" else None)
                paid = p.status in ("succeeded", "refunded")
                creator = ("system:portal" if p.candidate.received_channel == "online"
                           else "user:thungan")
                intents.append((intent_id, p.candidate.dossier_id, p.channel, intent_amount,
                                ref, "paid" if paid else "expired", order_code, app_trans,
                                payload, creator, created,
                                created + timedelta(minutes=15), p.paid_at if paid else None,
                                p.paid_at if paid else created + timedelta(minutes=15), now))
                intent_for[p.candidate.dossier_id] = (intent_id, ref, order_code)
            else:
                intent_id, ref, order_code = known
        name = "NGUYEN VAN AN" if rng.random() < 0.5 else "TRAN THI BICH"
        memo = None
        if p.shares:  # a service agent's transfer naming every dossier's reference
            memo = f"{' '.join(memo_refs)} {name} nop phi {len(p.shares)} ho so"
        elif p.channel == "vietqr":  # bank transfers carry the citizen's free text
            memo = (f"{ref} {name} nop le phi ho so" if ref else
                    f"{name} chuyen tien nop phi ho so")
        callback_id = next(callback_ids)
        pay_method, foreign = demo_method(p.provider, n)
        method, query, body, headers = _callback_body(p.provider, p, txn, ref, memo, order_code,
                                                      agency.account_number, pay_method, foreign)
        outcome = "accepted" if p.candidate is not None else "unknown_order"
        if split is not None:
            splits.append((payment_id, split, p))
        callbacks.append((callback_id, p.provider, received_at, method,
                          f"/webhooks/{p.provider}", query, json.dumps(headers), body,
                          "203.0.113.10", f"demo-{callback_id}", None, outcome, DEMO_NOTE, txn,
                          payment_id, 200, '{"success":true}'))
        bank_ref = _bank_reference(p.provider, txn)
        payments.append((payment_id, p.provider, txn, p.channel, p.amount, p.status, p.paid_at,
                         received_at, ref if p.candidate else None, memo,
                         str(order_code) if order_code else None, intent_id,
                         p.candidate.dossier_id if p.candidate and p.matched else None,
                         callback_id, None, f"webhook:{p.provider}", now, bank_ref,
                         refusal_json(split) if isinstance(split, Refusal) else None,
                         pay_method, foreign))
        if p.settle in ("none", "missing") or (p.status == "failed"):
            continue
        days = SETTLE_DAYS[p.provider] + (rng.randint(6, 9) if p.settle == "late" else 0)
        settled_on = p.paid_at.astimezone(VN_TZ).date() + timedelta(days=max(days, 0))
        gross = p.amount
        if p.settle == "mismatch":  # the provider settled a different gross amount
            gross = p.amount - max(1_000, p.amount // 100_000 * 1_000)
        statement = (agency.id if p.provider in STATEMENT_PROVIDERS
                     and agency.bank_bin == STATEMENT_BIN else None)
        line: list[Any]
        if statement is not None:  # the bank's line: its reference, the day it was credited
            assert bank_ref is not None
            line = [bank_ref, gross, 0, p.paid_at, p.paid_at.astimezone(VN_TZ).date(), memo]
        else:  # its fee is set below, once every line's place in its month is known
            line = [txn, gross, 0, p.paid_at, settled_on, ref]
            contract = _contract(book, p.provider, pay_method, p.paid_at)
            if contract is not None:
                # the lines the engine judges (and counts) are the originals of succeeded
                # payments, whatever gross they were settled at
                counted = p.status == "succeeded"
                priced.append((p.paid_at, settled_on, len(priced), line, contract, foreign,
                               counted, FEE_FAULT_EXTRA if p.settle == "fee" else 0))
        files.setdefault((p.provider, settled_on, statement), []).append(line)
        if p.settle in ("refund", "refund_fee"):  # refunded a few days later: a refund line
            at = p.paid_at + REFUND_AFTER
            on = at.astimezone(VN_TZ).date() + timedelta(days=SETTLE_DAYS[p.provider])
            refund_contract = _contract(book, p.provider, pay_method, at)
            refund_fee = 0 if refund_contract is None else refund_contract.refund_fee(gross)
            if p.settle == "refund_fee":
                refund_fee += REFUND_FEE_EXTRA
            # half the refunds carry an id of their own and name the sale; the others carry
            # the sale's id
            own, original = (f"RF{txn}", txn) if n % 2 else (txn, None)
            files.setdefault((p.provider, on, None), []).append(
                [own, gross, refund_fee, at, on, ref, "refund", original])
        if p.settle == "twice":
            twice.append(((p.provider, settled_on, statement), line))
    _price(priced)
    # a line settled twice comes again in the provider's next file (a file of its own only when
    # there is none: a one-line file resent as such would be the same bytes, which an import
    # refuses as the same file)
    for (provider, settled_on, statement), again in twice:
        later = sorted(k for k in files if k[0] == provider and k[2] == statement
                       and k[1] > settled_on)
        files.setdefault(later[0] if later else (provider, settled_on + timedelta(days=1),
                                                 statement), []).append(again)
    # settlements with no recorded payment (the provider's call never reached us)
    keys = sorted(files, key=_file_order)
    for i in range(plan.unexpected_lines):
        if not keys:
            break
        provider, settled_on, statement = keys[(i * 37) % len(keys)]
        amount = rng.choice((2_000, 50_000, 135_000, 200_000))
        at = datetime.combine(settled_on - timedelta(days=SETTLE_DAYS[provider]),
                              datetime.min.time(), VN_TZ) + timedelta(hours=9, minutes=i)
        stray_contract = _contract(book, provider, None, at)
        fee = stray_contract.fee(amount) if stray_contract is not None else 0
        stray = _txn_id(rng, provider, at, 900_000 + i)
        files[(provider, settled_on, statement)].append(
            (f"FT21{stray}", amount, 0, at, at.date(), "CHUYEN TIEN") if statement is not None
            else (stray, amount, fee, at, settled_on, None))
    _payout_credits(files, plan.payout_faults, agencies)
    file_rows: list[tuple[Any, ...]] = []
    line_rows: list[tuple[Any, ...]] = []
    file_ids = iter(allocate_ids(s, "settlement_files", len(files)))
    line_ids = iter(allocate_ids(s, "settlement_lines", sum(len(v) for v in files.values())))
    for (provider, settled_on, statement), lines in sorted(
            files.items(), key=lambda kv: _file_order(kv[0])):
        file_id = next(file_ids)
        if statement is None:
            content = _settlement_csv(lines)
            filename, profile = f"{provider}-{settled_on.isoformat()}.csv", "canonical"
        else:
            account = agencies[statement]
            content = _statement_csv(account, settled_on, lines)
            filename = (f"vietinbank-{account.account_number}-{settled_on.isoformat()}"
                        f"-{provider}.csv")
            profile = STATEMENT_PROFILE
        imported = datetime.combine(settled_on + timedelta(days=1), datetime.min.time(),
                                    VN_TZ) + timedelta(hours=8)
        file_rows.append((file_id, provider, filename,
                          hashlib.sha256(content).hexdigest(), len(content), content, "demo",
                          profile, imported, "demo", len(lines),
                          sum(line[1] for line in lines)))
        for line_no, row in enumerate(lines, start=1):
            txn, gross, fee, at, day, ref = row[:6]
            line_rows.append((next(line_ids), file_id, line_no, provider, txn, gross, fee,
                              gross - fee, at, day, ref, now, *_line_kind(row)))
    insert_rows(s, "callbacks", (
        "id", "provider", "received_at", "method", "path", "query_string", "headers", "body",
        "remote_addr", "request_id", "signature_valid", "outcome", "outcome_detail",
        "provider_txn_id", "payment_id", "response_status", "response_body"), callbacks)
    insert_rows(s, "payment_intents", (
        "id", "dossier_id", "channel", "amount", "reference", "status", "order_code",
        "provider_order_id", "qr_payload", "created_by", "created_at", "expires_at", "paid_at",
        "closed_at", "updated_at"), intents)
    insert_rows(s, "payments", (
        "id", "provider", "provider_txn_id", "channel", "amount", "status", "paid_at",
        "received_at", "reference", "memo", "order_id", "intent_id", "dossier_id",
        "callback_id", "receipt_number", "recorded_by", "updated_at", "bank_reference",
        "split_refusal", "method", "card_foreign"), payments)
    allocations = _write_splits(s, clock, splits)
    insert_rows(s, "settlement_files", (
        "id", "provider", "filename", "sha256", "size", "content", "source", "profile",
        "imported_at", "imported_by", "row_count", "total_amount"), file_rows)
    insert_rows(s, "settlement_lines", (
        "id", "file_id", "line_no", "provider", "provider_txn_id", "amount", "fee", "net",
        "transaction_at", "settled_on", "reference", "created_at", "kind", "original_txn_id"),
        line_rows)
    return {"payments": len(payments), "intents": len(intents),
            "splits": len(splits), "allocations": allocations,
            "callbacks": len(callbacks), "files": len(file_rows), "lines": len(line_rows)}


def _split_intents(p: PaymentPlan, agency: Agency, intents: list[tuple[Any, ...]],
                   intent_ids: Iterator[int], rng: random.Random, now: datetime,
                   ) -> tuple[AllocationPlan | Refusal, list[str]]:
    """The intents of a split transfer's dossiers (one reference each, as the desk issued
    them), the references its memo names (one mistyped for an ``unknown_reference`` fault)
    and what :func:`recon.payments.split.split_by_references` decides for it, exactly as
    recording would: each dossier owes its assessed total (nobody else pays them)."""
    owed: dict[str, Owed] = {}
    refs: list[str] = []
    pending: list[tuple[Any, ...]] = []
    for c in p.shares:
        intent_id = next(intent_ids, None)
        if intent_id is None:  # pragma: no cover - counted above
            raise RuntimeError("intent ids ran out")
        ref = mint("HS", rng=rng.randrange)
        created = p.paid_at - timedelta(minutes=rng.randint(1, 6))
        payload = encode(VietQRRequest(bin=agency.bank_bin, account=agency.account_number,
                                       amount=c.assessed, purpose=ref))
        creator = "system:portal" if c.received_channel == "online" else "user:thungan"
        pending.append((intent_id, c.dossier_id, "vietqr", c.assessed, ref, created, payload,
                        creator))
        owed[ref] = Owed(c.dossier_id, c.assessed)
        refs.append(ref)
    memo_refs = list(refs)
    if p.refusal == "unknown_reference":  # the agent mistyped the last one
        memo_refs[-1] = mint("HS", rng=rng.randrange)
    outcome = split_by_references(memo_references(" ".join(memo_refs), "HS"), p.amount, owed)
    if isinstance(outcome, AllocationPlan) != (not p.refusal) or (
            isinstance(outcome, Refusal) and outcome.reason != p.refusal):
        raise RuntimeError(f"demo split planned {p.refusal or 'split'}, got {outcome}")
    paid = isinstance(outcome, AllocationPlan)
    for intent_id, dossier_id, channel, amount, ref, created, payload, creator in pending:
        expires = created + timedelta(minutes=15)
        intents.append((intent_id, dossier_id, channel, amount, ref,
                        "paid" if paid else "issued", None, None, payload, creator, created,
                        expires, p.paid_at if paid else None, p.paid_at if paid else None, now))
    return outcome, memo_refs


def _write_splits(s: Session, clock: Clock,
                  splits: list[tuple[int, AllocationPlan | Refusal, PaymentPlan]]) -> int:
    """The allocations of the split transfers (payment_allocations, as recording writes
    them) and, for each transfer, the audit event recording writes: ``payment.allocated``
    with its shares, or ``payment.split_refused`` with the reason (the refusal itself is on
    the payment). Returns how many allocations."""
    now = clock.now()
    shares = [(payment_id, share) for payment_id, outcome, _p in splits
              if isinstance(outcome, AllocationPlan) for share in outcome.shares]
    if shares:  # none in a quarter too small for a split transfer
        ids = iter(allocate_ids(s, "payment_allocations", len(shares)))
        insert_rows(s, "payment_allocations", ("id", "payment_id", "dossier_id", "amount",
                                               "created_at"),
                    [(next(ids), payment_id, share.dossier_id, share.amount, now)
                     for payment_id, share in shares])
    for payment_id, outcome, p in splits:
        actor = f"webhook:{p.provider}"
        if isinstance(outcome, AllocationPlan):
            audit.record(s, clock, actor=actor, action=ALLOCATED, entity_type="payment",
                         entity_id=payment_id,
                         data={"amount": p.amount, "allocations": [
                             {"reference": share.reference, "dossier_id": share.dossier_id,
                              "amount": share.amount} for share in outcome.shares]})
        else:
            audit.record(s, clock, actor=actor, action=SPLIT_REFUSED, entity_type="payment",
                         entity_id=payment_id,
                         data={"amount": p.amount, "reason": outcome.reason,
                               "references": list(outcome.references),
                               "culprits": list(outcome.culprits),
                               "difference": outcome.difference})
    return len(shares)


def _payout_credits(files: dict[tuple[str, date, int | None], list[Sequence[Any]]],
                    faults: dict[str, int], agencies: dict[int, Agency]) -> None:
    """The gateways' payouts on the province centre's VietinBank statement: each batch (the
    providers' settlement lines grouped as the payout pass groups them) credited its net on
    its expected banking day, except the planned faults: batches never credited, credits
    ``PAYOUT_SHORT`` short, and stray provider credits on a Saturday that no batch explains."""
    centre = min((a for a in agencies.values() if a.bank_bin == STATEMENT_BIN),
                 key=lambda a: a.id, default=None)
    if centre is None:
        return
    config = payout_config({})
    rows: list[SettlementLineRow] = []
    for (provider, _day, statement), lines in sorted(files.items(),
                                                     key=lambda kv: _file_order(kv[0])):
        if statement is not None or provider not in config.providers:
            continue
        for line in lines:
            txn, gross, fee, at, day, _ref = line[:6]
            kind, original = _line_kind(line)
            rows.append(SettlementLineRow(len(rows) + 1, provider, txn, gross, fee,
                                          gross - fee, day, at,
                                          (original or txn) if kind == "refund" else None))
    # a session of refunds only is credited nothing (its lack goes to the next session)
    batches = [b for b in build_batches(rows, config) if not b.carries_forward]
    if not batches:
        return

    def spread(count: int, offset: float) -> set[int]:
        return {min(len(batches) - 1, int((i + offset) * len(batches) / count))
                for i in range(count)} if count else set()

    missing = spread(faults.get("payout_missing", 0), 0.3)
    short = spread(faults.get("payout_mismatch", 0), 0.7) - missing
    seq = 0

    def book(provider: str, day: date, amount: int, session: date) -> None:
        nonlocal seq
        seq += 1
        at = datetime.combine(day, datetime.min.time(), VN_TZ) + timedelta(hours=9,
                                                                            minutes=seq % 50)
        line = (f"FT21PO{seq:06d}", amount, 0, at, day,
                PAYOUT_MEMOS[provider].format(day=session))
        files.setdefault(("sepay", day, centre.id), []).append(line)

    for i, batch in enumerate(batches):
        if i in missing:
            continue
        amount = batch.expected_credit
        if i in short:
            amount = amount - PAYOUT_SHORT if amount > PAYOUT_SHORT else amount + PAYOUT_SHORT
        book(batch.provider, batch.expected_on, amount, batch.session_on)
    for i in sorted(spread(faults.get("payout_unexpected", 0), 0.5)):
        batch = batches[i]
        saturday = batch.session_on + timedelta(days=(5 - batch.session_on.weekday()) % 7)
        book(batch.provider, saturday, 1_234_000 + 1_000 * i, saturday)
