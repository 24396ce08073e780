"""Finance's reads: the discrepancy queue (filters, search, sorting, keyset pages), the whole
story of one discrepancy, and streamed CSV/XLSX exports of any filtered view.

The queue never uses ``OFFSET``: a page is "the next ``limit`` rows after this (sort value, id)"
(or before it, going back), so page 2,000 costs what page 1 costs. The sort keys are
``detected_at`` (an index with the status), ``|delta|`` and ``kind``, each with ``id`` as the
tie-breaker, so the order is total and a cursor names exactly one place in it.

Search takes what an officer has in hand: a dossier code, our payment reference, or the
provider's transaction id, and finds each through an index (dossier code, intent reference,
``(provider, provider_txn_id)`` of payments and of settlement lines).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal
from urllib.parse import parse_qsl

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session, aliased

from adapters import PROVIDERS as ADAPTER_PROVIDERS
from recon.clock import VN_TZ
from recon.db import Database
from recon.models import (
    Agency,
    AuditEvent,
    Callback,
    Discrepancy,
    Dossier,
    FeeLine,
    Payment,
    PaymentAllocation,
    PaymentIntent,
    Receipt,
    ReconRun,
    SettlementFile,
    SettlementLine,
    User,
)
from recon.models.reconciliation import DISCREPANCY_KINDS, last_seen_run
from recon.review.cells import safe_cell
from recon.review.exports import Sheet, write_sheets_xlsx, write_table_xlsx
from recon.review.reports import vn_midnight
from recon.scope import (
    ALL,
    Scope,
    agency_condition,
    discrepancy_condition,
    discrepancy_visible,
    payment_visible,
)

STATUSES: Final = ("open", "pending", "resolved", "auto_resolved", "all")
SORTS: Final = ("oldest", "newest", "amount_desc", "amount_asc", "kind")
# every provider adapter's payments, and those no adapter reports (the cash desk; VietQR)
PROVIDERS: Final = ADAPTER_PROVIDERS.plus("cash", "vietqr")
CHANNELS: Final = ("vietqr", "vnpay", "momo", "zalopay", "payos", "pos", "cash")
MAX_LIMIT: Final = 200
DEFAULT_LIMIT: Final = 50
MAX_SEARCH: Final = 80

Direction = Literal["after", "before"]


class FilterError(ValueError):
    """A filter value that cannot be used; ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class QueueFilters:
    kinds: tuple[str, ...] = ()
    status: str = "open"
    agency: str | None = None
    provider: str | None = None
    channel: str | None = None
    date_from: date | None = None
    date_to: date | None = None  # inclusive (Vietnam dates of detected_at)
    amount_min: int | None = None  # on |delta|
    amount_max: int | None = None
    q: str | None = None
    assigned: str | None = None  # "me", "none" or a user id
    sort: str = "oldest"
    #: the caller's agencies (issue 16): never from the query string, set by the view
    scope: Scope = field(default=ALL, compare=False)

    def as_args(self) -> list[tuple[str, str]]:
        """The filters as query-string pairs (what links and the export carry)."""
        out: list[tuple[str, str]] = [("kind", k) for k in self.kinds]
        if self.status != "open":
            out.append(("status", self.status))
        for name in ("agency", "provider", "channel", "q", "assigned"):
            value = getattr(self, name)
            if value:
                out.append((name, str(value)))
        if self.date_from:
            out.append(("from", self.date_from.isoformat()))
        if self.date_to:
            out.append(("to", self.date_to.isoformat()))
        if self.amount_min is not None:
            out.append(("min", str(self.amount_min)))
        if self.amount_max is not None:
            out.append(("max", str(self.amount_max)))
        if self.sort != "oldest":
            out.append(("sort", self.sort))
        return out


def _amount_arg(raw: str, name: str) -> int:
    text = raw.replace(".", "").replace(",", "").replace(" ", "").replace("\u00a0", "")
    text = text.replace("₫", "").replace("đ", "")
    if not (text.isascii() and text.isdigit()) or len(text) > 15:
        raise FilterError(name, "must be a whole number of VND, e.g. 180000 or 180.000")
    return int(text)


def _date_arg(raw: str, name: str) -> date:
    try:
        if "/" in raw:
            day, month, year = (int(part) for part in raw.split("/"))
            return date(year, month, day)
        return date.fromisoformat(raw)
    except ValueError:
        raise FilterError(name, "must be a date, e.g. 2021-03-31 or 31/03/2021") from None


