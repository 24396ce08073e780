"""The finance workbench (`/finance`): dashboard, discrepancy queue, the whole story of one
discrepancy, the actions on it, exports, reports and the audit log.

Views are thin: parse the request, call :mod:`review.workbench` / :mod:`review.reports` (reads)
or :mod:`recon.review.actions` (writes, one audited service function per action), render. Every
state change is a POST form carrying the CSRF token; no GET changes anything. Forms work
without JavaScript; ``static/finance.js`` only adds conveniences (the dossier field of a manual
match, printing, auto-submit of the sort).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    get_flashed_messages,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.wrappers import Response as BaseResponse

from recon.audit.chain import verify_chain
from recon.audit.events import EventFilters, list_events
from recon.clock import VN_TZ, Clock
from recon.errors import FieldError, NotFound, ReconError, ValidationError
from recon.intake.agencies import agency_names
from recon.models.reconciliation import DISCREPANCY_KINDS
from recon.money import format_vnd
from recon.review import actions as review
from recon.review import declarations, portal_report, reports, workbench
from recon.review import deposits as deposit_reads
from recon.review import forwarding as forwarding_reads
from recon.review import payouts as payout_reads
from recon.review import remittances as remittance_reads
from recon.settlements.payouts import payout_config
from recon.web import i18n
from recon.web.i18n import (
    action_label,
    actor_label,
    channel_label,
    entity_label,
    entity_ref,
    kind_label,
    num,
    outcome_label,
    payment_status_label,
    payout_state_label,
    provider_label,
    resolution_label,
    run_mode_label,
    status_label,
)
from recon.web.policy import scope
from recon.web.security import database

bp = Blueprint("finance", __name__, url_prefix="/finance")
tr = i18n.translate

AUDIT_PAGE = 100
OUTSTANDING_PAGE = 50
SORT_LABELS = (("oldest", "Oldest first"), ("newest", "Newest first"),
               ("amount_desc", "Largest amount first"), ("amount_asc", "Smallest amount first"),
               ("kind", "By kind"))


def _clock() -> Clock:
    clock: Clock = current_app.extensions["recon.clock"]
    return clock


def vn_time(value: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    return value.astimezone(VN_TZ).strftime(fmt) if value else ""


def vn_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def pct(part: int, whole: int) -> int:
    """An integer percentage for bar widths (never a float)."""
    return part * 100 // whole if whole > 0 else 0


def explanation(item: Any) -> str:
    if i18n.current_language() == "en" and getattr(item, "explanation_en", None):
        return str(item.explanation_en)
    return str(item.explanation)


def auto_reason(item: Any) -> str:
    if i18n.current_language() == "en" and getattr(item, "auto_resolved_reason_en", None):
        return str(item.auto_resolved_reason_en)
    return str(item.auto_resolved_reason or "")


#: what verify_chain's (English) reasons say happened, shown in the page's language
_CHAIN_REASONS = ("an event was removed or reordered", "its content was changed")


def chain_reason(reason: str | None) -> str:
    if i18n.current_language() == "en":
        return reason or ""
    for key in _CHAIN_REASONS:
        if key in (reason or ""):
            return tr(key)
    return reason or ""


def pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=1, sort_keys=True)
    except ValueError:
        return text


@bp.context_processor
def _finance_context() -> dict[str, Any]:
    return {"t": tr, "vn_time": vn_time, "vn_date": vn_date, "pct": pct,
            "kind_label": kind_label, "status_label": status_label,
            "resolution_label": resolution_label, "channel_label": channel_label,
            "provider_label": provider_label, "payment_status_label": payment_status_label,
            "payout_state_label": payout_state_label, "in_net": payout_reads.in_net,
            "run_mode_label": run_mode_label, "num": num, "action_label": action_label,
            "actor_label": actor_label, "entity_label": entity_label, "entity_ref": entity_ref,
            "outcome_label": outcome_label, "action_labels": i18n.ACTION_LABELS,
            "entity_labels": i18n.ENTITY_LABELS,
            "explanation": explanation, "auto_reason": auto_reason, "pretty_json": pretty_json,
            "chain_reason": chain_reason,
            "kinds": DISCREPANCY_KINDS, "resolution_types": review.RESOLUTION_TYPES,
            "needs_approval": review.NEEDS_APPROVAL, "format_bp": reports.format_bp}


def _user_id() -> int | None:
    principal = g.principal
    return principal.id if principal is not None and principal.kind == "user" else None


def _agencies() -> list[tuple[str, str]]:
    with database().read() as s:
        return agency_names(s, scope())


# --------------------------------------------------------------------------- dashboard


@bp.get("")
def index() -> str:
    now = _clock().now()
    day = reports.vn_today(now)
    error = None
    raw = (request.args.get("day") or "").strip()
    if raw:
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            error = tr("The filters are not valid: {message}").format(message=raw)
    with database().read() as s:
        board = reports.dashboard(s, now, day=day, scope=scope())
        unremitted = remittance_reads.not_remitted(
            s, reports.vn_today(now), due_day=_due_day(), collectors=_collectors())
    names = dict(_agencies())
    return render_template("finance/index.html", board=board, day=day, error=error,
                           unremitted=unremitted, agency_names=names,
                           notices=get_flashed_messages(with_categories=True))


def _collectors() -> list[str] | None:
    """The collecting organisations the caller sees (None: every one)."""
    return None if scope().is_all else [code for code, _ in _agencies()]


def _due_day() -> int:
    return remittance_reads.due_day_of(current_app.extensions["recon.settings"].env)


# --------------------------------------------------------------------------- queue


def _filters() -> tuple[workbench.QueueFilters, str | None]:
    """The queue's filters from the query string, narrowed to the caller's agencies."""
    try:
        parsed = workbench.parse_filters(request.args, request.args.getlist)
        return replace(parsed, scope=scope()), None
    except workbench.FilterError as exc:
        return workbench.QueueFilters(scope=scope()), _filter_error(exc)


def _filter_error(exc: workbench.FilterError) -> str:
    return tr("The filters are not valid: {message}").format(
        message=f"{exc.field}: {exc.message}")


@bp.get("/discrepancies")
def queue() -> tuple[str, int]:
    filters, error = _filters()
    cursor = request.args.get("after") or request.args.get("before")
    direction: workbench.Direction = "before" if request.args.get("before") else "after"
    limit = request.args.get("limit", type=int) or workbench.DEFAULT_LIMIT
    page = None
    status = 200
    if error is None:
        try:
            with database().read() as s:
                page = workbench.queue(s, filters, limit=limit, cursor=cursor,
                                       direction=direction, user_id=_user_id())
        except workbench.FilterError as exc:
            error = _filter_error(exc)
    if error is not None:
        status = 422
    args = filters.as_args()
    if limit != workbench.DEFAULT_LIMIT:
        args.append(("limit", str(limit)))
    return render_template(
        "finance/queue.html", page=page, filters=filters, error=error, query=urlencode(args),
        args=args, agencies=_agencies(), providers=workbench.PROVIDERS,
        channels=workbench.CHANNELS, statuses=workbench.STATUSES, sorts=SORT_LABELS,
        limit=limit, notices=get_flashed_messages(with_categories=True)), status


@bp.get("/discrepancies/export.<fmt>")
def export(fmt: str) -> Response:
    if fmt not in ("csv", "xlsx"):
        raise HTTPNotFound()
    filters, error = _filters()
    if error is not None:
        raise ValidationError(FieldError("filters", error))
    lang = i18n.current_language()
    db = database()
    user_id = _user_id()
    stamp = _clock().now().astimezone(VN_TZ).strftime("%Y%m%d-%H%M")
    name = f"chenh-lech-{stamp}.{fmt}"

    def body() -> Iterator[bytes]:
        header, rows, amounts = workbench.queue_table(
            workbench.export_rows(db, filters, user_id=user_id), lang)
        if fmt == "csv":
            yield from workbench.csv_chunks(header, rows)
        else:
            yield from workbench.xlsx_chunks("discrepancies", header, rows, amounts)

    return _download(body(), name, fmt)


def _download(chunks: Iterator[bytes], name: str, fmt: str) -> Response:
    mimetype = ("text/csv; charset=utf-8" if fmt == "csv" else
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------------------- detail


def _story(discrepancy_id: int) -> workbench.Story:
    with database().read() as s:
        found = workbench.story(s, discrepancy_id, scope())
    if found is None:
        raise NotFound(tr("Not found."))
    return found


@bp.get("/discrepancies/<int:discrepancy_id>")
def detail(discrepancy_id: int) -> tuple[str, int]:
    return _render_detail(discrepancy_id)


def _render_detail(discrepancy_id: int, *, error: str | None = None, status: int = 200,
                   form: dict[str, str] | None = None) -> tuple[str, int]:
    story = _story(discrepancy_id)
    d = story.discrepancy
    sides = forward = None
    if d.kind.startswith("payout_") and d.settlement_line_id is not None:
        with database().read() as s:  # both sides: the batch and the bank credit
            sides = payout_reads.sides(s, config=_payout_config(), now=_clock().now(),
                                       kind=d.kind, line_id=d.settlement_line_id)
    if d.kind == "forward_overdue" and d.payment_id is not None:
        with database().read() as s:  # both sides: what was owed onward, the transfers
            forward = forwarding_reads.overdue_sides(
                s, d.payment_id, now=_clock().now(), deadline_hours=_forward_deadline())
    invoice_side = None
    if d.kind == "fee_invoice_mismatch" and scope().is_all:
        from recon.contracts import contracts_from_settings  # noqa: PLC0415
        from recon.review.fees import invoice_month  # noqa: PLC0415

        book = contracts_from_settings(current_app.extensions["recon.settings"].env)
        with database().read() as s:  # the month's invoices against its contract
            invoice_side = invoice_month(s, book, d.identity)
    return render_template(
        "finance/detail.html", story=story, d=story.discrepancy, error=error, payout=sides,
        forward=forward, invoice_side=invoice_side,
        form=form or {}, me=g.principal.actor, overdue=_overdue(story),
        whole_scope=scope().is_all,
        back=_back_link(),
        notices=get_flashed_messages(with_categories=True)), status


def _overdue(story: workbench.Story) -> Any:
    """A missing settlement's deadline and banking days overdue (recon.review.deadlines)."""
    d = story.discrepancy
    if d.kind != "missing_settlement" or not story.payments:
        return None
    from recon.engine.settings import engine_config_from_env  # noqa: PLC0415
    from recon.review.deadlines import settlement_overdue  # noqa: PLC0415

    payment = next((p for p in story.payments if p.id == d.payment_id), story.payments[0])
    config = engine_config_from_env(current_app.extensions["recon.settings"].env)
    return settlement_overdue(payment.provider, payment.paid_at, config, _clock().now())


