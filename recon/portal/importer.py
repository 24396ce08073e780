"""Import of the portal's daily transaction list: CSV/XLSX -> portal lines, all or nothing.

The list's layout is not public (Government Office technical guidance), so it is read through a
**column profile**, as settlement files are: the built-in ``dvcqg_daily`` profile
(``recon/data/portal_profiles.toml``) is an unverified guess that an operator overrides, without
code, in a TOML or JSON file named by ``RECON_PORTAL_PROFILES``. A profile names the columns
(portal transaction id, dossier code, amount, status, time; reference, provider transaction id
and provider where the list has them), the formats (as a settlement profile: separators,
delimiter, encoding, header row, footers) and two tables of words: the list's statuses and its
names of payment providers, mapped to recon's.

Rules:

- money is an exact non-negative integer of VND (the settlement reader's rules: never rounded);
- times without an offset are Vietnam time; a line's day is its Vietnam date;
- pass 1 reads every row and collects every error with its row number (an unknown status or
  provider word, a transaction listed twice, a row outside ``--date``); with any, nothing is
  written. Pass 2 stores the file itself (kept verbatim and hashed: the same bytes are refused a
  second time and nothing changes), its lines and one audit event in one transaction;
- a list belongs to one agency and covers the days from its first to its last line (or the one
  day given, which an empty list needs). When several lists cover the same agency and day, the
  comparison reads the newest (a corrected list replaces the earlier one for its days).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters import PROVIDERS
from recon.audit import chain as audit
from recon.bulk import insert_rows
from recon.clock import VN_TZ, Clock
from recon.config import Settings
from recon.db import Database
from recon.errors import ConfigurationError, DuplicateFile, FieldError, ValidationError
from recon.models import Agency, PortalFile
from recon.models.portal import PORTAL_STATUSES
from recon.settlements.importer import (
    HEADER_SCAN_ROWS,
    MAX_ERRORS,
    Cell,
    Profile,
    _blank,
    _cell_text,
    _CellError,
    _csv_rows,
    _Layout,
    _layout,
    _norm,
    _parse_datetime,
    _stops,
    _strings,
    _xlsx_rows,
    detect_format,
    parse_amount,
    profile_columns,
)

FIELDS: tuple[str, ...] = ("portal_txn_id", "dossier_code", "reference", "provider_txn_id",
                           "provider", "amount", "status", "transaction_at")
REQUIRED: frozenset[str] = frozenset({"portal_txn_id", "dossier_code", "amount", "status",
                                      "transaction_at"})
BUILTIN_PATH = Path(__file__).parent.parent / "data" / "portal_profiles.toml"
PROFILES_ENV = "RECON_PORTAL_PROFILES"
DEFAULT_PROFILE = "dvcqg_daily"
TEXT_MAX = 64
BATCH = 5000
LINE_COLUMNS = ("file_id", "line_no", "agency_id", "portal_txn_id", "dossier_code",
                "reference", "provider_txn_id", "provider", "amount", "status",
                "transaction_at", "day", "created_at")
_FORMAT_KEYS = frozenset({"description", "format", "optional_columns", "datetime_formats",
                          "thousands_separator", "decimal_separator", "strip", "delimiter",
                          "encoding", "header_row", "skip_rows", "stop_at", "sheet"})
_KEYS = _FORMAT_KEYS | {"columns", "statuses", "providers"}

Progress = Callable[[int], None]


@dataclass(frozen=True)
class PortalProfile:
    """How to read one layout of the portal's list: the columns and formats (``reader``, a
    settlement :class:`Profile` over the portal's fields) and the words it uses."""

    name: str
    reader: Profile
    statuses: Mapping[str, str]
    providers: Mapping[str, str]
    description: str = ""
    origin: str = "built-in"

    def as_dict(self) -> dict[str, Any]:
        out = self.reader.as_dict()
        out.pop("providers", None)
        out.pop("filters", None)
        out.update(name=self.name, description=self.description, origin=self.origin,
                   statuses=dict(self.statuses), provider_names=dict(self.providers))
        return out


def _words(raw: object, where: str, allowed: Callable[[str], bool], what: str, *,
           required: bool = True) -> dict[str, str]:
    if raw is None and not required:
        return {}
    if not isinstance(raw, dict) or (required and not raw):
        raise ValueError(f"needs a '{where}' table mapping the list's words to {what}")
    out: dict[str, str] = {}
    for word, meaning in raw.items():
        if not isinstance(meaning, str) or not allowed(meaning):
            raise ValueError(f"{where}: {word!r} maps to {meaning!r}, which is not {what}")
        out[_norm(word)] = meaning
    return out


