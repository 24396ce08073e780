"""`/finance/e-receipts`: the e-receipts of a day, their corrections and the same-day summary
tables (issue 19 items 5 and 8). Services: :mod:`recon.receipts.corrections` (replace or
adjust, two people) and :mod:`recon.receipts.summary` (the table, its state). Every change is
a POST form with the CSRF token; GETs change nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from recon.clock import VN_TZ, Clock
from recon.errors import FieldError, NotFound, ReconError, ValidationError
from recon.models import Agency, Receipt
from recon.models.receipts import ReceiptCorrection, ReceiptSummary
from recon.receipts import corrections, summary
from recon.receipts import reads as receipt_reads
from recon.receipts.document import ReceiptContent, read
from recon.receipts.issuing import receipting
from recon.receipts.settings import ReceiptSettings
from recon.receipts.signing import certificate_facts, certificates_in
from recon.review import exports
from recon.scope import payment_visible
from recon.web import finance
from recon.web.i18n import translate as tr
from recon.web.policy import scope
from recon.web.security import database

bp = Blueprint("finance_receipts", __name__, url_prefix="/finance")
bp.context_processor(finance._finance_context)

RECEIPT_KINDS = {"original": "Receipt", "replacement": "Replacement receipt",
                 "adjustment": "Adjustment receipt"}
RECEIPT_MARKS = {"replaced": "Replaced", "adjusted": "Adjusted"}
CORRECTION_KINDS = {"replacement": "Replacement", "adjustment": "Adjustment"}
CORRECTION_STATES = {"proposed": "Waiting for approval", "approved": "Approved",
                     "rejected": "Rejected"}
SUMMARY_STATES = {"not_prepared": "Not prepared", "prepared": "Prepared, not sent",
                  "sent": "Sent", "overdue": "Overdue"}


@bp.context_processor
def _receipt_words() -> dict[str, Any]:
    return {"receipt_kinds": RECEIPT_KINDS, "receipt_marks": RECEIPT_MARKS,
            "correction_kinds": CORRECTION_KINDS, "correction_states": CORRECTION_STATES,
            "summary_states": SUMMARY_STATES, "timedelta": timedelta}

SUMMARY_DAYS = 7  # the summary tables shown: the day asked for and the six before it
_REASONS = {
    "same_user": "You proposed this correction, so you cannot approve it. Ask another "
                 "finance officer.",
    "unowned_token": "This API token belongs to no person, so it cannot propose or approve "
                     "what needs two people. Recreate it with --user (recon tokens create).",
    "unknown_proposer": "Nobody can tell which person made this proposal (a token without an "
                        "owner did). Reject it and propose it again.",
}
_FIELDS = {
    "kind": "Choose a replacement or an adjustment.",
    "reason": "Write what was wrong (at most 255 characters): the error notice carries it.",
    "lines": "Check the fee lines: one per line, KIND:NAME:AMOUNT (kind phí or lệ phí, the "
             "amount in whole đồng, negative for a decrease in an adjustment).",
    "payer_name": "An adjustment carries only the differences: replace the receipt to change "
                  "the payer's name.",
    "reference": "Write the reference the tax authority's portal gave.",
    "sent_on": "Write the date it was sent (YYYY-MM-DD), from the summary's day to today.",
    "day": "Prepare the summary file before marking it sent.",
}


def _clock() -> Clock:
    clock: Clock = current_app.extensions["recon.clock"]
    return clock


def _settings() -> ReceiptSettings:
    return ReceiptSettings.from_env(current_app.extensions["recon.settings"].env)


def _message(exc: ReconError) -> str:
    reason = getattr(exc, "reason", None)
    if reason in _REASONS:
        return tr(_REASONS[reason])
    if isinstance(exc, ValidationError) and exc.errors and exc.errors[0].field in _FIELDS:
        return tr(_FIELDS[exc.errors[0].field])
    if "already" in exc.message or "waiting" in exc.message:
        return tr("This receipt was corrected already, or a correction of it is waiting for "
                  "approval. Reload the page.")
    if "no longer proposed" in exc.message:
        return tr("Someone decided this correction already. Reload the page.")
    if "receipts are off" in exc.message.lower() or "signing key" in exc.message:
        return tr("Receipts are off or the signing key cannot be loaded: nothing was issued. "
                  "Ask an administrator (RECON_RECEIPTS, RECON_RECEIPT_P12_FILE).")
    return tr("That could not be done. Reload the page and try again.")


def _day(raw: str | None, default: date) -> date:
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(FieldError("day", f"{raw!r} is not a date YYYY-MM-DD")) from None


@dataclass(frozen=True)
class DayRow:
    agency: Agency
    day: date
    receipts: int
    record: ReceiptSummary | None
    state: str


def _today() -> date:
    return _clock().now().astimezone(VN_TZ).date()


@bp.get("/e-receipts")
def index() -> tuple[str, int]:
    """The receipts of a day, the corrections waiting, the summary tables' state and the
    certificates in use."""
    error = None
    status = 200
    today = _today()
    try:
        day = _day(request.args.get("day"), today)
    except ValidationError:
        day, error, status = today, tr("The date is not valid: write it as YYYY-MM-DD."), 422
    within = scope()
    settings = _settings()
    with database().read() as s:
        receipts = receipt_reads.receipts_of_day(s, within, day)
        pending = corrections.corrections(s, within, status="proposed")
        pending_receipts = {c.id: s.get(Receipt, c.receipt_id) for c in pending}
        days: list[DayRow] = []
        for offset in range(SUMMARY_DAYS):
            one = day - timedelta(days=offset)
            by_agency = summary.issued_on_day(s, one)
            records = receipt_reads.summaries_of_day(s, one)
            for agency_id in sorted(set(by_agency) | set(records)):
                if not within.allows(agency_id):
                    continue
                agency = s.get(Agency, agency_id)
                assert agency is not None
                days.append(DayRow(agency, one, len(by_agency.get(agency_id, [])),
                                   records.get(agency_id),
                                   summary.state(records.get(agency_id), one, today,
                                                 settings.summary_grace_days)))
        certificates = certificates_in([r.document.encode("utf-8") for r in receipts
                                        if r.document])
    configured = None
    receipts_on = receipting(current_app.extensions["recon.settings"].env)
    if receipts_on is not None:
        signer = receipts_on.signer()
        configured = certificate_facts(signer.certificate) if signer is not None else None
    return render_template(
        "finance/receipts.html", day=day, today=today, receipts=receipts, pending=pending,
        pending_receipts=pending_receipts, days=days, certificates=certificates,
        configured=configured, grace=settings.summary_grace_days, error=error,
        notices=get_flashed_messages(with_categories=True)), status


def _visible_receipt(receipt_id: int) -> tuple[Receipt, ReceiptContent | None,
                                               list[ReceiptCorrection], list[Receipt]]:
    with database().read() as s:
        receipt = s.get(Receipt, receipt_id)
        if (receipt is None or receipt.payment_id is None or receipt.status != "issued"
                or not payment_visible(s, receipt.payment_id, scope())):
            raise NotFound(tr("Not found."))
        try:
            content = read(receipt.document.encode("utf-8")) if receipt.document else None
        except (ValueError, KeyError):
            content = None  # a register row whose document is not ours: shown without it
        history, later = receipt_reads.corrections_and_successors(s, receipt.id)
        s.expunge_all()
    return receipt, content, history, later


def _receipt_page(receipt_id: int, *, error: str | None = None, status: int = 200,
                  form: dict[str, Any] | None = None) -> tuple[str, int]:
    receipt, content, history, later = _visible_receipt(receipt_id)
    corrects = None
    if receipt.corrects_id:
        with database().read() as s:
            corrects = s.get(Receipt, receipt.corrects_id)
            s.expunge_all()
    return render_template(
        "finance/receipt.html", r=receipt, content=content, history=history, later=later,
        corrects=corrects, me=g.principal.actor, error=error, form=form or {},
        lines_of=corrections.lines_of,
        notices=get_flashed_messages(with_categories=True)), status


@bp.get("/e-receipts/<int:receipt_id>")
def receipt_page(receipt_id: int) -> tuple[str, int]:
    """One receipt: its content, its marks, its corrections; propose, approve, reject."""
    return _receipt_page(receipt_id)


@bp.post("/e-receipts/<int:receipt_id>/corrections")
def propose_correction(receipt_id: int) -> BaseResponse | tuple[str, int]:
    form = request.form
    try:
        items = [corrections.parse_line(text) for text in
                 (form.get("lines") or "").splitlines() if text.strip()]
        with database().transaction() as s:
            corrections.propose(s, _clock(), receipt_id, kind=form.get("kind"),
                                reason=form.get("reason"), lines=items or None,
                                payer_name=form.get("payer_name"), actor=g.principal.actor,
                                person=g.principal.person, scope=scope())
    except ReconError as exc:
        if isinstance(exc, NotFound):
            raise
        return _receipt_page(receipt_id, error=_message(exc), status=exc.http_status,
                             form=dict(form))
    flash(tr("Correction proposed; another finance officer must approve it."), "ok")
    return redirect(url_for("finance_receipts.receipt_page", receipt_id=receipt_id), 303)


def _correction_receipt(correction_id: int) -> int:
    with database().read() as s:
        found = s.get(ReceiptCorrection, correction_id)
        receipt = s.get(Receipt, found.receipt_id) if found is not None else None
        if (found is None or receipt is None or receipt.payment_id is None
                or not payment_visible(s, receipt.payment_id, scope())):
            raise NotFound(tr("Not found."))
        return found.receipt_id


@bp.post("/e-receipt-corrections/<int:correction_id>/approve")
def approve_correction(correction_id: int) -> BaseResponse | tuple[str, int]:
    receipt_id = _correction_receipt(correction_id)
    try:
        receipts_on = receipting(current_app.extensions["recon.settings"].env)
        signer = receipts_on.signer() if receipts_on is not None else None
        if receipts_on is None or signer is None:
            raise ValidationError(FieldError("receipts", "receipts are off or the signing "
                                             "key cannot be loaded"))
        with database().transaction() as s:
            new = corrections.approve(s, _clock(), correction_id, actor=g.principal.actor,
                                      person=g.principal.person, settings=receipts_on.settings,
                                      signer=receipts_on.signer_for, scope=scope(),
                                      note=request.form.get("note"))
            number = f"{new.form_code} {new.series} {new.number:08d}"
    except ReconError as exc:
        if isinstance(exc, NotFound):
            raise
        return _receipt_page(receipt_id, error=_message(exc), status=exc.http_status)
    flash(tr("Approved: receipt {number} was issued and signed.").format(number=number), "ok")
    return redirect(url_for("finance_receipts.receipt_page", receipt_id=receipt_id), 303)


@bp.post("/e-receipt-corrections/<int:correction_id>/reject")
def reject_correction(correction_id: int) -> BaseResponse | tuple[str, int]:
    receipt_id = _correction_receipt(correction_id)
    try:
        with database().transaction() as s:
            corrections.reject(s, _clock(), correction_id, actor=g.principal.actor,
                               scope=scope(), note=request.form.get("note"))
    except ReconError as exc:
        if isinstance(exc, NotFound):
            raise
        return _receipt_page(receipt_id, error=_message(exc), status=exc.http_status)
    flash(tr("Correction rejected; nothing was issued."), "ok")
    return redirect(url_for("finance_receipts.receipt_page", receipt_id=receipt_id), 303)


@bp.get("/e-receipt-corrections/<int:correction_id>/notice.xml")
def correction_notice(correction_id: int) -> Response:
    """The error notice of an approved correction (04/SS-CTĐT's shape)."""
    _correction_receipt(correction_id)
    with database().read() as s:
        found = s.get(ReceiptCorrection, correction_id)
        notice = found.notice if found is not None else None
    if not notice:
        raise NotFound(tr("Not found."))
    response = Response(notice.encode("utf-8"), mimetype="application/xml")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="04-SS-CTDT-{correction_id}.xml"')
    response.headers["Cache-Control"] = "no-store"
    return response


def _summary_of(agency_code: str, day_text: str) -> summary.Summary:
    day = _day(day_text, _today())
    with database().read() as s:
        (one,) = summary.summaries(s, day, agency_code=agency_code,
                                   tax_code=_settings().tax_code, scope=scope())
        s.expunge_all()
    return one


@bp.get("/e-receipt-summaries/<agency_code>/<day>.<fmt>")
def summary_file(agency_code: str, day: str, fmt: str) -> Response:
    """The summary table of one organisation's day, XML (our shape) or XLSX."""
    if fmt not in ("xml", "xlsx"):
        raise NotFound(tr("Not found."))
    one = _summary_of(agency_code, day)
    if fmt == "xml":
        body = summary.summary_xml(one, _clock().now())
        mimetype = "application/xml"
    else:
        body = exports.receipt_summary_xlsx(one)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(body, mimetype=mimetype)
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_"
                   for ch in one.agency.code)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="01-TH-BLDT-{safe}-{one.day:%Y%m%d}.{fmt}"')
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/e-receipt-summaries/<agency_code>/<day>/prepare")
def prepare_summary(agency_code: str, day: str) -> BaseResponse | tuple[str, int]:
    """Record that the table is prepared (audited), then download its XML."""
    one = _summary_of(agency_code, day)
    with database().transaction() as s:
        summary.record_prepared(s, _clock(), one, actor=g.principal.actor)
    return redirect(url_for("finance_receipts.summary_file", agency_code=one.agency.code,
                            day=one.day.isoformat(), fmt="xml"), 303)


@bp.post("/e-receipt-summaries/<agency_code>/<day>/sent")
def mark_summary_sent(agency_code: str, day: str) -> BaseResponse | tuple[str, int]:
    """A person sent the table by hand: the date and the portal's reference (audited)."""
    when = _day(day, _today())
    try:
        with database().transaction() as s:
            summary.mark_sent(s, _clock(), agency_code, when,
                              sent_on=request.form.get("sent_on"),
                              reference=request.form.get("reference"),
                              actor=g.principal.actor, scope=scope())
    except ReconError as exc:
        if isinstance(exc, NotFound):
            raise
        flash(_message(exc), "error")
        return redirect(url_for("finance_receipts.index", day=when.isoformat()), 303)
    flash(tr("Marked as sent."), "ok")
    return redirect(url_for("finance_receipts.index", day=when.isoformat()), 303)