def _back_link() -> str:
    """Where "back to the queue" goes: a queue URL of ours, never anything else."""
    back = request.args.get("back") or ""
    if back.startswith("/finance/discrepancies") and "//" not in back and "\\" not in back:
        return back
    return url_for("finance.queue")


@bp.get("/discrepancies/<int:discrepancy_id>/approval")
def approval(discrepancy_id: int) -> tuple[str, int]:
    story = _story(discrepancy_id)
    return render_template("finance/approval.html", story=story, d=story.discrepancy,
                           me=g.principal.actor, error=None,
                           notices=get_flashed_messages(with_categories=True)), 200


@bp.get("/approvals")
def approvals() -> str:
    filters = workbench.QueueFilters(status="pending", sort="oldest", scope=scope())
    with database().read() as s:
        page = workbench.queue(s, filters, limit=workbench.MAX_LIMIT, user_id=_user_id())
    return render_template("finance/approvals.html", page=page, me=g.principal.actor,
                           notices=get_flashed_messages(with_categories=True))


# --------------------------------------------------------------------------- actions

_REASON_MESSAGES = {
    "not_open": "This discrepancy is not open any more. Reload the page; reopen it if it "
                "needs more work.",
    "pending": "A proposal is waiting for approval. Approve or reject it first.",
    "no_proposal": "There is no proposal to act on any more. Reload the page.",
    "same_user": "You proposed this resolution, so you cannot approve it. Ask another "
                 "finance officer.",
    "unowned_token": "This API token belongs to no person, so it cannot propose or approve "
                     "what needs two people. Recreate it with --user (recon tokens create).",
    "unknown_proposer": "Nobody can tell which person made this proposal (a token without an "
                        "owner did). Reject it and propose it again.",
    "already_open": "This discrepancy is already open.",
}
_FIELD_MESSAGES = {
    "note": "Write a note: what was done and why.",
    "dossier_code": "Name the dossier the money belongs to.",
    "resolution_type": "Choose how it was resolved.",
    "user_id": "Choose an active finance officer.",
}

