"""Settlement import: provider reports and bank statements -> settlement lines, all or nothing.

A file is read through a **column profile** (which column is the id, the gross amount, the fee,
the dates; date formats; decimal and thousands separators; delimiter, encoding, header row, rows
to skip, footers and filters). Profiles are data: a provider's own report layouts are declared
by its adapter (``Adapter.settlement_profiles``), the others (recon's canonical format, bank
statements) ship in ``recon/data/settlement_profiles.toml``, and an operator adds or overrides
them, without code, in a TOML or JSON file named by ``RECON_SETTLEMENT_PROFILES``. The
``canonical`` profile reads recon's own format (PROVIDERS.md §3), for every provider::

    provider_txn_id,amount,fee,transaction_at,settled_on[,net_amount][,reference][,kind]
    [,original_txn_id]

Rules that hold for every profile:

- money is an exact non-negative integer of VND: a fraction of a dong (``100.5``,
  ``1.234,5``), an exponent (``1e5``), a sign, or grouping the profile does not declare are
  errors, never rounded; an XLSX number cell must hold a whole number;
- ``net_amount`` (when present) should equal ``amount - fee``; a line whose net does not is
  kept with its stated net (``stated_net``) and the engine reports it (``fee_mismatch``): the
  file contradicts itself, which is a finding, not a reason to refuse the file. With a net
  and no fee column the fee is ``amount - net``;
- times without an offset are Vietnam time; ``settled_on`` is a date (or, when the profile has
  no settled column, the Vietnam date of ``transaction_at``);
- pass 1 reads and checks every row and collects every error with its row number; if there is
  any, nothing is written. Pass 2 stores the file itself (kept verbatim, hashed: the same bytes
  are refused a second time and nothing changes), its lines and one audit event, in one
  transaction.

Lines are sales unless the profile reads a ``kind`` column (the file's transaction type): its
values are mapped by the profile's ``kind_values`` (``{sale = [...], refund = [...]}``; by
default ``sale`` and ``refund``, compared case-folded). A value the mapping does not name, or
a blank one, is a row error that refuses the file, naming the value and the key to add it to.
A refund line keeps non-negative figures (``amount`` the gross refunded, ``fee`` the refund
fee charged, which may exceed a small refund); its stated net may be ``amount - fee`` or
``amount + fee`` (what the provider takes back), anything else is kept as ``stated_net``. An
``original_txn_id`` column names the sale a refund reverses (kept for refund lines only;
without it the refund's own id is the sale's).

Several lines may carry the same ``(provider, provider_txn_id)``: a transaction settled twice is
a discrepancy the reconciliation engine reports, not an import error.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters import ADAPTERS, PROVIDERS
from recon.audit import chain as audit
from recon.bulk import insert_rows
from recon.clock import VN_TZ, Clock, as_utc
from recon.config import Settings
from recon.db import Database
from recon.errors import ConfigurationError, DuplicateFile, FieldError, ValidationError
from recon.models import SettlementFile, SettlementLine
from recon.money import MAX_VND

FIELDS: tuple[str, ...] = ("provider_txn_id", "amount", "fee", "net_amount", "transaction_at",
                           "settled_on", "reference", "counterparty", "kind", "original_txn_id")
#: a settlement line's kinds (settlement_lines.kind, migration 0032), and the file values a
#: profile maps to them when it declares no kind_values
LINE_KINDS: tuple[str, ...] = ("sale", "refund")
DEFAULT_KIND_VALUES: dict[str, tuple[str, ...]] = {"sale": ("sale",), "refund": ("refund",)}
# counterparty: the other side's account number (a statement of debits: where the money went,
# recon/settlements/transfers.py); settlement lines do not keep it
MONEY_FIELDS = frozenset({"amount", "fee", "net_amount"})
BUILTIN_PROFILES_PATH = Path(__file__).parent.parent / "data" / "settlement_profiles.toml"
DEBIT_PROFILES_PATH = Path(__file__).parent.parent / "data" / "debit_profiles.toml"
PROFILES_ENV = "RECON_SETTLEMENT_PROFILES"
DEFAULT_PROFILE = "canonical"
MAX_ERRORS = 10_000
HEADER_SCAN_ROWS = 50
BATCH = 5000
TXN_ID_MAX = 64
REFERENCE_MAX = 255
XLSX_MAGIC = b"PK\x03\x04"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
LINE_COLUMNS = ("file_id", "line_no", "provider", "provider_txn_id", "amount", "fee", "net",
                "stated_net", "transaction_at", "settled_on", "reference", "created_at", "kind",
                "original_txn_id")

Progress = Callable[[int], None]
Cell = object  # str (CSV), or whatever openpyxl gives: str, int, float, datetime, date, bool, None


# ---------------------------------------------------------------------------------------------
# profiles


@dataclass(frozen=True)
class RowFilter:
    """Keep a row only when its ``column`` (a field name or a header title) passes every test."""

    column: str
    nonblank: bool = False
    positive: bool = False
    equals: tuple[str, ...] = ()
    not_equals: tuple[str, ...] = ()

    def describe(self) -> str:
        tests = []
        if self.nonblank:
            tests.append("is not blank")
        if self.positive:
            tests.append("is more than 0")
        if self.equals:
            tests.append("is one of " + ", ".join(repr(v) for v in self.equals))
        if self.not_equals:
            tests.append("is none of " + ", ".join(repr(v) for v in self.not_equals))
        return f"{self.column} " + " and ".join(tests)


@dataclass(frozen=True)
class Profile:
    """How to read one kind of settlement file. See the README for every key."""

    name: str
    columns: Mapping[str, tuple[str, ...]]
    description: str = ""
    providers: tuple[str, ...] = ()
    format: str = "auto"  # auto | csv | xlsx
    optional_columns: frozenset[str] = frozenset()
    strict_header: bool = False
    datetime_formats: tuple[str, ...] = ("iso",)
    date_formats: tuple[str, ...] = ("iso",)
    decimal_separator: str = ""
    thousands_separator: str = ""
    strip: tuple[str, ...] = ()
    blank_is_zero: frozenset[str] = frozenset()
    delimiter: str = ","  # one character, or "auto"
    encoding: str = "utf-8-sig"
    header_row: int | None = 1  # 1-based; None = find it ("auto")
    skip_rows: int = 0  # rows right after the header to skip (e.g. a "(1) (2) (3)" row)
    stop_at: tuple[str, ...] = ()  # a row whose first cell starts with one of these ends data
    sheet: str | int | None = None  # XLSX: sheet name or 1-based index; default the first
    filters: tuple[RowFilter, ...] = ()
    origin: str = "built-in"
    # the file's transaction types per line kind (read only with a kind column)
    kind_values: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_KIND_VALUES))

    def kind_of(self, value: str) -> str | None:
        """The line kind a transaction type of the file stands for (``None``: not declared)."""
        wanted = _norm(value)
        for kind, values in self.kind_values.items():
            if any(_norm(v) == wanted for v in values):
                return kind
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description,
            "providers": list(self.providers), "format": self.format,
            "columns": {k: list(v) for k, v in self.columns.items()},
            "optional_columns": sorted(self.optional_columns),
            "strict_header": self.strict_header,
            "datetime_formats": list(self.datetime_formats),
            "date_formats": list(self.date_formats),
            "decimal_separator": self.decimal_separator,
            "thousands_separator": self.thousands_separator,
            "strip": list(self.strip), "blank_is_zero": sorted(self.blank_is_zero),
            "delimiter": self.delimiter, "encoding": self.encoding,
            "header_row": self.header_row if self.header_row is not None else "auto",
            "skip_rows": self.skip_rows, "stop_at": list(self.stop_at), "sheet": self.sheet,
            "filters": [f.describe() for f in self.filters], "origin": self.origin,
            "kind_values": {k: list(v) for k, v in self.kind_values.items()},
        }


_PROFILE_KEYS = frozenset({
    "description", "providers", "format", "columns", "optional_columns", "strict_header",
    "datetime_formats", "date_formats", "decimal_separator", "thousands_separator", "strip",
    "blank_is_zero", "delimiter", "encoding", "header_row", "skip_rows", "stop_at", "sheet",
    "filters", "kind_values"})
_FILTER_KEYS = frozenset({"column", "nonblank", "positive", "equals", "not_equals"})


def _strings(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"{where} must be a string or a list of strings")


def profile_columns(raw: object, keys: Iterable[str],
                    fields: Sequence[str]) -> tuple[dict[str, Any], dict[str, tuple[str, ...]]]:
    """A column profile's table of settings checked for its ``keys`` and its ``columns`` (each
    of ``fields`` to one title or a list of titles): ``(raw, columns)``. Shared by the
    settlement profiles and the portal's (``recon.portal.importer``)."""
    if not isinstance(raw, dict):
        raise ValueError("must be a table of settings")
    unknown = set(raw) - set(keys)
    if unknown:
        raise ValueError("unknown key(s) " + ", ".join(sorted(unknown)) + "; known keys: "
                         + ", ".join(sorted(keys)))
    columns_raw = raw.get("columns")
    if not isinstance(columns_raw, dict) or not columns_raw:
        raise ValueError("needs a 'columns' table mapping fields to column titles")
    bad_fields = set(columns_raw) - set(fields)
    if bad_fields:
        raise ValueError("columns: unknown field(s) " + ", ".join(sorted(bad_fields))
                         + "; fields are " + ", ".join(fields))
    return raw, {k: _strings(v, f"columns.{k}") for k, v in columns_raw.items()}


