"""The cashier's desk (`/cashier`): find a dossier, show a VietQR code, record cash.

Forms post with the CSRF token and work without JavaScript; ``static/cashier.js`` adds the
countdown, polls the intent every 2 s and turns the page to "Đã thanh toán" when money arrives.
Every error is shown in the desk's language with what to do next (see :data:`DESK_MESSAGES`).
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
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
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from recon.clock import VN_TZ, Clock
from recon.config import Settings
from recon.errors import ReconError
from recon.models import PaymentIntent
from recon.money import format_vnd
from recon.payments import intents
from recon.web import i18n
from recon.web.payments_api import intent_body
from recon.web.security import database

bp = Blueprint("cashier", __name__)

CHANNEL_LABELS = {
    "vietqr": "VietQR (bank transfer)",
    "vnpay": "VNPay",
    "momo": "MoMo",
    "zalopay": "ZaloPay",
    "payos": "payOS",
    "pos": "Card (POS terminal)",
    "cash": "Cash",
}

# English key -> Vietnamese. The desk's own words; anything else falls back to recon.web.i18n.
VI: dict[str, str] = {
    "Cashier desk": "Quầy thu",
    "Dossier code": "Mã hồ sơ",
    "Type or scan the dossier code, then press Enter":
        "Nhập hoặc quét mã hồ sơ rồi nhấn Enter",
    "Find": "Tìm",
    "Applicant": "Người nộp",
    "Procedure": "Thủ tục",
    "Agency": "Đơn vị",
    "Received": "Ngày tiếp nhận",
    "Fee lines": "Các khoản phí, lệ phí",
    "Fee": "Phí",
    "Charge": "Lệ phí",
    "Kind": "Loại",
    "Item": "Khoản thu",
    "Amount": "Số tiền",
    "Total assessed": "Tổng phải nộp",
    "Amount paid": "Đã nộp",
    "Outstanding": "Còn phải nộp",
    "Paid in full": "Đã thanh toán đủ",
    "No fee to pay": "Không có khoản phải nộp",
    "Collect payment": "Thu tiền",
    "Channel": "Kênh thanh toán",
    "Amount (VND, empty = everything outstanding)":
        "Số tiền (đồng; để trống = toàn bộ số còn phải nộp)",
    "Create VietQR code": "Tạo mã VietQR",
    "Create payment request": "Tạo yêu cầu thanh toán",
    "Cash payment": "Thu tiền mặt",
    "Receipt number": "Số biên lai",
    "Record cash payment": "Ghi nhận tiền mặt",
    "Payment requests": "Các yêu cầu thanh toán",
    "Payments received": "Các khoản đã thu",
    "Reference": "Mã tham chiếu",
    "Status": "Trạng thái",
    "Created": "Lúc tạo",
    "Time": "Thời gian",
    "Show": "Xem",
    "Cancel": "Hủy",
    "Cancel this code": "Hủy mã này",
    "Print slip": "In phiếu",
    "Payment slip": "Phiếu thanh toán",
    "Scan with any banking app to pay": "Quét bằng ứng dụng ngân hàng bất kỳ để thanh toán",
    "Bank": "Ngân hàng",
    "Account name": "Chủ tài khoản",
    "Account number": "Số tài khoản",
    "Transfer description": "Nội dung chuyển khoản",
    "Expires in": "Hết hạn sau",
    "Waiting for payment…": "Đang chờ thanh toán…",
    "Paid": "Đã thanh toán",
    "Payment received. Give the citizen the receipt.":
        "Đã nhận tiền. Giao biên lai cho công dân.",
    "This code has expired. Create a new code if the citizen still has to pay.":
        "Mã đã hết hạn. Tạo mã mới nếu công dân vẫn cần thanh toán.",
    "This code was cancelled. Create a new code if the citizen still has to pay.":
        "Mã đã bị hủy. Tạo mã mới nếu công dân vẫn cần thanh toán.",
    "Connection lost; retrying…": "Mất kết nối tới máy chủ, đang thử lại…",
    "Your session has ended. Log in again to keep watching this payment.":
        "Phiên đăng nhập đã hết. Hãy đăng nhập lại để tiếp tục theo dõi khoản thanh toán.",
    "Order code": "Mã đơn hàng",
    "The citizen pays through the provider; this page turns to paid when it confirms.":
        "Công dân thanh toán qua cổng thanh toán; trang sẽ tự chuyển sang “Đã thanh toán” "
        "khi cổng xác nhận.",
    "issued": "Đang chờ thanh toán",
    "expired": "Đã hết hạn",
    "cancelled": "Đã hủy",
    "paid": "Đã thanh toán",
    "succeeded": "Thành công",
    "failed": "Thất bại",
    "refunded": "Đã hoàn tiền",
    "VietQR (bank transfer)": "VietQR (chuyển khoản)",
    "Card (POS terminal)": "Thẻ (máy POS)",
    "Cash": "Tiền mặt",
    "Recorded {amount} in cash, receipt {receipt}.":
        "Đã ghi nhận {amount} tiền mặt, biên lai {receipt}.",
    "Receipt {receipt} was already recorded; nothing was added.":
        "Biên lai {receipt} đã được ghi nhận trước đó; không ghi thêm.",
    "The code was cancelled.": "Đã hủy mã thanh toán.",
    # errors: what went wrong and what to do next
    "No dossier has the code {code}. Check the code on the receipt slip, or scan its "
    "barcode again.":
        "Không tìm thấy hồ sơ có mã {code}. Kiểm tra lại mã trên giấy tiếp nhận hoặc quét lại "
        "mã vạch.",
    "This dossier has no fee to pay. If a fee is missing, ask the intake desk to update "
    "the dossier.":
        "Hồ sơ này không có khoản phí, lệ phí nào phải nộp. Nếu thiếu khoản thu, đề nghị bộ "
        "phận tiếp nhận cập nhật hồ sơ.",
    "This dossier is already paid in full. Take no more money; give the citizen the receipt.":
        "Hồ sơ đã được thanh toán đủ. Không thu thêm tiền; giao biên lai cho công dân.",
    "The amount is more than what is outstanding ({outstanding}). Enter at most "
    "{outstanding}.":
        "Số tiền lớn hơn số còn phải nộp ({outstanding}). Nhập số tiền không quá "
        "{outstanding}.",
    "The amount is not valid. Enter whole dong, for example 180000 or 180.000.":
        "Số tiền không hợp lệ. Nhập số đồng nguyên, ví dụ 180000 hoặc 180.000.",
    "The agency has no bank account on file, so no VietQR code can be made. Take another "
    "channel or cash, and ask the administrator to add the account.":
        "Đơn vị chưa khai báo tài khoản ngân hàng nên chưa tạo được mã VietQR. Hãy thu qua kênh "
        "khác hoặc tiền mặt, và báo quản trị viên bổ sung tài khoản.",
    "The agency's bank (BIN) is not in the bank directory, so no VietQR code can be made. "
    "Take another channel or cash, and ask the administrator to correct the account.":
        "Ngân hàng (mã BIN) của đơn vị không có trong danh mục ngân hàng nên chưa tạo được mã "
        "VietQR. Hãy thu qua kênh khác hoặc tiền mặt, và báo quản trị viên sửa thông tin "
        "tài khoản.",
    "The amount is too large for one VietQR code. Split it into several smaller payments.":
        "Số tiền quá lớn cho một mã VietQR. Hãy chia thành nhiều lần thanh toán nhỏ hơn.",
    "The transfer description is too long. Shorten the note and try again.":
        "Nội dung chuyển khoản quá dài. Rút ngắn ghi chú rồi thử lại.",
    "No payment channel was chosen. Choose one from the list and try again.":
        "Chưa chọn kênh thanh toán. Chọn một kênh trong danh sách rồi thử lại.",
    "That payment channel is not offered. Choose one from the list and try again.":
        "Kênh thanh toán này không được hỗ trợ. Chọn một kênh trong danh sách rồi thử lại.",
    "This payment request no longer exists. Reload the page or create a new code.":
        "Không tìm thấy yêu cầu thanh toán này. Tải lại trang hoặc tạo mã mới.",
    "This code is already paid, so it cannot be cancelled. For a refund, pass the case "
    "to finance.":
        "Mã này đã được thanh toán nên không hủy được. Nếu cần hoàn tiền, chuyển cho bộ phận "
        "kế toán.",
    "This code has already expired; there is nothing to cancel. Create a new code if the "
    "citizen still has to pay.":
        "Mã này đã hết hạn, không cần hủy. Tạo mã mới nếu công dân vẫn cần thanh toán.",
    "The receipt number is missing. Enter the number printed on the cash receipt, then "
    "record again.":
        "Chưa nhập số biên lai. Nhập số in trên biên lai thu tiền rồi ghi nhận lại.",
    "The receipt number is not valid (at most 64 characters). Check it and try again.":
        "Số biên lai không hợp lệ (tối đa 64 ký tự). Kiểm tra lại rồi thử lại.",
    "Receipt {receipt} was already used for another payment. Check the receipt number.":
        "Số biên lai {receipt} đã được dùng cho một khoản thu khác. Kiểm tra lại số biên lai.",
    "That could not be done. Try again; if it keeps failing, tell the administrator.":
        "Không thực hiện được. Hãy thử lại; nếu vẫn lỗi, báo quản trị viên.",
}

DESK_MESSAGES: dict[str, str] = {
    "dossier_not_found": "No dossier has the code {code}. Check the code on the receipt "
                         "slip, or scan its barcode again.",
    "no_fee": "This dossier has no fee to pay. If a fee is missing, ask the intake desk to "
              "update the dossier.",
    "already_paid": "This dossier is already paid in full. Take no more money; give the "
                    "citizen the receipt.",
    "amount_above_outstanding": "The amount is more than what is outstanding ({outstanding})."
                                " Enter at most {outstanding}.",
    "amount_not_int": "The amount is not valid. Enter whole dong, for example 180000 or "
                      "180.000.",
    "amount_not_positive": "The amount is not valid. Enter whole dong, for example 180000 or "
                           "180.000.",
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

_GROUPED = re.compile(r"[0-9]{1,3}(?:[.\s\u00a0][0-9]{3})+")


def tr(key: str) -> str:
    """The desk's words in the current language (Vietnamese unless switched)."""
    if i18n.current_language() == "vi" and key in VI:
        return VI[key]
    return i18n.translate(key)


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
    """A typed amount: ``180000``, ``180.000``, ``180 000`` or ``180.000 ₫``; empty is None.

    Dots and spaces are accepted only as thousands separators (``180.5`` is refused, never
    read as 1805).
    """
    raw = (text or "").replace("₫", "").replace("đ", "").strip()
    if not raw:
        return None
    if raw.isascii() and raw.isdigit():
        return intents.parse_amount(int(raw))
    if _GROUPED.fullmatch(raw):
        return intents.parse_amount(int(re.sub(r"\D", "", raw)))
    return intents.parse_amount(raw)  # refused with the reason "amount_not_int"