def parse_filters(args: Mapping[str, Any], getlist: Any = None) -> QueueFilters:
    """Filters from query arguments (``kind`` may repeat). Raises :class:`FilterError`."""
    def one(name: str) -> str:
        value = args.get(name)
        return str(value).strip() if value is not None else ""

    kinds_raw: list[str] = list(getlist("kind")) if getlist else (
        [one("kind")] if one("kind") else [])
    kinds = tuple(dict.fromkeys(k for k in kinds_raw if k))
    for k in kinds:
        if k not in DISCREPANCY_KINDS:
            raise FilterError("kind", f"unknown kind {k!r}")
    status = one("status") or "open"
    if status not in STATUSES:
        raise FilterError("status", f"must be one of {', '.join(STATUSES)}")
    provider = one("provider") or None
    if provider and provider not in PROVIDERS:
        raise FilterError("provider", f"unknown provider {provider!r}")
    channel = one("channel") or None
    if channel and channel not in CHANNELS:
        raise FilterError("channel", f"unknown channel {channel!r}")
    sort = one("sort") or "oldest"
    if sort not in SORTS:
        raise FilterError("sort", f"must be one of {', '.join(SORTS)}")
    q = one("q") or None
    if q and len(q) > MAX_SEARCH:
        raise FilterError("q", f"at most {MAX_SEARCH} characters")
    assigned = one("assigned") or None
    if assigned and assigned not in ("me", "none") and not assigned.isdigit():
        raise FilterError("assigned", "must be me, none or a user id")
    filters = QueueFilters(
        kinds=kinds, status=status, agency=one("agency") or None, provider=provider,
        channel=channel,
        date_from=_date_arg(one("from"), "from") if one("from") else None,
        date_to=_date_arg(one("to"), "to") if one("to") else None,
        amount_min=_amount_arg(one("min"), "min") if one("min") else None,
        amount_max=_amount_arg(one("max"), "max") if one("max") else None,
        q=q, assigned=assigned, sort=sort)
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise FilterError("to", "must not be before the start date")
    if filters.amount_min is not None and filters.amount_max is not None and \
            filters.amount_min > filters.amount_max:
        raise FilterError("max", "must not be below the minimum")
    return filters


def filters_from_query_string(query: str) -> QueueFilters:
    pairs = parse_qsl(query, keep_blank_values=False)
    single = dict(pairs)
    return parse_filters(single, lambda name: [v for k, v in pairs if k == name])


# --------------------------------------------------------------------------- the query

D = Discrepancy
P = aliased(Payment, name="qp")
L = aliased(SettlementLine, name="ql")
DS = aliased(Dossier, name="qd")
AG = aliased(Agency, name="qa")
US = aliased(User, name="qu")
def _abs_delta() -> Any:
    return func.abs(func.coalesce(D.delta, 0))


def _sort_columns(sort: str) -> tuple[Any, bool]:
    """(the sort expression, ascending?)"""
    if sort in ("oldest", "newest"):
        return D.detected_at, sort == "oldest"
    if sort in ("amount_desc", "amount_asc"):
        return _abs_delta(), sort == "amount_asc"
    return D.kind, True


@dataclass(frozen=True)
class SearchHits:
    """What a search text names: dossiers, payments and settlement lines (found by index)."""

    dossier_ids: tuple[int, ...] = ()
    payment_ids: tuple[int, ...] = ()
    line_ids: tuple[int, ...] = ()


MAX_HITS: Final = 1000


def search_hits(session: Session, q: str) -> SearchHits:
    """Look the text up as a dossier code, our payment reference (an intent's), a provider
    transaction id (of a payment or a settlement line) or a bank's reference of a payment (what
    a bank statement shows for a SePay, Casso or payOS transfer), each through its index. Resolving
    these first, then filtering discrepancies by id lists, lets the database use the
    discrepancies' own indexes instead of scanning them against three subqueries."""
    text = q.strip()
    upper = text.upper()
    dossiers = tuple(session.scalars(select(Dossier.id).where(
        Dossier.code.in_({text, upper})).limit(MAX_HITS)))
    intents = select(PaymentIntent.id).where(PaymentIntent.reference == upper)
    payments = tuple(session.scalars(select(Payment.id).where(or_(
        and_(Payment.provider.in_(PROVIDERS), Payment.provider_txn_id == text),
        and_(Payment.provider.in_(PROVIDERS), Payment.bank_reference.in_({text, upper})),
        Payment.intent_id.in_(intents))).limit(MAX_HITS)))
    lines = tuple(session.scalars(select(SettlementLine.id).where(
        SettlementLine.provider.in_(PROVIDERS), SettlementLine.provider_txn_id == text)
        .limit(MAX_HITS)))
    return SearchHits(dossiers, payments, lines)


def _search_condition(hits: SearchHits) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if hits.dossier_ids:
        parts.append(D.dossier_id.in_(hits.dossier_ids))
    if hits.payment_ids:
        parts.append(D.payment_id.in_(hits.payment_ids))
    if hits.line_ids:
        parts.append(D.settlement_line_id.in_(hits.line_ids))
    return or_(*parts) if parts else false()


