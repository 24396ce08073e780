"""The finance pages' words: English keys, Vietnamese shown by default (recon.web.i18n falls
back for the shared ones). Labels of the fixed vocabularies (kinds, statuses, resolutions,
channels, providers) live here too, so every page and export names them the same way."""

from __future__ import annotations

from recon.engine.kinds import REGISTRY
from recon.web import i18n

KIND_LABELS: dict[str, tuple[str, str]] = REGISTRY.labels()  # kind -> (English, Vietnamese)
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "open": ("Open", "Đang mở"),
    "pending": ("Waiting for approval", "Chờ phê duyệt"),
    "resolved": ("Resolved", "Đã xử lý"),
    "auto_resolved": ("Closed by reconciliation", "Tự đóng khi đối soát"),
    "all": ("All", "Tất cả"),
}
RESOLUTION_LABELS: dict[str, tuple[str, str]] = {
    "refunded_to_citizen": ("Refunded to the citizen", "Đã hoàn tiền cho công dân"),
    "provider_corrected": ("Corrected by the provider", "Nhà cung cấp đã điều chỉnh"),
    "matched_manually": ("Matched by hand to a dossier", "Đối chiếu thủ công với hồ sơ"),
    "written_off": ("Written off", "Xử lý xóa sổ chênh lệch"),
}
CHANNEL_LABELS: dict[str, tuple[str, str]] = {
    "vietqr": ("VietQR (bank transfer)", "VietQR (chuyển khoản)"),
    "vnpay": ("VNPay", "VNPay"),
    "momo": ("MoMo", "MoMo"),
    "zalopay": ("ZaloPay", "ZaloPay"),
    "payos": ("payOS", "payOS"),
    "pos": ("Card (POS terminal)", "Thẻ (máy POS)"),
    "cash": ("Cash", "Tiền mặt"),
    "counter": ("At the counter", "Trực tiếp tại quầy"),
    "online": ("Online", "Trực tuyến"),
    "postal": ("By post", "Qua bưu chính"),
}
PROVIDER_LABELS: dict[str, str] = {
    "sepay": "SePay", "casso": "Casso", "vnpay": "VNPay", "momo": "MoMo", "zalopay": "ZaloPay",
    "payos": "payOS", "pos": "POS", "vietqr": "VietQR",
}
RUN_MODE_LABELS: dict[str, tuple[str, str]] = {
    "full": ("full", "toàn bộ"),
    "incremental": ("incremental", "gia tăng"),
}
PAYMENT_STATUS_LABELS: dict[str, tuple[str, str]] = {
    "succeeded": ("Succeeded", "Thành công"),
    "failed": ("Failed", "Thất bại"),
    "refunded": ("Refunded", "Đã hoàn tiền"),
    "issued": ("Waiting for payment", "Đang chờ thanh toán"),
    "paid": ("Paid", "Đã thanh toán"),
    "expired": ("Expired", "Đã hết hạn"),
    "cancelled": ("Cancelled", "Đã hủy"),
    "running": ("Running", "Đang chạy"),
}

