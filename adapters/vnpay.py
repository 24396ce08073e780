"""VNPay payment gateway, API 2.1.0: the IPN (a GET with everything in the query string).

Signature: every ``vnp_*`` parameter except ``vnp_SecureHash``/``vnp_SecureHashType``, sorted by
key, joined as ``quote_plus(key)=quote_plus(value)`` with ``&``, HMAC-SHA512 with the hash
secret, hex. VNPay's own samples differ in two details that do not change the data signed, so we
also accept them: Java's ``URLEncoder`` (leaves ``*``, encodes ``~``) and leaving out parameters
whose value is empty.

Paid only when ``vnp_ResponseCode`` and ``vnp_TransactionStatus`` are both ``"00"``.
``vnp_Amount`` is VND × 100 and must end in ``00``. VNPay sends ``vnp_TransactionNo=0`` for
payments that did not happen (e.g. the customer cancelled); those get the provider transaction id
``unpaid:<vnp_TxnRef>`` so they do not collide with each other.

The answer is always HTTP 200 with ``{"RspCode", "Message"}``; VNPay retries on 01/04/97/99 (or a
timeout) up to 10 times, 5 minutes apart. The service checks, in this order: signature, order
exists (01), amount (04), not already confirmed (02).

Query API (:class:`VNPayQuery`): ``querydr`` (:func:`build_querydr`); its answer is checked,
when it carries ``vnp_SecureHash``, with HMAC-SHA512 (hash secret) over
:data:`QUERYDR_RESPONSE_FIELDS` joined with ``|`` (a missing field is empty).

Settlement profile: ``vnpay_merchant``, the merchant portal's transaction report.
"""

from __future__ import annotations

import hmac
import re
import secrets as _random
from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar
from urllib.parse import parse_qsl, quote_plus, urlencode

from adapters.base import (
    Acknowledgement,
    Adapter,
    CallbackEvent,
    CallbackLink,
    Clock,
    EnvSpec,
    MalformedPayload,
    Outcome,
    PaymentStatus,
    PayoutSpec,
    RawRequest,
    SignedParts,
    SimulatedPayment,
    Wire,
    json_ack,
    response_json,
    utf8,
)
from adapters.fields import (
    MAX_VND,
    check_txn_id,
    compact_vn_time,
    show,
    signing_text,
    unpaid_txn_id,
    vn_local,
)
from adapters.pull import (
    ApiRequest,
    ConfirmApi,
    ConfirmedPayment,
    ProtocolError,
    QueryOutcome,
    WaitingOrder,
    answer_object,
    exact_vnd,
    id_text,
    same_hex,
    utc,
)

VERSION = "2.1.0"
QUERYDR_PATH = "/merchant_webapi/api/transaction"
_EXCLUDED = frozenset({"vnp_SecureHash", "vnp_SecureHashType"})
_DIGITS = re.compile(r"[0-9]+")

#: vnp_ResponseCode, from VNPay's documentation
RESPONSE_CODES: Mapping[str, str] = {
    "00": "Giao dịch thành công",
    "07": "Trừ tiền thành công, giao dịch bị nghi ngờ (liên quan tới lừa đảo, bất thường)",
    "09": "Thẻ/tài khoản chưa đăng ký InternetBanking",
    "10": "Xác thực thông tin thẻ/tài khoản không đúng quá 3 lần",
    "11": "Đã hết hạn chờ thanh toán",
    "12": "Thẻ/tài khoản bị khóa",
    "13": "Nhập sai mật khẩu xác thực giao dịch (OTP)",
    "24": "Khách hàng hủy giao dịch",
    "51": "Tài khoản không đủ số dư",
    "65": "Tài khoản đã vượt quá hạn mức giao dịch trong ngày",
    "75": "Ngân hàng thanh toán đang bảo trì",
    "79": "Nhập sai mật khẩu thanh toán quá số lần quy định",
    "99": "Lỗi khác",
}

