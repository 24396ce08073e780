"""The fee contracts file: a versioned TOML file the operator edits.

::

    version = 1

    [[contract]]
    id = "vnpay-demo"                # unique
    provider = "vnpay"
    channel = "*"                    # a payment method (qr, domestic_card, intl_card, wallet,
                                     # bank_account, visa, mastercard, jcb, amex, unionpay,
                                     # napas) or "*": any method, and payments with none
    valid_from = 2021-01-01
    valid_to = 2021-12-31            # optional, inclusive
    kind = "per_transaction"         # or "subscription" (payOS, SePay, Casso)
    rate_bp = 88                     # basis points: 88 = 0,88 %
    fixed_vnd = 0
    min_vnd = 0
    max_vnd = 0                      # 0: no maximum
    foreign_card_surcharge_bp = 0
    refund_fee_vnd = 0
    refund_returns_rate = false
    vat_included = true
    vat_rate_bp = 1000               # 10 %, used when vat_included is false
    rounding = "down"                # half_up | up | down
    tolerance_vnd = 1
    tiers = [{ from_count = 10001, rate_bp = 70 }]   # from the month's 10 001st transaction
    note = "..."

Every amount and rate is a whole number (a float such as ``0.88`` is refused: rates are basis
points); every error is named with its contract, and a file with errors changes nothing.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from recon.contracts.model import (
    ANY_CHANNEL,
    EMPTY,
    KINDS,
    METHODS,
    ROUNDINGS,
    Contract,
    ContractBook,
    Tier,
    overlapping,
)

FORMAT_VERSION: Final = 1
_INTS: Final = ("rate_bp", "fixed_vnd", "min_vnd", "max_vnd", "foreign_card_surcharge_bp",
                "refund_fee_vnd", "vat_rate_bp", "tolerance_vnd", "monthly_vnd",
                "included_transactions", "overage_vnd")
_BOOLS: Final = ("refund_returns_rate", "vat_included")
_KEYS: Final = frozenset({"id", "provider", "channel", "valid_from", "valid_to", "kind",
                          "rounding", "tiers", "note", *_INTS, *_BOOLS})
_PER_TXN_ONLY: Final = ("rate_bp", "fixed_vnd", "min_vnd", "max_vnd",
                        "foreign_card_surcharge_bp", "refund_fee_vnd")
_SUB_ONLY: Final = ("monthly_vnd", "included_transactions", "overage_vnd")


def default_contracts_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "fee_contracts.toml"


def _is_date(value: object) -> bool:
    return isinstance(value, date) and not hasattr(value, "hour")


def _contract(raw: Any, i: int, errors: list[str]) -> Contract | None:
    if not isinstance(raw, Mapping):
        errors.append(f"contract #{i}: must be a table")
        return None
    name = raw.get("id")
    where = f"contract #{i}" + (f" ({name})" if isinstance(name, str) else "")
    before = len(errors)
    bad = sorted(set(raw) - _KEYS)
    if bad:
        errors.append(f"{where}: unknown keys {bad}")
    for key in ("id", "provider", "channel"):
        v = raw.get(key)
        if not isinstance(v, str) or not v.strip() or v != v.strip():
            errors.append(f"{where}: {key} must be a non-empty text without outer spaces")
    channel = raw.get("channel")
    if isinstance(channel, str) and channel.strip() == channel and channel \
            and channel != ANY_CHANNEL and channel not in METHODS:
        errors.append(f"{where}: channel must be \"*\" or a payment method "
                      f"({', '.join(METHODS)}), got {channel!r}")
    if not _is_date(raw.get("valid_from")):
        errors.append(f"{where}: valid_from must be a TOML date like 2021-01-01")
    valid_to = raw.get("valid_to")
    if valid_to is not None and not _is_date(valid_to):
        errors.append(f"{where}: valid_to must be a TOML date or absent")
    elif valid_to is not None and _is_date(raw.get("valid_from")) and valid_to < raw["valid_from"]:
        errors.append(f"{where}: valid_to is before valid_from")
    kind = raw.get("kind", "per_transaction")
    if kind not in KINDS:
        errors.append(f"{where}: kind must be one of {KINDS}, got {kind!r}")
    rounding = raw.get("rounding", "half_up")
    if rounding not in ROUNDINGS:
        errors.append(f"{where}: rounding must be one of {ROUNDINGS}, got {rounding!r}")
    for key in _INTS:
        v = raw.get(key, 0)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            errors.append(f"{where}: {key} must be a whole number >= 0 (VND or basis points), "
                          f"got {v!r}")
    for key in _BOOLS:
        if key in raw and not isinstance(raw[key], bool):
            errors.append(f"{where}: {key} must be true or false")
    if isinstance(raw.get("rate_bp"), int) and raw.get("rate_bp", 0) > 10_000:
        errors.append(f"{where}: rate_bp above 10000 (100 %) is surely a mistake")
    mn, mx = raw.get("min_vnd", 0), raw.get("max_vnd", 0)
    if isinstance(mn, int) and isinstance(mx, int) and mx and mn > mx:
        errors.append(f"{where}: min_vnd is above max_vnd")
    if kind == "subscription":
        set_ = [k for k in _PER_TXN_ONLY if raw.get(k)]
        if set_ or raw.get("tiers"):
            errors.append(f"{where}: a subscription has no per-transaction fee; remove "
                          f"{set_ or ['tiers']}")
    elif kind == "per_transaction":
        set_ = [k for k in _SUB_ONLY if raw.get(k)]
        if set_:
            errors.append(f"{where}: {set_} belong to a subscription")
    tiers: list[Tier] = []
    raw_tiers = raw.get("tiers", [])
    if not isinstance(raw_tiers, list):
        errors.append(f"{where}: tiers must be a list of {{ from_count, rate_bp }}")
        raw_tiers = []
    for j, t in enumerate(raw_tiers, start=1):
        ok = (isinstance(t, Mapping) and set(t) == {"from_count", "rate_bp"}
              and all(isinstance(t[k], int) and not isinstance(t[k], bool) and t[k] >= 0
                      for k in t) and t["from_count"] >= 1)
        if not ok:
            errors.append(f"{where}: tier #{j} must be {{ from_count = N >= 1, rate_bp = N }}")
            continue
        tiers.append(Tier(t["from_count"], t["rate_bp"]))
    if [t.from_count for t in tiers] != sorted({t.from_count for t in tiers}):
        errors.append(f"{where}: tiers must rise by from_count, each once")
    if tiers and tiers[0].from_count < 2:
        errors.append(f"{where}: a tier's from_count must be 2 or more (the month's first "
                      f"transaction is at the base rate_bp)")
    for t in tiers:
        if t.rate_bp > 10_000:
            errors.append(f"{where}: a tier's rate_bp above 10000 (100 %) is surely a mistake")
    if not isinstance(raw.get("note", ""), str):
        errors.append(f"{where}: note must be text")
    if len(errors) > before:
        return None
    ints = {k: raw.get(k, 0) for k in _INTS}
    ints["vat_rate_bp"] = raw.get("vat_rate_bp", 1_000)
    ints["tolerance_vnd"] = raw.get("tolerance_vnd", 1)
    return Contract(
        id=raw["id"], provider=raw["provider"], channel=raw["channel"],
        valid_from=raw["valid_from"], valid_to=valid_to, kind=kind, tiers=tuple(tiers),
        refund_returns_rate=raw.get("refund_returns_rate", False),
        vat_included=raw.get("vat_included", True), rounding=rounding,
        note=raw.get("note", ""), **ints)


def parse_contracts(content: bytes, origin: str = "<contracts>") -> ContractBook:
    """The file's contracts, validated; ``ValueError`` naming every problem otherwise."""
    try:
        doc = tomllib.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{origin}: not a UTF-8 TOML file ({exc})") from None
    errors: list[str] = []
    if doc.get("version") != FORMAT_VERSION:
        errors.append(f"version must be {FORMAT_VERSION}, got {doc.get('version')!r}")
    unknown = sorted(set(doc) - {"version", "contract"})
    if unknown:
        errors.append(f"unknown keys {unknown}: only 'version' and [[contract]] entries")
    raw = doc.get("contract", [])
    if not isinstance(raw, list):
        errors.append("'contract' must be an array of tables ([[contract]])")
        raw = []
    contracts: list[Contract] = []
    ids: set[str] = set()
    for i, entry in enumerate(raw, start=1):
        c = _contract(entry, i, errors)
        if c is None:
            continue
        if c.id in ids:
            errors.append(f"contract #{i}: id {c.id!r} is used twice")
            continue
        ids.add(c.id)
        contracts.append(c)
    for a, b in overlapping(contracts):
        errors.append(f"contracts {a.id!r} and {b.id!r} ({a.provider}, channel {a.channel}) "
                      f"overlap in time: end one before the other starts")
    if errors:
        raise ValueError(f"{origin}: " + "; ".join(errors))
    return ContractBook(tuple(contracts), origin)


