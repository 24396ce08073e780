"""Fee contracts and their arithmetic: integer VND only, pure.

A :class:`Contract` prices one provider's transactions on one payment channel (``"*"``: any
channel of that provider) from ``valid_from`` to ``valid_to`` (inclusive; ``None``: open).
A ``per_transaction`` contract's fee on a gross amount ``g`` (all integers, VND)::

    percentage = round(g × rate_bp / 10 000)            # the contract's rounding rule
    fee        = percentage + fixed_vnd
    fee        = max(fee, min_vnd); min(fee, max_vnd) if max_vnd
    + VAT      = round(fee × vat_rate_bp / 10 000)      # only when vat_included is false

``rounding`` is explicit: ``half_up`` (0.5 goes up), ``up`` (any remainder goes up) or
``down`` (truncate). The settlement line's ``fee`` is what was deducted, VAT included, so a
contract quoted without VAT expects the fee plus its VAT.

What recon cannot know from a settlement line, it accepts every reading of
(:meth:`Contract.accepted_fees`): the volume tier that applies (it depends on the month's
count, known at month end) and whether a card was issued abroad (the surcharge
``foreign_card_surcharge_bp``). The line is judged against the nearest of those fees, and a
difference of at most ``tolerance_vnd`` (default 1 đồng of rounding) is no finding.

A ``subscription`` contract (payOS, SePay, Casso: a monthly package, billed apart) expects no
fee on any line: 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Final, Literal

ROUNDINGS: Final = ("half_up", "up", "down")
KINDS: Final = ("per_transaction", "subscription")
BP: Final = 10_000
Rounding = Literal["half_up", "up", "down"]


def divide(numerator: int, denominator: int, rounding: str) -> int:
    """``numerator / denominator`` for non-negative integers, rounded by the rule."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("divide takes a non-negative numerator and a positive denominator")
    if rounding == "down":
        return numerator // denominator
    if rounding == "up":
        return -(-numerator // denominator)
    if rounding == "half_up":
        return (2 * numerator + denominator) // (2 * denominator)
    raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")


@dataclass(frozen=True, slots=True)
class Tier:
    """From the ``from_count``-th transaction of a month on, the rate is ``rate_bp``."""

    from_count: int
    rate_bp: int


@dataclass(frozen=True, slots=True)
class Contract:
    id: str
    provider: str
    channel: str
    valid_from: date
    valid_to: date | None
    kind: str = "per_transaction"
    rate_bp: int = 0
    fixed_vnd: int = 0
    min_vnd: int = 0
    max_vnd: int = 0  # 0: no maximum
    tiers: tuple[Tier, ...] = ()
    foreign_card_surcharge_bp: int = 0
    refund_fee_vnd: int = 0
    refund_returns_rate: bool = False
    vat_included: bool = True
    vat_rate_bp: int = 1_000
    rounding: str = "half_up"
    tolerance_vnd: int = 1
    monthly_vnd: int = 0
    included_transactions: int = 0
    overage_vnd: int = 0
    note: str = ""

    def covers(self, provider: str, channel: str, day: date) -> bool:
        return (self.provider == provider and self.channel in ("*", channel)
                and self.valid_from <= day and (self.valid_to is None or day <= self.valid_to))

    def fee(self, gross: int, *, rate_bp: int | None = None, foreign_card: bool = False) -> int:
        """The fee deducted from a payment of ``gross`` VND (VAT included)."""
        if self.kind == "subscription":
            return 0
        rate = self.rate_bp if rate_bp is None else rate_bp
        if foreign_card:
            rate += self.foreign_card_surcharge_bp
        fee = divide(gross * rate, BP, self.rounding) + self.fixed_vnd
        fee = max(fee, self.min_vnd)
        if self.max_vnd:
            fee = min(fee, self.max_vnd)
        if not self.vat_included:
            fee += divide(fee * self.vat_rate_bp, BP, self.rounding)
        return fee

    def refund_fee(self, gross: int) -> int:
        """What a refund of ``gross`` costs: the processing fee, plus the percentage unless
        the contract returns it."""
        if self.kind == "subscription":
            return 0
        fee = self.refund_fee_vnd
        if not self.refund_returns_rate:
            fee += divide(gross * self.rate_bp, BP, self.rounding)
        if not self.vat_included:
            fee += divide(fee * self.vat_rate_bp, BP, self.rounding)
        return fee

    def accepted_fees(self, gross: int) -> list[int]:
        """Every fee a line of ``gross`` may carry (base rate first): each tier's rate, with
        and without the foreign-card surcharge (see the module doc)."""
        rates = [self.rate_bp, *(t.rate_bp for t in self.tiers)]
        foreign = (False, True) if self.foreign_card_surcharge_bp else (False,)
        out: list[int] = []
        for rate in rates:
            for f in foreign:
                value = self.fee(gross, rate_bp=rate, foreign_card=f)
                if value not in out:
                    out.append(value)
        return out



@dataclass(frozen=True, slots=True)
class FeeCheck:
    """How a line's fee compares with its contract: ``expected`` is the nearest accepted
    fee, ``ok`` whether the charged fee is within the contract's tolerance of it."""

    contract: Contract
    expected: int
    charged: int
    ok: bool


@dataclass(frozen=True, slots=True)
class ContractBook:
    """Every contract, validated (no two of one provider and channel overlap in time)."""

    contracts: tuple[Contract, ...] = ()
    origin: str = "<none>"
    _by_provider: dict[str, tuple[Contract, ...]] = field(default_factory=dict, repr=False,
                                                          compare=False)

    def __post_init__(self) -> None:
        by: dict[str, list[Contract]] = {}
        for c in self.contracts:
            by.setdefault(c.provider, []).append(c)
        # an exact channel wins over "*"
        object.__setattr__(self, "_by_provider", {
            p: tuple(sorted(cs, key=lambda c: (c.channel == "*", c.valid_from)))
            for p, cs in by.items()})

    def __len__(self) -> int:
        return len(self.contracts)

    def providers(self) -> set[str]:
        return set(self._by_provider)

    def find(self, provider: str, channel: str, day: date) -> Contract | None:
        for c in self._by_provider.get(provider, ()):
            if c.covers(provider, channel, day):
                return c
        return None

    def check(self, provider: str, channel: str, day: date, gross: int,
              charged: int) -> FeeCheck | None:
        """The line's fee against its contract; ``None`` when no contract covers it."""
        contract = self.find(provider, channel, day)
        if contract is None:
            return None
        accepted = contract.accepted_fees(gross)
        nearest = min(accepted, key=lambda f: (abs(charged - f), accepted.index(f)))
        return FeeCheck(contract, nearest, charged,
                        abs(charged - nearest) <= contract.tolerance_vnd)


def overlapping(contracts: Iterable[Contract]) -> list[tuple[Contract, Contract]]:
    """Pairs of contracts of one provider and channel whose validity overlaps."""
    by: dict[tuple[str, str], list[Contract]] = {}
    for c in contracts:
        by.setdefault((c.provider, c.channel), []).append(c)
    out = []
    for group in by.values():
        group.sort(key=lambda c: c.valid_from)
        for a, b in pairwise(group):
            if a.valid_to is None or a.valid_to >= b.valid_from:
                out.append((a, b))
    return out


EMPTY: Final = ContractBook()

__all__ = ["EMPTY", "KINDS", "ROUNDINGS", "Contract", "ContractBook", "FeeCheck", "Tier",
           "divide", "overlapping"]
