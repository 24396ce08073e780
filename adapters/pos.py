"""POS card terminals: our own published format (no public standard exists).

An acquirer or terminal bridge POSTs JSON: ``event_id, type (sale|void|refund), terminal_id,
merchant_id, batch_no, invoice_no, stan, rrn, approval_code, response_code ("00" approved),
masked_pan (first 6 + last 4 at most), card_brand, entry_mode, amount (VND), currency ("704"),
transaction_at (ISO 8601 with offset; naive is taken as Vietnam time), reference`` (our payment
reference, typed or scanned at the terminal), and optionally ``issuer_country`` (ISO 3166-1
alpha-2 of the card's issuer, as the acquirer resolves it from the BIN: a country other than
``VN`` makes the payment's ``card_foreign`` true, for the fee contract's foreign-card surcharge).
``card_brand`` gives the payment's method (the card scheme: ``payment_methods``).

Header ``X-Recon-Signature: t=<epoch seconds>,v1=<hex HMAC-SHA256(secret, t + "." + raw body)>``;
a timestamp further than ``max_age_seconds`` from the time the call was received is a replay.

A full card number (13–19 digits passing Luhn) anywhere in the payload is refused (and the
service masks it in the stored raw call with :func:`adapters.scrub.mask_pans`); ``masked_pan``
may show at most 10 digits.

``rrn`` is the provider transaction id. A void or refund carries the RRN of the sale it reverses,
so an approved one reports that transaction as ``refunded``; a declined void/refund changes
nothing (:class:`NotAPayment`). A declined sale is ``failed``.

Answer ``{"status": "accepted" | "duplicate"}`` with 200 once recorded (``"note"`` says when the
reference matched nothing or the amount differs); 4xx ``{"status": "rejected", "reason"}`` for a
call we refuse; 503 ``{"status": "retry"}`` when our side failed.
"""

from __future__ import annotations

import hmac
import secrets as _random
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import ClassVar

from adapters.base import (
    Acknowledgement,
    Adapter,
    CallbackEvent,
    CallbackLink,
    EnvSpec,
    MalformedPayload,
    NotAPayment,
    Outcome,
    PaymentStatus,
    PayoutSpec,
    RawRequest,
    SignatureError,
    SignedParts,
    SimulatedPayment,
    Wire,
    json_ack,
    json_body,
    response_json,
    utf8,
)
from adapters.fields import (
    VN_TZ,
    epoch_time,
    get_id,
    get_str,
    get_txn_id,
    iso_time,
    load_json_object,
    opt_str,
    parse_vnd,
    show,
    to_epoch_s,
)
from adapters.scrub import holds_card_number

HEADER = "X-Recon-Signature"
TYPES = ("sale", "void", "refund")
CURRENCY_VND = "704"
MASKED_PAN_MAX_DIGITS = 10


def parse_signature_header(value: str | None) -> tuple[str, str] | None:
    """``t=<s>,v1=<hex>`` → ``(t, v1)``; ``None`` when absent."""
    if value is None or not value.strip():
        return None
    parts: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.strip().partition("=")
        if not sep:
            raise SignatureError(f"{HEADER} must look like 't=<seconds>,v1=<hex>'")
        parts[key.strip()] = val.strip()
    t, v1 = parts.get("t"), parts.get("v1")
    if not t or not v1:
        raise SignatureError(f"{HEADER} must carry both t= and v1=")
    if not (t.isascii() and t.isdigit()) or len(t) > 12:
        raise SignatureError(f"{HEADER} t= must be a Unix time in seconds")
    return t, v1


def _strings(value: object) -> Iterator[str]:
    """Every string and number in a JSON value (keys included)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            yield item
        elif item is not None and not isinstance(item, bool):
            yield str(item)


def _foreign(body: Mapping[str, object]) -> bool | None:
    """``issuer_country`` (optional, ISO 3166-1 alpha-2 of the card's issuer, as the acquirer
    resolves it from the BIN): whether the card was issued outside Vietnam; ``None`` absent."""
    country = opt_str(body, "issuer_country")
    if country is None or not country.strip():
        return None
    code = country.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise MalformedPayload(f"issuer_country must be a two-letter ISO 3166 country code "
                               f"such as VN, got {show(country)}")
    return code != "VN"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Recon-Signature`` header value for ``body`` (for terminal bridges and tests)."""
    digest = hmac.new(utf8(secret), utf8(str(timestamp)) + b"." + body, "sha256").hexdigest()
    return f"t={timestamp},v1={digest}"