def load_contracts(path: str | Path | None = None) -> ContractBook:
    target = Path(path) if path else default_contracts_path()
    try:
        content = target.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the fee contracts {target}: {exc.strerror}; set "
                         f"RECON_CONTRACTS_FILE to a readable file or unset it") from None
    return parse_contracts(content, str(target))


@lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int) -> ContractBook:
    return load_contracts(path)


#: where an unset RECON_CONTRACTS_FILE means the shipped demo contracts
DEMO_ENVIRONMENTS: Final = frozenset({"development", "test"})


def contracts_from_settings(env: Mapping[str, str]) -> ContractBook:
    """:func:`load_contracts` with ``RECON_CONTRACTS_FILE`` (kept while the file is unchanged).

    Unset, development and test use the shipped demo contracts; any other environment has no
    contracts (fees are not judged) rather than judging a centre's fees by the demo's figures,
    which would fill the workbench with false ``fee_mismatch`` findings."""
    raw = (env.get("RECON_CONTRACTS_FILE") or "").strip()
    if not raw and env.get("RECON_ENV", "development") not in DEMO_ENVIRONMENTS:
        return EMPTY
    target = Path(raw) if raw else default_contracts_path()
    try:
        mtime = target.stat().st_mtime_ns
    except OSError as exc:
        raise ValueError(f"cannot read the fee contracts {target}: {exc.strerror}; set "
                         f"RECON_CONTRACTS_FILE to a readable file or unset it") from None
    return _cached(str(target), mtime)


__all__ = ["FORMAT_VERSION", "contracts_from_settings", "default_contracts_path",
           "load_contracts", "parse_contracts"]
