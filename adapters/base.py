"""The adapter interface: normalised records, the error hierarchy and signature verification.

An adapter turns one raw provider call (:class:`RawRequest`) into one normalised
:class:`CallbackEvent`, or refuses it with an :class:`AdapterError`, and builds the answer the
provider's protocol expects (:class:`Acknowledgement`) for the :class:`Outcome` the service
decided. Adapters are pure: no Flask, no database, no network; secrets are passed in.

Verification is a template: this base owns the constant-time comparison and key rotation (the
current secret, then the ``..._PREVIOUS`` one); each connector supplies the signed message(s), the
signature it received and the digest algorithm.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, Self

if TYPE_CHECKING:
    from adapters.pull import PullApi

logger = logging.getLogger(__name__)

PaymentStatus = Literal["succeeded", "failed", "refunded", "pending"]
PAYMENT_STATUSES: tuple[PaymentStatus, ...] = ("succeeded", "failed", "refunded", "pending")
#: how a payer paid (``CallbackEvent.method``; a fee contract's channel names one of them):
#: by QR, a domestic (ATM/NAPAS) card, an international card, an e-wallet, a linked bank
#: account, or a card scheme where the acquirer reports it (POS). The same list as
#: recon.contracts.model.METHODS (a test pins it).
METHODS: tuple[str, ...] = ("qr", "domestic_card", "intl_card", "wallet", "bank_account",
                            "visa", "mastercard", "jcb", "amex", "unionpay", "napas")


class Clock(Protocol):
    """Anything with ``now()`` returning an aware datetime (``recon.clock`` clocks qualify)."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


# --------------------------------------------------------------------------------------------
# Outcomes and errors
# --------------------------------------------------------------------------------------------


class Outcome(StrEnum):
    """What the service made of a call; each adapter answers it in its provider's protocol."""

    accepted = "accepted"  # recorded (a failed payment we recorded is accepted too)
    duplicate = "duplicate"  # this provider transaction was already recorded
    already_confirmed = "duplicate"  # alias, VNPay's wording
    unknown_order = "unknown_order"  # no intent/dossier matches (the payment is still recorded)
    amount_mismatch = "amount_mismatch"  # the amount differs from the intent's
    bad_signature = "bad_signature"  # SignatureError
    malformed = "malformed"  # MalformedPayload
    retry_later = "retry_later"  # our side failed (database): the provider must retry
    not_configured = "not_configured"  # NotConfigured
    replayed = "replayed"  # ReplayError
    ignored = "ignored"  # NotAPayment: authentic, understood, nothing to record


class AdapterError(Exception):
    """Base of every error an adapter raises about a call or its own configuration."""

    outcome: ClassVar[Outcome] = Outcome.malformed


class SignatureError(AdapterError):
    """The signature (or API key) is missing, unreadable or does not match any secret."""

    outcome = Outcome.bad_signature


class MalformedPayload(AdapterError):
    """The call is authentic (or could not be checked) but its content is not what we expect."""

    outcome = Outcome.malformed


class ReplayError(AdapterError):
    """A correctly signed call whose signed timestamp is outside the allowed window."""

    outcome = Outcome.replayed


class NotConfigured(AdapterError):
    """A required setting (secret, merchant code) is missing. Never means "accept unsigned"."""

    outcome = Outcome.not_configured


class NotAPayment(AdapterError):
    """An authentic notification that is not a payment (outgoing transfer, agreement binding,
    a declined void). Answer it as :attr:`Outcome.ignored` so the provider stops sending it."""

    outcome = Outcome.ignored


class NotSupported(AdapterError):
    """The provider's protocol has no way to express this (e.g. a failed ZaloPay callback)."""

    outcome = Outcome.malformed


class UnknownProvider(AdapterError, LookupError):
    """No adapter has this name."""

    outcome = Outcome.not_configured


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


class Headers(Mapping[str, str]):
    """A read-only mapping of HTTP headers with case-insensitive lookups."""

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, str] | Sequence[tuple[str, str]] = ()) -> None:
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        items: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            items[name.lower()] = (name, value)
        self._items = items

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset((k, v) for k, (_, v) in self._items.items()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(Headers(other)._lowered()) == dict(self._lowered())

    def _lowered(self) -> Iterator[tuple[str, str]]:
        return ((k, v) for k, (_, v) in self._items.items())

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True)
class RawRequest:
    """One HTTP call exactly as received. ``query_string`` is raw (undecoded, without ``?``)."""

    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            object.__setattr__(self, "headers", Headers(self.headers))
        if self.received_at.tzinfo is None:
            raise ValueError("RawRequest.received_at must be timezone-aware")


