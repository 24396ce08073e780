"""Dossier intake: validate what the one-stop software sends, then create or update a dossier.

Idempotent on the dossier code: the same body changes nothing; changed fees replace the fee
lines and are audited; the fees of a dossier that already has payments are never rewritten
unless the caller says ``reassess`` explicitly (and that is audited too).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, selectinload

from recon.audit import chain as audit
from recon.clock import Clock, as_utc
from recon.engine.deposits import DepositRule, parse_rule, rule_of
from recon.errors import Conflict, FieldError, NotFound, ValidationError
from recon.models import Agency, Dossier, FeeLine, Payment, PaymentAllocation, Procedure
from recon.models.dossiers import FEE_KINDS, RECEIVED_CHANNELS, fold_name
from recon.money import MoneyError, parse_vnd
from recon.periods import closed_period, ensure_open
from recon.scope import ALL, Scope, agency_condition
from recon.text_safety import text_problem

CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/\-]{0,63}")
REQUIRED = ("code", "agency_code", "procedure_code", "procedure_name", "applicant_name",
            "received_at", "fees")


@dataclass(frozen=True, slots=True)
class FeeInput:
    kind: str
    name: str
    amount: int
    # issue 18 §1: optional; see docs/treasury.md
    retention_bp: int | None = None
    budget_code: str | None = None
    collector_code: str | None = None
    # how often a phí is deposited into the collector's fee-pending account (docs/treasury.md)
    deposit_period: str | None = None
    deposit_due_days: int | None = None


@dataclass(frozen=True, slots=True)
class DossierInput:
    code: str
    agency_code: str
    procedure_code: str
    procedure_name: str
    applicant_name: str
    received_at: datetime
    fees: tuple[FeeInput, ...]
    received_channel: str = "counter"
    procedure_field: str | None = None

    @property
    def total_assessed(self) -> int:
        return sum(f.amount for f in self.fees)

    @property
    def applicant_name_folded(self) -> str:
        """What the desk's unaccented search compares (written as is by the bulk importer;
        the model keeps it on every ORM create and update)."""
        return fold_name(self.applicant_name)


def _text(obj: Mapping[str, Any], key: str, errors: list[FieldError], line: int | None,
          *, max_len: int, required: bool = True) -> str:
    value = obj.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append(FieldError(key, "is required", line))
        return ""
    if not isinstance(value, str):
        errors.append(FieldError(key, f"must be text, got {type(value).__name__}", line))
        return ""
    if problem := text_problem(value):
        errors.append(FieldError(key, problem, line))
        return ""
    value = value.strip()
    if len(value) > max_len:
        errors.append(FieldError(key, f"is longer than {max_len} characters", line))
    return value


def parse_datetime(value: object) -> datetime:
    """ISO 8601; a value without an offset is Vietnam time. Raises ValueError saying why."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be an ISO 8601 date-time, e.g. 2021-04-01T08:30:00+07:00")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"is not an ISO 8601 date-time: {value!r} (e.g. 2021-04-01T08:30:00+07:00)"
        ) from None
    return as_utc(parsed)


