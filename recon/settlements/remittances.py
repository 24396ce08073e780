"""Remittances to the state budget (issue 18 §3): C1-02/NS vouchers recorded by hand or
imported from a Treasury statement (docs/remittances.md).

- :func:`record_voucher` stores one voucher (number, date, remitting organisation, lines);
- :func:`import_statement` reads a CSV/XLSX statement through a column profile
  (:data:`PROFILES`), one row per voucher line, and stores the file verbatim and every voucher
  in one transaction: all or nothing.

A voucher number already recorded, or the same file twice, is refused naming what exists.
Both are audited. What the vouchers pay is allocated by :mod:`recon.engine.remittances` (pure)
over what :func:`recon.review.declarations.owed` says each collector owes.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from recon.audit import chain as audit
from recon.clock import Clock
from recon.db import Database
from recon.errors import FieldError, ValidationError
from recon.models import Agency, Dossier, Remittance, RemittanceFile, RemittanceLine
from recon.settlements import importer
from recon.settlements.importer import Profile

MAX_VND: Final = 10**15
_CODE = {"chapter": re.compile(r"\d{3}"), "budget_code": re.compile(r"\d{4}"),
         "area_code": re.compile(r"\d{2,8}")}
_CODE_HELP = {"chapter": "3 digits (mã chương, e.g. 599)",
              "budget_code": "4 digits (tiểu mục, e.g. 2716)",
              "area_code": "2 to 8 digits (mã ĐBHC, e.g. 27280)"}


# --------------------------------------------------------------------------- input


@dataclass(frozen=True, slots=True)
class LineIn:
    chapter: str
    budget_code: str
    area_code: str
    amount: int
    dossier_code: str | None = None
    period: date | None = None  # first day of the kỳ thuế month


@dataclass(frozen=True, slots=True)
class VoucherIn:
    voucher_no: str
    voucher_date: date
    remitter: str
    lines: tuple[LineIn, ...]
    note: str | None = None
    #: the bank reference of the payment it records (a receiver's budget debit: the same money)
    bank_reference: str | None = None


def parse_period(text: str) -> date:
    """``YYYY-MM`` or ``MM/YYYY`` (kỳ thuế) -> the month's first day; ValueError otherwise."""
    raw = text.strip()
    for fmt in ("%Y-%m", "%m/%Y"):
        try:
            return datetime.strptime(raw, fmt).date()  # noqa: DTZ007 - a month
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a month: write YYYY-MM (e.g. 2021-03) or MM/YYYY")


def parse_line(text: str) -> LineIn:
    """``CHAPTER:SUBITEM:AREA:AMOUNT[:DOSSIER[:YYYY-MM]]`` (the CLI's ``--line``)."""
    parts = [p.strip() for p in text.split(":")]
    if not 4 <= len(parts) <= 6:
        raise ValueError(f"{text!r}: write CHAPTER:SUBITEM:AREA:AMOUNT[:DOSSIER[:YYYY-MM]], "
                         "e.g. 599:2716:27280:1250000")
    amount = parts[3]
    if not (amount.isascii() and amount.isdigit()):
        raise ValueError(f"{text!r}: the amount must be a whole number of VND, got {amount!r}")
    dossier = parts[4] if len(parts) > 4 and parts[4] else None
    period = parse_period(parts[5]) if len(parts) > 5 and parts[5] else None
    return LineIn(parts[0], parts[1], parts[2], int(amount), dossier, period)


