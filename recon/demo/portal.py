"""The demo quarter's National Public Service Portal lists: one per agency and Vietnam day,
each listing the day's online payments of the agency's dossiers as the portal would (in the
layout of the ``dvcqg_daily`` profile, read back through it), with a few planned faults.

Every list holds, for each payment of the agency's dossiers paid that day other than cash
(succeeded, failed or refunded), one line with the portal's transaction id
(``G22.99.3-…``), the dossier, the payment reference, the provider's transaction id, the
provider, the amount, the status and the time. :data:`PORTAL_FAULTS` (about 1 % of the
quarter's cashless payments) are planned, each found by ``recon reconcile`` as one
``portal_mismatch``:

- ``amount``: the portal lists a payment with :data:`AMOUNT_EXTRA` more;
- ``status``: the portal lists a succeeded payment as still pending;
- ``missing``: the portal's list lacks a payment recon has;
- ``extra``: the portal lists a paid transaction that neither recon nor the provider has.

Deterministic (a seeded ``random.Random``), idempotent (a list already stored for the quarter:
nothing is done), bulk-inserted in one transaction; the files are stored as an import stores
them (content, hash, profile), with one audit event.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text

from recon.audit import chain as audit
from recon.bulk import allocate_ids, insert_rows
from recon.clock import VN_TZ, Clock
from recon.db import Database, UTCDateTime
from recon.demo.catalog import quarter_bounds
from recon.models import Agency, PortalFile
from recon.portal.importer import DEFAULT_PROFILE, LINE_COLUMNS, load_profiles, parse_list

# faults at the published scale (2,835 cashless payments): about 1 % in all
PORTAL_FAULTS: dict[str, int] = {"amount": 8, "status": 6, "missing": 8, "extra": 6}
PUBLISHED_CASHLESS = 2_835
AMOUNT_EXTRA = 10_000
EXTRA_AMOUNT = 50_000
HEADER = ("Mã giao dịch", "Mã hồ sơ", "Mã tham chiếu", "Mã giao dịch trung gian",
          "Trung gian thanh toán", "Số tiền", "Trạng thái", "Thời gian giao dịch")
PROVIDER_WORDS = {"vnpay": "VNPAY", "momo": "MoMo", "zalopay": "ZaloPay", "payos": "payOS",
                  "sepay": "SePay", "casso": "Casso", "pos": "POS"}
STATUS_WORDS = {"succeeded": "Thành công", "failed": "Thất bại", "refunded": "Đã hoàn tiền",
                "pending": "Đang xử lý"}
_PAYMENTS = ("SELECT p.id, p.provider, p.provider_txn_id, p.amount, p.status, p.paid_at, "
             "p.reference, d.code, d.agency_id FROM payments p "
             "JOIN dossiers d ON d.id = p.dossier_id "
             "WHERE p.provider <> 'cash' AND p.paid_at >= :start AND p.paid_at < :end "
             "ORDER BY p.id")


@dataclass
class PortalSeed:
    files: int = 0
    lines: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    skipped: bool = False

    @property
    def planned_findings(self) -> int:
        return sum(self.faults.values())


def _planned(candidates: int) -> dict[str, int]:
    if candidates >= PUBLISHED_CASHLESS:
        return dict(PORTAL_FAULTS)
    # a smaller quarter, proportionally fewer, to the nearest (none for a tiny one): the full
    # quarter lists a few payments fewer than its 2,835 cashless dossiers, since the shares
    # of its split transfers are paid by payments of no dossier of their own
    return {k: (2 * v * candidates + PUBLISHED_CASHLESS) // (2 * PUBLISHED_CASHLESS)
            for k, v in PORTAL_FAULTS.items()}


def _money(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


def _csv(agency: str, day: date, rows: list[tuple[str, ...]]) -> bytes:
    """A list as the portal might export it: a title, the agency and the day above the header
    (the profile finds the header row itself)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["DANH SÁCH GIAO DỊCH THANH TOÁN TRỰC TUYẾN"])
    writer.writerow([f"Đơn vị: {agency}"])
    writer.writerow([f"Ngày: {day:%d/%m/%Y}"])
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def seed_portal(db: Database, clock: Clock, *, year: int = 2021, quarter: int = 1,
                seed: int = 2021) -> PortalSeed:
    """Store the quarter's portal lists (see the module doc). Idempotent."""
    report = PortalSeed()
    start, end = quarter_bounds(year, quarter)
    first, last = start.date(), (end - timedelta(days=1)).date()
    profile = load_profiles()[DEFAULT_PROFILE]
    rng = random.Random(f"recon-demo-portal:{seed}:{year}:Q{quarter}")  # noqa: S311
    with db.transaction() as s:
        if s.scalar(select(func.count()).select_from(PortalFile).where(
                PortalFile.day_from >= first, PortalFile.day_to <= last)):
            report.skipped = True
            return report
        agencies = {int(i): str(c) for i, c in s.execute(select(Agency.id, Agency.code))}
        rows = s.execute(text(_PAYMENTS).columns(paid_at=UTCDateTime()),
                         {"start": start, "end": end} if s.get_bind().dialect.name
                         == "postgresql" else {"start": _sqlite(start), "end": _sqlite(end)}
                         ).all()
        if not rows:
            return report
        clean = [r for r in rows if r[4] == "succeeded"]
        faults = _planned(len(clean))
        picked = rng.sample(clean, faults["amount"] + faults["status"] + faults["missing"]
                            + faults["extra"])
        cut = 0
        chosen: dict[str, list[Any]] = {}
        for name in ("amount", "status", "missing", "extra"):
            chosen[name] = picked[cut:cut + faults[name]]
            cut += faults[name]
        by_fault = {r[0]: name for name in ("amount", "status", "missing")
                    for r in chosen[name]}
        extras: dict[tuple[int, date], list[Any]] = {}
        for r in chosen["extra"]:  # a line on the day of another payment of the agency
            extras.setdefault((int(r[8]), r[5].astimezone(VN_TZ).date()), []).append(r)
        days: dict[tuple[int, date], list[tuple[str, ...]]] = {}
        for aid in agencies:
            day = first
            while day <= last:
                days[(aid, day)] = []
                day += timedelta(days=1)
        for r in rows:
            pid, provider, txn, amount, status, paid_at, reference, code, aid = r
            fault = by_fault.get(pid)
            if fault == "missing":
                continue
            if fault == "amount":
                amount += AMOUNT_EXTRA
            if fault == "status":
                status = "pending"
            at = paid_at.astimezone(VN_TZ)
            key = (int(aid), at.date())
            if key not in days:
                continue
            days[key].append((f"{at:%H%M%S}", code, reference or "", txn,
                              PROVIDER_WORDS.get(provider, provider), _money(amount),
                              STATUS_WORDS[status], f"{at:%d/%m/%Y %H:%M:%S}"))
        for key, olds in extras.items():
            for n, r in enumerate(olds, start=1):
                at = r[5].astimezone(VN_TZ) + timedelta(minutes=7)
                days[key].append((f"{at:%H%M%S}", r[7], "", f"DVC-ONLY-{r[0]}-{n}",
                                  PROVIDER_WORDS.get(r[1], r[1]), _money(EXTRA_AMOUNT),
                                  STATUS_WORDS["succeeded"], f"{at:%d/%m/%Y %H:%M:%S}"))
        now = clock.now()
        keys = sorted(days, key=lambda k: (k[1], agencies[k[0]]))
        file_ids = allocate_ids(s, "portal_files", len(keys))
        files, lines = [], []
        sqlite = s.get_bind().dialect.name == "sqlite"
        for file_id, (aid, day) in zip(file_ids, keys, strict=True):
            listed = sorted(days[(aid, day)], key=lambda t: (t[0], t[3]))
            numbered = [(f"G22.99.3-{day:%y%m%d}-{aid:02d}{n:05d}", *t[1:])
                        for n, t in enumerate(listed, start=1)]
            content = _csv(agencies[aid], day, numbered)
            name = f"dvcqg-{agencies[aid]}-{day.isoformat()}.csv"
            parsed = parse_list(content, name, profile)
            if parsed.errors:  # pragma: no cover - the generator writes the profile's layout
                raise RuntimeError(f"demo portal list {name}: {parsed.errors[0]}")
            files.append((file_id, aid, name, hashlib.sha256(content).hexdigest(),
                          len(content), content, profile.name,
                          day.isoformat() if sqlite else day, day.isoformat() if sqlite else day,
                          now, "demo", len(parsed.rows), sum(p.amount for p in parsed.rows)))
            lines += [(file_id, p.line_no, aid, p.portal_txn_id, p.dossier_code, p.reference,
                       p.provider_txn_id, p.provider, p.amount, p.status, p.transaction_at,
                       p.day.isoformat() if sqlite else p.day, now) for p in parsed.rows]
        insert_rows(s, "portal_files", (
            "id", "agency_id", "filename", "sha256", "size", "content", "profile", "day_from",
            "day_to", "imported_at", "imported_by", "row_count", "total_amount"), files)
        insert_rows(s, "portal_lines", LINE_COLUMNS, lines)
        report.files, report.lines, report.faults = len(files), len(lines), faults
        audit.record(s, clock, actor="demo", action="portal.imported",
                     entity_type="portal_file", entity_id=f"demo-{year}Q{quarter}",
                     data={"files": report.files, "lines": report.lines, "faults": faults})
    return report


def _sqlite(moment: datetime) -> str:
    from recon.bulk import sqlite_datetime  # noqa: PLC0415

    return sqlite_datetime(moment)


__all__ = ["AMOUNT_EXTRA", "PORTAL_FAULTS", "PortalSeed", "seed_portal"]