def conditions(filters: QueueFilters, *, user_id: int | None = None,
               hits: SearchHits | None = None) -> tuple[list[ColumnElement[bool]], set[str]]:
    """WHERE conditions for ``filters`` and the joins they need (``dossier``, ``payment``).
    A search needs its ``hits`` (:func:`search_hits`)."""
    out: list[ColumnElement[bool]] = []
    joins: set[str] = set()
    if not filters.scope.is_all:
        out.append(discrepancy_condition(filters.scope, D))
    if filters.status == "pending":
        out += [D.status == "open", D.proposed_by.is_not(None)]
    elif filters.status != "all":
        out.append(D.status == filters.status)
    if len(filters.kinds) == 1:
        out.append(D.kind == filters.kinds[0])
    elif filters.kinds:
        out.append(D.kind.in_(filters.kinds))
    if filters.provider:
        out.append(D.provider == filters.provider)
    if filters.agency:
        joins.add("dossier")
        out.append(DS.agency_id == select(Agency.id).where(
            Agency.code == filters.agency).scalar_subquery())
    if filters.channel:
        joins.add("payment")
        out.append(P.channel == filters.channel)
    if filters.date_from:
        out.append(D.detected_at >= vn_midnight(filters.date_from))
    if filters.date_to:
        out.append(D.detected_at < vn_midnight(filters.date_to + timedelta(days=1)))
    if filters.amount_min is not None:
        out.append(_abs_delta() >= filters.amount_min)
    if filters.amount_max is not None:
        out.append(_abs_delta() <= filters.amount_max)
    if filters.q:
        out.append(_search_condition(hits or SearchHits()))
    if filters.assigned == "none":
        out.append(D.assigned_to_id.is_(None))
    elif filters.assigned == "me":
        out.append(D.assigned_to_id == (user_id if user_id is not None else -1))
    elif filters.assigned:
        out.append(D.assigned_to_id == int(filters.assigned))
    return out, joins


@dataclass(frozen=True)
class QueueRow:
    id: int
    kind: str
    status: str
    detected_at: datetime
    provider: str | None
    expected_amount: int | None
    actual_amount: int | None
    delta: int | None
    explanation: str
    explanation_en: str | None
    dossier_id: int | None
    dossier_code: str | None
    agency_code: str | None
    payment_id: int | None
    channel: str | None
    provider_txn_id: str | None
    reference: str | None
    settlement_line_id: int | None
    assigned_to: str | None
    proposed_resolution_type: str | None
    proposed_by: str | None
    resolution_type: str | None
    resolution_note: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    within_tolerance: bool

    @property
    def amount(self) -> int:
        return abs(self.delta or 0)


def _row_select() -> Select[*tuple[Any, ...]]:
    return (
        select(D.id, D.kind, D.status, D.detected_at, D.provider, D.expected_amount,
               D.actual_amount, D.delta, D.explanation, D.explanation_en, D.dossier_id,
               DS.code, AG.code, D.payment_id, P.channel,
               func.coalesce(P.provider_txn_id, L.provider_txn_id),
               func.coalesce(P.reference, L.reference), D.settlement_line_id, US.username,
               D.proposed_resolution_type, D.proposed_by, D.resolution_type,
               D.resolution_note, D.resolved_by, D.resolved_at, D.within_tolerance)
        .select_from(D)
        .outerjoin(DS, DS.id == D.dossier_id)
        .outerjoin(AG, AG.id == DS.agency_id)
        .outerjoin(P, P.id == D.payment_id)
        .outerjoin(L, L.id == D.settlement_line_id)
        .outerjoin(US, US.id == D.assigned_to_id)
    )


def _as_row(r: Any) -> QueueRow:
    values: list[Any] = list(r)
    values[25] = bool(values[25])
    return QueueRow(*values)


def encode_cursor(sort: str, row: QueueRow) -> str:
    if sort in ("oldest", "newest"):
        value = row.detected_at.astimezone(UTC).isoformat()
    elif sort in ("amount_desc", "amount_asc"):
        value = str(row.amount)
    else:
        value = row.kind
    return f"{value}~{row.id}"


def decode_cursor(sort: str, cursor: str) -> tuple[Any, int]:
    value, sep, id_text = cursor.rpartition("~")
    if not sep or not id_text.isdigit():
        raise FilterError("cursor", "this page link is not valid; start from the first page")
    try:
        if sort in ("oldest", "newest"):
            parsed: Any = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
        elif sort in ("amount_desc", "amount_asc"):
            parsed = int(value)
        else:
            parsed = value
    except ValueError:
        raise FilterError("cursor", "this page link is not valid; start from the first page"
                          ) from None
    return parsed, int(id_text)


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int
    next_cursor: str | None
    prev_cursor: str | None
    filters: QueueFilters
    limit: int
    first_page: bool


