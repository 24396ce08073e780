"""VND is an integer with no minor unit. Parse strictly, format the Vietnamese way."""

from __future__ import annotations

import re
from decimal import Decimal

from recon.errors import FieldError, ValidationError

MAX_VND = 10**15  # a quadrillion dong: far above any fee, far below BIGINT
_DIGITS = re.compile(r"[0-9]+")


class MoneyError(ValueError):
    """An amount that is not an exact non-negative integer number of VND."""


def parse_vnd(value: object, *, allow_zero: bool = True) -> int:
    """Return ``value`` as an int of VND or raise :class:`MoneyError` saying why.

    Accepts a JSON integer or a string of ASCII digits. Refuses floats, decimals ("100.0"),
    exponents ("1e5"), grouping ("100,000", "100.000"), signs, booleans and blanks.
    """
    if isinstance(value, bool):
        raise MoneyError("must be a whole number of VND, not true/false")
    if isinstance(value, int):
        amount = value
    elif isinstance(value, (float, Decimal)):
        raise MoneyError(f"must be a whole number of VND without decimals, got {value}")
    elif isinstance(value, str):
        text = value.strip()
        if not _DIGITS.fullmatch(text):
            raise MoneyError(
                f"must be a whole number of VND written with digits only, got {value!r}"
            )
        if len(text) > 16:
            raise MoneyError(f"is too large: {value!r}")
        amount = int(text)
    elif value is None:
        raise MoneyError("is missing")
    else:
        raise MoneyError(f"must be a whole number of VND, got {type(value).__name__}")
    if amount < 0:
        raise MoneyError(f"must not be negative, got {amount}")
    if amount == 0 and not allow_zero:
        raise MoneyError("must be more than 0")
    if amount > MAX_VND:
        raise MoneyError(f"is too large: {amount}")
    return amount


def require_vnd(value: object, field: str, *, line: int | None = None,
                allow_zero: bool = True) -> int:
    """:func:`parse_vnd` that raises a :class:`ValidationError` naming ``field``."""
    try:
        return parse_vnd(value, allow_zero=allow_zero)
    except MoneyError as exc:
        raise ValidationError(FieldError(field, str(exc), line)) from None


def format_vnd(amount: int, *, symbol: bool = True) -> str:
    """``180000`` -> ``"180.000 ₫"`` (dots group thousands, a no-break space before ₫)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("format_vnd takes an int")
    sign = "-" if amount < 0 else ""
    grouped = f"{abs(amount):,}".replace(",", ".")
    return f"{sign}{grouped}\u00a0₫" if symbol else f"{sign}{grouped}"