def _fees(raw: object, errors: list[FieldError], line: int | None,
          amounts_as_text: bool) -> tuple[FeeInput, ...]:
    if not isinstance(raw, list):
        errors.append(FieldError("fees", "must be a list of fee lines (may be empty)", line))
        return ()
    fees: list[FeeInput] = []
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(raw):
        where = f"fees[{i}]"
        if not isinstance(item, dict):
            errors.append(FieldError(where, "must be an object with kind, name, amount", line))
            continue
        kind = item.get("kind")
        if kind not in FEE_KINDS:
            errors.append(FieldError(f"{where}.kind", "must be 'phi' or 'le_phi'", line))
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 255:
            errors.append(FieldError(f"{where}.name", "must be text of 1–255 characters", line))
            name = ""
        elif problem := text_problem(name):
            errors.append(FieldError(f"{where}.name", problem, line))
            name = ""
        amount_raw = item.get("amount")
        amount = 0
        if isinstance(amount_raw, str) and not amounts_as_text:
            errors.append(FieldError(f"{where}.amount", "must be a JSON integer number of VND, "
                                     f"not the text {amount_raw!r}", line))
        else:
            try:
                amount = parse_vnd(amount_raw, allow_zero=False)
            except MoneyError as exc:
                errors.append(FieldError(f"{where}.amount", str(exc), line))
        retention, budget, collector = _shares(item, str(kind), where, errors, line,
                                               amounts_as_text)
        rule = _deposit_rule(item, str(kind), where, errors, line)
        key = (str(kind), str(name).strip())
        if key in seen:
            errors.append(FieldError(where, f"duplicate fee line {kind} {name!r}: list each fee "
                                     "once", line))
        seen.add(key)
        # fee names, kinds and procedure names repeat across a file: share one string each
        fees.append(FeeInput(sys.intern(str(kind)), sys.intern(str(name).strip()), amount,
                             retention, budget, collector,
                             rule.period if rule else None, rule.due_days if rule else None))
    return tuple(fees)


BUDGET_CODE_PATTERN = re.compile(r"[0-9]{4}")
MAX_BP = 10_000


def _shares(item: Mapping[str, Any], kind: str, where: str, errors: list[FieldError],
            line: int | None, as_text: bool) -> tuple[int | None, str | None, str | None]:
    """A fee line's optional ``retention_bp`` (phí only: the retained share in basis points,
    0..10000), ``budget_code`` (the tiểu mục, 4 digits) and ``collector_code`` (the agency
    collecting it, when not the dossier's)."""
    retention: int | None = None
    raw = item.get("retention_bp")
    if isinstance(raw, str) and as_text and raw.strip():
        raw = int(raw.strip()) if raw.strip().isdigit() else raw
    elif isinstance(raw, str) and as_text:
        raw = None
    if raw is not None:
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_BP:
            errors.append(FieldError(f"{where}.retention_bp", "must be a whole number of basis "
                                     "points from 0 to 10000 (5000 = 50 %)", line))
        elif kind == "le_phi" and raw:
            errors.append(FieldError(f"{where}.retention_bp", "a lệ phí is remitted in full: "
                                     "leave retention_bp out or give 0", line))
        else:
            retention = raw
    budget = item.get("budget_code")
    if budget is not None and not (isinstance(budget, str) and budget.strip() == ""):
        if not isinstance(budget, str) or not BUDGET_CODE_PATTERN.fullmatch(budget.strip()):
            errors.append(FieldError(f"{where}.budget_code", "must be the 4-digit tiểu mục of "
                                     "the budget index, e.g. 2716", line))
            budget = None
        else:
            budget = sys.intern(budget.strip())
    else:
        budget = None
    collector = item.get("collector_code")
    if collector is not None and not (isinstance(collector, str) and collector.strip() == ""):
        if (not isinstance(collector, str) or len(collector.strip()) > 40
                or text_problem(collector)):
            errors.append(FieldError(f"{where}.collector_code", "must be an agency code of at "
                                     "most 40 characters", line))
            collector = None
        else:
            collector = sys.intern(collector.strip())
    else:
        collector = None
    return retention, budget, collector


def _deposit_rule(item: Mapping[str, Any], kind: str, where: str, errors: list[FieldError],
                  line: int | None) -> DepositRule | None:
    """A fee line's optional ``deposit_rule`` (phí only): ``month:5``, ``week:thu``, ``day:1``
    (:func:`recon.engine.deposits.parse_rule`)."""
    raw = item.get("deposit_rule")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        errors.append(FieldError(f"{where}.deposit_rule", "must be text such as month:5, "
                                 "week:thu or day:1", line))
        return None
    if kind != "phi":
        errors.append(FieldError(f"{where}.deposit_rule", "only a phí is deposited into the "
                                 "fee account awaiting budget remittance: leave it out for a "
                                 "lệ phí", line))
        return None
    try:
        return parse_rule(raw)
    except ValueError as exc:
        errors.append(FieldError(f"{where}.deposit_rule", str(exc), line))
        return None


