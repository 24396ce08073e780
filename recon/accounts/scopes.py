"""Scopes of users and tokens (issue 16): which agencies each may see, set from the CLI and
resolved once per request. The value itself and its SQL conditions are :mod:`recon.scope`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from recon.accounts.auth import Principal
from recon.audit import chain as audit
from recon.clock import Clock
from recon.errors import FieldError, NotFound, ValidationError
from recon.models import Agency, ApiToken, TokenAgency, User, UserAgency
from recon.scope import ALL, Scope


def agency_ids(session: Session, codes: Sequence[str]) -> list[int]:
    """The ids of the agencies ``codes`` names; every unknown code is named in the error."""
    wanted = sorted({c.strip() for c in codes if c.strip()})
    if not wanted:
        raise ValidationError(FieldError("agency", "name at least one agency code"))
    found = {code: id_ for code, id_ in session.execute(
        select(Agency.code, Agency.id).where(Agency.code.in_(wanted)))}
    missing = [c for c in wanted if c not in found]
    if missing:
        raise ValidationError(FieldError(
            "agency", f"no agency with code {', '.join(missing)} "
            "(`recon agencies create` makes one; GET /api/v1/agencies lists them)"))
    return [found[c] for c in wanted]


def _user_scope(session: Session, user_id: int) -> Scope:
    rows = session.scalars(select(UserAgency.agency_id)
                           .where(UserAgency.user_id == user_id)).all()
    return ALL if not rows else Scope.of(rows)


def scope_of(session: Session, principal: Principal | None) -> Scope:
    """The scope of a caller: no rows, the whole deployment; rows, those agencies. No caller:
    nothing at all. A token that belongs to a person (``api_tokens.user_id``) never sees more
    than that person: its scope is the intersection of its own and its owner's (narrowing the
    owner narrows their tokens from the next call on)."""
    if principal is None:
        return Scope.of(())
    if principal.kind == "user":
        return _user_scope(session, principal.id)
    if principal.kind != "token":
        return Scope.of(())
    rows = session.scalars(select(TokenAgency.agency_id)
                           .where(TokenAgency.token_id == principal.id)).all()
    own = ALL if not rows else Scope.of(rows)
    owner = session.scalar(select(ApiToken.user_id).where(ApiToken.id == principal.id))
    return own if owner is None else own.intersect(_user_scope(session, owner))


def _codes(session: Session, ids: Sequence[int]) -> list[str]:
    return sorted(session.scalars(select(Agency.code).where(Agency.id.in_(ids))).all())


def set_user_scope(session: Session, clock: Clock, user_id: int, codes: Sequence[str] | None,
                   *, actor: str = "cli") -> Scope:
    """Narrow user ``user_id`` to the agencies ``codes`` (None: the whole deployment)."""
    if session.get(User, user_id) is None:
        raise NotFound(f"no user with id {user_id}")
    ids = agency_ids(session, codes) if codes is not None else []
    session.execute(delete(UserAgency).where(UserAgency.user_id == user_id))
    session.add_all(UserAgency(user_id=user_id, agency_id=a) for a in ids)
    session.flush()
    audit.record(session, clock, actor=actor, action="user.scope_set", entity_type="user",
                 entity_id=user_id, data={"agencies": _codes(session, ids) if ids else "all"})
    return Scope.of(ids) if ids else ALL


def set_token_scope(session: Session, clock: Clock, token_id: int, codes: Sequence[str] | None,
                    *, actor: str = "cli") -> Scope:
    """Narrow API token ``token_id`` to the agencies ``codes`` (None: the whole deployment)."""
    if session.get(ApiToken, token_id) is None:
        raise NotFound(f"no API token with id {token_id}",
                       hint="`recon tokens list` shows every token with its id.")
    ids = agency_ids(session, codes) if codes is not None else []
    session.execute(delete(TokenAgency).where(TokenAgency.token_id == token_id))
    session.add_all(TokenAgency(token_id=token_id, agency_id=a) for a in ids)
    session.flush()
    audit.record(session, clock, actor=actor, action="token.scope_set",
                 entity_type="api_token", entity_id=token_id,
                 data={"agencies": _codes(session, ids) if ids else "all"})
    return Scope.of(ids) if ids else ALL


def scope_codes(session: Session, scope: Scope) -> list[str] | None:
    """The agency codes of ``scope`` (None: the whole deployment)."""
    if scope.agencies is None:
        return None
    return _codes(session, sorted(scope.agencies))


def user_id_by_name(session: Session, username: str) -> int:
    found = session.scalar(select(User.id).where(User.username == username))
    if found is None:
        raise NotFound(f"no user {username!r}")
    return int(found)
