"""Strict parsing at the edge: JSON bodies, fields, amounts and provider times.

Every function here raises :class:`MalformedPayload` with a message naming the field, never
anything else, and never guesses: an amount that is not an exact non-negative integer number of
VND is refused, not rounded and not turned into 0; no float ever takes part.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from adapters.base import MalformedPayload
from adapters.scrub import mask_prefix_text

VN_TZ = timezone(timedelta(hours=7), "ICT")
MAX_VND = 10**15  # far above any fee, far below BIGINT
TXN_ID_MAX_LENGTH = 64  # payments.provider_txn_id is VARCHAR(64)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# provider clocks outside these bounds are nonsense, not a payment time
_MIN_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_MAX_TIME = datetime(2100, 1, 1, tzinfo=UTC)

_DIGITS = re.compile(r"[0-9]+")
_ZERO_FRACTION = re.compile(r"([0-9]+)(?:\.(0*))?")
_COMPACT = re.compile(r"[0-9]{14}")
_LOCAL = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
)


def show(value: object, limit: int = 40) -> str:
    """``repr(value)`` fit for an error message: short, card numbers masked."""
    text = mask_prefix_text(repr(value), limit + 1)  # scans only what may be shown
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> object:
    raise MalformedPayload(f"JSON {name} is not a number we accept")


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedPayload(f"JSON object has the key {show(key)} twice")
        result[key] = value
    return result


def load_json(data: bytes | str, *, what: str = "body", exact: bool = True) -> object:
    """Parse JSON strictly: UTF-8 only, no NaN/Infinity, no duplicate keys.

    With ``exact`` (the default) non-integers become :class:`Decimal`, never float. Casso's
    signature check needs ``exact=False`` to re-serialise numbers as the sender did.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPayload(f"{what} is not UTF-8 text (byte {exc.start})") from None
    else:
        text = data
    try:
        return json.loads(
            text,
            parse_float=Decimal if exact else float,
            parse_constant=_refuse_constant,
            object_pairs_hook=_no_duplicate_keys,
        )
    except json.JSONDecodeError as exc:
        raise MalformedPayload(f"{what} is not valid JSON: {exc.msg} at {exc.pos}") from None
    # huge integers, absurd nesting, exponents beyond Decimal's range (1e1000000000000000000)
    except (ValueError, ArithmeticError, RecursionError) as exc:
        raise MalformedPayload(f"{what} is not acceptable JSON: {type(exc).__name__}") from None


def load_json_object(data: bytes | str, *, what: str = "body", exact: bool = True
                     ) -> dict[str, object]:
    value = load_json(data, what=what, exact=exact)
    if not isinstance(value, dict):
        raise MalformedPayload(f"{what} must be a JSON object, got {type_name(value)}")
    return value


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | Decimal | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def get_object(data: Mapping[str, object], key: str, *, where: str = "") -> dict[str, object]:
    value = data.get(key)
    name = f"{where}{key}"
    if value is None:
        raise MalformedPayload(f"{name} is missing")
    if not isinstance(value, dict):
        raise MalformedPayload(f"{name} must be a JSON object, got {type_name(value)}")
    return value


def get_str(data: Mapping[str, object], key: str, *, where: str = "") -> str:
    """A required, non-empty text field."""
    value = opt_str(data, key, where=where)
    if value is None or value == "":
        raise MalformedPayload(f"{where}{key} is missing or empty")
    return value


