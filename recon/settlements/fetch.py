"""`recon settlements fetch`: pull statements and confirmations from the providers' APIs.

Every call goes through :class:`ProviderClient`: one ``requests.Session`` per provider, a
timeout on every call (connect 5 s, read 30 s by default), and bounded retries with exponential
backoff on connection errors, timeouts, HTTP 5xx and 429 (3 attempts by default; ``Retry-After``
is honoured up to the backoff ceiling). When the provider still does not answer the run stops
with a :class:`FetchError` that says what to do next; what was already committed stays.

- **SePay** (``GET {base}/userapi/transactions/list``, bearer token): the bank account's
  transactions for one Vietnam date, paged with ``since_id``/``limit``, become settlement lines
  (money in only; gross = net, fee 0). The raw JSON answers are the stored file's content, so
  nothing is lost and fetching the same data twice is refused as a duplicate. Statements
  overlap by nature, so a line whose SePay id an earlier *fetched* file already holds is
  counted (``already_settled``) and not stored again.
- **payOS** (payment-requests), **VNPay** (querydr), **ZaloPay** (/v2/query) and **MoMo**
  (/v2/gateway/api/query) confirm intents still waiting for their callback: each paid
  transaction they report is recorded through :func:`payments.recording.record_payment` (exactly
  once per provider transaction) with an audit event holding the provider's raw answer.

Configuration (``RECON_`` variables): ``<PROVIDER>_API_BASE`` (defaults in
:data:`recon.settlements.provider_queries.DEFAULT_BASES`), ``FETCH_CONNECT_TIMEOUT``,
``FETCH_READ_TIMEOUT``, ``FETCH_ATTEMPTS``, ``FETCH_BACKOFF`` (seconds, doubled per retry),
``SEPAY_API_TOKEN``, ``SEPAY_ACCOUNT_NUMBER`` (optional filter), ``SEPAY_PAGE_SIZE``
(default 5000), ``VNPAY_QUERY_IP`` (the vnp_IpAddr sent, default 127.0.0.1), and each
provider's keys as listed in PROVIDERS.md.
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
from urllib.parse import urlencode

import requests
from sqlalchemy import select

from recon.audit import chain as audit
from recon.clock import VN_TZ, Clock
from recon.config import Settings
from recon.db import Database
from recon.errors import ConfigurationError, FieldError, ReconError, ValidationError
from recon.models import PaymentIntent
from recon.payments.recording import PaymentEvent, record_payment
from recon.settlements.importer import ImportSummary, ParsedLine, check_provider, store_settlement
from recon.settlements.provider_queries import (
    DEFAULT_BASES,
    MOMO_QUERY_PATH,
    PAYOS_PAYMENT_REQUEST_PATH,
    SEPAY_LIST_PATH,
    VNPAY_QUERYDR_PATH,
    ZALOPAY_QUERY_PATH,
    ProtocolError,
    QueryOutcome,
    momo_query_body,
    payos_headers,
    read_momo_query,
    read_payos_payment_request,
    read_sepay_page,
    read_vnpay_querydr,
    read_zalopay_query,
    sepay_credit,
    sepay_list_params,
    vnpay_querydr_body,
    zalopay_app_trans_id,
    zalopay_query_form,
)

log = logging.getLogger(__name__)

LABELS = {"sepay": "SePay", "payos": "payOS", "vnpay": "VNPay", "zalopay": "ZaloPay",
          "momo": "MoMo", "casso": "Casso", "pos": "POS"}
CONFIRMERS = ("payos", "vnpay", "zalopay", "momo")
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
        self.label = LABELS.get(provider, provider)
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

    def call(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
             json_body: Any = None, form: Mapping[str, str] | None = None,
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


def client_for(provider: str, settings: Settings, *,
               session: requests.Session | None = None, sleep: Sleep = time.sleep
               ) -> ProviderClient:
    base = settings.get(f"{provider.upper()}_API_BASE") or DEFAULT_BASES[provider]
    return ProviderClient(provider, base, HttpPolicy.from_settings(settings), session=session,
                          sleep=sleep)


def _require(settings: Settings, provider: str, *names: str) -> list[str]:
    values = [settings.get(n) for n in names]
    missing = [f"RECON_{n}" for n, v in zip(names, values, strict=True) if not v]
    if missing:
        raise ConfigurationError(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set; cannot call "
            f"{LABELS[provider]}'s API",
            hint=f"Set {' and '.join(missing)} (from your {LABELS[provider]} merchant account) "
                 f"and run `recon settlements fetch --provider {provider}` again.")
    return [v for v in values if v is not None]


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
# SePay: the statement


def fetch_sepay(db: Database, clock: Clock, settings: Settings, day: date, *,
                actor: str = "fetch:sepay", client: ProviderClient | None = None
                ) -> ImportSummary:
    """One Vietnam day of the SePay account's transactions, stored as a settlement file."""
    (token,) = _require(settings, "sepay", "SEPAY_API_TOKEN")
    page_size = _int_setting(settings, "SEPAY_PAGE_SIZE", 5000)
    account = settings.get("SEPAY_ACCOUNT_NUMBER")
    own = client is None
    client = client or client_for("sepay", settings)
    pages: list[dict[str, Any]] = []
    txns: dict[str, Mapping[str, Any]] = {}
    try:
        since: int | None = None
        for _ in range(MAX_PAGES):
            params = sepay_list_params(day, limit=page_size, since_id=since,
                                       account_number=account)
            response = client.call("GET", SEPAY_LIST_PATH, params=params,
                                   headers={"Authorization": f"Bearer {token}",
                                            "Accept": "application/json"})
            if response.status_code != 200:
                raise _refused(client, response, "RECON_SEPAY_API_TOKEN")
            try:
                page = read_sepay_page(response.content)
                text = response.content.decode("utf-8")
            except (ProtocolError, UnicodeDecodeError) as exc:
                raise FetchError(f"SePay's transactions list could not be read: {exc}",
                                 hint="Nothing was stored. Run again later; if it persists, "
                                      "report the answer to SePay.") from None
            pages.append({"request": f"{SEPAY_LIST_PATH}?{urlencode(params)}",
                          "status": response.status_code, "body": text})
            fresh = 0
            for txn in page:
                key = str(txn.get("id"))
                if key not in txns:
                    txns[key] = txn
                    fresh += 1
            if len(page) < page_size or fresh == 0:
                break
            numeric = [int(k) for k in txns if k.isdigit()]
            if not numeric:
                break
            since = max(numeric) + 1
        else:
            raise FetchError(f"SePay returned more than {MAX_PAGES} pages for {day}",
                             hint="Raise RECON_SEPAY_PAGE_SIZE (at most 5000) and run again.")
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
            credit = sepay_credit(txn)
        except ProtocolError as exc:
            errors.append(FieldError("transaction", str(exc), position))
            continue
        if credit.amount_in == 0:
            outgoing += 1
            continue
        if credit.transaction_at.astimezone(VN_TZ).date() != day:
            other_days += 1
            continue
        memo = credit.content or credit.code or credit.reference_number
        lines.append(ParsedLine(
            line_no=position, provider_txn_id=credit.provider_txn_id, amount=credit.amount_in,
            fee=0, net=credit.amount_in, transaction_at=credit.transaction_at, settled_on=day,
            reference=memo[:255] if memo else None))
    if errors:
        raise ValidationError(errors, hint="Nothing was stored: SePay sent transactions recon "
                              "cannot take exactly. Report them to SePay, or import a corrected "
                              "statement with `recon settlements import`.")
    content = json.dumps({"provider": "sepay", "api": SEPAY_LIST_PATH, "date": day.isoformat(),
                          "account_number": account, "pages": pages},
                         ensure_ascii=False, indent=1).encode("utf-8")
    return store_settlement(
        db, clock, provider="sepay", filename=f"sepay-transactions-{day.isoformat()}.json",
        content=content, lines=lines, fmt="json", profile="sepay_api", source="fetch",
        actor=actor, rows=len(ordered), skipped=outgoing + other_days,
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


def waiting_intents(db: Database, provider: str, start: datetime, end: datetime
                    ) -> list[PaymentIntent]:
    """Intents of this channel, created in [start, end), not paid and not cancelled."""
    with db.read() as session:
        query = select(PaymentIntent).where(
            PaymentIntent.channel == provider,
            PaymentIntent.status.in_(("issued", "expired")),
            PaymentIntent.created_at >= start, PaymentIntent.created_at < end,
        ).order_by(PaymentIntent.id)
        if provider == "payos":
            query = query.where(PaymentIntent.order_code.is_not(None))
        return list(session.execute(query).scalars())


class _Confirmer:
    variables = ""

    def __init__(self, settings: Settings, clock: Clock, client: ProviderClient) -> None:
        self.settings = settings
        self.clock = clock
        self.client = client

    def query(self, intent: PaymentIntent) -> tuple[QueryOutcome, str, str | None]:
        """(outcome, the raw answer, the provider's order id to record)."""
        raise NotImplementedError

    def _body(self, response: requests.Response) -> bytes:
        if response.status_code != 200:
            raise _refused(self.client, response, self.variables)
        return response.content


class _PayOS(_Confirmer):
    variables = "RECON_PAYOS_CLIENT_ID and RECON_PAYOS_API_KEY"

    def __init__(self, settings: Settings, clock: Clock, client: ProviderClient) -> None:
        super().__init__(settings, clock, client)
        self.client_id, self.api_key, self.checksum_key = _require(
            settings, "payos", "PAYOS_CLIENT_ID", "PAYOS_API_KEY", "PAYOS_CHECKSUM_KEY")

    def query(self, intent: PaymentIntent) -> tuple[QueryOutcome, str, str | None]:
        path = PAYOS_PAYMENT_REQUEST_PATH.format(order_code=intent.order_code)
        response = self.client.call("GET", path,
                                    headers=payos_headers(self.client_id, self.api_key))
        body = self._body(response)
        return read_payos_payment_request(body, self.checksum_key), response.text, None


class _VNPay(_Confirmer):
    variables = "RECON_VNPAY_TMN_CODE and RECON_VNPAY_HASH_SECRET"

    def __init__(self, settings: Settings, clock: Clock, client: ProviderClient) -> None:
        super().__init__(settings, clock, client)
        self.tmn_code, self.secret = _require(settings, "vnpay", "VNPAY_TMN_CODE",
                                              "VNPAY_HASH_SECRET")
        self.ip = settings.get("VNPAY_QUERY_IP", "127.0.0.1") or "127.0.0.1"

    def query(self, intent: PaymentIntent) -> tuple[QueryOutcome, str, str | None]:
        now = self.clock.now()
        body = vnpay_querydr_body(
            tmn_code=self.tmn_code, hash_secret=self.secret,
            request_id=f"Q{intent.id}T{int(now.timestamp() * 1000)}"[:32],
            txn_ref=intent.reference, transaction_date=intent.created_at, create_date=now,
            ip_addr=self.ip, order_info=f"Truy van GD {intent.reference}")
        response = self.client.call("POST", VNPAY_QUERYDR_PATH, json_body=body)
        return read_vnpay_querydr(self._body(response), self.secret), response.text, None


class _ZaloPay(_Confirmer):
    variables = "RECON_ZALOPAY_APP_ID and RECON_ZALOPAY_KEY1"

    def __init__(self, settings: Settings, clock: Clock, client: ProviderClient) -> None:
        super().__init__(settings, clock, client)
        self.app_id, self.key1 = _require(settings, "zalopay", "ZALOPAY_APP_ID",
                                          "ZALOPAY_KEY1")

    def query(self, intent: PaymentIntent) -> tuple[QueryOutcome, str, str | None]:
        app_trans_id = intent.provider_order_id or zalopay_app_trans_id(intent.reference,
                                                                        intent.created_at)
        form = zalopay_query_form(app_id=self.app_id, key1=self.key1,
                                  app_trans_id=app_trans_id)
        response = self.client.call("POST", ZALOPAY_QUERY_PATH, form=form)
        return read_zalopay_query(self._body(response)), response.text, app_trans_id


class _MoMo(_Confirmer):
    variables = ("RECON_MOMO_PARTNER_CODE, RECON_MOMO_ACCESS_KEY and "
                 "RECON_MOMO_SECRET_KEY")

    def __init__(self, settings: Settings, clock: Clock, client: ProviderClient) -> None:
        super().__init__(settings, clock, client)
        self.partner, self.access_key, self.secret = _require(
            settings, "momo", "MOMO_PARTNER_CODE", "MOMO_ACCESS_KEY", "MOMO_SECRET_KEY")

    def query(self, intent: PaymentIntent) -> tuple[QueryOutcome, str, str | None]:
        now = self.clock.now()
        body = momo_query_body(partner_code=self.partner, access_key=self.access_key,
                               secret_key=self.secret, order_id=intent.reference,
                               request_id=f"{intent.reference}-Q{int(now.timestamp() * 1000)}")
        response = self.client.call("POST", MOMO_QUERY_PATH, json_body=body)
        return read_momo_query(self._body(response)), response.text, None


_CONFIRMER_TYPES: dict[str, type[_Confirmer]] = {
    "payos": _PayOS, "vnpay": _VNPay, "zalopay": _ZaloPay, "momo": _MoMo}


def confirm_waiting(db: Database, clock: Clock, settings: Settings, provider: str, *,
                    day: date | None = None, actor: str | None = None,
                    client: ProviderClient | None = None,
                    progress: Callable[[int], None] | None = None) -> ConfirmSummary:
    """Ask the provider about every intent still waiting (created on ``day`` in Vietnam time,
    or in the last 48 hours) and record each payment it confirms, one transaction per intent.

    A provider that does not answer stops the run (:class:`FetchError`); an answer that cannot
    be trusted or read for one intent is listed in ``errors`` and the run goes on."""
    actor = actor or f"fetch:{provider}"
    own = client is None
    client = client or client_for(provider, settings)
    try:
        confirmer = _CONFIRMER_TYPES[provider](settings, clock, client)
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
                order_code=intent.order_code if provider == "payos" else None,
                order_id=order_id, memo=paid.memo, bank_reference=paid.bank_reference)
            result = record_payment(session, clock, event, actor=actor,
                                    reference_prefix=settings.reference_prefix)
            if result.outcome in ("recorded", "updated"):
                summary.recorded += 1
                audit.record(session, clock, actor=actor, action="payment.confirmed_by_query",
                             entity_type="payment", entity_id=result.payment.id,
                             data={"provider": provider, "txn": paid.provider_txn_id,
                                   "intent_id": intent.id, "reference": intent.reference,
                                   "state": outcome.state, "detail": outcome.detail,
                                   "response": raw[:RAW_AUDIT_LIMIT]})
            else:
                summary.already_recorded += 1
            summary.payments.append({"reference": intent.reference,
                                     "provider_txn_id": paid.provider_txn_id,
                                     "amount": paid.amount, "outcome": result.outcome})


