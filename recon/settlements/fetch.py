"""`recon settlements fetch`: pull statements and confirmations from the providers' APIs.

Every call goes through :class:`ProviderClient`: one ``requests.Session`` per provider, a
timeout on every call (connect 5 s, read 30 s by default), and bounded retries with exponential
backoff on connection errors, timeouts, HTTP 5xx and 429 (3 attempts by default; ``Retry-After``
is honoured up to the backoff ceiling). When the provider still does not answer the run stops
with a :class:`FetchError` that says what to do next; what was already committed stays.

What to ask and how to read the answer is the provider's adapter's (``Adapter.pull_api``, see
:mod:`adapters.pull`); this module makes the calls and writes what they bring:

- a **statement** API (SePay's ``/userapi/transactions/list``): the bank account's
  transactions for one Vietnam date, paged, become settlement lines (money in only; gross =
  net, fee 0). The raw JSON answers are the stored file's content, so nothing is lost and
  fetching the same data twice is refused as a duplicate. Statements overlap by nature, so a
  line whose id an earlier *fetched* file already holds is counted (``already_settled``) and
  not stored again.
- a **confirmation** API (payOS payment-requests, VNPay querydr, ZaloPay /v2/query, MoMo
  /v2/gateway/api/query) confirms intents still waiting for their callback: each paid
  transaction it reports is recorded through :func:`payments.recording.record_payment` (exactly
  once per provider transaction) with an audit event holding the provider's raw answer, and
  with the method the answer states, read by the adapter's table and the operator's
  ``RECON_PAYMENT_METHODS`` as a webhook's is (:func:`payments.methods.apply_query_methods`;
  none when the answer names none, or a code the table does not know).

Configuration (``RECON_`` variables): ``<PROVIDER>_API_BASE`` (default: the adapter's),
``FETCH_CONNECT_TIMEOUT``, ``FETCH_READ_TIMEOUT``, ``FETCH_ATTEMPTS``, ``FETCH_BACKOFF``
(seconds, doubled per retry), and each provider's own (its pull API's ``required`` and
``optional`` variables: ``SEPAY_API_TOKEN``, ``SEPAY_ACCOUNT_NUMBER``, ``SEPAY_PAGE_SIZE``,
``VNPAY_QUERY_IP``, the keys listed in PROVIDERS.md).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any

import requests
from sqlalchemy import select

from adapters import CallbackLink, adapter_class, label
from adapters.pull import (
    ApiRequest,
    ConfirmApi,
    ProtocolError,
    PullApi,
    QueryOutcome,
    StatementApi,
    WaitingOrder,
)
from recon.audit import chain as audit
from recon.clock import VN_TZ, Clock
from recon.config import Settings
from recon.db import Database
from recon.errors import ConfigurationError, FieldError, ReconError, ValidationError
from recon.models import PaymentIntent
from recon.payments.methods import MethodsFileError, apply_query_methods
from recon.payments.recording import PaymentEvent, record_payment
from recon.receipts.issuing import receipting
from recon.settlements.importer import ImportSummary, ParsedLine, check_provider, store_settlement

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504}) | frozenset(range(505, 600))
MAX_PAGES = 1000
RAW_AUDIT_LIMIT = 20_000
DEFAULT_LOOKBACK = timedelta(hours=48)
USER_AGENT = "recon-settlements-fetch/1"

Sleep = Callable[[float], None]


class FetchError(ReconError):
    """The provider did not answer usefully (after the retries, where retrying made sense)."""

    http_status = 502
    code = "provider_unavailable"


def _float_setting(settings: Settings, name: str, default: float) -> float:
    raw = settings.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"RECON_{name} must be a number of seconds, got {raw!r}",
                                 hint=f"Set RECON_{name} to e.g. {default:g}.") from None
    if not value > 0:
        raise ConfigurationError(f"RECON_{name} must be more than 0, got {raw!r}")
    return value


def _int_setting(settings: Settings, name: str, default: int, *, minimum: int = 1) -> int:
    raw = settings.get(name)
    if raw is None:
        return default
    if not raw.strip().isdigit() or int(raw) < minimum:
        raise ConfigurationError(f"RECON_{name} must be a whole number of at least {minimum}, "
                                 f"got {raw!r}", hint=f"Set RECON_{name} to e.g. {default}.")
    return int(raw)


@dataclass(frozen=True)
class HttpPolicy:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    attempts: int = 3
    backoff: float = 0.5
    max_wait: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpPolicy:
        return cls(
            connect_timeout=_float_setting(settings, "FETCH_CONNECT_TIMEOUT", 5.0),
            read_timeout=_float_setting(settings, "FETCH_READ_TIMEOUT", 30.0),
            attempts=_int_setting(settings, "FETCH_ATTEMPTS", 3),
            backoff=_float_setting(settings, "FETCH_BACKOFF", 0.5),
        )

    def wait_before(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before ``attempt`` (2, 3, ...)."""
        wait: float = self.backoff * 2.0 ** (attempt - 2)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(wait, self.max_wait)