def _check(session: Session, voucher: VoucherIn, where: str, line_no: int | None
           ) -> list[FieldError]:
    errors: list[FieldError] = []
    if not voucher.voucher_no.strip() or len(voucher.voucher_no) > 40:
        errors.append(FieldError(f"{where}voucher_no", "must be 1 to 40 characters", line_no))
    if voucher.bank_reference is not None and len(voucher.bank_reference) > 100:
        errors.append(FieldError(f"{where}bank_reference", "must be at most 100 characters",
                                 line_no))
    if not voucher.lines:
        errors.append(FieldError(f"{where}lines", "a voucher needs at least one line", line_no))
    known = session.scalar(select(Agency.id).where(Agency.code == voucher.remitter))
    if known is None:
        errors.append(FieldError(f"{where}remitter", f"unknown agency {voucher.remitter!r}: "
                                 "the collecting organisation's agency code", line_no))
    codes = sorted({ln.dossier_code for ln in voucher.lines if ln.dossier_code})
    found = set(session.scalars(select(Dossier.code).where(Dossier.code.in_(codes)))) \
        if codes else set()
    for i, ln in enumerate(voucher.lines):
        at = f"{where}lines[{i}]."
        for name in ("chapter", "budget_code", "area_code"):
            if not _CODE[name].fullmatch(getattr(ln, name)):
                errors.append(FieldError(at + name, f"must be {_CODE_HELP[name]}, got "
                                         f"{getattr(ln, name)!r}", line_no))
        if isinstance(ln.amount, bool) or not isinstance(ln.amount, int) or not (
                0 < ln.amount <= MAX_VND):
            errors.append(FieldError(at + "amount", "must be a whole number of VND above 0",
                                     line_no))
        if ln.dossier_code and ln.dossier_code not in found:
            errors.append(FieldError(at + "dossier_code", f"no dossier {ln.dossier_code!r}: "
                                     "leave it empty when the voucher names none", line_no))
    return errors


def _duplicate(session: Session, numbers: Iterable[str]) -> ValidationError | None:
    wanted = sorted(set(numbers))
    if not wanted:
        return None
    rows = session.execute(select(Remittance.voucher_no, Remittance.voucher_date,
                                  Remittance.recorded_at, Remittance.recorded_by)
                           .where(Remittance.voucher_no.in_(wanted))).all()
    if not rows:
        return None
    return ValidationError(
        [FieldError("voucher_no", f"voucher {no} of {on:%d/%m/%Y} is already recorded "
                    f"(by {by}, {at:%Y-%m-%d %H:%M} UTC)") for no, on, at, by in rows],
        hint="A voucher is recorded once: nothing was changed. Leave it out, or correct "
             "its number if this is another voucher.")


def _store(session: Session, voucher: VoucherIn, *, source: str, actor: str, now: datetime,
           file_id: int | None) -> Remittance:
    row = Remittance(voucher_no=voucher.voucher_no.strip(), voucher_date=voucher.voucher_date,
                     remitter_code=voucher.remitter, source=source, file_id=file_id,
                     note=voucher.note, recorded_at=now, recorded_by=actor[:100],
                     bank_reference=(voucher.bank_reference or "").strip() or None)
    session.add(row)
    session.flush()
    for i, ln in enumerate(voucher.lines, start=1):
        session.add(RemittanceLine(remittance_id=row.id, position=i,
                                   dossier_code=ln.dossier_code, chapter=ln.chapter,
                                   budget_code=ln.budget_code, area_code=ln.area_code,
                                   period=ln.period, amount=ln.amount))
    session.flush()
    return row


def _voucher_data(voucher: VoucherIn) -> dict[str, Any]:
    return {"voucher_no": voucher.voucher_no, "voucher_date": voucher.voucher_date.isoformat(),
            "remitter": voucher.remitter, "total": sum(ln.amount for ln in voucher.lines),
            "bank_reference": voucher.bank_reference,
            "lines": [{"chapter": ln.chapter, "budget_code": ln.budget_code,
                       "area_code": ln.area_code, "amount": ln.amount,
                       "dossier_code": ln.dossier_code,
                       "period": ln.period.isoformat()[:7] if ln.period else None}
                      for ln in voucher.lines]}