_DONE_MESSAGES = {
    "resolved": "Resolved.",
    "proposed": "Proposal recorded; another finance officer must approve it.",
    "approved": "Approved and resolved.",
    "rejected": "Proposal rejected; the discrepancy stays open.",
    "assigned": "Assigned.",
    "reopened": "Reopened.",
}


def review_message(exc: ReconError) -> str:
    """What the officer reads: the error in the page's language, saying what to do."""
    reason = getattr(exc, "reason", None)
    if reason in _REASON_MESSAGES:
        return tr(_REASON_MESSAGES[reason])
    if isinstance(exc, ValidationError) and exc.errors:
        first = exc.errors[0]
        if first.field == "note" and "at most" in first.message:
            return tr("The note is too long (at most 2,000 characters).")
        if first.field == "dossier_code" and "no dossier" in first.message:
            return tr("No dossier has that code. Check it and try again.")
        if first.field in _FIELD_MESSAGES:
            return tr(_FIELD_MESSAGES[first.field])
    if isinstance(exc, NotFound):
        return tr("Not found.")
    return tr("That could not be done. Reload the page and try again.")


def _act(discrepancy_id: int, action: str) -> BaseResponse | tuple[str, int]:
    actor = g.principal.actor
    person = g.principal.person  # maker ≠ checker compares people (a token: its owner)
    form = request.form
    within = scope()
    try:
        with database().transaction() as s:
            clock = _clock()
            if action == "resolve":
                result = review.resolve(s, clock, discrepancy_id, actor=actor, scope=within,
                                        resolution_type=form.get("resolution_type"),
                                        note=form.get("note"),
                                        dossier_code=form.get("dossier_code"),
                                        person=person)
            elif action == "approve":
                result = review.approve(s, clock, discrepancy_id, actor=actor, scope=within,
                                        note=form.get("note"), person=person)
            elif action == "reject":
                result = review.reject(s, clock, discrepancy_id, actor=actor, scope=within,
                                       note=form.get("note"), person=person)
            elif action == "assign":
                raw = (form.get("user_id") or "").strip()
                if raw == "me":
                    target = _user_id()
                elif raw in ("", "none"):
                    target = None
                elif raw.isdigit():
                    target = int(raw)
                else:
                    raise ValidationError(FieldError("user_id", "not a user"))
                result = review.assign(s, clock, discrepancy_id, actor=actor, scope=within,
                                       user_id=target)
            else:
                result = review.reopen(s, clock, discrepancy_id, actor=actor, scope=within,
                                       note=form.get("note"))
    except ReconError as exc:
        if isinstance(exc, NotFound):
            raise
        if action in ("approve", "reject") and request.form.get("from") == "approval":
            story = _story(discrepancy_id)
            return render_template("finance/approval.html", story=story, d=story.discrepancy,
                                   me=actor, error=review_message(exc), notices=[]), \
                exc.http_status
        return _render_detail(discrepancy_id, error=review_message(exc),
                              status=exc.http_status, form=dict(form))
    flash(tr(_DONE_MESSAGES[result.outcome]), "ok")
    return redirect(url_for("finance.detail", discrepancy_id=discrepancy_id), 303)