@bp.context_processor
def _desk_context() -> dict[str, Any]:
    return {"t": tr, "vn_time": vn_time, "channel_labels": CHANNEL_LABELS,
            "channels": intents.INTENT_CHANNELS, "countdown": countdown}


def _render(code: str, *, intent_id: int | None = None, error: str | None = None,
            status: int = 200, form: dict[str, str] | None = None) -> tuple[str, int]:
    clock = _clock()
    intent: PaymentIntent | None = None
    info: dict[str, Any] | None = None
    if intent_id is not None:
        try:
            intent = intents.read_intent(database(), clock, intent_id)
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
    if code:
        with database().read() as s:
            try:
                desk = intents.desk_dossier(s, code)
            except ReconError as exc:
                error = error or desk_message(exc, code=code)
                status = status if status != 200 else exc.http_status
    notices = get_flashed_messages(with_categories=True)
    return render_template("cashier/index.html", code=code, desk=desk, intent=intent,
                           info=info, error=error, notices=notices, form=form or {},
                           now=clock.now()), status


@bp.get("/cashier")
def index() -> tuple[str, int]:
    code = (request.args.get("code") or "").strip()
    return _render(code, intent_id=request.args.get("intent", type=int))


def _values(code: str) -> dict[str, object]:
    values: dict[str, object] = {"code": code}
    with database().read() as s, contextlib.suppress(ReconError):
        values["outstanding"] = intents.desk_dossier(s, code).balance.outstanding
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
                actor=g.principal.actor)
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
            intent = intents.cancel_intent(s, _clock(), intent_id, actor=g.principal.actor)
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
        with database().transaction() as s:
            outcome = intents.record_cash(
                s, _clock(), _settings(), dossier_code=code, amount=amount,
                receipt_number=request.form.get("receipt_number"), actor=g.principal.actor)
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