def record_voucher(db: Database, clock: Clock, voucher: VoucherIn, *, actor: str) -> int:
    """Store one voucher entered by hand; its id. Refused (nothing stored) when invalid or
    already recorded."""
    try:
        with db.transaction() as session:
            errors = _check(session, voucher, "", None)
            if errors:
                raise ValidationError(errors, hint="Correct the voucher and record it again; "
                                      "nothing was changed.")
            duplicate = _duplicate(session, [voucher.voucher_no.strip()])
            if duplicate is not None:
                raise duplicate
            row = _store(session, voucher, source="manual", actor=actor, now=clock.now(),
                         file_id=None)
            audit.record(session, clock, actor=actor, action="remittances.recorded",
                         entity_type="remittance", entity_id=row.id,
                         data=_voucher_data(voucher))
            return row.id
    except IntegrityError:
        with db.read() as session:
            duplicate = _duplicate(session, [voucher.voucher_no.strip()])
        if duplicate is None:
            raise
        raise duplicate from None


def store_vouchers(session: Session, clock: Clock, vouchers: Sequence[VoucherIn], *,
                   actor: str, source: str = "manual") -> list[int]:
    """Store ``vouchers`` in the caller's transaction with one audit event (the demo's
    generator): each is checked as :func:`record_voucher` checks it."""
    errors: list[FieldError] = []
    for voucher in vouchers:
        errors += _check(session, voucher, f"voucher {voucher.voucher_no}: ", None)
    if errors:
        raise ValidationError(errors, hint="Correct the vouchers; nothing was changed.")
    duplicate = _duplicate(session, [v.voucher_no for v in vouchers])
    if duplicate is not None:
        raise duplicate
    now = clock.now()
    ids = [_store(session, v, source=source, actor=actor, now=now, file_id=None).id
           for v in vouchers]
    if ids:
        audit.record(session, clock, actor=actor, action="remittances.recorded",
                     entity_type="remittance", entity_id=ids[0],
                     data={"vouchers": len(ids),
                           "total": sum(ln.amount for v in vouchers for ln in v.lines)})
    return ids


# --------------------------------------------------------------------------- statements

#: the fields of a statement row (one voucher line) and the column titles each profile reads
FIELDS: Final = ("voucher_no", "voucher_date", "remitter", "dossier_code", "period", "chapter",
                 "budget_code", "area_code", "amount", "bank_reference")
OPTIONAL: Final = frozenset({"dossier_code", "period", "bank_reference"})


@dataclass(frozen=True)
class StatementProfile:
    """How to read a Treasury statement of C1-02/NS vouchers: column titles per field, the
    date formats and the amount's separators."""

    name: str
    description: str
    columns: Mapping[str, tuple[str, ...]]
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    thousands_separator: str = ""

    def reader(self) -> Profile:
        """The settlement importer's profile for the CSV/XLSX readers it shares."""
        return Profile(name=self.name, columns=self.columns, format="auto",
                       thousands_separator=self.thousands_separator, delimiter="auto",
                       origin="built-in")


PROFILES: Final[dict[str, StatementProfile]] = {
    "canonical": StatementProfile(
        "canonical",
        "recon's CSV/XLSX: voucher_no,voucher_date,remitter,dossier_code,period,chapter,"
        "budget_code,area_code,amount (ISO dates, plain digits)",
        {f: (f,) for f in FIELDS}),
    "kbnn": StatementProfile(
        "kbnn",
        "a Treasury (KBNN) list of C1-02/NS vouchers with Vietnamese titles, dd/mm/yyyy "
        "dates and '.' thousands",
        {"voucher_no": ("Số chứng từ", "Số GNT", "Số"),
         "voucher_date": ("Ngày chứng từ", "Ngày nộp", "Ngày"),
         "remitter": ("Mã đơn vị nộp", "Đơn vị nộp", "Mã tổ chức thu"),
         "dossier_code": ("Mã định danh hồ sơ", "Mã hồ sơ", "Số tờ khai"),
         "period": ("Kỳ thuế", "Kỳ"),
         "chapter": ("Mã chương", "Chương"),
         "budget_code": ("Mã NDKT", "Mã tiểu mục", "Tiểu mục"),
         "area_code": ("Mã ĐBHC", "ĐBHC"),
         "amount": ("Số tiền VND", "Số tiền"),
         "bank_reference": ("Số tham chiếu", "Mã tham chiếu", "Số tham chiếu ngân hàng")},
        date_formats=("%d/%m/%Y", "%Y-%m-%d"), thousands_separator="."),
}