#: vnp_TransactionStatus, from VNPay's documentation, and the status each maps to
#: (success needs vnp_ResponseCode "00" as well; any code not listed is "failed")
TRANSACTION_STATUSES: Mapping[str, tuple[str, PaymentStatus]] = {
    "00": ("Giao dịch thành công", "succeeded"),
    "01": ("Giao dịch chưa hoàn tất", "pending"),
    "02": ("Giao dịch bị lỗi", "failed"),
    "04": ("Giao dịch đảo (đã trừ tiền tại ngân hàng, chưa thành công ở VNPAY)", "pending"),
    "05": ("VNPAY đang xử lý hoàn tiền", "refunded"),
    "06": ("VNPAY đã gửi yêu cầu hoàn tiền sang ngân hàng", "refunded"),
    "07": ("Giao dịch bị nghi ngờ gian lận", "pending"),
    "09": ("Giao dịch hoàn trả bị từ chối", "pending"),
}

_ACKS: Mapping[Outcome, tuple[str, str]] = {
    Outcome.accepted: ("00", "Confirm Success"),
    Outcome.ignored: ("00", "Confirm Success"),
    Outcome.duplicate: ("02", "Order already confirmed"),
    Outcome.unknown_order: ("01", "Order not found"),
    Outcome.amount_mismatch: ("04", "Invalid amount"),
    Outcome.bad_signature: ("97", "Invalid signature"),
    Outcome.replayed: ("97", "Invalid signature"),
    Outcome.malformed: ("99", "Invalid request"),
    Outcome.retry_later: ("99", "Unknown error"),
    Outcome.not_configured: ("99", "Unknown error"),
}

#: the fields of a querydr answer its vnp_SecureHash signs, in order
QUERYDR_RESPONSE_FIELDS = (
    "vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode",
    "vnp_TxnRef", "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo",
    "vnp_TransactionType", "vnp_TransactionStatus", "vnp_OrderInfo", "vnp_PromotionCode",
    "vnp_PromotionAmount",
)

#: how VNPay names the method (``payment_methods``, of the IPN and of a querydr answer alike):
#: vnp_CardType says how the payer paid; vnp_BankCode names the bank for a card, or one of
#: VNPay's method codes (VNPAYQR, VNBANK, INTCARD) when the payer chose the method
PAYMENT_METHODS: Mapping[str, Mapping[str, str]] = {
    "vnp_CardType": {"ATM": "domestic_card", "QRCODE": "qr", "VISA": "intl_card",
                     "MASTERCARD": "intl_card", "JCB": "intl_card", "AMEX": "intl_card",
                     "CUP": "intl_card"},
    "vnp_BankCode": {"VNPAYQR": "qr", "VNBANK": "domestic_card", "INTCARD": "intl_card"},
}

