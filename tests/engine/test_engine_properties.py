"""Properties of the engine over generated worlds (Hypothesis)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from recon.clock import VN_TZ
from recon.engine import (
    KINDS,
    SUBJECTS,
    DossierRow,
    EngineConfig,
    FeeLineRow,
    IntentRow,
    PaymentRow,
    Reconciliation,
    SettlementLineRow,
    classify,
    parse_identity,
    reconcile,
    settlement_cutoff,
    settlement_overdue,
)

BASE = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
PROVIDERS = ("vnpay", "momo", "sepay", "pos", "cash")
AMOUNTS = (0, 10_000, 20_000, 30_000, 50_000)  # few values, so repeats and ties are common
STATUSES = ("succeeded", "succeeded", "succeeded", "failed", "refunded")
DOSSIER_KINDS = {"underpaid", "overpaid", "duplicate_payment"}
LINE_KINDS = {"unexpected_settlement", "amount_mismatch", "duplicate_settlement",
              "status_mismatch"}


@dataclass
class World:
    dossiers: list[DossierRow]
    fee_lines: list[FeeLineRow] | None
    intents: list[IntentRow]
    payments: list[PaymentRow]
    lines: list[SettlementLineRow]
    as_of: datetime
    config: EngineConfig = field(default_factory=EngineConfig)

    def run(self) -> Reconciliation:
        return reconcile(
            dossiers=self.dossiers, fee_lines=self.fee_lines, intents=self.intents,
            payments=self.payments, settlement_lines=self.lines, as_of=self.as_of,
            config=self.config,
        )


def moments(first_day: int = 0, last_day: int = 10) -> st.SearchStrategy[datetime]:
    """Minutes over some days, given in UTC or in Vietnam time (the engine takes both)."""
    return st.builds(
        lambda minutes, local: (BASE + timedelta(minutes=minutes)).astimezone(
            VN_TZ if local else UTC),
        st.integers(first_day * 24 * 60, last_day * 24 * 60), st.booleans(),
    )


@st.composite
def worlds(draw: st.DrawFn) -> World:
    # a crowded world: one or two dossiers paid many times with few amounts (duplicates)
    crowded = draw(st.booleans())
    pay_amounts = (10_000, 20_000) if crowded else AMOUNTS
    dossier_ids = draw(st.lists(st.integers(1, 40), unique=True, min_size=int(crowded),
                                max_size=2 if crowded else 4))
    by_fee_lines = draw(st.booleans())
    dossiers: list[DossierRow] = []
    fee_lines: list[FeeLineRow] = []
    for dossier_id in dossier_ids:
        parts = draw(st.lists(st.sampled_from(AMOUNTS), max_size=3))
        fee_lines.extend(FeeLineRow(dossier_id, a) for a in parts)
        total = None if by_fee_lines else sum(parts)
        dossiers.append(DossierRow(dossier_id, f"HS-{dossier_id}", total))

    intents: list[IntentRow] = []
    if dossier_ids:
        for intent_id in draw(st.lists(st.integers(1, 40), unique=True, max_size=5)):
            owner = draw(st.sampled_from(dossier_ids))
            amount = draw(st.sampled_from(AMOUNTS))
            intents.append(IntentRow(intent_id, owner, f"REF{intent_id}", amount, "vietqr",
                                     "issued"))

    keys = draw(st.lists(st.tuples(st.sampled_from(PROVIDERS), st.sampled_from("ABCDEFGH")),
                         unique=True, max_size=8))
    payment_ids = draw(st.lists(st.integers(1, 99), unique=True, min_size=len(keys),
                                max_size=len(keys)))
    payments: list[PaymentRow] = []
    for pid, (provider, txn) in zip(payment_ids, keys, strict=True):
        # mostly matched, so dossiers often have several payments
        did: int | None = draw(st.sampled_from(
            dossier_ids if crowded else [*dossier_ids, *dossier_ids, *dossier_ids, None]))
        iid: int | None = (
            draw(st.none() | st.sampled_from([i.id for i in intents])) if intents else None)
        payments.append(PaymentRow(
            pid, provider, txn, provider, draw(st.sampled_from(pay_amounts)),
            draw(st.sampled_from(STATUSES)), draw(moments()), did, iid,
            draw(st.none() | st.just(f"REF{pid}")),
            # the bank's reference: often one a line is keyed by ("XYZA"), sometimes another
            # payment's own id or the payment's own (payOS), shared by several at times
            draw(st.none() | st.sampled_from("XYZAB") | st.just(txn)),
        ))

    line_keys = draw(st.lists(
        st.sampled_from(keys) | st.tuples(st.sampled_from(PROVIDERS), st.sampled_from("XYZA")),
        max_size=8,
    )) if keys else draw(st.lists(st.tuples(st.sampled_from(PROVIDERS), st.just("Z")),
                                  max_size=3))
    line_ids = draw(st.lists(st.integers(1, 99), unique=True, min_size=len(line_keys),
                             max_size=len(line_keys)))
    lines: list[SettlementLineRow] = []
    for lid, (provider, txn) in zip(line_ids, line_keys, strict=True):
        gross = draw(st.sampled_from(AMOUNTS))
        fee = draw(st.integers(0, gross))
        # now and then a refund line: of its own id's sale, or naming another sale's id
        refund_of = draw(st.none() | st.none() | st.none() | st.just(txn)
                         | st.sampled_from("ABCDXY"))
        lines.append(SettlementLineRow(
            lid, provider, txn, gross, fee, gross - fee,
            date(2026, 11, 20) + timedelta(days=draw(st.integers(0, 6))), None, refund_of,
        ))

    config = EngineConfig(
        settlement_days=draw(st.dictionaries(st.sampled_from(PROVIDERS), st.integers(0, 3))),
        default_settlement_days=draw(st.integers(0, 3)),
        no_settlement_providers=frozenset(draw(st.sets(st.sampled_from(PROVIDERS)))),
        tolerances=draw(st.dictionaries(st.sampled_from(PROVIDERS), st.sampled_from(AMOUNTS))),
    )
    return World(dossiers, fee_lines if by_fee_lines or draw(st.booleans()) else None,
                 intents, payments, lines, draw(moments(2, 14)), config)


def line_owners(world: World) -> dict[tuple[str, str], int]:
    """Which payment takes the lines of each key (the rule of recon.engine.core, restated):
    the payment whose own id it is; else, lowest id first, a payment with no line of its own
    whose bank reference it is; else, lowest id first, a settled payment whose bank reference
    it is."""
    line_keys = {(ln.provider, ln.provider_txn_id) for ln in world.lines
                 if ln.refund_of is None}  # a refund line settles nothing
    owners = {(p.provider, p.provider_txn_id): p.id for p in world.payments
              if (p.provider, p.provider_txn_id) in line_keys}
    with_reference = sorted((p for p in world.payments
                             if p.bank_reference not in (None, p.provider_txn_id)),
                            key=lambda p: p.id)
    for settled in (False, True):
        for p in with_reference:
            key = (p.provider, str(p.bank_reference))
            if ((p.provider, p.provider_txn_id) in line_keys) is settled \
                    and key in line_keys and key not in owners:
                owners[key] = p.id
    return owners


def matched_dossier(p: PaymentRow, intents: list[IntentRow]) -> int | None:
    if p.dossier_id is not None or p.intent_id is None:
        return p.dossier_id
    return {i.id: i.dossier_id for i in intents}[p.intent_id]


@settings(max_examples=200)
@given(worlds(), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_input_order(world: World, rnd: Any) -> None:
    expected = world.run().discrepancies
    for rows in (world.dossiers, world.intents, world.payments, world.lines,
                 world.fee_lines or []):
        rnd.shuffle(rows)
    assert world.run().discrepancies == expected


@given(worlds())
def test_running_twice_gives_the_same_result(world: World) -> None:
    assert world.run().discrepancies == world.run().discrepancies


@settings(max_examples=200)
@given(worlds())
def test_every_succeeded_payment_is_matched_or_reported_unmatched(world: World) -> None:
    result = world.run()
    unmatched = {d.payment_id for d in result.discrepancies if d.kind == "unmatched_payment"}
    for p in world.payments:
        matched = matched_dossier(p, world.intents)
        if p.status == "succeeded":
            assert (matched is None) == (p.id in unmatched)
        else:
            assert p.id not in unmatched


@given(worlds())
def test_amounts_are_ints_and_delta_is_actual_less_expected(world: World) -> None:
    for d in world.run().discrepancies:
        for value in (d.expected_amount, d.actual_amount, d.delta):
            assert type(value) is int
        assert d.delta == d.actual_amount - d.expected_amount
        assert type(d.within_tolerance) is bool
        assert d.within_tolerance is False or d.kind == "amount_mismatch"


@settings(max_examples=200)
@given(worlds())
def test_identities_are_unique_sorted_and_name_the_subject(world: World) -> None:
    found = world.run().discrepancies
    identities = [d.identity for d in found]
    assert len(set(identities)) == len(identities)
    assert identities == sorted(identities)
    for d in found:
        kind, ids = parse_identity(d.identity)
        assert kind == d.kind and kind in KINDS
        fields = {"dossier": d.dossier_id, "payment": d.payment_id,
                  "settlement_line": d.settlement_line_id}
        assert tuple(ids) == SUBJECTS[kind]
        assert all(fields[name] == value for name, value in ids.items())


@settings(max_examples=200)
@given(worlds())
def test_dossier_findings_add_up_to_paid_less_assessed(world: World) -> None:
    result = world.run()
    paid: dict[int, int] = defaultdict(int)
    for p in world.payments:
        did = matched_dossier(p, world.intents)
        if p.status == "succeeded" and did is not None:
            paid[did] += p.amount
    explained: dict[int, int] = defaultdict(int)
    for d in result.discrepancies:
        if d.kind in DOSSIER_KINDS:
            assert d.dossier_id is not None
            explained[d.dossier_id] += d.delta
    assessed = {d.id: result.assessed_total(d.id) for d in world.dossiers}
    for did, amount in paid.items():
        assert explained[did] == amount - (assessed[did] or 0)
        assert result.paid_total(did) == amount
    assert set(explained) <= set(paid)  # no payment at all: outstanding, never a finding


@settings(max_examples=200)
@given(worlds())
def test_each_settlement_line_gets_at_most_one_finding(world: World) -> None:
    result = world.run()
    per_line: dict[int, list[str]] = defaultdict(list)
    for d in result.discrepancies:
        if d.kind in LINE_KINDS:
            assert d.settlement_line_id is not None
            per_line[d.settlement_line_id].append(d.kind)
    assert all(len(kinds) == 1 for kinds in per_line.values())
    owners = line_owners(world)
    by_key = {(p.provider, p.provider_txn_id): p for p in world.payments}
    for ln in world.lines:
        if ln.refund_of is not None:  # paired with its sale's payment, judged on its own
            sale = by_key.get((ln.provider, ln.refund_of))
            if sale is None:
                assert per_line[ln.id] == ["unexpected_settlement"]
            elif sale.status != "refunded":
                assert per_line[ln.id] == ["status_mismatch"]
                assert all(d.payment_id == sale.id for d in result.discrepancies
                           if d.settlement_line_id == ln.id)
            else:
                assert per_line[ln.id] == []
            continue
        owner = owners.get((ln.provider, ln.provider_txn_id))
        if owner is None:
            assert per_line[ln.id] in (["unexpected_settlement"], ["duplicate_settlement"])
        else:
            assert per_line[ln.id] != ["unexpected_settlement"]
            assert all(d.payment_id == owner for d in result.discrepancies
                       if d.settlement_line_id == ln.id)
    # a refunded payment whose refund line came is no status_mismatch for its sale lines
    refunded = {(ln.provider, ln.refund_of) for ln in world.lines if ln.refund_of is not None}
    for d in result.discrepancies:
        if d.kind == "status_mismatch":
            p = next(x for x in world.payments if x.id == d.payment_id)
            line = next(x for x in world.lines if x.id == d.settlement_line_id)
            if line.refund_of is None:
                assert not (p.status == "refunded"
                            and (p.provider, p.provider_txn_id) in refunded)


@given(worlds())
def test_missing_settlement_follows_the_deadline_rule(world: World) -> None:
    result = world.run()
    missing = {d.payment_id for d in result.discrepancies if d.kind == "missing_settlement"}
    settled = set(line_owners(world).values())
    for p in world.payments:
        expected = (
            p.status == "succeeded"
            and world.config.needs_settlement(p.provider)
            and p.id not in settled
            and settlement_overdue(p.paid_at, world.config.days_for(p.provider), world.as_of)
        )
        assert (p.id in missing) is expected


@given(worlds())
def test_explanations_are_vietnamese_and_english_with_formatted_amounts(world: World) -> None:
    for d in world.run().discrepancies:
        assert d.explanation.endswith(".") and d.explanation_en.endswith(".")
        assert "\u00a0₫" in d.explanation and "\u00a0₫" in d.explanation_en
        assert d.explanation != d.explanation_en


@given(worlds())
def test_classify_against_itself_changes_nothing(world: World) -> None:
    result = world.run()
    identities = [d.identity for d in result.discrepancies]
    same = classify(identities, result)
    assert same.new == [] and same.resolved == [] and same.untouched == []
    assert same.still_open == result.discrepancies
    fresh = classify([], result)
    assert fresh.new == result.discrepancies


@settings(max_examples=500)
@given(moments(), moments(), st.integers(0, 5))
def test_cutoff_agrees_with_the_deadline_definition(paid_at: datetime, as_of: datetime,
                                                    days: int) -> None:
    assert (paid_at < settlement_cutoff(as_of, days)) is settlement_overdue(paid_at, days, as_of)