def _norm(value: object) -> str:
    text = unicodedata.normalize("NFC", str(value or "")).replace("\ufeff", "")
    return " ".join(text.casefold().split())


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return unicodedata.normalize("NFC", str(value)).strip()


def _rows(data: bytes, filename: str, profile: StatementProfile
          ) -> Iterator[tuple[int, list[object]]]:
    reader = profile.reader()
    if importer.detect_format(data, filename, reader) == "xlsx":
        yield from importer._xlsx_rows(data, reader)
    else:
        yield from importer._csv_rows(data, reader)


def _date(value: object, formats: Sequence[str]) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
    raise ValueError(f"is not a date ({', '.join(formats)}), got {text!r}")


def _amount(value: object, profile: StatementProfile) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a whole number of VND")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"has a fraction of a đồng ({value!r}): VND amounts are whole")
        return int(value)
    text = _text(value).replace("VND", "").replace("₫", "").strip()
    sep = profile.thousands_separator
    if sep and sep in text:
        groups = text.split(sep)
        if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
            raise ValueError(f"is not a whole number of VND (thousands {sep!r}), got {text!r}")
        text = "".join(groups)
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"must be a whole number of VND, got {text!r}")
    return int(text)


def parse_statement(data: bytes, filename: str, profile: StatementProfile
                    ) -> list[tuple[int, VoucherIn]]:
    """The vouchers of a statement (rows grouped by voucher number, in file order), each with
    the line of its first row. Every problem is collected; any one refuses the file."""
    errors: list[FieldError] = []
    header: dict[str, int] | None = None
    vouchers: dict[str, tuple[int, date, str, list[LineIn], str]] = {}
    for number, cells in _rows(data, filename, profile):
        if header is None:
            if all(_text(c) == "" for c in cells):
                continue
            titles = [_norm(c) for c in cells]
            header = {}
            for fld in FIELDS:
                for title in profile.columns[fld]:
                    if _norm(title) in titles:
                        header[fld] = titles.index(_norm(title))
                        break
            missing = [f for f in FIELDS if f not in header and f not in OPTIONAL]
            if missing:
                raise ValidationError(
                    FieldError("file", f"has no column for {', '.join(missing)} (profile "
                               f"{profile.name} reads: " + "; ".join(
                                   f"{f} = {' / '.join(profile.columns[f])}" for f in missing)
                               + ")", number),
                    hint="Import it with the profile that fits its header (--profile), or "
                         "rename the columns.")
            continue
        if all(_text(c) == "" for c in cells):
            continue

        def cell(fld: str, cells: list[object] = cells,
                 header: dict[str, int] = header) -> object:
            i = header.get(fld)
            return cells[i] if i is not None and i < len(cells) else None

        row_errors: list[FieldError] = []
        try:
            on = _date(cell("voucher_date"), profile.date_formats)
        except ValueError as exc:
            row_errors.append(FieldError("voucher_date", str(exc), number))
            on = date.min
        try:
            amount = _amount(cell("amount"), profile)
        except ValueError as exc:
            row_errors.append(FieldError("amount", str(exc), number))
            amount = 0
        period: date | None = None
        if _text(cell("period")):
            try:
                period = parse_period(_text(cell("period")))
            except ValueError as exc:
                row_errors.append(FieldError("period", str(exc), number))
        no, who = _text(cell("voucher_no")), _text(cell("remitter"))
        if not no:
            row_errors.append(FieldError("voucher_no", "is missing", number))
        line = LineIn(_text(cell("chapter")), _text(cell("budget_code")),
                      _text(cell("area_code")), amount, _text(cell("dossier_code")) or None,
                      period)
        if no in vouchers and (vouchers[no][1], vouchers[no][2]) != (on, who):
            row_errors.append(FieldError("voucher_no", f"voucher {no} appears with another "
                                         "date or remitter than on line "
                                         f"{vouchers[no][0]}", number))
        errors += row_errors
        if not row_errors:
            vouchers.setdefault(no, (number, on, who, [], _text(cell("bank_reference"))))[
                3].append(line)
    if header is None:
        raise ValidationError(FieldError("file", "is empty: no header row"),
                              hint="Export the statement again with its column titles.")
    if errors:
        raise ValidationError(errors, hint="Correct the file and import it again; nothing "
                              "was imported.")
    if not vouchers:
        raise ValidationError(FieldError("file", "has no voucher line"),
                              hint="Check that this is the statement of C1-02/NS vouchers.")
    return [(first, VoucherIn(no, on, who, tuple(lines), bank_reference=ref or None))
            for no, (first, on, who, lines, ref) in vouchers.items()]


