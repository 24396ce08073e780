"""Onward transfers (issue 18 §2): money a receiving centre passes on to a collecting
organisation, or pays into the state budget (lệ phí), recorded by hand or read from the debits
of its bank statement. docs/transfers.md has the rules.

- A transfer belongs to the **agency** whose account it left and goes to a **destination**: a
  collector's agency code, or ``budget``. Its bank reference is unique per agency: the same
  reference twice is refused, naming the transfer already recorded, and nothing changes.
- A statement of debits is read with a column profile (``vietinbank_debits`` built in,
  ``recon/data/debit_profiles.toml``; the operator's own in ``RECON_SETTLEMENT_PROFILES``),
  kept verbatim (``transfer_files``), all or nothing. Each debit's destination is its
  counterparty account: a collector's ``transfer_account`` (``recon transfers account``), or
  one of the budget's accounts (``RECON_BUDGET_ACCOUNTS``). Other debits (bank fees, refunds,
  salaries) are not onward transfers: they are counted and left out. A debit whose reference
  is already recorded is left out too (statements overlap), and counted.
- A **deposit** is a transfer into a collector's fee account awaiting budget remittance at the
  Treasury (``agencies.fee_pending_account``, ``recon transfers fee-account``): a debit to it
  is recorded with ``into_fee_account`` and the collector as destination, even when the
  collector deposits from its own account (then it is no onward transfer). The deposit pass
  judges them (:mod:`recon.engine.deposits`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from recon.audit import chain as audit
from recon.clock import VN_TZ, Clock
from recon.db import Database
from recon.engine.forwarding import BUDGET
from recon.errors import Conflict, DuplicateFile, FieldError, NotFound, ValidationError
from recon.models import Agency, Transfer, TransferFile
from recon.money import parse_vnd
from recon.settlements.importer import Profile, debit_profiles, parse_settlement

BUDGET_ACCOUNTS_ENV = "RECON_BUDGET_ACCOUNTS"
DEFAULT_DEBIT_PROFILE = "vietinbank_debits"
REFERENCE_MAX = 100


def budget_accounts(env: Mapping[str, str]) -> frozenset[str]:
    """The state budget's collection accounts (the Treasury's), from
    ``RECON_BUDGET_ACCOUNTS`` (comma-separated account numbers)."""
    raw = env.get(BUDGET_ACCOUNTS_ENV) or ""
    out = set()
    for item in raw.split(","):
        number = item.strip().replace(" ", "")
        if not number:
            continue
        if not number.isdigit() or len(number) > 40:
            raise ValueError(f"{BUDGET_ACCOUNTS_ENV}: {number!r} is not an account number "
                             "(digits only, comma-separated)")
        out.add(number)
    return frozenset(out)


def parse_moment(raw: str, field: str = "at") -> datetime:
    """An ISO date and time; without an offset it is Vietnam time."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationError(FieldError(field, f"{raw!r} is not a date and time"),
                              hint="Give it as YYYY-MM-DDTHH:MM (Vietnam time) or with an "
                                   "offset, e.g. 2021-03-02T16:30+07:00.") from None
    return moment.replace(tzinfo=VN_TZ) if moment.tzinfo is None else moment


def _agency(session: Session, code: str, field: str) -> Agency:
    agency = session.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        raise NotFound(f"{field}: unknown agency {code!r}",
                       hint="`recon agencies list` shows the agency codes.")
    return agency


def _as_dict(t: Transfer, agency_code: str) -> dict[str, Any]:
    return {"id": t.id, "agency": agency_code, "to": t.destination, "amount": t.amount,
            "at": t.transferred_at.isoformat(), "reference": t.bank_reference,
            "counterparty_account": t.counterparty_account, "note": t.note,
            "source": t.source, "file_id": t.file_id,
            "into_fee_account": bool(t.into_fee_account)}


def _already(session: Session, agency: Agency, reference: str) -> Transfer | None:
    return session.scalar(select(Transfer).where(Transfer.agency_id == agency.id,
                                                 Transfer.bank_reference == reference))