def _build_profile(name: str, raw: object, origin: str) -> Profile:
    raw, columns = profile_columns(raw, _PROFILE_KEYS, FIELDS)
    for needed in ("provider_txn_id", "amount"):
        if needed not in columns:
            raise ValueError(f"columns must name the {needed} column")
    if "transaction_at" not in columns and "settled_on" not in columns:
        raise ValueError("columns must name a transaction_at or a settled_on column")
    optional = frozenset(_strings(raw.get("optional_columns", []), "optional_columns"))
    if optional - set(columns):
        raise ValueError("optional_columns names field(s) not in columns: "
                         + ", ".join(sorted(optional - set(columns))))
    if optional & {"provider_txn_id", "amount"}:
        raise ValueError("provider_txn_id and amount cannot be optional")
    fmt = raw.get("format", "auto")
    if fmt not in {"auto", "csv", "xlsx"}:
        raise ValueError("format must be auto, csv or xlsx")
    decimal = raw.get("decimal_separator", "")
    thousands = raw.get("thousands_separator", "")
    for label, sep in (("decimal_separator", decimal), ("thousands_separator", thousands)):
        if not isinstance(sep, str) or len(sep) > 1 or sep.isdigit() or (sep and sep in "+-"):
            raise ValueError(f"{label} must be one character (such as '.' or ',') or empty")
    if decimal and decimal == thousands:
        raise ValueError("decimal_separator and thousands_separator must differ")
    delimiter = raw.get("delimiter", ",")
    if not isinstance(delimiter, str) or (delimiter != "auto" and len(delimiter) != 1):
        raise ValueError("delimiter must be one character (\",\", \";\", \"\\t\") or \"auto\"")
    encoding = raw.get("encoding", "utf-8-sig")
    if not isinstance(encoding, str):
        raise ValueError("encoding must be a string such as 'utf-8-sig' or 'cp1258'")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"encoding {encoding!r} is not known to Python") from None
    header_row_raw = raw.get("header_row", 1)
    header_row: int | None
    if header_row_raw == "auto":
        header_row = None
    elif isinstance(header_row_raw, int) and not isinstance(header_row_raw, bool) \
            and header_row_raw >= 1:
        header_row = header_row_raw
    else:
        raise ValueError("header_row must be a row number (1 = first row) or \"auto\"")
    skip_rows = raw.get("skip_rows", 0)
    if not isinstance(skip_rows, int) or isinstance(skip_rows, bool) or skip_rows < 0:
        raise ValueError("skip_rows must be a whole number, 0 or more")
    sheet = raw.get("sheet")
    if sheet is not None and (isinstance(sheet, bool) or not isinstance(sheet, (str, int))):
        raise ValueError("sheet must be a sheet name or a 1-based number")
    datetime_formats = _strings(raw.get("datetime_formats", ["iso"]), "datetime_formats")
    date_formats = _strings(raw.get("date_formats", ["iso"]), "date_formats")
    for fmt_text in datetime_formats + date_formats:
        if fmt_text != "iso" and "%" not in fmt_text:
            raise ValueError(f"date format {fmt_text!r} must be \"iso\" or a strftime pattern "
                             "such as \"%d/%m/%Y %H:%M:%S\"")
    blank_is_zero = frozenset(_strings(raw.get("blank_is_zero", []), "blank_is_zero"))
    if blank_is_zero - {"fee"}:
        raise ValueError("blank_is_zero may only name fee")
    filters_raw = raw.get("filters", [])
    if not isinstance(filters_raw, list):
        raise ValueError("filters must be a list of tables ([[profiles.NAME.filters]])")
    filters = []
    for i, item in enumerate(filters_raw, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("column"), str):
            raise ValueError(f"filter {i} needs a 'column' (a field name or a column title)")
        unknown = set(item) - _FILTER_KEYS
        if unknown:
            raise ValueError(f"filter {i}: unknown key(s) " + ", ".join(sorted(unknown)))
        row_filter = RowFilter(
            column=item["column"], nonblank=bool(item.get("nonblank", False)),
            positive=bool(item.get("positive", False)),
            equals=_strings(item.get("equals", []), f"filter {i} equals"),
            not_equals=_strings(item.get("not_equals", []), f"filter {i} not_equals"))
        if not (row_filter.nonblank or row_filter.positive or row_filter.equals
                or row_filter.not_equals):
            raise ValueError(f"filter {i} tests nothing: give nonblank, positive, equals or "
                             "not_equals")
        filters.append(row_filter)
    kind_values = _kind_values(raw.get("kind_values"), "kind" in columns)
    providers = _strings(raw.get("providers", []), "providers")
    unknown_providers = set(providers) - set(PROVIDERS)
    if unknown_providers:
        raise ValueError("providers: unknown " + ", ".join(sorted(unknown_providers)))
    return Profile(
        name=name, columns=columns, description=str(raw.get("description", "")),
        providers=providers, format=fmt, optional_columns=optional,
        strict_header=bool(raw.get("strict_header", False)),
        datetime_formats=datetime_formats, date_formats=date_formats,
        decimal_separator=decimal, thousands_separator=thousands,
        strip=_strings(raw.get("strip", []), "strip"), blank_is_zero=blank_is_zero,
        delimiter=delimiter, encoding=encoding, header_row=header_row, skip_rows=skip_rows,
        stop_at=_strings(raw.get("stop_at", []), "stop_at"), sheet=sheet,
        filters=tuple(filters), origin=origin, kind_values=kind_values)


