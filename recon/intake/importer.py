"""`recon dossiers import FILE`: JSON array, JSON Lines or CSV, all or nothing.

Pass 1 reads and validates every record (errors collected with their line numbers); if any
record is bad nothing is written. Pass 2 writes in one transaction: new dossiers in set-based
batches, dossiers that already exist through the same upsert rule as the API. The file itself is
kept (``dossier_imports``) and the same file is refused a second time.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import String, any_, bindparam, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from recon.audit import chain as audit
from recon.bulk import allocate_ids, fee_totals_written, insert_rows
from recon.clock import VN_TZ, Clock
from recon.db import Database
from recon.errors import DuplicateFile, FieldError, ValidationError
from recon.intake.dossiers import DossierInput, parse_dossier, upsert_dossier
from recon.models import Agency, Dossier, DossierImport, Procedure
from recon.periods import PeriodClosed, closed_in, closed_months

BATCH = 5000
DOSSIER_COLUMNS = ("id", "code", "agency_id", "procedure_id", "applicant_name", "received_at",
                   "received_channel", "status", "created_at", "updated_at",
                   "applicant_name_folded")
FEE_COLUMNS = ("dossier_id", "position", "kind", "name", "amount", "retention_bp",
               "budget_code", "collector_code", "deposit_period", "deposit_due_days")
MAX_ERRORS_REPORTED = 1000
CSV_COLUMNS = ("code", "agency_code", "procedure_code", "procedure_name", "applicant_name",
               "received_at", "fee_kind", "fee_name", "fee_amount")

Progress = Callable[[int], None]


@dataclass
class ImportSummary:
    file: str
    sha256: str
    format: str
    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    fee_lines: int = 0
    total_assessed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _reject_float(text: str) -> Decimal:
    return Decimal(text)  # kept exact, then refused by parse_vnd with a clear message


def _unreadable(exc: BaseException) -> str:
    """JSON that parses in principle but not here: nesting deeper than the parser's stack,
    an exponent beyond Decimal's range, an integer of more than 4300 digits."""
    if isinstance(exc, RecursionError):
        return "not acceptable JSON (nested too deeply)"
    return f"not acceptable JSON (a number out of range: {type(exc).__name__})"


def _loads(text: str) -> Any:
    return json.loads(text, parse_float=_reject_float)