def _retry_after(response: requests.Response) -> float | None:
    for header in ("Retry-After", "x-sepay-userapi-retry-after"):
        value = response.headers.get(header)
        if value and value.strip().isdigit():
            return float(value.strip())
    return None


class ProviderClient:
    """One provider's HTTP client: a ``requests.Session``, timeouts, bounded retries."""

    def __init__(self, provider: str, base_url: str, policy: HttpPolicy, *,
                 session: requests.Session | None = None, sleep: Sleep = time.sleep) -> None:
        self.provider = provider
        self.label = label(provider)
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self._sleep = sleep
        self.calls = 0

    def __enter__(self) -> ProviderClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def send(self, request: ApiRequest) -> requests.Response:
        """:meth:`call` with a request an adapter built."""
        return self.call(request.method, request.path, params=request.params or None,
                         json_body=request.json,
                         form=request.body if request.body is not None else request.form,
                         headers=request.headers)

    def call(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
             json_body: Any = None, form: Mapping[str, str] | bytes | None = None,
             headers: Mapping[str, str] | None = None) -> requests.Response:
        """The provider's answer (any status below 500 except 429), or :class:`FetchError`
        once ``policy.attempts`` tries have failed on a connection error, a timeout, 5xx or
        429."""
        url = self.base_url + path
        timeout = (self.policy.connect_timeout, self.policy.read_timeout)
        last = ""
        retry_after: float | None = None
        for attempt in range(1, self.policy.attempts + 1):
            if attempt > 1:
                self._sleep(self.policy.wait_before(attempt, retry_after))
            retry_after = None
            self.calls += 1
            try:
                response = self.session.request(
                    method, url, params=params, json=json_body, data=form,
                    headers=dict(headers or {}), timeout=timeout, allow_redirects=False)
            except requests.Timeout as exc:
                last = (f"no connection within {self.policy.connect_timeout:g} s"
                        if isinstance(exc, requests.ConnectTimeout)
                        else f"no answer within {self.policy.read_timeout:g} s")
            except requests.ConnectionError:
                last = "could not connect"
            except requests.RequestException as exc:
                raise FetchError(f"cannot call {self.label} at {url}: {exc}",
                                 hint=f"Check RECON_{self.provider.upper()}_API_BASE.") from None
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                last = f"HTTP {response.status_code}"
                retry_after = _retry_after(response)
                response.close()
            log.warning("%s %s attempt %d/%d failed: %s", self.label, path, attempt,
                        self.policy.attempts, last)
        raise FetchError(
            f"{self.label} did not answer after {self.policy.attempts} attempts ({last}) at "
            f"{url}",
            hint=f"Check the network and RECON_{self.provider.upper()}_API_BASE, then run "
                 f"`recon settlements fetch --provider {self.provider}` again; what was "
                 "already recorded stays, nothing is recorded twice.")


def pull_api(provider: str) -> type[PullApi] | None:
    """The adapter's pull API class (None: recon pulls nothing from this provider)."""
    return adapter_class(provider).pull_api


def client_for(provider: str, settings: Settings, *,
               session: requests.Session | None = None, sleep: Sleep = time.sleep
               ) -> ProviderClient:
    api = pull_api(provider)
    base = settings.get(f"{provider.upper()}_API_BASE") or (api.default_base if api else "")
    if not base:
        raise ConfigurationError(f"{label(provider)} has no API that recon calls",
                                 hint=f"Set RECON_{provider.upper()}_API_BASE to call one.")
    return ProviderClient(provider, base, HttpPolicy.from_settings(settings), session=session,
                          sleep=sleep)