#: the merchant portal's transaction report (the usual shape; contracts differ in titles)
SETTLEMENT_PROFILES: Mapping[str, Mapping[str, object]] = {
    "vnpay_merchant": {
        "description": "VNPay merchant portal transaction report (Báo cáo giao dịch), CSV or "
                       "XLSX, amounts as 1.234.000",
        "header_row": "auto",
        "stop_at": ["Tổng cộng", "Tổng"],
        "optional_columns": ["net_amount", "reference", "kind", "original_txn_id"],
        "datetime_formats": ["%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "iso"],
        "date_formats": ["%d/%m/%Y", "iso"],
        "thousands_separator": ".",
        "decimal_separator": ",",
        "strip": ["VND", "đ", "₫"],
        "blank_is_zero": ["fee"],
        "columns": {
            "provider_txn_id": ["Mã GD VNPAY", "Mã giao dịch VNPAY", "vnp_TransactionNo"],
            "reference": ["Mã GD merchant", "Mã tham chiếu", "vnp_TxnRef"],
            "amount": ["Số tiền", "Số tiền giao dịch"],
            "fee": ["Phí", "Phí giao dịch"],
            "net_amount": ["Thực nhận", "Số tiền thực nhận"],
            "transaction_at": ["Thời gian thanh toán", "Ngày thanh toán"],
            "settled_on": ["Ngày quyết toán", "Ngày đối soát"],
            # the transaction type (sale or refund) and a refund's original transaction;
            # titles and values as the usual export shows them (unverified: add yours)
            "kind": ["Loại giao dịch", "Loại GD"],
            "original_txn_id": ["Mã GD gốc", "Mã giao dịch gốc"],
        },
        "kind_values": {"sale": ["Thanh toán", "Thanh toán thường", "PAYMENT"],
                        "refund": ["Hoàn tiền", "Hoàn tiền toàn phần", "Hoàn tiền một phần",
                                   "HOAN TIEN", "REFUND"]},
        "filters": [{"column": "Trạng thái", "equals": ["Thành công", "Giao dịch thành công"]}],
    },
}

# (vnp_ResponseCode, vnp_TransactionStatus) that build_callback sends for each status
_BUILD_CODES: Mapping[str, tuple[str, str]] = {
    "succeeded": ("00", "00"),
    "failed": ("24", "02"),
    "pending": ("00", "01"),
    "refunded": ("00", "05"),
}


def payment_status(response_code: str, transaction_status: str) -> PaymentStatus:
    """The normalised status for VNPay's two codes. Unknown codes are never success."""
    if response_code == "00" and transaction_status == "00":
        return "succeeded"
    known = TRANSACTION_STATUSES.get(transaction_status)
    if known is not None and known[1] != "succeeded":
        return known[1]
    if response_code == "07":  # money taken but the transaction is held as suspicious
        return "pending"
    return "failed"


def _java_quote(value: str) -> str:
    """``java.net.URLEncoder.encode``: like quote_plus, but keeps ``*`` and encodes ``~``."""
    return quote_plus(value, safe="*", errors="surrogatepass").replace("~", "%7E")


def _quote(value: str) -> str:
    return quote_plus(value, errors="surrogatepass")


def hash_data(params: Mapping[str, str], *, java: bool = False, skip_empty: bool = False) -> str:
    """The string VNPay signs: sorted ``vnp_*`` parameters (minus the hash), URL-encoded."""
    quote = _java_quote if java else _quote
    items = sorted(
        (k, v)
        for k, v in params.items()
        if k.startswith("vnp_") and k not in _EXCLUDED and (v or not skip_empty)
    )
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in items)


def signing_messages(params: Mapping[str, str]) -> tuple[bytes, ...]:
    """The canonical message first, then the variants VNPay's own code may have signed."""
    messages: list[bytes] = []
    for skip_empty in (False, True):
        for java in (False, True):
            message = utf8(hash_data(params, java=java, skip_empty=skip_empty))
            if message not in messages:
                messages.append(message)
    return tuple(messages)


def parse_amount(value: str | None) -> int:
    """``vnp_Amount`` (VND × 100) as VND; refuses anything not ending in ``00``."""
    if value is None or value == "":
        raise MalformedPayload("vnp_Amount is missing")
    if not _DIGITS.fullmatch(value) or len(value) > 20:
        raise MalformedPayload(f"vnp_Amount must be digits (VND × 100), got {show(value)}")
    hundredths = int(value)
    if hundredths % 100:
        raise MalformedPayload(
            f"vnp_Amount {value} is not a whole number of VND (VND × 100 must end in 00)"
        )
    amount = hundredths // 100
    if amount > MAX_VND:
        raise MalformedPayload(f"vnp_Amount is too large: {value}")
    return amount


def parse_query(query_string: str) -> dict[str, str]:
    """The ``vnp_*`` parameters of a query string; a repeated one is refused."""
    try:
        pairs = parse_qsl(
            query_string,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=200,
        )
    except ValueError as exc:  # includes UnicodeDecodeError
        raise MalformedPayload(f"query string is not readable: {type(exc).__name__}") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if not key.startswith("vnp_"):
            continue
        if key in params:
            raise MalformedPayload(f"query parameter {show(key)} appears twice")
        params[key] = value
    return params