def _narrow(filters: QueueFilters, where: list[ColumnElement[bool]], joins: set[str]
            ) -> Select[*tuple[Any, ...]]:
    """Only what filtering and ordering need: ids and the sort key, with the joins the
    filters use. Sorting these narrow rows is cheap; the wide row (explanation, joins for
    display) is fetched afterwards for the page's rows alone."""
    column, _ascending = _sort_columns(filters.sort)
    stmt = select(D.id.label("id"), column.label("k")).select_from(D)
    if "dossier" in joins:
        stmt = stmt.join(DS, DS.id == D.dossier_id)
    if "payment" in joins:
        stmt = stmt.join(P, P.id == D.payment_id)
    return stmt.where(*where)


def queue_select(filters: QueueFilters, *, user_id: int | None = None,
                 hits: SearchHits | None = None) -> Select[*tuple[Any, ...]]:
    """Every row of the filtered view in sort order (for exports)."""
    where, _joins = conditions(filters, user_id=user_id, hits=hits)
    column, ascending = _sort_columns(filters.sort)
    order = (column.asc(), D.id.asc()) if ascending else (column.desc(), D.id.desc())
    return _row_select().where(*where).order_by(*order)


def count(session: Session, filters: QueueFilters, *, user_id: int | None = None,
          hits: SearchHits | None = None) -> int:
    if filters.q and hits is None:
        hits = search_hits(session, filters.q)
    where, joins = conditions(filters, user_id=user_id, hits=hits)
    stmt = select(func.count()).select_from(D)
    if "dossier" in joins:
        stmt = stmt.join(DS, DS.id == D.dossier_id)
    if "payment" in joins:
        stmt = stmt.join(P, P.id == D.payment_id)
    return int(session.scalar(stmt.where(*where)) or 0)


def queue(session: Session, filters: QueueFilters, *, limit: int = DEFAULT_LIMIT,
          cursor: str | None = None, direction: Direction = "after",
          user_id: int | None = None, with_total: bool = True) -> QueuePage:
    """One page of the filtered queue. ``cursor`` + ``direction``: the rows after (or
    before) that place in the order; none: the first page."""
    limit = max(1, min(limit, MAX_LIMIT))
    hits = search_hits(session, filters.q) if filters.q else None
    where, joins = conditions(filters, user_id=user_id, hits=hits)
    column, ascending = _sort_columns(filters.sort)
    forward = direction == "after"
    go_up = ascending == forward  # walking the order upwards?
    if cursor:
        value, last_id = decode_cursor(filters.sort, cursor)
        # a row value comparison: one index range on (key, id) where there is one
        mark = tuple_(literal(value, type_=column.type), literal(last_id, type_=D.id.type))
        where = [*where, tuple_(column, D.id) > mark if go_up else tuple_(column, D.id) < mark]
    order = (column.asc(), D.id.asc()) if go_up else (column.desc(), D.id.desc())
    page_ids = _narrow(filters, where, joins).order_by(*order).limit(limit + 1).subquery()
    outer = (page_ids.c.k.asc(), page_ids.c.id.asc()) if go_up else (
        page_ids.c.k.desc(), page_ids.c.id.desc())
    stmt = _row_select().join(page_ids, page_ids.c.id == D.id).order_by(*outer)
    rows = [_as_row(r) for r in session.execute(stmt)]
    more = len(rows) > limit
    rows = rows[:limit]
    if not forward:
        rows.reverse()
    if forward:
        next_cursor = encode_cursor(filters.sort, rows[-1]) if more and rows else None
        prev_cursor = encode_cursor(filters.sort, rows[0]) if cursor and rows else None
    else:
        next_cursor = encode_cursor(filters.sort, rows[-1]) if rows else None
        prev_cursor = encode_cursor(filters.sort, rows[0]) if more and rows else None
    total = count(session, filters, user_id=user_id, hits=hits) if with_total else -1
    return QueuePage(rows, total, next_cursor, prev_cursor, filters, limit,
                     first_page=not cursor or (not forward and not more))


# --------------------------------------------------------------------------- detail


@dataclass
class CallbackView:
    id: int
    provider: str
    received_at: datetime
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: str
    signature_valid: bool | None
    outcome: str
    outcome_detail: str | None
    response_status: int | None


@dataclass
class FileView:
    id: int
    provider: str
    filename: str
    sha256: str
    size: int
    source: str
    imported_at: datetime
    imported_by: str
    row_count: int


