"""The portal's side of the Art. 36 daily report: for each agency of the day, whether the
National Public Service Portal's list of that day was imported, the portal's figure, recon's
figure and whether they agree (no open ``portal_mismatch`` of that agency and day, and the
same count and amount). Reads only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from recon.clock import VN_TZ
from recon.models import Agency, Discrepancy, Dossier, Payment, PortalFile, PortalLine
from recon.scope import ALL, Scope, agency_condition

KIND = "portal_mismatch"
PAID = ("succeeded", "refunded")  # money moved: what the portal and recon must both list
UNLISTED = ("cash",)  # the portal never lists cash at the desk


@dataclass(frozen=True)
class PortalDay:
    """One agency's day as the portal and recon tell it. ``file_id`` is ``None`` when no list
    of that day was imported (every figure of the portal is then ``None``)."""

    agency_code: str
    agency_name: str
    file_id: int | None
    filename: str | None
    imported_at: datetime | None
    portal_count: int | None
    portal_amount: int | None
    recon_count: int
    recon_amount: int
    differences: int

    @property
    def imported(self) -> bool:
        return self.file_id is not None

    @property
    def agrees(self) -> bool | None:
        """``None`` without a list; else whether the portal and recon agree."""
        if self.file_id is None:
            return None
        return (self.differences == 0 and self.portal_count == self.recon_count
                and self.portal_amount == self.recon_amount)

    def as_dict(self) -> dict[str, Any]:
        return {"agency": self.agency_code, "imported": self.imported,
                "portal_file_id": self.file_id, "portal_filename": self.filename,
                "imported_at": self.imported_at.isoformat() if self.imported_at else None,
                "portal_count": self.portal_count, "portal_amount": self.portal_amount,
                "recon_count": self.recon_count, "recon_amount": self.recon_amount,
                "portal_mismatch_open": self.differences, "agrees": self.agrees}


def _window(day: date) -> tuple[datetime, datetime]:
    """The Vietnam day ``[start, end)`` in UTC (as ``reports.vn_day_window``)."""
    start = datetime.combine(day, time(), VN_TZ).astimezone(UTC)
    return start, start + timedelta(days=1)


def portal_days(session: Session, day: date, scope: Scope = ALL,
                agency_id: int | None = None) -> list[PortalDay]:
    """Every agency of the scope with a paid payment or a portal list that day, by code."""
    scope = scope.narrow(agency_id)
    start, end = _window(day)
    recon = {int(a): (int(c), int(s or 0)) for a, c, s in session.execute(
        select(Dossier.agency_id, func.count(), func.sum(Payment.amount))
        .select_from(Payment).join(Dossier, Dossier.id == Payment.dossier_id)
        .where(Payment.paid_at >= start, Payment.paid_at < end, Payment.status.in_(PAID),
               Payment.provider.not_in(UNLISTED), agency_condition(Dossier.agency_id, scope))
        .group_by(Dossier.agency_id))}
    files: dict[int, tuple[int, str, datetime]] = {}
    for fid, aid, name, at in session.execute(
            select(PortalFile.id, PortalFile.agency_id, PortalFile.filename,
                   PortalFile.imported_at)
            .where(PortalFile.day_from <= day, PortalFile.day_to >= day,
                   agency_condition(PortalFile.agency_id, scope))
            .order_by(PortalFile.id)):
        files[int(aid)] = (int(fid), name, at)  # the newest list of the day wins
    portal: dict[int, tuple[int, int]] = {}
    if files:
        for aid, c, s in session.execute(
                select(PortalLine.agency_id, func.count(), func.sum(PortalLine.amount))
                .where(PortalLine.file_id.in_([f[0] for f in files.values()]),
                       PortalLine.day == day, PortalLine.status.in_(PAID))
                .group_by(PortalLine.agency_id)):
            portal[int(aid)] = (int(c), int(s or 0))
    differences = _open_differences(session, day, start, end)
    agencies = sorted(set(recon) | set(files))
    names = {int(i): (c, n) for i, c, n in session.execute(
        select(Agency.id, Agency.code, Agency.name).where(Agency.id.in_(agencies)))}
    out = []
    for aid in agencies:
        code, name = names[aid]
        file = files.get(aid)
        count, amount = recon.get(aid, (0, 0))
        pc, pa = portal.get(aid, (0, 0)) if file else (None, None)
        out.append(PortalDay(code, name, file[0] if file else None, file[1] if file else None,
                             file[2] if file else None, pc, pa, count, amount,
                             differences.get(aid, 0) if file else 0))
    return sorted(out, key=lambda p: p.agency_code)


def _open_differences(session: Session, day: date, start: datetime, end: datetime
                      ) -> dict[int, int]:
    """Open ``portal_mismatch`` findings of the day, per agency (about a payment of the day,
    or about a portal line of the day)."""
    out: dict[int, int] = {}
    for (aid,) in session.execute(
            select(Dossier.agency_id).select_from(Discrepancy)
            .join(Payment, Payment.id == Discrepancy.payment_id)
            .join(Dossier, Dossier.id == Payment.dossier_id)
            .where(Discrepancy.kind == KIND, Discrepancy.status == "open",
                   Discrepancy.identity.like(f"{KIND}:payment=%"),
                   Payment.paid_at >= start, Payment.paid_at < end)):
        out[int(aid)] = out.get(int(aid), 0) + 1
    line_ids = [int(i.rpartition("=")[2]) for i in session.execute(
        select(Discrepancy.identity).where(
            Discrepancy.kind == KIND, Discrepancy.status == "open",
            Discrepancy.identity.like(f"{KIND}:portal_line=%"))).scalars()]
    for start_at in range(0, len(line_ids), 1000):
        for (aid,) in session.execute(
                select(PortalLine.agency_id).where(
                    and_(PortalLine.id.in_(line_ids[start_at:start_at + 1000]),
                         PortalLine.day == day))):
            out[int(aid)] = out.get(int(aid), 0) + 1
    return out


PORTAL_HEADER = ("Agency", "Portal list", "Portal count", "Portal amount", "Recon count",
                 "Recon amount", "Open portal differences", "Agreement")
PORTAL_AMOUNTS = frozenset({3, 5})


def portal_cells(p: PortalDay, label: Any) -> list[Any]:
    """A portal row as export cells; ``label(key)`` words the agreement."""
    agreement = ("no_list" if p.agrees is None else "agrees" if p.agrees else "differs")
    return [p.agency_code, p.filename or label("no_list"), p.portal_count, p.portal_amount,
            p.recon_count, p.recon_amount, p.differences, label(agreement)]


def portal_text(days: Sequence[PortalDay]) -> list[str]:
    """The report's text section (English, as the rest of the CLI text)."""
    from recon.money import format_vnd  # noqa: PLC0415

    out = ["", "National Public Service Portal (portal list of the day vs recon)"]
    if not any(p.imported for p in days):
        out.append("  no portal list was imported for this day: import it with "
                   "`recon portal import --agency CODE FILE`")
    for p in days:
        if not p.imported:
            out.append(f"  {p.agency_code:<14} no portal list imported for this day; recon: "
                       f"{p.recon_count:,} paid, {format_vnd(p.recon_amount)}")
            continue
        at = p.imported_at.astimezone(VN_TZ).strftime("%Y-%m-%d %H:%M") if p.imported_at \
            else "-"
        out.append(f"  {p.agency_code:<14} portal {p.portal_count or 0:,} paid, "
                   f"{format_vnd(p.portal_amount or 0)}; recon {p.recon_count:,} paid, "
                   f"{format_vnd(p.recon_amount)}; {p.differences} open portal_mismatch; "
                   f"{'agrees' if p.agrees else 'DIFFERS'} (list {p.filename}, imported {at})")
    return out


__all__ = ["PORTAL_AMOUNTS", "PORTAL_HEADER", "PortalDay", "portal_cells", "portal_days",
           "portal_text"]
