"""The cashier's desk (`/cashier`): find a dossier, show a VietQR code, record cash.

Without a dossier open, the desk lists the day's dossiers that still owe fees (newest first),
of the agency chosen on the desk (kept in the session; users carry no agency) or of every
agency; the one search box filters the list by the applicant's name, with or without
diacritics, or by code, and a scanned code (typed fast, then Enter) opens its dossier at once.

Forms post with the CSRF token and work without JavaScript; ``static/cashier.js`` adds the
countdown, polls the intent every 2 s and turns the page to "Đã thanh toán" when money arrives.
Every error is shown in the desk's language with what to do next (see :data:`DESK_MESSAGES`).
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, datetime
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from recon.clock import VN_TZ, Clock
from recon.config import Settings
from recon.db import DbSession
from recon.errors import ReconError
from recon.intake import desk_queue
from recon.models import Agency, PaymentIntent
from recon.money import MAX_VND, format_vnd
from recon.payments import intents
from recon.receipts import reads as receipt_reads
from recon.receipts.settings import ReceiptSettings
from recon.web import i18n
from recon.web import receipts as receipt_views
from recon.web.payments_api import intent_body
from recon.web.policy import scope
from recon.web.security import database

bp = Blueprint("cashier", __name__)

#: channel -> its English label; pages show ``t(label)``. The words live in the one catalogue,
#: :mod:`recon.web.i18n` (so do the desk's phrases: ``VI`` is that catalogue's).
CHANNEL_LABELS = {code: i18n.CHANNEL_LABELS[code][0]
                  for code in ("vietqr", "vnpay", "momo", "zalopay", "payos", "pos", "cash")}
VI = i18n.VI
tr = i18n.translate

DESK_MESSAGES: dict[str, str] = {
    "dossier_not_found": "No dossier has the code {code}. Check the code on the receipt "
                         "slip, or scan its barcode again.",
    "no_fee": "This dossier has no fee to pay. If a fee is missing, ask the intake desk to "
              "update the dossier.",
    "already_paid": "This dossier is already paid in full. Take no more money; give the "
                    "citizen the receipt.",
    "amount_above_outstanding": "The amount is more than what is outstanding ({outstanding})."
                                " Enter at most {outstanding}.",
    "amount_not_int": "The amount is not valid. Enter whole dong with dots between thousands, "
                      "for example 180.000.",
    "amount_format": "The amount “{typed}” is not whole dong: dong have no decimals, and a dot "
                     "only separates thousands. Enter it like 8.000 or 180.000.",
    "amount_not_positive": "The amount must be more than 0 dong. Enter the amount to collect, "
                           "for example 8.000.",
    "amount_too_big": "The amount is too large. Check the number of digits and enter it again.",
    "amount_missing": "The amount is missing. Enter the amount received, for example 180.000.",
    "agency_without_account": "The agency has no bank account on file, so no VietQR code can "
                              "be made. Take another channel or cash, and ask the "
                              "administrator to add the account.",
    "bin_unknown": "The agency's bank (BIN) is not in the bank directory, so no VietQR code "
                   "can be made. Take another channel or cash, and ask the administrator to "
                   "correct the account.",
    "vietqr_invalid": "The agency's bank (BIN) is not in the bank directory, so no VietQR "
                      "code can be made. Take another channel or cash, and ask the "
                      "administrator to correct the account.",
    "amount_too_large": "The amount is too large for one VietQR code. Split it into several "
                        "smaller payments.",
    "purpose_too_long": "The transfer description is too long. Shorten the note and try "
                        "again.",
    "channel_missing": "No payment channel was chosen. Choose one from the list and try again.",
    "channel_unknown": "That payment channel is not offered. Choose one from the list and try "
                       "again.",
    "intent_not_found": "This payment request no longer exists. Reload the page or create a "
                        "new code.",
    "intent_paid": "This code is already paid, so it cannot be cancelled. For a refund, pass "
                   "the case to finance.",
    "intent_expired": "This code has already expired; there is nothing to cancel. Create a "
                      "new code if the citizen still has to pay.",
    "receipt_missing": "The receipt number is missing. Enter the number printed on the cash "
                       "receipt, then record again.",
    "receipt_invalid": "The receipt number is not valid (at most 64 characters). Check it "
                       "and try again.",
    "receipt_reused": "Receipt {receipt} was already used for another payment. Check the "
                      "receipt number.",
}
FALLBACK = "That could not be done. Try again; if it keeps failing, tell the administrator."

MAX_QUERY = 100
SESSION_AGENCY = "desk_agency"

# a typed amount: digits, or groups of three after a dot (or a space)
_AMOUNT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+|[0-9]+")
_CURRENCY = re.compile(r"\s*(?:₫|đ|đồng|vnđ|vnd)\s*$", re.IGNORECASE)



def _clock() -> Clock:
    clock: Clock = current_app.extensions["recon.clock"]
    return clock


def _settings() -> Settings:
    settings: Settings = current_app.extensions["recon.settings"]
    return settings


def vn_time(value: datetime | None) -> str:
    return value.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M") if value else ""


def countdown(seconds: int) -> str:
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def desk_message(exc: ReconError, **values: object) -> str:
    """What the cashier reads: the error in the desk's words, saying what to do next."""
    key = DESK_MESSAGES.get(intents.reason_of(exc) or "", FALLBACK)
    shown = {k: format_vnd(v) if isinstance(v, int) else v for k, v in values.items()}
    try:
        return tr(key).format(**shown)
    except (KeyError, IndexError):
        return tr(FALLBACK)