def _kind_values(raw: object, has_column: bool) -> dict[str, tuple[str, ...]]:
    """A profile's ``kind_values``: each line kind to the file's values for it (defaults:
    ``sale``, ``refund``); only with a ``kind`` column; one value names one kind."""
    if raw is None:
        return dict(DEFAULT_KIND_VALUES)
    if not has_column:
        raise ValueError("kind_values needs a kind column in columns (the file's transaction "
                         "type)")
    if not isinstance(raw, dict) or not raw:
        raise ValueError("kind_values must be a table such as {sale = [\"PAYMENT\"], "
                         "refund = [\"REFUND\", \"Hoàn tiền\"]}")
    unknown = set(raw) - set(LINE_KINDS)
    if unknown:
        raise ValueError("kind_values: unknown kind(s) " + ", ".join(sorted(unknown))
                         + "; kinds are " + ", ".join(LINE_KINDS))
    out = {kind: _strings(values, f"kind_values.{kind}") for kind, values in raw.items()}
    seen: dict[str, str] = {}
    for kind, values in out.items():
        for value in values:
            if not _norm(value):
                raise ValueError(f"kind_values.{kind}: a value is blank")
            other = seen.setdefault(_norm(value), kind)
            if other != kind:
                raise ValueError(f"kind_values: {value!r} is under both {other} and {kind}")
    return out


def parse_profiles(document: Mapping[str, Any], origin: str) -> dict[str, Profile]:
    """Profiles from a parsed TOML/JSON document ``{"profiles": {NAME: {...}}}``."""
    table = document.get("profiles")
    if not isinstance(table, dict) or not table:
        raise ConfigurationError(
            f"{origin} has no profiles",
            hint="Write one table per profile: [profiles.NAME] with a [profiles.NAME.columns] "
                 "table (see the README, section Settlements).")
    out: dict[str, Profile] = {}
    for name, raw in table.items():
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
            raise ConfigurationError(f"{origin}: profile name {name!r} is not allowed",
                                     hint="Use letters, digits, '_', '-' or '.' (at most 64).")
        try:
            out[name] = _build_profile(name, raw, origin)
        except ValueError as exc:
            raise ConfigurationError(f"{origin}: profile {name!r}: {exc}",
                                     hint=f"Correct profile {name!r} in {origin}.") from None
    return out


def _read_document(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the settlement profiles file {path}: {exc.strerror or exc}",
            hint=f"Check the path in {PROFILES_ENV}, or unset it to use the built-in "
                 "profiles.") from None
    try:
        if path.suffix.lower() == ".json":
            document = json.loads(raw.decode("utf-8-sig"))
        else:
            document = tomllib.loads(raw.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"the settlement profiles file {path} is not valid "
            f"{'JSON' if path.suffix.lower() == '.json' else 'TOML'}: {exc}",
            hint="Correct the file (a .json name is read as JSON, anything else as TOML).",
        ) from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"{path} must hold an object with a 'profiles' table")
    return document


def _read_profiles_file(path: Path) -> dict[str, Profile]:
    return parse_profiles(_read_document(path), str(path))


def builtin_profiles() -> dict[str, Profile]:
    """The data file's profiles and every registered adapter's, listed by provider (in
    :data:`adapters.PROVIDERS` order, a profile under the first provider it serves), canonical
    first. ``canonical`` serves every provider."""
    document = _read_document(BUILTIN_PROFILES_PATH)
    table = dict(document.get("profiles") or {})
    for cls in ADAPTERS.values():
        for name, raw in cls.settlement_profiles.items():
            if name in table:
                raise ConfigurationError(
                    f"settlement profile {name!r} of the {cls.name} adapter is declared twice",
                    hint="Give each provider's profile its own name.")
            table[name] = {**raw, "providers": [cls.name]}
    if isinstance(table.get(DEFAULT_PROFILE), dict):
        table[DEFAULT_PROFILE] = {**table[DEFAULT_PROFILE], "providers": list(PROVIDERS)}
    parsed = parse_profiles({"profiles": table}, "the built-in settlement profiles")
    order = {name: index for index, name in enumerate(PROVIDERS)}

    def position(profile: Profile) -> tuple[bool, int]:
        first = min((order[p] for p in profile.providers if p in order), default=len(order))
        return profile.name != DEFAULT_PROFILE, first

    return {p.name: _with_origin(p, "built-in") for p in sorted(parsed.values(), key=position)}


def load_profiles(extra_path: str | Path | None = None) -> dict[str, Profile]:
    """The built-in profiles, then those of ``extra_path`` (same name replaces built-in)."""
    profiles = builtin_profiles()
    if extra_path:
        profiles.update(_read_profiles_file(Path(extra_path)))
    return profiles


def debit_profiles(extra_path: str | Path | None = None) -> dict[str, Profile]:
    """The built-in profiles of statements' debits (``recon/data/debit_profiles.toml``, read by
    ``recon transfers import``), then those of ``extra_path`` (same name replaces built-in)."""
    profiles = {name: _with_origin(p, "built-in") for name, p in parse_profiles(
        _read_document(DEBIT_PROFILES_PATH), "the built-in debit profiles").items()}
    if extra_path:
        profiles.update(_read_profiles_file(Path(extra_path)))
    return profiles


def _with_origin(profile: Profile, origin: str) -> Profile:
    return replace(profile, origin=origin)


def profiles_from_settings(settings: Settings) -> dict[str, Profile]:
    """:func:`load_profiles` with ``RECON_SETTLEMENT_PROFILES`` from the app's settings."""
    return load_profiles(settings.get("SETTLEMENT_PROFILES"))


# ---------------------------------------------------------------------------------------------
# reading cells


def _norm(value: object) -> str:
    """Header matching: Unicode NFC, case-folded, whitespace collapsed."""
    text = unicodedata.normalize("NFC", str(value)).replace("\ufeff", "")
    return " ".join(text.casefold().split())


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value).strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _show(value: object) -> str:
    text = value if isinstance(value, str) else _cell_text(value)
    return repr(text if len(text) <= 40 else text[:40] + "…")


class _CellError(ValueError):
    pass


def parse_amount(value: Cell, profile: Profile) -> int:
    """A money cell as an exact int of VND, under the profile's separators; or _CellError."""
    if isinstance(value, bool):
        raise _CellError(f"must be a whole number of VND, got {_show(value)}")
    if isinstance(value, int):
        amount = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise _CellError(f"has a fraction of a dong ({value!r}): VND amounts are whole "
                             "numbers; correct the cell, it is never rounded")
        if abs(value) > MAX_VND:
            raise _CellError(f"is too large: {value!r}")
        amount = int(value)
    elif isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise _CellError(f"has a fraction of a dong ({value}): VND amounts are whole numbers")
        amount = int(value)
    elif isinstance(value, str):
        amount = _parse_amount_text(value, profile)
    elif value is None:
        raise _CellError("is missing")
    else:
        raise _CellError(f"must be a number of VND, got {_show(value)}")
    if amount < 0:
        raise _CellError(f"must not be negative, got {amount}")
    if amount > MAX_VND:
        raise _CellError(f"is too large: {amount}")
    return amount


def _format_hint(profile: Profile) -> str:
    t = profile.thousands_separator
    d = profile.decimal_separator
    parts = [f"thousands separator {t!r}" if t else "no thousands separator",
             f"decimal separator {d!r} (zeros only)" if d else "no decimals"]
    return f"profile {profile.name}: " + ", ".join(parts)


