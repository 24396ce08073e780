"""What finance staff do to a discrepancy: resolve, propose and approve, assign, reopen.

Every action is one function here; each takes the row lock, checks the state it expects, makes
the change and appends its audit event in the caller's transaction (so the change and its
record commit together or not at all). Views call these and nothing else writes a discrepancy
by hand (the reconciliation runner writes what runs find).

Four ways to resolve (:data:`RESOLUTION_TYPES`). ``refunded_to_citizen`` and
``provider_corrected`` take effect at once. ``matched_manually`` (the money belongs to a dossier
a person names) and ``written_off`` (the difference is accepted as a loss or gain) move money
on paper, so they need two people: :func:`resolve` records a *proposal*, and another finance
user :func:`approve`\\ s it (maker ≠ checker; the proposer may only withdraw it with
:func:`reject`). Maker ≠ checker compares *people*, never credentials (issue 16): an API
token acts as the person it belongs to, so ``user:ketoan`` cannot approve with a token of
ketoan's what ketoan proposed; a token that belongs to nobody may neither propose nor approve
(:func:`four_eyes_person`). Approving a manual match of a payment that had no dossier attaches
the payment to that dossier (``payments.dossier_id``, and ``updated_at`` so the next run sees it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.audit import chain as audit
from recon.audit.four_eyes import (
    check_second_person,
    four_eyes_person,
    proposer_person,
)
from recon.clock import Clock
from recon.errors import Conflict, FieldError, NotFound, ValidationError
from recon.models import Discrepancy, Dossier, Payment, User
from recon.periods import ensure_discrepancy_open
from recon.scope import ALL, Scope, agency_condition, discrepancy_visible

RESOLUTION_TYPES: Final = ("refunded_to_citizen", "provider_corrected", "matched_manually",
                           "written_off")
NEEDS_APPROVAL: Final = frozenset({"matched_manually", "written_off"})
MAX_NOTE: Final = 2000
ASSIGNABLE_ROLES: Final = ("finance", "admin")

Outcome = Literal["resolved", "proposed", "approved", "rejected", "assigned", "reopened"]


class ReviewError(Conflict):
    """An action that does not fit the discrepancy's state; ``reason`` is a stable key the
    page turns into words."""

    code = "review_conflict"

    def __init__(self, reason: str, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason



@dataclass(frozen=True)
class ActionResult:
    discrepancy: Discrepancy
    outcome: Outcome
    event_id: int


def _lock(session: Session, discrepancy_id: int, scope: Scope = ALL) -> Discrepancy:
    stmt = (select(Discrepancy).where(Discrepancy.id == discrepancy_id)
            .execution_options(populate_existing=True))  # never act on a stale copy
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None or not discrepancy_visible(session, discrepancy_id, scope):
        # out of the caller's agencies: exactly as if it did not exist (issue 16)
        raise NotFound(f"discrepancy {discrepancy_id} does not exist",
                       hint="It may have been removed; go back to the queue.")
    ensure_discrepancy_open(session, row)  # a closed month's findings are read-only
    return row


def _note(note: object, *, required: bool = True) -> str | None:
    text = note.strip() if isinstance(note, str) else ""
    if not text:
        if required:
            raise ValidationError(FieldError("note", "write what was done and why"),
                                  hint="A note is required: it is what an auditor reads.")
        return None
    if len(text) > MAX_NOTE:
        raise ValidationError(FieldError("note", f"at most {MAX_NOTE} characters"))
    return text


def _type(value: object) -> str:
    if value not in RESOLUTION_TYPES:
        raise ValidationError(FieldError(
            "resolution_type", f"must be one of {', '.join(RESOLUTION_TYPES)}"))
    return str(value)


def _require_open(d: Discrepancy) -> None:
    if d.status != "open":
        raise ReviewError("not_open", f"discrepancy {d.id} is {d.status}, not open",
                          "Reopen it first if it needs more work.")


def _snapshot(d: Discrepancy) -> dict[str, Any]:
    return {"identity": d.identity, "kind": d.kind, "status": d.status,
            "expected": d.expected_amount, "actual": d.actual_amount, "delta": d.delta}


def resolve(session: Session, clock: Clock, discrepancy_id: int, *, actor: str, scope: Scope = ALL,
            resolution_type: object, note: object,
            dossier_code: object = None, person: str | None = None) -> ActionResult:
    """Resolve at once, or (for :data:`NEEDS_APPROVAL` types) record a proposal; ``person``
    is who answers for ``actor`` (see :func:`four_eyes_person`)."""
    kind = _type(resolution_type)
    text = _note(note)
    maker = four_eyes_person(actor, person) if kind in NEEDS_APPROVAL else None
    d = _lock(session, discrepancy_id, scope)
    _require_open(d)
    if d.proposed_by is not None:
        raise ReviewError("pending", f"discrepancy {d.id} has a proposal waiting for approval",
                          "Approve or reject the proposal first.")
    now = clock.now()
    if kind in NEEDS_APPROVAL:
        data: dict[str, Any] = {**_snapshot(d), "resolution_type": kind, "note": text}
        if kind == "matched_manually":
            code = dossier_code.strip() if isinstance(dossier_code, str) else ""
            if not code:
                raise ValidationError(FieldError("dossier_code", "name the dossier the money "
                                                 "belongs to"))
            dossier = session.scalars(select(Dossier).where(
                Dossier.code == code, agency_condition(Dossier.agency_id, scope))).first()
            if dossier is None:
                raise ValidationError(FieldError("dossier_code", f"no dossier has the code "
                                                 f"{code}"))
            data["dossier_id"] = dossier.id
            data["dossier_code"] = dossier.code
        d.proposed_resolution_type = kind
        d.proposed_note = text
        d.proposed_by = actor
        d.proposed_by_person = maker
        d.proposed_at = now
        d.updated_at = now
        if maker != actor:
            data["person"] = maker
        event = audit.record(session, clock, actor=actor,
                             action="discrepancy.resolution_proposed",
                             entity_type="discrepancy", entity_id=d.id, data=data)
        return ActionResult(d, "proposed", event.id)
    d.status = "resolved"
    d.resolution_type = kind
    d.resolution_note = text
    d.resolved_by = actor
    d.resolved_at = now
    d.updated_at = now
    event = audit.record(session, clock, actor=actor, action="discrepancy.resolved",
                         entity_type="discrepancy", entity_id=d.id,
                         data={**_snapshot(d), "resolution_type": kind, "note": text})
    return ActionResult(d, "resolved", event.id)


def approve(session: Session, clock: Clock, discrepancy_id: int, *, actor: str, scope: Scope = ALL,
            note: object = None, person: str | None = None) -> ActionResult:
    """Apply a pending proposal; the person behind ``actor`` must not be its proposer."""
    from recon.review.workbench import latest_proposal  # noqa: PLC0415 - workbench reads, we write

    comment = _note(note, required=False)
    checker = four_eyes_person(actor, person)
    d = _lock(session, discrepancy_id, scope)
    _require_open(d)
    if d.proposed_by is None or d.proposed_resolution_type is None:
        raise ReviewError("no_proposal", f"discrepancy {d.id} has no proposal to approve",
                          "Reload the page: it may have been approved or withdrawn.")
    check_second_person(d.proposed_by, d.proposed_by_person, checker)
    now = clock.now()
    proposal = latest_proposal(session, d.id) or {}
    data: dict[str, Any] = {**_snapshot(d), "resolution_type": d.proposed_resolution_type,
                            "proposed_by": d.proposed_by, "note": d.proposed_note,
                            "approval_note": comment}
    if d.proposed_by_person and d.proposed_by_person != d.proposed_by:
        data["proposed_by_person"] = d.proposed_by_person
    if checker != actor:
        data["person"] = checker
    if d.proposed_resolution_type == "matched_manually":
        target = proposal.get("dossier_id")
        data["dossier_id"] = target
        data["dossier_code"] = proposal.get("dossier_code")
        payment = session.get(Payment, d.payment_id) if d.payment_id else None
        if target and payment is not None and payment.dossier_id is None:
            payment.dossier_id = int(target)
            payment.updated_at = now
            audit.record(session, clock, actor=actor, action="payment.matched_manually",
                         entity_type="payment", entity_id=payment.id,
                         data={"dossier_id": int(target),
                               "dossier_code": proposal.get("dossier_code"),
                               "discrepancy_id": d.id, "proposed_by": d.proposed_by})
            data["payment_attached"] = payment.id
    d.status = "resolved"
    d.resolution_type = d.proposed_resolution_type
    note_text = d.proposed_note or ""
    if data.get("dossier_code"):
        note_text = f"{note_text} [→ {data['dossier_code']}]"
    if comment:
        note_text = f"{note_text} — {comment}"
    d.resolution_note = note_text[:MAX_NOTE + 200]
    d.resolved_by = actor
    d.resolved_at = now
    d.updated_at = now
    event = audit.record(session, clock, actor=actor, action="discrepancy.resolution_approved",
                         entity_type="discrepancy", entity_id=d.id, data=data)
    return ActionResult(d, "approved", event.id)


def reject(session: Session, clock: Clock, discrepancy_id: int, *, actor: str, scope: Scope = ALL,
           note: object = None, person: str | None = None) -> ActionResult:
    """Turn down (or, by its proposer, withdraw) a pending proposal; the discrepancy stays
    open."""
    comment = _note(note, required=False)
    d = _lock(session, discrepancy_id, scope)
    _require_open(d)
    if d.proposed_by is None:
        raise ReviewError("no_proposal", f"discrepancy {d.id} has no proposal to reject",
                          "Reload the page: it may have been approved or withdrawn.")
    data = {**_snapshot(d), "proposed_resolution_type": d.proposed_resolution_type,
            "proposed_by": d.proposed_by, "proposed_note": d.proposed_note, "note": comment,
            "withdrawn": _withdrawn(d, actor, person)}
    _clear_proposal(d)
    d.updated_at = clock.now()
    event = audit.record(session, clock, actor=actor, action="discrepancy.resolution_rejected",
                         entity_type="discrepancy", entity_id=d.id, data=data)
    return ActionResult(d, "rejected", event.id)


def _withdrawn(d: Discrepancy, actor: str, person: str | None) -> bool:
    """Whether the proposal's own maker (the same credential or the same person) drops it."""
    if d.proposed_by == actor:
        return True
    maker = proposer_person(d.proposed_by, d.proposed_by_person)
    who = person or (actor if actor.startswith("user:") else None)
    return maker is not None and maker == who