@dataclass(frozen=True)
class CallbackEvent:
    """A provider's notification, normalised.

    ``amount`` is integer VND; ``transaction_at`` is the provider's own time, aware (naive provider
    times are Vietnam time, UTC+7). ``reference`` is our payment reference when the provider
    carries our order id; ``order_code`` is payOS's numeric order code; ``memo`` is free text
    (transfer description) in which to look for a reference. ``raw_status`` records the provider
    fields that decided ``status`` (e.g. ``"resultCode=0"``). ``channel`` uses the payment
    channel vocabulary (``vnpay``, ``momo``, ``zalopay``, ``payos``, ``vietqr``, ``pos``).
    ``bank_reference`` is the bank's own reference for the credit (the id a bank statement
    lists it by), from the bank-feed providers that carry one (SePay ``referenceCode``, Casso
    ``data.reference``, payOS ``data.reference``); ``None`` for the others, or when absent.
    ``method`` is how the payer paid (:data:`METHODS`), read from the provider's own field by
    the adapter's ``payment_methods`` table; ``None`` when the provider carries no such field
    or a value the table does not know (never a guess). ``card_foreign`` says whether the card
    was issued abroad; ``None`` when the call does not say (only our POS format carries it).
    """

    provider: str
    provider_txn_id: str
    amount: int
    status: PaymentStatus
    transaction_at: datetime
    reference: str | None
    order_code: int | None
    memo: str | None
    raw_status: str
    channel: str
    bank_reference: str | None = None
    method: str | None = None
    card_foreign: bool | None = None

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 0:
            raise ValueError(f"amount must be a non-negative int of VND, got {self.amount!r}")
        if self.status not in PAYMENT_STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if self.transaction_at.tzinfo is None:
            raise ValueError("transaction_at must be timezone-aware")
        if not self.provider_txn_id:
            raise ValueError("provider_txn_id must not be empty")
        if self.bank_reference is not None and not self.bank_reference:
            raise ValueError("bank_reference must be None or non-empty")
        if self.method is not None and self.method not in METHODS:
            raise ValueError(f"method must be None or one of {METHODS}, got {self.method!r}")


@dataclass(frozen=True)
class Acknowledgement:
    """The HTTP answer the provider expects."""

    status_code: int
    body: bytes
    content_type: str


JSON_CONTENT_TYPE = "application/json"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"


def compact_json(value: object, *, ascii_only: bool = False, sort_keys: bool = False) -> str:
    """JSON with compact separators, as JavaScript's ``JSON.stringify`` writes it."""
    return json.dumps(value, ensure_ascii=ascii_only, sort_keys=sort_keys, separators=(",", ":"))


def json_body(value: object) -> bytes:
    """``value`` as a compact JSON body, non-ASCII kept as UTF-8 (as providers send it)."""
    return utf8(compact_json(value))


