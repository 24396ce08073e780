"""Showing e-receipts: the staff's print view and PDF, and the citizens' public lookup.

- ``/receipts/<id>``: the receipt laid out for an A5 page (``static/receipt.css``), with the QR
  that opens the public lookup; ``/receipts/<id>.pdf`` its PDF. For the desk (after "Đã thanh
  toán") and finance; a caller limited to some agencies gets 404 for another's receipt.
- ``/tra-cuu-bien-lai`` (public, no login): a citizen types the lookup code printed on the
  receipt, or scans its QR (``?ma=CODE``), and sees that receipt, with its PDF and signed XML
  (``/tra-cuu-bien-lai/<code>.pdf`` / ``.xml``). A wrong code, whatever it is, gets one and the
  same answer; wrong codes are counted per address (:mod:`recon.receipts.lookup`) and past the
  limit every lookup from that address is refused for a while (429), a right code included,
  so the refusal itself tells nothing.
"""

from __future__ import annotations

from datetime import datetime
from math import ceil

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState

from recon.clock import VN_TZ, Clock
from recon.config import Settings
from recon.errors import NotFound
from recon.models.receipts import Receipt
from recon.receipts import lookup
from recon.receipts.reads import visible_receipt
from recon.receipts.view import ReceiptView, read
from recon.vietqr.render import png_data_uri
from recon.web import i18n
from recon.web.policy import allowed, scope
from recon.web.security import database

bp = Blueprint("receipts", __name__)
tr = i18n.translate


@bp.record_once
def _check_settings(state: BlueprintSetupState) -> None:
    """A wrong lookup limit stops the app at start, naming the variable (not at a lookup)."""
    lookup.limit_from_settings(state.app.extensions["recon.settings"])

NOT_FOUND = ("No receipt has this lookup code. Check the code printed on the receipt (12 "
             "letters and digits) and type it again.")
TOO_MANY = ("Too many wrong lookup codes from this address. Try again after {time}.")
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}


def _settings() -> Settings:
    settings: Settings = current_app.extensions["recon.settings"]
    return settings


def _clock() -> Clock:
    clock: Clock = current_app.extensions["recon.clock"]
    return clock


def lookup_url(code: str | None) -> str | None:
    """The public lookup of the receipt with ``code``: ``RECON_RECEIPT_LOOKUP_URL`` (or this
    site's lookup page) with ``?ma=CODE``; what the QR on the receipt opens."""
    if not code:
        return None
    base = lookup.public_url(_settings()) or url_for("receipts.lookup_page", _external=True)
    return f"{base}{'&' if '?' in base else '?'}ma={code}"


def _qr(view: ReceiptView) -> str | None:
    url = lookup_url(view.lookup_code)
    return png_data_uri(url) if url else None


def _staff_receipt(receipt_id: int) -> tuple[Receipt, ReceiptView]:
    with database().read() as s:
        receipt = visible_receipt(s, receipt_id, scope())
        if receipt is None or receipt.document is None:
            raise NotFound(tr("Not found."))
        s.expunge(receipt)
    try:
        return receipt, read(receipt.document)
    except ValueError as exc:
        raise NotFound(tr("Not found.")) from exc


@bp.get("/receipts/<int:receipt_id>")
def print_view(receipt_id: int) -> tuple[str, int, dict[str, str]]:
    """The receipt on an A5 page, to print or save (staff)."""
    receipt, view = _staff_receipt(receipt_id)
    return render_template(
        "receipts/print.html", view=view, receipt=receipt, qr=_qr(view),
        lookup_link=lookup_url(view.lookup_code),
        pdf_url=url_for("receipts.print_pdf", receipt_id=receipt.id),
        xml_url=url_for("finance.download_receipt", receipt_id=receipt.id)
        if _may_finance() else None), 200, {"Cache-Control": "no-store"}


def _may_finance() -> bool:
    principal = g.get("principal")
    return allowed("finance.download_receipt", getattr(principal, "role", None))