@dataclass(frozen=True)
class ImportResult:
    file_id: int
    filename: str
    sha256: str
    profile: str
    vouchers: list[str]
    lines: int
    total: int

    def as_dict(self) -> dict[str, Any]:
        return {"file_id": self.file_id, "filename": self.filename, "sha256": self.sha256,
                "profile": self.profile, "vouchers": self.vouchers, "lines": self.lines,
                "total": self.total}


def import_statement(db: Database, clock: Clock, data: bytes, filename: str, *,
                     profile: str = "canonical", actor: str) -> ImportResult:
    """Import a statement (see the module doc): all or nothing."""
    chosen = PROFILES.get(profile)
    if chosen is None:
        raise ValidationError(FieldError("profile", f"unknown profile {profile!r}"),
                              hint=f"Use one of: {', '.join(sorted(PROFILES))}.")
    parsed = parse_statement(data, filename, chosen)
    sha = hashlib.sha256(data).hexdigest()
    now = clock.now()
    try:
        with db.transaction() as session:
            seen = session.execute(select(RemittanceFile.id, RemittanceFile.filename,
                                          RemittanceFile.imported_at)
                                   .where(RemittanceFile.sha256 == sha)).first()
            if seen is not None:
                raise ValidationError(
                    FieldError("file", f"was already imported as file {seen[0]} "
                               f"({seen[1]}, {seen[2]:%Y-%m-%d %H:%M} UTC)"),
                    hint="Nothing was changed; a statement is imported once.")
            errors: list[FieldError] = []
            for first, voucher in parsed:
                errors += _check(session, voucher, f"voucher {voucher.voucher_no}: ", first)
            if errors:
                raise ValidationError(errors, hint="Correct the file and import it again; "
                                      "nothing was imported.")
            duplicate = _duplicate(session, [v.voucher_no for _, v in parsed])
            if duplicate is not None:
                raise duplicate
            file_row = RemittanceFile(filename=filename[:255], sha256=sha, size=len(data),
                                      content=data, profile=chosen.name, imported_at=now,
                                      imported_by=actor[:100])
            session.add(file_row)
            session.flush()
            for _first, voucher in parsed:
                _store(session, voucher, source="import", actor=actor, now=now,
                       file_id=file_row.id)
            result = ImportResult(file_row.id, file_row.filename, sha, chosen.name,
                                  [v.voucher_no for _, v in parsed],
                                  sum(len(v.lines) for _, v in parsed),
                                  sum(ln.amount for _, v in parsed for ln in v.lines))
            audit.record(session, clock, actor=actor, action="remittances.imported",
                         entity_type="remittance_file", entity_id=file_row.id,
                         data={k: v for k, v in result.as_dict().items() if k != "file_id"})
            return result
    except IntegrityError:
        with db.read() as session:
            duplicate = _duplicate(session, [v.voucher_no for _, v in parsed])
        if duplicate is None:
            raise
        raise duplicate from None


__all__ = [
    "PROFILES",
    "ImportResult",
    "LineIn",
    "StatementProfile",
    "VoucherIn",
    "import_statement",
    "parse_line",
    "parse_period",
    "parse_statement",
    "record_voucher",
    "store_vouchers",
]