@dataclass
class Story:
    """Everything about one discrepancy, for the detail page."""

    discrepancy: Discrepancy
    assigned_to: User | None
    dossier: Dossier | None
    fee_lines: list[FeeLine]
    assessed: int
    intents: list[PaymentIntent]
    payments: list[Payment]
    callbacks: dict[int, list[CallbackView]]  # payment id -> callbacks
    lines: list[SettlementLine]
    files: dict[int, FileView]
    runs: list[ReconRun]
    related: list[Discrepancy]
    audit: list[AuditEvent]
    proposal: dict[str, Any] | None
    proposal_dossier: Dossier | None
    users: list[User] = field(default_factory=list)
    dossier_codes: dict[int, str] = field(default_factory=dict)  # payment id -> dossier code
    # payment id -> its allocations (dossier code, amount) when it was split across dossiers
    allocations: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    # payment id -> the dossier's share of it, for split payments that paid the dossier
    shares: dict[int, int] = field(default_factory=dict)
    # payment id -> its issued e-receipts (one, or one per share of a split transfer)
    receipts: dict[int, list[Receipt]] = field(default_factory=dict)

    @property
    def paid(self) -> int:
        """Succeeded payments matched to the dossier, and its shares of split payments."""
        if self.dossier is None:
            return 0
        own = sum(p.amount for p in self.payments
                  if p.dossier_id == self.dossier.id and p.status == "succeeded")
        return own + sum(self.shares.get(p.id, 0) for p in self.payments
                         if p.dossier_id is None and p.status == "succeeded")


SECRET_HEADER_WORDS: Final = ("authorization", "signature", "secret", "key", "token", "cookie",
                              "mac", "checksum")
SECRET_FIELD_WORDS: Final = ("signature", "securehash", "mac", "checksum", "secret", "apikey")


def _mask_headers(raw: str) -> list[tuple[str, str]]:
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return [("(raw)", raw)]
    items = data.items() if isinstance(data, dict) else []
    out = []
    for name, value in items:
        secret = any(w in str(name).lower() for w in SECRET_HEADER_WORDS)
        out.append((str(name), "••••" if secret and value else str(value)))
    return out


def _mask_fields(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("••••" if any(w in str(k).lower().replace("_", "") for w in
                                  SECRET_FIELD_WORDS) and v else _mask_fields(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_fields(v) for v in value]
    return value


def pretty_body(body: bytes) -> str:
    """JSON indented (signatures masked; card numbers were masked on arrival), a form body
    as ``key = value`` lines, anything else as text."""
    text = body.decode("utf-8", errors="replace")
    if not text.strip():
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict | list):
        if isinstance(data, dict) and isinstance(data.get("data"), str):
            with contextlib.suppress(ValueError):  # ZaloPay: its payload is a JSON string
                data = {**data, "data": json.loads(data["data"])}
        return json.dumps(_mask_fields(data), ensure_ascii=False, indent=2)
    if "=" in text and "\n" not in text.strip():
        pairs = parse_qsl(text, keep_blank_values=True)
        if pairs:
            return "\n".join(f"{k} = {_mask_pair(k, v)}" for k, v in pairs)
    return text


def _mask_pair(key: str, value: str) -> str:
    return "••••" if any(w in key.lower().replace("_", "") for w in SECRET_FIELD_WORDS) \
        else value


def _callback_view(cb: Callback) -> CallbackView:
    query = [(k, _mask_pair(k, v)) for k, v in parse_qsl(cb.query_string or "",
                                                          keep_blank_values=True)]
    return CallbackView(cb.id, cb.provider, cb.received_at, cb.method, cb.path, query,
                        _mask_headers(cb.headers), pretty_body(cb.body or b""),
                        cb.signature_valid, cb.outcome, cb.outcome_detail, cb.response_status)


def latest_proposal(session: Session, discrepancy_id: int) -> dict[str, Any] | None:
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "discrepancy",
                                 AuditEvent.entity_id == str(discrepancy_id),
                                 AuditEvent.action == "discrepancy.resolution_proposed")
        .order_by(AuditEvent.id.desc()).limit(1)).first()
    if event is None:
        return None
    try:
        data: dict[str, Any] = json.loads(event.data)
    except ValueError:
        return None
    data["event_id"] = event.id
    return data


