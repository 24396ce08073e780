"""Fee invoices as data, pure: parse and validate them, and price a subscription month.

A provider bills its fees on an invoice (hóa đơn phí): a subscription (SePay, Casso, payOS)
every month, or a gateway's fees or charges that it either **deducts** from a payout (the
payout pass names the invoice as the difference of a short credit) or **bills** apart. The
import file is a CSV or XLSX with this header (one invoice a row; titles in any case and
order)::

    provider,number,issued_on,period,amount,vat_amount,charged_as,note

- ``provider``: the provider's name (``sepay``, ``vnpay`` …); may be left out when the
  importer names it (``--provider``), and must then agree with it;
- ``number``: the invoice's number, unique per provider (1 to 64 characters);
- ``issued_on``: the issue date, ``YYYY-MM-DD`` or ``dd/mm/yyyy``;
- ``period``: the month billed, ``YYYY-MM`` or ``MM/YYYY``;
- ``amount``: what the invoice asks, VAT included, a whole number of VND above 0 (``180000``,
  ``180.000`` or ``180,000``; never ``1.5``, ``1,000.5`` or a negative);
- ``vat_amount``: the VAT the invoice states (optional; at most the amount);
- ``charged_as``: ``deducted`` (taken off a payout) or ``billed`` (paid apart);
- ``note``: free text (optional);
- ``replaces``: the number of the provider's invoice this one corrects (optional; a
  replacement invoice, hóa đơn thay thế): the replaced invoice no longer counts for its month.
  It must be recorded already, or be on an earlier line of the same file, for the same
  provider and month, and not replaced yet.

Every problem of a file is collected with its line number; any one refuses the whole file.

A subscription contract's month costs ``monthly_vnd`` plus ``overage_vnd`` for each of the
provider's transactions of the month above ``included_transactions``
(:func:`expected_charge`), plus VAT when the contract quotes it without.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from recon.contracts.model import BP, Contract, divide

FIELDS: Final = ("provider", "number", "issued_on", "period", "amount", "vat_amount",
                 "charged_as", "note", "replaces")
OPTIONAL: Final = frozenset({"provider", "vat_amount", "note", "replaces"})
CHARGED_AS: Final = ("deducted", "billed")
MAX_VND: Final = 10**15
HEADER: Final = ",".join(f for f in FIELDS if f != "replaces")
_GROUPED = re.compile(r"\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*")


class InvoiceError(ValueError):
    """A problem with one field of one invoice: ``line`` (1-based, of the file) may be None."""

    def __init__(self, field: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.line = line

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class InvoiceIn:
    """One invoice, validated."""

    provider: str
    number: str
    issued_on: date
    period: date  # the billed month's first day
    amount: int
    charged_as: str
    vat_amount: int | None = None
    note: str | None = None
    replaces: str | None = None


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFC", str(value)).replace("\ufeff", "").strip()


def parse_amount(value: object) -> int:
    """A whole number of VND from a cell or an option: ``180000``, ``180.000``, ``180,000``
    (thousands grouped by one separator), ``180.000 ₫``; an integer cell. ValueError for a
    fraction, a negative, a sign, an exponent or anything else."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number of VND")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"has a fraction of a đồng ({value!r}): VND amounts are whole")
        number = int(value)
    else:
        text = _text(value)
        for unit in ("₫", "VNĐ", "VND", "đ"):
            text = text.replace(unit, "")
        text = text.replace("\u00a0", "").replace(" ", "")
        if _GROUPED.fullmatch(text):
            text = re.sub(r"[.,]", "", text)
        if not (text.isascii() and text.isdigit()):
            raise ValueError(f"must be a whole number of VND (e.g. 180000 or 180.000), got "
                             f"{_text(value)!r}")
        number = int(text)
    if number < 0:
        raise ValueError(f"must not be negative, got {number}")
    if number > MAX_VND:
        raise ValueError(f"is beyond any invoice ({number})")
    return number


