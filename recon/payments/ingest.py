"""The one ingest service: a provider's raw webhook call in, the provider's own answer out.

:func:`handle_callback` is the whole of DESIGN.md §3 flow 3:

1. **Decide what can be decided without the database** — size, configuration, signature over
   the exact bytes received, parsing to a normalised event. Pure CPU, no connection used, no
   transaction open. A failure of ours here (an adapter's bug) still archives the call, then
   answers retry.
2. **Archive.** The raw call is stored in its own committed transaction before anything is
   recorded: headers with credentials redacted, body and query string with full card numbers
   masked. Whatever happens next, the call is on file (even for an unconfigured provider, a
   bad signature or a body that is too large — of that one, the headers and the first
   :data:`MAX_BODY_BYTES` bytes). A call refused in step 1, or a pending one, is stored with
   its verdict and answer in that same write: one write in all.
3. **Record.** :func:`recording.record_payment` writes the payment exactly once, matches
   it and audits it, and the callback row gets its verdict, outcome, payment and answer, all
   in one second transaction (rerun, a bounded number of times, when PostgreSQL aborts it with
   a serialization failure or deadlock: :func:`recon.db.retrying`). Any other failure there, or
   the last retry's, rolls it back entirely, marks the callback ``error`` (best effort, in a
   transaction of its own) and answers :attr:`Outcome.retry_later`, so the provider calls
   again and the retry starts clean.
4. **Answer** in the provider's protocol (:meth:`adapters.Adapter.acknowledge`), only after the
   commit: nothing is acknowledged that is not on disk.

One pooled connection serves the whole call. On PostgreSQL a first delivery is two statements,
each its own autocommitted transaction, sent straight to psycopg (:mod:`recon.driver`): the
archive, which in the same statement finds the intent and numbers the payment
(:func:`recording.match_and_number_sql`), and the recording — the payment, its intent, its
audit event and the callback's verdict written by one statement
(:func:`recording.record_new_payment`). The archive's commit does not wait for the disk; the
recording's does, and with it the archive reaches the disk before the answer: one flush per
delivery (see :func:`archive_and_match_sql`). A redelivery, a status change or a part payment
takes the general path (a unit of work, :func:`recording.record_payment`), as everything
does on SQLite. Recording takes no global lock: the audit event is written unsealed and chained
right after (:mod:`audit.sealing`), so concurrent deliveries share commits instead of queueing.

VNPay's checks run in its documented order — signature (97), order exists (01), amount (04),
already confirmed (02) — and the money is recorded in every case where it moved (an unknown
order is an unmatched payment, a wrong amount is recorded as what really moved). Other protocols
answer a duplicate first; their answers for unknown orders and amounts are 2xx anyway. A pending
payment (VNPay ``vnp_TransactionStatus=01``) is archived and answered, and records nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, update
from sqlalchemy.orm import Session

from adapters import (
    PROVIDERS,
    Acknowledgement,
    Adapter,
    AdapterError,
    CallbackEvent,
    NotConfigured,
    Outcome,
    RawRequest,
    ReplayError,
    SignatureError,
    adapter_class,
    get_adapter,
)
from adapters.base import json_ack
from adapters.scrub import mask_pans_text, mask_prefix, mask_prefix_text, redact_headers
from recon import driver
from recon.audit.sealing import request_seal
from recon.clock import Clock
from recon.config import Settings
from recon.db import Database, retrying
from recon.models import Callback
from recon.payments.methods import apply_methods
from recon.payments.recording import (
    MatchKeys,
    MatchShape,
    NewPayment,
    PaymentEvent,
    RecordResult,
    match_and_number_sql,
    match_params,
    record_new_payment,
    record_payment,
    slot_of,
)
from recon.payments.refused import (
    QUERY_STRING_CHARS,
    RefusalPolicy,
    count_limited,
    is_refused,
    kept_headers,
    over_limit,
    rate_limited_ack,
)
from recon.payments.spool import failure_reason, spool_callback
from recon.receipts.issuing import inline_receipting

log = logging.getLogger("recon.ingest")

#: the largest body we accept (and the most of one we archive)
MAX_BODY_BYTES = 64 * 1024
#: read this much past the limit, so a card number cut by the limit is still seen and masked
PAN_SLACK_BYTES = 64
MAX_DETAIL = 1000
ACTOR_PREFIX = "webhook:"

# Callback.outcome values beyond the protocol outcomes (Outcome values)
RECEIVED = "received"
TOO_LARGE = "too_large"
ERROR = "error"
PENDING = "pending"

# outcomes logged at DEBUG only (the callbacks table keeps every verdict)
ROUTINE = frozenset({Outcome.accepted.value, Outcome.duplicate.value})

# providers whose protocol puts "order exists" and "amount" before "already confirmed"
ORDER_FIRST = frozenset({"vnpay"})


class IngestError(Exception):
    """A failure of ours in step 2 (the provider is told to retry)."""


@dataclass(frozen=True)
class Decision:
    """What step 2 made of a call."""

    outcome: Outcome
    callback_outcome: str  # what the callback row says (an Outcome value, pending, ...)
    detail: str
    signature_valid: bool | None
    provider_txn_id: str | None = None
    payment_id: int | None = None


def known_provider(provider: str) -> bool:
    return provider in PROVIDERS


def _text(value: str) -> str:
    """Fit for a text column: PostgreSQL refuses NUL characters (a fuzzed query string)."""
    return value.replace("\x00", "%00") if "\x00" in value else value


def _clip(text_value: str, limit: int = MAX_DETAIL) -> str:
    masked = _text(mask_prefix_text(text_value, limit + 1))  # scans only what may be kept
    return masked if len(masked) <= limit else masked[: limit - 1] + "…"


def _json_body(ack: Acknowledgement) -> str:
    return ack.body.decode("utf-8", "replace")


def too_large_ack(length: int | None) -> Acknowledgement:
    size = f"{length} bytes" if length is not None else "more than that"
    return json_ack(413, {
        "error": "payload_too_large",
        "message": f"webhook bodies are limited to {MAX_BODY_BYTES} bytes; this one is {size}",
    })


def not_configured_ack(provider: str, detail: str) -> Acknowledgement:
    """503 in every protocol: the provider retries, and whoever reads it learns why."""
    return json_ack(503, {
        "error": "provider_not_configured",
        "message": f"provider {provider!r} is not configured on this server ({detail}); "
                   "the call was archived",
        "hint": "Set the provider's RECON_* variables (README, Webhooks) and restart.",
    })


# Statements built once (their parameters come at execution: no per-call compilation work)
_INSERT_CALLBACK = insert(Callback).returning(Callback.id)
_UPDATE_CALLBACK = update(Callback).where(Callback.id == bindparam("callback_id"))


# --------------------------------------------------------------------------------------------
# Step 1: the archive


def _archive_values(provider: str, raw: RawRequest, *, request_id: str | None,
                    remote_addr: str | None, prefix: int | None = None,
                    original_length: int | None = None) -> dict[str, Any]:
    """The archive's columns. ``prefix``: a refused call (:mod:`payments.refused`), kept as its
    first ``prefix`` bytes, its headers and query string cut, its length as received in
    ``body_length`` when the body was cut (``original_length``: the declared length of a body
    not read whole)."""
    body_length = None
    if prefix is None:
        body = mask_prefix(raw.body, MAX_BODY_BYTES)  # a PAN the cut splits is still masked
        headers = redact_headers(raw.headers)
        query_string = mask_pans_text(raw.query_string)
    else:  # nobody vouched for it: only what is kept is scanned (bounded work)
        body = mask_prefix(raw.body, prefix)
        headers = kept_headers(raw.headers)
        query_string = mask_prefix_text(raw.query_string, QUERY_STRING_CHARS)
        length = max(original_length or 0, len(raw.body))
        body_length = length if length > prefix else None
    return {
        "provider": provider[:20],
        "received_at": raw.received_at,
        "method": raw.method[:10],
        "path": raw.path[:255],
        "query_string": _text(query_string),
        "headers": json.dumps(headers, ensure_ascii=False, sort_keys=True),
        "body": body,
        "remote_addr": (remote_addr or None) and remote_addr[:64],
        "request_id": (request_id or None) and request_id[:64],
        "outcome": RECEIVED,
        "signature_valid": None,
        "outcome_detail": None,
        "provider_txn_id": None,
        "payment_id": None,
        "response_status": None,
        "response_body": None,
        "body_length": body_length,
    }


# The archive's insert as psycopg takes it (:mod:`recon.driver`): the raw call, and the verdict
# and answer when they are known before anything is recorded (a refused or pending call)
_ARCHIVE_COLUMNS = ("provider", "received_at", "method", "path", "query_string", "headers",
                    "body", "remote_addr", "request_id", "outcome", "signature_valid",
                    "outcome_detail", "provider_txn_id", "payment_id", "response_status",
                    "response_body", "body_length")
_ARCHIVE_INSERT_PG = (f"INSERT INTO callbacks ({', '.join(_ARCHIVE_COLUMNS)}) "  # noqa: S608
                      f"VALUES ({', '.join(f'%({c})s' for c in _ARCHIVE_COLUMNS)})")
_INSERT_CALLBACK_PG = f"{_ARCHIVE_INSERT_PG} RETURNING callbacks.id"
# ... and, for a call to record, the intent it pays and its payment's id, in the same round trip
# (recording.match_and_number_sql): one statement, committed before anything is recorded.
# Its commit does not wait for the disk (synchronous_commit off, for this transaction only):
# whatever follows on the connection commits synchronously before any answer is given (the
# recording, a redelivery's verdict, or the error mark), and flushing that commit flushes the
# whole WAL before it, this archive included. Should the recording fail and the error mark too,
# the call is spooled as well (handle_callback): a crash in that instant cannot lose it. One
# disk flush per delivery instead of two.
_DEFER_FLUSH = "set_config('synchronous_commit', 'off', true) AS deferred_flush"
_ARCHIVE_CTE = f"WITH cb AS ({_ARCHIVE_INSERT_PG} RETURNING callbacks.id)"


def archive_and_match_sql(shape: MatchShape) -> str:
    """The archive, with the match of an event of ``shape`` (one statement, built once)."""
    return match_and_number_sql(shape, with_clause=_ARCHIVE_CTE, source="cb",
                                leading=f"cb.id, {_DEFER_FLUSH}")


@dataclass(frozen=True)
class Archived:
    """A stored call: its id, and (PostgreSQL, a call to record) the match read with it."""

    callback_id: int
    slot: NewPayment | None = None
    #: False when its commit did not wait for the disk (see archive_and_match_sql): a
    #: synchronous commit on the same connection must follow before the call is answered
    flushed: bool = True


def archive(conn: Connection, provider: str, raw: RawRequest, *, request_id: str | None,
            remote_addr: str | None, verdict: Mapping[str, Any] | None = None,
            match: MatchKeys | None = None, prefix: int | None = None,
            original_length: int | None = None) -> Archived:
    """Step 1: store the raw call in its own committed transaction, with ``verdict`` (callback
    columns: a refused call's verdict and answer) when it is decided already. On PostgreSQL,
    given ``match`` (:func:`recording.match_params`), the same statement also finds the
    intent the call pays and numbers its payment (:attr:`Archived.slot`)."""
    values = _archive_values(provider, raw, request_id=request_id, remote_addr=remote_addr,
                             prefix=prefix, original_length=original_length)
    if verdict:
        values.update(verdict)
    if values["body_length"] is not None and values.get("outcome_detail"):
        values["outcome_detail"] = _clip(
            f"{values['outcome_detail']} [body cut: first {len(values['body'])} of "
            f"{values['body_length']} bytes kept]")
    if conn.dialect.name != "postgresql":
        with conn.begin():
            return Archived(int(conn.execute(_INSERT_CALLBACK, values).scalar_one()))
    with driver.autocommit(conn):
        if match is None:
            return Archived(int(driver.one(conn, _INSERT_CALLBACK_PG, values)[0]))
        row = driver.one(conn, archive_and_match_sql(match.shape), {**values, **match.params})
    return Archived(int(row[0]), slot_of(row), flushed=False)


# --------------------------------------------------------------------------------------------
# Step 2: verify, parse, record


def _verdict(adapter_error: AdapterError, verified: bool) -> bool | None:
    if isinstance(adapter_error, SignatureError | ReplayError):
        return False
    return True if verified else None


def _parse(adapter: Any, raw: RawRequest) -> tuple[CallbackEvent | None, Decision | None]:
    """The event, or the decision for a call the adapter refused. Pure CPU: no transaction."""
    verified = False
    try:
        adapter.verify(raw)
        verified = True
        return adapter.parse_verified(raw), None
    except NotConfigured:
        raise
    except AdapterError as exc:
        outcome = exc.outcome
        return None, Decision(outcome=outcome, callback_outcome=outcome.value,
                              detail=_clip(str(exc)), signature_valid=_verdict(exc, verified))


def _match_outcome(provider: str, event: CallbackEvent, intent_amount: int | None,
                   duplicate: bool) -> Outcome:
    """The protocol outcome of a recorded (or already recorded) payment; ``intent_amount`` is
    None when it matched no intent."""
    if duplicate and provider not in ORDER_FIRST:
        return Outcome.duplicate
    if intent_amount is None:
        return Outcome.unknown_order
    if event.amount != intent_amount:
        return Outcome.amount_mismatch
    if duplicate:
        return Outcome.duplicate
    return Outcome.accepted


def _outcome_for(provider: str, event: CallbackEvent, result: RecordResult) -> Outcome:
    return _match_outcome(provider, event,
                          result.intent.amount if result.intent is not None else None,
                          duplicate=result.outcome in ("duplicate", "ignored_stale"))


def _match_text(intent_reference: str | None) -> str:
    return f"intent {intent_reference}" if intent_reference is not None else \
        "no intent (unmatched)"


def _recorded_text(payment_id: int, event: CallbackEvent, intent_reference: str | None) -> str:
    return (f"payment {payment_id} recorded: {event.status} {event.amount} VND, "
            f"{_match_text(intent_reference)}")


def _describe(event: CallbackEvent, result: RecordResult) -> str:
    payment = result.payment
    match = _match_text(result.intent.reference if result.intent is not None else None)
    if result.outcome == "recorded":
        return _recorded_text(payment.id, event, result.intent.reference
                              if result.intent is not None else None)
    if result.outcome == "duplicate":
        return f"already recorded as payment {payment.id} ({payment.status})"
    if result.outcome == "updated":
        return f"payment {payment.id} is now {payment.status}, {match}"
    return (f"late {event.status} ignored: payment {payment.id} stays {payment.status}")


def _payment_event(provider: str, event: CallbackEvent) -> PaymentEvent:
    assert event.status != "pending"  # a pending event records nothing
    return PaymentEvent(
        provider=provider,
        provider_txn_id=event.provider_txn_id,
        channel=event.channel,
        amount=event.amount,
        status=event.status,
        paid_at=event.transaction_at,
        reference=event.reference,
        order_code=event.order_code,
        memo=event.memo,
        bank_reference=event.bank_reference,
        method=event.method,
        card_foreign=event.card_foreign,
    )


def _record(session: Session, clock: Clock, settings: Settings, provider: str,
            event: CallbackEvent, callback_id: int) -> Decision:
    """Record ``event`` (never a pending one: :func:`_pending`); the decision."""
    result = record_payment(session, clock, _payment_event(provider, event),
                            actor=ACTOR_PREFIX + provider,
                            reference_prefix=settings.reference_prefix,
                            callback_id=callback_id, receipts=inline_receipting(settings.env))
    outcome = _outcome_for(provider, event, result)
    return Decision(outcome, outcome.value, _describe(event, result), True,
                    event.provider_txn_id, result.payment.id)


def _pending(event: CallbackEvent) -> Decision:
    """A pending payment (VNPay ``vnp_TransactionStatus=01``): archived, answered, not
    recorded."""
    return Decision(Outcome.ignored, PENDING,
                    f"pending ({event.raw_status}): not a payment yet, nothing recorded",
                    True, event.provider_txn_id)


def _verdict_values(decision: Decision) -> dict[str, Any]:
    return {
        "signature_valid": decision.signature_valid,
        "outcome": decision.callback_outcome[:20],
        "outcome_detail": _clip(decision.detail),
        "provider_txn_id": decision.provider_txn_id,
        "payment_id": decision.payment_id,
    }


def _answer_values(ack: Acknowledgement) -> dict[str, Any]:
    return {"response_status": ack.status_code, "response_body": _json_body(ack)}


def _record_new(conn: Connection, clock: Clock, settings: Settings, provider: str,
                event: CallbackEvent, callback_id: int, cls: type[Adapter],
                slot: NewPayment | None) -> tuple[Decision, Acknowledgement] | None:
    """PostgreSQL, a payment not recorded yet (every first delivery): the payment, its intent,
    its audit event and the callback's verdict and answer in one statement, its own atomic
    transaction (:func:`recording.record_new_payment`). None when the payment exists
    already: nothing was written, the general path takes over."""
    decided: list[tuple[Decision, Acknowledgement]] = []

    def verdict(new: NewPayment) -> dict[str, Any]:
        intent = new.intent
        outcome = _match_outcome(provider, event, intent.amount if intent is not None else None,
                                 duplicate=False)
        decision = Decision(outcome, outcome.value,
                            _recorded_text(new.id, event, intent.reference
                                           if intent is not None else None),
                            True, event.provider_txn_id, new.id)
        ack = cls.acknowledge(decision.outcome)
        decided.append((decision, ack))
        return {**_verdict_values(decision), **_answer_values(ack)}

    def record() -> NewPayment | None:
        return record_new_payment(conn, clock, _payment_event(provider, event),
                                  actor=ACTOR_PREFIX + provider,
                                  reference_prefix=settings.reference_prefix,
                                  callback_id=callback_id, verdict=verdict, slot=slot,
                                  receipts_on=inline_receipting(settings.env) is not None)

    if _fault_pause_wanted(settings):  # the crash tests kill the worker inside the transaction
        with conn.begin():
            new = record()
            _fault_pause(settings)
    else:
        with driver.autocommit(conn):
            new = record()
    return decided[-1] if new is not None else None


def _record_in_transaction(conn: Connection, clock: Clock, settings: Settings, provider: str,
                           event: CallbackEvent, callback_id: int, cls: type[Adapter],
                           slot: NewPayment | None = None) -> tuple[Decision, Acknowledgement]:
    """Step 2's transaction: the payment, its effects and audit, the callback's verdict and
    answer; committed before the answer is given. ``slot``: PostgreSQL's match, read with the
    archive (a rerun after a serialization failure reads it afresh)."""
    if conn.dialect.name == "postgresql":
        recorded = _record_new(conn, clock, settings, provider, event, callback_id, cls, slot)
        if recorded is not None:
            return recorded
    with conn.begin():
        session = Session(bind=conn, expire_on_commit=False)  # joins this transaction
        try:
            decision = _record(session, clock, settings, provider, event, callback_id)
            session.flush()
            _fault_pause(settings)
        finally:
            session.close()
        ack = cls.acknowledge(decision.outcome)
        conn.execute(_UPDATE_CALLBACK, {"callback_id": callback_id,
                                        **_verdict_values(decision), **_answer_values(ack)})
    return decision, ack


def _fault_pause_wanted(settings: Settings) -> bool:
    return settings.environment == "test" and bool(settings.get("FAULT_RECORD_SLEEP_SECONDS"))


def _fault_pause(settings: Settings) -> None:
    """Fault injection for the crash tests only (``RECON_ENV=test``): sleep this long inside
    the recording transaction, its rows written and not committed, so a test can kill the
    worker there (``RECON_FAULT_RECORD_SLEEP_SECONDS``)."""
    if settings.environment == "test":
        pause = settings.get("FAULT_RECORD_SLEEP_SECONDS")
        if pause:
            time.sleep(float(pause))


def _mark_error(db: Database, callback_id: int, exc: BaseException,
                ack: Acknowledgement) -> bool:
    """Best effort: the callback's outcome becomes ``error`` (a synchronous commit). Whether
    that was written."""
    detail = _clip(f"{type(exc).__name__}: {exc}")
    try:
        with db.transaction() as session:
            session.execute(update(Callback).where(Callback.id == callback_id).values(
                outcome=ERROR, outcome_detail=detail, **_answer_values(ack)))
    except Exception:  # best effort: the call itself is already archived
        log.exception("could not mark callback %s as error", callback_id)
        return False
    return True


# --------------------------------------------------------------------------------------------
# The service


def _decide_before_recording(provider: str, raw: RawRequest, clock: Clock,
                             settings: Settings, cls: type[Adapter],
                             declared_length: int | None
                             ) -> CallbackEvent | tuple[Decision, Acknowledgement]:
    """Size, configuration, signature and parsing: pure work, no transaction held. The event
    to record, or the decision and answer for a call refused."""
    if len(raw.body) > MAX_BODY_BYTES or (declared_length or 0) > MAX_BODY_BYTES:
        shown = declared_length if declared_length is not None else "unknown"
        return Decision(Outcome.malformed, TOO_LARGE,
                        f"body over {MAX_BODY_BYTES} bytes (declared {shown}); "
                        f"first {MAX_BODY_BYTES} bytes archived", None), \
            too_large_ack(declared_length)
    try:
        adapter = get_adapter(provider, settings.env,
                              max_age_seconds=settings.signature_max_age_seconds, clock=clock)
    except NotConfigured as exc:
        return Decision(Outcome.not_configured, Outcome.not_configured.value,
                        _clip(str(exc)), None), not_configured_ack(provider, str(exc))
    apply_methods(adapter, settings.env)  # the operator's method codes (RECON_PAYMENT_METHODS)
    event, decision = _parse(adapter, raw)
    if decision is not None:
        return decision, cls.acknowledge(decision.outcome, decision.detail)
    assert event is not None
    return event


def handle_callback(db: Database, clock: Clock, settings: Settings, provider: str,
                    raw: RawRequest, *, request_id: str | None,
                    remote_addr: str | None, declared_length: int | None = None
                    ) -> Acknowledgement:
    """Archive, verify, record and answer one webhook call (see the module doc).

    ``raw.body`` is what was read, which for an oversized call is the first
    ``MAX_BODY_BYTES + PAN_SLACK_BYTES`` bytes; ``declared_length`` is its Content-Length.
    Raises :class:`adapters.UnknownProvider` for a provider name we do not know. Uses one
    pooled connection for the whole call.
    """
    cls = adapter_class(provider)  # UnknownProvider before anything is stored
    callback_id: int | None = None
    flushed = True
    try:
        with db.engine.connect() as conn:
            def store(**kwargs: Any) -> Archived:
                nonlocal callback_id, flushed
                archived = archive(conn, provider, raw, request_id=request_id,
                                   remote_addr=remote_addr, **kwargs)
                callback_id, flushed = archived.callback_id, archived.flushed
                return archived

            try:
                decided = _decide_before_recording(provider, raw, clock, settings, cls,
                                                   declared_length)
            except Exception:
                store()  # a failure of ours (an adapter's bug): the call is kept all the same
                raise
            if isinstance(decided, CallbackEvent) and decided.status == "pending":
                decided = _pending(decided), cls.acknowledge(Outcome.ignored)
            if isinstance(decided, tuple):  # refused, or pending: stored with its verdict
                decision, ack = decided
                if is_refused(decision.signature_valid, decision.callback_outcome):
                    limited = _store_refused(conn, settings, raw, remote_addr, decision, ack,
                                             declared_length, store)
                    if limited is not None:
                        return limited
                else:
                    store(verdict={**_verdict_values(decision), **_answer_values(ack)})
            else:
                event = decided
                decision, ack = _store_and_record(db, conn, clock, settings, provider, event,
                                                  cls, store)
    except Exception as exc:  # any failure: nothing half-written, the provider retries
        retry = cls.acknowledge(Outcome.retry_later, "temporarily unavailable")
        reason = failure_reason(exc)
        if callback_id is None:
            log.exception("could not archive a %s callback; answering retry", provider,
                          extra={"request_id": request_id})
        else:
            log.exception("%s callback %s failed; answering retry", provider, callback_id,
                          extra={"request_id": request_id})
            if _mark_error(db, callback_id, exc, retry) or flushed:
                return retry  # the call is on disk in the archive
            # nothing synchronous followed the archive's deferred flush: keep it on disk too
            reason = f"archived as callback {callback_id}, not yet flushed to disk when {reason}"
        spool_callback(settings, provider, raw, request_id=request_id, remote_addr=remote_addr,
                       reason=reason, answer=retry)
        return retry

    # a routine answer is on record in the callbacks table and the access log: DEBUG; anything
    # finance or an integrator may need to look at (refused, unmatched, wrong amount): INFO
    level = logging.DEBUG if decision.callback_outcome in ROUTINE else logging.INFO
    if log.isEnabledFor(level):
        log.log(level, "%s callback %s: %s (%s)", provider, callback_id,
                decision.callback_outcome, decision.detail, extra={"request_id": request_id})
    return ack


def _store_refused(conn: Connection, settings: Settings, raw: RawRequest,
                   remote_addr: str | None, decision: Decision, ack: Acknowledgement,
                   declared_length: int | None,
                   store: Callable[..., Archived]) -> Acknowledgement | None:
    """A refused call (not verified: anyone could send it): archived as a bounded prefix, or,
    past the per-address limit, only counted and answered 429 (:mod:`payments.refused`)."""
    policy = RefusalPolicy.from_settings(settings)
    if over_limit(conn, policy, remote_addr, raw.received_at):
        count_limited(conn, raw.received_at)
        log.debug("refused %s call from %s over the rate limit: not archived",
                  decision.callback_outcome, remote_addr)
        return rate_limited_ack(policy)
    store(verdict={**_verdict_values(decision), **_answer_values(ack)},
          prefix=policy.body_bytes,
          original_length=declared_length if decision.callback_outcome == TOO_LARGE else None)
    return None


def _store_and_record(db: Database, conn: Connection, clock: Clock, settings: Settings,
                      provider: str, event: CallbackEvent, cls: type[Adapter],
                      store: Callable[..., Archived]) -> tuple[Decision, Acknowledgement]:
    """A verified payment event: archived first (on PostgreSQL with its match, in the same
    statement), then recorded in a transaction of its own."""
    matching = None
    if conn.dialect.name == "postgresql":
        matching = match_params(_payment_event(provider, event), settings.reference_prefix)
    archived = store(verdict={"signature_valid": True,
                              "provider_txn_id": event.provider_txn_id}, match=matching)
    slots = [archived.slot]  # the first attempt uses it; a rerun matches afresh
    # a serialization failure or deadlock reruns the whole transaction (bounded)
    decision, ack = retrying(lambda: _record_in_transaction(
        conn, clock, settings, provider, event, archived.callback_id, cls,
        slots.pop() if slots else None))
    if decision.payment_id is not None:
        request_seal(db)  # chain its audit event soon (PostgreSQL)
    return decision, ack
