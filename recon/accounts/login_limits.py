"""Login rate limiting, counted in the database so every worker and every host shares the count.

A sliding window per (username, client address): after ``max_failures`` failed logins within
``window``, further attempts are refused (HTTP 429) until the oldest of those failures leaves
the window. A successful login clears the count for that pair. Usernames are stored only as a
SHA-256 (a password typed into the username field must never be kept).

Settings: ``RECON_LOGIN_MAX_FAILURES`` (default 5) and ``RECON_LOGIN_WINDOW_SECONDS`` (default
900). Two requests racing in different workers may each be let through at the limit, so an
attacker gets at most one extra try per concurrent worker, never an unbounded number.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.config import Settings
from recon.models import LoginAttempt

DEFAULT_MAX_FAILURES = 5
DEFAULT_WINDOW_SECONDS = 15 * 60
CLIENT_MAX_LEN = 64


@dataclass(frozen=True)
class LoginLimit:
    max_failures: int = DEFAULT_MAX_FAILURES
    window: timedelta = timedelta(seconds=DEFAULT_WINDOW_SECONDS)


def _positive(settings: Settings, name: str, default: int) -> int:
    raw = settings.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"RECON_{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"RECON_{name} must be at least 1, got {value}")
    return value


def limit_from_settings(settings: Settings) -> LoginLimit:
    return LoginLimit(
        max_failures=_positive(settings, "LOGIN_MAX_FAILURES", DEFAULT_MAX_FAILURES),
        window=timedelta(seconds=_positive(settings, "LOGIN_WINDOW_SECONDS",
                                           DEFAULT_WINDOW_SECONDS)),
    )


def username_key(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()


def client_key(remote_addr: str | None) -> str:
    return (remote_addr or "unknown")[:CLIENT_MAX_LEN]


def blocked_until(session: Session, clock: Clock, username: str, client: str,
                  limit: LoginLimit) -> datetime | None:
    """When this pair may try again, or ``None`` if it may try now."""
    since = clock.now() - limit.window
    recent = session.execute(
        select(LoginAttempt.attempted_at)
        .where(LoginAttempt.username_hash == username_key(username),
               LoginAttempt.client == client_key(client),
               LoginAttempt.attempted_at > since)
        .order_by(LoginAttempt.attempted_at.desc())
        .limit(limit.max_failures)
    ).scalars().all()
    if len(recent) < limit.max_failures:
        return None
    # the window slides: the pair is free again once the oldest counted failure leaves it
    return recent[-1] + limit.window


def record_failure(session: Session, clock: Clock, username: str, client: str,
                   limit: LoginLimit) -> None:
    now = clock.now()
    session.execute(insert(LoginAttempt).values(
        username_hash=username_key(username), client=client_key(client), attempted_at=now))
    # forget what no window can count any more (index on attempted_at; failures only)
    session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at <= now - limit.window))


def reset(session: Session, username: str, client: str) -> None:
    session.execute(delete(LoginAttempt).where(
        LoginAttempt.username_hash == username_key(username),
        LoginAttempt.client == client_key(client)))
