"""Reconciliation runs as finance reads them (``GET /api/v1/recon-runs``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.models import ReconRun

RUN_STATUSES = ("running", "succeeded", "failed")


def list_runs(session: Session, *, limit: int, before: int | None = None,
              status: str | None = None) -> list[ReconRun]:
    """Up to ``limit`` runs, newest first; only those with an id below ``before`` and with
    ``status``, when given."""
    stmt = select(ReconRun).order_by(ReconRun.id.desc()).limit(limit)
    if before is not None:
        stmt = stmt.where(ReconRun.id < before)
    if status:
        stmt = stmt.where(ReconRun.status == status)
    return list(session.scalars(stmt))


__all__ = ["RUN_STATUSES", "list_runs"]