def opt_str(data: Mapping[str, object], key: str, *, where: str = "") -> str | None:
    """An optional text field (missing or null gives ``None``)."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"{where}{key} must be text, got {type_name(value)}")
    return value


def get_id(data: Mapping[str, object], key: str, *, where: str = "") -> str:
    """A required identifier sent as text or as a non-negative JSON integer."""
    value = data.get(key)
    name = f"{where}{key}"
    if isinstance(value, bool):
        raise MalformedPayload(f"{name} must be an identifier, got a boolean")
    if isinstance(value, int):
        if value < 0:
            raise MalformedPayload(f"{name} must not be negative, got {value}")
        return str(value)
    if isinstance(value, str):
        if not value.strip():
            raise MalformedPayload(f"{name} is empty")
        return value
    if value is None:
        raise MalformedPayload(f"{name} is missing")
    raise MalformedPayload(f"{name} must be text or a whole number, got {type_name(value)}")


def get_txn_id(data: Mapping[str, object], key: str, *, where: str = "") -> str:
    """:func:`get_id` for a provider transaction id: at most 64 characters."""
    return check_txn_id(get_id(data, key, where=where), field=f"{where}{key}")


def check_txn_id(value: str, *, field: str) -> str:
    if len(value) > TXN_ID_MAX_LENGTH:
        raise MalformedPayload(
            f"{field} is longer than {TXN_ID_MAX_LENGTH} characters: {show(value)}"
        )
    return value


def opt_bank_reference(data: Mapping[str, object], key: str) -> str | None:
    """The bank's reference for a credit (what a bank statement lists it by), or ``None``.

    Text (trimmed) or a non-negative JSON integer. It only helps reconciliation match a bank
    statement line, so a value recon cannot use (missing, empty, another type, longer than
    :data:`TXN_ID_MAX_LENGTH`, which no statement line can be) is left out rather than
    refusing the payment: money is never turned away over it."""
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    if not text or len(text) > TXN_ID_MAX_LENGTH or not text.isprintable():
        return None
    return text


def id_value(text: str) -> int | str:
    """An id as a provider writes it in JSON: a number when it is one (no leading zeros),
    else text."""
    return int(text) if text.isascii() and text.isdigit() and str(int(text)) == text else text


def unpaid_txn_id(reference: str) -> str:
    """The id for a payment that did not happen and has no provider transaction number
    (VNPay sends ``vnp_TransactionNo=0``): one per order, so such calls do not collide."""
    candidate = f"unpaid:{reference}"
    if len(candidate) <= TXN_ID_MAX_LENGTH:
        return candidate
    return "unpaid:sha256:" + hashlib.sha256(reference.encode("utf-8", "surrogatepass")
                                             ).hexdigest()[:40]


def get_int(data: Mapping[str, object], key: str, *, where: str = "") -> int:
    """A required JSON integer (digit strings accepted too)."""
    value = data.get(key)
    name = f"{where}{key}"
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value) and len(value) <= 19:
        return int(value)
    if value is None:
        raise MalformedPayload(f"{name} is missing")
    raise MalformedPayload(f"{name} must be a whole number, got {show(value)}")


def signing_text(value: object) -> str:
    """A JSON value as it appears in a ``key=value`` signing string (the way JavaScript and
    Java providers print it): text as is, null as empty, booleans in lower case."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return str(value)
    # nested arrays/objects (not in any documented payload): as JSON.stringify would write them
    return json.dumps(_floats(value), ensure_ascii=False, separators=(",", ":"))