def record_transfer(db: Database, clock: Clock, *, agency: str, to: str, amount: object,
                    at: datetime, reference: str, actor: str, note: str | None = None,
                    into_fee_account: bool = False) -> dict[str, Any]:
    """Record one transfer by hand (audited); ``into_fee_account``: into ``to``'s fee account
    awaiting budget remittance (a deposit; ``to`` may be ``agency`` itself). Raises
    :class:`ValidationError`, :class:`NotFound` (an unknown agency) or :class:`Conflict` (the
    reference is recorded)."""
    errors: list[FieldError] = []
    try:
        value = parse_vnd(amount, allow_zero=False)
    except ValueError as exc:
        errors.append(FieldError("amount", str(exc)))
        value = 0
    reference = reference.strip()
    if not reference or len(reference) > REFERENCE_MAX:
        errors.append(FieldError("reference", f"is required, at most {REFERENCE_MAX} "
                                 "characters: the bank's reference of the transfer"))
    if at.tzinfo is None:
        errors.append(FieldError("at", "needs a time zone"))
    if errors:
        raise ValidationError(errors, hint="Nothing was recorded.")
    try:
        with db.transaction() as session:
            sender = _agency(session, agency, "agency")
            if into_fee_account and to == BUDGET:
                raise ValidationError(FieldError("to", "a deposit goes to a collector's fee "
                                                 "account, not to the budget"),
                                      hint="Give the collector's agency code (or the agency "
                                           "itself).")
            if to not in (BUDGET, sender.code):
                _agency(session, to, "to")
            elif to == sender.code and not into_fee_account:
                raise ValidationError(FieldError("to", "is the agency itself"),
                                      hint=f"Give the collector's agency code, or {BUDGET}; "
                                           "a deposit into its own fee account takes "
                                           "--fee-account.")
            previous = _already(session, sender, reference)
            if previous is not None:
                raise _duplicate(previous, sender.code)
            row = Transfer(agency_id=sender.id, destination=to, amount=value,
                           transferred_at=at, bank_reference=reference,
                           note=(note or "").strip() or None, source="manual",
                           created_at=clock.now(), created_by=actor[:100],
                           into_fee_account=into_fee_account)
            session.add(row)
            session.flush()
            out = _as_dict(row, sender.code)
            audit.record(session, clock, actor=actor, action="transfers.recorded",
                         entity_type="transfer", entity_id=row.id,
                         data={k: v for k, v in out.items() if k != "id"})
    except IntegrityError:
        raise Conflict(f"a transfer with bank reference {reference!r} of {agency} was just "
                       "recorded by someone else; nothing changed",
                       hint="`recon transfers list` shows it.") from None
    return out


def _duplicate(previous: Transfer, agency: str) -> Conflict:
    return Conflict(
        f"bank reference {previous.bank_reference!r} of {agency} is already recorded "
        f"(transfer {previous.id}: {previous.amount} VND to {previous.destination} at "
        f"{previous.transferred_at.astimezone(VN_TZ):%Y-%m-%d %H:%M}); nothing changed",
        hint="A transfer is recorded once. If this is another transfer, give its own bank "
             "reference.")


def set_transfer_account(db: Database, clock: Clock, *, agency: str, account: str | None,
                         actor: str, column: str = "transfer_account") -> dict[str, Any]:
    """A collector's account for onward transfers (None clears it); audited. ``column``
    ``fee_pending_account``: its fee account awaiting budget remittance at the Treasury."""
    if column not in ("transfer_account", "fee_pending_account"):
        raise ValueError(f"unknown account column {column!r}")
    number = None if account is None else account.strip().replace(" ", "")
    if number is not None and (not number.isdigit() or len(number) > 40):
        raise ValidationError(FieldError("account", f"{account!r} is not an account number"),
                              hint="Digits only, at most 40. Nothing changed.")
    with db.transaction() as session:
        row = _agency(session, agency, "agency")
        before = getattr(row, column)
        setattr(row, column, number)
        audit.record(session, clock, actor=actor, action=f"agencies.{column}",
                     entity_type="agency", entity_id=row.id,
                     data={"code": row.code, "before": before, "after": number})
    return {"agency": agency, column: number}