@bp.post("/discrepancies/<int:discrepancy_id>/resolve")
def resolve(discrepancy_id: int) -> BaseResponse | tuple[str, int]:
    return _act(discrepancy_id, "resolve")


@bp.post("/discrepancies/<int:discrepancy_id>/approve")
def approve(discrepancy_id: int) -> BaseResponse | tuple[str, int]:
    return _act(discrepancy_id, "approve")


@bp.post("/discrepancies/<int:discrepancy_id>/reject")
def reject(discrepancy_id: int) -> BaseResponse | tuple[str, int]:
    return _act(discrepancy_id, "reject")


@bp.post("/discrepancies/<int:discrepancy_id>/assign")
def assign(discrepancy_id: int) -> BaseResponse | tuple[str, int]:
    return _act(discrepancy_id, "assign")


@bp.post("/discrepancies/<int:discrepancy_id>/reopen")
def reopen(discrepancy_id: int) -> BaseResponse | tuple[str, int]:
    return _act(discrepancy_id, "reopen")


@bp.get("/dossiers/lookup")
def dossier_lookup() -> Response:
    """For the manual-match field: does this dossier exist, what is assessed and paid."""
    code = (request.args.get("code") or "").strip()
    with database().read() as s:
        found = workbench.dossier_summary(s, code, scope()) if code else None
        if found is None:
            response = jsonify({"found": False, "code": code})
            response.status_code = 404
            return response
        dossier, assessed, paid = found
        return jsonify({"found": True, "code": dossier.code, "applicant": dossier.applicant_name,
                        "agency": dossier.agency.code, "assessed": assessed, "paid": paid,
                        "assessed_text": format_vnd(assessed), "paid_text": format_vnd(paid)})


@bp.get("/settlement-files/<int:file_id>/download")
def download_file(file_id: int) -> Response:
    with database().read() as s:
        found = workbench.file_content(s, file_id, scope())
    if found is None:
        raise NotFound(tr("Not found."))
    filename, content = found
    response = Response(content, mimetype="application/octet-stream")
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_"
                   for ch in filename) or f"settlement-{file_id}"
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/receipts/<int:receipt_id>.xml")
def download_receipt(receipt_id: int) -> Response:
    """An issued e-receipt's signed XML (its payment must be in the caller's scope)."""
    with database().read() as s:
        found = workbench.receipt_document(s, receipt_id, scope())
    if found is None:
        raise NotFound(tr("Not found."))
    filename, content = found
    response = Response(content, mimetype="application/xml")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------------------- reports