VI: dict[str, str] = {
    # navigation
    "Finance": "Tài chính",
    "Dashboard": "Tổng quan",
    "Discrepancies": "Chênh lệch",
    "Approvals": "Phê duyệt",
    "Daily summary": "Tổng hợp ngày",
    "Quarterly report": "Báo cáo quý",
    "Outstanding dossiers": "Hồ sơ chưa nộp phí",
    "Audit log": "Nhật ký kiểm toán",
    # dashboard
    "Today": "Hôm nay",
    "This month": "Tháng này",
    "Collected": "Đã thu",
    "Settled": "Đã đối soát",
    "Outstanding": "Chưa thu",
    "payments": "giao dịch",
    "Number of payments": "Số giao dịch",
    "dossiers": "hồ sơ",
    "lines": "dòng",
    "Collected by channel": "Đã thu theo kênh",
    "Collected by provider": "Đã thu theo nhà cung cấp",
    "Settled by provider": "Đã đối soát theo nhà cung cấp",
    "Open discrepancies by kind": "Chênh lệch đang mở theo loại",
    "Open discrepancies by age (days)": "Chênh lệch đang mở theo tuổi (ngày)",
    "Open discrepancies": "Chênh lệch đang mở",
    "Waiting for approval": "Chờ phê duyệt",
    "All outstanding dossiers": "Tổng số hồ sơ chưa nộp phí",
    "Last reconciliation run": "Lần đối soát gần nhất",
    "No run yet.": "Chưa chạy đối soát lần nào.",
    "Nothing in this period.": "Không có số liệu trong kỳ.",
    "Show another day": "Xem ngày khác",
    "Show": "Xem",
    "Day": "Ngày",
    "Fee": "Phí",
    "Net": "Thực nhận",
    "Count": "Số lượng",
    "Amount": "Số tiền",
    "Total": "Tổng cộng",
    "days": "ngày",
    # queue
    "Kind": "Loại",
    "Status": "Trạng thái",
    "Agency": "Đơn vị",
    "Provider": "Nhà cung cấp",
    "Channel": "Kênh",
    "From": "Từ ngày",
    "To": "Đến ngày",
    "Amount from (VND)": "Số tiền từ (đồng)",
    "Amount to (VND)": "Số tiền đến (đồng)",
    "Search": "Tìm kiếm",
    "Dossier code, reference, or transaction id (provider's or bank's)":
        "Mã hồ sơ, mã tham chiếu hoặc mã giao dịch (của đơn vị thanh toán hoặc ngân hàng)",
    "Assigned to": "Người xử lý",
    "Anyone": "Bất kỳ ai",
    "Me": "Tôi",
    "Nobody": "Chưa giao",
    "Sort": "Sắp xếp",
    "Oldest first": "Cũ nhất trước",
    "Newest first": "Mới nhất trước",
    "Largest amount first": "Số tiền lớn nhất trước",
    "Smallest amount first": "Số tiền nhỏ nhất trước",
    "By kind": "Theo loại",
    "Filter": "Lọc",
    "Clear": "Xóa bộ lọc",
    "All": "Tất cả",
    "Any": "Tất cả",
    "Detected": "Phát hiện",
    "Dossier": "Hồ sơ",
    "Transaction": "Giao dịch",
    "Expected": "Phải thu",
    "Actual": "Thực tế",
    "Difference": "Chênh lệch",
    "Explanation": "Diễn giải",
    "Open": "Mở",
    "First page": "Trang đầu",
    "Previous": "Trang trước",
    "Next": "Trang sau",
    "Export CSV": "Xuất CSV",
    "Export Excel": "Xuất Excel",
    "{n} discrepancies match": "{n} chênh lệch phù hợp",
    "No discrepancy matches these filters.": "Không có chênh lệch nào phù hợp bộ lọc.",
    "within tolerance": "trong ngưỡng cho phép",
    "The filters are not valid: {message}": "Bộ lọc không hợp lệ: {message}",
    # detail
    "Discrepancy": "Chênh lệch",
    "What happened": "Diễn giải",
    "Why it was closed": "Lý do tự đóng",
    "Resolution": "Cách xử lý",
    "Resolved by": "Người xử lý",
    "Note": "Ghi chú",
    "Fee lines": "Các khoản phí, lệ phí",
    "Charge": "Lệ phí",
    "Item": "Khoản thu",
    "Total assessed": "Tổng phải nộp",
    "Paid (succeeded)": "Đã nộp (thành công)",
    "Applicant": "Người nộp",
    "Procedure": "Thủ tục",
    "Field": "Lĩnh vực",
    "Received": "Ngày tiếp nhận",
    "Received via": "Hình thức tiếp nhận",
    "No dossier: the money could not be matched to one.":
        "Không có hồ sơ: khoản tiền chưa khớp với hồ sơ nào.",
    "Payment requests": "Yêu cầu thanh toán",
    "Reference": "Mã tham chiếu",
    "Created": "Lúc tạo",
    "Expires": "Hết hạn",
    "Paid": "Đã thanh toán",
    "QR payload": "Nội dung mã QR",
    "Payments": "Các khoản thanh toán",
    "Provider transaction": "Mã giao dịch",
    "Paid at": "Thời điểm thanh toán",
    "Recorded at": "Ghi nhận lúc",
    "Memo": "Nội dung chuyển khoản",
    "Bank reference": "Số tham chiếu ngân hàng",
    "Receipt": "Biên lai",
    "Recorded by": "Người/hệ thống ghi nhận",
    "Raw callback": "Lời gọi gốc từ nhà cung cấp",
    "Headers": "Tiêu đề",
    "Body": "Nội dung",
    "Signature": "Chữ ký",
    "valid": "hợp lệ",
    "invalid": "không hợp lệ",
    "not checked": "chưa kiểm tra",
    "Outcome": "Kết quả",
    "No callback stored for this payment.": "Không có lời gọi nào được lưu cho khoản này.",
    "Settlement lines": "Các dòng đối soát",
    "Settled on": "Ngày đối soát",
    "Gross": "Số tiền gộp",
    "Source file": "Tệp nguồn",
    "Download": "Tải xuống",
    "No settlement line.": "Chưa có dòng đối soát nào.",
    "Reconciliation runs": "Các lần đối soát",
    "Run": "Lần chạy",
    "As of": "Tính đến",
    "Mode": "Chế độ",
    "Related discrepancies": "Chênh lệch liên quan",
    "Audit trail": "Nhật ký",
    "Time": "Thời gian",
    "Who": "Người thực hiện",
    "Action": "Hành động",
    "Data": "Dữ liệu",
    "Resolve": "Xử lý",
    "Resolution type": "Cách xử lý",
    "Dossier code (for a manual match)": "Mã hồ sơ (khi đối chiếu thủ công)",
    "What was done and why": "Đã làm gì và vì sao",
    "Write-offs and manual matches need a second person's approval.":
        "Xóa sổ và đối chiếu thủ công cần người thứ hai phê duyệt.",
    "Assign": "Giao việc",
    "Assign to me": "Giao cho tôi",
    "Unassign": "Bỏ giao",
    "Reopen": "Mở lại",
    "Why reopen": "Lý do mở lại",
    "Proposal waiting for approval": "Đề xuất đang chờ phê duyệt",
    "Proposed by": "Người đề xuất",
    "Proposed at": "Đề xuất lúc",
    "Review the proposal": "Xem xét đề xuất",
    "Approve": "Phê duyệt",
    "Reject": "Từ chối",
    "Withdraw my proposal": "Rút lại đề xuất",
    "Comment (optional)": "Ý kiến (không bắt buộc)",
    "You proposed this, so another finance officer must approve it.":
        "Bạn là người đề xuất nên cần một cán bộ tài chính khác phê duyệt.",
    "Target dossier": "Hồ sơ được đối chiếu",
    "assessed": "phải nộp",
    "paid": "đã nộp",
    "Back to the discrepancy": "Quay lại chênh lệch",
    "Back to the queue": "Quay lại danh sách",
    "No proposal is waiting.": "Không có đề xuất nào đang chờ.",
    "Nothing is waiting for approval.": "Không có đề xuất nào đang chờ phê duyệt.",
    # flashes and errors
    "Resolved.": "Đã xử lý xong.",
    "Proposal recorded; another finance officer must approve it.":
        "Đã ghi nhận đề xuất; cần một cán bộ tài chính khác phê duyệt.",
    "Approved and resolved.": "Đã phê duyệt và xử lý xong.",
    "Proposal rejected; the discrepancy stays open.":
        "Đã từ chối đề xuất; chênh lệch vẫn đang mở.",
    "Assigned.": "Đã giao việc.",
    "Reopened.": "Đã mở lại.",
    "This discrepancy is not open any more. Reload the page; reopen it if it needs more work.":
        "Chênh lệch này không còn mở. Hãy tải lại trang; mở lại nếu cần xử lý thêm.",
    "A proposal is waiting for approval. Approve or reject it first.":
        "Đang có đề xuất chờ phê duyệt. Hãy phê duyệt hoặc từ chối trước.",
    "There is no proposal to act on any more. Reload the page.":
        "Không còn đề xuất nào để xử lý. Hãy tải lại trang.",
    "You proposed this resolution, so you cannot approve it. Ask another finance officer.":
        "Bạn là người đề xuất nên không thể tự phê duyệt. Hãy nhờ một cán bộ tài chính khác.",
    "This discrepancy is already open.": "Chênh lệch này đang mở.",
    "Write a note: what was done and why.": "Hãy ghi chú: đã làm gì và vì sao.",
    "The note is too long (at most 2,000 characters).":
        "Ghi chú quá dài (tối đa 2.000 ký tự).",
    "Name the dossier the money belongs to.": "Hãy nhập mã hồ sơ mà khoản tiền thuộc về.",
    "No dossier has that code. Check it and try again.":
        "Không có hồ sơ nào có mã này. Kiểm tra lại rồi thử lại.",
    "Choose how it was resolved.": "Hãy chọn cách xử lý.",
    "Choose an active finance officer.": "Hãy chọn một cán bộ tài chính đang hoạt động.",
    "That could not be done. Reload the page and try again.":
        "Không thực hiện được. Hãy tải lại trang rồi thử lại.",
    "Not found.": "Không tìm thấy.",
    # reports
    "Print": "In",
    "Year": "Năm",
    "Quarter": "Quý",
    "Dossiers received": "Số hồ sơ tiếp nhận",
    "received online": "tiếp nhận trực tuyến",
    "Dossiers paid": "Số hồ sơ đã nộp phí, lệ phí",
    "Paid cashless": "Thanh toán không dùng tiền mặt",
    "Cashless amount": "Số tiền không dùng tiền mặt",
    "Share of paid dossiers": "Tỷ lệ trên số hồ sơ đã nộp",
    "Paid in cash": "Nộp tiền mặt",
    "Cash amount": "Số tiền mặt",
    "By payment channel": "Theo kênh thanh toán",
    "By received channel": "Theo hình thức tiếp nhận",
    "By procedure field": "Theo lĩnh vực",
    "Dossiers": "Hồ sơ",
    "Online": "Trực tuyến",
    "Share": "Tỷ lệ",
    "How the figures are counted": "Cách tính số liệu",
    "Dossiers received: received in the quarter (Vietnam time). Dossiers paid: distinct "
    "dossiers with a succeeded payment matched to them in the quarter. Cashless: paid by "
    "any channel but cash; the amount is those payments' total. Share: cashless over paid "
    "dossiers.":
        "Hồ sơ tiếp nhận: tiếp nhận trong quý (giờ Việt Nam). Hồ sơ đã nộp: số hồ sơ (không "
        "trùng) có khoản thanh toán thành công khớp hồ sơ trong quý. Không dùng tiền mặt: nộp "
        "qua mọi kênh trừ tiền mặt; số tiền là tổng các khoản đó. Tỷ lệ: số hồ sơ không dùng "
        "tiền mặt trên số hồ sơ đã nộp.",
    "Payments by agency, provider, channel and status":
        "Giao dịch theo đơn vị, nhà cung cấp, kênh và trạng thái",
    "Settled (lines)": "Đã đối soát (dòng)",
    "Not settled": "Chưa đối soát",
    "Lines settled this day": "Dòng đối soát trong ngày",
    "Discrepancies detected this day": "Chênh lệch phát hiện trong ngày",
    "Reconciliation runs this day": "Số lần đối soát trong ngày",
    "No agency (unmatched)": "Chưa xác định đơn vị (không khớp)",
    "Age (days)": "Số ngày",
    "Minimum age (days)": "Tối thiểu (ngày)",
    "Outstanding by age (days)": "Chưa nộp theo số ngày",
    "No outstanding dossier.": "Không có hồ sơ nào chưa nộp phí.",
    # audit
    "Verify the chain": "Kiểm tra chuỗi",
    "The chain is intact: {n} events checked.":
        "Chuỗi nhật ký toàn vẹn: đã kiểm tra {n} sự kiện.",
    "The chain is broken at event {id}: {reason}":
        "Chuỗi nhật ký bị phá vỡ tại sự kiện {id}: {reason}",
    "Entity": "Đối tượng",
    "Entity id": "Mã đối tượng",
    "Actor": "Người thực hiện",
    "Older": "Cũ hơn",
    "Newest": "Mới nhất",
    "No event matches.": "Không có sự kiện nào phù hợp.",
    "Hash": "Mã băm",
    "not sealed yet": "chưa niêm phong",
    "{n} recent events are not sealed into the chain yet; they are checked once sealed.":
        "{n} sự kiện mới chưa được niêm phong vào chuỗi; sẽ được kiểm tra khi niêm phong.",
}