@dataclass
class DebitImport:
    file_id: int
    filename: str
    profile: str
    rows: int
    transfers: int
    total_amount: int
    not_onward: int  # debits to no known collector or budget account
    already_recorded: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def import_debits(db: Database, clock: Clock, *, agency: str, path: str | Path,
                  actor: str, profile: str = DEFAULT_DEBIT_PROFILE,
                  profiles: Mapping[str, Profile] | None = None,
                  budget: Iterable[str] = (), content: bytes | None = None) -> DebitImport:
    """Read one statement of ``agency``'s debits; all or nothing (module doc). ``content``:
    the file's bytes when they are not read from ``path`` (then only its name)."""
    source = Path(path)
    if content is not None:
        data = content
    else:
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise ValidationError(
                FieldError("file", f"cannot be read: {exc.strerror or exc}"),
                hint="Check the path and the file's permissions.") from None
    registry = profiles if profiles is not None else debit_profiles()
    chosen = registry.get(profile)
    if chosen is None:
        raise ValidationError(FieldError("profile", f"unknown profile {profile!r}"),
                              hint="The built-in one is vietinbank_debits; add yours to the "
                                   "RECON_SETTLEMENT_PROFILES file. Nothing was imported.")
    if "counterparty" not in chosen.columns:
        raise ValidationError(FieldError("profile", f"{profile} has no counterparty column "
                                         "(the account the money went to)"),
                              hint="Use a debit profile such as vietinbank_debits.")
    parsed = parse_settlement(data, source.name, chosen)
    if parsed.errors:
        raise ValidationError(parsed.errors, hint=f"Nothing was imported (profile {profile}). "
                              "Fix every row listed and import the file again.")
    budget_set = frozenset(budget)
    sha = hashlib.sha256(data).hexdigest()
    now = clock.now()
    with db.transaction() as session:
        sender = _agency(session, agency, "agency")
        previous = session.scalar(select(TransferFile).where(TransferFile.sha256 == sha))
        if previous is not None:
            raise DuplicateFile(f"{source.name} was imported before (file {previous.id}, "
                                f"{previous.filename}); nothing changed",
                                hint="A statement is imported once.")
        accounts = {acct: code for code, acct in session.execute(
            select(Agency.code, Agency.transfer_account)
            .where(Agency.transfer_account.is_not(None)))}
        fee_accounts = {acct: code for code, acct in session.execute(
            select(Agency.code, Agency.fee_pending_account)
            .where(Agency.fee_pending_account.is_not(None)))}
        known = set(session.scalars(select(Transfer.bank_reference)
                                    .where(Transfer.agency_id == sender.id)))
        file_row = TransferFile(agency_id=sender.id, filename=source.name[:255], sha256=sha,
                                size=len(data), content=data, profile=profile,
                                imported_at=now, imported_by=actor[:100], row_count=0,
                                total_amount=0)
        session.add(file_row)
        session.flush()
        count = total = not_onward = already = 0
        for line in parsed.lines:
            account = line.counterparty or ""
            deposit = account not in budget_set and account in fee_accounts
            to = BUDGET if account in budget_set else fee_accounts.get(account) or \
                accounts.get(account)
            if to is None or (to == sender.code and not deposit):
                not_onward += 1
                continue
            if line.provider_txn_id in known:
                already += 1
                continue
            known.add(line.provider_txn_id)
            at = line.transaction_at or datetime.combine(line.settled_on, datetime.min.time(),
                                                         VN_TZ)
            session.add(Transfer(agency_id=sender.id, destination=to, amount=line.amount,
                                 transferred_at=at, bank_reference=line.provider_txn_id[:100],
                                 counterparty_account=account, note=line.reference,
                                 source="statement", file_id=file_row.id,
                                 line_no=line.line_no, created_at=now,
                                 created_by=actor[:100], into_fee_account=deposit))
            count += 1
            total += line.amount
        file_row.row_count = count
        file_row.total_amount = total
        summary = DebitImport(file_row.id, file_row.filename, profile, parsed.rows, count,
                              total, not_onward, already)
        audit.record(session, clock, actor=actor, action="transfers.imported",
                     entity_type="transfer_file", entity_id=file_row.id,
                     data={k: v for k, v in summary.as_dict().items() if k != "file_id"})
    return summary


def list_transfers(session: Session, *, agencies: Iterable[int] | None = None,
                   limit: int = 500) -> list[dict[str, Any]]:
    """The latest transfers (of ``agencies`` when given), newest first."""
    query = (select(Transfer, Agency.code).join(Agency, Agency.id == Transfer.agency_id)
             .order_by(Transfer.transferred_at.desc(), Transfer.id.desc()).limit(limit))
    if agencies is not None:
        query = query.where(Transfer.agency_id.in_(sorted(agencies)))
    return [_as_dict(t, code) for t, code in session.execute(query)]


__all__ = ["BUDGET_ACCOUNTS_ENV", "DebitImport", "budget_accounts", "import_debits",
           "list_transfers", "parse_moment", "record_transfer", "set_transfer_account"]