def parse_day(value: object) -> date:
    """``YYYY-MM-DD`` or ``dd/mm/yyyy`` (or a date cell)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
    raise ValueError(f"is not a date: write YYYY-MM-DD or dd/mm/yyyy, got {text!r}")


def parse_month(value: object) -> date:
    """``YYYY-MM`` or ``MM/YYYY`` (or a date cell) -> the month's first day."""
    if isinstance(value, date):
        return (value.date() if isinstance(value, datetime) else value).replace(day=1)
    text = _text(value)
    for fmt in ("%Y-%m", "%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a month
        except ValueError:
            continue
    raise ValueError(f"is not a month: write YYYY-MM (e.g. 2021-03) or MM/YYYY, got {text!r}")


def check_invoice(invoice: InvoiceIn, providers: Collection[str],
                  line: int | None = None) -> list[InvoiceError]:
    """Every problem of one invoice (its fields already parsed)."""
    errors: list[InvoiceError] = []
    if invoice.provider not in providers:
        errors.append(InvoiceError("provider", f"unknown provider {invoice.provider!r}: one "
                                   f"of {', '.join(sorted(providers))}", line))
    if not invoice.number or len(invoice.number) > 64:
        errors.append(InvoiceError("number", "must be 1 to 64 characters", line))
    if isinstance(invoice.amount, bool) or not isinstance(invoice.amount, int) or not (
            0 < invoice.amount <= MAX_VND):
        errors.append(InvoiceError("amount", "must be a whole number of VND above 0", line))
    elif invoice.vat_amount is not None and not 0 <= invoice.vat_amount <= invoice.amount:
        errors.append(InvoiceError("vat_amount", f"must be between 0 and the amount "
                                   f"({invoice.amount}), got {invoice.vat_amount}", line))
    if invoice.charged_as not in CHARGED_AS:
        errors.append(InvoiceError("charged_as", f"must be deducted (taken off a payout) or "
                                   f"billed (paid apart), got {invoice.charged_as!r}", line))
    if invoice.period.day != 1:
        errors.append(InvoiceError("period", "must be a month's first day", line))
    if invoice.replaces is not None and (not invoice.replaces or len(invoice.replaces) > 64
                                         or invoice.replaces == invoice.number):
        errors.append(InvoiceError("replaces", "must name another invoice's number (1 to 64 "
                                   "characters)", line))
    return errors


def _norm(value: object) -> str:
    return " ".join(_text(value).casefold().split())


def parse_rows(rows: Iterable[tuple[int, list[object]]], providers: Collection[str], *,
               provider: str | None = None) -> list[tuple[int, InvoiceIn]]:
    """The invoices of a file's rows (``(line number, cells)``, the header first), each with
    its line. Raises :class:`InvoiceErrors` naming every problem; nothing is partial."""
    errors: list[InvoiceError] = []
    header: dict[str, int] | None = None
    out: list[tuple[int, InvoiceIn]] = []
    seen: dict[tuple[str, str], int] = {}
    for number, cells in rows:
        if all(_text(c) == "" for c in cells):
            continue
        if header is None:
            titles = [_norm(c) for c in cells]
            header = {f: titles.index(f) for f in FIELDS if f in titles}
            missing = [f for f in FIELDS if f not in header and f not in OPTIONAL]
            if missing:
                raise InvoiceErrors([InvoiceError(
                    "file", f"has no column {', '.join(missing)}: the header is {HEADER}",
                    number)])
            if "provider" not in header and provider is None:
                raise InvoiceErrors([InvoiceError(
                    "file", "names no provider: add a provider column or name it "
                    "(--provider)", number)])
            continue

        def cell(name: str, cells: list[object] = cells,
                 header: dict[str, int] = header) -> object:
            i = header.get(name)
            return cells[i] if i is not None and i < len(cells) else None

        row: list[InvoiceError] = []
        parsed: dict[str, object] = {}
        for name, parse in (("issued_on", parse_day), ("period", parse_month),
                            ("amount", parse_amount)):
            try:
                parsed[name] = parse(cell(name))
            except ValueError as exc:
                row.append(InvoiceError(name, str(exc), number))
        vat: int | None = None
        if _text(cell("vat_amount")):
            try:
                vat = parse_amount(cell("vat_amount"))
            except ValueError as exc:
                row.append(InvoiceError("vat_amount", str(exc), number))
        who = _text(cell("provider")).casefold() or (provider or "")
        if provider is not None and who != provider:
            row.append(InvoiceError("provider", f"is {who!r}, but the file is imported as "
                                    f"{provider}'s", number))
        if row:
            errors += row
            continue
        invoice = InvoiceIn(who, _text(cell("number")), parsed["issued_on"],  # type: ignore[arg-type]
                            parsed["period"], parsed["amount"],  # type: ignore[arg-type]
                            _text(cell("charged_as")).casefold(), vat,
                            _text(cell("note")) or None, _text(cell("replaces")) or None)
        problems = check_invoice(invoice, providers, number)
        key = (invoice.provider, invoice.number)
        if key in seen:
            problems.append(InvoiceError("number", f"invoice {invoice.number} of "
                                         f"{invoice.provider} is also on line {seen[key]}",
                                         number))
        seen.setdefault(key, number)
        errors += problems
        if not problems:
            out.append((number, invoice))
    if header is None:
        raise InvoiceErrors([InvoiceError("file", f"is empty: the first row must be the "
                                          f"header {HEADER}")])
    if errors:
        raise InvoiceErrors(errors)
    if not out:
        raise InvoiceErrors([InvoiceError("file", "has no invoice under its header")])
    return out


class InvoiceErrors(ValueError):
    """Every problem of a file of invoices."""

    def __init__(self, errors: list[InvoiceError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def expected_charge(contract: Contract, transactions: int) -> int:
    """What a subscription contract bills for a month of ``transactions`` (see the module
    doc); 0 for a per-transaction contract (its fee is deducted line by line)."""
    if contract.kind != "subscription":
        return 0
    if transactions < 0:
        raise ValueError("a month's transactions cannot be negative")
    over = max(0, transactions - contract.included_transactions) if (
        contract.included_transactions or contract.overage_vnd) else 0
    charge = contract.monthly_vnd + over * contract.overage_vnd
    if not contract.vat_included:
        charge += divide(charge * contract.vat_rate_bp, BP, contract.rounding)
    return charge


__all__ = [
    "CHARGED_AS",
    "FIELDS",
    "HEADER",
    "InvoiceError",
    "InvoiceErrors",
    "InvoiceIn",
    "check_invoice",
    "expected_charge",
    "parse_amount",
    "parse_day",
    "parse_month",
    "parse_rows",
]
