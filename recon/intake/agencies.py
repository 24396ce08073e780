"""Agencies: the collecting units and their bank accounts."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.audit import chain as audit
from recon.clock import Clock
from recon.errors import Conflict, FieldError, NotFound, ValidationError
from recon.models import Agency
from recon.scope import ALL, Scope, agency_condition
from recon.vietqr.banks import lookup

_ACCOUNT = re.compile(r"[A-Za-z0-9]{1,19}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,39}")
# a Vietnamese tax code (MST): 10 digits, or 10-3 for a dependent unit (branch)
_TAX_CODE = re.compile(r"[0-9]{10}(-[0-9]{3})?")


def clean_tax_code(raw: str | None) -> str | None:
    """An MST as stored (spaces removed), None for empty; ``ValidationError`` otherwise."""
    text = (raw or "").replace(" ", "").strip()
    if not text:
        return None
    if not _TAX_CODE.fullmatch(text):
        raise ValidationError(FieldError("tax_code", f"{raw!r} is not a tax code (MST): write "
                                         "10 digits, or 10-3 for a dependent unit, e.g. "
                                         "0101234567 or 0101234567-001"))
    return text


def set_tax_code(session: Session, clock: Clock, *, code: str, tax_code: str | None,
                 actor: str) -> Agency:
    """An agency's MST as it issues e-receipts (None clears it: it issues under
    RECON_RECEIPT_TAX_CODE); audited. Its receipts from now on are numbered under it."""
    value = clean_tax_code(tax_code)
    agency = session.scalars(select(Agency).where(Agency.code == code)).first()
    if agency is None:
        raise NotFound(f"no agency has the code {code!r}",
                       hint="`recon agencies list` shows the codes. Nothing changed.")
    before = agency.tax_code
    agency.tax_code = value
    session.flush()
    audit.record(session, clock, actor=actor, action="agency.tax_code", entity_type="agency",
                 entity_id=code, data={"before": before, "after": value})
    return agency


def create_agency(session: Session, clock: Clock, *, code: str, name: str, bank_bin: str,
                  account_number: str, account_name: str, actor: str,
                  tax_code: str | None = None) -> Agency:
    errors: list[FieldError] = []
    try:
        tax_code = clean_tax_code(tax_code)
    except ValidationError as exc:
        errors.extend(exc.errors)
    if not _CODE.fullmatch(code):
        errors.append(FieldError("code", "use 1–40 letters, digits, '.', '_' or '-'"))
    if not name.strip():
        errors.append(FieldError("name", "is required"))
    if lookup(bank_bin) is None:
        errors.append(FieldError("bin", f"{bank_bin!r} is not a known bank BIN "
                                 "(see `recon vietqr banks`)"))
    if not _ACCOUNT.fullmatch(account_number):
        errors.append(FieldError("account", "must be 1–19 letters or digits, no spaces"))
    if not account_name.strip() or len(account_name) > 100:
        errors.append(FieldError("account_name", "must be 1–100 characters"))
    if errors:
        raise ValidationError(errors)
    if session.execute(select(Agency.id).where(Agency.code == code)).first():
        raise Conflict(f"agency {code!r} already exists",
                       hint="Use another code; agencies are never silently overwritten.")
    agency = Agency(code=code, name=name.strip(), bank_bin=bank_bin,
                    account_number=account_number, account_name=account_name.strip().upper(),
                    tax_code=tax_code, created_at=clock.now())
    session.add(agency)
    session.flush()
    audit.record(session, clock, actor=actor, action="agency.created", entity_type="agency",
                 entity_id=code, data={"bin": bank_bin, "account": account_number,
                                       "account_name": agency.account_name,
                                       "tax_code": tax_code})
    return agency


def list_agencies(session: Session, scope: Scope = ALL) -> list[Agency]:
    """Every agency of ``scope``, by code."""
    return list(session.execute(select(Agency).where(agency_condition(Agency.id, scope))
                                .order_by(Agency.code)).scalars().all())


def agency_names(session: Session, scope: Scope = ALL) -> list[tuple[str, str]]:
    """(code, name) of every agency of ``scope``, by code (for a filter's choices)."""
    return [(code, name) for code, name in session.execute(
        select(Agency.code, Agency.name).where(agency_condition(Agency.id, scope))
        .order_by(Agency.code))]