def tr(key: str) -> str:
    """The finance words in the current language (Vietnamese unless switched)."""
    if i18n.current_language() == "vi" and key in VI:
        return VI[key]
    return i18n.translate(key)


def _pick(pair: tuple[str, str] | None, fallback: str) -> str:
    if pair is None:
        return fallback
    return pair[1] if i18n.current_language() == "vi" else pair[0]


def kind_label(kind: str) -> str:
    return _pick(KIND_LABELS.get(kind), kind)


def status_label(status: str) -> str:
    return _pick(STATUS_LABELS.get(status), status)


def resolution_label(value: str | None) -> str:
    return _pick(RESOLUTION_LABELS.get(value or ""), value or "")


def channel_label(value: str | None) -> str:
    return _pick(CHANNEL_LABELS.get(value or ""), value or "")


def provider_label(value: str | None) -> str:
    if value == "cash":
        return channel_label("cash")
    return PROVIDER_LABELS.get(value or "", value or "")


def run_mode_label(value: str | None) -> str:
    return _pick(RUN_MODE_LABELS.get(value or ""), value or "")


def num(value: int) -> str:
    """A count the Vietnamese way: ``28300`` -> ``"28.300"``."""
    return f"{value:,}".replace(",", ".")


def payment_status_label(value: str | None) -> str:
    return _pick(PAYMENT_STATUS_LABELS.get(value or ""), value or "")