def _pdf_response(view: ReceiptView) -> Response:
    # fpdf2 is imported on the first PDF asked for, not at every start (a third of a
    # second of each command's and worker's start-up)
    from recon.receipts.pdf import render_pdf  # noqa: PLC0415

    response = Response(render_pdf(view, lookup_url=lookup_url(view.lookup_code)),
                        mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{view.file_stem}.pdf"'
    response.headers.update(PRIVATE)
    return response


@bp.get("/receipts/<int:receipt_id>.pdf")
def print_pdf(receipt_id: int) -> Response:
    _receipt, view = _staff_receipt(receipt_id)
    return _pdf_response(view)


# --------------------------------------------------------------------------- public lookup


def _until_text(until: datetime) -> str:
    return until.astimezone(VN_TZ).strftime("%H:%M")


def _public_find(typed: str | None) -> tuple[Receipt | None, datetime | None]:
    """(the receipt, None) for a right code; (None, None) for a wrong one (counted);
    (None, until) when this address has made too many wrong lookups."""
    settings, clock = _settings(), _clock()
    limit = lookup.limit_from_settings(settings)
    client = request.remote_addr
    with database().read() as s:
        until = lookup.blocked_until(s, clock, client or "", limit)
        if until is not None:
            return None, until
        receipt = lookup.find(s, lookup.normalise(typed))
        if receipt is not None:
            s.expunge(receipt)
            return receipt, None
    with database().transaction() as s:  # a write only for a wrong code
        lookup.record_failure(s, clock, client or "", limit)
    return None, None


def _refused(until: datetime) -> dict[str, str]:
    seconds = max(1, ceil((until - _clock().now()).total_seconds()))
    return {"Retry-After": str(seconds), **PRIVATE}


@bp.get("/tra-cuu-bien-lai")
def lookup_page() -> tuple[str, int, dict[str, str]]:
    """The public lookup: a form; with ``?ma=CODE``, that code's receipt."""
    typed = (request.args.get("ma") or "").strip()[:64]
    if not typed:
        return render_template("receipts/lookup.html", typed="", view=None), 200, PRIVATE
    receipt, until = _public_find(typed)
    if until is not None:
        return render_template("receipts/lookup.html", typed=typed, view=None,
                               error=tr(TOO_MANY).format(time=_until_text(until))), 429, \
            _refused(until)
    if receipt is None or receipt.document is None:
        return render_template("receipts/lookup.html", typed=typed, view=None,
                               error=tr(NOT_FOUND)), 404, PRIVATE
    view = read(receipt.document)
    code = receipt.lookup_code or ""
    return render_template(
        "receipts/lookup.html", typed=code, view=view, qr=_qr(view),
        lookup_link=lookup_url(code),
        pdf_url=url_for("receipts.public_pdf", code=code),
        xml_url=url_for("receipts.public_xml", code=code)), 200, PRIVATE


def _public_download(code: str) -> tuple[Receipt, ReceiptView]:
    receipt, until = _public_find(code)
    if until is not None:
        response = Response(tr(TOO_MANY).format(time=_until_text(until)), status=429,
                            mimetype="text/plain", headers=_refused(until))
        abort(response)
    if receipt is None or receipt.document is None:
        raise NotFound(tr(NOT_FOUND))
    return receipt, read(receipt.document)


@bp.get("/tra-cuu-bien-lai/<code>.pdf")
def public_pdf(code: str) -> Response:
    _receipt, view = _public_download(code)
    return _pdf_response(view)


@bp.get("/tra-cuu-bien-lai/<code>.xml")
def public_xml(code: str) -> Response:
    receipt, view = _public_download(code)
    response = Response((receipt.document or "").encode("utf-8"), mimetype="application/xml")
    response.headers["Content-Disposition"] = f'attachment; filename="{view.file_stem}.xml"'
    response.headers.update(PRIVATE)
    return response