def _build(name: str, raw: object, origin: str) -> PortalProfile:
    # the settlement profile reader checks the formats; the columns are checked here
    from recon.settlements.importer import _build_profile  # noqa: PLC0415 - one helper

    raw, columns = profile_columns(raw, _KEYS, FIELDS)
    missing = REQUIRED - set(columns)
    if missing:
        raise ValueError("columns must name the " + ", ".join(sorted(missing)) + " column(s)")
    optional = frozenset(_strings(raw.get("optional_columns", []), "optional_columns"))
    if optional & REQUIRED:
        raise ValueError(", ".join(sorted(optional & REQUIRED)) + " cannot be optional")
    if optional - set(columns):
        raise ValueError("optional_columns names field(s) not in columns")
    # a stand-in settlement profile for the formats (its own checks, its error texts)
    formats = {k: v for k, v in raw.items() if k in _FORMAT_KEYS and k != "optional_columns"}
    stand_in = _build_profile(name, {**formats, "columns": {
        "provider_txn_id": "x", "amount": "y", "transaction_at": "z"}}, origin)
    reader = Profile(**{**stand_in.__dict__, "columns": columns, "optional_columns": optional,
                        "providers": (), "blank_is_zero": frozenset(), "filters": (),
                        "date_formats": ("iso",)})
    statuses = _words(raw.get("statuses"), "statuses", lambda s: s in PORTAL_STATUSES,
                      "one of " + ", ".join(PORTAL_STATUSES))
    providers = _words(raw.get("providers"), "providers",
                       lambda p: p in PROVIDERS, "a provider of recon", required=False)
    return PortalProfile(name, reader, statuses, providers,
                         description=str(raw.get("description", "")), origin=origin)


def parse_profiles(document: Mapping[str, Any], origin: str) -> dict[str, PortalProfile]:
    table = document.get("profiles")
    if not isinstance(table, dict) or not table:
        raise ConfigurationError(f"{origin} has no profiles",
                                 hint="Write one table per profile: [profiles.NAME] with its "
                                      "columns, statuses and providers tables "
                                      "(docs/portal.md).")
    out: dict[str, PortalProfile] = {}
    for name, raw in table.items():
        try:
            out[name] = _build(str(name), raw, origin)
        except ValueError as exc:
            raise ConfigurationError(f"{origin}: portal profile {name!r}: {exc}",
                                     hint=f"Correct profile {name!r} in {origin}.") from None
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the portal profiles file {path}: "
                                 f"{exc.strerror or exc}",
                                 hint=f"Fix {PROFILES_ENV} or the file's permissions.") from None
    try:
        if path.suffix.lower() == ".json":
            document = json.loads(data.decode("utf-8"))
        else:
            document = tomllib.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"the portal profiles file {path} is not valid "
                                 f"{'JSON' if path.suffix.lower() == '.json' else 'TOML'}: "
                                 f"{exc}", hint="Correct the file and try again.") from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"{path} must hold an object with a 'profiles' table",
                                 hint="See docs/portal.md.")
    return document


def load_profiles(extra_path: str | Path | None = None) -> dict[str, PortalProfile]:
    """The built-in profiles, then those of ``extra_path`` (same name replaces built-in)."""
    profiles = parse_profiles(_read(BUILTIN_PATH), "the built-in portal profiles")
    if extra_path:
        profiles.update(parse_profiles(_read(Path(extra_path)), str(extra_path)))
    return profiles


def profiles_from_settings(settings: Settings) -> dict[str, PortalProfile]:
    return load_profiles(settings.get("PORTAL_PROFILES"))


# --------------------------------------------------------------------------- reading


@dataclass(slots=True)
class PortalRow:
    line_no: int
    portal_txn_id: str
    dossier_code: str
    reference: str | None
    provider_txn_id: str | None
    provider: str | None
    amount: int
    status: str
    transaction_at: datetime
    day: date


@dataclass
class ParsedList:
    format: str
    profile: str
    rows: list[PortalRow] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    read: int = 0


def _text(value: Cell, fld: str, *, required: bool) -> str | None:
    text = _cell_text(value)
    if not text:
        if required:
            raise _CellError("is missing")
        return None
    if len(text) > TEXT_MAX:
        raise _CellError(f"is longer than {TEXT_MAX} characters")
    if any(unicodedata.category(ch)[0] == "C" for ch in text):
        raise _CellError("contains control characters")
    del fld
    return text