def _parse_amount_text(raw: str, profile: Profile) -> int:
    if raw.isascii() and raw.isdigit() and len(raw) <= 16:
        return int(raw)  # the common case: plain digits
    text = raw.strip().replace("\u00a0", " ").replace("\u202f", " ")
    for token in profile.strip:
        if token:
            text = text.replace(token, "")
    text = text.strip()
    if text == "":
        raise _CellError("is missing")
    if text.startswith("-") or (text.startswith("(") and text.endswith(")")):
        raise _CellError(f"must not be negative, got {_show(raw)}")
    t = profile.thousands_separator
    d = profile.decimal_separator
    if t == " ":
        text = re.sub(r" +", " ", text)
    integer, fraction = text, ""
    if d and d in text:
        integer, _, fraction = text.rpartition(d)
        if not fraction.isascii() or not fraction.isdigit():
            raise _CellError(f"is not a whole number of VND ({_format_hint(profile)}), got "
                             f"{_show(raw)}")
    if t and t in integer:
        groups = integer.split(t)
        ok = (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])
              and all(g.isascii() and g.isdigit() for g in groups))
        if not ok:
            raise _CellError(f"is not a whole number of VND ({_format_hint(profile)}), got "
                             f"{_show(raw)}")
        integer = "".join(groups)
    if not integer.isascii() or not integer.isdigit():
        raise _CellError(f"is not a whole number of VND ({_format_hint(profile)}), got "
                         f"{_show(raw)}")
    if fraction.strip("0"):
        raise _CellError(f"has a fraction of a dong ({_show(raw)}): VND amounts are whole "
                         "numbers; it is never rounded")
    if len(integer.lstrip("0")) > 16:
        raise _CellError(f"is too large: {_show(raw)}")
    return int(integer)


def _parse_datetime(value: Cell, formats: Sequence[str]) -> datetime:
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        return as_utc(datetime.combine(value, time()))
    if not isinstance(value, str):
        raise _CellError(f"must be a date and time, got {_show(value)}")
    text = value.strip()
    if not text:
        raise _CellError("is missing")
    for fmt in formats:
        try:
            parsed = (datetime.fromisoformat(text) if fmt == "iso"
                      else datetime.strptime(text, fmt))  # noqa: DTZ007 - naive = Vietnam time
        except ValueError:
            continue
        return as_utc(parsed)
    raise _CellError(f"is not a date and time in a known format ({', '.join(formats)}), got "
                     f"{_show(text)}")


def _parse_date(value: Cell, formats: Sequence[str]) -> date:
    if isinstance(value, datetime):
        if value.time() != time() and value.tzinfo is None:
            raise _CellError(f"must be a date without a time, got {value.isoformat()}")
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise _CellError(f"must be a date, got {_show(value)}")
    text = value.strip()
    if not text:
        raise _CellError("is missing")
    for fmt in formats:
        try:
            if fmt == "iso":
                if _ISO_DATE.fullmatch(text):
                    return date.fromisoformat(text)
                continue
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
    raise _CellError(f"is not a date in a known format ({', '.join(formats)}), got "
                     f"{_show(text)}")


def _text_id(value: Cell) -> str:
    if isinstance(value, bool):
        raise _CellError(f"must be a transaction id, got {_show(value)}")
    if isinstance(value, float) and not value.is_integer():
        raise _CellError(f"must be a transaction id, got the number {value!r}")
    text = _cell_text(value)
    if not text:
        raise _CellError("is missing: every line needs the provider's transaction id")
    if len(text) > TXN_ID_MAX:
        raise _CellError(f"is longer than {TXN_ID_MAX} characters: {_show(text)}")
    if not text.isprintable() and any(unicodedata.category(ch)[0] == "C" for ch in text):
        raise _CellError(f"contains control characters: {_show(text)}")
    return text


# ---------------------------------------------------------------------------------------------
# rows


def detect_format(data: bytes, filename: str, profile: Profile) -> str:
    if profile.format != "auto":
        return profile.format
    suffix = Path(filename).suffix.lower()
    if data.startswith(XLSX_MAGIC) or suffix in {".xlsx", ".xlsm"}:
        return "xlsx"
    return "csv"


def _csv_rows(data: bytes, profile: Profile) -> Iterator[tuple[int, list[Cell]]]:
    if data.startswith(XLSX_MAGIC):
        raise ValidationError(FieldError(
            "file", f"is an XLSX workbook, but profile {profile.name} reads CSV"),
            hint="Import it with a profile for XLSX (format = \"auto\" or \"xlsx\").")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ValidationError(FieldError("file", "is an old binary Excel (.xls) workbook"),
                              hint="Open it in Excel or LibreOffice, save it as .xlsx or CSV "
                                   "(UTF-8), and import that.")
    try:
        text = data.decode(profile.encoding)
    except UnicodeDecodeError as exc:
        raise ValidationError(FieldError(
            "file", f"is not {profile.encoding} text (byte {exc.start} cannot be decoded)"),
            hint="Export it as UTF-8 CSV, or set 'encoding' in the profile (e.g. 'cp1258', "
                 "'utf-16').") from None
    if "\x00" in text:
        raise ValidationError(FieldError("file", "contains NUL bytes: it is not a CSV text "
                                         "file"),
                              hint="Import the CSV or XLSX export itself.")
    delimiter = profile.delimiter
    if delimiter == "auto":
        try:
            delimiter = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    last = 0
    try:
        for row in reader:
            start = last + 1
            last = reader.line_num
            yield start, list(row)
    except csv.Error as exc:
        raise ValidationError(FieldError("file", f"is not readable CSV: {exc}", last + 1),
                              hint="Check the quoting on that line, or the profile's "
                                   "delimiter.") from None


@dataclass(frozen=True)
class XlsxLimits:
    """What an XLSX workbook may hold before it is opened or while it is read (spreadsheet
    bombs: a small zip that inflates to gigabytes, a cell in column XFD, a million rows).
    Settings: ``RECON_XLSX_MAX_UNCOMPRESSED_BYTES``, ``RECON_XLSX_MAX_RATIO``,
    ``RECON_XLSX_MAX_SHARED_STRINGS``, ``RECON_XLSX_MAX_ROWS``, ``RECON_XLSX_MAX_COLUMNS``."""

    uncompressed_bytes: int = 256 * 1024 * 1024
    ratio: int = 100
    shared_strings: int = 1_000_000
    rows: int = 500_000
    columns: int = 256

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> XlsxLimits:
        values: dict[str, int] = {}
        for name, default in asdict(cls()).items():
            var = f"RECON_XLSX_MAX_{name.upper()}"
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            try:
                value = int(raw)
            except ValueError:
                raise ConfigurationError(f"{var} must be a whole number, got {raw!r}; unset "
                                         f"it for the default ({default})") from None
            if value <= 0:
                raise ConfigurationError(f"{var} must be above 0, got {value}; unset it for "
                                         f"the default ({default})")
            values[name] = value
        return cls(**values)


#: parts this small are not held to the compression ratio (tiny XML compresses unevenly)
RATIO_EXEMPT_BYTES = 1024 * 1024
_SHARED_STRINGS_PART = "xl/sharedStrings.xml"
_BOMB_HINT = ("Nothing was imported. Export the statement again from the bank or provider "
              "(one sheet, only the statement's rows and columns), or export CSV; if the file is "
              "genuine and larger, an administrator can raise {var}.")


def _refuse(message: str, var: str) -> ValidationError:
    return ValidationError(FieldError("file", message), hint=_BOMB_HINT.format(var=var))