@bp.get("/fees")
def fees() -> tuple[str, int]:
    """Fees charged per provider and month against the fee contracts (RECON_CONTRACTS_FILE)."""
    from recon.contracts import contracts_from_settings  # noqa: PLC0415
    from recon.review.fees import (  # noqa: PLC0415
        fees_by_month,
        latest_year,
        refund_fees_by_month,
        subscriptions_by_month,
    )

    settings = current_app.extensions["recon.settings"]
    book = contracts_from_settings(settings.env)
    raw = (request.args.get("year") or "").strip()
    error = None
    with database().read() as s:
        year = latest_year(s, reports.vn_today(_clock().now()).year)
        if raw:
            if raw.isascii() and raw.isdigit() and 2000 <= int(raw) <= 2100:
                year = int(raw)
            else:
                error = tr("The filters are not valid: {message}").format(message=raw)
        seen = scope()
        rows = fees_by_month(s, book, year, seen)
        refunds = refund_fees_by_month(s, book, year, seen)
        subscriptions = subscriptions_by_month(s, book, year) if seen.is_all else None
    return render_template("finance/fees.html", rows=rows, refunds=refunds, year=year,
                           error=error, book=book, subscriptions=subscriptions
                           ), 422 if error else 200


#: detail lines of the Art. 36 report on one page (the downloads hold all of them)
DAILY_DETAIL_PAGE = 200


def _daily_day() -> tuple[date, str | None]:
    raw = (request.args.get("day") or "").strip()
    if raw:
        try:
            return date.fromisoformat(raw), None
        except ValueError:
            return (reports.vn_today(_clock().now()),
                    tr("The filters are not valid: {message}").format(message=raw))
    return reports.vn_today(_clock().now()), None


@bp.get("/reports/daily")
def daily() -> tuple[str, int]:
    """The daily summary and the Art. 36 report (Decision 31/2021/QĐ-TTg): summary by agency,
    provider, transaction type, status and processing result, and the day's transactions."""
    day, error = _daily_day()
    after = request.args.get("after", type=int) or 0
    within = scope()
    with database().read() as s:
        summary = reports.daily_summary(s, day, within)
        art36 = reports.art36_report(s, day, within)
        lines = reports.art36_detail(s, day, within, run=art36.run, limit=DAILY_DETAIL_PAGE,
                                     after_id=after)
    next_after = lines[-1].payment_id if len(lines) == DAILY_DETAIL_PAGE else None
    return render_template("finance/daily.html", summary=summary, day=day, error=error,
                           art36=art36, lines=lines, next_after=next_after,
                           portal_agreement=i18n.portal_agreement_label,
                           result_label=i18n.result_label, txn_type_label=i18n.txn_type_label,
                           prev_day=day - timedelta(days=1),
                           next_day=day + timedelta(days=1)), 422 if error else 200


@bp.get("/reports/daily.<fmt>")
def daily_export(fmt: str) -> Response:
    """The Art. 36 report of ``?day=`` as JSON (summary and detail), XLSX (a sheet each) or
    CSV (``?part=summary``, else the detail), of the caller's agencies only."""
    if fmt not in ("csv", "xlsx", "json"):
        raise HTTPNotFound()
    day, error = _daily_day()
    if error:
        raise ValidationError(FieldError("day", "a date YYYY-MM-DD"))
    db = database()
    within = scope()
    with db.read() as s:
        report = reports.art36_report(s, day, within)
    if fmt == "json":
        lines = list(reports.art36_all_detail(db.read, day, within, run=report.run))
        return jsonify(report.as_dict(lines))
    summary_header = [tr(k) for k in reports.ART36_SUMMARY_HEADER]
    detail_header = [tr(k) for k in reports.ART36_DETAIL_HEADER]
    summary_rows = [reports.art36_summary_cells(r, i18n.art36_label) for r in report.summary]
    detail_rows = (reports.art36_detail_cells(line, i18n.art36_label)
                   for line in reports.art36_all_detail(db.read, day, within, run=report.run))
    name = f"doi-soat-ngay-{day.isoformat()}"
    if fmt == "xlsx":
        portal_rows = [portal_report.portal_cells(p, i18n.portal_agreement_label)
                       for p in report.portal]
        return _download(workbench.xlsx_sheets_chunks([
            (tr("Summary"), summary_header, summary_rows, reports.ART36_SUMMARY_AMOUNTS),
            (tr("Detail"), detail_header, detail_rows, reports.ART36_DETAIL_AMOUNTS),
            (tr("Portal"), [tr(k) for k in portal_report.PORTAL_HEADER], portal_rows,
             portal_report.PORTAL_AMOUNTS)]),
            f"{name}.xlsx", fmt)
    if request.args.get("part") == "summary":
        return _download(workbench.csv_chunks(summary_header, summary_rows),
                         f"{name}-tong-hop.csv", fmt)
    return _download(workbench.csv_chunks(detail_header, detail_rows),
                     f"{name}-chi-tiet.csv", fmt)


def _quarter_args() -> tuple[int, int]:
    now = reports.vn_today(_clock().now())
    year = request.args.get("year", type=int) or now.year
    quarter = request.args.get("quarter", type=int) or (now.month - 1) // 3 + 1
    if not 2000 <= year <= 2100 or quarter not in (1, 2, 3, 4):
        raise ValidationError(FieldError("quarter", "year 2000–2100, quarter 1–4"))
    return year, quarter


