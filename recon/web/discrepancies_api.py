"""`/api/v1/discrepancies` and `/api/v1/recon-runs`: what reconciliation found, for finance."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify

from recon.engine.kinds import KINDS
from recon.models import ReconRun
from recon.review import exports, runs
from recon.web.policy import scope
from recon.web.query import choice_arg, int_arg, text_arg
from recon.web.security import database

bp = Blueprint("discrepancies_api", __name__, url_prefix="/api/v1")
MAX_PAGE = 500
STATUSES = ("open", "resolved", "auto_resolved", "all")


@bp.get("/discrepancies")
def list_discrepancies() -> Response:
    """Filter by ``kind``, ``status`` (default open; ``all``), ``provider``; keyset pagination
    by id: pass ``after`` = the previous page's ``next_after``."""
    limit = int_arg("limit", 50, minimum=1, maximum=MAX_PAGE) or 50
    after = int_arg("after", None)
    kind = choice_arg("kind", KINDS)
    status = choice_arg("status", STATUSES, "open")
    provider = text_arg("provider")
    with database().read() as s:
        items = exports.page(s, status=status, kind=kind, provider=provider, after=after,
                             limit=limit, scope=scope())
    next_after = items[-1]["id"] if len(items) == limit else None
    return jsonify({"items": items, "count": len(items), "next_after": next_after})


def _run_dict(run: ReconRun, *, whole: bool = True) -> dict[str, Any]:
    """A run as the API shows it. Its counts and error span every agency: shown only to the
    whole deployment (``whole``); a narrower scope sees when runs ran and how they ended."""
    try:
        counts = json.loads(run.counts or "{}") if whole else None
    except ValueError:
        counts = {}
    return {
        "id": run.id, "mode": run.mode, "status": run.status, "dry_run": run.dry_run,
        "as_of": run.as_of.isoformat(),
        "window_start": run.window_start.isoformat() if run.window_start else None,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "triggered_by": run.triggered_by, "counts": counts,
        "error": run.error if whole else None,
    }


@bp.get("/recon-runs")
def list_runs() -> Response:
    """Newest first; keyset pagination: pass ``before`` = the previous page's ``next_before``."""
    limit = int_arg("limit", 50, minimum=1, maximum=MAX_PAGE) or 50
    before = int_arg("before", None)
    status = choice_arg("status", runs.RUN_STATUSES)
    with database().read() as s:
        found = runs.list_runs(s, limit=limit, before=before, status=status)
    whole = scope().is_all
    items = [_run_dict(r, whole=whole) for r in found]
    next_before = items[-1]["id"] if len(items) == limit else None
    return jsonify({"items": items, "count": len(items), "next_before": next_before})