def parse_dossier(obj: object, *, line: int | None = None,
                  amounts_as_text: bool = False) -> DossierInput:
    """Validate one dossier; raise ValidationError listing every problem found."""
    if not isinstance(obj, dict):
        raise ValidationError(FieldError("dossier", "must be a JSON object", line))
    errors: list[FieldError] = []
    for key in REQUIRED:
        if key not in obj:
            errors.append(FieldError(key, "is required", line))
    code = _text(obj, "code", errors, line, max_len=64) if "code" in obj else ""
    if code and not CODE_PATTERN.fullmatch(code):
        errors.append(FieldError("code", "may hold letters, digits, '.', '-', '_' and '/' only",
                                 line))
    agency_code = _text(obj, "agency_code", errors, line, max_len=40) if "agency_code" in obj \
        else ""
    procedure_code = _text(obj, "procedure_code", errors, line, max_len=40) \
        if "procedure_code" in obj else ""
    procedure_name = _text(obj, "procedure_name", errors, line, max_len=500) \
        if "procedure_name" in obj else ""
    applicant = _text(obj, "applicant_name", errors, line, max_len=255) \
        if "applicant_name" in obj else ""
    field = _text(obj, "procedure_field", errors, line, max_len=255, required=False)
    channel = obj.get("received_channel") or "counter"
    if channel not in RECEIVED_CHANNELS:
        errors.append(FieldError("received_channel", "must be one of "
                                 + ", ".join(RECEIVED_CHANNELS), line))
    received_at = None
    if "received_at" in obj:
        try:
            received_at = parse_datetime(obj["received_at"])
        except ValueError as exc:
            errors.append(FieldError("received_at", str(exc), line))
    fees = _fees(obj.get("fees"), errors, line, amounts_as_text) if "fees" in obj else ()
    if errors or received_at is None:
        raise ValidationError(errors)
    return DossierInput(code=code, agency_code=sys.intern(agency_code),
                        procedure_code=sys.intern(procedure_code),
                        procedure_name=sys.intern(procedure_name), applicant_name=applicant,
                        received_at=received_at, fees=fees, received_channel=str(channel),
                        procedure_field=field or None)


def fee_tuples(fees: Sequence[FeeInput] | Sequence[FeeLine]) -> list[tuple[str, str, int]]:
    return sorted((f.kind, f.name, f.amount) for f in fees)


def share_tuples(fees: Sequence[FeeInput] | Sequence[FeeLine]
                 ) -> list[tuple[str, str, int | None, str | None, str | None, str]]:
    """What issue 18 adds to a fee line: who collects it, what it keeps, its tiểu mục, its
    deposit rule."""
    return sorted((f.kind, f.name, f.retention_bp, f.budget_code, f.collector_code,
                   _rule_text(f.deposit_period, f.deposit_due_days)) for f in fees)


def _rule_text(period: str | None, due_days: int | None) -> str:
    rule = rule_of(period, due_days)
    return rule.text() if rule else ""


def dossier_as_dict(dossier: Dossier, paid: int | None = None) -> dict[str, Any]:
    total = dossier.total_assessed
    out: dict[str, Any] = {
        "code": dossier.code,
        "agency_code": dossier.agency.code,
        "procedure_code": dossier.procedure.code,
        "procedure_name": dossier.procedure.name,
        "procedure_field": dossier.procedure.field,
        "applicant_name": dossier.applicant_name,
        "received_at": dossier.received_at.isoformat(),
        "received_channel": dossier.received_channel,
        "status": dossier.status,
        "fees": [{"kind": f.kind, "name": f.name, "amount": f.amount,
                  "retention_bp": f.retention_bp, "budget_code": f.budget_code,
                  "collector_code": f.collector_code,
                  "deposit_rule": _rule_text(f.deposit_period, f.deposit_due_days) or None}
                 for f in dossier.fee_lines],
        "total_assessed": total,
    }
    if paid is not None:
        out["total_paid"] = paid
        out["outstanding"] = max(total - paid, 0)
        out["payment_status"] = payment_status(total, paid)
    return out


