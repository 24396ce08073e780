"""Users, API tokens and passwords. Only hashes are stored."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from recon.accounts import sessions
from recon.audit import chain as audit
from recon.clock import Clock
from recon.db import Database, classify_fault
from recon.errors import Conflict, FieldError, NotFound, ValidationError
from recon.models import ApiToken, User

USER_ROLES = ("cashier", "finance", "admin")
TOKEN_ROLES = ("cashier", "finance", "admin", "intake")
TOKEN_PREFIX = "rcn_"  # noqa: S105 - a visible prefix, not a secret
MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
#: ``api_tokens.last_used_at`` is written at most this often per token
TOKEN_USE_RESOLUTION = timedelta(seconds=60)
#: how long noting a token's use may wait for a lock before it gives up (best effort)
TOKEN_USE_TIMEOUT_SECONDS = 0.25

log = logging.getLogger("recon.auth")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a logged-in user or a machine token."""

    kind: str  # "user" | "token"
    id: int
    name: str
    role: str
    # a token's last recorded use, as loaded with it (None: never used, or a user)
    last_used_at: datetime | None = field(default=None, compare=False)
    # the person who answers for the call, "user:NAME": the user, or a token's owner (None: a
    # token that belongs to nobody). Maker ≠ checker compares this, never ``actor``.
    person: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"


def person_of(username: str) -> str:
    """The person a user is, as maker-checker compares people: ``user:NAME``."""
    return f"user:{username}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(session: Session, clock: Clock, *, username: str, role: str, password: str,
                display_name: str | None = None, actor: str = "cli") -> User:
    errors: list[FieldError] = []
    if not _USERNAME.fullmatch(username):
        errors.append(FieldError("username", "use 2–64 lowercase letters, digits, '.', '_' "
                                 "or '-', starting with a letter or digit"))
    if role not in USER_ROLES:
        errors.append(FieldError("role", f"must be one of {', '.join(USER_ROLES)}"))
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append(FieldError("password", f"must be at least {MIN_PASSWORD_LENGTH} "
                                 "characters"))
    if errors:
        raise ValidationError(errors)
    if session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(f"user {username!r} already exists",
                       hint="Choose another name, or reset the password of the existing user.")
    user = User(username=username, display_name=display_name or username, role=role,
                password_hash=generate_password_hash(password), created_at=clock.now())
    session.add(user)
    session.flush()
    audit.record(session, clock, actor=actor, action="user.created", entity_type="user",
                 entity_id=user.id, data={"username": username, "role": role})
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        # spend the same time as a real check so names cannot be probed by timing
        check_password_hash(DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


#: what a password is checked against when the name is unknown: a hash of a throwaway
#: password, made once with werkzeug's default method and written here, so that it costs
#: nothing at start-up (hashing took a tenth of a second of every command's start) and the
#: first such login takes as long as the others (a test keeps its method werkzeug's default)
DUMMY_HASH: Final = (
    "scrypt:32768:8:1$VVHWeloRkNoiY3V6$636c61e38b0ae65e31b2b9f2457879025f507e5b17627b02615e"
    "314535ce9e575bdec96c48429bfdcb2b81dda999afaad12ba6dddc4b0343b040bd67c5d31bd1")


def create_token(session: Session, clock: Clock, *, name: str, role: str, user: str | None,
                 actor: str = "cli") -> tuple[ApiToken, str]:
    """Mint a token belonging to the person ``user`` (an active user's name; the command
    requires one). ``None`` makes an unowned token, which may do what its role allows except
    propose or approve a four-eyes action. Returns the row and the token text (shown once,
    never stored)."""
    errors: list[FieldError] = []
    if role not in TOKEN_ROLES:
        errors.append(FieldError("role", f"must be one of {', '.join(TOKEN_ROLES)}"))
    if not name.strip() or len(name) > 100:
        errors.append(FieldError("name", "must be 1–100 characters"))
    owner: User | None = None
    if user is not None:
        owner = session.execute(
            select(User).where(User.username == user.strip().lower())).scalar_one_or_none()
        if owner is None or not owner.active:
            errors.append(FieldError("user", f"no active user is called {user!r}; name the "
                                     "person the token belongs to (`recon users create` "
                                     "makes one)"))
    if errors:
        raise ValidationError(errors)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name.strip(), role=role, token_hash=hash_token(token),
                   prefix=token[:12], created_at=clock.now(),
                   user_id=owner.id if owner is not None else None)
    session.add(row)
    session.flush()
    audit.record(session, clock, actor=actor, action="token.created", entity_type="api_token",
                 entity_id=row.id, data={"name": row.name, "role": role, "prefix": row.prefix,
                                         "user": owner.username if owner else None})
    return row, token