def _check_zip(data: bytes, limits: XlsxLimits) -> None:
    """Before anything is inflated: the workbook's declared sizes (zip directory only), then
    the number of shared strings (counted streaming, the part never held whole)."""
    import zipfile  # noqa: PLC0415

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        return  # openpyxl's own refusal says it is not a readable workbook
    with archive:
        members = archive.infolist()
        total = sum(m.file_size for m in members)
        if total > limits.uncompressed_bytes:
            raise _refuse(f"inflates to {total:,} bytes, over the limit of "
                          f"{limits.uncompressed_bytes:,} bytes",
                          "RECON_XLSX_MAX_UNCOMPRESSED_BYTES")
        for member in members:
            if member.file_size <= RATIO_EXEMPT_BYTES:
                continue
            ratio = member.file_size / max(member.compress_size, 1)
            if ratio > limits.ratio:
                raise _refuse(f"part {member.filename} is compressed {ratio:,.0f} to 1, over "
                              f"the limit of {limits.ratio} to 1 (a zip bomb?)",
                              "RECON_XLSX_MAX_RATIO")
        names = {m.filename for m in members}
        for part in sorted(_shared_string_parts(archive, names)):
            _count_shared_strings(archive, part, limits)


class _NotCounted(Exception):
    """The shared-strings part cannot be counted (a DTD, damaged XML): openpyxl refuses it."""


def _stream_xml(archive: Any, part: str, start: Callable[[str, dict[str, str]], None],
                stop: Callable[[], bool] = lambda: False) -> None:
    """Feed one part to expat, streaming: no tree, no entity expansion (a part declaring a DTD
    is not read: openpyxl refuses it). Damaged XML ends the reading quietly: openpyxl's own
    refusal says the workbook is damaged."""
    from xml.parsers import expat  # noqa: PLC0415

    def no_dtd(*_args: object) -> None:
        raise _NotCounted

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = no_dtd
    parser.EntityDeclHandler = no_dtd
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(1 << 16):
                parser.Parse(chunk, False)
                if stop():
                    return
            parser.Parse(b"", True)
    except (_NotCounted, expat.ExpatError, OSError, RuntimeError, ValueError):
        return


_SHARED_STRINGS_TYPE = ("application/vnd.openxmlformats-officedocument.spreadsheetml."
                        "sharedStrings+xml")


def _shared_string_parts(archive: Any, names: set[str]) -> set[str]:
    """The parts openpyxl reads as shared strings (by content type, whatever their name)."""
    parts = {_SHARED_STRINGS_PART} & names

    def start(name: str, attrs: dict[str, str]) -> None:
        if name.endswith("Override") and attrs.get("ContentType") == _SHARED_STRINGS_TYPE:
            parts.add(attrs.get("PartName", "").lstrip("/"))

    if "[Content_Types].xml" in names:
        _stream_xml(archive, "[Content_Types].xml", start)
    return parts & names


def _count_shared_strings(archive: Any, part: str, limits: XlsxLimits) -> None:
    """Count the part's ``<si>`` elements, streaming; refuse past the limit."""
    count = 0

    def start(name: str, _attrs: object) -> None:
        nonlocal count
        if name == "si" or name.endswith(":si") or name.endswith("}si"):
            count += 1

    _stream_xml(archive, part, start, stop=lambda: count > limits.shared_strings)
    if count > limits.shared_strings:
        raise _refuse(f"holds more than {limits.shared_strings:,} shared strings",
                      "RECON_XLSX_MAX_SHARED_STRINGS")


def _column_name(number: int) -> str:
    name = ""
    while number:
        number, rest = divmod(number - 1, 26)
        name = chr(65 + rest) + name
    return name


def _sheet_rows(workbook: Any, sheet: Any, limits: XlsxLimits) -> Iterator[tuple[int, list[Cell]]]:
    """The sheet's rows, streamed from its XML (read-only mode), each as wide as its last cell;
    a row past the row limit or a cell past the column limit stops the import before the
    padding is built. Missing rows come as empty lists (blank), as openpyxl gives them."""
    from openpyxl.worksheet._reader import WorkSheetParser  # noqa: PLC0415

    expected = 1
    # openpyxl's own read-only parts (3.1): the sheet's XML stream and its row parser
    with sheet._get_source() as source:
        parser = WorkSheetParser(source, sheet._shared_strings,
                                 data_only=True, epoch=workbook.epoch,
                                 date_formats=workbook._date_formats,
                                 timedelta_formats=workbook._timedelta_formats)
        for number, cells in parser.parse():
            if number > limits.rows:
                raise _refuse(f"has more than {limits.rows:,} rows (row {number:,} has data)",
                              "RECON_XLSX_MAX_ROWS")
            width = max((cell["column"] for cell in cells), default=0)
            if width > limits.columns:
                raise _refuse(f"row {number:,} has a cell in column {_column_name(width)} "
                              f"(column {width:,}); at most {limits.columns:,} columns "
                              f"(up to {_column_name(limits.columns)}) are read",
                              "RECON_XLSX_MAX_COLUMNS")
            while expected < number:
                yield expected, []
                expected += 1
            row: list[Cell] = [None] * width
            for cell in cells:
                row[cell["column"] - 1] = cell["value"]
            yield number, row
            expected = number + 1


def _xlsx_rows(data: bytes, profile: Profile,
               limits: XlsxLimits | None = None) -> Iterator[tuple[int, list[Cell]]]:
    import openpyxl  # noqa: PLC0415 - only XLSX imports pay for it

    limits = limits if limits is not None else XlsxLimits.from_env(os.environ)
    _check_zip(data, limits)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any damage to the zip/XML is the same answer
        detail = exc.__class__.__name__
        raise ValidationError(FieldError("file", f"is not a readable XLSX workbook ({detail})"),
                              hint="Open it in Excel or LibreOffice and save it again as .xlsx, "
                                   "or export CSV.") from None
    try:
        names = workbook.sheetnames
        if profile.sheet is None:
            sheet = workbook[names[0]]
        elif isinstance(profile.sheet, int):
            if not 1 <= profile.sheet <= len(names):
                raise ValidationError(FieldError(
                    "file", f"has {len(names)} sheet(s); profile {profile.name} reads sheet "
                    f"{profile.sheet}"))
            sheet = workbook[names[profile.sheet - 1]]
        else:
            if profile.sheet not in names:
                raise ValidationError(FieldError(
                    "file", f"has no sheet {profile.sheet!r} (sheets: {', '.join(names)})"))
            sheet = workbook[profile.sheet]
        yield from _sheet_rows(workbook, sheet, limits)
    except ValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged sheet is reported, never a crash
        raise ValidationError(FieldError("file", "is a damaged XLSX workbook "
                                         f"({exc.__class__.__name__})"),
                              hint="Save it again from Excel or LibreOffice, or export CSV.",
                              ) from None
    finally:
        workbook.close()


@dataclass(slots=True)
class ParsedLine:
    line_no: int
    provider_txn_id: str
    amount: int
    fee: int
    net: int
    transaction_at: datetime | None
    settled_on: date
    reference: str | None
    # the file's net when it is not amount - fee (kept, reported as a fee_mismatch)
    stated_net: int | None = None
    counterparty: str | None = None
    # sale or refund (migration 0032); a refund's sale as the file names it
    kind: str = "sale"
    original_txn_id: str | None = None


@dataclass
class ParseResult:
    format: str
    profile: str
    lines: list[ParsedLine] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    rows: int = 0  # data rows read (blank rows not counted)
    skipped: int = 0  # rows the profile's filters left out
    header_row: int | None = None
    more_errors: int = 0