class POSAdapter(Adapter):
    name = "pos"
    label = "POS"
    channel = "pos"
    # payouts: the acquirer credits a terminal's day T+1 (LEGS.md A.2, bank POS 1-3 working
    # days); memo never seen (A.4): unverified, overridable
    payout = PayoutSpec(
        memo=r"\bPOS\b.*\b(?:KET\s*TOAN|TT\s*THE|SETTLE)|\bMERCHANT\s*SETTLEMENT\b",
        days=1)
    env_spec = EnvSpec(required=("RECON_POS_SECRET",), rotating=("RECON_POS_SECRET",))
    link = CallbackLink.typed
    simulated_statuses = ("succeeded", "failed", "refunded")
    carries_memo = False
    # card_brand: the card scheme the terminal read (the acquirer prices POS by scheme)
    payment_methods: ClassVar[Mapping[str, Mapping[str, str]]] = {
        "card_brand": {"VISA": "visa", "MASTERCARD": "mastercard", "MASTER": "mastercard",
                       "MC": "mastercard", "JCB": "jcb", "AMEX": "amex",
                       "AMERICAN EXPRESS": "amex", "UNIONPAY": "unionpay", "CUP": "unionpay",
                       "NAPAS": "napas"},
    }

    def _signed_parts(self, request: RawRequest) -> SignedParts:
        header = parse_signature_header(request.headers.get(HEADER))
        if header is None:
            return SignedParts(signature=None, messages=(), where=f"{HEADER} header")
        timestamp, v1 = header
        try:
            signed_at = epoch_time(timestamp, field=f"{HEADER} t=", unit="s")
        except MalformedPayload as exc:
            raise SignatureError(str(exc)) from None
        return SignedParts(
            signature=v1,
            messages=(utf8(timestamp) + b"." + request.body,),
            where=f"{HEADER} header",
            timestamp=signed_at,
        )

    def _parse(self, request: RawRequest) -> CallbackEvent:
        full_pan = "a full card number is not allowed; send masked_pan (first 6 + last 4)"
        if holds_card_number(request.body.decode("utf-8", "replace")):
            raise MalformedPayload(full_pan)
        body = load_json_object(request.body)
        # e.g. hidden in \\u escapes, or in a number's exponent form; one scan of every value,
        # a line each (a card number cannot run across a line break)
        if holds_card_number("\n".join(_strings(body))):
            raise MalformedPayload(full_pan)
        masked_pan = opt_str(body, "masked_pan")
        if masked_pan and sum(c.isdigit() for c in masked_pan) > MASKED_PAN_MAX_DIGITS:
            raise MalformedPayload("masked_pan may show at most the first 6 and last 4 digits")
        kind = get_str(body, "type")
        if kind not in TYPES:
            raise MalformedPayload(f"type must be one of {', '.join(TYPES)}, got {show(kind)}")
        response_code = get_str(body, "response_code")
        currency = get_id(body, "currency")
        if currency != CURRENCY_VND:
            raise MalformedPayload(f"currency must be {CURRENCY_VND} (VND), got {show(currency)}")
        get_id(body, "event_id")
        get_str(body, "terminal_id")
        approved = response_code == "00"
        status: PaymentStatus
        if kind == "sale":
            status = "succeeded" if approved else "failed"
        elif approved:
            status = "refunded"
        else:
            raise NotAPayment(f"declined {kind} (response_code {show(response_code)}): "
                              "the sale is unchanged")
        return CallbackEvent(
            provider=self.name,
            provider_txn_id=get_txn_id(body, "rrn"),
            amount=parse_vnd(body.get("amount"), field="amount"),
            status=status,
            transaction_at=iso_time(body.get("transaction_at"), field="transaction_at"),
            reference=(opt_str(body, "reference") or "").strip() or None,
            order_code=None,
            memo=None,
            raw_status=f"type={kind},response_code={response_code}",
            channel=self.channel,
            method=self.method_of(body),
            card_foreign=_foreign(body),
        )

    @classmethod
    def acknowledge(cls, outcome: Outcome, detail: str | None = None) -> Acknowledgement:
        if outcome is Outcome.duplicate:
            return json_ack(200, {"status": "duplicate"})
        if outcome is Outcome.accepted:
            return json_ack(200, {"status": "accepted"})
        if outcome in (Outcome.unknown_order, Outcome.amount_mismatch, Outcome.ignored):
            return json_ack(200, {"status": "accepted", "note": outcome.value})
        if outcome in (Outcome.retry_later, Outcome.not_configured):
            return json_ack(503, {"status": "retry", "reason": detail or outcome.value})
        status = 401 if outcome in (Outcome.bad_signature, Outcome.replayed) else 400
        return json_ack(status, {"status": "rejected", "reason": detail or outcome.value})

    @classmethod
    def delivered(cls, status_code: int, body: bytes | str) -> bool:
        answer = response_json(body)
        return (200 <= status_code < 300 and isinstance(answer, dict)
                and answer.get("status") in ("accepted", "duplicate"))

    # -- the simulator -----------------------------------------------------------------------

    def _new_txn_id(self, paid_at: datetime) -> str:
        return f"{_random.randbelow(10**12):012d}"

    def _callback_fields(self, payment: SimulatedPayment) -> dict[str, object]:
        approved = payment.status != "failed"
        paid_at = payment.paid_at
        return {
            "event_id": f"evt_{_random.token_urlsafe(12)}",
            "type": "refund" if payment.status == "refunded" else "sale",
            "terminal_id": "T0000001",
            "merchant_id": "M00000001",
            "batch_no": "000001",
            "invoice_no": "000001",
            "stan": "000001",
            "rrn": payment.provider_txn_id,
            "approval_code": "A1B2C3" if approved else "",
            "response_code": "00" if approved else "05",
            "masked_pan": "411111******1111",
            "card_brand": "VISA",
            "entry_mode": "chip",
            "amount": payment.amount,
            "currency": CURRENCY_VND,
            "transaction_at": (
                paid_at if paid_at.tzinfo else paid_at.replace(tzinfo=VN_TZ)
            ).isoformat(),
            "reference": payment.reference,
        }

    def _wire(self, fields: dict[str, object], payment: SimulatedPayment) -> Wire:
        raw = json_body(fields)
        header = sign(self._secrets[0].decode("utf-8"), to_epoch_s(payment.sent_at), raw)
        return Wire(body=raw, headers={"Content-Type": "application/json", HEADER: header})