@bp.get("/reports/quarterly")
def quarterly() -> tuple[str, int]:
    error = None
    try:
        year, quarter = _quarter_args()
    except ValidationError:  # shown on the page, in its language; the current quarter below
        error = tr("Choose a year from 2000 to 2100 and a quarter from 1 to 4.")
        now = reports.vn_today(_clock().now())
        year, quarter = now.year, (now.month - 1) // 3 + 1
    with database().read() as s:
        report = reports.quarterly_report(s, year, quarter, scope())
    return render_template("finance/quarterly.html", report=report, year=year, quarter=quarter,
                           error=error,
                           years=list(range(reports.vn_today(_clock().now()).year, 2019, -1))
                           ), 422 if error else 200


@bp.get("/reports/quarterly.<fmt>")
def quarterly_export(fmt: str) -> Response:
    if fmt not in ("csv", "xlsx", "json"):
        raise HTTPNotFound()
    year, quarter = _quarter_args()
    with database().read() as s:
        report = reports.quarterly_report(s, year, quarter, scope())
    if fmt == "json":
        return jsonify(report.as_dict())
    header = [tr("Quarterly report"), tr("Dossiers received"), tr("received online"),
              tr("Dossiers paid"), tr("Paid cashless"), tr("Cashless amount"),
              tr("Share of paid dossiers") + " (%)", tr("Paid in cash"), tr("Cash amount")]

    def line(group: str, r: reports.QuarterRow) -> list[Any]:
        return [group, r.received, r.received_online, r.paid, r.paid_cashless,
                r.cashless_amount, reports.format_bp(r.share_bp), r.paid_cash, r.cash_amount]

    rows: list[list[Any]] = [line(f"Q{quarter}/{year}", report.total)]
    rows += [line(channel_label(r.key), r) for r in report.by_received_channel]
    rows += [line(r.key, r) for r in report.by_field]
    name = f"bao-cao-quy-{quarter}-{year}.{fmt}"
    amounts = frozenset({5, 8})
    chunks = (workbench.csv_chunks(header, rows) if fmt == "csv"
              else workbench.xlsx_chunks(f"Q{quarter}-{year}", header, rows, amounts))
    return _download(chunks, name, fmt)


def _outstanding_args() -> tuple[str | None, int | None]:
    agency = (request.args.get("agency") or "").strip() or None
    min_age = request.args.get("min_age", type=int)
    return agency, (min_age if min_age and min_age > 0 else None)


@bp.get("/outstanding")
def outstanding() -> str:
    agency, min_age = _outstanding_args()
    with database().read() as s:
        page = reports.outstanding(s, _clock().now(), agency_code=agency, min_age_days=min_age,
                                   limit=OUTSTANDING_PAGE, after=request.args.get("after"),
                                   scope=scope())
    args = [(k, v) for k, v in (("agency", agency or ""), ("min_age", str(min_age or "")))
            if v]
    return render_template("finance/outstanding.html", page=page, agency=agency,
                           min_age=min_age, agencies=_agencies(), query=urlencode(args),
                           first=not request.args.get("after"))


@bp.get("/outstanding/export.<fmt>")
def outstanding_export(fmt: str) -> Response:
    if fmt not in ("csv", "xlsx"):
        raise HTTPNotFound()
    agency, min_age = _outstanding_args()
    db = database()
    now = _clock().now()
    within = scope()
    header = [tr("Dossier"), tr("Agency"), tr("Procedure"), tr("Field"), tr("Received"),
              tr("Received via"), tr("Total assessed"), tr("Age (days)")]

    def rows() -> Iterator[list[Any]]:
        after: str | None = None
        while True:
            with db.read() as s:
                page = reports.outstanding(s, now, agency_code=agency, min_age_days=min_age,
                                           limit=2000, after=after, with_totals=False,
                                           scope=within)
            for r in page.rows:
                yield [r.code, r.agency_code, r.procedure_name, r.field or "", r.received_at,
                       channel_label(r.received_channel), r.assessed, r.age_days]
            if page.next_after is None:
                return
            after = page.next_after

    def body() -> Iterator[bytes]:
        if fmt == "csv":
            yield from workbench.csv_chunks(header, rows())
        else:
            yield from workbench.xlsx_chunks("outstanding", header, rows(), frozenset({6}))

    stamp = now.astimezone(VN_TZ).strftime("%Y%m%d")
    return _download(body(), f"ho-so-chua-nop-{stamp}.{fmt}", fmt)


# --------------------------------------------------------------------------- payouts


def _payout_config() -> Any:
    return payout_config(current_app.extensions["recon.settings"].env)


