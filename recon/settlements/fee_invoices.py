"""The providers' fee invoices (issue 17 §1–§2): imported from a CSV/XLSX file or recorded by
hand, listed (docs/reconciliation.md#fee-invoices).

- :func:`import_invoices` reads a file (:mod:`recon.contracts.invoices` documents its header
  and validates it), keeps the file verbatim and stores every invoice in one transaction: all
  or nothing. The same file twice (by sha256) or an invoice already recorded (by provider and
  number) is refused, naming what exists;
- :func:`record_invoice` stores one invoice entered by hand;
- :func:`list_invoices` the invoices recorded, by month.

Both writers are audited. An invoice ``deducted`` from a payout becomes a deduction of the
payout pass (:mod:`recon.engine.payout_load`); the fees page sets the ``billed`` ones of a
subscription against its contract (:mod:`recon.review.fees`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters import PROVIDERS
from recon.audit import chain as audit
from recon.clock import Clock
from recon.contracts.invoices import (
    FIELDS,
    InvoiceError,
    InvoiceErrors,
    InvoiceIn,
    check_invoice,
    parse_rows,
)
from recon.db import Database
from recon.errors import FieldError, ValidationError
from recon.models import FeeInvoice, FeeInvoiceFile
from recon.settlements import importer
from recon.settlements.importer import Profile

Progress = Callable[[int], None]
_READER = Profile(name="fee_invoices", columns={f: (f,) for f in FIELDS}, format="auto",
                  delimiter="auto", origin="built-in")


def _field_errors(errors: Sequence[InvoiceError]) -> list[FieldError]:
    return [FieldError(e.field, e.message, e.line) for e in errors]


def _rows(data: bytes, filename: str, progress: Progress | None
          ) -> Iterator[tuple[int, list[object]]]:
    if importer.detect_format(data, filename, _READER) == "xlsx":
        rows: Iterator[tuple[int, list[Any]]] = importer._xlsx_rows(data, _READER)
    else:
        rows = importer._csv_rows(data, _READER)
    for row in rows:
        if progress is not None:
            progress(1)
        yield row


def parse_file(data: bytes, filename: str, *, provider: str | None = None,
               progress: Progress | None = None) -> list[tuple[int, InvoiceIn]]:
    """The invoices of a file, each with its line; :class:`ValidationError` naming every
    problem (nothing is imported then)."""
    if provider is not None and provider not in PROVIDERS:
        raise ValidationError(FieldError("provider", f"unknown provider {provider!r}"),
                              hint=f"Use one of: {', '.join(PROVIDERS)}.")
    try:
        return parse_rows(_rows(data, filename, progress), list(PROVIDERS), provider=provider)
    except InvoiceErrors as exc:
        raise ValidationError(_field_errors(exc.errors),
                              hint="Correct the file and import it again; nothing was "
                                   "imported.") from None


def _duplicates(session: Session, keys: Sequence[tuple[str, str]]) -> ValidationError | None:
    wanted = sorted(set(keys))
    if not wanted:
        return None
    rows = session.execute(
        select(FeeInvoice.provider, FeeInvoice.number, FeeInvoice.issued_on,
               FeeInvoice.recorded_at, FeeInvoice.recorded_by)
        .where(tuple_(FeeInvoice.provider, FeeInvoice.number).in_(wanted))
        .order_by(FeeInvoice.provider, FeeInvoice.number)).all()
    if not rows:
        return None
    return ValidationError(
        [FieldError("number", f"invoice {no} of {provider} ({on:%d/%m/%Y}) is already "
                    f"recorded (by {by}, {at:%Y-%m-%d %H:%M} UTC)")
         for provider, no, on, at, by in rows],
        hint="An invoice is recorded once: nothing was changed. Leave it out, or correct its "
             "number if this is another invoice.")


def _replacements(session: Session, invoices: Sequence[tuple[int | None, InvoiceIn]]
                  ) -> ValidationError | None:
    """Each invoice that ``replaces`` another must name one recorded already or on an earlier
    line, of its provider and month, not replaced yet."""
    wanted = sorted({(i.provider, i.replaces) for _, i in invoices if i.replaces})
    if not wanted:
        return None
    known: dict[tuple[str, str], date] = {}
    taken: dict[tuple[str, str], str] = {}
    for provider, number, period in session.execute(
            select(FeeInvoice.provider, FeeInvoice.number, FeeInvoice.period)
            .where(tuple_(FeeInvoice.provider, FeeInvoice.number).in_(wanted))):
        known[(provider, number)] = period
    for provider, replaces, number in session.execute(
            select(FeeInvoice.provider, FeeInvoice.replaces, FeeInvoice.number)
            .where(tuple_(FeeInvoice.provider, FeeInvoice.replaces).in_(wanted))):
        taken[(provider, str(replaces))] = number
    errors: list[FieldError] = []
    for line, invoice in invoices:
        if invoice.replaces:
            key = (invoice.provider, invoice.replaces)
            billed = known.get(key)
            if billed is None:
                errors.append(FieldError("replaces", f"invoice {invoice.replaces} of "
                                         f"{invoice.provider} is not recorded (record it "
                                         "first, or put it on an earlier line)", line))
            elif billed != invoice.period:
                errors.append(FieldError("replaces", f"invoice {invoice.replaces} bills "
                                         f"{billed:%m/%Y}, not {invoice.period:%m/%Y}: a "
                                         "replacement bills the same month", line))
            elif key in taken:
                errors.append(FieldError("replaces", f"invoice {invoice.replaces} is already "
                                         f"replaced by {taken[key]}", line))
            else:
                taken[key] = invoice.number
        known.setdefault((invoice.provider, invoice.number), invoice.period)
    if not errors:
        return None
    return ValidationError(errors, hint="A replacement names the invoice it corrects; nothing "
                                        "was changed.")


def _store(session: Session, invoice: InvoiceIn, *, actor: str, now: datetime,
           file_id: int | None) -> FeeInvoice:
    row = FeeInvoice(provider=invoice.provider, number=invoice.number,
                     issued_on=invoice.issued_on, period=invoice.period, amount=invoice.amount,
                     vat_amount=invoice.vat_amount, charged_as=invoice.charged_as,
                     note=invoice.note, replaces=invoice.replaces, file_id=file_id,
                     recorded_at=now, recorded_by=actor[:100])
    session.add(row)
    return row


def _data(invoice: InvoiceIn) -> dict[str, Any]:
    return {"provider": invoice.provider, "number": invoice.number,
            "issued_on": invoice.issued_on.isoformat(), "period": invoice.period.isoformat()[:7],
            "amount": invoice.amount, "vat_amount": invoice.vat_amount,
            "charged_as": invoice.charged_as, "replaces": invoice.replaces}


def record_invoice(db: Database, clock: Clock, invoice: InvoiceIn, *, actor: str) -> int:
    """Store one invoice entered by hand; its id. Refused (nothing stored) when invalid or
    already recorded."""
    problems = check_invoice(invoice, list(PROVIDERS))
    if problems:
        raise ValidationError(_field_errors(problems), hint="Correct the invoice and record it "
                              "again; nothing was changed.")
    key = [(invoice.provider, invoice.number)]
    try:
        with db.transaction() as session:
            duplicate = _duplicates(session, key) or _replacements(session, [(None, invoice)])
            if duplicate is not None:
                raise duplicate
            row = _store(session, invoice, actor=actor, now=clock.now(), file_id=None)
            session.flush()
            audit.record(session, clock, actor=actor, action="fee_invoices.recorded",
                         entity_type="fee_invoice", entity_id=row.id, data=_data(invoice))
            return row.id
    except IntegrityError:
        with db.read() as session:
            duplicate = _duplicates(session, key)
        if duplicate is None:
            raise
        raise duplicate from None


def store_invoices(session: Session, clock: Clock, invoices: Sequence[InvoiceIn], *,
                   actor: str) -> list[int]:
    """Store ``invoices`` in the caller's transaction with one audit event (the demo)."""
    errors: list[FieldError] = []
    for invoice in invoices:
        errors += _field_errors(check_invoice(invoice, list(PROVIDERS)))
    if errors:
        raise ValidationError(errors, hint="Correct the invoices; nothing was changed.")
    duplicate = _duplicates(session, [(i.provider, i.number) for i in invoices]) or \
        _replacements(session, [(None, i) for i in invoices])
    if duplicate is not None:
        raise duplicate
    now = clock.now()
    rows = [_store(session, i, actor=actor, now=now, file_id=None) for i in invoices]
    session.flush()
    if rows:
        audit.record(session, clock, actor=actor, action="fee_invoices.recorded",
                     entity_type="fee_invoice", entity_id=rows[0].id,
                     data={"invoices": len(rows), "total": sum(i.amount for i in invoices)})
    return [r.id for r in rows]


