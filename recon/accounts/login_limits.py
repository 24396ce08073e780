"""Login rate limiting, counted in the database so every worker and every host shares the count.

Three sliding windows over the failed logins of the last ``window`` (issue 16: password
spraying):

- per (username, client address): ``max_failures`` (``RECON_LOGIN_MAX_FAILURES``, 5), the
  person who forgot a password;
- per client address, across every username: ``max_per_client``
  (``RECON_LOGIN_MAX_FAILURES_PER_CLIENT``, 30), one address trying many names;
- per username, across every address: ``max_per_user`` (``RECON_LOGIN_MAX_FAILURES_PER_USER``,
  10), one name tried from many addresses.

Once any count reaches its limit, further attempts covered by it are refused (HTTP 429) until
the oldest counted failure leaves the window; the answer says when. A successful login clears
only its own (username, address) pair: another address's failures for that name still count
toward the per-user limit, so an attacker cannot wipe them by logging in elsewhere. The
per-user limit is higher than the pair's on purpose: a stranger locking one name from one
address does not lock its owner out elsewhere, and locking it everywhere takes ``max_per_user``
failures, which then lasts at most ``window``. Usernames are stored only as a SHA-256 (a
password typed into the username field must never be kept).

``RECON_LOGIN_WINDOW_SECONDS`` (default 900) is the window of all three. Two requests racing in
different workers may each be let through at a limit, so an attacker gets at most one extra try
per concurrent worker, never an unbounded number.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, delete, insert, select
from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.config import Settings
from recon.models import LoginAttempt

DEFAULT_MAX_FAILURES = 5
DEFAULT_MAX_PER_CLIENT = 30
DEFAULT_MAX_PER_USER = 10
DEFAULT_WINDOW_SECONDS = 15 * 60
CLIENT_MAX_LEN = 64


@dataclass(frozen=True)
class LoginLimit:
    max_failures: int = DEFAULT_MAX_FAILURES
    window: timedelta = timedelta(seconds=DEFAULT_WINDOW_SECONDS)
    max_per_client: int = DEFAULT_MAX_PER_CLIENT
    max_per_user: int = DEFAULT_MAX_PER_USER


#: which limit holds a login back: the pair, the address (many names), the name (many addresses)
LockScope = Literal["pair", "client", "user"]


@dataclass(frozen=True)
class Lockout:
    """Attempts are refused until ``until``; ``scope`` says which limit was reached."""

    until: datetime
    scope: LockScope


def limit_from_settings(settings: Settings) -> LoginLimit:
    return LoginLimit(
        max_failures=settings.whole_number("LOGIN_MAX_FAILURES", DEFAULT_MAX_FAILURES),
        window=timedelta(seconds=settings.whole_number("LOGIN_WINDOW_SECONDS",
                                           DEFAULT_WINDOW_SECONDS)),
        max_per_client=settings.whole_number("LOGIN_MAX_FAILURES_PER_CLIENT",
                                 DEFAULT_MAX_PER_CLIENT),
        max_per_user=settings.whole_number("LOGIN_MAX_FAILURES_PER_USER", DEFAULT_MAX_PER_USER),
    )


def username_key(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()


def client_key(remote_addr: str | None) -> str:
    return (remote_addr or "unknown")[:CLIENT_MAX_LEN]


def _free_at(session: Session, where: list[ColumnElement[bool]], since: datetime,
             limit: int, window: timedelta) -> datetime | None:
    """When the failures matching ``where`` drop below ``limit`` again (``None``: they are
    below it now). The window slides: free once the oldest counted failure leaves it."""
    recent = session.execute(
        select(LoginAttempt.attempted_at)
        .where(*where, LoginAttempt.attempted_at > since)
        .order_by(LoginAttempt.attempted_at.desc())
        .limit(limit)
    ).scalars().all()
    if len(recent) < limit:
        return None
    return recent[-1] + window


def lockout(session: Session, clock: Clock, username: str, client: str,
            limit: LoginLimit) -> Lockout | None:
    """The limit that refuses this attempt, with when it may be tried again (the latest of
    the limits reached), or ``None`` if it may be tried now."""
    since = clock.now() - limit.window
    user, address = username_key(username), client_key(client)
    checks: tuple[tuple[LockScope, list[ColumnElement[bool]], int], ...] = (
        ("pair", [LoginAttempt.username_hash == user, LoginAttempt.client == address],
         limit.max_failures),
        ("client", [LoginAttempt.client == address], limit.max_per_client),
        ("user", [LoginAttempt.username_hash == user], limit.max_per_user),
    )
    found: Lockout | None = None
    for scope, where, most in checks:
        until = _free_at(session, where, since, most, limit.window)
        if until is not None and (found is None or until > found.until):
            found = Lockout(until, scope)
    return found


def blocked_until(session: Session, clock: Clock, username: str, client: str,
                  limit: LoginLimit) -> datetime | None:
    """When this attempt may be made (every limit considered), or ``None`` if it may now."""
    found = lockout(session, clock, username, client, limit)
    return None if found is None else found.until


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