def _payout_args() -> tuple[date, str | None]:
    today = reports.vn_today(_clock().now())
    raw = (request.args.get("month") or "").strip()
    month = today.replace(day=1)
    if raw:
        try:
            month = date.fromisoformat(raw + "-01" if len(raw) == 7 else raw).replace(day=1)
        except ValueError:
            raise ValidationError(FieldError("month", "YYYY-MM"),
                                  hint=tr("Choose a month as YYYY-MM.")) from None
    provider = (request.args.get("provider") or "").strip() or None
    return month, provider


@bp.get("/payouts")
def payouts() -> tuple[str, int]:
    error = None
    try:
        month, provider = _payout_args()
    except ValidationError:
        error = tr("Choose a month as YYYY-MM.")
        month, provider = reports.vn_today(_clock().now()).replace(day=1), None
    config = _payout_config()
    if provider is not None and provider not in config.providers:
        error, provider = tr("Choose a provider from the list."), None
    with database().read() as s:
        page = payout_reads.payout_page(s, config=config, now=_clock().now(), month=month,
                                        provider=provider, scope=scope())
    args = [(k, v) for k, v in (("month", f"{month:%Y-%m}"), ("provider", provider or "")) if v]
    return render_template("finance/payouts.html", page=page, error=error,
                           query=urlencode(args),
                           prev_month=(month - timedelta(days=1)).replace(day=1),
                           next_month=(month + timedelta(days=32)).replace(day=1),
                           ), 422 if error else 200


@bp.get("/payouts/export.<fmt>")
def payouts_export(fmt: str) -> Response:
    if fmt not in ("csv", "xlsx"):
        raise HTTPNotFound()
    month, provider = _payout_args()
    with database().read() as s:
        page = payout_reads.payout_page(s, config=_payout_config(), now=_clock().now(),
                                        month=month, provider=provider, scope=scope())
    if request.args.get("part") == "lines":  # each batch's lines, refunds labelled
        header = [tr(k) for k in payout_reads.LINES_HEADER_KEYS]
        rows = [[provider_label(r[0]), *r[1:3],
                 i18n.txn_type_label("payment" if r[3] == "sale" else "refund"), *r[4:]]
                for r in payout_reads.export_line_rows(page)]
        amounts, name = payout_reads.LINES_AMOUNT_COLUMNS, f"chuyen-tien-ve-{month:%Y-%m}-dong"
    else:
        header = [tr(k) for k in payout_reads.HEADER_KEYS]
        rows = [[provider_label(r[0]), *r[1:8], payout_state_label(r[8]), *r[9:]]
                for r in payout_reads.export_rows(page)]
        amounts, name = payout_reads.AMOUNT_COLUMNS, f"chuyen-tien-ve-{month:%Y-%m}"
    chunks = (workbench.csv_chunks(header, rows) if fmt == "csv"
              else workbench.xlsx_chunks(f"payouts-{month:%Y-%m}", header, rows, amounts))
    return _download(chunks, f"{name}.{fmt}", fmt)


# --------------------------------------------------------------------------- onward transfers


def _forward_deadline() -> int:
    from recon.engine.settings import engine_config_from_env  # noqa: PLC0415

    env = current_app.extensions["recon.settings"].env
    return engine_config_from_env(env).forward_deadline_hours


@bp.get("/transfers")
def transfers() -> tuple[str, int]:
    deadline = _forward_deadline()
    with database().read() as s:
        rows = forwarding_reads.ledgers(s, now=_clock().now(), deadline_hours=deadline,
                                        scope=scope())
        deposits = deposit_reads.deposit_view(s, now=_clock().now(), scope=scope())
    return render_template("finance/transfers.html", ledgers=rows, deadline=deadline,
                           deposits=deposits), 200


# --------------------------------------------------------------------------- declarations


def _declaration_args() -> tuple[date | None, int | None, list[str] | None]:
    """``?month=YYYY-MM`` (default: last month) or ``?year=YYYY``; ``?agency=CODE`` (repeat)."""
    raw_year = (request.args.get("year") or "").strip()
    agencies = [a for a in request.args.getlist("agency") if a.strip()] or None
    if raw_year:
        if not raw_year.isdigit() or not 2000 <= int(raw_year) <= 2100:
            raise ValidationError(FieldError("year", "YYYY"),
                                  hint=tr("Choose a year from 2000 to 2100."))
        return None, int(raw_year), agencies
    raw = (request.args.get("month") or "").strip()
    if not raw:
        return (reports.vn_today(_clock().now()).replace(day=1) - timedelta(days=1)
                ).replace(day=1), None, agencies
    try:
        return declarations.parse_month(raw), None, agencies
    except ValueError:
        raise ValidationError(FieldError("month", "YYYY-MM"),
                              hint=tr("Choose a month as YYYY-MM.")) from None