def story(session: Session, discrepancy_id: int, scope: Scope = ALL) -> Story | None:
    """The whole story of one discrepancy; None when there is none, or when it is out of
    ``scope`` (the caller learns nothing more than "not found")."""
    d = session.get(Discrepancy, discrepancy_id)
    if d is None or not discrepancy_visible(session, discrepancy_id, scope):
        return None
    dossier = session.get(Dossier, d.dossier_id) if d.dossier_id else None
    line = session.get(SettlementLine, d.settlement_line_id) if d.settlement_line_id else None
    payment = session.get(Payment, d.payment_id) if d.payment_id else None
    if dossier is None and payment is not None and payment.dossier_id:
        dossier = session.get(Dossier, payment.dossier_id)
    fee_lines: list[FeeLine] = []
    intents: list[PaymentIntent] = []
    payments: dict[int, Payment] = {}
    if payment is not None:
        payments[payment.id] = payment
    if dossier is not None:
        fee_lines = list(session.scalars(select(FeeLine).where(
            FeeLine.dossier_id == dossier.id).order_by(FeeLine.position)))
        intents = list(session.scalars(select(PaymentIntent).where(
            PaymentIntent.dossier_id == dossier.id).order_by(PaymentIntent.id)))
        for p in session.scalars(select(Payment).where(Payment.dossier_id == dossier.id)):
            payments[p.id] = p
        for p in session.scalars(select(Payment).join(
                PaymentAllocation, PaymentAllocation.payment_id == Payment.id).where(
                PaymentAllocation.dossier_id == dossier.id)):  # split payments that paid it
            payments[p.id] = p
    if line is not None:  # its payment, by its own id or by the bank's reference
        for p in session.scalars(select(Payment).where(
                Payment.provider == line.provider,
                or_(Payment.provider_txn_id == line.provider_txn_id,
                    Payment.provider_txn_id == (line.original_txn_id or line.provider_txn_id),
                    Payment.bank_reference == line.provider_txn_id))):
            payments[p.id] = p
    intent_ids = {i.id for i in intents}
    missing_intents = {p.intent_id for p in payments.values()
                       if p.intent_id and p.intent_id not in intent_ids}
    if missing_intents:
        intents += list(session.scalars(select(PaymentIntent).where(
            PaymentIntent.id.in_(missing_intents))))
    ordered = sorted(payments.values(), key=lambda p: (p.paid_at, p.id))
    keys = {(p.provider, p.provider_txn_id) for p in ordered}
    keys |= {(p.provider, p.bank_reference) for p in ordered if p.bank_reference}
    if line is not None:
        keys.add((line.provider, line.provider_txn_id))
    lines: list[SettlementLine] = []
    if keys:
        lines = list(session.scalars(select(SettlementLine).where(
            or_(tuple_(SettlementLine.provider, SettlementLine.provider_txn_id).in_(
                sorted(keys)), tuple_(SettlementLine.provider, SettlementLine.original_txn_id)
                .in_(sorted(keys))))  # and the refund lines naming them (0032)
            .order_by(SettlementLine.settled_on, SettlementLine.id)))
    files: dict[int, FileView] = {}
    file_ids = {ln.file_id for ln in lines}
    if file_ids:
        for row in session.execute(select(
                SettlementFile.id, SettlementFile.provider, SettlementFile.filename,
                SettlementFile.sha256, SettlementFile.size, SettlementFile.source,
                SettlementFile.imported_at, SettlementFile.imported_by,
                SettlementFile.row_count).where(SettlementFile.id.in_(file_ids))):
            files[row[0]] = FileView(*row)
    callbacks: dict[int, list[CallbackView]] = {}
    txns = {p.provider_txn_id for p in ordered}
    by_key = {(p.provider, p.provider_txn_id): p.id for p in ordered}
    callback_ids = {p.callback_id for p in ordered if p.callback_id}
    if txns or callback_ids:
        found = session.scalars(select(Callback).where(or_(
            Callback.provider_txn_id.in_(txns), Callback.id.in_(callback_ids)))
            .order_by(Callback.received_at, Callback.id))
        for cb in found:
            pid = cb.payment_id if cb.payment_id in payments else by_key.get(
                (cb.provider, cb.provider_txn_id or ""))
            if pid is None:
                pid = next((p.id for p in ordered if p.callback_id == cb.id), None)
            if pid is not None:
                callbacks.setdefault(pid, []).append(_callback_view(cb))
    runs: list[ReconRun] = []
    if d.first_run_id:
        runs = list(session.scalars(select(ReconRun).where(
            ReconRun.id >= d.first_run_id,
            ReconRun.id <= (session.scalar(select(last_seen_run(d.last_run_id, d.status)))
                            or d.first_run_id))
            .order_by(ReconRun.id.desc()).limit(20)))
    related_conditions = []
    if dossier is not None:
        related_conditions.append(Discrepancy.dossier_id == dossier.id)
    if payments:
        related_conditions.append(Discrepancy.payment_id.in_(list(payments)))
    if line is not None:
        related_conditions.append(Discrepancy.settlement_line_id == line.id)
    related: list[Discrepancy] = []
    if related_conditions:
        related = list(session.scalars(select(Discrepancy).where(
            or_(*related_conditions), Discrepancy.id != d.id,
            discrepancy_condition(scope)).order_by(Discrepancy.id)
            .limit(50)))
    entity_conditions = [and_(AuditEvent.entity_type == "discrepancy",
                              AuditEvent.entity_id.in_([str(d.id)] + [str(r.id) for r in
                                                                      related]))]
    if dossier is not None:
        entity_conditions.append(and_(AuditEvent.entity_type == "dossier",
                                      AuditEvent.entity_id.in_([dossier.code,
                                                                str(dossier.id)])))
    if payments:
        entity_conditions.append(and_(AuditEvent.entity_type == "payment",
                                      AuditEvent.entity_id.in_([str(i) for i in payments])))
    if intents:
        entity_conditions.append(and_(AuditEvent.entity_type == "payment_intent",
                                      AuditEvent.entity_id.in_([str(i.id) for i in intents])))
    if files:
        entity_conditions.append(and_(AuditEvent.entity_type == "settlement_file",
                                      AuditEvent.entity_id.in_([str(i) for i in files])))
    audit_events = list(session.scalars(select(AuditEvent).where(or_(*entity_conditions))
                                        .order_by(AuditEvent.id).limit(300)))
    proposal = latest_proposal(session, d.id) if d.proposed_by else None
    proposal_dossier = None
    if proposal and proposal.get("dossier_id"):
        proposal_dossier = session.get(Dossier, int(proposal["dossier_id"]))
    assigned = session.get(User, d.assigned_to_id) if d.assigned_to_id else None
    users = list(session.scalars(select(User).where(
        User.active.is_(True), User.role.in_(("finance", "admin"))).order_by(User.username)))
    dossier_ids = {p.dossier_id for p in ordered if p.dossier_id}
    codes = {i: c for i, c in session.execute(select(Dossier.id, Dossier.code).where(
        Dossier.id.in_(dossier_ids)))} if dossier_ids else {}
    dossier_codes = {p.id: codes[p.dossier_id] for p in ordered if p.dossier_id in codes}
    allocations: dict[int, list[tuple[str, int]]] = {}
    shares: dict[int, int] = {}
    split_ids = [p.id for p in ordered if p.dossier_id is None]
    if split_ids:
        for pid, did, code, amount in session.execute(
                select(PaymentAllocation.payment_id, PaymentAllocation.dossier_id, Dossier.code,
                       PaymentAllocation.amount)
                .join(Dossier, Dossier.id == PaymentAllocation.dossier_id)
                .where(PaymentAllocation.payment_id.in_(split_ids))
                .order_by(PaymentAllocation.payment_id, PaymentAllocation.id)):
            allocations.setdefault(pid, []).append((code, int(amount)))
            if dossier is not None and did == dossier.id:
                shares[pid] = int(amount)
    receipts: dict[int, list[Receipt]] = {}
    if ordered:
        for receipt in session.scalars(select(Receipt).where(
                Receipt.payment_id.in_([p.id for p in ordered]), Receipt.status == "issued")
                .order_by(Receipt.id)):
            receipts.setdefault(receipt.payment_id or 0, []).append(receipt)
    return Story(d, assigned, dossier, fee_lines, sum(f.amount for f in fee_lines), intents,
                 ordered, callbacks, lines, files, runs, related, audit_events, proposal,
                 proposal_dossier, users, dossier_codes, allocations, shares, receipts)


