"""The public receipt lookup (tra cứu biên lai): a receipt by its lookup code, rate-limited.

A citizen types the code printed on the receipt (or scans its QR) and gets that receipt, and
nothing else: a wrong code gets the same "no receipt has this code" whether or not anything
is near it, and there is no listing. Wrong codes are counted per client address in the
database (every worker and host shares the count, as the login limit does,
:mod:`recon.accounts.login_limits`): after ``RECON_RECEIPT_LOOKUP_MAX_FAILURES`` (default 10)
wrong codes within ``RECON_RECEIPT_LOOKUP_WINDOW_SECONDS`` (default 900) every lookup from that
address is refused until the oldest leaves the window. With 32**12 codes, that is no way to
find one by guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.config import Settings
from recon.models.receipts import Receipt, ReceiptLookupFailure

DEFAULT_MAX_FAILURES = 10
DEFAULT_WINDOW_SECONDS = 15 * 60
CLIENT_MAX_LEN = 64
_CODE = re.compile(r"[A-Z0-9]{10,16}")


@dataclass(frozen=True)
class LookupLimit:
    max_failures: int = DEFAULT_MAX_FAILURES
    window: timedelta = timedelta(seconds=DEFAULT_WINDOW_SECONDS)


def limit_from_settings(settings: Settings) -> LookupLimit:
    return LookupLimit(
        max_failures=settings.whole_number("RECEIPT_LOOKUP_MAX_FAILURES", DEFAULT_MAX_FAILURES),
        window=timedelta(seconds=settings.whole_number("RECEIPT_LOOKUP_WINDOW_SECONDS",
                                                       DEFAULT_WINDOW_SECONDS)))


def public_url(settings: Settings) -> str | None:
    """``RECON_RECEIPT_LOOKUP_URL``: the lookup page as citizens reach it (the QR on a receipt
    opens it with the code); None: the address the request came in on."""
    return (settings.get("RECEIPT_LOOKUP_URL") or "").strip() or None


def normalise(typed: str | None) -> str | None:
    """The code as typed (any case, spaces or dashes between groups) -> the stored form; None
    when it cannot be a code at all."""
    code = re.sub(r"[\s\-.]", "", typed or "").upper()
    return code if _CODE.fullmatch(code) else None


def client_key(remote_addr: str | None) -> str:
    return (remote_addr or "unknown")[:CLIENT_MAX_LEN]


def blocked_until(session: Session, clock: Clock, client: str,
                  limit: LookupLimit) -> datetime | None:
    """When this address may look up again; None: now."""
    recent = session.scalars(
        select(ReceiptLookupFailure.attempted_at)
        .where(ReceiptLookupFailure.client == client_key(client),
               ReceiptLookupFailure.attempted_at > clock.now() - limit.window)
        .order_by(ReceiptLookupFailure.attempted_at.desc()).limit(limit.max_failures)).all()
    if len(recent) < limit.max_failures:
        return None
    return recent[-1] + limit.window


def record_failure(session: Session, clock: Clock, client: str, limit: LookupLimit) -> None:
    now = clock.now()
    session.execute(insert(ReceiptLookupFailure).values(client=client_key(client),
                                                        attempted_at=now))
    session.execute(delete(ReceiptLookupFailure).where(
        ReceiptLookupFailure.attempted_at <= now - limit.window))


def find(session: Session, code: str | None) -> Receipt | None:
    """The issued receipt with this lookup code (already normalised), or None."""
    if not code:
        return None
    return session.scalars(select(Receipt).where(
        Receipt.lookup_code == code, Receipt.status == "issued",
        Receipt.document.is_not(None))).one_or_none()