def build_querydr(
    *,
    tmn_code: str,
    hash_secret: str,
    request_id: str,
    txn_ref: str,
    transaction_date: datetime,
    create_date: datetime,
    ip_addr: str,
    order_info: str,
    transaction_no: str | None = None,
) -> tuple[str, dict[str, str]]:
    """A ``querydr`` request (POST JSON to :data:`QUERYDR_PATH`): ``(path, body)``.

    ``vnp_SecureHash`` = HMAC-SHA512 over ``vnp_RequestId|vnp_Version|vnp_Command|vnp_TmnCode|
    vnp_TxnRef|vnp_TransactionDate|vnp_CreateDate|vnp_IpAddr|vnp_OrderInfo``; the dates are
    ``yyyyMMddHHmmss`` in Vietnam time (``transaction_date`` is the vnp_CreateDate of the
    original payment, ``create_date`` the time of this query).
    """
    body = {
        "vnp_RequestId": request_id,
        "vnp_Version": VERSION,
        "vnp_Command": "querydr",
        "vnp_TmnCode": tmn_code,
        "vnp_TxnRef": txn_ref,
        "vnp_OrderInfo": order_info,
        "vnp_TransactionDate": vn_local(transaction_date, "%Y%m%d%H%M%S"),
        "vnp_CreateDate": vn_local(create_date, "%Y%m%d%H%M%S"),
        "vnp_IpAddr": ip_addr,
    }
    if transaction_no is not None:
        body["vnp_TransactionNo"] = transaction_no
    data = "|".join(
        body[k]
        for k in (
            "vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef",
            "vnp_TransactionDate", "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo",
        )
    )
    body["vnp_SecureHash"] = hmac.new(utf8(hash_secret), utf8(data), "sha512").hexdigest()
    return QUERYDR_PATH, body


def querydr_response_hash(doc: Mapping[str, object], hash_secret: str) -> str:
    """The vnp_SecureHash a querydr answer must carry."""
    message = "|".join(signing_text(doc.get(key)) for key in QUERYDR_RESPONSE_FIELDS)
    return hmac.new(utf8(hash_secret), utf8(message), "sha512").hexdigest()


class VNPayQuery(ConfirmApi):
    """``querydr`` about one order (our reference is its vnp_TxnRef)."""

    default_base = "https://merchant.vnpay.vn"  # sandbox: https://sandbox.vnpayment.vn
    required = ("RECON_VNPAY_TMN_CODE", "RECON_VNPAY_HASH_SECRET")
    optional = ("RECON_VNPAY_QUERY_IP",)  # the vnp_IpAddr sent (default 127.0.0.1)
    payment_methods = PAYMENT_METHODS
    # the answer's method fields, as the IPN's: vnp_BankCode is among the fields its
    # vnp_SecureHash signs (QUERYDR_RESPONSE_FIELDS); vnp_CardType is not, and the published
    # descriptions of the answer do not list it (unverified): read when the answer has it
    method_fields = ("vnp_CardType", "vnp_BankCode")

    def request(self, order: WaitingOrder, now: datetime) -> ApiRequest:
        path, body = build_querydr(
            tmn_code=self.value("RECON_VNPAY_TMN_CODE"),
            hash_secret=self.value("RECON_VNPAY_HASH_SECRET"),
            request_id=f"Q{order.id}T{int(now.timestamp() * 1000)}"[:32],
            txn_ref=order.reference, transaction_date=order.created_at, create_date=now,
            ip_addr=self.value("RECON_VNPAY_QUERY_IP", "127.0.0.1"),
            order_info=f"Truy van GD {order.reference}")
        return ApiRequest("POST", path, json=body)

    def read(self, body: bytes) -> QueryOutcome:
        doc = answer_object(body, "VNPay's answer")
        sent = doc.get("vnp_SecureHash")
        if sent and (not isinstance(sent, str) or not same_hex(
                querydr_response_hash(doc, self.value("RECON_VNPAY_HASH_SECRET")), sent)):
            raise ProtocolError("VNPay's answer has a vnp_SecureHash that does not match "
                                "(check RECON_VNPAY_HASH_SECRET)")
        code = str(doc.get("vnp_ResponseCode", ""))
        message = str(doc.get("vnp_Message", ""))
        if code == "91":
            return QueryOutcome("not_found", f"VNPay 91: {message}")
        if code == "97":
            raise ProtocolError("VNPay refused our request signature (97): check "
                                "RECON_VNPAY_HASH_SECRET and RECON_VNPAY_TMN_CODE")
        if code != "00":
            raise ProtocolError(f"VNPay could not answer the query ({code}: {message})")
        status = str(doc.get("vnp_TransactionStatus", ""))
        detail = f"VNPay transaction status {status}"
        if status == "00":
            return QueryOutcome("paid", detail, (_querydr_payment(doc, self.method_of(doc)),))
        if status == "02":
            return QueryOutcome("failed", detail + " (failed)")
        return QueryOutcome("waiting", detail)