def _field_of(header: Sequence[str], names: tuple[str, ...]) -> int | None:
    wanted = [_norm(n) for n in names]
    for want in wanted:
        for index, title in enumerate(header):
            if title == want:
                return index
    return None


@dataclass
class _Layout:
    row: int
    positions: dict[str, int]
    filter_positions: list[tuple[RowFilter, int]]
    titles: dict[str, str]


def _required(profile: Profile) -> list[str]:
    return [f for f in profile.columns if f not in profile.optional_columns]


def _layout(profile: Profile, number: int, cells: Sequence[Cell]) -> _Layout | list[str]:
    """Column positions for a header row, or the list of missing column titles."""
    header = [_norm(_cell_text(c)) for c in cells]
    positions: dict[str, int] = {}
    missing: list[str] = []
    for fld, names in profile.columns.items():
        index = _field_of(header, names)
        if index is None:
            if fld not in profile.optional_columns:
                missing.append(" / ".join(names))
        else:
            positions[fld] = index
    if missing:
        return missing
    filter_positions = []
    for row_filter in profile.filters:
        if row_filter.column in profile.columns:
            index_or_none = positions.get(row_filter.column)
        else:
            index_or_none = _field_of(header, (row_filter.column,))
        if index_or_none is None:
            return [row_filter.column + " (used by a filter)"]
        filter_positions.append((row_filter, index_or_none))
    titles = {fld: _cell_text(cells[i]) or fld for fld, i in positions.items()}
    return _Layout(number, positions, filter_positions, titles)


def _check_strict_header(profile: Profile, cells: Sequence[Cell], line: int,
                         errors: list[FieldError]) -> None:
    known = {_norm(n) for names in profile.columns.values() for n in names}
    seen: set[str] = set()
    for cell in cells:
        title = _norm(_cell_text(cell))
        if not title:
            continue
        if title in seen:
            errors.append(FieldError("header", f"column {_show(cell)} appears twice", line))
        seen.add(title)
        if title not in known:
            errors.append(FieldError(
                "header", f"unknown column {_show(cell)}; the {profile.name} columns are "
                + ", ".join(n for names in profile.columns.values() for n in names), line))


def _stops(profile: Profile, cells: Sequence[Cell]) -> bool:
    if not profile.stop_at:
        return False
    first = next((_norm(_cell_text(c)) for c in cells if not _blank(c)), "")
    return any(first.startswith(_norm(token)) for token in profile.stop_at)


def _keep(profile: Profile, layout: _Layout, cells: Sequence[Cell]) -> bool:
    for row_filter, index in layout.filter_positions:
        value = cells[index] if index < len(cells) else None
        text = _norm(_cell_text(value))
        if row_filter.nonblank and not text:
            return False
        if row_filter.equals and text not in {_norm(v) for v in row_filter.equals}:
            return False
        if row_filter.not_equals and text in {_norm(v) for v in row_filter.not_equals}:
            return False
        if row_filter.positive:
            if not text:
                return False
            try:
                if parse_amount(value, profile) == 0:
                    return False
            except _CellError:
                return True  # kept, so that the bad amount is reported, never dropped
    return True


def _parse_row(profile: Profile, layout: _Layout, number: int, cells: Sequence[Cell],
               errors: list[FieldError]) -> ParsedLine | None:
    def cell(fld: str) -> Cell:
        index = layout.positions.get(fld)
        if index is None or index >= len(cells):
            return None
        return cells[index]

    def title(fld: str) -> str:
        return layout.titles.get(fld, fld)

    before = len(errors)
    values: dict[str, Any] = {}
    try:
        values["provider_txn_id"] = _text_id(cell("provider_txn_id"))
    except _CellError as exc:
        errors.append(FieldError(title("provider_txn_id"), str(exc), number))
    for fld in ("amount", "fee", "net_amount"):
        if fld not in layout.positions:
            continue
        raw = cell(fld)
        if _blank(raw) and (fld == "net_amount" or fld in profile.optional_columns
                            or fld in profile.blank_is_zero):
            values[fld] = 0 if fld == "fee" else None
            continue
        try:
            values[fld] = parse_amount(raw, profile)
        except _CellError as exc:
            errors.append(FieldError(title(fld), str(exc), number))
    transaction_at: datetime | None = None
    if "transaction_at" in layout.positions:
        raw = cell("transaction_at")
        if not (_blank(raw) and "transaction_at" in profile.optional_columns):
            try:
                transaction_at = _parse_datetime(raw, profile.datetime_formats)
            except _CellError as exc:
                errors.append(FieldError(title("transaction_at"), str(exc), number))
    settled_on: date | None = None
    if "settled_on" in layout.positions and not (
            _blank(cell("settled_on")) and "settled_on" in profile.optional_columns):
        try:
            settled_on = _parse_date(cell("settled_on"), profile.date_formats)
        except _CellError as exc:
            errors.append(FieldError(title("settled_on"), str(exc), number))
    elif transaction_at is not None:
        settled_on = transaction_at.astimezone(VN_TZ).date()
    elif len(errors) == before:
        errors.append(FieldError("settled_on", "is missing, and there is no transaction time "
                                 "to take the date from", number))
    reference = None
    if "reference" in layout.positions:
        ref_text = _cell_text(cell("reference"))
        reference = ref_text[:REFERENCE_MAX] or None
    counterparty = None
    if "counterparty" in layout.positions:
        counterparty = _cell_text(cell("counterparty")).replace(" ", "")[:40] or None
    kind = "sale"
    if "kind" in layout.positions:
        raw_kind = _cell_text(cell("kind"))
        found_kind = profile.kind_of(raw_kind) if raw_kind else None
        if found_kind is None:
            listed = "; ".join(f"{k}: " + ", ".join(repr(v) for v in vs)
                               for k, vs in profile.kind_values.items())
            what = ("is blank" if not raw_kind
                    else f"has the unknown transaction type {_show(raw_kind)}")
            errors.append(FieldError(title("kind"), (
                f"{what}; profile {profile.name} knows {listed}. Add the value to "
                f"kind_values.sale or kind_values.refund of profile {profile.name} (in your "
                f"{PROFILES_ENV} file), or correct the row"), number))
        else:
            kind = found_kind
    original: str | None = None
    if "original_txn_id" in layout.positions and not _blank(cell("original_txn_id")):
        try:
            original = _text_id(cell("original_txn_id"))
        except _CellError as exc:
            errors.append(FieldError(title("original_txn_id"), str(exc), number))
    if len(errors) > before:
        return None
    amount: int = values["amount"]
    fee: int | None = values.get("fee")
    net: int | None = values.get("net_amount")
    if fee is None and net is not None:
        fee = amount - net
        if fee < 0:
            errors.append(FieldError(title("net_amount"), f"net {net} is more than the gross "
                                     f"amount {amount}", number))
            return None
    fee = fee or 0
    if fee > amount and kind == "sale":  # a refund's fee may exceed a small refund
        errors.append(FieldError(title("fee"), f"fee {fee} is more than the gross amount "
                                 f"{amount}", number))
        return None
    # a net that is not amount - fee: the file contradicts itself. The line is kept as the
    # provider sent it (net = amount - fee for the sums, stated_net the file's figure) and the
    # engine reports it as a fee_mismatch; refusing it would lose the rest of the file. A
    # refund's net may also be amount + fee (what the provider takes back).
    consistent = (amount - fee,) if kind == "sale" else (amount - fee, amount + fee)
    stated = net if net is not None and net not in consistent else None
    assert settled_on is not None
    return ParsedLine(number, values["provider_txn_id"], amount, fee, amount - fee,
                      transaction_at, settled_on, reference, stated, counterparty, kind,
                      original if kind == "refund" else None)