def _clear_proposal(d: Discrepancy) -> None:
    """No resolution is proposed any more (rejected, withdrawn, or the case reopened)."""
    d.proposed_resolution_type = None
    d.proposed_note = None
    d.proposed_by = None
    d.proposed_by_person = None
    d.proposed_at = None


def assign(session: Session, clock: Clock, discrepancy_id: int, *, actor: str, scope: Scope = ALL,
           user_id: int | None) -> ActionResult:
    """Give the discrepancy to a finance user (``None``: to nobody)."""
    username = None
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or not user.active or user.role not in ASSIGNABLE_ROLES:
            raise ValidationError(FieldError("user_id", "choose an active finance user"))
        username = user.username
    d = _lock(session, discrepancy_id, scope)
    previous = d.assigned_to_id
    d.assigned_to_id = user_id
    d.updated_at = clock.now()
    event = audit.record(session, clock, actor=actor, action="discrepancy.assigned",
                         entity_type="discrepancy", entity_id=d.id,
                         data={"identity": d.identity, "from_user_id": previous,
                               "to_user_id": user_id, "to": username})
    return ActionResult(d, "assigned", event.id)


def reopen(session: Session, clock: Clock, discrepancy_id: int, *, actor: str, scope: Scope = ALL,
           note: object) -> ActionResult:
    """Open a resolved (or auto-resolved) discrepancy again, saying why. A manual match that
    attached a payment stays attached (a new proposal can move it)."""
    text = _note(note)
    d = _lock(session, discrepancy_id, scope)
    if d.status == "open":
        raise ReviewError("already_open", f"discrepancy {d.id} is already open")
    data = {**_snapshot(d), "note": text, "previous": {
        "status": d.status, "resolution_type": d.resolution_type,
        "resolution_note": d.resolution_note, "resolved_by": d.resolved_by,
        "resolved_at": d.resolved_at.isoformat() if d.resolved_at else None,
        "auto_resolved_reason": d.auto_resolved_reason}}
    d.status = "open"
    d.resolution_type = None
    d.resolution_note = None
    d.resolved_by = None
    d.resolved_at = None
    _clear_proposal(d)
    d.auto_resolved_reason = None
    d.auto_resolved_reason_en = None
    d.updated_at = clock.now()
    event = audit.record(session, clock, actor=actor, action="discrepancy.reopened",
                         entity_type="discrepancy", entity_id=d.id, data=data)
    return ActionResult(d, "reopened", event.id)
