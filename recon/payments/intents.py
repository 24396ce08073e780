"""Payment intents: a request to pay one dossier through one channel, with its reference.

An intent is an *offer*, not money. The rules this module keeps:

- **Amount.** The outstanding amount of a dossier is ``assessed − succeeded payments`` (payments
  matched to the dossier, by any channel). Open intents do **not** reserve money: a citizen who
  walks away from a VietQR code and asks to pay by MoMo must not wait 15 minutes for the first
  code to expire. If both end up paid, reconciliation reports the duplicate; that is its job.
  An intent's amount defaults to the outstanding amount and may be less (a split payment), never
  more. Nothing outstanding (no fees, or fully paid) is a conflict (409).
- **Reuse.** Asking again for the same dossier, channel and amount while an intent is open
  (``issued`` and not yet expired) returns that intent instead of a second one; for VietQR only
  if the code it would build now is the one it holds (same account, same purpose), so a changed
  agency account never hands out a stale code. Creation is serialised per dossier (a row lock on
  PostgreSQL, the write lock on SQLite), so two clicks never make two intents.
- **Identifiers.** A reference from :func:`references.mint` (retried on the rare collision
  with the unique constraint); for payOS an integer ``order_code`` in ``[1, 2^53 − 1]`` (payOS
  takes a JavaScript-safe integer); for ZaloPay ``app_trans_id = yymmdd_<reference>`` with the
  date in Vietnam time, as ZaloPay requires (:func:`adapters.zalopay.app_trans_id_for`, the
  adapter's own builder, so the id we issue is the one its queries and callbacks use).
- **VietQR.** A dynamic (one-payment) code for the agency's account with the amount and the
  reference in ``62.08`` (purpose of transaction), which bank apps copy into the transfer
  description. An optional short ``note`` may follow the reference in the purpose; the purpose
  must fit 25 characters after transliteration (refused, never truncated).
- **Lifecycle.** ``issued`` → ``paid`` (only :func:`recording.record_payment` does that) |
  ``expired`` | ``cancelled``. Expiry is lazy when an intent is read (:func:`read_intent`) and
  swept in bulk by :func:`sweep_expired` (the scheduler's job, every
  ``RECON_INTENT_EXPIRY_INTERVAL_SECONDS``; ``recon intents expire``). State changes are
  conditional updates (``WHERE status = 'issued'``) so a concurrent payment is never
  overwritten. Every creation, cancellation and expiry writes an audit event in the same
  transaction.
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Lock
from typing import Any, Final, Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from adapters import zalopay
from recon.audit import chain as audit
from recon.clock import Clock
from recon.config import Settings
from recon.db import Database
from recon.errors import Conflict, FieldError, NotFound, ValidationError
from recon.intake.dossiers import paid_amount
from recon.models import Agency, Dossier, Payment, PaymentIntent
from recon.payments.recording import PaymentEvent, RecordResult, record_payment
from recon.payments.references import REFERENCE_LENGTH, mint
from recon.receipts.issuing import receipting
from recon.scope import ALL, Scope, agency_condition, intent_condition
from recon.vietqr.banks import Bank, lookup
from recon.vietqr.codec import MAX_ADDITIONAL_FIELD, VietQRError, VietQRRequest, encode
from recon.vietqr.render import render_png, render_svg
from recon.vietqr.translit import transliterate

INTENT_CHANNELS = ("vietqr", "vnpay", "momo", "zalopay", "payos", "pos")
OPEN = "issued"
MAX_ORDER_CODE = 2**53 - 1  # payOS: a JavaScript-safe integer
MINT_ATTEMPTS = 8
MAX_RECEIPT = 64
SYSTEM_ACTOR = "system"

Channel = Literal["vietqr", "vnpay", "momo", "zalopay", "payos", "pos"]
ImageFormat = Literal["png", "svg"]
ImageSize = Literal["screen", "print"]


class DeskNotFound(NotFound):
    """Not found, with a stable ``reason`` the cashier's desk turns into its own words."""

    def __init__(self, reason: str, message: str, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class DeskConflict(Conflict):
    """A conflict (409) with a stable ``reason``."""

    def __init__(self, reason: str, message: str, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class DeskInvalid(ValidationError):
    """Bad input (422) naming its field, with a stable ``reason``."""

    def __init__(self, reason: str, field: str, message: str, *,
                 hint: str | None = None) -> None:
        super().__init__(FieldError(field, message), hint=hint)
        self.reason = reason


def reason_of(exc: BaseException) -> str | None:
    """The stable reason (``"dossier_not_found"``, ...) of an error raised here, if any."""
    value = getattr(exc, "reason", None)
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------------------------
# Reading the state of a dossier


@dataclass(frozen=True)
class Balance:
    assessed: int
    paid: int

    @property
    def outstanding(self) -> int:
        return max(self.assessed - self.paid, 0)


def balance(session: Session, dossier: Dossier) -> Balance:
    return Balance(dossier.total_assessed, paid_amount(session, dossier.id))


def _dossier(session: Session, code: str, *, lock: bool = False, scope: Scope = ALL) -> Dossier:
    """The dossier ``code`` of an agency of ``scope``; another agency's is not found."""
    query = select(Dossier).where(Dossier.code == code,
                                  agency_condition(Dossier.agency_id, scope)
                                  ).options(selectinload(Dossier.fee_lines))
    if lock:
        # Serialise intent creation per dossier: FOR UPDATE OF dossiers on PostgreSQL (SQLite
        # ignores it: its write transactions already hold the database's one write lock).
        query = query.with_for_update(of=Dossier)
    dossier = session.execute(query).unique().scalar_one_or_none()
    if dossier is None:
        raise DeskNotFound("dossier_not_found", f"no dossier with code {code!r}",
                           "Check the code (or scan it again); the one-stop software must "
                           "have sent the dossier with POST /api/v1/dossiers first.")
    return dossier


def is_due(intent: PaymentIntent, now: datetime) -> bool:
    """An issued intent whose time is up (expiry happens at ``expires_at`` exactly)."""
    return intent.status == OPEN and intent.expires_at <= now


def effective_status(intent: PaymentIntent, now: datetime) -> str:
    """The status a reader should see: ``expired`` for an issued intent past its time."""
    return "expired" if is_due(intent, now) else intent.status


# --------------------------------------------------------------------------------------------
# Validation of requests


def parse_channel(value: object) -> Channel:
    if value is None or value == "":
        raise DeskInvalid("channel_missing", "channel",
                          f"is required: one of {', '.join(INTENT_CHANNELS)}")
    if not isinstance(value, str) or value not in INTENT_CHANNELS:
        raise DeskInvalid("channel_unknown", "channel",
                          f"must be one of {', '.join(INTENT_CHANNELS)}, got {value!r}")
    return value  # type: ignore[return-value]


def parse_amount(value: object, field: str = "amount") -> int:
    """A JSON integer of VND, more than 0. Text, decimals, floats and booleans are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        shown = f"the text {value!r}" if isinstance(value, str) else repr(value)
        raise DeskInvalid("amount_not_int", field,
                          f"must be a JSON integer number of VND, got {shown}")
    if value <= 0:
        raise DeskInvalid("amount_not_positive", field, f"must be more than 0 VND, got {value}")
    return value


def _purpose(reference: str, note: str | None) -> str:
    return reference if not note else f"{reference} {note}"


def _check_note(note: object, reference_length: int) -> str | None:
    if note is None or note == "":
        return None
    if not isinstance(note, str):
        raise DeskInvalid("note_not_text", "note", f"must be text, got {type(note).__name__}")
    text = " ".join(transliterate(note).split())
    room = MAX_ADDITIONAL_FIELD - reference_length - 1
    if len(text) > room:
        raise DeskInvalid(
            "purpose_too_long", "note",
            f"is {len(text)} characters after transliteration ({text!r}); the transfer purpose "
            f"holds {MAX_ADDITIONAL_FIELD} and the reference takes {reference_length + 1}, so "
            f"the note may have at most {room}",
            hint="Shorten the note (or leave it out: the reference alone is enough).")
    return text


def _bank_account(agency: Agency) -> Bank:
    """The agency's bank for VietQR, or 422 saying what to fix."""
    if not (agency.account_number or "").strip() or not (agency.bank_bin or "").strip():
        raise DeskInvalid(
            "agency_without_account", "agency",
            f"agency {agency.code} has no bank account for VietQR",
            hint="An administrator must record the agency's BIN and account number; until "
                 "then take another channel or cash.")
    bank = lookup(agency.bank_bin)
    if bank is None:
        raise DeskInvalid(
            "bin_unknown", "agency.bank_bin",
            f"agency {agency.code} has BIN {agency.bank_bin!r}, which is not in the bank "
            "directory (see `recon vietqr banks`)",
            hint="An administrator must correct the agency's bank BIN; until then take "
                 "another channel or cash.")
    return bank


def _vietqr_payload(agency: Agency, amount: int, purpose: str) -> str:
    try:
        return encode(VietQRRequest(bin=agency.bank_bin, account=agency.account_number,
                                    amount=amount, purpose=purpose))
    except VietQRError as exc:
        if exc.field == "purpose":
            raise DeskInvalid("purpose_too_long", "note", exc.reason,
                              hint="Shorten the note, or leave it out.") from None
        if exc.field == "amount":
            raise DeskInvalid("amount_too_large", "amount",
                              f"cannot go in a VietQR code: {exc.reason}",
                              hint="Split the payment into smaller intents.") from None
        raise DeskInvalid("vietqr_invalid", f"agency.{exc.field}", exc.reason,
                          hint="An administrator must correct the agency's bank account; "
                          "until then take another channel or cash.") from None


# --------------------------------------------------------------------------------------------
# Creating


@dataclass(frozen=True)
class IntentOutcome:
    intent: PaymentIntent
    created: bool  # False: an open intent was reused


def _find_reusable(session: Session, dossier: Dossier, channel: str, amount: int,
                   now: datetime, agency: Agency, note: str | None) -> PaymentIntent | None:
    candidates = session.execute(
        select(PaymentIntent).where(
            PaymentIntent.dossier_id == dossier.id, PaymentIntent.channel == channel,
            PaymentIntent.amount == amount, PaymentIntent.status == OPEN,
            PaymentIntent.expires_at > now)
        .order_by(PaymentIntent.id.desc())
    ).scalars().all()
    for candidate in candidates:
        if channel != "vietqr":
            return candidate
        wanted = _vietqr_payload(agency, amount, _purpose(candidate.reference, note))
        if candidate.qr_payload == wanted:
            return candidate
    return None


def create_intent(session: Session, clock: Clock, settings: Settings, *, dossier_code: str,
                  channel: object, amount: object = None, note: object = None,
                  actor: str, scope: Scope = ALL) -> IntentOutcome:
    """Issue (or reuse) an intent for ``dossier_code``; see the module doc for every rule.

    Raises :class:`ValidationError` (422), :class:`NotFound` (404) or :class:`Conflict` (409);
    nothing is written when it raises.
    """
    checked_channel = parse_channel(channel)
    wanted_amount = None if amount is None else parse_amount(amount)
    prefix = settings.reference_prefix.upper()
    checked_note = _check_note(note, REFERENCE_LENGTH)
    if checked_note is not None and checked_channel != "vietqr":
        raise DeskInvalid("note_not_vietqr", "note",
                          "applies to VietQR codes only (it goes in the transfer purpose)")

    dossier = _dossier(session, dossier_code, lock=True, scope=scope)
    money = balance(session, dossier)
    if money.outstanding == 0:
        if money.assessed == 0:
            raise DeskConflict("no_fee", f"dossier {dossier.code} has no fee to pay",
                               "Nothing to collect. If a fee is missing, the one-stop software "
                               "must reassess the dossier first.")
        raise DeskConflict("already_paid",
                           f"dossier {dossier.code} is paid in full ({money.paid} of "
                           f"{money.assessed} VND)",
                           "Nothing to collect; give the citizen the receipt.")
    final_amount = money.outstanding if wanted_amount is None else wanted_amount
    if final_amount > money.outstanding:
        raise DeskInvalid("amount_above_outstanding", "amount",
                          f"{final_amount} VND is more than the {money.outstanding} VND "
                          f"outstanding on dossier {dossier.code}",
                          hint=f"Send at most {money.outstanding}, or leave amount out to "
                          "collect everything outstanding.")

    agency = dossier.agency
    if checked_channel == "vietqr":
        _bank_account(agency)
    now = clock.now()
    reused = _find_reusable(session, dossier, checked_channel, final_amount, now, agency,
                            checked_note)
    if reused is not None:
        return IntentOutcome(reused, created=False)

    expires_at = now + timedelta(seconds=settings.intent_ttl_seconds)
    for _attempt in range(MINT_ATTEMPTS):
        reference = mint(prefix)
        intent = PaymentIntent(
            dossier_id=dossier.id, dossier=dossier, channel=checked_channel, amount=final_amount,
            reference=reference, status=OPEN, created_by=actor, created_at=now,
            expires_at=expires_at, updated_at=now,
            order_code=(secrets.randbelow(MAX_ORDER_CODE) + 1
                        if checked_channel == "payos" else None),
            provider_order_id=(zalopay.app_trans_id_for(reference, now)
                               if checked_channel == "zalopay" else None),
            qr_payload=(_vietqr_payload(agency, final_amount, _purpose(reference, checked_note))
                        if checked_channel == "vietqr" else None),
        )
        try:
            with session.begin_nested():
                session.add(intent)
                session.flush()
        except IntegrityError:
            continue  # a reference or order code already taken: mint again
        audit.record(session, clock, actor=actor, action="intent.created",
                     entity_type="payment_intent", entity_id=intent.id,
                     data={"dossier": dossier.code, "channel": checked_channel,
                           "amount": final_amount, "reference": reference,
                           "order_code": intent.order_code,
                           "app_trans_id": intent.provider_order_id,
                           "expires_at": expires_at.isoformat()})
        return IntentOutcome(intent, created=True)
    raise RuntimeError(f"could not mint a unique reference in {MINT_ATTEMPTS} attempts")


# --------------------------------------------------------------------------------------------
# Reading, expiring, cancelling


def get_intent(session: Session, intent_id: int, scope: Scope = ALL) -> PaymentIntent:
    """The intent ``intent_id`` of a dossier of ``scope``; another agency's is not found."""
    intent = session.execute(
        select(PaymentIntent).where(PaymentIntent.id == intent_id, intent_condition(scope))
        .options(joinedload(PaymentIntent.dossier))
    ).unique().scalar_one_or_none()
    if intent is None:
        raise DeskNotFound("intent_not_found", f"no payment intent {intent_id}",
                           "Check the id; create a new intent for the dossier if needed.")
    return intent


def _close(session: Session, clock: Clock, intent: PaymentIntent, status: str, *,
           actor: str, action: str, data: dict[str, Any],
           only_if_due: bool = False) -> bool:
    """Move an issued intent to ``status`` unless something else (a payment) got there first."""
    now = clock.now()
    conditions = [PaymentIntent.id == intent.id, PaymentIntent.status == OPEN]
    if only_if_due:
        conditions.append(PaymentIntent.expires_at <= now)
    changed = session.execute(
        update(PaymentIntent).where(*conditions)
        .values(status=status, closed_at=now, updated_at=now)
        .returning(PaymentIntent.id)
        .execution_options(synchronize_session=False)
    ).first() is not None
    session.refresh(intent, ["status", "paid_at", "closed_at", "updated_at"])
    if not changed:
        return False
    audit.record(session, clock, actor=actor, action=action, entity_type="payment_intent",
                 entity_id=intent.id, data={"reference": intent.reference, **data})
    return True


def expire_if_due(session: Session, clock: Clock, intent: PaymentIntent) -> bool:
    """Lazy expiry: mark ``intent`` expired (and audit it) when its time is up."""
    if not is_due(intent, clock.now()):
        return False
    return _close(session, clock, intent, "expired", actor=SYSTEM_ACTOR,
                  action="intent.expired", only_if_due=True,
                  data={"expires_at": intent.expires_at.isoformat(), "via": "read"})


def expire_due(session: Session, clock: Clock, *, limit: int = 1000) -> int:
    """The sweep: expire every issued intent whose time is up (at most ``limit`` per call).

    Returns how many were expired. The scheduler runs it through :func:`sweep_expired`;
    reads expire lazily anyway.
    """
    now = clock.now()
    due = session.execute(
        select(PaymentIntent).where(PaymentIntent.status == OPEN,
                                    PaymentIntent.expires_at <= now)
        .order_by(PaymentIntent.expires_at, PaymentIntent.id).limit(limit)
    ).scalars().all()
    count = 0
    for intent in due:
        if _close(session, clock, intent, "expired", actor=SYSTEM_ACTOR,
                  action="intent.expired", only_if_due=True,
                  data={"expires_at": intent.expires_at.isoformat(), "via": "sweep"}):
            count += 1
    return count


EXPIRY_BATCH = 1000


def sweep_expired(db: Database, clock: Clock, *, batch: int = EXPIRY_BATCH,
                  should_stop: Callable[[], bool] | None = None) -> int:
    """Expire every due intent, ``batch`` per transaction, until a batch finds fewer than
    ``batch`` (none are left due). How many were expired. The scheduler's job and
    ``recon intents expire`` call this; it is safe beside other sweepers, reads and payments
    (each change is conditional on the intent still being issued and due). ``should_stop`` is
    asked between batches (a scheduler shutting down)."""
    if batch <= 0:
        raise ValueError("batch must be above 0")
    total = 0
    while should_stop is None or not should_stop():
        with db.transaction() as session:
            expired = expire_due(session, clock, limit=batch)
        total += expired
        if expired < batch:
            break
    return total


def cancel_intent(session: Session, clock: Clock, intent_id: int, *, actor: str,
                  reason: str = "cancelled at the desk", scope: Scope = ALL) -> PaymentIntent:
    """Cancel an open intent. Cancelling a cancelled one changes nothing (idempotent)."""
    intent = get_intent(session, intent_id, scope)
    expire_if_due(session, clock, intent)
    if intent.status == "cancelled":
        return intent
    if intent.status == "paid":
        raise DeskConflict("intent_paid",
                           f"payment intent {intent.id} ({intent.reference}) is already paid",
                           "Paid money is not cancelled here; a refund goes through finance.")
    if intent.status == "expired":
        raise DeskConflict("intent_expired",
                           f"payment intent {intent.id} ({intent.reference}) has already expired",
                           "Nothing to cancel; create a new intent if the citizen still has "
                           "to pay.")
    if not _close(session, clock, intent, "cancelled", actor=actor, action="intent.cancelled",
                  data={"reason": reason}):
        # a payment or the sweep changed it between our read and our update
        return cancel_intent(session, clock, intent_id, actor=actor, reason=reason,
                             scope=scope)
    return intent


def read_intent(db: Database, clock: Clock, intent_id: int,
                scope: Scope = ALL) -> PaymentIntent:
    """Read an intent for display, expiring it first if its time is up (lazy expiry).

    Reads in a read-only transaction; only an intent that is due opens a write transaction.
    """
    with db.read() as session:
        intent = get_intent(session, intent_id, scope)
        if not is_due(intent, clock.now()):
            return intent
    with db.transaction() as session:
        intent = get_intent(session, intent_id, scope)
        expire_if_due(session, clock, intent)
        return intent


def close_open_intents(session: Session, clock: Clock, dossier_id: int, *, actor: str,
                       reason: str) -> int:
    """Cancel every open intent of a dossier (after it was paid some other way)."""
    rows = session.execute(select(PaymentIntent).where(
        PaymentIntent.dossier_id == dossier_id, PaymentIntent.status == OPEN)).scalars().all()
    return sum(_close(session, clock, i, "cancelled", actor=actor, action="intent.cancelled",
                      data={"reason": reason}) for i in rows)


# --------------------------------------------------------------------------------------------
# Cash at the desk


@dataclass(frozen=True)
class CashOutcome:
    result: RecordResult
    balance: Balance
    dossier_code: str

    @property
    def duplicate(self) -> bool:
        return self.result.outcome == "duplicate"


#: a printed receipt number (biên lai: form code, series, number, e.g. ``BL-0001234`` or
#: ``1-26T/00000123``): 1–64 printable ASCII characters, no space at either end; spaces around
#: it are trimmed. The OpenAPI document declares this same pattern.
RECEIPT_PATTERN: Final = re.compile(f"[!-~](?:[ -~]{{0,{MAX_RECEIPT - 2}}}[!-~])?")
RECEIPT_SCHEMA_PATTERN: Final = f"^ *{RECEIPT_PATTERN.pattern} *$"


def parse_receipt_number(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DeskInvalid("receipt_missing", "receipt_number",
                          "is required: the number printed on the cash receipt (biên lai)")
    text = value.strip(" ")
    if not RECEIPT_PATTERN.fullmatch(text):
        raise DeskInvalid("receipt_invalid", "receipt_number",
                          f"must be 1–{MAX_RECEIPT} printable ASCII characters (letters, "
                          f"digits, punctuation), got {value!r}")
    return text


def record_cash(session: Session, clock: Clock, settings: Settings, *, dossier_code: str,
                amount: object, receipt_number: object, actor: str,
                scope: Scope = ALL) -> CashOutcome:
    """Record cash taken at the desk, once per receipt number (provider ``cash``).

    The same receipt for the same dossier and amount again is a duplicate (nothing written);
    the same receipt number with another dossier or amount is a conflict (a typo to fix). The
    amount may not exceed what is outstanding. Once the dossier is paid in full, its open
    intents are cancelled so that no QR code stays on offer for money already taken.
    """
    receipt = parse_receipt_number(receipt_number)
    cash = parse_amount(amount)
    dossier = _dossier(session, dossier_code, lock=True, scope=scope)
    existing = session.execute(select(Payment).where(
        Payment.provider == "cash", Payment.provider_txn_id == receipt)).scalar_one_or_none()
    if existing is not None and (existing.dossier_id != dossier.id or existing.amount != cash):
        raise DeskConflict("receipt_reused",
                           f"receipt {receipt} was already recorded for another payment "
                           f"({existing.amount} VND)",
                           "Check the receipt number; each receipt records one payment.")
    if existing is None:
        money = balance(session, dossier)
        if money.outstanding == 0:
            raise DeskConflict("no_fee" if money.assessed == 0 else "already_paid",
                               f"dossier {dossier.code} has nothing outstanding",
                               "Do not take the money; nothing is due.")
        if cash > money.outstanding:
            raise DeskInvalid("amount_above_outstanding", "amount",
                              f"{cash} VND is more than the {money.outstanding} VND outstanding "
                              f"on dossier {dossier.code}",
                              hint=f"Take and record at most {money.outstanding}.")
    now = clock.now()
    result = record_payment(
        session, clock,
        PaymentEvent(provider="cash", provider_txn_id=receipt, channel="cash", amount=cash,
                     status="succeeded", paid_at=now, receipt_number=receipt,
                     dossier_code=dossier.code),
        actor=actor, reference_prefix=settings.reference_prefix,
        receipts=receipting(settings.env))
    kept = result.payment
    if result.outcome == "duplicate" and (kept.dossier_id != dossier.id or kept.amount != cash):
        # another desk recorded this receipt number for other money a moment before us
        raise DeskConflict("receipt_reused",
                           f"receipt {receipt} was already recorded for another payment "
                           f"({kept.amount} VND)",
                           "Check the receipt number; each receipt records one payment.")
    after = balance(session, dossier)
    if result.outcome == "recorded" and after.outstanding == 0:
        close_open_intents(session, clock, dossier.id, actor=actor,
                           reason=f"dossier paid in cash, receipt {receipt}")
    return CashOutcome(result, after, dossier.code)


# --------------------------------------------------------------------------------------------
# Serialising


def bank_of(intent: PaymentIntent) -> Bank | None:
    return lookup(intent.dossier.agency.bank_bin) if intent.channel == "vietqr" else None


def intent_as_dict(intent: PaymentIntent, now: datetime) -> dict[str, Any]:
    """The API shape (URLs are added by the view). ``expires_in_seconds`` is by the server's
    clock, so a desk whose own clock is wrong still counts down correctly."""
    agency = intent.dossier.agency
    bank = bank_of(intent)
    status = effective_status(intent, now)
    remaining = max(int((intent.expires_at - now).total_seconds()), 0) if status == OPEN else 0
    return {
        "id": intent.id,
        "dossier_code": intent.dossier.code,
        "reference": intent.reference,
        "amount": intent.amount,
        "channel": intent.channel,
        "status": status,
        "created_at": intent.created_at.isoformat(),
        "expires_at": intent.expires_at.isoformat(),
        "expires_in_seconds": remaining,
        "paid_at": intent.paid_at.isoformat() if intent.paid_at else None,
        "closed_at": intent.closed_at.isoformat() if intent.closed_at else None,
        "qr_payload": intent.qr_payload,
        "order_code": intent.order_code,
        "app_trans_id": intent.provider_order_id if intent.channel == "zalopay" else None,
        "bank": ({"bin": bank.bin, "short_name": bank.short_name, "name": bank.name}
                 if bank is not None else None),
        "account_number": agency.account_number if bank is not None else None,
        "account_name": agency.account_name if bank is not None else None,
    }


def dossier_intents(session: Session, dossier_id: int, *, limit: int = 20) -> list[PaymentIntent]:
    return list(session.execute(
        select(PaymentIntent).where(PaymentIntent.dossier_id == dossier_id)
        .order_by(PaymentIntent.id.desc()).limit(limit)).scalars())


def dossier_payments(session: Session, dossier_id: int) -> list[Payment]:
    return list(session.execute(
        select(Payment).where(Payment.dossier_id == dossier_id)
        .order_by(Payment.paid_at, Payment.id)).scalars())


@dataclass(frozen=True)
class DeskDossier:
    """What the cashier's desk shows about one dossier."""

    dossier: Dossier
    balance: Balance
    intents: list[PaymentIntent]
    payments: list[Payment]


def desk_dossier(session: Session, code: str, scope: Scope = ALL) -> DeskDossier:
    dossier = _dossier(session, code.strip(), scope=scope)
    return DeskDossier(dossier, balance(session, dossier), dossier_intents(session, dossier.id),
                       dossier_payments(session, dossier.id))


# --------------------------------------------------------------------------------------------
# Rendered codes: cached per intent


class QRCache:
    """A small thread-safe LRU of rendered codes keyed by (intent id, payload, format, size).

    The payload is in the key, so a code can never be served for a payload it does not show.
    """

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[tuple[int, str, str, str], bytes] = OrderedDict()
        self._lock = Lock()
        self.hits = 0
        self.misses = 0

    def get(self, intent_id: int, payload: str, fmt: ImageFormat, size: ImageSize) -> bytes:
        key = (intent_id, payload, fmt, size)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
        image = render_png(payload, size=size) if fmt == "png" else render_svg(payload, size=size)
        with self._lock:
            self.misses += 1
            self._items[key] = image
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return image

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)


QR_CACHE = QRCache()


def parse_size(value: str | None) -> ImageSize:
    if value in (None, "", "screen"):
        return "screen"
    if value == "print":
        return "print"
    raise DeskInvalid("size_unknown", "size", f"must be 'screen' or 'print', got {value!r}")


def qr_image(intent: PaymentIntent, fmt: ImageFormat, size: ImageSize) -> bytes:
    if not intent.qr_payload:
        raise DeskNotFound("no_qr",
                           f"payment intent {intent.id} ({intent.channel}) has no QR code",
                           "Only VietQR intents carry a code; gateways show their own.")
    return QR_CACHE.get(intent.id, intent.qr_payload, fmt, size)


__all__ = [
    "INTENT_CHANNELS",
    "QR_CACHE",
    "Balance",
    "CashOutcome",
    "DeskDossier",
    "IntentOutcome",
    "balance",
    "cancel_intent",
    "create_intent",
    "desk_dossier",
    "effective_status",
    "expire_due",
    "expire_if_due",
    "get_intent",
    "intent_as_dict",
    "qr_image",
    "read_intent",
    "reason_of",
    "record_cash",
    "sweep_expired",
]