def response_json(body: bytes | str) -> object:
    """An answer's JSON; ``None`` when empty or not JSON (for :meth:`Adapter.delivered`)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if not text.strip():
        return None
    try:
        value: object = json.loads(text)
    except ValueError:
        return None
    return value


def json_ack(status_code: int, payload: Mapping[str, object]) -> Acknowledgement:
    body = json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return Acknowledgement(status_code, body, JSON_CONTENT_TYPE)


def empty_ack(status_code: int = 204) -> Acknowledgement:
    return Acknowledgement(status_code, b"", TEXT_CONTENT_TYPE)


REFUSED_STATUS: dict[Outcome, int] = {
    Outcome.bad_signature: 401,
    Outcome.replayed: 401,
    Outcome.malformed: 400,
    Outcome.retry_later: 503,
    Outcome.not_configured: 503,
}


def success_flag_ack(outcome: Outcome, detail: str | None = None) -> Acknowledgement:
    """The ``{"success": true}`` convention (payOS, SePay, Casso): 200 once the call is
    recorded, whatever we made of it; 401/400 for a call we refuse; 503 (the provider retries)
    when our side failed."""
    status = REFUSED_STATUS.get(outcome)
    if status is None:
        return json_ack(200, {"success": True})
    return json_ack(status, {"success": False, "error": detail or outcome.value})


def success_flag_delivered(status_code: int, body: bytes | str) -> bool:
    """Whether a provider of the ``{"success": true}`` convention stops retrying."""
    answer = response_json(body)
    return 200 <= status_code < 300 and isinstance(answer, dict) and answer.get("success") is True


# --------------------------------------------------------------------------------------------
# The adapter
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedParts:
    """What a connector extracted for verification.

    ``signature`` is the value received (``None`` or ``""`` when absent); ``messages`` the
    candidate canonical messages (several when the provider's serialisation is ambiguous; each
    is an encoding of the same data); ``timestamp`` the signed time, if the scheme has one.
    ``where`` names the signature's place in the call, for error messages.
    """

    signature: str | None
    messages: tuple[bytes, ...]
    where: str
    timestamp: datetime | None = None


class CallbackLink(StrEnum):
    """How a provider's callback tells us which payment it is about."""

    reference = "reference"  # our payment reference, in one of its fields (required)
    order_code = "order_code"  # our numeric order code (payOS)
    memo = "memo"  # the payer's transfer description, where we look for the reference
    typed = "typed"  # a reference typed or scanned at a terminal; it may be missing (POS)


@dataclass(frozen=True)
class SimulatedPayment:
    """What :meth:`Adapter.build_callback` was asked to send, its defaults filled in:
    ``paid_at`` is the provider's time of the payment, ``sent_at`` the time of the call."""

    amount: int
    reference: str | None
    provider_txn_id: str
    status: PaymentStatus
    paid_at: datetime
    sent_at: datetime
    order_code: int | None
    memo: str | None

    @property
    def transfer_memo(self) -> str:
        """A bank transfer's description: the memo given, else the reference as payers write
        it (for the bank-feed providers, whose calls carry no other link)."""
        return self.memo if self.memo is not None else f"{self.reference} chuyen tien"


@dataclass(frozen=True)
class Wire:
    """A simulated callback as it travels: its body, headers and query string."""

    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    query_string: str = ""

    @classmethod
    def json(cls, value: object, *, content_type: str = JSON_CONTENT_TYPE,
             headers: Mapping[str, str] | None = None) -> Wire:
        """A POST of ``value`` as compact JSON, with ``headers`` after the Content-Type."""
        return cls(body=json_body(value), headers={"Content-Type": content_type, **(headers or {})})


class Secret(bytes):
    """Key bytes that do not show themselves in reprs (tracebacks with locals, debug logs)."""

    def __repr__(self) -> str:
        return "Secret(****)"


@dataclass(frozen=True)
class PayoutSpec:
    """How a provider that pays the centre in batches (a gateway or an acquirer) does it.

    None of this is published (LEGS.md A.2, A.4: payout days are contract-specific, payout
    memos were never seen): these are defaults to override per deployment
    (``RECON_<PROVIDER>_PAYOUT_MEMO``, ``RECON_<PROVIDER>_PAYOUT_DAYS``, read by
    ``recon.engine.settings``), not facts.

    - ``memo``: a regular expression (case-insensitive, searched in the bank statement's
      description) that says a credit on the centre's account comes from this provider;
    - ``days``: banking days after the batch's last session day by which its net is credited;
    - ``merge_non_banking_days``: one batch (session) runs over the days that are no banking
      day after it (VNPay's session before a weekend or holiday runs to the end of it);
    - ``pays_gross``: the provider credits the gross amount and invoices its fee separately
      (the older VNPay model), so the credit expected is the gross, not the net.
    """

    memo: str
    days: int = 1
    merge_non_banking_days: bool = False
    pays_gross: bool = False

    def __post_init__(self) -> None:
        re.compile(self.memo)
        if isinstance(self.days, bool) or not isinstance(self.days, int) or self.days < 0:
            raise ValueError(f"payout days must be a whole number >= 0, got {self.days!r}")


#: an operator's override mapping a value to this takes the value out: no method (None)
UNKNOWN_METHOD = "unknown"


