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

``channel`` is a payment method (:data:`METHODS`: ``qr``, ``domestic_card``, ``intl_card``,
``wallet``, ``bank_account`` or a card scheme such as ``visa``, ``napas``) or ``"*"``, the
fallback for any method of the provider, including a payment whose method the provider did not
report (``None``). An exact method wins over ``"*"``.

Volume tiers are by the month's transaction count: from the ``from_count``-th transaction of a
Vietnam-time month on, the rate is the tier's (:class:`Tier`). The count is final only at month
end, and recon seldom sees every transaction the provider counts (lines not yet imported, an
incremental run's subset): what it counts is a lower bound. So a line is judged against the
tier its month's count so far reaches (``min_count``) *or any higher tier* -- never a lower
one. An undercount can only widen what is accepted, never raise a false finding; a provider that
keeps charging the base rate after the count passed a tier is a finding.

The foreign-card surcharge ``foreign_card_surcharge_bp`` applies only to a card issued abroad:
``foreign=True`` expects it, ``False`` does not, ``None`` (the provider did not say) accepts
both readings. The line is judged against the nearest accepted fee, and a difference of at
most ``tolerance_vnd`` (default 1 đồng of rounding) is no finding.

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
#: the payment methods a contract's ``channel`` may name (besides ``"*"``); the adapters map
#: each provider's own fields onto these (adapters.base.METHODS is the same list)
METHODS: Final = ("qr", "domestic_card", "intl_card", "wallet", "bank_account", "visa",
                  "mastercard", "jcb", "amex", "unionpay", "napas")
ANY_CHANNEL: Final = "*"
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

    def covers(self, provider: str, channel: str | None, day: date) -> bool:
        return (self.provider == provider and self.channel in (ANY_CHANNEL, channel)
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

    def level_for(self, count: int) -> int:
        """The tier level the ``count``-th transaction of a month is in: 0 the base rate,
        ``i`` the ``i``-th tier (tiers rise by ``from_count``)."""
        level = 0
        for i, tier in enumerate(self.tiers, start=1):
            if count >= tier.from_count:
                level = i
        return level

    def rate_at(self, level: int) -> int:
        return self.rate_bp if level == 0 else self.tiers[level - 1].rate_bp

    def readings(self, gross: int, *, min_count: int = 0,
                 foreign: bool | None = None) -> list[tuple[int, int, bool]]:
        """Every ``(fee, level, foreign)`` a line of ``gross`` may carry: the tier level the
        month's count so far reaches (``min_count``; 0: unknown, any tier) and every higher
        one; with the surcharge, without it, or both when ``foreign`` is ``None`` (see the
        module doc). Lowest level first, without the surcharge first."""
        first = self.level_for(min_count)
        if not self.foreign_card_surcharge_bp:
            sides: tuple[bool, ...] = (False,)
        elif foreign is None:
            sides = (False, True)
        else:
            sides = (foreign,)
        out: list[tuple[int, int, bool]] = []
        for level in range(first, len(self.tiers) + 1):
            rate = self.rate_at(level)
            for side in sides:
                out.append((self.fee(gross, rate_bp=rate, foreign_card=side), level, side))
        return out

    def accepted_fees(self, gross: int, *, min_count: int = 0,
                      foreign: bool | None = None) -> list[int]:
        """The distinct fees of :meth:`readings`, in its order."""
        out: list[int] = []
        for value, _level, _side in self.readings(gross, min_count=min_count, foreign=foreign):
            if value not in out:
                out.append(value)
        return out


@dataclass(frozen=True, slots=True)
class FeeCheck:
    """How a line's fee compares with its contract: ``expected`` is the nearest accepted
    fee, ``ok`` whether the charged fee is within the contract's tolerance of it. ``level`` is
    the tier of that fee (0: the base rate), ``min_level`` the lowest tier accepted (the one
    the month's count so far reaches), ``count`` that count (0: not counted); ``surcharged``
    whether ``expected`` includes the foreign-card surcharge and ``foreign`` what the payment
    said of its card (``None``: nothing, both readings accepted). ``method`` is the payment's
    method (``None``: not reported)."""

    contract: Contract
    expected: int
    charged: int
    ok: bool
    level: int = 0
    min_level: int = 0
    count: int = 0
    surcharged: bool = False
    foreign: bool | None = None
    method: str | None = None

    @property
    def rate_bp(self) -> int:
        """The rate of the tier used, without the surcharge."""
        return self.contract.rate_at(self.level)


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

    def find(self, provider: str, channel: str | None, day: date) -> Contract | None:
        for c in self._by_provider.get(provider, ()):
            if c.covers(provider, channel, day):
                return c
        return None

    def check(self, provider: str, channel: str | None, day: date, gross: int,
              charged: int, *, count: int = 0, foreign: bool | None = None) -> FeeCheck | None:
        """The line's fee against its contract; ``None`` when no contract covers it.
        ``channel`` is the payment's method (``None``: unknown, only ``"*"`` covers it),
        ``count`` the line's place in its month's count for this contract so far (0: not
        counted), ``foreign`` whether its card was issued abroad (``None``: unknown)."""
        contract = self.find(provider, channel, day)
        if contract is None:
            return None
        return judge(contract, gross, charged, count=count, foreign=foreign, method=channel)


def judge(contract: Contract, gross: int, charged: int, *, count: int = 0,
          foreign: bool | None = None, method: str | None = None) -> FeeCheck:
    """``charged`` against the nearest reading of ``contract`` (:meth:`Contract.readings`)."""
    readings = contract.readings(gross, min_count=count, foreign=foreign)
    value, level, side = min(readings, key=lambda r: abs(charged - r[0]))  # first on a tie
    return FeeCheck(contract, value, charged, abs(charged - value) <= contract.tolerance_vnd,
                    level=level, min_level=readings[0][1], count=count, surcharged=side,
                    foreign=foreign, method=method)


class MonthCounter:
    """Each line's place in its month's count for its contract (the tier's ``count``): feed
    the lines in transaction order; the month is the Vietnam-time month of ``day``. Only
    contracts with tiers are counted (the others answer 0: the count would change nothing)."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int, int], int] = {}

    def next(self, contract: Contract, day: date) -> int:
        if not contract.tiers:
            return 0
        key = (contract.id, day.year, day.month)
        n = self._counts.get(key, 0) + 1
        self._counts[key] = n
        return n


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

__all__ = ["ANY_CHANNEL", "EMPTY", "KINDS", "METHODS", "ROUNDINGS", "Contract", "ContractBook",
           "FeeCheck", "MonthCounter", "Tier", "divide", "judge", "overlapping"]