def _declaration(month: date | None, year: int | None,
                 agencies: list[str] | None) -> declarations.Declaration:
    """The declarations of ``agencies`` (every one the caller sees when None): a caller of some
    agencies never sees another's, and an agency outside its scope is not found (404)."""
    if not scope().is_all:
        visible = [code for code, _ in _agencies()]
        if agencies and not set(agencies) <= set(visible):
            raise NotFound(tr("Not found."))
        agencies = agencies or visible
    with database().read() as s:
        if month is not None:
            return declarations.monthly(s, month, collectors=agencies)
        return declarations.annual(s, year or 0, collectors=agencies)


@bp.get("/declarations")
def declarations_page() -> tuple[str, int]:
    error = None
    try:
        month, year, agencies = _declaration_args()
    except ValidationError as exc:
        error = exc.hint or tr("Choose a month as YYYY-MM.")
        month, year, agencies = reports.vn_today(_clock().now()).replace(day=1), None, None
    known = _agencies()
    if agencies and not set(agencies) <= {code for code, _ in known}:
        error, agencies = tr("Choose an agency from the list."), None
    report = _declaration(month, year, agencies)
    args = [("month", f"{month:%Y-%m}")] if month is not None else [("year", str(year))]
    args += [("agency", a) for a in agencies or []]
    return render_template("finance/declarations.html", report=report, month=month, year=year,
                           agencies=known, chosen=agencies or [], error=error,
                           query=urlencode(args)), 422 if error else 200


@bp.get("/declarations.<fmt>")
def declarations_export(fmt: str) -> Response:
    if fmt not in ("xlsx", "json"):
        raise HTTPNotFound()
    month, year, agencies = _declaration_args()
    report = _declaration(month, year, agencies)
    if fmt == "json":
        return jsonify(report.as_dict())
    header = [tr(k) for k in (declarations.ANNUAL_HEADER if report.annual
                              else declarations.MONTHLY_HEADER)]
    sheet = f"{'+'.join(report.forms)} {report.period}".replace("/", "-")
    chunks = workbench.xlsx_chunks(sheet, header, declarations.table_rows(report),
                                   declarations.AMOUNT_COLUMNS)
    return _download(chunks, f"to-khai-phi-le-phi-{report.period}.xlsx", fmt)


# --------------------------------------------------------------------------- remittances


@bp.get("/remittances")
def remittances_page() -> str:
    """The C1-02/NS vouchers (newest first) and where each line was allocated; "collected, not
    yet remitted" by age, per collecting organisation."""
    now = _clock().now()
    with database().read() as s:
        vouchers = remittance_reads.voucher_page(s, collectors=_collectors(),
                                                 due_day=_due_day())
        unremitted = remittance_reads.not_remitted(
            s, reports.vn_today(now), due_day=_due_day(), collectors=_collectors())
        by_receivers = remittance_reads.receiver_payments(s, collectors=_collectors())
    return render_template("finance/remittances.html", vouchers=vouchers,
                           unremitted=unremitted, agency_names=dict(_agencies()),
                           due_day=_due_day(), by_receivers=by_receivers)


@bp.get("/settlement-lines/<int:line_id>/download.csv")
def download_statement_line(line_id: int) -> Response:
    """One bank statement line (a payout credit) as a CSV of one row."""
    with database().read() as s:
        row = payout_reads.statement_line(s, line_id, _payout_config(), scope())
    if row is None:
        raise NotFound(tr("Not found."))
    header = [tr(k) for k in payout_reads.LINE_HEADER_KEYS]
    return _download(workbench.csv_chunks(header, [row]), f"sao-ke-dong-{line_id}.csv", "csv")


# --------------------------------------------------------------------------- audit


@bp.get("/audit")
def audit_log() -> str:
    entity_type = (request.args.get("entity_type") or "").strip() or None
    entity_id = (request.args.get("entity_id") or "").strip() or None
    actor = (request.args.get("actor") or "").strip() or None
    action = (request.args.get("action") or "").strip() or None
    before = request.args.get("before", type=int)
    with database().read() as s:
        events = list_events(s, EventFilters(entity_type, entity_id, actor, action),
                             limit=AUDIT_PAGE, before=before, scope=scope())
    args = [(k, v) for k, v in (("entity_type", entity_type), ("entity_id", entity_id),
                                ("actor", actor), ("action", action)) if v]
    older = events[-1].id if len(events) == AUDIT_PAGE else None
    return render_template("finance/audit.html", events=events, args=dict(args),
                           query=urlencode(args), older=older, report=None,
                           first=before is None)


@bp.get("/audit/verify")
def audit_verify() -> str:
    with database().read() as s:
        report = verify_chain(s)
    return render_template("finance/audit.html", events=[], args={}, query="", older=None,
                           report=report, first=True)