def parse_settlement(data: bytes, filename: str, profile: Profile, *,
                     progress: Progress | None = None) -> ParseResult:
    """Pass 1: every row read and checked. Never raises for a bad row (they are collected);
    raises :class:`ValidationError` only when the file as a whole cannot be read."""
    fmt = detect_format(data, filename, profile)
    result = ParseResult(format=fmt, profile=profile.name)
    rows = _xlsx_rows(data, profile) if fmt == "xlsx" else _csv_rows(data, profile)
    layout: _Layout | None = None
    best_missing: list[str] | None = None
    to_skip = profile.skip_rows
    errors = result.errors
    for number, cells in rows:
        if layout is None:
            if profile.header_row is not None:
                if number < profile.header_row:
                    continue
                found = _layout(profile, number, cells)
                if isinstance(found, list):
                    titles = [t for t in (_cell_text(c) for c in cells) if t]
                    raise ValidationError(FieldError(
                        "header", f"row {number} lacks column(s) {', '.join(found)}; it has: "
                        + (", ".join(repr(t) for t in titles[:30]) or "nothing"), number),
                        hint=_header_hint(profile))
            else:
                if number > HEADER_SCAN_ROWS:
                    break
                if all(_blank(c) for c in cells):
                    continue
                found = _layout(profile, number, cells)
                if isinstance(found, list):
                    if best_missing is None or len(found) < len(best_missing):
                        best_missing = found
                    continue
            layout = found
            result.header_row = number
            if profile.strict_header:
                _check_strict_header(profile, cells, number, errors)
                if errors:
                    raise ValidationError(errors, hint=_header_hint(profile))
            continue
        if to_skip:
            to_skip -= 1
            continue
        if all(_blank(c) for c in cells):
            continue
        if _stops(profile, cells):
            break
        result.rows += 1
        if progress:
            progress(1)
        if not _keep(profile, layout, cells):
            result.skipped += 1
            continue
        if len(errors) >= MAX_ERRORS:
            scratch: list[FieldError] = []
            _parse_row(profile, layout, number, cells, scratch)
            result.more_errors += len(scratch)
            continue
        line = _parse_row(profile, layout, number, cells, errors)
        if line is not None:
            result.lines.append(line)
    if layout is None:
        if profile.header_row is None and best_missing is not None:
            message = (f"no header row found in the first {HEADER_SCAN_ROWS} rows; the closest "
                       f"lacks {', '.join(best_missing)}")
        elif profile.header_row is not None and profile.header_row > 1:
            message = f"has fewer than {profile.header_row} rows: no header row"
        else:
            message = "is empty: no header row"
        raise ValidationError(FieldError("file", message), hint=_header_hint(profile))
    if result.more_errors:
        errors.append(FieldError("file", f"… and {result.more_errors} more error(s) after the "
                                 f"first {MAX_ERRORS}"))
    return result


def _header_hint(profile: Profile) -> str:
    return (f"The file was read with profile {profile.name!r}. Pick the profile that matches "
            "the export (--profile NAME; `recon settlements profiles` lists them), add one to "
            f"your {PROFILES_ENV} file, or convert the file to the canonical CSV.")


# ---------------------------------------------------------------------------------------------
# choosing a profile


def check_provider(provider: str) -> str:
    value = (provider or "").strip().lower()
    if value not in PROVIDERS:
        raise ValidationError(FieldError("provider", f"must be one of {', '.join(PROVIDERS)}, "
                                         f"got {provider!r}"))
    return value


def choose_profile(profiles: Mapping[str, Profile], provider: str, name: str | None,
                   data: bytes, filename: str) -> Profile:
    """The named profile; or, without a name, the first of canonical and this provider's
    profiles whose header the file has."""
    if name:
        if name not in profiles:
            raise ValidationError(FieldError("profile", f"unknown profile {name!r}; known: "
                                             + ", ".join(sorted(profiles))),
                                  hint="Run `recon settlements profiles`, or add it to your "
                                       f"{PROFILES_ENV} file.")
        return profiles[name]
    candidates = [p for p in profiles.values()
                  if p.name == DEFAULT_PROFILE or provider in p.providers]
    candidates.sort(key=lambda p: p.name != DEFAULT_PROFILE)
    unreadable: list[ValidationError] = []
    for candidate in candidates:
        try:
            if _header_matches(candidate, data, filename):
                return candidate
        except ValidationError as exc:
            unreadable.append(exc)
    if unreadable and len(unreadable) == len(candidates):
        raise unreadable[0]  # the file itself cannot be read (not text, not a workbook)
    names = ", ".join(p.name for p in candidates) or "none"
    raise ValidationError(
        FieldError("file", f"its columns match no profile for {provider} (tried: {names})"),
        hint="Name the profile with --profile (or the 'profile' form field), add one to your "
             f"{PROFILES_ENV} file, or convert the file to the canonical CSV: "
             "provider_txn_id,amount,fee,transaction_at,settled_on[,net_amount,reference].")


def _header_matches(profile: Profile, data: bytes, filename: str) -> bool:
    """Whether the file has this profile's header; ValidationError if it cannot be read."""
    fmt = detect_format(data, filename, profile)
    rows = _xlsx_rows(data, profile) if fmt == "xlsx" else _csv_rows(data, profile)
    for number, cells in rows:
        if profile.header_row is not None:
            if number < profile.header_row:
                continue
            return isinstance(_layout(profile, number, cells), _Layout)
        if number > HEADER_SCAN_ROWS:
            return False
        if isinstance(_layout(profile, number, cells), _Layout):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# storing


@dataclass
class ImportSummary:
    file_id: int
    provider: str
    filename: str
    sha256: str
    size: int
    format: str
    profile: str | None
    source: str
    rows: int
    lines: int
    skipped: int
    total_amount: int
    total_fee: int
    total_net: int
    settled_from: date | None
    settled_to: date | None
    imported_at: datetime
    already_settled: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file_id": self.file_id, "provider": self.provider, "filename": self.filename,
            "sha256": self.sha256, "size": self.size, "format": self.format,
            "profile": self.profile, "source": self.source, "rows": self.rows,
            "lines": self.lines, "skipped": self.skipped, "total_amount": self.total_amount,
            "total_fee": self.total_fee, "total_net": self.total_net,
            "settled_from": self.settled_from.isoformat() if self.settled_from else None,
            "settled_to": self.settled_to.isoformat() if self.settled_to else None,
            "imported_at": self.imported_at.isoformat(),
        }
        if self.source == "fetch":
            out["already_settled"] = self.already_settled
        out.update(self.extra)
        return out


def _duplicate(previous: SettlementFile, filename: str, sha: str) -> DuplicateFile:
    if previous.source == "fetch":
        what = "the same data was already fetched"
        hint = ("The provider returned exactly what that fetch stored: there is nothing new "
                "for that date. Fetch again later, or another date.")
    else:
        what = f"{filename} was already imported"
        hint = ("Nothing to do if that import was right. To correct lines, import a new, "
                "corrected export (its content differs, so it is accepted).")
    return DuplicateFile(
        f"{what} on {previous.imported_at:%Y-%m-%d %H:%M} UTC as settlement file "
        f"#{previous.id} ({previous.provider}, {previous.filename}, sha256 {sha[:12]}…); "
        "nothing was changed", hint=hint)


def find_duplicate(session: Session, sha: str) -> SettlementFile | None:
    return session.execute(
        select(SettlementFile).where(SettlementFile.sha256 == sha)).scalar_one_or_none()