def token_owners(session: Session) -> dict[int, str]:
    """Each owned token's id and its owner's username."""
    rows = session.execute(select(ApiToken.id, User.username)
                           .join(User, User.id == ApiToken.user_id))
    return {token_id: username for token_id, username in rows}


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, oldest first (revoked ones too). Rows hold only hashes and prefixes."""
    return list(session.execute(select(ApiToken).order_by(ApiToken.id)).scalars())


@dataclass(frozen=True)
class Revocation:
    token: ApiToken
    changed: bool  # False: it was already revoked (nothing written)


def revoke_token(session: Session, clock: Clock, token_id: int, *,
                 actor: str = "cli") -> Revocation:
    """Revoke a token: from now on every call with it is refused (401). Idempotent: revoking a
    revoked token changes nothing and writes no audit event."""
    row = session.execute(
        select(ApiToken).where(ApiToken.id == token_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no API token with id {token_id}",
                       hint="`recon tokens list` shows every token with its id.")
    if row.revoked_at is not None:
        return Revocation(row, changed=False)
    row.revoked_at = clock.now()
    session.flush()
    audit.record(session, clock, actor=actor, action="token.revoked", entity_type="api_token",
                 entity_id=row.id, data={"name": row.name, "role": row.role,
                                         "prefix": row.prefix})
    return Revocation(row, changed=True)


def token_principal(session: Session, token: str) -> Principal | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    found = session.execute(
        select(ApiToken, User.username, User.active)
        .outerjoin(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if found is None:
        return None
    row, owner, owner_active = found
    if row.revoked_at is not None:
        return None
    if row.user_id is not None and not owner_active:
        return None  # a disabled person's tokens stop with their sessions
    return Principal("token", row.id, row.name, row.role, row.last_used_at,
                     person=person_of(owner) if owner is not None else None)


def user_principal(session: Session, user_id: int) -> Principal | None:
    """The logged-in user ``user_id`` (from the login session); None when that user is gone
    or no longer active."""
    user = session.execute(select(User).where(User.id == user_id)).scalar_one_or_none()
    if user is None or not user.active:
        return None
    return Principal("user", user.id, user.username, user.role,
                     person=person_of(user.username))


def _user(session: Session, username: str) -> User:
    user = session.execute(
        select(User).where(User.username == username.strip().lower()).with_for_update()
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user is called {username!r}",
                       hint="`recon users list` shows every user.")
    return user


def change_password(session: Session, clock: Clock, *, username: str, password: str,
                    actor: str = "cli") -> int:
    """Set a new password and end every session of the user (a stolen cookie dies with the
    old password); returns how many sessions were ended."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(FieldError("password", f"must be at least "
                                         f"{MIN_PASSWORD_LENGTH} characters"))
    user = _user(session, username)
    user.password_hash = generate_password_hash(password)
    ended = sessions.end_all(session, clock, user.id, "password")
    audit.record(session, clock, actor=actor, action="user.password_changed",
                 entity_type="user", entity_id=user.id,
                 data={"username": user.username, "sessions_ended": ended})
    return ended


@dataclass(frozen=True)
class ActiveChange:
    user: User
    changed: bool  # False: it already was (nothing written)
    sessions_ended: int = 0


def set_active(session: Session, clock: Clock, *, username: str, active: bool,
               actor: str = "cli") -> ActiveChange:
    """Disable (``active=False``: every session of the user ends at once, and the tokens
    they own stop working) or enable a user. Idempotent."""
    user = _user(session, username)
    if user.active == active:
        return ActiveChange(user, changed=False)
    user.active = active
    ended = 0 if active else sessions.end_all(session, clock, user.id, "disabled")
    audit.record(session, clock, actor=actor,
                 action="user.enabled" if active else "user.disabled",
                 entity_type="user", entity_id=user.id,
                 data={"username": user.username, "sessions_ended": ended})
    return ActiveChange(user, changed=True, sessions_ended=ended)


def username_of(session: Session, user_id: int) -> str:
    name: str | None = session.scalar(select(User.username).where(User.id == user_id))
    return name or f"#{user_id}"


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.username)).scalars())


def note_token_use(db: Database, clock: Clock, principal: Principal) -> bool:
    """Record that a token authenticated a call, at most once per :data:`TOKEN_USE_RESOLUTION`:
    True when ``last_used_at`` was written now.

    Decided first from the row already loaded (``principal.last_used_at``): most calls write
    nothing and, on SQLite, take no write lock. Otherwise one conditional ``UPDATE`` in its own
    short transaction (:meth:`recon.db.Database.bounded_transaction`), which a concurrent call
    that wrote first turns into a no-op. Best effort: any failure (a busy, read-only or
    unreachable database, anything at all) is logged and the call goes on."""
    if principal.kind != "token":
        return False
    now = clock.now()
    cutoff = now - TOKEN_USE_RESOLUTION
    if principal.last_used_at is not None and principal.last_used_at >= cutoff:
        return False
    try:
        with db.bounded_transaction(TOKEN_USE_TIMEOUT_SECONDS) as conn:
            written = conn.execute(
                update(ApiToken)
                .where(ApiToken.id == principal.id,
                       or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < cutoff))
                .values(last_used_at=now)).rowcount
    except Exception as exc:  # best effort: never fails the call
        fault = classify_fault(exc, db)
        if fault is not None:
            log.warning("could not note the use of API token %s (%s: %s); the call goes on",
                        principal.id, fault.kind, fault.detail)
        else:
            log.exception("could not note the use of API token %s; the call goes on",
                          principal.id)
        return False
    return bool(written)