def payment_status(total: int, paid: int) -> str:
    if total == 0:
        return "no_fee"
    if paid == 0:
        return "unpaid"
    if paid < total:
        return "partially_paid"
    return "paid" if paid == total else "overpaid"


def paid_amount(session: Session, dossier_id: int) -> int:
    """What a dossier has been paid: its succeeded payments and its shares of succeeded
    transfers split across several dossiers (``payment_allocations``)."""
    return paid_amounts(session, [dossier_id]).get(dossier_id, 0)


def paid_amounts(session: Session, dossier_ids: Sequence[int]) -> dict[int, int]:
    """:func:`paid_amount` of each of ``dossier_ids`` in one query per source (a dossier nobody
    paid is left out)."""
    if not dossier_ids:
        return {}
    out: dict[int, int] = {}
    direct = (select(Payment.dossier_id, func.sum(Payment.amount))
              .where(Payment.dossier_id.in_(dossier_ids), Payment.status == "succeeded")
              .group_by(Payment.dossier_id))
    shares = (select(PaymentAllocation.dossier_id, func.sum(PaymentAllocation.amount))
              .join(Payment, Payment.id == PaymentAllocation.payment_id)
              .where(PaymentAllocation.dossier_id.in_(dossier_ids),
                     Payment.status == "succeeded")
              .group_by(PaymentAllocation.dossier_id))
    for stmt in (direct, shares):
        for dossier_id, total in session.execute(stmt).all():
            if dossier_id is not None:
                out[dossier_id] = out.get(dossier_id, 0) + int(total or 0)
    return out


def paid_expression(dossier_id: Any) -> Any:
    """SQL for what the dossier ``dossier_id`` (a column) has been paid, as
    :func:`paid_amount` counts it, for queries that filter or sort on it."""
    direct = (select(func.coalesce(func.sum(Payment.amount), 0))
              .where(Payment.dossier_id == dossier_id, Payment.status == "succeeded")
              .scalar_subquery())
    shares = (select(func.coalesce(func.sum(PaymentAllocation.amount), 0))
              .join(Payment, Payment.id == PaymentAllocation.payment_id)
              .where(PaymentAllocation.dossier_id == dossier_id, Payment.status == "succeeded")
              .scalar_subquery())
    return direct + shares


def find_dossier(session: Session, code: str, scope: Scope = ALL) -> Dossier | None:
    """The dossier with this code, its fee lines loaded; None when there is none in
    ``scope``."""
    return session.execute(
        select(Dossier).where(Dossier.code == code, agency_condition(Dossier.agency_id, scope))
        .options(selectinload(Dossier.fee_lines))
    ).scalar_one_or_none()


@dataclass(frozen=True)
class DossierFilters:
    """What a dossier listing may be narrowed by (each None: not narrowed)."""

    agency_code: str | None = None
    procedure_code: str | None = None
    received_from: datetime | None = None  # inclusive
    received_to: datetime | None = None  # exclusive
    code_prefix: str | None = None
    #: the caller's agencies (issue 16)
    scope: Scope = ALL


def list_dossiers(session: Session, filters: DossierFilters, *, after: int,
                  limit: int) -> list[Dossier]:
    """Up to ``limit`` dossiers with an id above ``after``, by id, fee lines loaded."""
    conditions = [Dossier.id > after, agency_condition(Dossier.agency_id, filters.scope)]
    if filters.agency_code:
        conditions.append(Dossier.agency_id.in_(
            select(Agency.id).where(Agency.code == filters.agency_code)))
    if filters.procedure_code:
        conditions.append(Dossier.procedure_id.in_(
            select(Procedure.id).where(Procedure.code == filters.procedure_code)))
    if filters.received_from:
        conditions.append(Dossier.received_at >= filters.received_from)
    if filters.received_to:
        conditions.append(Dossier.received_at < filters.received_to)
    if filters.code_prefix:
        conditions.append(Dossier.code.startswith(filters.code_prefix, autoescape=True))
    return list(session.execute(
        select(Dossier).where(and_(*conditions)).order_by(Dossier.id).limit(limit)
        .options(selectinload(Dossier.fee_lines))
    ).scalars().all())