def detect_format(path: Path, head: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        return "json"
    if stripped.startswith(b"{"):
        return "jsonl"
    return "csv"


def _iter_jsonl(data: bytes) -> Iterator[tuple[int, Any, str | None]]:
    for number, raw in enumerate(io.BytesIO(data), start=1):
        if not raw.strip():
            continue
        try:
            yield number, _loads(raw.decode("utf-8-sig" if number == 1 else "utf-8")), None
        except UnicodeDecodeError:
            yield number, None, "is not UTF-8 text"
        except json.JSONDecodeError as exc:
            yield number, None, f"not valid JSON ({exc.msg} at column {exc.colno})"
        except (ValueError, ArithmeticError, RecursionError) as exc:
            yield number, None, _unreadable(exc)


def _iter_json_array(text: str) -> Iterator[tuple[int, Any, str | None]]:
    decoder = json.JSONDecoder(parse_float=_reject_float)
    i = 0
    n = len(text)
    line = 1
    counted = 0

    def skip_ws(pos: int) -> int:
        while pos < n and text[pos] in " \t\r\n":
            pos += 1
        return pos

    i = skip_ws(i)
    if i >= n or text[i] != "[":
        yield 1, None, "a JSON file must hold an array of dossiers ([ ... ])"
        return
    i = skip_ws(i + 1)
    if i < n and text[i] == "]":
        return
    while i < n:
        line += text.count("\n", counted, i)
        counted = i
        try:
            obj, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            yield exc.lineno, None, f"not valid JSON ({exc.msg} at column {exc.colno})"
            return
        except (ValueError, ArithmeticError, RecursionError) as exc:
            yield line, None, _unreadable(exc)
            return
        yield line, obj, None
        i = skip_ws(end)
        if i < n and text[i] == ",":
            i = skip_ws(i + 1)
        elif i < n and text[i] == "]":
            if skip_ws(i + 1) < n:  # "[...][...]": the second half would be dropped silently
                yield text.count("\n", 0, i) + 1, None, "there is more after the closing ']'"
            return
        else:
            yield text.count("\n", 0, i) + 1, None, "expected ',' or ']' after a dossier"
            return
    # the text ended inside the array: a truncated file must not import its first half
    yield text.count("\n") + 1, None, "the file ends before the closing ']' (is it truncated?)"


def _csv_dicts(reader: csv.DictReader[str]) -> Iterator[dict[str, Any] | None]:
    """The rows, then ``None`` once if the CSV module gives up (``csv.Error``)."""
    try:
        yield from reader
    except csv.Error:
        yield None


def _iter_csv(text: str) -> Iterator[tuple[int, Any, str | None]]:
    """One row per fee line; rows with the same code form one dossier."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        yield 1, None, f"is not readable CSV: {exc}"
        return
    missing = [c for c in CSV_COLUMNS if c not in (fieldnames or [])]
    if missing:
        yield 1, None, "the CSV header lacks column(s) " + ", ".join(missing)
        return
    grouped: dict[str, tuple[int, dict[str, Any]]] = {}
    for row in _csv_dicts(reader):
        if row is None:
            yield reader.line_num, None, "is not readable CSV (a field over the size limit, "\
                "or broken quoting)"
            return
        number = reader.line_num
        code = (row.get("code") or "").strip()
        if not code:
            yield number, None, "code: is required"
            continue
        if code not in grouped:
            record = {k: row.get(k) for k in CSV_COLUMNS[:6]}
            for optional in ("received_channel", "procedure_field"):
                if row.get(optional):
                    record[optional] = row[optional]
            record["fees"] = []
            grouped[code] = (number, record)
        first_line, record = grouped[code]
        if any(row.get(k) for k in ("fee_kind", "fee_name", "fee_amount")):
            record["fees"].append({"kind": row.get("fee_kind"), "name": row.get("fee_name"),
                                   "amount": row.get("fee_amount"), "_line": number,
                                   # optional columns (issue 18 §1, docs/treasury.md)
                                   "retention_bp": row.get("fee_retention_bp"),
                                   "budget_code": row.get("fee_budget_code"),
                                   "collector_code": row.get("fee_collector_code"),
                                   "deposit_rule": row.get("fee_deposit_rule")})
    for first_line, record in grouped.values():
        yield first_line, record, None


def read_records(path: Path, data: bytes) -> tuple[str, Iterator[tuple[int, Any, str | None]]]:
    fmt = detect_format(path, data[:64])
    if fmt == "jsonl":
        return fmt, _iter_jsonl(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(FieldError("file", f"is not UTF-8 text (byte {exc.start})"),
                              hint="Export the file as UTF-8 and import it again.") from None
    if fmt == "json":
        return fmt, _iter_json_array(text)
    return fmt, _iter_csv(text)


def _unknown_agency(obj: Any, parsed: list[FieldError], line: int,
                    agencies: Collection[str] | None) -> FieldError | None:
    """The error for a record whose agency is not one of ``agencies`` (whatever else is wrong
    with it), None when it is known, or its agency_code is missing or malformed (reported
    already, in ``parsed``)."""
    if agencies is None or not isinstance(obj, dict):
        return None
    code = obj.get("agency_code")
    if not isinstance(code, str) or not code.strip():
        return None
    if any(error.field == "agency_code" for error in parsed):
        return None
    if code.strip() in agencies:
        return None
    return FieldError("agency_code", f"unknown agency {code.strip()!r}", line)


def validate(records: Iterator[tuple[int, Any, str | None]], *, amounts_as_text: bool,
             progress: Progress | None = None, agencies: Collection[str] | None = None
             ) -> tuple[list[DossierInput], list[FieldError]]:
    """Every record parsed; every problem with its line. Given the ``agencies`` that exist,
    a record naming another one is an error on its line too (also when the record has other
    errors)."""
    inputs: list[DossierInput] = []
    errors: list[FieldError] = []
    first_seen: dict[str, int] = {}
    for line, obj, problem in records:
        if progress:
            progress(1)
        if problem:
            errors.append(FieldError("record", problem, line))
            continue
        if isinstance(obj, dict) and amounts_as_text:
            for fee in obj.get("fees", []):
                fee.pop("_line", None)
        code = obj.get("code") if isinstance(obj, dict) else None
        if isinstance(code, str) and code.strip() in first_seen:
            errors.append(FieldError("code", f"dossier {code.strip()} appears twice in the "
                                     f"file (first on line {first_seen[code.strip()]})", line))
            continue
        if isinstance(code, str):
            first_seen[code.strip()] = line
        parsed: list[FieldError] = []
        try:
            dossier = parse_dossier(obj, line=line, amounts_as_text=amounts_as_text)
        except ValidationError as exc:
            parsed = exc.errors
        errors.extend(parsed)
        unknown = _unknown_agency(obj, parsed, line, agencies)
        if unknown is not None:
            errors.append(unknown)
        elif not parsed:
            strangers = [FieldError(f"fees[{i}].collector_code",
                                    f"unknown agency {f.collector_code!r}", line)
                         for i, f in enumerate(dossier.fees)
                         if agencies is not None and f.collector_code is not None
                         and f.collector_code not in agencies]
            errors.extend(strangers)
            if not strangers:
                inputs.append(dossier)
    return inputs, errors


def import_file(db: Database, clock: Clock, path: Path, *, actor: str,
                progress: Progress | None = None,
                on_validated: Callable[[int], None] | None = None,
                write_progress: Progress | None = None) -> ImportSummary:
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    fmt, records = read_records(path, data)
    with db.read() as session:
        known_agencies = dict(session.execute(select(Agency.code, Agency.id)).all())
        previous = session.execute(
            select(DossierImport.imported_at).where(DossierImport.sha256 == sha)
        ).scalar_one_or_none()
    if previous is not None:
        raise DuplicateFile(
            f"{path.name} was already imported on {previous:%Y-%m-%d %H:%M} UTC "
            f"(sha256 {sha[:12]}…); nothing was changed",
            hint="Import a new export instead; re-sending one dossier updates it through the API.")
    inputs, errors = validate(records, amounts_as_text=(fmt == "csv"), progress=progress,
                              agencies=known_agencies)
    if errors:
        errors.sort(key=lambda e: e.line or 0)
        hint = "Nothing was imported. Fix every line listed and import the file again."
        if any(e.field == "agency_code" and e.message.startswith("unknown agency")
               for e in errors):
            hint += (" An unknown agency is created with `recon agencies create` (its code, "
                     "name and collection account), or its code corrected in the file.")
        raise ValidationError(errors, hint=hint)
    if on_validated:
        on_validated(len(inputs))
    summary = ImportSummary(file=path.name, sha256=sha, format=fmt, records=len(inputs))
    with db.transaction() as session:
        write_dossiers(session, clock, inputs, known_agencies, summary, actor=actor,
                       progress=write_progress)
        session.add(DossierImport(filename=path.name[:255], sha256=sha, size=len(data),
                                  content=data, imported_at=clock.now(), imported_by=actor,
                                  dossiers_created=summary.created,
                                  dossiers_updated=summary.updated,
                                  dossiers_unchanged=summary.unchanged))
        audit.record(session, clock, actor=actor, action="dossiers.imported",
                     entity_type="dossier_import", entity_id=sha,
                     data={k: v for k, v in summary.as_dict().items() if k != "sha256"})
    return summary


def existing_codes(session: Session, codes: list[str]) -> set[str]:
    """Which of ``codes`` are dossiers already (one array parameter on PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            select(Dossier.code).where(Dossier.code == any_(
                bindparam("codes", value=codes, type_=ARRAY(String)))))
    else:
        rows = session.execute(select(Dossier.code).where(Dossier.code.in_(codes)))
    return set(rows.scalars())


def _procedure_ids(session: Session, clock: Clock,
                   inputs: list[DossierInput]) -> dict[str, int]:
    ids = dict(session.execute(select(Procedure.code, Procedure.id)).all())
    new: dict[str, DossierInput] = {}
    for inp in inputs:
        if inp.procedure_code not in ids and inp.procedure_code not in new:
            new[inp.procedure_code] = inp
    if new:
        now = clock.now()
        session.execute(insert(Procedure), [
            {"code": c, "name": i.procedure_name, "field": i.procedure_field, "created_at": now}
            for c, i in new.items()])
        ids = dict(session.execute(select(Procedure.code, Procedure.id)).all())
    return ids


def write_dossiers(session: Session, clock: Clock, inputs: list[DossierInput],
                   agencies: dict[str, int], summary: ImportSummary, *, actor: str,
                   progress: Progress | None = None, skip_existing: bool = False) -> None:
    """Write validated dossiers: new ones set-based, existing ones by the upsert rule
    (or left alone with ``skip_existing``, as the idempotent demo does)."""
    closed = closed_months(session)  # a closed month takes no new dossier
    late = [(inp, period) for inp in inputs if (period := closed_in(
        closed, inp.received_at, agencies.get(inp.agency_code))) is not None]
    if late:  # one already stored goes by the upsert rule (a late reassessment is kept)
        known = existing_codes(session, [inp.code for inp, _ in late])
        for inp, period in late:
            if inp.code not in known:
                raise PeriodClosed(period.month, f"dossier {inp.code} (received "
                                   f"{inp.received_at.astimezone(VN_TZ):%d/%m/%Y})")
    procedures = _procedure_ids(session, clock, inputs)
    now = clock.now()
    for start in range(0, len(inputs), BATCH):
        batch = inputs[start:start + BATCH]
        existing = existing_codes(session, [i.code for i in batch])
        fresh = [i for i in batch if i.code not in existing]
        if fresh:
            ids = allocate_ids(session, "dossiers", len(fresh))
            fee_rows = [(id_, pos, f.kind, f.name, f.amount, f.retention_bp, f.budget_code,
                         f.collector_code, f.deposit_period, f.deposit_due_days)
                        for id_, inp in zip(ids, fresh, strict=True)
                        for pos, f in enumerate(inp.fees)]
            # each new dossier is written once, with its total (see fee_totals_written)
            with fee_totals_written(session) as by_writer:
                insert_rows(session, "dossiers", (*DOSSIER_COLUMNS, "fee_total"), (
                    (id_, i.code, agencies[i.agency_code], procedures[i.procedure_code],
                     i.applicant_name, i.received_at, i.received_channel, "received", now,
                     now, i.applicant_name_folded, i.total_assessed if by_writer else 0)
                    for id_, i in zip(ids, fresh, strict=True)))
                if fee_rows:  # fee line ids come from the database's own default
                    insert_rows(session, "fee_lines", FEE_COLUMNS, fee_rows)
            summary.created += len(fresh)
            summary.fee_lines += len(fee_rows)
            summary.total_assessed += sum(i.total_assessed for i in fresh)
        for inp in batch:
            if inp.code in existing and skip_existing:
                summary.unchanged += 1
            elif inp.code in existing:
                _, outcome = upsert_dossier(session, clock, inp, actor=actor)
                setattr(summary, outcome, getattr(summary, outcome) + 1)
        if progress:
            progress(len(batch))