def merge_methods(defaults: Mapping[str, Mapping[str, str]],
                  override: Mapping[str, Mapping[str, str]]
                  ) -> dict[str, dict[str, str]]:
    """The effective method table: ``defaults`` (an adapter's :attr:`Adapter.payment_methods`)
    with ``override`` laid over it per field and value (values compared upper-cased); a value
    overridden to :data:`UNKNOWN_METHOD` is removed. Fields keep the adapter's order (the
    first field whose value is known wins). Pure."""
    out = {name: dict(values) for name, values in defaults.items()}
    for name, values in override.items():
        table = out.setdefault(name, {})
        for value, method in values.items():
            key = value.strip().upper()
            if method == UNKNOWN_METHOD:
                table.pop(key, None)
            elif method in METHODS:
                table[key] = method
            else:
                raise ValueError(f"{name} {value!r}: {method!r} is not one of {METHODS} or "
                                 f"{UNKNOWN_METHOD!r}")
    return out


def checked_methods(owner: str, table: Mapping[str, Mapping[str, str]]
                    ) -> dict[str, dict[str, str]]:
    """A copy of the method ``table`` (field -> {value, upper-cased -> one of :data:`METHODS`});
    ValueError naming ``owner`` for a value that is not upper-cased or a method not known."""
    for name, values in table.items():
        for value, method in values.items():
            if method not in METHODS or value != value.strip().upper():
                raise ValueError(f"{owner}: {name} {value!r} -> {method!r} is not a "
                                 f"method of {METHODS}")
    return {name: dict(values) for name, values in table.items()}


def read_method(table: Mapping[str, Mapping[str, str]],
                fields: Mapping[str, object]) -> str | None:
    """The payment method ``fields`` name by ``table``: its fields tried in order, the first
    whose value (upper-cased) the table knows wins; None when none is known (an unknown or
    missing value is no method, never a guess). Pure: the one reading of a provider's method
    code, for callbacks (:meth:`Adapter.method_of`) and query answers
    (:meth:`adapters.pull.ConfirmApi.method_of`) alike."""
    for name, values in table.items():
        value = fields.get(name)
        if value is None or isinstance(value, bool):
            continue
        method = values.get(str(value).strip().upper())
        if method is not None:
            return method
    return None