def resolve_agency(session: Session, code: str, scope: Scope = ALL) -> Agency:
    """The agency ``code`` names; one out of ``scope`` is as unknown as one that is not."""
    agency = session.execute(select(Agency).where(Agency.code == code)).scalar_one_or_none()
    if agency is None or not scope.allows(agency.id):
        raise ValidationError(FieldError("agency_code", f"unknown agency {code!r}"),
                              hint="Create it first: recon agencies create CODE --name ... "
                              "--bin ... --account ... --account-name ...")
    return agency


def _check_collectors(session: Session, inp: DossierInput) -> None:
    """Every fee's collector, when named, is an agency (issue 18 §1)."""
    named = {f.collector_code for f in inp.fees if f.collector_code is not None}
    if not named:
        return
    known = set(session.scalars(select(Agency.code).where(Agency.code.in_(named))))
    errors = [FieldError(f"fees[{i}].collector_code", f"unknown agency {f.collector_code!r}")
              for i, f in enumerate(inp.fees)
              if f.collector_code is not None and f.collector_code not in known]
    if errors:
        raise ValidationError(errors, hint="Name the collecting agency by its code (GET "
                              "/api/v1/agencies), or leave collector_code out when the "
                              "dossier's agency collects the fee.")


def resolve_procedure(session: Session, clock: Clock, inp: DossierInput) -> Procedure:
    procedure = session.execute(
        select(Procedure).where(Procedure.code == inp.procedure_code)
    ).scalar_one_or_none()
    if procedure is None:
        procedure = Procedure(code=inp.procedure_code, name=inp.procedure_name,
                              field=inp.procedure_field, created_at=clock.now())
        session.add(procedure)
        session.flush()
    elif inp.procedure_field and not procedure.field:
        procedure.field = inp.procedure_field
    return procedure


def upsert_dossier(session: Session, clock: Clock, inp: DossierInput, *, actor: str,
                   reassess: bool = False, scope: Scope = ALL) -> tuple[Dossier, str]:
    """Create or update one dossier. Returns it and "created" | "updated" | "unchanged".
    Only for an agency of ``scope``; a dossier of another agency is not found (404)."""
    existing = session.execute(
        select(Dossier).where(Dossier.code == inp.code)
    ).unique().scalar_one_or_none()
    if existing is not None and not scope.allows(existing.agency_id):
        raise NotFound(f"no dossier with code {inp.code!r} in your agencies",
                       hint="Check the code; this token may send dossiers of its agencies only.")
    agency = resolve_agency(session, inp.agency_code, scope)
    _check_collectors(session, inp)
    if existing is None:
        ensure_open(session, inp.received_at, agency.id, f"dossier {inp.code}")
        return _create(session, clock, inp, agency, actor), "created"
    if existing.agency_id != agency.id:
        raise Conflict(
            f"dossier {inp.code} already belongs to agency {existing.agency.code}, "
            f"not {inp.agency_code}",
            hint="A dossier code is unique across the province: check the code and agency.")
    return existing, _update(session, clock, existing, inp, actor, reassess)


def _create(session: Session, clock: Clock, inp: DossierInput, agency: Agency,
            actor: str) -> Dossier:
    procedure = resolve_procedure(session, clock, inp)
    now = clock.now()
    dossier = Dossier(code=inp.code, agency_id=agency.id, procedure_id=procedure.id,
                      applicant_name=inp.applicant_name, received_at=inp.received_at,
                      received_channel=inp.received_channel, created_at=now, updated_at=now)
    dossier.fee_lines = [_fee_line(i, f) for i, f in enumerate(inp.fees)]
    session.add(dossier)
    session.flush()
    audit.record(session, clock, actor=actor, action="dossier.created", entity_type="dossier",
                 entity_id=inp.code, data={"fees": fee_tuples(inp.fees),
                                           "total_assessed": inp.total_assessed})
    return dossier