def receipt_document(session: Session, receipt_id: int, scope: Scope = ALL
                     ) -> tuple[str, bytes] | None:
    """(file name, signed XML) of an issued receipt; None when there is none, or when its
    payment is out of ``scope``."""
    receipt = session.get(Receipt, receipt_id)
    if (receipt is None or receipt.status != "issued" or receipt.document is None
            or receipt.payment_id is None
            or not payment_visible(session, receipt.payment_id, scope)):
        return None
    name = f"{receipt.form_code}-{receipt.series}-{receipt.number:08d}.xml"
    return name, receipt.document.encode("utf-8")


def dossier_summary(session: Session, code: str, scope: Scope = ALL
                    ) -> tuple[Dossier, int, int] | None:
    """(dossier, assessed, paid) for the manual-match picker (None: none in ``scope``)."""
    dossier = session.scalars(select(Dossier).where(
        Dossier.code == code.strip(), agency_condition(Dossier.agency_id, scope))).first()
    if dossier is None:
        return None
    assessed = int(session.scalar(select(func.coalesce(func.sum(FeeLine.amount), 0)).where(
        FeeLine.dossier_id == dossier.id)) or 0)
    paid = int(session.scalar(select(func.coalesce(func.sum(Payment.amount), 0)).where(
        Payment.dossier_id == dossier.id, Payment.status == "succeeded")) or 0)
    return dossier, assessed, paid