class Adapter(ABC):
    """One payment provider: its callback protocol, and every other fact recon knows of it.

    Besides verifying and parsing callbacks, an adapter declares its display ``label``, the
    simulator's callback builder (:meth:`build_callback`: the base does the common work, the
    adapter gives its fields, signature and transport), whether an answer counts as delivered
    (:meth:`delivered`), its pull API if recon calls one (``pull_api``, see
    :mod:`adapters.pull`) and the column profiles of its settlement reports
    (``settlement_profiles``: tables with the keys of ``recon/data/settlement_profiles.toml``,
    ``providers`` left out: they are this provider's).
    """

    name: ClassVar[str]
    label: ClassVar[str]  # how people write the provider's name ("payOS", "VNPay")
    channel: ClassVar[str]
    http_method: ClassVar[str] = "POST"
    digest: ClassVar[str] = "sha256"  # hashlib name of the HMAC digest
    hex_signature: ClassVar[bool] = True  # compare case-insensitively as hex
    env_spec: ClassVar[EnvSpec]
    # the simulator (build_callback): how a call names its payment, what it can carry
    link: ClassVar[CallbackLink]
    link_field: ClassVar[str] = ""  # the provider's field holding the link, for messages
    simulated_statuses: ClassVar[tuple[PaymentStatus, ...]] = ("succeeded",)
    carries_memo: ClassVar[bool] = True
    pull_api: ClassVar[type[PullApi] | None] = None
    settlement_profiles: ClassVar[Mapping[str, Mapping[str, object]]] = {}
    # how the provider's own fields name the payment method: field -> {value, upper-cased ->
    # one of METHODS}, tried in order (the first field whose value is known wins). The values
    # are the providers' documented codes as far as recon knows them, not verified against a
    # merchant contract: an unknown value gives no method (None), never a guess.
    payment_methods: ClassVar[Mapping[str, Mapping[str, str]]] = {}
    # a provider that pays the centre in batches (None: its money lands on the account itself)
    payout: ClassVar[PayoutSpec | None] = None

    def __init__(
        self,
        *,
        secrets: Sequence[str],
        max_age_seconds: int = 300,
        clock: Clock | None = None,
    ) -> None:
        if not secrets or not secrets[0]:
            raise NotConfigured(f"{self.name}: no signing secret configured")
        cleaned = tuple(s for s in secrets if s)
        if max_age_seconds < 0:
            raise ValueError("max_age_seconds must be 0 (off) or positive")
        self._secrets: tuple[bytes, ...] = tuple(Secret(s.encode("utf-8")) for s in cleaned)
        self.max_age_seconds = max_age_seconds
        self.clock: Clock = clock or SystemClock()

    def __repr__(self) -> str:  # never shows secrets
        return f"<{type(self).__name__} {self.name}>"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, max_age_seconds: int, clock: Clock | None = None
    ) -> Self:
        """Build from ``RECON_*`` variables as :attr:`env_spec` declares them (the signing
        secret and its ``..._PREVIOUS`` twin as ``secrets``, then each of
        :attr:`EnvSpec.arguments`); :class:`NotConfigured` names every missing variable."""
        return cls(**cls.env_spec.arguments_from(env), max_age_seconds=max_age_seconds,
                   clock=clock)

    #: the operator's table replacing :attr:`payment_methods` for this instance (None: the
    #: adapter's own); see :meth:`use_methods`
    _method_table: Mapping[str, Mapping[str, str]] | None = None

    def use_methods(self, table: Mapping[str, Mapping[str, str]]) -> None:
        """Read payment methods by ``table`` (field -> {value, upper-cased -> one of
        :data:`METHODS`}) instead of :attr:`payment_methods`: the operator's effective table,
        :func:`merge_methods` of the adapter's and the operator's file."""
        self._method_table = checked_methods(self.name, table)

    def method_of(self, fields: Mapping[str, object]) -> str | None:
        """The payment method the call's ``fields`` name by :attr:`payment_methods` (or the
        table given to :meth:`use_methods`): :func:`read_method`."""
        return read_method(self._method_table if self._method_table is not None
                           else self.payment_methods, fields)

    # -- verification (template) ------------------------------------------------------------

    def verify(self, request: RawRequest) -> None:
        """Raise :class:`SignatureError`, :class:`ReplayError` or :class:`MalformedPayload`
        unless ``request`` is signed with the current or the previous secret (and, where the
        scheme has a timestamp, fresh relative to ``request.received_at``)."""
        parts = self._signed_parts(request)
        if not parts.signature:
            raise SignatureError(f"{self.name}: {parts.where} is missing")
        provided = self._normalise_signature(parts.signature)
        for index, secret in enumerate(self._secrets):
            for message in self._messages_for(parts, index):
                expected = self._expected_signature(secret, message)
                if hmac.compare_digest(expected, provided):
                    if index:
                        logger.info(
                            "%s callback verified with the previous secret; "
                            "finish the key rotation",
                            self.name,
                            extra={"provider": self.name},
                        )
                    if parts.timestamp is not None:
                        self._check_fresh(parts.timestamp, request.received_at)
                    return
        raise SignatureError(
            f"{self.name}: {parts.where} does not match (wrong secret, or the payload was altered)"
        )

    def _normalise_signature(self, signature: str) -> bytes:
        text = signature.strip()
        if self.hex_signature:
            text = text.lower()
        return text.encode("utf-8", "surrogatepass")

    def _messages_for(self, parts: SignedParts, secret_index: int) -> Sequence[bytes]:
        """The messages to try with secret number ``secret_index`` (override when the message
        depends on the key, as MoMo's embeds the access key)."""
        return parts.messages

    def _expected_signature(self, secret: bytes, message: bytes) -> bytes:
        return hmac.new(secret, message, self.digest).hexdigest().encode()

    def _sign(self, message: bytes) -> str:
        """Sign with the current secret, as the provider would (for :meth:`build_callback`)."""
        return self._expected_signature(self._secrets[0], message).decode()

    def _check_fresh(self, signed_at: datetime, received_at: datetime) -> None:
        if not self.max_age_seconds:
            return
        age = abs(received_at - signed_at)
        if age > timedelta(seconds=self.max_age_seconds):
            raise ReplayError(
                f"{self.name}: signed timestamp {signed_at.isoformat()} is "
                f"{int(age.total_seconds())} s away from when the call was received "
                f"({received_at.isoformat()}); the limit is {self.max_age_seconds} s"
            )

    # -- connector hooks ---------------------------------------------------------------------

    @abstractmethod
    def _signed_parts(self, request: RawRequest) -> SignedParts:
        """Extract the signature and the signed message(s) from the raw call."""

    @abstractmethod
    def _parse(self, request: RawRequest) -> CallbackEvent:
        """Turn a verified call into an event."""

    # -- public interface --------------------------------------------------------------------

    def parse_callback(self, request: RawRequest) -> CallbackEvent:
        """Verify ``request``, then parse it. Raises only :class:`AdapterError` subclasses."""
        self.verify(request)
        return self.parse_verified(request)

    def parse_verified(self, request: RawRequest) -> CallbackEvent:
        """Parse ``request`` that :meth:`verify` has just accepted (the second half of
        :meth:`parse_callback`, for a caller that must know which half refused a call).
        Raises only :class:`AdapterError` subclasses.

        An amount that is not positive (a 0 VND credit, whatever the provider calls its status)
        moves no money: it is :class:`NotAPayment`, answered with the provider's "ignored"
        answer and archived by the caller, never recorded as a payment."""
        event = self._parse(request)
        if event.amount <= 0:
            raise NotAPayment(f"{self.label} call for {event.amount} VND: an amount that is not "
                              "positive is not a payment")
        return event

    @classmethod
    @abstractmethod
    def acknowledge(cls, outcome: Outcome, detail: str | None = None) -> Acknowledgement:
        """The answer for ``outcome`` in this provider's protocol. ``detail`` (a reason, never
        a secret) goes where the protocol has room for free text. A classmethod: it needs no
        configuration, so ``adapter_class(name).acknowledge(Outcome.not_configured)`` works
        when :func:`adapters.get_adapter` could not build the adapter."""

    @classmethod
    def delivered(cls, status_code: int, body: bytes | str) -> bool:
        """Whether the provider takes this answer as delivered and stops retrying (for
        ``recon simulate pay``). Any 2xx here; adapters whose protocol says more override."""
        return 200 <= status_code < 300

    # -- the simulator -----------------------------------------------------------------------

    def build_callback(
        self,
        *,
        amount: int,
        reference: str | None = None,
        provider_txn_id: str | None = None,
        status: PaymentStatus = "succeeded",
        transaction_at: datetime | None = None,
        order_code: int | None = None,
        memo: str | None = None,
        path: str | None = None,
    ) -> RawRequest:
        """A correctly signed call as the provider would send it (for ``recon simulate pay``
        and tests). Raises :class:`NotSupported` for what the protocol cannot express and
        ValueError when the call would not name its payment (see :attr:`link`).

        The base checks the request against the adapter's declarations, fills the defaults
        (the time, a fresh transaction id) and makes the :class:`RawRequest`; the adapter
        gives its fields (:meth:`_callback_fields`), then signs them and puts them on the wire
        (:meth:`_wire`)."""
        self._require_status(status, self.simulated_statuses)
        self._require_link(reference, order_code, memo)
        if memo is not None and not self.carries_memo:
            raise NotSupported(f"{self.label} callbacks carry no description (memo)")
        now = self._now()
        paid_at = transaction_at or now
        payment = SimulatedPayment(
            amount=amount,
            reference=reference,
            provider_txn_id=provider_txn_id or self._new_txn_id(paid_at),
            status=status,
            paid_at=paid_at,
            sent_at=now,
            order_code=order_code,
            memo=memo,
        )
        wire = self._wire(self._callback_fields(payment), payment)
        return RawRequest(
            method=self.http_method,
            path=self._path(path),
            query_string=wire.query_string,
            headers=wire.headers,
            body=wire.body,
            received_at=now,
        )

    def _require_link(self, reference: str | None, order_code: int | None,
                      memo: str | None) -> None:
        where = f" in {self.link_field}" if self.link_field else ""
        if self.link is CallbackLink.reference and not reference:
            raise ValueError(f"a {self.label} callback carries our reference{where}: "
                             "pass reference")
        if self.link is CallbackLink.order_code and order_code is None:
            raise ValueError(f"a {self.label} callback carries our order code{where}: "
                             "pass order_code")
        if self.link is CallbackLink.memo and memo is None and not reference:
            raise ValueError("pass a reference or a memo (the transfer description)")

    @abstractmethod
    def _new_txn_id(self, paid_at: datetime) -> str:
        """A fresh provider transaction id, shaped as the provider's."""

    @abstractmethod
    def _callback_fields(self, payment: SimulatedPayment) -> dict[str, object]:
        """The provider's fields for ``payment`` (its names and formats), not yet signed."""

    @abstractmethod
    def _wire(self, fields: dict[str, object], payment: SimulatedPayment) -> Wire:
        """``fields`` signed and put on the wire as the provider sends them."""

    # -- helpers for connectors --------------------------------------------------------------

    def _now(self) -> datetime:
        now = self.clock.now()
        if now.tzinfo is None:
            raise ValueError("the clock must return timezone-aware datetimes")
        return now

    def _path(self, path: str | None) -> str:
        return path or f"/webhooks/{self.name}"

    def _require_status(self, status: str, supported: Sequence[str]) -> None:
        if status not in supported:
            raise NotSupported(
                f"{self.name} does not send {status!r} callbacks (it sends: {', '.join(supported)})"
            )