def parse_typed_amount(text: str | None) -> int | None:
    """An amount typed on the desk, in whole dong; empty is None.

    Accepted: ``8000``, ``8.000``, ``1.180.000`` (dots between thousands, the Vietnamese way),
    ``180 000``, optionally followed by ``₫``/``đ``/``VND``. Refused with a reason the desk
    explains: ``8,5`` and ``8.00`` (dong have no decimals; a dot only separates thousands),
    ``08.000``, signs, letters, 0, and anything above :data:`recon.money.MAX_VND`.
    """
    raw = _CURRENCY.sub("", (text or "").strip()).strip()
    if not raw:
        return None
    if not _AMOUNT.fullmatch(raw):
        raise intents.DeskInvalid("amount_format", "amount",
                                  f"must be whole dong with dots between thousands (8.000), "
                                  f"got {text!r}")
    digits = re.sub(r"[^0-9]", "", raw)
    value = int(digits)
    if value == 0:
        raise intents.DeskInvalid("amount_not_positive", "amount",
                                  f"must be more than 0 VND, got {text!r}")
    if digits.startswith("0"):
        raise intents.DeskInvalid("amount_format", "amount",
                                  f"must not start with 0, got {text!r}")
    if len(digits) > 16 or value > MAX_VND:
        raise intents.DeskInvalid("amount_too_big", "amount", f"is too large: {text!r}")
    return value


def amount_for_input(amount: int) -> str:
    """What an amount field shows: ``180000`` -> ``"180.000"`` (no symbol, so it re-parses)."""
    return format_vnd(amount, symbol=False)


def count_text(count: int) -> str:
    """A count the Vietnamese way: ``12294`` -> ``"12.294"``."""
    return f"{count:,}".replace(",", ".")


def vn_day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def vn_clock(value: datetime) -> str:
    return value.astimezone(VN_TZ).strftime("%H:%M")


# --------------------------------------------------------------------------------------------
# The day's list


def _chosen_agency(s: DbSession) -> tuple[Agency | None, str | None]:
    """The counter whose dossiers the desk lists. A cashier whose scope is one agency works
    at its counter: no question asked. Otherwise ``?agency=CODE`` (empty: every agency of the
    scope), remembered in the session; a code out of the scope is as unknown as a wrong one."""
    within = scope()
    if within.only is not None:
        return desk_queue.agency_by_id(s, within.only), None
    if "agency" in request.args:
        session[SESSION_AGENCY] = (request.args.get("agency") or "").strip()[:40]
    code = session.get(SESSION_AGENCY) or ""
    if not code:
        return None, None
    agency = desk_queue.agency_by_code(s, code, within)
    if agency is None:
        session.pop(SESSION_AGENCY, None)
        return None, tr("No agency has the code {code}; showing every agency. Choose the "
                        "counter from the list.").format(code=code)
    return agency, None


def _queue_context(s: DbSession, query: str) -> dict[str, Any]:
    agency, problem = _chosen_agency(s)
    today = _clock().now().astimezone(VN_TZ).date()
    within = scope()
    return {"queue": desk_queue.owing_queue(s, today, agency=agency, query=query, scope=within),
            "agencies": desk_queue.agency_choices(s, within),
            "agency_problem": problem}


@bp.context_processor
def _desk_context() -> dict[str, Any]:
    return {"t": tr, "vn_time": vn_time, "channel_labels": CHANNEL_LABELS,
            "channels": intents.INTENT_CHANNELS, "countdown": countdown,
            "amount_for_input": amount_for_input, "count_text": count_text, "vn_day": vn_day,
            "vn_clock": vn_clock}


def _render(code: str, *, intent_id: int | None = None, error: str | None = None,
            status: int = 200, form: dict[str, str] | None = None,
            query: str = "") -> tuple[str, int]:
    clock = _clock()
    intent: PaymentIntent | None = None
    info: dict[str, Any] | None = None
    if intent_id is not None:
        try:
            intent = intents.read_intent(database(), clock, intent_id, scope())
        except ReconError as exc:
            error = error or desk_message(exc)
            status = status if status != 200 else exc.http_status
        if intent is not None:
            if not code:
                code = intent.dossier.code
            if intent.dossier.code != code:
                intent = None
            else:
                info = intent_body(intent)
    desk = None
    listing: dict[str, Any] = {}
    receipts: dict[int, list[int]] = {}
    with database().read() as s:
        if code:
            try:
                desk = intents.desk_dossier(s, code, scope())
            except ReconError as exc:
                error = error or desk_message(exc, code=code)
                status = status if status != 200 else exc.http_status
            if desk is not None and receipts_on():
                receipts = receipt_reads.issued_receipts(s, [p.id for p in desk.payments])
        else:
            listing = _queue_context(s, query)
    notices = get_flashed_messages(with_categories=True)
    return render_template("cashier/index.html", code=code, desk=desk, intent=intent,
                           info=info, error=error, notices=notices, form=form or {},
                           now=clock.now(), query=query, receipts=receipts,
                           receipts_on=receipts_on(), **listing), status


