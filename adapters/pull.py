"""Pull APIs, pure: the providers' query and statement APIs as requests built and signed and
answers checked and read. No HTTP, no database: ``recon/settlements/fetch.py`` makes the calls
(timeouts, retries) and records what the adapter read.

An adapter whose provider has an API recon pulls names its class in ``Adapter.pull_api``:

- a :class:`ConfirmApi` asks about one order still waiting for its callback and reads the
  answer as a :class:`QueryOutcome` (payOS, VNPay, ZaloPay, MoMo); each payment it confirms
  carries the method the answer states, read by the adapter's own ``payment_methods`` table
  (:meth:`ConfirmApi.method_of`, the same reading and the same operator overrides as the
  callbacks'), from the fields of that table the answer has (``method_fields``);
- a :class:`StatementApi` pages through the bank account's transactions of one day, each read
  as a :class:`StatementLine` (SePay).

Money leaves here only as exact ints of VND: decimal strings (``"50000.00"``) are accepted when
their fraction is zero, anything else is a :class:`ProtocolError`, never rounded.
"""

from __future__ import annotations

import hmac
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode

from adapters.base import METHODS, NotConfigured, checked_methods, read_method
from adapters.fields import MAX_VND, VN_TZ

State = Literal["paid", "waiting", "failed", "not_found"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DECIMAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?")


class ProtocolError(ValueError):
    """A provider answer we cannot read or must not trust (bad signature, malformed)."""


@dataclass(frozen=True)
class ApiRequest:
    """One call to a provider's API: ``params`` go in the query string; the body is ``json``
    (serialised by the HTTP client), ``form`` fields, or ``body`` bytes sent exactly (when the
    signature is over the bytes; give its Content-Type in ``headers``) — at most one."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Mapping[str, object] | None = None
    form: Mapping[str, str] | None = None
    body: bytes | None = None

    def __post_init__(self) -> None:
        if sum(part is not None for part in (self.json, self.form, self.body)) > 1:
            raise ValueError("an API request has one body: json, form or body")

    @property
    def target(self) -> str:
        """The path with its query string, as a log or a stored file names the call."""
        return f"{self.path}?{urlencode(self.params)}" if self.params else self.path


@dataclass(frozen=True)
class ConfirmedPayment:
    """One payment a query API says was made."""

    provider_txn_id: str
    amount: int
    paid_at: datetime
    memo: str | None = None
    bank_reference: str | None = None  # the bank's reference of the credit (payOS: its id)
    #: how the payer paid (:data:`adapters.base.METHODS`), as the answer states it, read by
    #: :meth:`ConfirmApi.method_of`; None when the answer has no such field or a value the
    #: table does not know (never a guess)
    method: str | None = None
    #: the card was issued abroad, where the answer states it (no query answer does today)
    card_foreign: bool | None = None

    def __post_init__(self) -> None:
        if self.method is not None and self.method not in METHODS:
            raise ValueError(f"method must be None or one of {METHODS}, got {self.method!r}")


@dataclass(frozen=True)
class QueryOutcome:
    state: State
    detail: str
    payments: tuple[ConfirmedPayment, ...] = ()


@dataclass(frozen=True)
class WaitingOrder:
    """What a query needs of one payment intent still waiting for its callback."""

    id: int
    reference: str
    created_at: datetime
    order_code: int | None = None
    provider_order_id: str | None = None


@dataclass(frozen=True)
class StatementLine:
    """One transaction of a pulled statement; ``amount_in`` 0 means money out."""

    provider_txn_id: str
    amount_in: int
    amount_out: int
    transaction_at: datetime
    memo: str | None


class PullApi(ABC):
    """A provider API recon calls, configured from ``RECON_*`` variables.

    ``required`` are the variables without which no call is made (in the order an error names
    them); ``credentials`` those the provider checks when it refuses us (HTTP 401/403);
    ``optional`` the others it reads."""

    default_base: ClassVar[str]
    required: ClassVar[tuple[str, ...]]
    credentials: ClassVar[tuple[str, ...]] = ()
    optional: ClassVar[tuple[str, ...]] = ()

    def __init__(self, env: Mapping[str, str]) -> None:
        missing = self.missing(env)
        if missing:
            raise NotConfigured(f"not set: {', '.join(missing)}")
        names = self.required + self.optional
        self._values = {name: env[name] for name in names if (env.get(name) or "").strip()}

    @classmethod
    def missing(cls, env: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(name for name in cls.required if not (env.get(name) or "").strip())

    @classmethod
    def credential_names(cls) -> tuple[str, ...]:
        return cls.credentials or cls.required

    def value(self, name: str, default: str = "") -> str:
        return self._values.get(name, default)


class ConfirmApi(PullApi):
    """Asks the provider about one order still waiting for its callback.

    The method of a payment it confirms is read as a callback's is: by :attr:`payment_methods`
    (the adapter's own table, the same object), or the operator's effective table given to
    :meth:`use_methods` (``RECON_PAYMENT_METHODS``, applied by
    ``recon.payments.methods.apply_query_methods``), restricted to :attr:`method_fields`: the
    fields of that table the provider's answer has. None of them (the default): the answer
    states no method, and its payments get none."""

    #: the adapter's ``payment_methods`` table (the same object: one table, one truth)
    payment_methods: ClassVar[Mapping[str, Mapping[str, str]]] = {}
    #: the fields of :attr:`payment_methods` the answer carries (tried in the table's order)
    method_fields: ClassVar[tuple[str, ...]] = ()
    #: the operator's effective table (None: :attr:`payment_methods`); see :meth:`use_methods`
    _method_table: Mapping[str, Mapping[str, str]] | None = None

    def use_methods(self, table: Mapping[str, Mapping[str, str]]) -> None:
        """Read methods by ``table`` instead of :attr:`payment_methods`: the operator's
        effective table, as :meth:`adapters.base.Adapter.use_methods` takes it."""
        self._method_table = checked_methods(type(self).__name__, table)

    def method_of(self, fields: Mapping[str, object]) -> str | None:
        """The payment method the answer's ``fields`` name (:func:`adapters.base.read_method`
        over the table's :attr:`method_fields`); None when it names none the table knows."""
        table = self._method_table if self._method_table is not None else \
            self.payment_methods
        return read_method({name: values for name, values in table.items()
                            if name in self.method_fields}, fields)

    @abstractmethod
    def request(self, order: WaitingOrder, now: datetime) -> ApiRequest:
        """The signed query for ``order``, made at ``now``."""

    @abstractmethod
    def read(self, body: bytes) -> QueryOutcome:
        """The provider's answer; :class:`ProtocolError` when it cannot be read or trusted."""

    def order_id(self, order: WaitingOrder) -> str | None:
        """The provider's id of the order, recorded with a payment it confirms."""
        return None


class StatementApi(PullApi):
    """Pages through the account's transactions of one day (a Vietnam date)."""

    #: the settlement file's profile name (the file is the raw answers, not a CSV)
    profile: ClassVar[str]
    #: the variable setting the page size, and its default (also the largest allowed)
    page_size_variable: ClassVar[str]
    max_page_size: ClassVar[int]

    @abstractmethod
    def page_request(self, day: date, *, limit: int, cursor: str | None) -> ApiRequest:
        """The call for one page of ``day``'s transactions, from ``cursor`` (None: the first)."""

    @abstractmethod
    def read_page(self, body: bytes) -> list[Mapping[str, Any]]:
        """The transactions of one page; :class:`ProtocolError` when unreadable."""

    @abstractmethod
    def key(self, transaction: Mapping[str, Any]) -> str:
        """The transaction's id (pages overlap: the same id is one transaction)."""

    @abstractmethod
    def next_cursor(self, keys: Iterable[str]) -> str | None:
        """Where the next page starts after the transactions seen so far (None: done)."""

    @abstractmethod
    def line(self, transaction: Mapping[str, Any]) -> StatementLine:
        """One transaction read exactly; :class:`ProtocolError` otherwise."""

    def file_name(self, provider: str, day: date) -> str:
        return f"{provider}-transactions-{day.isoformat()}.json"

    def file_header(self, provider: str, day: date) -> dict[str, object]:
        """What the stored file says of itself before its ``pages`` (the raw answers)."""
        return {"provider": provider, "date": day.isoformat()}


# ---------------------------------------------------------------------------------------------
# reading answers


def load_answer(body: bytes, what: str) -> Any:
    """JSON with every non-integer number kept as an exact Decimal."""
    try:
        return json.loads(body.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:
        snippet = body[:120].decode("utf-8", "replace")
        raise ProtocolError(f"{what} is not JSON ({exc.__class__.__name__}): {snippet!r}"
                            ) from None


def answer_object(body: bytes, what: str) -> dict[str, Any]:
    doc = load_answer(body, what)
    if not isinstance(doc, dict):
        raise ProtocolError(f"{what} is not a JSON object")
    return doc


def exact_vnd(value: object, what: str) -> int:
    """An amount from a provider as an exact int of VND: ints, and decimal strings or numbers
    whose fraction is zero (``"50000.00"``). Anything else is a :class:`ProtocolError`."""
    if isinstance(value, bool) or value is None:
        raise ProtocolError(f"{what} is not an amount: {value!r}")
    if isinstance(value, int):
        amount = value
    elif isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise ProtocolError(f"{what} has a fraction of a dong: {value}")
        amount = int(value)
    elif isinstance(value, str):
        match = _DECIMAL.fullmatch(value.strip())
        if not match:
            raise ProtocolError(f"{what} is not a plain decimal amount: {value!r}")
        if (match.group(2) or "").strip("0"):
            raise ProtocolError(f"{what} has a fraction of a dong: {value!r}")
        if len(match.group(1).lstrip("0")) > 16:
            raise ProtocolError(f"{what} is too large: {value!r}")
        amount = int(match.group(1))
    else:
        raise ProtocolError(f"{what} is not an amount: {value!r}")
    if amount < 0 or amount > MAX_VND:
        raise ProtocolError(f"{what} is out of range: {amount}")
    return amount


def id_text(value: object, what: str) -> str:
    """An id sent as text or a whole number, as text of at most 64 characters."""
    if isinstance(value, bool) or value is None:
        raise ProtocolError(f"{what} is missing")
    if isinstance(value, Decimal):
        raise ProtocolError(f"{what} is not an id: {value}")
    text = str(value).strip()
    if not text or len(text) > 64:
        raise ProtocolError(f"{what} is not a usable id: {text!r}")
    return text


def utc(value: datetime) -> datetime:
    """Naive times are Vietnam time (how providers send them); the result is in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=VN_TZ)
    return value.astimezone(UTC)


def vn_datetime(text: object, what: str) -> datetime:
    """``YYYY-MM-DD HH:mm:ss`` (Vietnam time) or ISO 8601; returned in UTC."""
    if not isinstance(text, str) or not text.strip():
        raise ProtocolError(f"{what} is missing")
    try:
        return utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise ProtocolError(f"{what} is not a date and time: {text!r}") from None


def epoch_ms(value: object, what: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise ProtocolError(f"{what} is not a time in epoch milliseconds: {value!r}")
    try:
        return _EPOCH + timedelta(milliseconds=int(value))
    except OverflowError:
        raise ProtocolError(f"{what} is not a plausible time: {value!r}") from None


def same_hex(expected: str, received: str) -> bool:
    """Constant-time comparison of two hex signatures, case-insensitively."""
    return hmac.compare_digest(expected.lower().encode("ascii", "replace"),
                               received.lower().encode("ascii", "replace"))


__all__ = [
    "ApiRequest", "ConfirmApi", "ConfirmedPayment", "ProtocolError", "PullApi",
    "QueryOutcome", "State", "StatementApi", "StatementLine", "WaitingOrder", "answer_object",
    "epoch_ms", "exact_vnd", "id_text", "load_answer", "same_hex", "utc", "vn_datetime",
]