_BASE_KEYWORDS = frozenset({"secrets", "max_age_seconds", "clock"})


@dataclass(frozen=True)
class EnvSpec:
    """The ``RECON_*`` variables an adapter reads: ``required`` ones, ``optional`` ones (used by
    query/pull helpers, not by callbacks), and the secrets in ``rotating``, each of which may
    have a ``..._PREVIOUS`` twin accepted for verification during key rotation. The first
    ``rotating`` variable is the signing secret.

    ``arguments`` drives :meth:`Adapter.from_env`: ``(keyword, variable)`` pairs, each passed to
    the adapter's constructor as ``keyword`` — the value of a required variable, of an optional
    one (``None`` when unset or blank), or, for a ``rotating`` one, the current value then its
    previous twin (as for ``secrets``)."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    rotating: tuple[str, ...] = ()
    arguments: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.rotating:
            raise ValueError("an adapter has a signing secret: name it first in rotating")
        known = set(self.required) | set(self.optional)
        problems = [f"rotating {name} is not required" for name in self.rotating
                    if name not in self.required]
        problems += [f"argument {keyword}: {name} is neither required nor optional"
                     for keyword, name in self.arguments if name not in known]
        problems += [f"argument {keyword} is set by the base class"
                     for keyword, _ in self.arguments if keyword in _BASE_KEYWORDS]
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def secret(self) -> str:
        """The signing secret's variable."""
        return self.rotating[0]

    @property
    def all(self) -> tuple[str, ...]:
        previous = tuple(f"{name}_PREVIOUS" for name in self.rotating)
        return self.required + self.optional + previous

    def arguments_from(self, env: Mapping[str, str]) -> dict[str, Any]:
        """The constructor's keywords (except ``max_age_seconds`` and ``clock``) read from
        ``env``; :class:`NotConfigured` naming every missing required variable."""
        values = require_env(env, self.required)
        # values: str, None (optional, unset) or tuple[str, ...] (rotating)
        found: dict[str, Any] = {"secrets": rotating_secrets(env, self.secret)}
        for keyword, name in self.arguments:
            if name in self.rotating:
                found[keyword] = rotating_secrets(env, name)
            elif name in values:
                found[keyword] = values[name]
            else:
                found[keyword] = optional_env(env, name)
        return found


def require_env(env: Mapping[str, str], names: Sequence[str]) -> dict[str, str]:
    """The non-blank values of ``names``; :class:`NotConfigured` naming every missing one."""
    missing = [name for name in names if not (env.get(name) or "").strip()]
    if missing:
        raise NotConfigured(f"not set: {', '.join(missing)}")
    return {name: env[name] for name in names}


def optional_env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value is not None and value.strip() else None


def rotating_secrets(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """The secret ``name`` (required) then its optional ``name_PREVIOUS`` twin."""
    current = require_env(env, [name])[name]
    previous = optional_env(env, f"{name}_PREVIOUS")
    return (current, previous) if previous and previous != current else (current,)


def utf8(text: str) -> bytes:
    """UTF-8 bytes of any str, even one with lone surrogates (from JSON ``\\ud800`` escapes)."""
    return text.encode("utf-8", "surrogatepass")
