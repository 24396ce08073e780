"""Login sessions kept on the server (issue 16), so they can be ended.

The browser's cookie carries only a random session id (and the CSRF token and language); the
``web_sessions`` row, found by the id's SHA-256, says whose session it is. A session holds
while its row is not ended, its user is active, it has been used within ``idle``
(``RECON_SESSION_IDLE_MINUTES``, 30) and it began less than ``max_age`` ago
(``RECON_SESSION_MAX_HOURS``, 12). Logging out, a password change and ``recon users disable``
end every session of that user: a cookie copied earlier opens nothing afterwards.

``last_seen_at`` is written at most once per :data:`TOUCH_RESOLUTION` (one conditional
``UPDATE`` in its own short transaction, best effort like an API token's last use), so most
requests write nothing; the idle limit is therefore counted from the last *recorded* use and a
session may end up to a minute before ``idle`` of true inactivity, never after.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.config import Settings
from recon.db import Database, classify_fault
from recon.models import User, WebSession

DEFAULT_IDLE_MINUTES = 30
DEFAULT_MAX_HOURS = 12
#: ``web_sessions.last_seen_at`` is written at most this often per session
TOUCH_RESOLUTION = timedelta(seconds=60)
TOUCH_TIMEOUT_SECONDS = 0.25
SESSION_ID_BYTES = 32
END_REASONS = ("logout", "password", "disabled")

log = logging.getLogger("recon.auth")


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=DEFAULT_IDLE_MINUTES)
    max_age: timedelta = timedelta(hours=DEFAULT_MAX_HOURS)


def policy_from_settings(settings: Settings) -> SessionPolicy:
    return SessionPolicy(
        idle=timedelta(minutes=settings.whole_number("SESSION_IDLE_MINUTES",
                                         DEFAULT_IDLE_MINUTES)),
        max_age=timedelta(hours=settings.whole_number("SESSION_MAX_HOURS", DEFAULT_MAX_HOURS)),
    )


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


def start(session: Session, clock: Clock, user_id: int, *, client: str | None,
          policy: SessionPolicy) -> str:
    """Open a session for ``user_id``; returns its id (for the cookie; only its hash is kept).
    Also forgets sessions no limit can let live any more (unused longer than ``max_age``)."""
    now = clock.now()
    session.execute(delete(WebSession).where(WebSession.last_seen_at < now - policy.max_age))
    session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
    session.add(WebSession(token_hash=_hash(session_id), user_id=user_id, created_at=now,
                           last_seen_at=now, client=(client or "")[:64] or None))
    session.flush()
    return session_id


@dataclass(frozen=True)
class LiveSession:
    id: int
    user_id: int
    last_seen_at: datetime
    username: str
    role: str


def find(session: Session, clock: Clock, session_id: str,
         policy: SessionPolicy) -> LiveSession | None:
    """The live session with this id, with its user's name and role (one query per request),
    or ``None`` (unknown, ended, idle too long, too old, or its user disabled)."""
    row = session.execute(
        select(WebSession.id, WebSession.user_id, WebSession.created_at,
               WebSession.last_seen_at, WebSession.ended_at, User.active, User.username,
               User.role)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == _hash(session_id))
    ).first()
    if row is None or row.ended_at is not None or not row.active:
        return None
    now = clock.now()
    if now - row.last_seen_at >= policy.idle or now - row.created_at >= policy.max_age:
        return None
    return LiveSession(row.id, row.user_id, row.last_seen_at, row.username, row.role)


def touch(db: Database, clock: Clock, live: LiveSession) -> bool:
    """Note that the session was used, at most once per :data:`TOUCH_RESOLUTION`: True when
    ``last_seen_at`` was written now. Best effort: a failure is logged and the request goes
    on (the session then looks a minute idler than it is)."""
    now = clock.now()
    cutoff = now - TOUCH_RESOLUTION
    if live.last_seen_at >= cutoff:
        return False
    try:
        with db.bounded_transaction(TOUCH_TIMEOUT_SECONDS) as conn:
            written = conn.execute(
                update(WebSession)
                .where(WebSession.id == live.id, WebSession.ended_at.is_(None),
                       WebSession.last_seen_at < cutoff)
                .values(last_seen_at=now)).rowcount
    except Exception as exc:  # best effort: never fails the request
        fault = classify_fault(exc, db)
        if fault is not None:
            log.warning("could not note the use of session %s (%s: %s); the request goes on",
                        live.id, fault.kind, fault.detail)
        else:
            log.exception("could not note the use of session %s; the request goes on", live.id)
        return False
    return bool(written)


def end_all(session: Session, clock: Clock, user_id: int, reason: str) -> int:
    """End every session of ``user_id`` still open; returns how many were ended."""
    if reason not in END_REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    result = session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
        .values(ended_at=clock.now(), end_reason=reason))
    return int(cast("CursorResult[Any]", result).rowcount)


def open_sessions(session: Session, clock: Clock, user_id: int, policy: SessionPolicy) -> int:
    """How many sessions of ``user_id`` would still be let in now."""
    now = clock.now()
    rows = session.execute(
        select(WebSession.created_at, WebSession.last_seen_at)
        .where(WebSession.user_id == user_id, WebSession.ended_at.is_(None),
               WebSession.last_seen_at > now - policy.idle)
    ).all()
    return sum(1 for r in rows if now - r.created_at < policy.max_age)