def _row(profile: PortalProfile, layout: _Layout, number: int, cells: list[Cell],
         errors: list[FieldError]) -> PortalRow | None:
    values: dict[str, Any] = {}
    ok = True
    for fld in FIELDS:
        index = layout.positions.get(fld)
        cell = cells[index] if index is not None and index < len(cells) else None
        title = layout.titles.get(fld, fld)
        try:
            if fld == "amount":
                values[fld] = parse_amount(cell, profile.reader)
            elif fld == "transaction_at":
                values[fld] = _parse_datetime(cell, profile.reader.datetime_formats)
            elif fld == "status":
                word = _norm(_cell_text(cell))
                if word not in profile.statuses:
                    raise _CellError(f"{_cell_text(cell)!r} is not a status of profile "
                                     f"{profile.name} (known: "
                                     + ", ".join(sorted(profile.statuses)) + ")")
                values[fld] = profile.statuses[word]
            elif fld == "provider":
                word = _norm(_cell_text(cell))
                if not word:
                    values[fld] = None
                elif word in profile.providers:
                    values[fld] = profile.providers[word]
                elif word in PROVIDERS:
                    values[fld] = word
                else:
                    raise _CellError(f"{_cell_text(cell)!r} is no provider profile "
                                     f"{profile.name} knows (add it to its providers table)")
            else:
                values[fld] = _text(cell, fld, required=fld in REQUIRED)
        except _CellError as exc:
            errors.append(FieldError(title, str(exc), number))
            ok = False
    if not ok:
        return None
    at: datetime = values["transaction_at"]
    return PortalRow(number, values["portal_txn_id"], values["dossier_code"],
                     values["reference"], values["provider_txn_id"], values["provider"],
                     values["amount"], values["status"], at, at.astimezone(VN_TZ).date())


def parse_list(data: bytes, filename: str, profile: PortalProfile, *,
               progress: Progress | None = None) -> ParsedList:
    """Pass 1: every row read and checked (errors collected, never raised for a row)."""
    reader = profile.reader
    fmt = detect_format(data, filename, reader)
    result = ParsedList(format=fmt, profile=profile.name)
    rows = _xlsx_rows(data, reader) if fmt == "xlsx" else _csv_rows(data, reader)
    layout: _Layout | None = None
    to_skip = reader.skip_rows
    seen: dict[str, int] = {}
    for number, cells in rows:
        if layout is None:
            if reader.header_row is not None and number < reader.header_row:
                continue
            if reader.header_row is None and (number > HEADER_SCAN_ROWS
                                              or all(_blank(c) for c in cells)):
                if number > HEADER_SCAN_ROWS:
                    break
                continue
            found = _layout(reader, number, cells)
            if isinstance(found, list):
                if reader.header_row is None:
                    continue
                raise ValidationError(FieldError(
                    "header", f"row {number} lacks column(s) {', '.join(found)}", number),
                    hint=_hint(profile))
            layout = found
            continue
        if to_skip:
            to_skip -= 1
            continue
        if all(_blank(c) for c in cells):
            continue
        if _stops(reader, cells):
            break
        result.read += 1
        if progress:
            progress(1)
        if len(result.errors) >= MAX_ERRORS:
            continue
        row = _row(profile, layout, number, list(cells), result.errors)
        if row is None:
            continue
        first = seen.get(row.portal_txn_id)
        if first is not None:
            result.errors.append(FieldError(layout.titles.get("portal_txn_id", "portal_txn_id"),
                                            f"{row.portal_txn_id} is listed twice (rows "
                                            f"{first} and {number})", number))
            continue
        seen[row.portal_txn_id] = number
        result.rows.append(row)
    if layout is None:
        raise ValidationError(FieldError("file", "has no header row with the profile's "
                                         "columns"), hint=_hint(profile))
    return result


def _hint(profile: PortalProfile) -> str:
    return (f"The file was read with portal profile {profile.name!r} (an unverified guess at "
            "the portal's layout). Compare its columns with `recon portal profiles` and add a "
            f"corrected profile to the file named by {PROFILES_ENV}, then import again "
            "(--profile NAME).")


# --------------------------------------------------------------------------- storing


@dataclass
class PortalSummary:
    file_id: int
    agency: str
    filename: str
    sha256: str
    format: str
    profile: str
    rows: int
    total_amount: int
    day_from: date
    day_to: date
    by_status: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"file_id": self.file_id, "agency": self.agency, "filename": self.filename,
                "sha256": self.sha256, "format": self.format, "profile": self.profile,
                "rows": self.rows, "total_amount": self.total_amount,
                "day_from": self.day_from.isoformat(), "day_to": self.day_to.isoformat(),
                "by_status": self.by_status}


def _duplicate(previous: PortalFile, filename: str, sha: str) -> DuplicateFile:
    return DuplicateFile(
        f"{filename} was already imported on {previous.imported_at:%Y-%m-%d %H:%M} UTC as "
        f"portal list #{previous.id} ({previous.filename}, sha256 {sha[:12]}…); nothing was "
        "changed", hint="Nothing to do if that import was right. A corrected list (other "
                        "content) is accepted and replaces the earlier one for its days.")


def _find(session: Session, sha: str) -> PortalFile | None:
    return session.execute(select(PortalFile).where(PortalFile.sha256 == sha)
                           ).scalar_one_or_none()


