"""The query parameters of ``/api/v1``, read one way everywhere.

A parameter that is absent takes its default; one that is present must say something:
``?limit=`` or ``?status=`` is refused (422 naming the parameter), never read as absent, so a
caller whose template left a value out learns it instead of getting a different page than it
asked for. The OpenAPI document declares the same (``minLength: 1``, formats, enums).
"""

from __future__ import annotations

from datetime import datetime

from flask import request

from recon.errors import FieldError, ValidationError
from recon.intake.dossiers import parse_datetime

BIGINT_MAX = 2**63 - 1
EMPTY = "is empty: give a value, or leave the parameter out"


def text_arg(name: str) -> str | None:
    """The parameter's value, None when absent; refused when present but empty."""
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw == "":
        raise ValidationError(FieldError(name, EMPTY))
    return raw


def int_arg(name: str, default: int | None, *, minimum: int = 0,
            maximum: int | None = None) -> int | None:
    """A whole number in ``[minimum, maximum]`` (ids are BIGINT: never past its range)."""
    raw = text_arg(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()):  # "²".isdigit() is True, int("²") fails
        raise ValidationError(FieldError(name, "must be a whole number"))
    value = int(raw)
    highest = BIGINT_MAX if maximum is None else maximum
    if value < minimum or value > highest:
        raise ValidationError(FieldError(name, f"must be between {minimum} and {highest}"))
    return value


def choice_arg(name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
    """One of ``allowed``; ``default`` when absent."""
    raw = text_arg(name)
    if raw is None:
        return default
    if raw not in allowed:
        raise ValidationError(FieldError(name, f"must be one of {', '.join(allowed)}"))
    return raw


def date_arg(name: str) -> datetime | None:
    """An ISO 8601 date (midnight, Vietnam time) or date-time (without an offset: Vietnam
    time)."""
    raw = text_arg(name)
    if raw is None:
        return None
    try:
        return parse_datetime(raw if "T" in raw.upper() else raw + "T00:00:00")
    except ValueError as exc:
        raise ValidationError(FieldError(name, str(exc))) from None