def _fee_line(position: int, fee: FeeInput) -> FeeLine:
    return FeeLine(position=position, kind=fee.kind, name=fee.name, amount=fee.amount,
                   retention_bp=fee.retention_bp, budget_code=fee.budget_code,
                   collector_code=fee.collector_code, deposit_period=fee.deposit_period,
                   deposit_due_days=fee.deposit_due_days)


def _update(session: Session, clock: Clock, dossier: Dossier, inp: DossierInput, actor: str,
            reassess: bool) -> str:
    changed: dict[str, Any] = {}
    procedure = resolve_procedure(session, clock, inp)
    simple = {
        "procedure_id": procedure.id,
        "applicant_name": inp.applicant_name,
        "received_at": inp.received_at,
        "received_channel": inp.received_channel,
    }
    if any(getattr(dossier, k) != v for k, v in simple.items()):
        # a closed month's dossier is read-only; only its fees may still change (below)
        ensure_open(session, dossier.received_at, dossier.agency_id, f"dossier {dossier.code}")
        ensure_open(session, inp.received_at, dossier.agency_id, f"dossier {dossier.code}")
    for key, value in simple.items():
        if getattr(dossier, key) != value:
            changed[key] = {"from": str(getattr(dossier, key)), "to": str(value)}
            setattr(dossier, key, value)
    old_fees = fee_tuples(dossier.fee_lines)
    new_fees = fee_tuples(inp.fees)
    if old_fees != new_fees:
        paid = paid_amount(session, dossier.id)
        if paid and not reassess:
            raise Conflict(
                f"dossier {dossier.code} already has payments ({paid} VND); its fees are not "
                "rewritten silently",
                hint='To reassess anyway, send the same body with "reassess": true; the change '
                     "is audited and reconciliation will report any difference.")
        # a late reassessment of a closed month's dossier is kept: the closed month's findings
        # and snapshot stay as they are, and the next run reports the difference in the
        # current open month (late_for_closed_period, recon.engine.closed)
        late = closed_period(session, dossier.received_at, dossier.agency_id)
        dossier.fee_lines.clear()
        session.flush()
        dossier.fee_lines.extend(_fee_line(i, f) for i, f in enumerate(inp.fees))
        audit.record(session, clock, actor=actor, action="dossier.fees_reassessed",
                     entity_type="dossier", entity_id=dossier.code,
                     data={"from": old_fees, "to": new_fees, "paid_before": paid,
                           "explicit_reassess": reassess,
                           **({"closed_month": f"{late.month:%Y-%m}"} if late else {})})
    elif share_tuples(dossier.fee_lines) != share_tuples(inp.fees):
        # the same amounts, new shares (who collects, what is kept, the tiểu mục): what the
        # citizen owes is unchanged, so the lines are updated in place, even after payments
        by_key = {(f.kind, f.name): f for f in inp.fees}
        changed["fee_shares"] = {"from": share_tuples(dossier.fee_lines),
                                 "to": share_tuples(inp.fees)}
        for fee_line in dossier.fee_lines:
            new = by_key[(fee_line.kind, fee_line.name)]
            fee_line.retention_bp = new.retention_bp
            fee_line.budget_code = new.budget_code
            fee_line.collector_code = new.collector_code
            fee_line.deposit_period = new.deposit_period
            fee_line.deposit_due_days = new.deposit_due_days
    if not changed and old_fees == new_fees:
        return "unchanged"
    dossier.updated_at = clock.now()
    if changed:
        audit.record(session, clock, actor=actor, action="dossier.updated",
                     entity_type="dossier", entity_id=dossier.code, data=changed)
    session.flush()
    return "updated"