@dataclass(frozen=True)
class ImportResult:
    file_id: int
    filename: str
    sha256: str
    invoices: int
    total: int
    deducted: int

    def as_dict(self) -> dict[str, Any]:
        return {"file_id": self.file_id, "filename": self.filename, "sha256": self.sha256,
                "invoices": self.invoices, "total": self.total, "deducted": self.deducted}


def import_invoices(db: Database, clock: Clock, data: bytes, filename: str, *,
                    provider: str | None = None, actor: str,
                    progress: Progress | None = None,
                    write_progress: Progress | None = None) -> ImportResult:
    """Import a file of invoices (see the module doc): all or nothing."""
    sha = hashlib.sha256(data).hexdigest()
    parsed = parse_file(data, filename, provider=provider, progress=progress)
    keys = [(i.provider, i.number) for _, i in parsed]
    now = clock.now()
    try:
        with db.transaction() as session:
            seen = session.execute(select(FeeInvoiceFile.id, FeeInvoiceFile.filename,
                                          FeeInvoiceFile.imported_at)
                                   .where(FeeInvoiceFile.sha256 == sha)).first()
            if seen is not None:
                raise ValidationError(
                    FieldError("file", f"was already imported as file {seen[0]} "
                               f"({seen[1]}, {seen[2]:%Y-%m-%d %H:%M} UTC)"),
                    hint="Nothing was changed; a file of invoices is imported once.")
            duplicate = _duplicates(session, keys) or _replacements(session, parsed)
            if duplicate is not None:
                raise duplicate
            file_row = FeeInvoiceFile(filename=filename[:255], sha256=sha, size=len(data),
                                      content=data, imported_at=now, imported_by=actor[:100])
            session.add(file_row)
            session.flush()
            for _line, invoice in parsed:
                _store(session, invoice, actor=actor, now=now, file_id=file_row.id)
                if write_progress is not None:
                    write_progress(1)
            session.flush()
            result = ImportResult(
                file_row.id, file_row.filename, sha, len(parsed),
                sum(i.amount for _, i in parsed),
                sum(1 for _, i in parsed if i.charged_as == "deducted"))
            audit.record(session, clock, actor=actor, action="fee_invoices.imported",
                         entity_type="fee_invoice_file", entity_id=file_row.id,
                         data={k: v for k, v in result.as_dict().items() if k != "file_id"})
            return result
    except IntegrityError:
        with db.read() as session:
            duplicate = _duplicates(session, keys)
        if duplicate is None:
            raise
        raise duplicate from None