def _querydr_payment(doc: Mapping[str, object], method: str | None) -> ConfirmedPayment:
    raw_amount = doc.get("vnp_Amount")
    hundredths = exact_vnd(raw_amount, "VNPay vnp_Amount")
    if hundredths % 100:
        raise ProtocolError(f"VNPay vnp_Amount {raw_amount!r} is not a whole number of VND "
                            "(it is VND x 100)")
    pay_date = str(doc.get("vnp_PayDate", ""))
    try:
        paid_at = utc(datetime.strptime(pay_date, "%Y%m%d%H%M%S"))  # noqa: DTZ007 - VN time
    except ValueError:
        raise ProtocolError(f"VNPay vnp_PayDate {pay_date!r} is not yyyyMMddHHmmss") from None
    return ConfirmedPayment(
        provider_txn_id=id_text(doc.get("vnp_TransactionNo"), "VNPay vnp_TransactionNo"),
        amount=hundredths // 100, paid_at=paid_at,
        memo=str(doc.get("vnp_OrderInfo") or "") or None, method=method)


class VNPayAdapter(Adapter):
    name = "vnpay"
    label = "VNPay"
    channel = "vnpay"
    # payouts (LEGS.md A.2, A.4): one session 00:00-23:59 merged over weekends and holidays,
    # paid the next banking day (T+1 or T+2 by contract), memo text never seen: unverified,
    # override RECON_<PROVIDER>_PAYOUT_MEMO / RECON_<PROVIDER>_PAYOUT_DAYS
    payout = PayoutSpec(
        memo=r"\bVNPAY\b|\bVNP\s*QR\b|GIAI\s*PHAP\s*THANH\s*TOAN\s*VIET\s*NAM",
        days=1, merge_non_banking_days=True)
    http_method = "GET"
    digest = "sha512"
    env_spec = EnvSpec(
        required=("RECON_VNPAY_TMN_CODE", "RECON_VNPAY_HASH_SECRET"),
        rotating=("RECON_VNPAY_HASH_SECRET",),
        arguments=(("tmn_code", "RECON_VNPAY_TMN_CODE"),),
    )
    link = CallbackLink.reference
    link_field = "vnp_TxnRef"
    simulated_statuses = ("succeeded", "failed", "pending", "refunded")
    pull_api = VNPayQuery
    settlement_profiles = SETTLEMENT_PROFILES
    payment_methods: ClassVar[Mapping[str, Mapping[str, str]]] = PAYMENT_METHODS

    def __init__(
        self,
        *,
        tmn_code: str,
        secrets: tuple[str, ...],
        max_age_seconds: int = 300,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(secrets=secrets, max_age_seconds=max_age_seconds, clock=clock)
        self.tmn_code = tmn_code

    def _signed_parts(self, request: RawRequest) -> SignedParts:
        params = parse_query(request.query_string)
        return SignedParts(
            signature=params.get("vnp_SecureHash"),
            messages=signing_messages(params),
            where="vnp_SecureHash",
        )

    def _parse(self, request: RawRequest) -> CallbackEvent:
        params = parse_query(request.query_string)

        def required(key: str) -> str:
            value = params.get(key)
            if not value:
                raise MalformedPayload(f"{key} is missing or empty")
            return value

        tmn_code = required("vnp_TmnCode")
        if tmn_code != self.tmn_code:
            raise MalformedPayload(
                f"vnp_TmnCode {show(tmn_code)} is not ours ({self.tmn_code!r})"
            )
        reference = required("vnp_TxnRef")
        amount = parse_amount(params.get("vnp_Amount"))
        response_code = required("vnp_ResponseCode")
        transaction_status = required("vnp_TransactionStatus")
        status = payment_status(response_code, transaction_status)
        paid_at = compact_vn_time(params.get("vnp_PayDate"), field="vnp_PayDate")
        transaction_no = params.get("vnp_TransactionNo", "")
        if transaction_no in ("", "0"):
            if status == "succeeded":
                raise MalformedPayload("a successful payment must carry vnp_TransactionNo")
            transaction_no = unpaid_txn_id(reference)
        check_txn_id(transaction_no, field="vnp_TransactionNo")
        return CallbackEvent(
            provider=self.name,
            provider_txn_id=transaction_no,
            amount=amount,
            status=status,
            transaction_at=paid_at,
            reference=reference,
            order_code=None,
            memo=params.get("vnp_OrderInfo") or None,
            raw_status=(
                f"vnp_ResponseCode={response_code},vnp_TransactionStatus={transaction_status}"
            ),
            channel=self.channel,
            method=self.method_of(params),
        )

    @classmethod
    def acknowledge(cls, outcome: Outcome, detail: str | None = None) -> Acknowledgement:
        """HTTP 200 always; ``RspCode`` tells VNPay what happened (``detail`` is not sent:
        VNPay expects its own fixed messages)."""
        code, message = _ACKS[outcome]
        return json_ack(200, {"RspCode": code, "Message": message})

    @classmethod
    def delivered(cls, status_code: int, body: bytes | str) -> bool:
        """00 (confirmed) and 02 (already confirmed) stop VNPay's retries."""
        answer = response_json(body)
        return (200 <= status_code < 300 and isinstance(answer, dict)
                and answer.get("RspCode") in ("00", "02"))

    # -- the simulator -----------------------------------------------------------------------

    def _new_txn_id(self, paid_at: datetime) -> str:
        return str(10_000_000 + _random.randbelow(90_000_000))

    def _callback_fields(self, payment: SimulatedPayment) -> dict[str, object]:
        response_code, transaction_status = _BUILD_CODES[payment.status]
        succeeded = payment.status == "succeeded"
        return {
            "vnp_Amount": str(payment.amount * 100),
            "vnp_BankCode": "NCB",
            "vnp_BankTranNo": f"VNP{payment.provider_txn_id}" if succeeded else "",
            "vnp_CardType": "ATM",
            "vnp_OrderInfo": payment.memo if payment.memo is not None
            else f"Thanh toan {payment.reference}",
            "vnp_PayDate": vn_local(payment.paid_at, "%Y%m%d%H%M%S"),
            "vnp_ResponseCode": response_code,
            "vnp_TmnCode": self.tmn_code,
            "vnp_TransactionNo": payment.provider_txn_id,
            "vnp_TransactionStatus": transaction_status,
            "vnp_TxnRef": payment.reference,
        }

    def _wire(self, fields: dict[str, object], payment: SimulatedPayment) -> Wire:
        params = {key: str(value) for key, value in fields.items()}
        params["vnp_SecureHash"] = self._sign(utf8(hash_data(params)))
        return Wire(
            query_string=urlencode(sorted(params.items()), quote_via=quote_plus),
            headers={"User-Agent": "VNPAY-IPN (simulated by recon)"},
        )

    def querydr_request(
        self,
        *,
        request_id: str,
        txn_ref: str,
        transaction_date: datetime,
        create_date: datetime,
        ip_addr: str,
        order_info: str,
        transaction_no: str | None = None,
    ) -> tuple[str, dict[str, str]]:
        """:func:`build_querydr` with this adapter's merchant code and current secret."""
        return build_querydr(
            tmn_code=self.tmn_code,
            hash_secret=self._secrets[0].decode("utf-8"),
            request_id=request_id,
            txn_ref=txn_ref,
            transaction_date=transaction_date,
            create_date=create_date,
            ip_addr=ip_addr,
            order_info=order_info,
            transaction_no=transaction_no,
        )
