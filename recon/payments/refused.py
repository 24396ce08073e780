"""Refused webhook calls cannot fill the disk (issue 16, item 3).

A refused call is one whose signature was not verified: a bad or missing signature, a replay,
an unconfigured provider, a body too large, a payload that could not even be checked. Anyone can
send those, so what we keep of them is bounded three ways:

- **a prefix**: the body is archived cut to ``RECON_REFUSED_CALLBACK_BYTES`` (2048) bytes, its
  length as received in ``callbacks.body_length`` and the detail saying so; each header value is
  cut to :data:`HEADER_VALUE_CHARS` characters and all headers together to
  :data:`HEADERS_CHARS` (:func:`kept_headers`), its query string to
  :data:`QUERY_STRING_CHARS`. Card numbers are masked in what is kept, and
  only that (plus :data:`adapters.scrub.PAN_MAX_BYTES` past each cut, to mask a number the cut
  splits) is ever scanned: an unverified call costs the masking a bounded amount of work
  whatever its headers (issue 16 item 2: 90 headers of 8 KiB);
- **a rate**: at most ``RECON_REFUSED_CALLBACK_LIMIT`` (30) refused calls per source address in
  ``RECON_REFUSED_CALLBACK_WINDOW_SECONDS`` (60) are archived; past that the answer is 429 with
  ``Retry-After`` and the call is only counted (``refused_call_counts``, per UTC day, shown on
  ``/healthz`` as ``webhooks.rate_limited_today``). The count is read from the archive itself
  (a partial index over unverified calls), so every worker and host shares it;
- **a retention**: refused calls older than ``RECON_REFUSED_CALLBACK_DAYS`` (30) are deleted by
  the scheduler (:func:`sweep`, daily) and by ``recon callbacks sweep``.

None of this touches a verified call: it is checked only once a call is refused, so a valid call
from an address that is rate-limited is still recorded and archived whole, and the accepted
path runs no extra query. A call whose signature verified but whose content was refused (a
malformed payload signed by the provider) is the provider's, and is kept whole too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from adapters import Acknowledgement
from adapters.base import json_ack
from adapters.scrub import PAN_MAX_BYTES, Work, redact_header
from recon.clock import Clock
from recon.config import Settings
from recon.db import Database
from recon.models import Callback, RefusedCallCount
from recon.models.payments import UNVERIFIED

DEFAULT_BYTES = 2048
DEFAULT_DAYS = 30
DEFAULT_LIMIT = 30
DEFAULT_WINDOW_SECONDS = 60
#: each header value of a refused call is kept up to this many characters
HEADER_VALUE_CHARS = 1024
#: ... each header name up to this many
HEADER_NAME_CHARS = 128
#: ... and all its headers together (names and values) up to about this many
HEADERS_CHARS = 8192
#: the entry that counts a refused call's headers not kept
MORE_HEADERS = "…"
#: a refused call's query string is kept up to this many characters (gunicorn's own limit on
#: the whole request line is 4094: nothing a real provider sends is cut)
QUERY_STRING_CHARS = 4096
#: the sweep deletes this many rows per transaction
SWEEP_BATCH = 5000
#: callback outcomes that are refusals (the sweep deletes only these; ``spooled``, ``error`` and
#: ``received`` rows are kept: they may be a provider's real calls)
REFUSED_OUTCOMES = ("too_large", "not_configured", "bad_signature", "malformed", "replayed")


@dataclass(frozen=True)
class RefusalPolicy:
    body_bytes: int = DEFAULT_BYTES
    days: int = DEFAULT_DAYS
    limit: int = DEFAULT_LIMIT
    window_seconds: int = DEFAULT_WINDOW_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> RefusalPolicy:
        return cls(
            body_bytes=settings.whole_number("REFUSED_CALLBACK_BYTES", DEFAULT_BYTES, minimum=0),
            days=settings.whole_number("REFUSED_CALLBACK_DAYS", DEFAULT_DAYS, minimum=1),
            limit=settings.whole_number("REFUSED_CALLBACK_LIMIT", DEFAULT_LIMIT, minimum=1),
            window_seconds=settings.whole_number("REFUSED_CALLBACK_WINDOW_SECONDS",
                                    DEFAULT_WINDOW_SECONDS, minimum=1),
        )


def is_refused(signature_valid: bool | None, callback_outcome: str) -> bool:
    """Whether a decided call is a refusal that anyone could have sent (not verified)."""
    return signature_valid is not True and callback_outcome in REFUSED_OUTCOMES


def kept_headers(headers: Mapping[str, str], *, work: Work | None = None) -> dict[str, str]:
    """What is kept of a refused call's headers: in order, each name cut to
    :data:`HEADER_NAME_CHARS` and each value to :data:`HEADER_VALUE_CHARS`, redacted and
    masked (:func:`adapters.scrub.redact_header`), until :data:`HEADERS_CHARS` characters are
    kept; the rest are counted under :data:`MORE_HEADERS`. Each value is cut *before* it is
    scanned (with :data:`adapters.scrub.PAN_MAX_BYTES` to spare, so a card number the cut
    splits is still masked), so the work is bounded whatever was sent."""
    kept: dict[str, str] = {}
    budget = HEADERS_CHARS
    items = list(headers.items())
    for index, (name, value) in enumerate(items):
        if budget <= 0:
            dropped = items[index:]
            kept[MORE_HEADERS] = (f"{len(dropped)} more headers, "
                                  f"{sum(len(n) + len(v) for n, v in dropped)} chars, not kept")
            break
        short = name[:HEADER_NAME_CHARS]
        limit = max(0, min(HEADER_VALUE_CHARS, budget - len(short)))
        shown = redact_header(short, value[:limit + PAN_MAX_BYTES], work=work)[:limit]
        if len(value) > limit:
            shown = f"{shown}…[{len(value)} chars]"
        kept[short] = shown
        budget -= len(short) + len(shown)
    return kept


_unverified = text(UNVERIFIED)


def over_limit(conn: Connection, policy: RefusalPolicy, remote_addr: str | None,
               now: datetime) -> bool:
    """Whether ``remote_addr`` has used up its refused calls in the window (one indexed count,
    stopping at the limit)."""
    since = now - timedelta(seconds=policy.window_seconds)
    address = (remote_addr or None) and remote_addr[:64]
    same = (Callback.remote_addr == address) if address is not None \
        else Callback.remote_addr.is_(None)
    recent = (select(Callback.id).where(same, Callback.received_at >= since, _unverified)
              .limit(policy.limit).subquery())
    with conn.begin():
        seen = int(conn.execute(select(func.count()).select_from(recent)).scalar_one())
    return seen >= policy.limit


def _day(now: datetime) -> str:
    return now.date().isoformat()


def count_limited(conn: Connection, now: datetime) -> None:
    """One more call answered 429 today (an upsert on one row per day)."""
    maker = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = maker(RefusedCallCount).values(day=_day(now), limited=1)
    stmt = stmt.on_conflict_do_update(index_elements=["day"],
                                      set_={"limited": RefusedCallCount.limited + 1})
    with conn.begin():
        conn.execute(stmt)


def limited_today(db: Database, clock: Clock) -> int:
    """Calls refused by the rate limit today (UTC): /healthz shows it."""
    with db.read() as session:
        return int(session.scalar(select(RefusedCallCount.limited).where(
            RefusedCallCount.day == _day(clock.now()))) or 0)


def rate_limited_ack(policy: RefusalPolicy) -> Acknowledgement:
    return json_ack(429, {
        "error": "too_many_refused_calls",
        "message": f"more than {policy.limit} refused webhook calls from this address in "
                   f"{policy.window_seconds} s; this call was not archived. Fix the signature "
                   "or configuration, then retry after the Retry-After delay.",
    })


def sweep(db: Database, clock: Clock, policy: RefusalPolicy, *,
          should_stop: Callable[[], bool] = lambda: False) -> int:
    """Delete refused calls older than the retention period, in batches. How many went."""
    cutoff = clock.now() - timedelta(days=policy.days)
    old = (select(Callback.id).where(Callback.received_at < cutoff, _unverified,
                                     Callback.outcome.in_(REFUSED_OUTCOMES),
                                     Callback.payment_id.is_(None))
           .limit(SWEEP_BATCH))
    deleted = 0
    while not should_stop():
        with db.transaction() as session:
            ids = list(session.scalars(old))
            if ids:
                session.execute(delete(Callback).where(Callback.id.in_(ids)))
        deleted += len(ids)
        if len(ids) < SWEEP_BATCH:
            break
    return deleted