def receipts_on() -> bool:
    """Whether receipts are issued (RECON_RECEIPTS=on): the desk then offers to print them."""
    return ReceiptSettings.from_env(_settings().env).enabled


@bp.get("/cashier/intents/<int:intent_id>/receipt")
def intent_receipt(intent_id: int) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    """"In biên lai" on a paid slip: the receipt of the payment that paid the code, for
    printing; while it is not issued yet, the desk says so."""
    intent = intents.read_intent(database(), _clock(), intent_id, scope())  # 404 if not ours
    with database().read() as s:
        found = receipt_reads.receipt_of_intent(s, intent.id)
    if found is not None and receipts_on():
        return receipt_views.print_view(found)
    flash(tr("The receipt is being issued; reload the page in a moment."), "warn")
    return _render(intent.dossier.code, intent_id=intent.id)


@bp.get("/cashier")
def index() -> BaseResponse | tuple[str, int]:
    code = (request.args.get("code") or "").strip()
    query = " ".join((request.args.get("q") or "").split())[:MAX_QUERY]
    if request.args.get("partial") == "list":
        # the list alone, for the search-as-you-type of static/cashier.js
        with database().read() as s:
            return render_template("cashier/_queue.html", query=query,
                                   **_queue_context(s, query)), 200
    if query and not code:
        with database().read() as s:
            found = desk_queue.exact_dossier_code(s, query, scope())
        if found is not None:  # a scan, or a code typed in full: open the dossier
            return redirect(url_for("cashier.index", code=found), 303)
    return _render(code, intent_id=request.args.get("intent", type=int), query=query)


def _values(code: str) -> dict[str, object]:
    values: dict[str, object] = {"code": code,
                                 "typed": (request.form.get("amount") or "").strip()[:40]}
    with database().read() as s, contextlib.suppress(ReconError):
        values["outstanding"] = intents.desk_dossier(s, code, scope()).balance.outstanding
    receipt = request.form.get("receipt_number", "").strip()
    if receipt:
        values["receipt"] = receipt
    return values


@bp.post("/cashier/dossiers/<path:code>/intents")
def create_intent(code: str) -> BaseResponse | tuple[str, int]:
    try:
        amount = parse_typed_amount(request.form.get("amount"))
        with database().transaction() as s:
            outcome = intents.create_intent(
                s, _clock(), _settings(), dossier_code=code,
                channel=request.form.get("channel") or "vietqr", amount=amount,
                actor=g.principal.actor, scope=scope())
            intent_id = outcome.intent.id
    except ReconError as exc:
        return _render(code, error=desk_message(exc, **_values(code)),
                       status=exc.http_status, form=dict(request.form))
    return redirect(url_for("cashier.index", code=code, intent=intent_id), 303)


@bp.post("/cashier/intents/<int:intent_id>/cancel")
def cancel_intent(intent_id: int) -> BaseResponse | tuple[str, int]:
    code = (request.form.get("code") or "").strip()
    try:
        with database().transaction() as s:
            intent = intents.cancel_intent(s, _clock(), intent_id, actor=g.principal.actor,
                                           scope=scope())
            code = intent.dossier.code
    except ReconError as exc:
        return _render(code, intent_id=None, error=desk_message(exc, code=code),
                       status=exc.http_status)
    flash(tr("The code was cancelled."), "ok")
    return redirect(url_for("cashier.index", code=code), 303)


@bp.post("/cashier/dossiers/<path:code>/cash")
def record_cash(code: str) -> BaseResponse | tuple[str, int]:
    try:
        amount = parse_typed_amount(request.form.get("amount"))
        if amount is None:
            raise intents.DeskInvalid("amount_missing", "amount", "is required")
        with database().transaction() as s:
            outcome = intents.record_cash(
                s, _clock(), _settings(), dossier_code=code, amount=amount,
                receipt_number=request.form.get("receipt_number"), actor=g.principal.actor,
                scope=scope())
            payment = outcome.result.payment
            receipt, paid = payment.receipt_number or "", payment.amount
    except ReconError as exc:
        return _render(code, error=desk_message(exc, **_values(code)),
                       status=exc.http_status, form=dict(request.form))
    if outcome.duplicate:
        flash(tr("Receipt {receipt} was already recorded; nothing was added.")
              .format(receipt=receipt), "warn")
    else:
        flash(tr("Recorded {amount} in cash, receipt {receipt}.")
              .format(amount=format_vnd(paid), receipt=receipt), "ok")
    return redirect(url_for("cashier.index", code=code), 303)