@dataclass(frozen=True)
class InvoiceView:
    id: int
    provider: str
    number: str
    issued_on: date
    period: date
    amount: int
    vat_amount: int | None
    charged_as: str
    note: str | None
    file_id: int | None
    recorded_by: str
    replaces: str | None = None


def list_invoices(session: Session, *, month: date | None = None,
                  year: int | None = None) -> list[InvoiceView]:
    """The invoices recorded (of one billed month, or one year), by month, provider and
    number."""
    q = select(FeeInvoice.id, FeeInvoice.provider, FeeInvoice.number, FeeInvoice.issued_on,
               FeeInvoice.period, FeeInvoice.amount, FeeInvoice.vat_amount, FeeInvoice.charged_as,
               FeeInvoice.note, FeeInvoice.file_id, FeeInvoice.recorded_by,
               FeeInvoice.replaces)
    if month is not None:
        q = q.where(FeeInvoice.period == month.replace(day=1))
    if year is not None:
        q = q.where(FeeInvoice.period >= date(year, 1, 1), FeeInvoice.period < date(year + 1, 1, 1))
    q = q.order_by(FeeInvoice.period, FeeInvoice.provider, FeeInvoice.number)
    return [InvoiceView(*row) for row in session.execute(q)]


__all__ = ["ImportResult", "InvoiceView", "import_invoices", "list_invoices", "parse_file",
           "record_invoice", "store_invoices"]