def file_content(session: Session, file_id: int, scope: Scope = ALL
                 ) -> tuple[str, bytes] | None:
    """A settlement file's name and bytes. A file is one provider's report and spans
    agencies: only the whole deployment downloads it (None otherwise, as for no file)."""
    if not scope.is_all:
        return None
    row = session.execute(select(SettlementFile.filename, SettlementFile.content).where(
        SettlementFile.id == file_id)).first()
    return (row[0], bytes(row[1])) if row else None


# --------------------------------------------------------------------------- exports

EXPORT_COLUMNS: Final = (
    ("id", "ID", "Mã"), ("kind", "Kind", "Loại"), ("status", "Status", "Trạng thái"),
    ("detected_at", "Detected (ICT)", "Phát hiện lúc"),
    ("dossier_code", "Dossier", "Hồ sơ"), ("agency_code", "Agency", "Đơn vị"),
    ("provider", "Provider", "Nhà cung cấp"), ("channel", "Channel", "Kênh"),
    ("provider_txn_id", "Provider transaction", "Mã giao dịch"),
    ("reference", "Reference", "Mã tham chiếu"),
    ("expected_amount", "Expected (VND)", "Phải thu (đồng)"),
    ("actual_amount", "Actual (VND)", "Thực tế (đồng)"),
    ("delta", "Difference (VND)", "Chênh lệch (đồng)"),
    ("explanation", "Explanation", "Diễn giải"),
    ("assigned_to", "Assigned to", "Người xử lý"),
    ("proposed_resolution_type", "Proposed", "Đề xuất"),
    ("proposed_by", "Proposed by", "Người đề xuất"),
    ("resolution_type", "Resolution", "Cách xử lý"),
    ("resolution_note", "Note", "Ghi chú"),
    ("resolved_by", "Resolved by", "Người xử lý xong"),
    ("resolved_at", "Resolved (ICT)", "Xử lý lúc"),
)
AMOUNT_COLUMNS: Final = frozenset({"expected_amount", "actual_amount", "delta"})
EXPORT_BATCH: Final = 1000


def export_rows(db: Database, filters: QueueFilters, *, user_id: int | None = None
                ) -> Iterator[QueueRow]:
    with db.read() as session:
        hits = search_hits(session, filters.q) if filters.q else None
        result = session.execute(queue_select(filters, user_id=user_id, hits=hits),
                                 execution_options={"yield_per": EXPORT_BATCH})
        for r in result:
            yield _as_row(r)


def _cell(row: QueueRow, name: str, lang: str) -> Any:
    if name == "explanation":
        return (row.explanation_en or row.explanation) if lang == "en" else row.explanation
    return getattr(row, name)


def queue_table(rows: Iterable[QueueRow], lang: str = "vi"
                ) -> tuple[list[str], Iterator[list[Any]], frozenset[int]]:
    """(header, rows as lists, indexes of amount columns) for :func:`csv_chunks` and
    :func:`xlsx_chunks`."""
    header = [en if lang == "en" else vi for _n, en, vi in EXPORT_COLUMNS]
    amounts = frozenset(i for i, (n, _e, _v) in enumerate(EXPORT_COLUMNS)
                        if n in AMOUNT_COLUMNS)
    body = ([_cell(row, n, lang) for n, _e, _v in EXPORT_COLUMNS] for row in rows)
    return header, body, amounts


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(VN_TZ).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return safe_cell(value)  # text that starts like a formula is made inert


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark (so Excel reads Vietnamese), CRLF, times in Vietnam time;
    yielded every 200 rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(header)
    for n, row in enumerate(rows, start=1):
        writer.writerow([_csv_value(v) for v in row])
        if n % 200 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def xlsx_chunks(sheet_name: str, header: Sequence[str], rows: Iterable[Sequence[Any]],
                amounts: frozenset[int] = frozenset(), chunk: int = 64 * 1024
                ) -> Iterator[bytes]:
    """The workbook is built in a temporary file (constant memory), then sent in chunks."""
    with tempfile.TemporaryFile() as spool:
        write_table_xlsx(spool, sheet_name, header, rows, amounts)
        spool.seek(0)
        while block := spool.read(chunk):
            yield block


def xlsx_sheets_chunks(sheets: Sequence[Sheet], chunk: int = 64 * 1024) -> Iterator[bytes]:
    """:func:`xlsx_chunks` with several sheets (``(name, header, rows, amounts)`` each)."""
    with tempfile.TemporaryFile() as spool:
        write_sheets_xlsx(spool, sheets)
        spool.seek(0)
        while block := spool.read(chunk):
            yield block


def with_status(filters: QueueFilters, status: str) -> QueueFilters:
    return replace(filters, status=status)
