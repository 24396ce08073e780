"""`/finance/periods`: the months and their closes (khóa sổ); the service is
:mod:`recon.review.periods`. The report of a close downloads as XLSX and as a page made for
printing (to PDF from the browser)."""

from __future__ import annotations

import io
import json

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from recon.errors import FieldError, Forbidden, NotFound, ReconError, ValidationError
from recon.periods import parse_month
from recon.review import periods
from recon.web import finance
from recon.web.i18n import translate as tr
from recon.web.policy import scope
from recon.web.security import database

bp = Blueprint("finance_periods", __name__, url_prefix="/finance")
# the finance pages' words and formatters (t, num, actor_label, kind_label...)
bp.context_processor(finance._finance_context)

_MESSAGES = {
    "open_discrepancies": "The month has open discrepancies: resolve them, or carry each "
                          "forward with a note.",
    "same_user": "The person who proposed the close cannot approve it: ask another finance "
                 "officer.",
    "unowned_token": "This API token belongs to no person, so it cannot propose or approve "
                     "what needs two people. Recreate it with --user (recon tokens create).",
    "unknown_proposer": "Nobody can tell which person made this proposal (a token without an "
                        "owner did). Reject it and propose it again.",
    "period_closed": "This month is closed: an admin may reopen it, with a reason.",
    "whole_deployment": "Closing a month of every agency needs a user of the whole province: "
                        "name one of your agencies.",
    "close_in_progress": "Someone else proposed closing this month at the same moment: "
                         "reload the page and approve or reject that proposal.",
    "already_proposed": "This month already has a proposal or is closed: approve it, or ask "
                        "an admin to reopen it.",
    "already_closed": "This month already has a proposal or is closed: approve it, or ask "
                      "an admin to reopen it.",
}


def _message(exc: ReconError) -> str:
    reason = getattr(exc, "reason", None)
    if reason in _MESSAGES:
        return tr(_MESSAGES[reason])
    if isinstance(exc, Forbidden):
        return tr("Only an admin may reopen a closed month.")
    if isinstance(exc, ValidationError):
        return tr("Check the month (YYYY-MM) and the notes, then try again.")
    return tr("The action does not fit the month's state: reload the page.")


def _page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    with database().read() as s:
        rows = [(p, len(periods.snapshots(s, p.id))) for p in periods.list_periods(s, scope())]
        codes = periods.agency_codes(s)
    return render_template("finance/periods.html", rows=rows, error=error, codes=codes,
                           me=g.principal.actor, role=g.principal.role,
                           form=dict(request.form),
                           notices=get_flashed_messages(with_categories=True)), status


@bp.get("/periods")
def index() -> tuple[str, int]:
    return _page()


def _carry(text: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        ident, sep, note = line.partition("=")
        if not sep or not ident.strip().isdigit():
            raise ValidationError(FieldError("carry_forward", f"{line!r}: write ID=note"))
        out[int(ident.strip())] = note
    return out


def _do(action: str, period_id: int | None = None) -> BaseResponse | tuple[str, int]:
    form = request.form
    clock = current_app.extensions["recon.clock"]
    try:
        with database().transaction() as s:
            if action == "propose":
                try:
                    month = parse_month(form.get("month"))
                except ValueError as exc:
                    raise ValidationError(FieldError("month", str(exc))) from None
                periods.propose(s, clock, actor=g.principal.actor, month=month,
                                agency_code=form.get("agency") or None, note=form.get("note"),
                                carry_forward=_carry(form.get("carry_forward") or ""),
                                person=g.principal.person, scope=scope())
            elif action == "approve":
                assert period_id is not None
                periods.approve(s, clock, period_id, actor=g.principal.actor,
                                person=g.principal.person, scope=scope())
            else:
                assert period_id is not None
                periods.reopen(s, clock, period_id, actor=g.principal.actor,
                               role=g.principal.role, reason=form.get("reason"),
                               scope=scope())
    except ReconError as exc:
        if isinstance(exc, NotFound):
            raise  # another agency's month, or no such month: the 404 page
        return _page(_message(exc), exc.http_status)
    flash(tr("Done."), "ok")
    return redirect(url_for("finance_periods.index"), 303)


@bp.post("/periods")
def propose() -> BaseResponse | tuple[str, int]:
    return _do("propose")


@bp.post("/periods/<int:period_id>/approve")
def approve(period_id: int) -> BaseResponse | tuple[str, int]:
    return _do("approve", period_id)


@bp.post("/periods/<int:period_id>/reopen")
def reopen(period_id: int) -> BaseResponse | tuple[str, int]:
    return _do("reopen", period_id)


def _snapshot(period_id: int) -> tuple[dict[str, object], str]:
    with database().read() as s:
        p = periods.get(s, period_id, scope=scope())
        text, digest = p.snapshot, p.snapshot_sha256
    if text is None:
        raise ValidationError(FieldError("period", "has never been closed"),
                              hint="Close the month first.")
    return json.loads(text), digest or ""


@bp.get("/periods/<int:period_id>/report")
def report(period_id: int) -> str:
    snap, digest = _snapshot(period_id)
    return render_template("finance/period_report.html", snap=snap, digest=digest,
                           rows=periods.report_rows(snap), period_id=period_id)


@bp.get("/periods/<int:period_id>/report.xlsx")
def report_xlsx(period_id: int) -> BaseResponse:
    snap, _ = _snapshot(period_id)
    out = io.BytesIO()
    periods.write_report_xlsx(snap, out)
    out.seek(0)
    return send_file(out, mimetype="application/vnd.openxmlformats-officedocument."
                     "spreadsheetml.sheet", as_attachment=True,
                     download_name=f"khoa-so-{snap['month']}.xlsx")