def _already_fetched(session: Session, provider: str, ids: Iterable[str]) -> set[str]:
    wanted = sorted(set(ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start:start + 1000]
        found.update(session.execute(
            select(SettlementLine.provider_txn_id)
            .join(SettlementFile, SettlementFile.id == SettlementLine.file_id)
            .where(SettlementLine.provider == provider, SettlementFile.source == "fetch",
                   SettlementLine.provider_txn_id.in_(chunk))).scalars())
    return found


def store_settlement(db: Database, clock: Clock, *, provider: str, filename: str,
                     content: bytes, lines: Sequence[ParsedLine], fmt: str,
                     profile: str | None, source: str, actor: str, rows: int | None = None,
                     skipped: int = 0, skip_already_fetched: bool = False,
                     extra: Mapping[str, Any] | None = None,
                     progress: Progress | None = None) -> ImportSummary:
    """Pass 2: the file, its lines and the audit event in one transaction.

    With ``skip_already_fetched`` (pulled statements, which overlap by nature), lines whose
    transaction an earlier *fetched* file already holds are left out and counted."""
    sha = hashlib.sha256(content).hexdigest()
    now = clock.now()
    try:
        with db.transaction() as session:
            previous = find_duplicate(session, sha)
            if previous is not None:
                raise _duplicate(previous, filename, sha)
            kept = list(lines)
            already = 0
            if skip_already_fetched and kept:
                known = _already_fetched(session, provider, (ln.provider_txn_id for ln in kept))
                kept = [ln for ln in kept if ln.provider_txn_id not in known]
                already = len(lines) - len(kept)
            total_amount = sum(ln.amount for ln in kept)
            file_row = SettlementFile(
                provider=provider, filename=filename[:255], sha256=sha, size=len(content),
                content=content, source=source, profile=profile, imported_at=now,
                imported_by=actor[:100], row_count=len(kept), total_amount=total_amount)
            session.add(file_row)
            session.flush()
            sqlite = session.get_bind().dialect.name == "sqlite"
            for start in range(0, len(kept), BATCH):
                batch = kept[start:start + BATCH]
                insert_rows(session, "settlement_lines", LINE_COLUMNS, (
                    (file_row.id, ln.line_no, provider, ln.provider_txn_id, ln.amount, ln.fee,
                     ln.net, ln.stated_net, ln.transaction_at,
                     ln.settled_on.isoformat() if sqlite else ln.settled_on,
                     ln.reference, now, ln.kind, ln.original_txn_id) for ln in batch))
                if progress:
                    progress(len(batch))
            settled = [ln.settled_on for ln in kept]
            summary = ImportSummary(
                file_id=file_row.id, provider=provider, filename=file_row.filename, sha256=sha,
                size=len(content), format=fmt, profile=profile, source=source,
                rows=len(lines) if rows is None else rows, lines=len(kept), skipped=skipped,
                total_amount=total_amount, total_fee=sum(ln.fee for ln in kept),
                total_net=sum(ln.net for ln in kept),
                settled_from=min(settled) if settled else None,
                settled_to=max(settled) if settled else None, imported_at=now,
                already_settled=already, extra=dict(extra or {}))
            audit.record(session, clock, actor=actor, action="settlements.imported",
                         entity_type="settlement_file", entity_id=file_row.id,
                         data={k: v for k, v in summary.as_dict().items()
                               if k not in {"file_id", "imported_at"}})
    except IntegrityError:
        # a concurrent import of the same bytes won the race for the unique sha256
        with db.read() as session:
            previous = find_duplicate(session, sha)
        if previous is None:
            raise
        raise _duplicate(previous, filename, sha) from None
    return summary


def import_settlement(db: Database, clock: Clock, provider: str,
                      path_or_bytes: str | Path | bytes, filename: str | None = None, *,
                      profile: str | Profile | None = None,
                      profiles: Mapping[str, Profile] | None = None, actor: str,
                      progress: Progress | None = None,
                      write_progress: Progress | None = None) -> ImportSummary:
    """Import one settlement report or statement; all or nothing.

    ``profile`` names a profile (or is one); without it the file's header picks canonical or
    one of the provider's profiles. ``profiles`` defaults to the built-in set (pass
    :func:`profiles_from_settings` to include ``RECON_SETTLEMENT_PROFILES``).

    Raises :class:`ValidationError` (every bad row, with its row number; nothing written),
    :class:`DuplicateFile` (the same bytes were imported before; nothing changed) or
    :class:`ConfigurationError` (a broken profiles file)."""
    provider = check_provider(provider)
    if isinstance(path_or_bytes, bytes):
        data = path_or_bytes
        name = filename or "upload"
    else:
        path = Path(path_or_bytes)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValidationError(FieldError("file", f"cannot be read: {exc.strerror or exc}"),
                                  hint="Check the path and the file's permissions.") from None
        name = filename or path.name
    sha = hashlib.sha256(data).hexdigest()
    with db.read() as session:
        previous = find_duplicate(session, sha)
    if previous is not None:
        raise _duplicate(previous, name, sha)
    if isinstance(profile, Profile):
        chosen = profile
    else:
        registry = profiles if profiles is not None else load_profiles()
        chosen = choose_profile(registry, provider, profile, data, name)
    parsed = parse_settlement(data, name, chosen, progress=progress)
    if parsed.errors:
        parsed.errors.sort(key=lambda e: e.line or 0)
        raise ValidationError(parsed.errors, hint=f"Nothing was imported (profile "
                              f"{chosen.name}). Fix every row listed and import the file "
                              "again.")
    return store_settlement(db, clock, provider=provider, filename=name, content=data,
                            lines=parsed.lines, fmt=parsed.format, profile=chosen.name,
                            source="upload", actor=actor, rows=parsed.rows,
                            skipped=parsed.skipped, progress=write_progress)


# ---------------------------------------------------------------------------------------------
# reading back


def file_as_dict(row: SettlementFile) -> dict[str, Any]:
    return {
        "id": row.id, "provider": row.provider, "filename": row.filename,
        "sha256": row.sha256, "size": row.size, "source": row.source, "profile": row.profile,
        "imported_at": row.imported_at.isoformat(), "imported_by": row.imported_by,
        "row_count": row.row_count, "total_amount": row.total_amount,
    }


def canonical_csv(lines: Iterable[ParsedLine | Mapping[str, Any]]) -> str:
    """Lines written as the canonical CSV (for tests, conversions and exports), with each
    line's kind (``sale`` unless given) and a refund's ``original_txn_id``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["provider_txn_id", "amount", "fee", "net_amount", "transaction_at",
                     "settled_on", "reference", "kind", "original_txn_id"])
    for ln in lines:
        row: Mapping[str, Any] = ln if isinstance(ln, Mapping) else asdict(ln)
        at = row.get("transaction_at")
        settled = row["settled_on"]
        writer.writerow([row["provider_txn_id"], row["amount"], row["fee"], row["net"],
                         at.isoformat() if at else "", settled.isoformat(),
                         row.get("reference") or "", row.get("kind") or "sale",
                         row.get("original_txn_id") or ""])
    return out.getvalue()


__all__ = [
    "DEFAULT_PROFILE", "PROVIDERS", "ImportSummary", "ParseResult", "ParsedLine", "Profile",
    "RowFilter", "canonical_csv", "check_provider", "choose_profile", "file_as_dict",
    "import_settlement", "load_profiles", "parse_amount", "parse_profiles",
    "parse_settlement", "profiles_from_settings", "store_settlement",
]
