"""Imported settlement files read back: the list, one file with its lines' totals, the file."""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from recon.models import SettlementFile, SettlementLine
from recon.scope import ALL, Scope, line_condition

# what a listing shows of each file (never its content)
LIST_COLUMNS = (SettlementFile.id, SettlementFile.provider, SettlementFile.filename,
                SettlementFile.sha256, SettlementFile.size, SettlementFile.source,
                SettlementFile.profile, SettlementFile.imported_at,
                SettlementFile.imported_by, SettlementFile.row_count,
                SettlementFile.total_amount)
LIST_NAMES = ("id", "provider", "filename", "sha256", "size", "source", "profile",
              "imported_at", "imported_by", "row_count", "total_amount")


class LineTotals(NamedTuple):
    """A file's settlement lines summed (gross, fee and net in VND)."""

    lines: int
    gross: int
    fee: int
    net: int
    distinct_transactions: int
    settled_from: date | str | None  # SQLite may answer MIN/MAX of dates as text
    settled_to: date | str | None


def _has_line_in(scope: Scope) -> Any:
    return select(SettlementLine.id).where(SettlementLine.file_id == SettlementFile.id,
                                           line_condition(scope)).exists()


def list_files(session: Session, *, limit: int, before: int | None = None,
               provider: str | None = None, scope: Scope = ALL) -> list[dict[str, Any]]:
    """Up to ``limit`` files, newest first, each as :data:`LIST_NAMES`; only ids below
    ``before`` and files of ``provider``, when given.

    A file spans agencies. For a scope narrower than the whole deployment only files with at
    least one line of its agencies are listed, and ``row_count`` and ``total_amount`` count
    only those lines."""
    query = select(*LIST_COLUMNS).order_by(SettlementFile.id.desc()).limit(limit)
    if not scope.is_all:
        query = query.where(_has_line_in(scope))
    if before is not None:
        query = query.where(SettlementFile.id < before)
    if provider:
        query = query.where(SettlementFile.provider == provider)
    items = [dict(zip(LIST_NAMES, row, strict=True)) for row in session.execute(query).all()]
    if not scope.is_all and items:
        mine = {fid: (int(n), int(a or 0)) for fid, n, a in session.execute(
            select(SettlementLine.file_id, func.count(), func.sum(SettlementLine.amount))
            .where(SettlementLine.file_id.in_([i["id"] for i in items]), line_condition(scope))
            .group_by(SettlementLine.file_id))}
        for item in items:
            item["row_count"], item["total_amount"] = mine.get(item["id"], (0, 0))
    return items


def file_with_totals(session: Session, file_id: int,
                     scope: Scope = ALL) -> tuple[dict[str, Any], LineTotals] | None:
    """The file as :data:`LIST_NAMES` and its lines' totals; None when there is no such file.
    For a narrower scope: None unless a line is of its agencies, and only those lines are
    summed (``row_count`` and ``total_amount`` too)."""
    row = session.execute(select(*LIST_COLUMNS).where(
        SettlementFile.id == file_id,
        _has_line_in(scope) if not scope.is_all else true())).one_or_none()
    if row is None:
        return None
    count, gross, fee, net, distinct, first, last = session.execute(select(
        func.count(), func.coalesce(func.sum(SettlementLine.amount), 0),
        func.coalesce(func.sum(SettlementLine.fee), 0),
        func.coalesce(func.sum(SettlementLine.net), 0),
        func.count(func.distinct(SettlementLine.provider_txn_id)),
        func.min(SettlementLine.settled_on), func.max(SettlementLine.settled_on),
    ).where(SettlementLine.file_id == file_id, line_condition(scope))).one()
    item = dict(zip(LIST_NAMES, row, strict=True))
    if not scope.is_all:
        item["row_count"], item["total_amount"] = int(count), int(gross)
    return (item,
            LineTotals(int(count), int(gross), int(fee), int(net), int(distinct), first, last))


def get_file(session: Session, file_id: int, scope: Scope = ALL) -> SettlementFile | None:
    """The stored file (content included). The whole file spans agencies: only the whole
    deployment reads it (None otherwise, as for no file)."""
    if not scope.is_all:
        return None
    return session.get(SettlementFile, file_id)


__all__ = ["LIST_NAMES", "LineTotals", "file_with_totals", "get_file", "list_files"]