# ---------------------------------------------------------------------------------------------
# entry point


def fetch(db: Database, clock: Clock, settings: Settings, provider: str, *,
          day: date | None = None, actor: str | None = None,
          client: ProviderClient | None = None,
          progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """What ``recon settlements fetch --provider P [--date D]`` does; a JSON-ready summary.

    SePay: the statement of ``day`` (default: yesterday, Vietnam time). payOS, VNPay, ZaloPay,
    MoMo: confirm intents waiting since ``day`` (default: the last 48 hours)."""
    provider = check_provider(provider)
    if provider == "sepay":
        the_day = day or vietnam_today(clock) - timedelta(days=1)
        summary = fetch_sepay(db, clock, settings, the_day,
                              actor=actor or "fetch:sepay", client=client)
        return {"kind": "statement", **summary.as_dict()}
    if provider in CONFIRMERS:
        confirmed = confirm_waiting(db, clock, settings, provider, day=day, actor=actor,
                                    client=client, progress=progress)
        return {"kind": "confirmations", **confirmed.as_dict()}
    raise ReconError(
        f"{LABELS[provider]} has no query or statement API that recon pulls",
        hint=f"Import its report or statement instead: `recon settlements import --provider "
             f"{provider} FILE` (see `recon settlements profiles`).")


__all__ = ["CONFIRMERS", "ConfirmSummary", "FetchError", "HttpPolicy", "ProviderClient",
           "client_for", "confirm_waiting", "fetch", "fetch_sepay", "waiting_intents"]
