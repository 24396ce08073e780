"""Which agencies a user or an API token may see (issue 16). A user or token with no row here
sees the whole deployment (every user and token made before scopes existed, province finance,
administrators); with rows, exactly those agencies. Kept apart from ``users`` and
``api_tokens`` so that those tables keep their shape."""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from recon.db import Base, BigIntPK


class UserAgency(Base):
    __tablename__ = "user_agencies"

    user_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    agency_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("agencies.id"),
                                           primary_key=True)


class TokenAgency(Base):
    __tablename__ = "token_agencies"

    token_id: Mapped[int] = mapped_column(BigIntPK,
                                          ForeignKey("api_tokens.id", ondelete="CASCADE"),
                                          primary_key=True)
    agency_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("agencies.id"),
                                           primary_key=True)