def _floats(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------------


def parse_vnd(value: object, *, field: str, allow_zero_fraction: bool = False) -> int:
    """An exact, non-negative integer number of VND.

    Accepts a JSON integer or a string of ASCII digits. With ``allow_zero_fraction`` (SePay),
    also ``"50000.00"`` and the JSON number ``50000.00`` — a fraction of zeros only. Refuses
    everything else: fractions, signs, exponents, grouping, blanks, booleans, floats.
    """
    if isinstance(value, bool):
        raise MalformedPayload(f"{field} must be a whole number of VND, got a boolean")
    if isinstance(value, int):
        amount = value
    elif isinstance(value, str):
        match = (_ZERO_FRACTION if allow_zero_fraction else _DIGITS).fullmatch(value)
        if not match or len(value) > 24:
            raise MalformedPayload(
                f"{field} must be a whole number of VND in digits, got {show(value)}"
            )
        digits = match.group(1) if allow_zero_fraction else value
        if len(digits.lstrip("0")) > 16:
            raise MalformedPayload(f"{field} is too large: {show(value)}")
        amount = int(digits)
    elif isinstance(value, Decimal) and allow_zero_fraction:
        try:  # "50000.00" yes; "5E+4" (an exponent) and "50000.5" no
            exponent = value.as_tuple().exponent
            whole = (value.is_finite() and isinstance(exponent, int) and exponent <= 0
                     and value == value.to_integral_value())
        except InvalidOperation:
            whole = False
        if not whole or abs(value) > MAX_VND:
            raise MalformedPayload(f"{field} must be a whole number of VND, got {show(value)}")
        amount = int(value)
    elif isinstance(value, Decimal | float):
        raise MalformedPayload(
            f"{field} must be a whole number of VND without decimals, got {show(value)}"
        )
    elif value is None:
        raise MalformedPayload(f"{field} is missing")
    else:
        raise MalformedPayload(f"{field} must be a whole number of VND, got {type_name(value)}")
    if amount < 0:
        raise MalformedPayload(f"{field} must not be negative, got {amount}")
    if amount > MAX_VND:
        raise MalformedPayload(f"{field} is too large: {amount}")
    return amount


# --------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------


def _in_range(value: datetime, field: str, raw: object) -> datetime:
    try:
        plausible = _MIN_TIME <= value < _MAX_TIME
    except OverflowError:  # an offset pushing the time past datetime's range
        plausible = False
    if not plausible:
        raise MalformedPayload(f"{field} is not a plausible time: {show(raw)}")
    return value


def compact_vn_time(value: object, *, field: str) -> datetime:
    """``yyyyMMddHHmmss`` in Vietnam time (VNPay)."""
    if not isinstance(value, str) or not _COMPACT.fullmatch(value):
        raise MalformedPayload(f"{field} must be yyyyMMddHHmmss, got {show(value)}")
    try:
        parsed = datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=VN_TZ)
    except ValueError:
        raise MalformedPayload(f"{field} is not a valid date and time: {show(value)}") from None
    return _in_range(parsed, field, value)


def local_time(value: object, *, field: str) -> datetime:
    """``YYYY-MM-DD HH:mm:ss`` (or ISO 8601 with ``T``, fraction, offset); naive is Vietnam
    time."""
    if not isinstance(value, str) or not _LOCAL.fullmatch(value):
        raise MalformedPayload(f"{field} must be 'YYYY-MM-DD HH:mm:ss', got {show(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedPayload(f"{field} is not a valid date and time: {show(value)}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=VN_TZ)
    return _in_range(parsed, field, value)


def iso_time(value: object, *, field: str) -> datetime:
    """ISO 8601; naive is taken as Vietnam time."""
    if not isinstance(value, str) or len(value) > 40:
        raise MalformedPayload(f"{field} must be an ISO 8601 date and time, got {show(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedPayload(
            f"{field} must be an ISO 8601 date and time, got {show(value)}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=VN_TZ)
    return _in_range(parsed, field, value)


def epoch_time(value: object, *, field: str, unit: str = "ms") -> datetime:
    """Unix time in milliseconds (``unit="ms"``) or seconds (``"s"``), as a JSON integer or
    digits; returned in Vietnam time."""
    if isinstance(value, str) and _DIGITS.fullmatch(value) and len(value) <= 16:
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**16:
        number = value
    else:
        raise MalformedPayload(f"{field} must be a Unix time in {unit}, got {show(value)}")
    try:
        moment = _EPOCH + (timedelta(milliseconds=number) if unit == "ms"
                           else timedelta(seconds=number))
    except OverflowError:
        raise MalformedPayload(f"{field} is not a plausible time: {show(value)}") from None
    return _in_range(moment, field, value).astimezone(VN_TZ)


def to_epoch_ms(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def to_epoch_s(moment: datetime) -> int:
    delta = moment - _EPOCH
    return delta.days * 86_400 + delta.seconds


def vn_local(moment: datetime, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return moment.astimezone(VN_TZ).strftime(fmt)
