"""Agencies: the collecting units and their bank accounts."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.audit import chain as audit
from recon.clock import Clock
from recon.errors import Conflict, FieldError, ValidationError
from recon.models import Agency
from recon.scope import ALL, Scope, agency_condition
from recon.vietqr.banks import lookup

_ACCOUNT = re.compile(r"[A-Za-z0-9]{1,19}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,39}")


def create_agency(session: Session, clock: Clock, *, code: str, name: str, bank_bin: str,
                  account_number: str, account_name: str, actor: str) -> Agency:
    errors: list[FieldError] = []
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
                    created_at=clock.now())
    session.add(agency)
    session.flush()
    audit.record(session, clock, actor=actor, action="agency.created", entity_type="agency",
                 entity_id=code, data={"bin": bank_bin, "account": account_number,
                                       "account_name": agency.account_name})
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
