"""One sentence per finding, in Vietnamese (shown by default) and in English.

Amounts are written the Vietnamese way (``180.000 ₫``: dots group thousands, a no-break space
before the sign) in both languages, so an officer sees the same figures in either. Dates are
``dd/mm/yyyy`` in Vietnamese and ISO ``yyyy-mm-dd`` in English. Everything here is pure.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Final

from recon.clock import VN_TZ
from recon.money import format_vnd

if TYPE_CHECKING:
    from collections.abc import Sequence

    from recon.contracts.model import Contract, FeeCheck
    from recon.engine.portal import PortalEntry, PortalPayment, ProviderLine

PROVIDER_NAMES = {
    "vietqr": "VietQR",
    "vnpay": "VNPay",
    "momo": "MoMo",
    "zalopay": "ZaloPay",
    "payos": "payOS",
    "sepay": "SePay",
    "casso": "Casso",
    "pos": "POS",
}
STATUS_VI = {"succeeded": "thành công", "failed": "thất bại", "refunded": "đã hoàn tiền"}

Pair = tuple[str, str]


def vnd(amount: int) -> str:
    return format_vnd(amount)


def provider_vi(provider: str) -> str:
    return "tiền mặt" if provider == "cash" else PROVIDER_NAMES.get(provider, provider)


def provider_en(provider: str) -> str:
    return "cash" if provider == "cash" else PROVIDER_NAMES.get(provider, provider)


def status_vi(status: str) -> str:
    return STATUS_VI.get(status, status)


# Vietnam's fixed offset (None if VN_TZ ever became a zone with rules: then no shortcut). Hot
# loops inline vn_date as ``(moment + VN_OFFSET).date()`` for a moment whose tzinfo is UTC.
VN_OFFSET: Final = VN_TZ.utcoffset(None)
_VN_OFFSET: Final = VN_OFFSET


def vn_date(moment: datetime) -> date:
    """The calendar date in Vietnam (UTC+7) of an aware moment."""
    if moment.tzinfo is UTC and _VN_OFFSET is not None:
        # what the database gives back (a run's rows, its as_of): the same date as through
        # astimezone, at about a fifth of its cost; a full run asks for millions of them
        return (moment + _VN_OFFSET).date()
    return moment.astimezone(VN_TZ).date()


def date_vi(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def date_en(day: date) -> str:
    return day.isoformat()


def _cap(text: str) -> str:
    """Upper-case the first letter only (``str.capitalize`` would lower-case "VNPay")."""
    return text[:1].upper() + text[1:]


def _txn_vi(provider: str, txn: str) -> str:
    return f"giao dịch {provider_vi(provider)} mã {txn}"


def _txn_en(provider: str, txn: str) -> str:
    return f"{provider_en(provider)} transaction {txn}"


# --------------------------------------------------------------------------- findings


def underpaid(code: str, assessed: int, paid: int) -> Pair:
    short = vnd(assessed - paid)
    return (
        f"Hồ sơ {code} mới nộp {vnd(paid)}, còn thiếu {short} so với tổng phí, lệ phí "
        f"phải nộp là {vnd(assessed)}.",
        f"Dossier {code} has been paid {vnd(paid)}, {short} short of the {vnd(assessed)} "
        f"assessed in fees and charges.",
    )


def overpaid(code: str, assessed: int, counted: int, duplicates: int) -> Pair:
    excess = vnd(counted - assessed)
    if duplicates:
        vi_extra = f" (không tính {vnd(duplicates)} nộp trùng đã báo riêng)"
        en_extra = f" (not counting {vnd(duplicates)} of duplicate payments reported separately)"
    else:
        vi_extra = en_extra = ""
    return (
        f"Hồ sơ {code} đã nộp {vnd(counted)}{vi_extra}, thừa {excess} so với tổng phí, "
        f"lệ phí phải nộp là {vnd(assessed)}.",
        f"Dossier {code} has been paid {vnd(counted)}{en_extra}, {excess} more than the "
        f"{vnd(assessed)} assessed in fees and charges.",
    )


def duplicate_payment(
    code: str,
    amount: int,
    provider: str,
    txn: str,
    *,
    original_provider: str,
    original_txn: str,
    original_paid_at: datetime,
    same_intent: bool,
    reference: str | None,
) -> Pair:
    day = vn_date(original_paid_at)
    original = f"{_txn_vi(original_provider, original_txn)} ngày {date_vi(day)}"
    original_en = f"{_txn_en(original_provider, original_txn)} of {date_en(day)}"
    if same_intent and reference:
        vi_what = f"trùng với {original} cho cùng mã thanh toán {reference}"
        en_what = f"repeating {original_en} for the same payment reference {reference}"
    elif same_intent:
        vi_what = f"trùng với {original} cho cùng yêu cầu thanh toán"
        en_what = f"repeating {original_en} for the same payment request"
    else:
        vi_what = f"trùng số tiền với {original}"
        en_what = f"the same amount as {original_en}"
    return (
        f"Hồ sơ {code} được thanh toán thêm một lần {vnd(amount)} qua "
        f"{_txn_vi(provider, txn)}, {vi_what}.",
        f"Dossier {code} was paid {vnd(amount)} again by {_txn_en(provider, txn)}, {en_what}.",
    )


def unmatched_payment(provider: str, txn: str, amount: int, reference: str | None) -> Pair:
    if reference:
        vi_ref = f"nội dung/mã tham chiếu “{reference}”"
        en_ref = f"reference “{reference}”"
    else:
        vi_ref = "không có mã tham chiếu"
        en_ref = "no reference"
    return (
        f"{_cap(_txn_vi(provider, txn))} số tiền {vnd(amount)} ({vi_ref}) không khớp với "
        f"hồ sơ nào.",
        f"A payment of {vnd(amount)} by {_txn_en(provider, txn)} ({en_ref}) matches no dossier.",
    )


_REASON_VI = {
    "duplicate_reference": "mã {culprits} được ghi nhiều lần",
    "unknown_reference": "không tìm thấy mã {culprits}",
    "same_dossier": "các mã {culprits} thuộc cùng một hồ sơ",
    "already_paid": "hồ sơ của mã {culprits} không còn phải nộp",
    "amount_differs": "số tiền lệch {difference} so với tổng phải nộp",
}
_REASON_EN = {
    "duplicate_reference": "{culprits} is written more than once",
    "unknown_reference": "{culprits} is not a known reference",
    "same_dossier": "{culprits} belong to the same dossier",
    "already_paid": "the dossier of {culprits} owes nothing",
    "amount_differs": "the amount differs by {difference} from the sum owed",
}


def multi_reference_unsplit(provider: str, txn: str, amount: int, reason: str,
                            references: tuple[str, ...], culprits: tuple[str, ...],
                            difference: int) -> Pair:
    refs = ", ".join(references)
    named = ", ".join(culprits)
    diff = ("+" if difference > 0 else "−" if difference < 0 else "") + vnd(abs(difference))
    why_vi = _REASON_VI.get(reason, reason).format(culprits=named, difference=diff)
    why_en = _REASON_EN.get(reason, reason).format(culprits=named, difference=diff)
    return (
        f"{_cap(_txn_vi(provider, txn))} số tiền {vnd(amount)} ghi các mã {refs} nhưng không "
        f"được chia cho các hồ sơ: {why_vi}. Cần người kiểm tra và gắn thủ công; hệ thống "
        f"không tự chia.",
        f"A payment of {vnd(amount)} by {_txn_en(provider, txn)} names {refs} but was not "
        f"split across their dossiers: {why_en}. A person must assign it; recon never "
        f"splits by guess.",
    )


def missing_settlement(
    provider: str, txn: str, amount: int, *, paid_at: datetime, days: int, deadline: date,
    banking: bool = False,
) -> Pair:
    """``banking``: the deadline counts banking days (the service's calendar), not days."""
    paid_day = vn_date(paid_at)
    unit_vi, unit_en = ("ngày làm việc", "banking-day") if banking else ("ngày", "day")
    return (
        f"{_cap(_txn_vi(provider, txn))} số tiền {vnd(amount)} ngày "
        f"{date_vi(paid_day)} chưa có trong báo cáo quyết toán, đã quá hạn quyết toán "
        f"{days} {unit_vi} (hết ngày {date_vi(deadline)}).",
        f"The payment of {vnd(amount)} by {_txn_en(provider, txn)} on {date_en(paid_day)} "
        f"has not been settled, and its {days}-{unit_en} settlement deadline "
        f"({date_en(deadline)}) has passed.",
    )


def unexpected_settlement(provider: str, txn: str, gross: int, settled_on: date) -> Pair:
    return (
        f"Báo cáo quyết toán của {provider_vi(provider)} ngày {date_vi(settled_on)} có "
        f"giao dịch mã {txn} số tiền {vnd(gross)} nhưng hệ thống không ghi nhận khoản thanh "
        f"toán nào tương ứng.",
        f"{provider_en(provider)}'s settlement of {date_en(settled_on)} lists transaction "
        f"{txn} for {vnd(gross)}, but no such payment was recorded.",
    )


def amount_mismatch(
    provider: str, txn: str, amount: int, gross: int, *, within_tolerance: bool, tolerance: int
) -> Pair:
    diff = vnd(abs(gross - amount))
    vi_dir = "thấp hơn" if gross < amount else "cao hơn"
    en_dir = "less" if gross < amount else "more"
    vi_tol = f" (trong mức dung sai {vnd(tolerance)})" if within_tolerance else ""
    en_tol = f" (within the {vnd(tolerance)} tolerance)" if within_tolerance else ""
    return (
        f"{_cap(_txn_vi(provider, txn))} được ghi nhận {vnd(amount)} nhưng "
        f"được quyết toán {vnd(gross)}, {vi_dir} {diff}{vi_tol}.",
        f"{_cap(_txn_en(provider, txn))} was recorded as {vnd(amount)} but settled "
        f"as {vnd(gross)}, {diff} {en_dir}{en_tol}.",
    )


#: a payment method (recon.contracts.model.METHODS) in words, Vietnamese and English
METHOD_WORDS: dict[str, tuple[str, str]] = {
    "qr": ("thanh toán QR", "QR payment"),
    "domestic_card": ("thẻ nội địa (ATM)", "domestic (ATM) card"),
    "intl_card": ("thẻ quốc tế", "international card"),
    "wallet": ("ví điện tử", "e-wallet"),
    "bank_account": ("tài khoản ngân hàng liên kết", "linked bank account"),
    "visa": ("thẻ Visa", "Visa card"),
    "mastercard": ("thẻ Mastercard", "Mastercard card"),
    "jcb": ("thẻ JCB", "JCB card"),
    "amex": ("thẻ American Express", "American Express card"),
    "unionpay": ("thẻ UnionPay", "UnionPay card"),
    "napas": ("thẻ NAPAS", "NAPAS card"),
}


def _method_vi(method: str | None) -> str:
    if method is None:
        return "phương thức không được báo"
    return METHOD_WORDS.get(method, (method, method))[0]


def _method_en(method: str | None) -> str:
    if method is None:
        return "method not reported"
    return METHOD_WORDS.get(method, (method, method))[1]


def _channel_vi(check: FeeCheck) -> str:
    c = check.contract
    if c.channel == "*":
        return f"kênh: mọi phương thức (giao dịch này: {_method_vi(check.method)})"
    return f"kênh: {_method_vi(c.channel)}"


def _channel_en(check: FeeCheck) -> str:
    c = check.contract
    if c.channel == "*":
        return f"channel: any method (this payment: {_method_en(check.method)})"
    return f"channel: {_method_en(c.channel)}"


def _tier_vi(check: FeeCheck) -> str:
    c = check.contract
    if not c.tiers:
        return ""
    used = ("mức cơ bản" if check.level == 0 else
            f"bậc {check.level} (từ giao dịch thứ {c.tiers[check.level - 1].from_count} "
            f"trong tháng)")
    text = f"; {used}"
    if check.count:
        text += (f"; đây là giao dịch thứ {check.count} trong tháng theo hợp đồng này, nên "
                 f"chấp nhận từ "
                 + ("mức cơ bản" if check.min_level == 0 else f"bậc {check.min_level}")
                 + " trở lên (số giao dịch chỉ chốt vào cuối tháng)")
    return text


def _tier_en(check: FeeCheck) -> str:
    c = check.contract
    if not c.tiers:
        return ""
    used = ("the base rate" if check.level == 0 else
            f"tier {check.level} (from the month's transaction "
            f"{c.tiers[check.level - 1].from_count})")
    text = f"; {used}"
    if check.count:
        text += (f"; this is the month's transaction {check.count} under this contract, so "
                 + ("the base rate" if check.min_level == 0 else f"tier {check.min_level}")
                 + " or a higher tier is accepted (the count is final at month end)")
    return text


def _foreign_vi(check: FeeCheck) -> str:
    bp = check.contract.foreign_card_surcharge_bp
    if not bp:
        return ""
    if check.foreign is None:
        return (f"; không rõ thẻ phát hành trong hay ngoài nước nên chấp nhận cả có và không có "
                f"phụ phí thẻ nước ngoài {_pct(bp)}"
                + (" (gần nhất: có phụ phí)" if check.surcharged else " (gần nhất: không)"))
    if check.foreign:
        return f"; thẻ phát hành ở nước ngoài: cộng phụ phí {_pct(bp)}"
    return "; thẻ phát hành trong nước: không phụ phí thẻ nước ngoài"


def _foreign_en(check: FeeCheck) -> str:
    bp = check.contract.foreign_card_surcharge_bp
    if not bp:
        return ""
    pct = _pct(bp).replace(",", ".")
    if check.foreign is None:
        return (f"; whether the card was issued abroad is unknown, so the fee with and without "
                f"the {pct} foreign-card surcharge are both accepted"
                + (" (nearest: with it)" if check.surcharged else " (nearest: without it)"))
    if check.foreign:
        return f"; card issued abroad: plus the {pct} surcharge"
    return "; card issued in Vietnam: no foreign-card surcharge"


def fee_mismatch(provider: str, txn: str, gross: int, fee: int, net: int,
                 check: FeeCheck | None) -> Pair:
    """The fee against the contract (``check``; ``None``: no contract covers the line),
    naming the channel, the tier and the surcharge used, and, when the file contradicts
    itself, its stated net against gross - fee."""
    vi: list[str] = []
    en: list[str] = []
    if check is not None and not check.ok:
        c = check.contract
        diff = vnd(abs(fee - check.expected))
        more_vi, more_en = ("cao hơn", "more") if fee > check.expected else ("thấp hơn", "less")
        vi.append(
            f"{_cap(_txn_vi(provider, txn))} số tiền {vnd(gross)} bị thu phí {vnd(fee)}, "
            f"{more_vi} {diff} so với phí theo hợp đồng {c.id} ({_channel_vi(check)}; "
            f"{_rate_vi(check)}{_tier_vi(check)}{_foreign_vi(check)}): "
            f"{vnd(check.expected)}.")
        en.append(
            f"{_cap(_txn_en(provider, txn))} of {vnd(gross)} was charged a fee of {vnd(fee)}, "
            f"{diff} {more_en} than contract {c.id} ({_channel_en(check)}; "
            f"{_rate_en(check)}{_tier_en(check)}{_foreign_en(check)}) gives: "
            f"{vnd(check.expected)}.")
    if net != gross - fee:
        vi.append(
            f"Báo cáo quyết toán tự mâu thuẫn: số tiền thực nhận ghi {vnd(net)} nhưng "
            f"{vnd(gross)} trừ phí {vnd(fee)} là {vnd(gross - fee)}.")
        en.append(
            f"The settlement file contradicts itself: it states a net of {vnd(net)}, but "
            f"{vnd(gross)} less the {vnd(fee)} fee is {vnd(gross - fee)}.")
    return " ".join(vi), " ".join(en)


def _refund_terms_vi(c: Contract) -> str:
    parts = [f"phí xử lý hoàn tiền {vnd(c.refund_fee_vnd)}"]
    if c.refund_returns_rate or c.kind == "subscription":
        parts.append("không thu phí phần trăm")
    else:
        parts.append(f"cộng {_pct(c.rate_bp)} số tiền hoàn")
    vat = "đã gồm VAT" if c.vat_included else f"chưa gồm VAT {_pct(c.vat_rate_bp)}"
    return ", ".join(parts) + f", {vat}"


def _refund_terms_en(c: Contract) -> str:
    parts = [f"a refund processing fee of {vnd(c.refund_fee_vnd)}"]
    if c.refund_returns_rate or c.kind == "subscription":
        parts.append("no percentage fee")
    else:
        parts.append(f"plus {_pct(c.rate_bp).replace(',', '.')} of the amount refunded")
    vat = ("VAT included" if c.vat_included else
           f"plus {_pct(c.vat_rate_bp).replace(',', '.')} VAT")
    return ", ".join(parts) + f", {vat}"


def refund_fee_mismatch(provider: str, txn: str, sale_txn: str, gross: int, fee: int,
                        net: int, contract: Contract | None) -> Pair:
    """A refund line's fee against its contract's refund fee (``contract``; ``None``: the fee
    agrees or no contract covers it), and, when the file contradicts itself, its net."""
    vi: list[str] = []
    en: list[str] = []
    of_vi = "" if sale_txn == txn else f" (hoàn cho giao dịch mã {sale_txn})"
    of_en = "" if sale_txn == txn else f" (refunding transaction {sale_txn})"
    if contract is not None:
        expected = contract.refund_fee(gross)
        diff = vnd(abs(fee - expected))
        more_vi, more_en = ("cao hơn", "more") if fee > expected else ("thấp hơn", "less")
        vi.append(
            f"Dòng hoàn tiền {_txn_vi(provider, txn)}{of_vi} số tiền hoàn {vnd(gross)} bị thu "
            f"phí hoàn tiền {vnd(fee)}, {more_vi} {diff} so với phí hoàn tiền theo hợp đồng "
            f"{contract.id} ({_refund_terms_vi(contract)}): {vnd(expected)}.")
        en.append(
            f"The refund line of {_txn_en(provider, txn)}{of_en} for {vnd(gross)} was charged "
            f"a refund fee of {vnd(fee)}, {diff} {more_en} than contract {contract.id}'s "
            f"refund fee ({_refund_terms_en(contract)}) gives: {vnd(expected)}.")
    if net != gross - fee:
        vi.append(
            f"Dòng hoàn tiền tự mâu thuẫn: số tiền ròng ghi {vnd(net)} nhưng {vnd(gross)} trừ "
            f"phí {vnd(fee)} là {vnd(gross - fee)}.")
        en.append(
            f"The refund line contradicts itself: it states a net of {vnd(net)}, but "
            f"{vnd(gross)} less the {vnd(fee)} fee is {vnd(gross - fee)}.")
    return " ".join(vi), " ".join(en)


def refund_status_mismatch(provider: str, sale_txn: str, txn: str, status: str, gross: int,
                           settled_on: date) -> Pair:
    """A refund line whose sale is a payment recon does not hold as refunded."""
    line_vi = "" if txn == sale_txn else f" (mã dòng hoàn {txn})"
    line_en = "" if txn == sale_txn else f" (refund line {txn})"
    return (
        f"{provider_vi(provider)} báo hoàn tiền {vnd(gross)} ngày {date_vi(settled_on)} cho "
        f"giao dịch mã {sale_txn}{line_vi}, nhưng hệ thống ghi nhận khoản thanh toán này là "
        f"{status_vi(status)}, không phải đã hoàn tiền.",
        f"{provider_en(provider)} reports a refund of {vnd(gross)} on {date_en(settled_on)} "
        f"for transaction {sale_txn}{line_en}, but recon records that payment as {status}, "
        f"not refunded.",
    )


def refund_unexpected(provider: str, txn: str, sale_txn: str | None, gross: int,
                      settled_on: date) -> Pair:
    """A refund line whose sale is no recorded payment."""
    sale = sale_txn or txn
    return (
        f"Báo cáo quyết toán của {provider_vi(provider)} ngày {date_vi(settled_on)} có dòng "
        f"hoàn tiền mã {txn} số tiền {vnd(gross)} cho giao dịch mã {sale}, nhưng hệ thống "
        f"không ghi nhận khoản thanh toán nào có mã đó.",
        f"{provider_en(provider)}'s settlement of {date_en(settled_on)} lists refund {txn} "
        f"for {vnd(gross)} of transaction {sale}, but no such payment was recorded.",
    )


def _rate_vi(check: FeeCheck) -> str:
    c = check.contract
    if c.kind == "subscription":
        return "thuê bao tháng, không thu phí theo giao dịch"
    rate = check.rate_bp
    parts = [f"{rate // 100},{rate % 100:02d}\u00a0%"]
    if c.fixed_vnd:
        parts.append(vnd(c.fixed_vnd))
    text = " + ".join(parts)
    if c.min_vnd:
        text += f", tối thiểu {vnd(c.min_vnd)}"
    if c.max_vnd:
        text += f", tối đa {vnd(c.max_vnd)}"
    return text + (", đã gồm VAT" if c.vat_included else f", chưa gồm VAT {_pct(c.vat_rate_bp)}")


def _rate_en(check: FeeCheck) -> str:
    c = check.contract
    if c.kind == "subscription":
        return "a monthly subscription, no fee per transaction"
    rate = check.rate_bp
    parts = [f"{rate // 100}.{rate % 100:02d}\u00a0%"]
    if c.fixed_vnd:
        parts.append(vnd(c.fixed_vnd))
    text = " + ".join(parts)
    if c.min_vnd:
        text += f", at least {vnd(c.min_vnd)}"
    if c.max_vnd:
        text += f", at most {vnd(c.max_vnd)}"
    return text + (", VAT included" if c.vat_included else
                   f", plus {_pct(c.vat_rate_bp).replace(',', '.')} VAT")


def _pct(bp: int) -> str:
    return f"{bp // 100}" + (f",{bp % 100:02d}" if bp % 100 else "") + "\u00a0%"


def duplicate_settlement(
    provider: str, txn: str, gross: int, settled_on: date, original_settled_on: date
) -> Pair:
    return (
        f"{_cap(_txn_vi(provider, txn))} được quyết toán thêm một lần {vnd(gross)} "
        f"ngày {date_vi(settled_on)}, dù đã được quyết toán ngày "
        f"{date_vi(original_settled_on)}.",
        f"{_cap(_txn_en(provider, txn))} was settled again for {vnd(gross)} on "
        f"{date_en(settled_on)}; it had already been settled on "
        f"{date_en(original_settled_on)}.",
    )


def status_mismatch(provider: str, txn: str, status: str, gross: int, settled_on: date) -> Pair:
    return (
        f"{_cap(_txn_vi(provider, txn))} được ghi nhận là "
        f"{status_vi(status)} nhưng vẫn được quyết toán {vnd(gross)} ngày "
        f"{date_vi(settled_on)}.",
        f"{_cap(_txn_en(provider, txn))} is recorded as {status} but was settled "
        f"for {vnd(gross)} on {date_en(settled_on)}.",
    )


def late_for_closed_period(month: date, paid: datetime, provider: str, txn: str,
                           arrived: datetime | None, now_vi: str, now_en: str, *,
                           refund_line: str | None = None) -> Pair:
    """Late data for a payment of a closed month: the closed month is not changed; this finding
    reports it in the current month (``now_vi`` / ``now_en``: what the data says now).
    ``arrived``: when the payment's last line stored after the close came; ``refund_line``:
    that line's own transaction id when it is a refund line of the payment (named when it is
    not the payment's ``txn``)."""
    day = vn_date(paid)
    if arrived is not None:
        when = vn_date(arrived)
        if refund_line is None:
            line_vi, line_en = "Một dòng đối soát", "A settlement line"
        elif refund_line == txn:
            line_vi, line_en = "Một dòng hoàn tiền", "A refund line"
        else:
            line_vi = f"Một dòng hoàn tiền mã {refund_line}"
            line_en = f"A refund line ({refund_line})"
        return (
            f"{line_vi} cho khoản thanh toán {provider_vi(provider)} {txn} ngày "
            f"{day:%d/%m/%Y} (tháng {month:%m/%Y}, đã khóa sổ) đến ngày {when:%d/%m/%Y}. "
            f"Tháng đã khóa không thay đổi; {now_vi}",
            f"{line_en} for a payment of {month:%m/%Y}, a closed month "
            f"({provider_en(provider)} {txn}, paid {day:%Y-%m-%d}), arrived on "
            f"{when:%Y-%m-%d}. The closed month is left unchanged; {now_en}",
        )
    return (
        f"Khoản thanh toán {provider_vi(provider)} {txn} ngày {day:%d/%m/%Y} thuộc tháng "
        f"{month:%m/%Y} đã khóa sổ thay đổi sau khi khóa sổ. Tháng đã khóa không thay đổi; "
        f"{now_vi}",
        f"A payment of {month:%m/%Y}, a closed month ({provider_en(provider)} {txn}, paid "
        f"{day:%Y-%m-%d}), changed after the month was closed. The closed month is left "
        f"unchanged; {now_en}",
    )


def late_dossier_for_closed_period(month: date, code: str, received: datetime,
                                   reassessed: datetime | None, now_vi: str,
                                   now_en: str) -> Pair:
    """Late data for a dossier of a closed month (a reassessment of its fees, or a payment
    that changed what it owes): reported in the current month, the closed month unchanged.
    ``reassessed``: when its fees changed after the close, if they did."""
    day = vn_date(received)
    if reassessed is not None:
        when = vn_date(reassessed)
        return (
            f"Hồ sơ {code} tiếp nhận ngày {day:%d/%m/%Y} (tháng {month:%m/%Y}, đã khóa sổ) "
            f"được định lại phí, lệ phí ngày {when:%d/%m/%Y}. Tháng đã khóa không thay đổi; "
            f"{now_vi}",
            f"A reassessment for dossier {code} of {month:%m/%Y}, a closed month (received "
            f"{day:%Y-%m-%d}), arrived on {when:%Y-%m-%d}. The closed month is left "
            f"unchanged; {now_en}",
        )
    return (
        f"Hồ sơ {code} tiếp nhận ngày {day:%d/%m/%Y} thuộc tháng {month:%m/%Y} đã khóa sổ "
        f"thay đổi sau khi khóa sổ. Tháng đã khóa không thay đổi; {now_vi}",
        f"Dossier {code} of {month:%m/%Y}, a closed month (received {day:%Y-%m-%d}), changed "
        f"after the month was closed. The closed month is left unchanged; {now_en}",
    )


def late_line_for_closed_period(month: date, provider: str, txn: str, dated: date,
                                arrived: datetime | None, now_vi: str, now_en: str) -> Pair:
    """Late data for a settlement line of a closed month that settles no payment of ours
    (an unexpected settlement): reported in the current month, the closed month unchanged."""
    if arrived is not None:
        when = vn_date(arrived)
        return (
            f"Một dòng đối soát {provider_vi(provider)} {txn} ngày {dated:%d/%m/%Y} (tháng "
            f"{month:%m/%Y}, đã khóa sổ) đến ngày {when:%d/%m/%Y}. Tháng đã khóa không thay "
            f"đổi; {now_vi}",
            f"A settlement line of {month:%m/%Y}, a closed month ({provider_en(provider)} "
            f"{txn}, dated {dated:%Y-%m-%d}), arrived on {when:%Y-%m-%d}. The closed month is "
            f"left unchanged; {now_en}",
        )
    return (
        f"Dòng đối soát {provider_vi(provider)} {txn} ngày {dated:%d/%m/%Y} thuộc tháng "
        f"{month:%m/%Y} đã khóa sổ thay đổi sau khi khóa sổ. Tháng đã khóa không thay đổi; "
        f"{now_vi}",
        f"A settlement line of {month:%m/%Y}, a closed month ({provider_en(provider)} {txn}, "
        f"dated {dated:%Y-%m-%d}), changed after the month was closed. The closed month is "
        f"left unchanged; {now_en}",
    )


# --------------------------------------------------------------------------- payouts


def _session_vi(first: date, last: date) -> str:
    return f"{first:%d/%m/%Y}" if first == last else f"{first:%d/%m/%Y}–{last:%d/%m/%Y}"


def _session_en(first: date, last: date) -> str:
    return f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"


def sessions_vi(sessions: list[tuple[date, date]]) -> str:
    return ", ".join(_session_vi(a, b) for a, b in sessions)


def sessions_en(sessions: list[tuple[date, date]]) -> str:
    return ", ".join(_session_en(a, b) for a, b in sessions)


def payout_missing(provider: str, first: date, last: date, count: int, expected: int,
                   due: date) -> Pair:
    """A batch whose credit has not come once its expected banking day is over."""
    return (
        f"Đợt chuyển tiền {provider_vi(provider)} phiên {_session_vi(first, last)} ({count} "
        f"giao dịch, cần nhận {vnd(expected)}) chưa được ghi có vào tài khoản; hạn ghi có là "
        f"ngày làm việc {date_vi(due)}.",
        f"The {provider_en(provider)} payout batch of session {_session_en(first, last)} "
        f"({count} transactions, {vnd(expected)} expected) has not been credited to the "
        f"account; it was due on banking day {date_en(due)}.",
    )


_DEDUCTION_VI = {"chargeback": "khoản bồi hoàn (chargeback)", "fee_invoice": "hóa đơn phí"}
_DEDUCTION_EN = {"chargeback": "chargeback", "fee_invoice": "fee invoice"}


def payout_mismatch(provider: str, bank_reference: str, booked_on: date, amount: int,
                    sessions: list[tuple[date, date]], expected: int, named: str,
                    deduction_kind: str | None, deduction_reference: str | None) -> Pair:
    """A credit that pays its batch(es) with another amount; ``named`` says what the
    difference is (``deduction``, ``fee``) or that nothing explains it."""
    diff = amount - expected
    size = vnd(abs(diff))
    if named == "deduction" and deduction_kind is not None:
        why = (f"Chênh lệch {size} đúng bằng {_DEDUCTION_VI.get(deduction_kind, deduction_kind)}"
               f" {deduction_reference} đã bị khấu trừ.",
               f"The difference of {size} is exactly the "
               f"{_DEDUCTION_EN.get(deduction_kind, deduction_kind)} {deduction_reference}, "
               f"deducted.")
    elif named == "fee":
        why = (f"Chênh lệch {size} đúng bằng phí của đợt: đã chuyển tổng tiền chưa trừ phí "
               f"(phí thu theo hóa đơn riêng).",
               f"The difference of {size} is exactly the batch's fee: the gross was paid "
               f"(the fee is invoiced separately).")
    else:
        why = (f"Chuyển {'thiếu' if diff < 0 else 'thừa'} {size}, chưa rõ nguyên nhân.",
               f"{size} {'short' if diff < 0 else 'over'}, not explained.")
    return (
        f"Khoản ghi có {bank_reference} ngày {date_vi(booked_on)} của {provider_vi(provider)} "
        f"({vnd(amount)}) thanh toán phiên {sessions_vi(sessions)}, cần {vnd(expected)}. "
        f"{why[0]}",
        f"The {provider_en(provider)} credit {bank_reference} of {date_en(booked_on)} "
        f"({vnd(amount)}) pays session {sessions_en(sessions)}, which needs {vnd(expected)}. "
        f"{why[1]}",
    )


def payout_unexpected(provider: str, bank_reference: str, booked_on: date, amount: int,
                      memo: str) -> Pair:
    """A credit whose memo says it is a provider's payout, that no batch explains."""
    return (
        f"Khoản ghi có {bank_reference} ngày {date_vi(booked_on)} ({vnd(amount)}, nội dung "
        f"“{memo}”) là tiền {provider_vi(provider)} chuyển về nhưng không khớp đợt chuyển tiền "
        f"nào.",
        f"The credit {bank_reference} of {date_en(booked_on)} ({vnd(amount)}, memo “{memo}”) "
        f"is a {provider_en(provider)} payout that no batch explains.",
    )


# --------------------------------------------------------------------------- portal
# (recon.engine.portal: the portal's daily list, recon and the provider, Art. 36)

_PORTAL_STATUS_VI = {"succeeded": "thành công", "failed": "thất bại", "refunded": "đã hoàn tiền",
              "pending": "đang xử lý"}
_PORTAL_STATUS_EN = {"succeeded": "succeeded", "failed": "failed", "refunded": "refunded",
              "pending": "pending"}


def _portal_vi(e: PortalEntry) -> str:
    return (f"Cổng DVCQG ghi giao dịch {e.portal_txn_id} (hồ sơ {e.dossier_code}, "
            f"{vnd(e.amount)}, {_PORTAL_STATUS_VI[e.status]}, ngày {date_vi(e.day)})")


def _portal_en(e: PortalEntry) -> str:
    return (f"the portal lists transaction {e.portal_txn_id} (dossier {e.dossier_code}, "
            f"{vnd(e.amount)}, {_PORTAL_STATUS_EN[e.status]}, on {date_en(e.day)})")


def _recon_vi(p: PortalPayment) -> str:
    return (f"recon ghi khoản thanh toán {provider_vi(p.provider)} mã {p.provider_txn_id} "
            f"(hồ sơ {p.dossier_code or 'chưa xác định'}, {vnd(p.amount)}, "
            f"{_PORTAL_STATUS_VI.get(p.status, p.status)})")


def _recon_en(p: PortalPayment) -> str:
    return (f"recon has {provider_en(p.provider)} payment {p.provider_txn_id} "
            f"(dossier {p.dossier_code or 'unknown'}, {vnd(p.amount)}, "
            f"{_PORTAL_STATUS_EN.get(p.status, p.status)})")


def _portal_provider(line: ProviderLine | None, provider: str | None) -> Pair:
    if line is None:
        if provider is None:
            return ("", "")
        return (f"; nhà cung cấp {provider_vi(provider)} chưa có dòng đối soát",
                f"; the provider {provider_en(provider)} has no settlement line for it")
    return (f"; nhà cung cấp {provider_vi(line.provider)} ghi {vnd(line.amount)}",
            f"; the provider {provider_en(line.provider)} settled {vnd(line.amount)}")


def portal_mismatch(e: PortalEntry, p: PortalPayment, line: ProviderLine | None,
                    differences: Sequence[str]) -> Pair:
    """The portal and recon tell one transaction differently (``differences``: ``amount``,
    ``status``, ``dossier``)."""
    vi_names = {"amount": "số tiền", "status": "trạng thái", "dossier": "mã hồ sơ"}
    en_names = {"amount": "amount", "status": "status", "dossier": "dossier"}
    pv, pe = _portal_provider(line, p.provider)
    return (f"Lệch {', '.join(vi_names[d] for d in differences)} giữa Cổng DVCQG và recon: "
            f"{_portal_vi(e)}; {_recon_vi(p)}{pv}.",
            f"The portal and recon differ on the {', '.join(en_names[d] for d in differences)}"
            f": {_portal_en(e)}; {_recon_en(p)}{pe}.")


def portal_recon_lacks(e: PortalEntry, line: ProviderLine | None) -> Pair:
    pv, pe = _portal_provider(line, e.provider)
    return (f"{_portal_vi(e)}, nhưng recon không có khoản thanh toán nào tương ứng{pv}.",
            f"{_portal_en(e)[:1].upper()}{_portal_en(e)[1:]}, but recon has no such "
            f"payment{pe}.")


def portal_listed_twice(e: PortalEntry, first: PortalEntry, p: PortalPayment) -> Pair:
    return (f"{_portal_vi(e)} lần thứ hai: khoản thanh toán {p.provider_txn_id} của recon đã "
            f"khớp giao dịch {first.portal_txn_id} của Cổng.",
            f"{_portal_en(e)[:1].upper()}{_portal_en(e)[1:]} a second time: recon's payment "
            f"{p.provider_txn_id} already matches the portal's {first.portal_txn_id}.")


def portal_payment_lacks(p: PortalPayment, line: ProviderLine | None) -> Pair:
    pv, pe = _portal_provider(line, p.provider)
    return (f"{_recon_vi(p)[:1].upper()}{_recon_vi(p)[1:]} ngày {date_vi(p.day)}, nhưng danh "
            f"sách giao dịch của Cổng DVCQG ngày đó không có{pv}.",
            f"{_recon_en(p)[:1].upper()}{_recon_en(p)[1:]} on {date_en(p.day)}, but the "
            f"portal's list of that day lacks it{pe}.")
# --------------------------------------------------------------------------- receipts


def _time_vi(moment: datetime) -> str:
    return f"{moment.astimezone(VN_TZ):%H:%M %d/%m/%Y}"


def _time_en(moment: datetime) -> str:
    return f"{moment.astimezone(VN_TZ):%Y-%m-%d %H:%M} (Vietnam time)"


def receipt_missing(code: str, provider: str, txn: str, amount: int, recorded_at: datetime,
                    grace_minutes: int) -> Pair:
    """A succeeded payment owed a receipt, with none issued after the grace period."""
    return (
        f"Khoản thu {provider_vi(provider)} {txn} ({vnd(amount)}) cho hồ sơ {code}, ghi nhận "
        f"lúc {_time_vi(recorded_at)}, quá {grace_minutes} phút vẫn chưa có biên lai điện tử. "
        f"Chạy `recon receipts issue-missing` (nhật ký ghi lý do không phát hành được).",
        f"The {provider_en(provider)} payment {txn} ({vnd(amount)}) for dossier {code}, "
        f"recorded at {_time_en(recorded_at)}, has had no e-receipt for over {grace_minutes} "
        f"minutes. Run `recon receipts issue-missing` (the log says why it was not issued).",
    )


_MISMATCH_VI = {
    "amount": "ghi tổng {stated}, khác số tiền đã nộp {paid}",
    "lines_total": "có các dòng phí, lệ phí không cộng đúng tổng {stated}",
    "lines": "ghi các dòng phí, lệ phí khác với các khoản hồ sơ được tính (tổng {paid})",
    "dossier": "ghi hồ sơ mà khoản thu này không nộp ({stated})",
    "collector": "mang tên một đơn vị không thu khoản nào của hồ sơ ({stated})",
}
_MISMATCH_EN = {
    "amount": "state a total of {stated}, not the {paid} paid",
    "lines_total": "have fee lines that do not add up to their total of {stated}",
    "lines": "state other fee lines (phí / lệ phí) than the dossier was assessed ({paid} in all)",
    "dossier": "name a dossier this payment did not pay ({stated})",
    "collector": "name an organisation that collects none of the dossier's fees ({stated})",
}


def receipt_mismatch(labels: list[str], code: str, provider: str, txn: str, paid: int,
                     stated: int, problem: str) -> Pair:
    """Receipts of a payment (for one dossier) that state another amount or other fee lines
    than what was paid; ``problem``: amount, lines_total, lines, dossier or collector."""
    values = {"stated": vnd(stated), "paid": vnd(paid)}
    names = ", ".join(labels)
    return (
        f"Biên lai {names} của khoản thu {provider_vi(provider)} {txn} cho hồ sơ {code} "
        f"{_MISMATCH_VI[problem].format(**values)}. Lập biên lai điều chỉnh hoặc thay thế.",
        f"Receipt(s) {names} of the {provider_en(provider)} payment {txn} for dossier {code} "
        f"{_MISMATCH_EN[problem].format(**values)}. Issue an adjusting or replacing receipt.",
    )


def receipt_orphan(labels: list[str], total: int, provider: str | None, txn: str | None,
                   status: str | None, *, dossier_code: str | None = None) -> Pair:
    """Receipts for a payment that failed, was refunded without an adjusting receipt, or
    does not exist (``provider`` None: then ``dossier_code`` is what the receipts name)."""
    names = ", ".join(labels)
    if provider is None:
        return (
            f"Biên lai {names} ({vnd(total)}) của hồ sơ {dossier_code} không gắn với khoản "
            f"thu nào. Kiểm tra sổ biên lai; lập biên lai điều chỉnh nếu không có khoản thu.",
            f"Receipt(s) {names} ({vnd(total)}) for dossier {dossier_code} belong to no "
            f"payment. Check the register; adjust them if nothing was collected.",
        )
    why_vi = ("đã hoàn tiền nhưng chưa có biên lai điều chỉnh" if status == "refunded"
              else status_vi(status or ""))
    why_en = ("was refunded, with no adjusting receipt" if status == "refunded"
              else status or "")
    return (
        f"Biên lai {names} ({vnd(total)}) được lập cho khoản thu {provider_vi(provider)} {txn} "
        f"{why_vi}. Lập biên lai điều chỉnh giảm.",
        f"Receipt(s) {names} ({vnd(total)}) were issued for the {provider_en(provider)} "
        f"payment {txn}, which {why_en if status == 'refunded' else 'is ' + why_en}. Issue an "
        f"adjusting receipt.",
    )


# --------------------------------------------------------------------------- onward transfers


def _moment_vi(moment: datetime) -> str:
    local = moment.astimezone(VN_TZ)
    return f"{local:%H:%M} ngày {local:%d/%m/%Y}"


def _moment_en(moment: datetime) -> str:
    return f"{moment.astimezone(VN_TZ):%Y-%m-%d %H:%M}"


def _to_vi(destination: str, name: str) -> str:
    return "ngân sách nhà nước (lệ phí)" if destination == "budget" else f"{name} (phí)"


def _to_en(destination: str, name: str) -> str:
    return "the state budget (charges)" if destination == "budget" else f"{name} (fees)"


def forward_overdue(receiver: str, items: list[tuple[str, str, int]], since: datetime,
                    hours: int, deadline: int) -> Pair:
    """A payment whose parts owed onward (``items``: destination, collector's name, amount
    still owed) are unpaid ``hours`` after collection, past the ``deadline`` in hours."""
    hv, ov = f"{hours:,}".replace(",", "."), f"{hours - deadline:,}".replace(",", ".")
    he, oe = f"{hours:,}", f"{hours - deadline:,}"
    owed_vi = "; ".join(f"{vnd(a)} cho {_to_vi(d, n)}" for d, n, a in items)
    owed_en = "; ".join(f"{vnd(a)} to {_to_en(d, n)}" for d, n, a in items)
    return (
        f"{receiver} thu hộ từ {_moment_vi(since)} nhưng chưa chuyển: {owed_vi}; đã {hv} "
        f"giờ, quá hạn {ov} giờ so với thời hạn {deadline} giờ (Thông tư "
        "74/2022/TT-BTC, Điều 3).",
        f"{receiver} collected this on behalf of others at {_moment_en(since)} and has not "
        f"passed it on: {owed_en}; {he} hours since, {oe} hours past the "
        f"{deadline}-hour deadline (Circular 74/2022/TT-BTC, Art. 3).",
    )


def forward_mismatch(reference: str, receiver: str, destination: str, name: str, amount: int,
                     applied: int, at: datetime) -> Pair:
    """A transfer paying more than was owed to its destination when it was made (``applied``
    what it paid of that), or matching nothing owed (``applied`` 0)."""
    if applied == 0:
        return (
            f"Lệnh chuyển {reference} của {receiver} lúc {_moment_vi(at)} ({vnd(amount)}) tới "
            f"{_to_vi(destination, name)} không khớp khoản nào phải chuyển.",
            f"Transfer {reference} by {receiver} at {_moment_en(at)} ({vnd(amount)}) to "
            f"{_to_en(destination, name)} matches no amount owed.",
        )
    return (
        f"Lệnh chuyển {reference} của {receiver} lúc {_moment_vi(at)} tới "
        f"{_to_vi(destination, name)} là {vnd(amount)}, nhiều hơn số phải chuyển "
        f"{vnd(applied)}: thừa {vnd(amount - applied)}.",
        f"Transfer {reference} by {receiver} at {_moment_en(at)} to "
        f"{_to_en(destination, name)} is {vnd(amount)}, more than the {vnd(applied)} owed: "
        f"{vnd(amount - applied)} too much.",
    )


# --------------------------------------------------------------------------- remittances


def _vouchers(vouchers: tuple[str, ...]) -> str:
    return ", ".join(vouchers)


def remittance_overdue(collector: str, budget_code: str, month: date, owed: int,
                       due: date) -> Pair:
    """A month's amount due to the state budget, not remitted by its deadline."""
    return (
        f"{collector} chưa nộp ngân sách khoản thu tháng {month:%m/%Y}, tiểu mục {budget_code}: "
        f"phải nộp {vnd(owed)}, đã nộp {vnd(0)}; hạn nộp là ngày {date_vi(due)}.",
        f"{collector} has not remitted to the state budget what it collected in "
        f"{month:%Y-%m} under sub-item {budget_code}: {vnd(owed)} due, {vnd(0)} remitted; it was "
        f"due by {date_en(due)}.",
    )


def remittance_short(collector: str, budget_code: str, month: date, owed: int, remitted: int,
                     due: date, vouchers: tuple[str, ...]) -> Pair:
    """Less remitted than due for a collector, month and sub-item."""
    return (
        f"{collector} nộp ngân sách thiếu cho tháng {month:%m/%Y}, tiểu mục {budget_code}: "
        f"phải nộp {vnd(owed)}, đã nộp {vnd(remitted)} (giấy nộp tiền {_vouchers(vouchers)}), "
        f"còn thiếu {vnd(owed - remitted)}; hạn nộp là ngày {date_vi(due)}.",
        f"{collector} remitted too little for {month:%Y-%m} under sub-item {budget_code}: "
        f"{vnd(owed)} due, {vnd(remitted)} remitted (voucher {_vouchers(vouchers)}), "
        f"{vnd(owed - remitted)} short; it was due by {date_en(due)}.",
    )


def remittance_excess(collector: str, budget_code: str, month: date, owed: int,
                      remitted: int, vouchers: tuple[str, ...]) -> Pair:
    """More remitted than due for a collector, month and sub-item."""
    return (
        f"{collector} nộp ngân sách thừa cho tháng {month:%m/%Y}, tiểu mục {budget_code}: "
        f"phải nộp {vnd(owed)}, đã nộp {vnd(remitted)} (giấy nộp tiền {_vouchers(vouchers)}), "
        f"thừa {vnd(remitted - owed)}.",
        f"{collector} remitted too much for {month:%Y-%m} under sub-item {budget_code}: "
        f"{vnd(owed)} due, {vnd(remitted)} remitted (voucher {_vouchers(vouchers)}), "
        f"{vnd(remitted - owed)} in excess.",
    )


# --------------------------------------------------------------------------- deposits

_PERIOD_VI = {"day": "hằng ngày", "week": "hằng tuần", "month": "hằng tháng"}
_PERIOD_EN = {"day": "daily", "week": "weekly", "month": "monthly"}


def deposit_overdue(collector: str, budget_code: str, period: str, due_days: int,
                    start: date, end: date, due: date, owed: int, deposited: int,
                    deposits: tuple[str, ...], today: date) -> Pair:
    """A collector's phí of one period (one tiểu mục) not sent in full to its fee account
    awaiting budget remittance by the fee's due date."""
    span_vi = (f"ngày {date_vi(start)}" if start == end
               else f"từ {date_vi(start)} đến {date_vi(end)}")
    span_en = date_en(start) if start == end else f"{date_en(start)} to {date_en(end)}"
    paid_vi = f" (lệnh {', '.join(deposits)})" if deposits else ""
    paid_en = f" (transfer {', '.join(deposits)})" if deposits else ""
    late = (today - due).days
    late_vi, late_en = f"{late:,}".replace(",", "."), f"{late:,}"
    return (
        f"{collector} chưa gửi đủ tiền phí tiểu mục {budget_code} thu {span_vi} vào tài khoản "
        f"phí chờ nộp ngân sách tại Kho bạc: phải gửi {vnd(owed)}, đã gửi {vnd(deposited)}"
        f"{paid_vi}, còn thiếu {vnd(owed - deposited)}. Phí này gửi {_PERIOD_VI[period]}, "
        f"chậm nhất {due_days} ngày sau khi hết kỳ (ngày {date_vi(due)}; đã quá {late_vi} ngày) "
        "theo quy định của phí (Nghị định 120/2016/NĐ-CP, Điều 3 khoản 2 điểm a, sửa đổi bởi "
        "Nghị định 82/2023/NĐ-CP).",
        f"{collector} has not sent in full the fees (sub-item {budget_code}) collected "
        f"{span_en} to its fee account awaiting budget remittance at the State Treasury: "
        f"{vnd(owed)} due, {vnd(deposited)} deposited{paid_en}, {vnd(owed - deposited)} "
        f"short. This fee is deposited {_PERIOD_EN[period]}, at the latest {due_days} days "
        f"after the period (by {date_en(due)}; {late_en} days late) under the fee's regulation "
        "(Decree 120/2016/NĐ-CP, Art. 3(2)(a), as amended by Decree 82/2023/NĐ-CP).",
    )


def _invoices_vi(numbers: Sequence[str]) -> str:
    return f"hóa đơn {', '.join(numbers)}" if len(numbers) == 1 else \
        f"các hóa đơn {', '.join(numbers)}"


def _invoices_en(numbers: Sequence[str]) -> str:
    return f"invoice{'s' if len(numbers) > 1 else ''} {', '.join(numbers)}"


def fee_invoice_mismatch(provider: str, month: date, numbers: Sequence[str], invoiced: int,
                         contract: str, expected: int, transactions: int, included: int,
                         monthly: int, overage: int, vat_included: bool, tolerance: int,
                         replaced: Sequence[str] = ()) -> Pair:
    """A subscription provider's month invoiced other than its contract's charge."""
    diff = invoiced - expected
    more_vi = "nhiều hơn" if diff > 0 else "ít hơn"
    more_en = "more" if diff > 0 else "less"
    count_vi = f"{transactions:,}".replace(",", ".")
    included_vi = f"{included:,}".replace(",", ".")
    over_vi = f", cộng {vnd(overage)} cho mỗi giao dịch vượt {included_vi} giao dịch" if (
        overage) else ""
    over_en = f", plus {vnd(overage)} per transaction above {included:,}" if overage else ""
    vat_vi = "" if vat_included else ", chưa gồm VAT (cộng VAT)"
    vat_en = "" if vat_included else ", VAT added"
    fix_vi = f" (thay thế hóa đơn {', '.join(replaced)})" if replaced else ""
    fix_en = f" (replacing invoice {', '.join(replaced)})" if replaced else ""
    return (
        f"{_cap(_invoices_vi(numbers))}{fix_vi} của {provider_vi(provider)} cho tháng "
        f"{month:%m/%Y} đòi {vnd(invoiced)}, {more_vi} {vnd(abs(diff))} so với phí thuê bao "
        f"theo hợp đồng {contract} là {vnd(expected)} (gói {vnd(monthly)}/tháng{over_vi}"
        f"{vat_vi}; {count_vi} giao dịch trong tháng; sai lệch cho phép {vnd(tolerance)}). "
        "Đối chiếu với nhà cung cấp; khi có hóa đơn thay thế, ghi hóa đơn đó với số hóa đơn "
        "bị thay thế.",
        f"{_cap(_invoices_en(numbers))}{fix_en} of {provider_en(provider)} for "
        f"{month:%Y-%m} ask{'s' if len(numbers) == 1 else ''} {vnd(invoiced)}, {vnd(abs(diff))} "
        f"{more_en} than the subscription fee of contract {contract}, {vnd(expected)} "
        f"(package {vnd(monthly)} a month{over_en}{vat_en}; {transactions:,} transactions "
        f"that month; tolerance {vnd(tolerance)}). Check with the provider; record its "
        "replacement invoice naming the invoice it replaces.",
    )


def fee_invoice_without_contract(provider: str, month: date, numbers: Sequence[str],
                                 invoiced: int) -> Pair:
    """An invoice for a month in which no contract of its provider is in force."""
    return (
        f"{_cap(_invoices_vi(numbers))} của {provider_vi(provider)} cho tháng {month:%m/%Y} "
        f"đòi {vnd(invoiced)}, nhưng không có hợp đồng phí nào của {provider_vi(provider)} "
        "có hiệu lực trong tháng đó. Kiểm tra hợp đồng (RECON_CONTRACTS_FILE) hoặc hóa đơn.",
        f"{_cap(_invoices_en(numbers))} of {provider_en(provider)} for {month:%Y-%m} "
        f"ask{'s' if len(numbers) == 1 else ''} {vnd(invoiced)}, but no fee contract of "
        f"{provider_en(provider)} is in force in that month. Check the contracts "
        "(RECON_CONTRACTS_FILE) or the invoice.",
    )