def _and(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def configured(api: type[PullApi], provider: str, settings: Settings) -> PullApi:
    """The provider's pull API with its ``RECON_*`` variables, or a ConfigurationError that
    names each missing one."""
    missing = api.missing(settings.env)
    if missing:
        who = label(provider)
        raise ConfigurationError(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set; cannot call "
            f"{who}'s API",
            hint=f"Set {' and '.join(missing)} (from your {who} merchant account) "
                 f"and run `recon settlements fetch --provider {provider}` again.")
    return api(settings.env)


def _refused(client: ProviderClient, response: requests.Response, variables: str) -> ReconError:
    snippet = response.text[:200] if response.content else ""
    if response.status_code in (401, 403):
        return ConfigurationError(
            f"{client.label} refused our credentials (HTTP {response.status_code}): {snippet}",
            hint=f"Set {variables} to valid values from your {client.label} account and run "
                 "again.")
    return FetchError(f"{client.label} answered HTTP {response.status_code}: {snippet}",
                      hint=f"Check RECON_{client.provider.upper()}_API_BASE and the request; run "
                           "again later if the provider is at fault.")


def vietnam_today(clock: Clock) -> date:
    return clock.now().astimezone(VN_TZ).date()


# ---------------------------------------------------------------------------------------------
# statements


def fetch_statement(db: Database, clock: Clock, settings: Settings, provider: str, day: date,
                    *, actor: str | None = None, client: ProviderClient | None = None
                    ) -> ImportSummary:
    """One Vietnam day of the provider's account statement, stored as a settlement file."""
    api_class = pull_api(provider)
    if api_class is None or not issubclass(api_class, StatementApi):
        raise ReconError(f"{label(provider)} has no statement API that recon pulls")
    api = configured(api_class, provider, settings)
    assert isinstance(api, StatementApi)
    who = label(provider)
    size_name = api.page_size_variable.removeprefix("RECON_")
    page_size = _int_setting(settings, size_name, api.max_page_size)
    own = client is None
    client = client or client_for(provider, settings)
    pages: list[dict[str, Any]] = []
    txns: dict[str, Mapping[str, Any]] = {}
    try:
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            request = api.page_request(day, limit=page_size, cursor=cursor)
            response = client.send(request)
            if response.status_code != 200:
                raise _refused(client, response, _and(api.credential_names()))
            try:
                page = api.read_page(response.content)
                text = response.content.decode("utf-8")
            except (ProtocolError, UnicodeDecodeError) as exc:
                raise FetchError(f"{who}'s transactions list could not be read: {exc}",
                                 hint="Nothing was stored. Run again later; if it persists, "
                                      f"report the answer to {who}.") from None
            pages.append({"request": request.target, "status": response.status_code,
                          "body": text})
            fresh = 0
            for txn in page:
                key = api.key(txn)
                if key not in txns:
                    txns[key] = txn
                    fresh += 1
            if len(page) < page_size or fresh == 0:
                break
            cursor = api.next_cursor(txns)
            if cursor is None:
                break
        else:
            raise FetchError(f"{who} returned more than {MAX_PAGES} pages for {day}",
                             hint=f"Raise {api.page_size_variable} (at most "
                                  f"{api.max_page_size}) and run again.")
    finally:
        if own:
            client.close()

    lines: list[ParsedLine] = []
    errors: list[FieldError] = []
    outgoing = other_days = 0
    ordered = sorted(txns.items(), key=lambda kv: (not kv[0].isdigit(),
                                                   int(kv[0]) if kv[0].isdigit() else 0, kv[0]))
    for position, (_, txn) in enumerate(ordered, start=1):
        try:
            credit = api.line(txn)
        except ProtocolError as exc:
            errors.append(FieldError("transaction", str(exc), position))
            continue
        if credit.amount_in == 0:
            outgoing += 1
            continue
        if credit.transaction_at.astimezone(VN_TZ).date() != day:
            other_days += 1
            continue
        lines.append(ParsedLine(
            line_no=position, provider_txn_id=credit.provider_txn_id, amount=credit.amount_in,
            fee=0, net=credit.amount_in, transaction_at=credit.transaction_at, settled_on=day,
            reference=credit.memo[:255] if credit.memo else None))
    if errors:
        raise ValidationError(errors, hint=f"Nothing was stored: {who} sent transactions recon "
                              f"cannot take exactly. Report them to {who}, or import a "
                              "corrected statement with `recon settlements import`.")
    content = json.dumps({**api.file_header(provider, day), "pages": pages},
                         ensure_ascii=False, indent=1).encode("utf-8")
    return store_settlement(
        db, clock, provider=provider, filename=api.file_name(provider, day),
        content=content, lines=lines, fmt="json", profile=api.profile, source="fetch",
        actor=actor or f"fetch:{provider}", rows=len(ordered), skipped=outgoing + other_days,
        skip_already_fetched=True,
        extra={"date": day.isoformat(), "pages": len(pages), "outgoing_skipped": outgoing,
               "other_days_skipped": other_days})


# ---------------------------------------------------------------------------------------------
# confirmers: payments still waiting for their callback


@dataclass
class ConfirmSummary:
    provider: str
    window_from: datetime
    window_to: datetime
    checked: int = 0
    paid: int = 0
    recorded: int = 0
    already_recorded: int = 0
    still_waiting: int = 0
    failed: int = 0
    not_found: int = 0
    calls: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["window_from"] = self.window_from.isoformat()
        out["window_to"] = self.window_to.isoformat()
        return out


def _window(clock: Clock, day: date | None) -> tuple[datetime, datetime]:
    if day is None:
        now = clock.now()
        return now - DEFAULT_LOOKBACK, now
    start = datetime(day.year, day.month, day.day, tzinfo=VN_TZ)
    return start, start + timedelta(days=1)


def _asks_by_order_code(provider: str) -> bool:
    """The provider knows our order by its numeric order code (payOS)."""
    return adapter_class(provider).link is CallbackLink.order_code


def waiting_intents(db: Database, provider: str, start: datetime, end: datetime
                    ) -> list[PaymentIntent]:
    """Intents of the provider's channel, created in [start, end), not paid and not
    cancelled."""
    with db.read() as session:
        query = select(PaymentIntent).where(
            PaymentIntent.channel == adapter_class(provider).channel,
            PaymentIntent.status.in_(("issued", "expired")),
            PaymentIntent.created_at >= start, PaymentIntent.created_at < end,
        ).order_by(PaymentIntent.id)
        if _asks_by_order_code(provider):
            query = query.where(PaymentIntent.order_code.is_not(None))
        return list(session.execute(query).scalars())


def waiting_order(intent: PaymentIntent) -> WaitingOrder:
    return WaitingOrder(id=intent.id, reference=intent.reference, created_at=intent.created_at,
                        order_code=intent.order_code, provider_order_id=intent.provider_order_id)


class _Confirmer:
    """Asks the provider's :class:`ConfirmApi` about one intent over ``client``."""

    def __init__(self, api: ConfirmApi, clock: Clock, client: ProviderClient) -> None:
        self.api = api
        self.clock = clock
        self.client = client
        self.variables = _and(api.credential_names())

    def query(self, intent: PaymentIntent) -> tuple[QueryOutcome, str, str | None]:
        """(outcome, the raw answer, the provider's order id to record)."""
        order = waiting_order(intent)
        response = self.client.send(self.api.request(order, self.clock.now()))
        if response.status_code != 200:
            raise _refused(self.client, response, self.variables)
        return self.api.read(response.content), response.text, self.api.order_id(order)


def confirm_waiting(db: Database, clock: Clock, settings: Settings, provider: str, *,
                    day: date | None = None, actor: str | None = None,
                    client: ProviderClient | None = None,
                    progress: Callable[[int], None] | None = None) -> ConfirmSummary:
    """Ask the provider about every intent still waiting (created on ``day`` in Vietnam time,
    or in the last 48 hours) and record each payment it confirms, one transaction per intent.

    A provider that does not answer stops the run (:class:`FetchError`); an answer that cannot
    be trusted or read for one intent is listed in ``errors`` and the run goes on."""
    api_class = pull_api(provider)
    if api_class is None or not issubclass(api_class, ConfirmApi):
        raise ReconError(f"{label(provider)} has no query API that recon calls")
    actor = actor or f"fetch:{provider}"
    api = configured(api_class, provider, settings)
    assert isinstance(api, ConfirmApi)
    try:  # the operator's method codes, as the webhooks read them; checked before any call
        apply_query_methods(api, provider, settings.env)
    except MethodsFileError as exc:
        raise ConfigurationError(str(exc), hint="Correct the file RECON_PAYMENT_METHODS "
                                 "names (or unset it) and run the fetch again; nothing was "
                                 "asked or recorded.") from None
    own = client is None
    client = client or client_for(provider, settings)
    try:
        confirmer = _Confirmer(api, clock, client)
        start, end = _window(clock, day)
        summary = ConfirmSummary(provider, start, end)
        for intent in waiting_intents(db, provider, start, end):
            summary.checked += 1
            if progress:
                progress(1)
            try:
                outcome, raw, order_id = confirmer.query(intent)
            except ProtocolError as exc:
                summary.errors.append({"reference": intent.reference, "error": str(exc)})
                continue
            _count(summary, outcome)
            summary.results.append({"reference": intent.reference, "state": outcome.state,
                                    "detail": outcome.detail})
            if outcome.payments:
                _record(db, clock, settings, provider, intent, outcome, raw, order_id, actor,
                        summary)
        summary.calls = client.calls
        return summary
    finally:
        if own:
            client.close()


def _count(summary: ConfirmSummary, outcome: QueryOutcome) -> None:
    if outcome.state == "paid":
        summary.paid += 1
    elif outcome.state == "waiting":
        summary.still_waiting += 1
    elif outcome.state == "failed":
        summary.failed += 1
    else:
        summary.not_found += 1


def _record(db: Database, clock: Clock, settings: Settings, provider: str,
            intent: PaymentIntent, outcome: QueryOutcome, raw: str, order_id: str | None,
            actor: str, summary: ConfirmSummary) -> None:
    with db.transaction() as session:
        for paid in outcome.payments:
            event = PaymentEvent(
                provider=provider, provider_txn_id=paid.provider_txn_id,
                channel=intent.channel, amount=paid.amount, status="succeeded",
                paid_at=paid.paid_at, reference=intent.reference,
                order_code=intent.order_code if _asks_by_order_code(provider) else None,
                order_id=order_id, memo=paid.memo, bank_reference=paid.bank_reference,
                method=paid.method, card_foreign=paid.card_foreign)
            result = record_payment(session, clock, event, actor=actor,
                                    reference_prefix=settings.reference_prefix,
                                    receipts=receipting(settings.env))
            if result.outcome in ("recorded", "updated"):
                summary.recorded += 1
                audit.record(session, clock, actor=actor, action="payment.confirmed_by_query",
                             entity_type="payment", entity_id=result.payment.id,
                             data={"provider": provider, "txn": paid.provider_txn_id,
                                   "intent_id": intent.id, "reference": intent.reference,
                                   "state": outcome.state, "detail": outcome.detail,
                                   "method": paid.method, "response": raw[:RAW_AUDIT_LIMIT]})
            else:
                summary.already_recorded += 1
            summary.payments.append({"reference": intent.reference,
                                     "provider_txn_id": paid.provider_txn_id,
                                     "amount": paid.amount, "method": paid.method,
                                     "outcome": result.outcome})


# ---------------------------------------------------------------------------------------------
# entry point


def fetch(db: Database, clock: Clock, settings: Settings, provider: str, *,
          day: date | None = None, actor: str | None = None,
          client: ProviderClient | None = None,
          progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """What ``recon settlements fetch --provider P [--date D]`` does; a JSON-ready summary.

    A statement API (SePay): the statement of ``day`` (default: yesterday, Vietnam time). A
    confirmation API (payOS, VNPay, ZaloPay, MoMo): confirm intents waiting since ``day``
    (default: the last 48 hours)."""
    provider = check_provider(provider)
    api = pull_api(provider)
    if api is not None and issubclass(api, StatementApi):
        the_day = day or vietnam_today(clock) - timedelta(days=1)
        summary = fetch_statement(db, clock, settings, provider, the_day, actor=actor,
                                  client=client)
        return {"kind": "statement", **summary.as_dict()}
    if api is not None and issubclass(api, ConfirmApi):
        confirmed = confirm_waiting(db, clock, settings, provider, day=day, actor=actor,
                                    client=client, progress=progress)
        return {"kind": "confirmations", **confirmed.as_dict()}
    raise ReconError(
        f"{label(provider)} has no query or statement API that recon pulls",
        hint=f"Import its report or statement instead: `recon settlements import --provider "
             f"{provider} FILE` (see `recon settlements profiles`).")


__all__ = [
    "ConfirmSummary",
    "FetchError",
    "HttpPolicy",
    "ProviderClient",
    "client_for",
    "configured",
    "confirm_waiting",
    "fetch",
    "fetch_statement",
    "pull_api",
    "waiting_intents",
    "waiting_order",
]