def import_portal_list(db: Database, clock: Clock, path_or_bytes: str | Path | bytes,
                       filename: str | None = None, *, agency: str,
                       profile: str | PortalProfile | None = None,
                       profiles: Mapping[str, PortalProfile] | None = None,
                       day: date | None = None, actor: str,
                       progress: Progress | None = None,
                       write_progress: Progress | None = None) -> PortalSummary:
    """Import one daily list for ``agency`` (its code); all or nothing.

    Raises :class:`ValidationError` (every bad row; nothing written), :class:`DuplicateFile`
    (the same bytes before; nothing changed) or :class:`ConfigurationError`."""
    if isinstance(path_or_bytes, bytes):
        data, name = path_or_bytes, filename or "upload"
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
        previous = _find(session, sha)
        if previous is not None:
            raise _duplicate(previous, name, sha)
        agency_row = session.execute(select(Agency).where(Agency.code == agency)
                                     ).scalar_one_or_none()
        if agency_row is None:
            known = session.execute(select(Agency.code).order_by(Agency.code).limit(20)
                                    ).scalars().all()
            raise ValidationError(FieldError("agency", f"no agency has the code {agency!r}"),
                                  hint="Give --agency one of: " + (", ".join(known) or
                                                                   "(no agency yet)") + ".")
        agency_id = agency_row.id
    if isinstance(profile, PortalProfile):
        chosen = profile
    else:
        registry = profiles if profiles is not None else load_profiles()
        wanted = profile or DEFAULT_PROFILE
        if wanted not in registry:
            raise ValidationError(FieldError("profile", f"no portal profile {wanted!r}"),
                                  hint="Known: " + ", ".join(sorted(registry)) + f" (add one "
                                       f"in the file named by {PROFILES_ENV}).")
        chosen = registry[wanted]
    parsed = parse_list(data, name, chosen, progress=progress)
    if day is not None:
        for row in parsed.rows:
            if row.day != day:
                parsed.errors.append(FieldError(
                    "transaction_at", f"is on {row.day:%d/%m/%Y} (Vietnam time), not on the "
                    f"list's day {day:%d/%m/%Y}", row.line_no))
    if parsed.errors:
        parsed.errors.sort(key=lambda e: e.line or 0)
        raise ValidationError(parsed.errors, hint=f"Nothing was imported (portal profile "
                              f"{chosen.name}). Fix every row listed and import again.")
    days = [r.day for r in parsed.rows]
    if day is None and not days:
        raise ValidationError(FieldError("file", "lists no transaction, so it names no day"),
                              hint="Give --date YYYY-MM-DD: the day the portal listed none.")
    day_from = day if day is not None else min(days)
    day_to = day if day is not None else max(days)
    now = clock.now()
    try:
        with db.transaction() as session:
            previous = _find(session, sha)
            if previous is not None:
                raise _duplicate(previous, name, sha)
            total = sum(r.amount for r in parsed.rows)
            file_row = PortalFile(agency_id=agency_id, filename=name[:255], sha256=sha,
                             size=len(data), content=data, profile=chosen.name,
                             day_from=day_from, day_to=day_to, imported_at=now,
                             imported_by=actor[:100], row_count=len(parsed.rows),
                             total_amount=total)
            session.add(file_row)
            session.flush()
            sqlite = session.get_bind().dialect.name == "sqlite"
            for start in range(0, len(parsed.rows), BATCH):
                batch = parsed.rows[start:start + BATCH]
                insert_rows(session, "portal_lines", LINE_COLUMNS, (
                    (file_row.id, r.line_no, agency_id, r.portal_txn_id, r.dossier_code,
                     r.reference, r.provider_txn_id, r.provider, r.amount, r.status,
                     r.transaction_at, r.day.isoformat() if sqlite else r.day, now)
                    for r in batch))
                if write_progress:
                    write_progress(len(batch))
            by_status: dict[str, int] = {}
            for r in parsed.rows:
                by_status[r.status] = by_status.get(r.status, 0) + 1
            summary = PortalSummary(file_row.id, agency, file_row.filename, sha, parsed.format,
                                    chosen.name, len(parsed.rows), total, day_from, day_to,
                                    by_status)
            audit.record(session, clock, actor=actor, action="portal.imported",
                         entity_type="portal_file", entity_id=file_row.id,
                         data={k: v for k, v in summary.as_dict().items() if k != "file_id"})
    except IntegrityError:
        with db.read() as session:
            previous = _find(session, sha)
        if previous is None:
            raise
        raise _duplicate(previous, name, sha) from None
    return summary


__all__ = ["DEFAULT_PROFILE", "FIELDS", "PROFILES_ENV", "ParsedList", "PortalProfile",
           "PortalRow", "PortalSummary", "import_portal_list", "load_profiles", "parse_list",
           "profiles_from_settings"]
