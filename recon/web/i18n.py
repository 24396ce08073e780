"""The one catalogue of the web app's words: Vietnamese by default, English as a switch.

Every page (the frame, the login, the cashier's desk, the finance workbench) and every message a
view shows takes its words from here, so a word means the same everywhere:

* :data:`VI`: phrases. The key is the English text (what the English switch shows); the value
  its Vietnamese. ``translate`` (``t`` in templates, ``tr`` in the views) looks them up.
* the vocabularies: labels of the fixed codes the data carries (discrepancy kinds, statuses,
  resolutions, channels, providers, audit actions and entities, callback outcomes, actors),
  each ``code -> (English, Vietnamese)``. Pages never show a bare code: they call the label
  functions below (``kind_label``, ``action_label``, ``actor_label``...).

``tests/finance/test_texts.py`` fails when a template or a view shows a key with no Vietnamese
text here, or when the code can write an audit action, entity, callback outcome or actor kind
that has no label.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import has_request_context, request, session

from recon.engine.kinds import REGISTRY

LANGUAGES = ("vi", "en")

# --------------------------------------------------------------------------- vocabularies

#: kind -> (English, Vietnamese), from the one registry of discrepancy kinds
KIND_LABELS: dict[str, tuple[str, str]] = REGISTRY.labels()
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
    "auto": ("Closed by reconciliation", "Tự đóng khi đối soát"),
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
PROVIDER_LABELS: dict[str, str] = {  # names, the same in both languages
    "sepay": "SePay", "casso": "Casso", "vnpay": "VNPay", "momo": "MoMo", "zalopay": "ZaloPay",
    "payos": "payOS", "pos": "POS", "vietqr": "VietQR",
}
RUN_MODE_LABELS: dict[str, tuple[str, str]] = {
    "full": ("full", "toàn bộ"),
    "incremental": ("incremental", "gia tăng"),
}
PAYMENT_STATUS_LABELS: dict[str, tuple[str, str]] = {  # payments, intents and runs
    "succeeded": ("Succeeded", "Thành công"),
    "failed": ("Failed", "Thất bại"),
    "refunded": ("Refunded", "Đã hoàn tiền"),
    "issued": ("Waiting for payment", "Đang chờ thanh toán"),
    "paid": ("Paid", "Đã thanh toán"),
    "expired": ("Expired", "Đã hết hạn"),
    "cancelled": ("Cancelled", "Đã hủy"),
    "running": ("Running", "Đang chạy"),
}
#: a payment's processing result in the Art. 36 daily report (recon.review.reports.RESULTS)
RESULT_LABELS: dict[str, tuple[str, str]] = {
    "settled": ("Matched and settled", "Đã khớp và quyết toán"),
    "awaiting_settlement": ("Awaiting settlement", "Chờ quyết toán"),
    "discrepancy": ("Discrepancy open", "Có chênh lệch đang mở"),
    "cash": ("Cash at the counter", "Tiền mặt tại quầy"),
    "no_settlement": ("Nothing to settle", "Không phải quyết toán"),
}
#: a transaction's type in the Art. 36 daily report (recon.review.reports.TXN_TYPES)
TXN_TYPE_LABELS: dict[str, tuple[str, str]] = {
    "payment": ("Payment", "Thanh toán"),
    "refund": ("Refund", "Hoàn tiền"),
}
#: a payout batch's state on the payouts page (recon.engine.payouts.STATES)
PAYOUT_STATE_LABELS: dict[str, tuple[str, str]] = {
    "paid": ("Credited", "Đã ghi có"),
    "differs": ("Credited, amount differs", "Đã ghi có, lệch số tiền"),
    "waiting": ("Not due yet", "Chưa đến hạn"),
    "missing": ("Not credited", "Chưa nhận được"),
}
#: audit_events.action -> label: every action the code writes (tests/finance/test_texts.py)
ACTION_LABELS: dict[str, tuple[str, str]] = {
    "user.logged_in": ("Logged in", "Đăng nhập"),
    "user.created": ("User created", "Tạo người dùng"),
    "user.logged_out": ("Logged out (every session ended)", "Đăng xuất (kết thúc mọi phiên)"),
    "user.password_changed": ("Password changed (every session ended)",
                              "Đổi mật khẩu (kết thúc mọi phiên)"),
    "user.disabled": ("User disabled (every session ended)",
                      "Khóa người dùng (kết thúc mọi phiên)"),
    "user.enabled": ("User enabled", "Mở khóa người dùng"),
    "token.created": ("API token created", "Tạo mã truy cập API"),
    "token.revoked": ("API token revoked", "Thu hồi mã truy cập API"),
    "user.scope_set": ("User's agencies set", "Đặt đơn vị được xem cho người dùng"),
    "token.scope_set": ("API token's agencies set", "Đặt đơn vị được xem cho mã truy cập API"),
    "agency.created": ("Agency created", "Tạo đơn vị"),
    "agency.tax_code": ("Agency tax code set", "Đặt mã số thuế của đơn vị"),
    "dossier.created": ("Dossier created", "Tạo hồ sơ"),
    "dossier.updated": ("Dossier updated", "Cập nhật hồ sơ"),
    "dossier.fees_reassessed": ("Fees reassessed", "Tính lại phí, lệ phí"),
    "dossiers.imported": ("Dossiers imported", "Nhập danh sách hồ sơ"),
    "intent.created": ("Payment request created", "Tạo yêu cầu thanh toán"),
    "intent.expired": ("Payment request expired", "Yêu cầu thanh toán hết hạn"),
    "intent.cancelled": ("Payment request cancelled", "Hủy yêu cầu thanh toán"),
    "payment.recorded": ("Payment recorded", "Ghi nhận khoản thanh toán"),
    "payment.allocated": ("Payment split across dossiers", "Chia khoản thanh toán cho các hồ sơ"),
    "payment.split_refused": ("Payment not split (references or amount in doubt)",
                              "Không chia khoản thanh toán (mã hoặc số tiền chưa rõ)"),
    "payment.status_changed": ("Payment status changed", "Thay đổi trạng thái giao dịch"),
    "payment.stale_status_ignored": ("Outdated status ignored", "Bỏ qua trạng thái đã cũ"),
    "payment.confirmed_by_query": ("Payment confirmed by asking the provider",
                                   "Xác nhận thanh toán qua truy vấn nhà cung cấp"),
    "payment.matched_manually": ("Payment matched by hand", "Đối chiếu thủ công khoản thu"),
    "settlements.imported": ("Settlement file imported", "Nhập tệp đối soát"),
    "portal.imported": ("Portal transaction list imported",
                        "Nhập danh sách giao dịch Cổng Dịch vụ công"),
    "remittances.imported": ("Treasury statement of budget vouchers imported",
                             "Nhập bảng kê giấy nộp tiền vào NSNN"),
    "remittances.recorded": ("Budget payment voucher recorded", "Ghi nhận giấy nộp tiền vào NSNN"),
    "fee_invoices.imported": ("File of fee invoices imported", "Nhập tệp hóa đơn phí"),
    "fee_invoices.recorded": ("Fee invoice recorded", "Ghi nhận hóa đơn phí"),
    "reconcile.run": ("Reconciliation run", "Chạy đối soát"),
    "discrepancy.resolved": ("Discrepancy resolved", "Xử lý chênh lệch"),
    "discrepancy.resolution_proposed": ("Resolution proposed", "Đề xuất cách xử lý"),
    "discrepancy.resolution_approved": ("Resolution approved", "Phê duyệt cách xử lý"),
    "discrepancy.resolution_rejected": ("Proposal rejected", "Từ chối đề xuất xử lý"),
    "discrepancy.assigned": ("Discrepancy assigned", "Giao xử lý chênh lệch"),
    "discrepancy.reopened": ("Discrepancy reopened", "Mở lại chênh lệch"),
    "demo.payments_seeded": ("Demo payments created", "Tạo dữ liệu thanh toán mẫu"),
    "demo.receipts_issued": ("Demo e-receipts issued", "Phát hành biên lai điện tử mẫu"),
    "demo.transfers_seeded": ("Demo onward transfers created",
                              "Tạo dữ liệu chuyển tiền thu hộ mẫu"),
    "transfers.recorded": ("Onward transfer recorded", "Ghi nhận lệnh chuyển tiền thu hộ"),
    "transfers.imported": ("Statement of debits imported", "Nhập sao kê tiền chuyển đi"),
    "agencies.transfer_account": ("Collector's account set",
                                  "Đặt tài khoản nhận tiền thu hộ"),
    "agencies.fee_pending_account": ("Collector's fee account awaiting budget remittance set",
                                     "Đặt tài khoản phí chờ nộp ngân sách"),
    "demo.deposits_seeded": ("Demo fee deposits created", "Tạo dữ liệu gửi tiền phí mẫu"),
    "period.close_proposed": ("Month close proposed", "Đề xuất khóa sổ tháng"),
    "period.closed": ("Month closed", "Khóa sổ tháng"),
    "period.close_rejected": ("Month close withdrawn", "Rút đề xuất khóa sổ"),
    "period.reopened": ("Month reopened", "Mở lại sổ tháng"),
    "receipt.correction_proposed": ("Receipt correction proposed",
                                    "Đề xuất xử lý biên lai sai sót"),
    "receipt.correction_approved": ("Receipt correction approved (new receipt issued)",
                                    "Phê duyệt xử lý biên lai sai sót (đã lập biên lai mới)"),
    "receipt.correction_rejected": ("Receipt correction rejected",
                                    "Từ chối đề xuất xử lý biên lai sai sót"),
    "receipt_summary.prepared": ("Receipt summary table prepared",
                                 "Lập bảng tổng hợp dữ liệu biên lai"),
    "receipt_summary.sent": ("Receipt summary table marked as sent",
                             "Đánh dấu đã gửi bảng tổng hợp dữ liệu biên lai"),
}
#: audit_events.entity_type -> label
ENTITY_LABELS: dict[str, tuple[str, str]] = {
    "discrepancy": ("Discrepancy", "Chênh lệch"),
    "payment": ("Payment", "Khoản thanh toán"),
    "payment_intent": ("Payment request", "Yêu cầu thanh toán"),
    "dossier": ("Dossier", "Hồ sơ"),
    "dossier_import": ("Dossier import", "Lần nhập hồ sơ"),
    "settlement_file": ("Settlement file", "Tệp đối soát"),
    "portal_file": ("Portal transaction list", "Danh sách giao dịch của Cổng DVCQG"),
    "transfer": ("Onward transfer", "Lệnh chuyển tiền thu hộ"),
    "transfer_file": ("Statement of debits", "Sao kê tiền chuyển đi"),
    "remittance": ("Budget payment voucher (C1-02/NS)", "Giấy nộp tiền vào NSNN (C1-02/NS)"),
    "remittance_file": ("Treasury statement", "Bảng kê của Kho bạc"),
    "fee_invoice": ("Fee invoice", "Hóa đơn phí"),
    "fee_invoice_file": ("File of fee invoices", "Tệp hóa đơn phí"),
    "recon_run": ("Reconciliation run", "Lần đối soát"),
    "user": ("User", "Người dùng"),
    "api_token": ("API token", "Mã truy cập API"),
    "agency": ("Agency", "Đơn vị"),
    "demo": ("Demo data", "Dữ liệu mẫu"),
    "period": ("Month (books)", "Kỳ khóa sổ"),
    "receipt": ("E-receipt", "Biên lai điện tử"),
    "receipt_summary": ("Receipt summary table", "Bảng tổng hợp dữ liệu biên lai"),
}
#: callbacks.outcome -> label: the protocol outcomes (adapters.base.Outcome) and the archive's own
OUTCOME_LABELS: dict[str, tuple[str, str]] = {
    "accepted": ("Accepted", "Đã ghi nhận"),
    "duplicate": ("Already recorded", "Đã ghi nhận trước đó"),
    "unknown_order": ("No matching payment request", "Không khớp yêu cầu thanh toán nào"),
    "amount_mismatch": ("Amount differs from the request", "Số tiền khác yêu cầu thanh toán"),
    "bad_signature": ("Signature rejected", "Chữ ký không hợp lệ"),
    "malformed": ("Unreadable call", "Dữ liệu không đọc được"),
    "retry_later": ("Provider asked to retry", "Đề nghị nhà cung cấp gửi lại"),
    "not_configured": ("Provider not configured", "Chưa cấu hình nhà cung cấp"),
    "replayed": ("Replayed call refused", "Từ chối lời gọi lặp lại"),
    "ignored": ("Nothing to record", "Không có gì cần ghi nhận"),
    "received": ("Received, not handled yet", "Đã nhận, chưa xử lý"),
    "too_large": ("Too large", "Quá lớn"),
    "error": ("Failed on our side", "Lỗi phía hệ thống"),
    "pending": ("Waiting to be handled", "Đang chờ xử lý"),
    "spooled": ("Kept during an outage, loaded later", "Lưu tạm khi gián đoạn, nạp sau"),
}
#: whole actors (audit_events.actor, recorded_by, resolved_by...) that carry no name
ACTOR_LABELS: dict[str, tuple[str, str]] = {
    "system": ("System", "Hệ thống"),
    "system:reconcile": ("Reconciliation (automatic)", "Đối soát tự động"),
    "cli": ("Command line", "Dòng lệnh"),
    "demo": ("Demo data", "Dữ liệu mẫu"),
}
#: ``kind:name`` actors: the kind's label, with the name (a provider's shown by its label)
ACTOR_KIND_LABELS: dict[str, tuple[str, str]] = {
    "user": ("User {name}", "Người dùng {name}"),
    "token": ("API token {name}", "Mã truy cập API {name}"),
    "webhook": ("Callback from {name}", "Thông báo từ {name}"),
    "fetch": ("Query to {name}", "Truy vấn {name}"),
    "cli": ("Command line ({name})", "Dòng lệnh ({name})"),
    "scheduler": ("Scheduler ({name})", "Lịch tự động ({name})"),
    "system": ("System ({name})", "Hệ thống ({name})"),
    "demo": ("Demo data ({name})", "Dữ liệu mẫu ({name})"),
}
_PROVIDER_ACTORS = frozenset({"webhook", "fetch"})

# --------------------------------------------------------------------------- phrases

_PHRASES: dict[str, str] = {
    # --- shared: the frame, logins, errors
    "app_name": "Đối soát thanh toán",
    "Log in": "Đăng nhập",
    "Log out": "Đăng xuất",
    "Username": "Tên đăng nhập",
    "Password": "Mật khẩu",
    "Wrong username or password.": "Sai tên đăng nhập hoặc mật khẩu.",
    "Too many failed logins. Try again in {minutes} minutes (at {time}).":
        "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút (lúc {time}).",
    "Too many failed logins from this network address. Try again in {minutes} minutes "
    "(at {time}).":
        "Có quá nhiều lần đăng nhập sai từ địa chỉ mạng này. Vui lòng thử lại sau {minutes} "
        "phút (lúc {time}).",
    "Too many failed logins for this account from several places. Try again in {minutes} "
    "minutes (at {time}); if it was not you, tell an administrator.":
        "Tài khoản này bị đăng nhập sai quá nhiều lần từ nhiều nơi. Vui lòng thử lại sau "
        "{minutes} phút (lúc {time}); nếu không phải bạn, hãy báo quản trị viên.",
    "Please log in to continue.": "Vui lòng đăng nhập để tiếp tục.",
    "You do not have access to this page.": "Bạn không có quyền truy cập trang này.",
    "Cashier desk": "Quầy thu",
    "Finance": "Tài chính",
    "Welcome": "Xin chào",
    "Role": "Vai trò",
    "cashier": "thu ngân",
    "finance": "kế toán",
    "admin": "quản trị",
    "Page not found.": "Không tìm thấy trang.",
    "Something went wrong. Try again; if it keeps happening, tell the administrator.":
        "Đã có lỗi xảy ra. Hãy thử lại; nếu lỗi lặp lại, báo cho quản trị viên.",
    "Your form expired. Reload the page and try again.":
        "Biểu mẫu đã hết hạn. Hãy tải lại trang và thử lại.",
    "Dossiers": "Hồ sơ",
    "Home": "Trang chủ",
    "English": "English",
    "Tiếng Việt": "Tiếng Việt",
    # --- the finance workbench
    "Dashboard": "Tổng quan",
    "Discrepancies": "Chênh lệch",
    "Approvals": "Phê duyệt",
    "Daily summary": "Tổng hợp ngày",
    "Daily reconciliation (Art. 36, Decision 31/2021/QĐ-TTg)":
        "Đối chiếu hằng ngày (Điều 36, Quyết định 31/2021/QĐ-TTg)",
    "By agency, provider, transaction type, status and processing result":
        "Theo cơ quan, đơn vị cung cấp dịch vụ thanh toán, loại giao dịch, trạng thái và kết "
        "quả xử lý",
    "Transactions of the day": "Giao dịch trong ngày",
    "Transaction type": "Loại giao dịch",
    "Processing result": "Kết quả xử lý",
    "Discrepancy kinds": "Loại chênh lệch",
    "Reconciled at": "Thời điểm đối soát",
    "Provider transaction id": "Mã giao dịch của đơn vị cung cấp",
    "Latest reconciliation run": "Lần đối soát gần nhất",
    "data up to": "dữ liệu đến",
    "finished": "kết thúc",
    "It covers the whole day.": "Lần này đã bao trùm cả ngày.",
    "It does not cover the whole day yet: run a reconciliation.":
        "Lần này chưa bao trùm cả ngày: hãy chạy đối soát.",
    "No reconciliation run has succeeded yet: run `recon reconcile`.":
        "Chưa có lần đối soát nào thành công: hãy chạy `recon reconcile`.",
    "Not reconciled yet": "Chưa đối soát",
    "Showing {shown} of {total} transactions; download the file for all of them.":
        "Đang hiện {shown} trên {total} giao dịch; tải tệp để xem tất cả.",
    "Next transactions": "Các giao dịch tiếp theo",
    # --- the portal's side of the Art. 36 report (recon.review.portal_report)
    "Portal": "Cổng DVCQG",
    "National Public Service Portal": "Cổng Dịch vụ công quốc gia",
    "Portal list": "Danh sách của Cổng",
    "Portal count": "Giao dịch (Cổng)",
    "Portal amount": "Số tiền (Cổng)",
    "Recon count": "Giao dịch (hệ thống)",
    "Recon amount": "Số tiền (hệ thống)",
    "Open portal differences": "Chênh lệch đang mở",
    "Agreement": "Kết quả",
    "No portal list was imported for this day: import it with `recon portal import`.":
        "Chưa nhập danh sách giao dịch của Cổng cho ngày này: nhập bằng `recon portal import`.",
    "The portal's list of the day, paid transactions (succeeded or refunded), against recon's "
    "payments other than cash.":
        "Danh sách giao dịch trong ngày của Cổng, các giao dịch đã trả tiền (thành công hoặc đã "
        "hoàn tiền), so với các khoản thanh toán của hệ thống (trừ tiền mặt).",
    "Export JSON": "Xuất dữ liệu cho máy đọc",
    "Summary": "Tổng hợp",
    "Detail": "Chi tiết",
    "CSV (summary)": "CSV (tổng hợp)",
    "CSV (detail)": "CSV (chi tiết)",
    "Fees": "Phí dịch vụ",
    "Settlement deadline": "Hạn quyết toán",
    "File states": "Tệp ghi",
    "Refund line": "Dòng hoàn tiền",
    "refunding": "hoàn cho giao dịch",
    "banking days": "ngày làm việc",
    "Overdue (banking days)": "Quá hạn (ngày làm việc)",
    "Fees charged against the contracts": "Phí đã thu so với hợp đồng",
    "Fees the providers deducted from their settlement lines, per provider and the month the "
    "lines were settled, against the fee contracts: each line by the contract in force on its "
    "transaction's date. A subscription provider deducts nothing from its lines: its month is "
    "set against its invoices below. Contracts: {origin}.":
        "Phí nhà cung cấp đã trừ trên các dòng quyết toán, theo nhà cung cấp và tháng quyết "
        "toán, so với hợp đồng phí: mỗi dòng theo hợp đồng có hiệu lực vào ngày giao dịch. Nhà "
        "cung cấp thu phí thuê bao không trừ phí trên từng dòng: tháng của họ được đối chiếu "
        "với hóa đơn ở bảng dưới. Hợp đồng: {origin}.",
    "Fee charged": "Phí đã thu",
    "Fee per contract": "Phí theo hợp đồng",
    "Lines off contract": "Dòng sai phí",
    "Lines without contract": "Dòng chưa có hợp đồng",
    "Contract": "Hợp đồng",
    "No settlement line in this year.": "Không có dòng quyết toán nào trong năm này.",
    "Refund fees against the contracts": "Phí hoàn tiền so với hợp đồng",
    "Refund lines (money the provider gave back to the payer), per provider and the month they "
    "were settled, apart from the sales above: the refund fee each was charged against the "
    "contract's refund fee (its processing fee, plus the percentage of the amount refunded "
    "unless the contract returns it), by the contract of the sale's payment method in force on "
    "the refund's date.":
        "Các dòng hoàn tiền (tiền nhà cung cấp đã hoàn lại cho người nộp), theo nhà cung cấp và "
        "tháng quyết toán, tách riêng khỏi các giao dịch thanh toán ở bảng trên: phí hoàn tiền "
        "đã thu trên mỗi dòng so với phí hoàn tiền theo hợp đồng (phí xử lý, cộng tỷ lệ phần "
        "trăm trên số tiền hoàn nếu hợp đồng không hoàn lại phần này), theo hợp đồng của phương "
        "thức thanh toán của giao dịch gốc có hiệu lực vào ngày hoàn tiền.",
    "Refund lines": "Số dòng hoàn tiền",
    "Refunded": "Số tiền hoàn",
    "Refund fee charged": "Phí hoàn tiền đã thu",
    "Refund fee per contract": "Phí hoàn tiền theo hợp đồng",
    "No refund line in this year.": "Không có dòng hoàn tiền nào trong năm này.",
    "Subscriptions and fee invoices": "Phí thuê bao và hóa đơn phí",
    "Per provider and month: what the subscription contract expects (the package, plus the "
    "overage for each transaction above what it includes) against the fee invoices in force "
    "for that month (an invoice a replacement corrects no longer counts). A difference beyond "
    "the contract's tolerance, or an invoice no contract covers, is a finding of the "
    "reconciliation run.":
        "Theo từng nhà cung cấp và tháng: số tiền theo hợp đồng thuê bao (giá gói, cộng phí "
        "cho mỗi giao dịch vượt số giao dịch của gói) so với các hóa đơn phí còn hiệu lực của "
        "tháng đó (hóa đơn đã bị thay thế không còn được tính). Chênh lệch vượt mức cho phép "
        "của hợp đồng, hoặc hóa đơn không có hợp đồng, là một chênh lệch do lần đối soát ghi "
        "nhận.",
    "Included": "Gói gồm",
    "Expected by contract": "Theo hợp đồng",
    "Invoiced": "Theo hóa đơn",
    "Invoices": "Hóa đơn",
    "deducted from a payout": "trừ vào tiền chuyển về",
    "billed": "thanh toán riêng",
    "No subscription and no fee invoice in this year.":
        "Không có thuê bao hay hóa đơn phí nào trong năm này.",
    "Finding of the run": "Kết quả đối soát",
    "Fee invoices": "Hóa đơn phí",
    "Invoice": "Hóa đơn",
    "Issued on": "Ngày lập",
    "How it is paid": "Cách thanh toán",
    "Replaces": "Thay thế hóa đơn",
    "replaced by {number}": "đã thay bằng {number}",
    "No contract in force": "Không có hợp đồng hiệu lực",
    "Only a user who sees every agency sees the providers' invoices (they are the "
    "centre's).":
        "Chỉ người dùng xem được mọi đơn vị mới xem được hóa đơn của nhà cung cấp (hóa đơn "
        "là của cả trung tâm).",
    "Quarterly report": "Báo cáo quý",
    "Outstanding dossiers": "Hồ sơ chưa nộp phí",
    "Audit log": "Nhật ký kiểm toán",
    "Today": "Hôm nay",
    "This month": "Tháng này",
    "Collected": "Đã thu",
    "Settled": "Đã đối soát",
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
    "Kind": "Loại",
    "Status": "Trạng thái",
    "Agency": "Đơn vị",
    "Provider": "Nhà cung cấp",
    "Channel": "Kênh thanh toán",
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
    "Payment requests": "Các yêu cầu thanh toán",
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
    "Allocated to": "Đã chia cho các hồ sơ",
    "E-receipt": "Biên lai điện tử",
    # e-receipts: corrections and the summary tables (issue 19)
    "E-receipts": "Biên lai điện tử",
    "Adjusted": "Đã điều chỉnh",
    "Adjustment": "Điều chỉnh",
    "Adjustment receipt": "Biên lai điều chỉnh",
    "An adjustment carries only the differences: replace the receipt to change the payer's "
    "name.": "Biên lai điều chỉnh chỉ ghi phần chênh lệch: muốn sửa tên người nộp, hãy thay "
             "thế biên lai.",
    "An issued receipt is never erased: a replacement receipt replaces it, or an adjustment "
    "receipt carries the difference (negative for a decrease; a refund adjusts). Another "
    "finance officer approves it; then the new receipt is numbered and signed, and this one "
    "stays, marked.":
        "Biên lai đã lập không bao giờ bị xóa: lập biên lai thay thế, hoặc biên lai điều chỉnh "
        "ghi phần chênh lệch (số âm khi giảm; hoàn tiền là điều chỉnh). Một cán bộ tài chính "
        "khác phê duyệt; khi đó biên lai mới được cấp số và ký số, biên lai này được giữ lại "
        "và đánh dấu.",
    "Approve and issue": "Phê duyệt và lập biên lai",
    "Approved": "Đã phê duyệt",
    "Approved: receipt {number} was issued and signed.":
        "Đã phê duyệt: biên lai {number} đã được lập và ký số.",
    "Certificates in use (for the organisation's registration)":
        "Chứng thư số đang dùng (để đăng ký với cơ quan thuế)",
    "Check the fee lines: one per line, KIND:NAME:AMOUNT (kind phí or lệ phí, the amount in "
    "whole đồng, negative for a decrease in an adjustment).":
        "Kiểm tra các dòng khoản thu: mỗi dòng LOẠI:TÊN:SỐ TIỀN (loại phí hoặc lệ phí, số tiền "
        "là số đồng nguyên, số âm khi điều chỉnh giảm).",
    "Choose a replacement or an adjustment.": "Chọn thay thế hoặc điều chỉnh.",
    "Correct this receipt": "Xử lý biên lai sai sót",
    "Correction": "Cách xử lý",
    "Correction proposed; another finance officer must approve it.":
        "Đã ghi đề xuất; một cán bộ tài chính khác phải phê duyệt.",
    "Correction rejected; nothing was issued.": "Đã từ chối đề xuất; không lập biên lai nào.",
    "Corrections waiting for approval": "Đề xuất xử lý sai sót chờ phê duyệt",
    "Corrects": "Liên quan đến",
    "Date of issue": "Ngày lập",
    "Decided by": "Người quyết định",
    "Each organisation sends the tax authority the table of the receipts it issued, on the day "
    "it issued them (bảng tổng hợp dữ liệu biên lai điện tử). recon prepares the file; a "
    "person sends it and marks it sent. Overdue: not sent by the end of {days} day(s) after.":
        "Mỗi tổ chức thu gửi cơ quan thuế bảng tổng hợp dữ liệu biên lai điện tử đã lập trong "
        "ngày, ngay trong ngày lập. recon lập tệp; cán bộ gửi và đánh dấu đã gửi. Quá hạn: "
        "chưa gửi khi hết {days} ngày sau ngày lập.",
    "Error notice": "Thông báo sai sót",
    "Fee lines, one per line: KIND:NAME:AMOUNT (replacement: the right amounts, empty: "
    "unchanged; adjustment: the differences)":
        "Các khoản thu, mỗi dòng LOẠI:TÊN:SỐ TIỀN (thay thế: số tiền đúng, để trống: giữ "
        "nguyên; điều chỉnh: phần chênh lệch)",
    "Lines": "Các khoản thu",
    "Mark as sent": "Đánh dấu đã gửi",
    "Marked as sent.": "Đã đánh dấu đã gửi.",
    "No receipt in these seven days.": "Không có biên lai nào trong bảy ngày này.",
    "No receipt was issued on this day.": "Ngày này không lập biên lai nào.",
    "None.": "Không có.",
    "Not prepared": "Chưa lập",
    "Note (optional)": "Ghi chú (không bắt buộc)",
    "Overdue": "Quá hạn",
    "Payer": "Người nộp",
    "Payer's name (a replacement; empty: unchanged)":
        "Tên người nộp (khi thay thế; để trống: giữ nguyên)",
    "Prepare (XML)": "Lập bảng (XML)",
    "Prepare the summary file before marking it sent.":
        "Hãy lập tệp bảng tổng hợp trước khi đánh dấu đã gửi.",
    "Prepared, not sent": "Đã lập, chưa gửi",
    "Receipts": "Biên lai",
    "Receipts are off or the signing key cannot be loaded: nothing was issued. Ask an "
    "administrator (RECON_RECEIPTS, RECON_RECEIPT_P12_FILE).":
        "Chưa bật biên lai hoặc không đọc được khóa ký: không lập biên lai nào. Hãy báo quản "
        "trị viên (RECON_RECEIPTS, RECON_RECEIPT_P12_FILE).",
    "Receipts are off, or the signing key cannot be loaded.":
        "Chưa bật biên lai, hoặc không đọc được khóa ký.",
    "Rejected": "Đã từ chối",
    "Replaced": "Đã bị thay thế",
    "Replacement": "Thay thế",
    "Replacement receipt": "Biên lai thay thế",
    "Sent": "Đã gửi",
    "Sent on": "Ngày gửi",
    "Serial": "Số sê-ri",
    "Signed XML": "XML đã ký",
    "Signed this day's receipts": "Đã ký biên lai của ngày này",
    "Someone decided this correction already. Reload the page.":
        "Đề xuất này đã được người khác quyết định. Hãy tải lại trang.",
    "Subject": "Chủ thể",
    "Summary tables for the tax authority": "Bảng tổng hợp gửi cơ quan thuế",
    "Tax code": "Mã số thuế",
    "The date is not valid: write it as YYYY-MM-DD.":
        "Ngày không hợp lệ: hãy viết theo dạng YYYY-MM-DD.",
    "The signing key now": "Khóa ký hiện tại",
    "This receipt was corrected already, or a correction of it is waiting for approval. "
    "Reload the page.":
        "Biên lai này đã được xử lý, hoặc đang có đề xuất chờ phê duyệt. Hãy tải lại trang.",
    "Valid": "Hợp lệ",
    "Valid from": "Hiệu lực từ",
    "Valid to": "Hiệu lực đến",
    "What was wrong (the error notice carries it)": "Sai sót gì (ghi vào thông báo sai sót)",
    "Where": "Nguồn",
    "Write the date it was sent (YYYY-MM-DD), from the summary's day to today.":
        "Ghi ngày đã gửi (YYYY-MM-DD), từ ngày của bảng đến hôm nay.",
    "Write the reference the tax authority's portal gave.":
        "Ghi mã tham chiếu mà cổng của cơ quan thuế trả về.",
    "Write what was wrong (at most 255 characters): the error notice carries it.":
        "Ghi sai sót (tối đa 255 ký tự): thông báo sai sót sẽ ghi nội dung này.",
    "You proposed this correction, so you cannot approve it. Ask another finance officer.":
        "Bạn là người đề xuất nên không thể tự phê duyệt. Hãy nhờ một cán bộ tài chính khác.",
    "by receipt": "bằng biên lai",
    "prepared": "lập lúc",
    "Series": "Ký hiệu",
    "No.": "Số",
    "Download XML": "Tải XML",
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
    "Back to the discrepancy": "Quay lại chênh lệch",
    "Back to the queue": "Quay lại danh sách",
    "No proposal is waiting.": "Không có đề xuất nào đang chờ.",
    "Nothing is waiting for approval.": "Không có đề xuất nào đang chờ phê duyệt.",
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
    "This API token belongs to no person, so it cannot propose or approve what needs two "
    "people. Recreate it with --user (recon tokens create).":
        "Mã truy cập API này không thuộc về người nào nên không được đề xuất hay phê duyệt "
        "việc cần hai người. Hãy tạo lại mã với --user (recon tokens create).",
    "Nobody can tell which person made this proposal (a token without an owner did). "
    "Reject it and propose it again.":
        "Không xác định được người lập đề xuất này (do một mã truy cập không có chủ tạo). "
        "Hãy từ chối rồi đề xuất lại.",
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
    "Print": "In",
    "Closed months": "Khóa sổ",
    "Month": "Tháng",
    "Approved by": "Người phê duyệt",
    "Reopened by": "Người mở lại",
    "Snapshots": "Số lần chốt sổ",
    "Propose closing a month": "Đề xuất khóa sổ tháng",
    "Carry forward (one per line: ID=note)": "Chuyển kỳ sau (mỗi dòng: mã=ghi chú)",
    "Propose": "Đề xuất",
    "Approve the close": "Phê duyệt khóa sổ",
    "Reason": "Lý do",
    "Report (print)": "Báo cáo (in)",
    "Report (XLSX)": "Báo cáo (XLSX)",
    "Month open": "Đang mở",
    "Close proposed": "Chờ phê duyệt khóa sổ",
    "Month closed": "Đã khóa sổ",
    "No month has been closed yet.": "Chưa có tháng nào được khóa sổ.",
    "Month close report": "Báo cáo khóa sổ tháng",
    "Carried forward": "Chuyển kỳ sau",
    "Discrepancies of the month": "Chênh lệch của tháng",
    "Collected in the month": "Đã thu trong tháng",
    "Settled in the month": "Đã đối soát trong tháng",
    "Done.": "Đã thực hiện.",
    "The month has open discrepancies: resolve them, or carry each forward with a note.":
        "Tháng còn chênh lệch đang mở: hãy xử lý, hoặc chuyển từng chênh lệch sang kỳ sau "
        "kèm ghi chú.",
    "The person who proposed the close cannot approve it: ask another finance officer.":
        "Người đề xuất khóa sổ không được tự phê duyệt: hãy nhờ cán bộ tài chính khác.",
    "Only an admin may reopen a closed month.": "Chỉ quản trị viên được mở lại tháng đã khóa sổ.",
    "This month is closed: an admin may reopen it, with a reason.":
        "Tháng này đã khóa sổ: quản trị viên có thể mở lại, kèm lý do.",
    "Closing a month of every agency needs a user of the whole province: name one of your "
    "agencies.":
        "Khóa sổ tháng của mọi đơn vị cần người dùng cấp tỉnh: hãy ghi một đơn vị của bạn.",
    "The action does not fit the month's state: reload the page.":
        "Thao tác không phù hợp với trạng thái của tháng: hãy tải lại trang.",
    "Check the month (YYYY-MM) and the notes, then try again.":
        "Kiểm tra tháng (YYYY-MM) và các ghi chú rồi thử lại.",
    "Someone else proposed closing this month at the same moment: reload the page and "
    "approve or reject that proposal.":
        "Một người khác vừa đề xuất khóa sổ tháng này cùng lúc: hãy tải lại trang rồi phê "
        "duyệt hoặc từ chối đề xuất đó.",
    "This month already has a proposal or is closed: approve it, or ask an admin to reopen "
    "it.":
        "Tháng này đã có đề xuất khóa sổ hoặc đã khóa sổ: hãy phê duyệt đề xuất, hoặc nhờ quản "
        "trị viên mở lại.",
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
    "Not collected yet": "Chưa thu",
    "Nothing was collected this month.": "Tháng này chưa thu khoản nào.",
    "Nothing was settled this month.": "Tháng này chưa có khoản nào được đối soát.",
    "No payment was made this day.": "Không có giao dịch nào trong ngày.",
    "No settlement line is dated this day.": "Không có dòng đối soát nào trong ngày.",
    "No discrepancy was detected this day.": "Không phát hiện chênh lệch nào trong ngày.",
    "No payment in this quarter.": "Không có giao dịch nào trong quý.",
    "No dossier was received in this quarter.": "Không có hồ sơ nào được tiếp nhận trong quý.",
    "Choose a year from 2000 to 2100 and a quarter from 1 to 4.":
        "Hãy chọn năm từ 2000 đến 2100 và quý từ 1 đến 4.",
    "This dossier has no fee line.": "Hồ sơ không có khoản phí, lệ phí nào.",
    "No payment is linked to this discrepancy.":
        "Không có khoản thanh toán nào gắn với chênh lệch này.",
    "No reconciliation run has seen it.": "Chưa lần đối soát nào ghi nhận chênh lệch này.",
    "No related discrepancy.": "Không có chênh lệch liên quan.",
    "No event is recorded for it.": "Chưa có sự kiện nào được ghi lại.",
    "Query string": "Tham số truy vấn",
    "an event was removed or reordered": "một sự kiện đã bị xóa hoặc bị đổi thứ tự",
    "its content was changed": "nội dung của sự kiện đã bị sửa",
    "Details": "Chi tiết",
    "line": "dòng",
    "assessed": "phải nộp",
    "already paid": "đã nộp",
    "No dossier has this code.": "Không có hồ sơ nào có mã này.",
    # --- the cashier's desk
    "Dossier code": "Mã hồ sơ",
    "Find": "Tìm",
    "Amount paid": "Đã nộp",
    "Outstanding": "Còn phải nộp",
    "Paid in full": "Đã thanh toán đủ",
    "No fee to pay": "Không có khoản phải nộp",
    "Collect payment": "Thu tiền",
    "Amount (VND, empty = everything outstanding)":
        "Số tiền (đồng; để trống = toàn bộ số còn phải nộp)",
    "Create VietQR code": "Tạo mã VietQR",
    "Create payment request": "Tạo yêu cầu thanh toán",
    "Cash payment": "Thu tiền mặt",
    "Receipt number": "Số biên lai",
    "Record cash payment": "Ghi nhận tiền mặt",
    "Payments received": "Các khoản đã thu",
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
    "Recorded {amount} in cash, receipt {receipt}.":
        "Đã ghi nhận {amount} tiền mặt, biên lai {receipt}.",
    "Receipt {receipt} was already recorded; nothing was added.":
        "Biên lai {receipt} đã được ghi nhận trước đó; không ghi thêm.",
    "The code was cancelled.": "Đã hủy mã thanh toán.",
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
    # --- the desk's list of the day's dossiers, and amounts typed the Vietnamese way
    "The amount is not valid. Enter whole dong with dots between thousands, for example 180.000.":
        "Số tiền không hợp lệ. Nhập số đồng nguyên, dấu chấm ngăn cách hàng nghìn, ví dụ 180.000.",
    "The amount “{typed}” is not whole dong: dong have no decimals, and a dot only separates "
    "thousands. Enter it like 8.000 or 180.000.":
        "Số tiền “{typed}” không phải số đồng nguyên: tiền đồng không có phần lẻ, dấu chấm chỉ "
        "dùng để ngăn cách hàng nghìn. Nhập theo dạng 8.000 hoặc 180.000.",
    "The amount must be more than 0 dong. Enter the amount to collect, for example 8.000.":
        "Số tiền phải lớn hơn 0 đồng. Nhập số tiền cần thu, ví dụ 8.000.",
    "The amount is too large. Check the number of digits and enter it again.":
        "Số tiền quá lớn. Kiểm tra lại số chữ số rồi nhập lại.",
    "The amount is missing. Enter the amount received, for example 180.000.":
        "Chưa nhập số tiền. Nhập số tiền đã nhận, ví dụ 180.000.",
    "Applicant's name or dossier code": 'Tên người nộp hoặc mã hồ sơ',
    "Type a name (diacritics optional) or a code, or scan it, then press Enter":
        "Nhập tên (không dấu cũng được) hoặc mã hồ sơ, rồi nhấn Enter",
    "Received at": "Giờ tiếp nhận",
    "All agencies": "Tất cả đơn vị",
    "Still to pay today": "Hồ sơ hôm nay còn phải nộp",
    "Received today, {day}, with fees still to pay; newest first.":
        "Tiếp nhận hôm nay, {day}, còn khoản phải nộp; mới nhất ở trên.",
    "{count} dossiers, {amount} to collect": "{count} hồ sơ, cần thu {amount}",
    "{count} dossiers match “{query}”, {amount} to collect":
        "{count} hồ sơ khớp với “{query}”, cần thu {amount}",
    "Showing the newest {shown}. Type a name or a code to narrow the list.":
        "Đang hiện {shown} hồ sơ mới nhất. Nhập tên hoặc mã để thu hẹp danh sách.",
    "No dossier received today still owes fees. Scan or type a dossier code to open an older one.":
        "Không có hồ sơ nào tiếp nhận hôm nay còn phải nộp. Quét hoặc nhập mã hồ sơ để mở hồ sơ "
        "những ngày trước.",
    "No dossier received today and still owing fees matches “{query}”. Check the spelling, or "
    "scan the dossier's barcode.":
        "Không có hồ sơ nào hôm nay còn phải nộp khớp với “{query}”. Kiểm tra lại chính tả hoặc "
        "quét mã vạch của hồ sơ.",
    # --- payouts (/finance/payouts)
    "Payouts": "Tiền chuyển về",
    "Payouts: provider batches and bank credits":
        "Tiền chuyển về: đợt chuyển tiền và ghi có ngân hàng",
    "Session from": "Phiên từ ngày",
    "Session to": "Phiên đến ngày",
    "Session": "Phiên",
    "Transactions": "Số giao dịch",
    "Expected credit": "Ngày dự kiến ghi có",
    "State": "Trạng thái",
    "Credited on": "Ngày ghi có",
    "Credited": "Số tiền ghi có",
    "Lines of the batch": "Các giao dịch của đợt",
    "Refund": "Hoàn tiền",
    "In the batch net": "Tính vào thực nhận của đợt",
    "A refund line lowers the batch's net by the amount refunded and its refund fee: the "
    "provider takes both out of the payout.":
        "Dòng hoàn tiền làm giảm số thực nhận của đợt bằng số tiền hoàn cộng phí hoàn tiền: "
        "nhà cung cấp trừ cả hai vào khoản chuyển về.",
    "of which {count} refunds: {amount}": "trong đó {count} dòng hoàn tiền: {amount}",
    "Lines of the batches": "Các giao dịch của các đợt",
    "Refund fees": "Phí hoàn tiền",
    "Refunds in the net": "Hoàn tiền tính vào thực nhận",
    "Original transaction": "Giao dịch gốc",
    "Credits no batch explains": "Khoản ghi có không khớp đợt nào",
    "No batch in this month.": "Không có đợt chuyển tiền nào trong tháng.",
    "Previous month": "Tháng trước",
    "Next month": "Tháng sau",
    "Choose a month as YYYY-MM.": "Hãy chọn tháng theo dạng NNNN-TT (ví dụ 2021-03).",
    "Choose a provider from the list.": "Hãy chọn nhà cung cấp trong danh sách.",
    "Open the discrepancy": "Mở chênh lệch",
    "Download the bank statement": "Tải sao kê ngân hàng",
    "Download this statement line": "Tải dòng sao kê này",
    "Statement": "Sao kê",
    "Line": "Dòng",
    "Payout batch": "Đợt chuyển tiền",
    "Bank credit": "Khoản ghi có ngân hàng",
    "No credit has paid this batch.": "Chưa có khoản ghi có nào thanh toán đợt này.",
    "No batch explains this credit.": "Không có đợt chuyển tiền nào giải thích khoản ghi có này.",
    "batches": "đợt",
    "Clear search": "Xóa tìm kiếm",
    "Back to today's list": 'Quay lại danh sách hôm nay',
    "Amount to pay": "Còn phải nộp",
    "No agency has the code {code}; showing every agency. Choose the counter from the list.":
        "Không có đơn vị mã {code}; đang hiện tất cả đơn vị. Chọn quầy trong danh sách.",
    # --- fee declarations (/finance/declarations, issue 18 §4)
    "Fee declarations": "Tờ khai phí, lệ phí",
    "Data for other software": "Dữ liệu cho phần mềm khác",
    "Collecting organisation": "Tổ chức thu",
    "Form": "Mẫu",
    "Budget sub-item": "Tiểu mục",
    "Amount collected": "Số tiền thu được",
    "Retention rate (%)": "Tỷ lệ trích để lại (%)",
    "Kept": "Số tiền trích để lại",
    "To remit": "Số tiền phải nộp NSNN",
    "Remitted": "Số tiền đã nộp",
    "Declared in the months": "Số đã kê khai trong kỳ",
    "Monthly declarations": "Tờ khai tháng",
    "Annual settlement (02/PH)": "Quyết toán năm (02/PH)",
    "Choose a year from 2000 to 2100.": "Hãy chọn năm từ 2000 đến 2100.",
    "Choose an agency from the list.": "Hãy chọn đơn vị trong danh sách.",
    "Remitted is 0: remittances to the State Treasury are not recorded yet, so the difference "
    "is the whole amount to remit.":
        "Số đã nộp bằng 0: việc nộp tiền vào Kho bạc Nhà nước chưa được ghi nhận, nên chênh "
        "lệch là toàn bộ số phải nộp.",
    "Remitted: the payment-to-budget vouchers (C1-02/NS) allocated to the collector, the month "
    "and the sub-item; difference = to remit − remitted.":
        "Số đã nộp: các giấy nộp tiền vào NSNN (C1-02/NS) phân bổ cho tổ chức thu, tháng và "
        "tiểu mục; chênh lệch = số phải nộp − số đã nộp.",
    "Declared in the months: what the monthly 01/PH declared to remit; the difference is the "
    "year's rounding and late corrections.":
        "Số đã kê khai trong kỳ: số phải nộp trên các tờ khai 01/PH hằng tháng; chênh lệch do "
        "làm tròn cả năm và điều chỉnh muộn.",
    # --- remittances to the state budget (/finance/remittances, issue 18 §3)
    "Remittances": "Nộp ngân sách",
    "Remittances to the state budget": "Nộp ngân sách nhà nước",
    "Collected, not yet remitted": "Đã thu, chưa nộp ngân sách",
    "Not due yet": "Chưa đến hạn",
    "1–30 days late": "Quá hạn 1–30 ngày",
    "31–90 days late": "Quá hạn 31–90 ngày",
    "Over 90 days late": "Quá hạn trên 90 ngày",
    "Everything collected has been remitted.": "Mọi khoản đã thu đều đã nộp ngân sách.",
    "Payment-to-budget vouchers (C1-02/NS), allocated to what each collecting organisation owes "
    "per month and sub-item; a month is due by day {day} of the following month.":
        "Giấy nộp tiền vào NSNN (C1-02/NS), phân bổ vào số mỗi tổ chức thu phải nộp theo tháng "
        "và tiểu mục; hạn nộp của một tháng là ngày {day} tháng sau.",
    "Vouchers": "Giấy nộp tiền",
    "Chapter": "Mã chương",
    "Area code": "Mã ĐBHC",
    "Period": "Kỳ thuế",
    "Allocated to (month)": "Phân bổ vào tháng",
    "owed": "phải nộp",
    "Paid in by the receiving centre": "Đơn vị tiếp nhận nộp thay vào ngân sách",
    "Charges (lệ phí) a receiving centre paid into the state budget itself for the collecting "
    "organisation (Circular 74/2022/TT-BTC, Art. 3): counted as remitted by that organisation "
    "for the month and sub-item.":
        "Lệ phí do đơn vị tiếp nhận tự nộp vào ngân sách nhà nước thay cho tổ chức thu (Thông "
        "tư 74/2022/TT-BTC, Điều 3): được tính là số tổ chức đó đã nộp cho tháng và tiểu mục "
        "tương ứng.",
    "Transfer": "Lệnh chuyển",
    "No receiving centre paid charges into the budget for another organisation.":
        "Chưa có đơn vị tiếp nhận nào nộp lệ phí vào ngân sách thay tổ chức khác.",
    "The same money as the receiving centre's transfer {transfer}: counted once, through the "
    "transfer.":
        "Cùng khoản tiền với lệnh chuyển {transfer} của đơn vị tiếp nhận: chỉ tính một lần, "
        "theo lệnh chuyển.",
    "of which paid by the receiving centre: {amount}":
        "trong đó đơn vị tiếp nhận nộp thay: {amount}",
    "No voucher recorded yet: import a Treasury statement or record one with `recon "
    "remittances`.":
        "Chưa ghi nhận giấy nộp tiền nào: nhập bảng kê của Kho bạc hoặc ghi từng giấy bằng lệnh "
        "`recon remittances`.",
    "Received through another organisation's account (to forward)":
        "Thu qua tài khoản của tổ chức khác (phải chuyển tiếp)",
    "No fee was collected in this period.": "Không có khoản phí, lệ phí nào thu trong kỳ.",
    "Payments in the period": "Tiền nộp trong kỳ",
    "declared as collected": "kê khai là số thu",
    "not a fee (overpaid or unmatched)": "không phải phí (nộp thừa hoặc chưa khớp)",
    "Collected: succeeded payments of the period (Vietnam time), spread over each dossier's fee "
    "lines in order. A charge (lệ phí) is remitted in full; a fee (phí) keeps its retention "
    "rate: kept = amount × rate, rounded down to the đồng, to remit = collected − kept. "
    "Providers' fees do not reduce what is owed.":
        "Số thu: các khoản nộp thành công trong kỳ (giờ Việt Nam), phân bổ lần lượt vào các "
        "khoản phí của hồ sơ. Lệ phí nộp toàn bộ vào ngân sách; phí được trích để lại theo tỷ "
        "lệ: số để lại = số thu × tỷ lệ, làm tròn xuống đến đồng, số phải nộp = số thu − số để "
        "lại. Phí của nhà cung cấp thanh toán không làm giảm số phải nộp.",
    # --- onward transfers (/finance/transfers, issue 18 §2)
    "Onward transfers": "Chuyển tiền thu hộ",
    "Received by": "Đơn vị nhận tiền",
    "Passed on to": "Chuyển cho",
    "State budget (charges)": "Ngân sách nhà nước (lệ phí)",
    "Owed": "Phải chuyển",
    "Forwarded": "Đã chuyển",
    "Still owed": "Còn phải chuyển",
    "Oldest unpaid since": "Khoản chưa chuyển sớm nhất từ",
    "Transfers": "Các lệnh chuyển",
    "Paid of what was owed": "Đã trừ vào số phải chuyển",
    "Too much": "Chuyển thừa",
    "Source": "Nguồn",
    "bank statement": "sao kê ngân hàng",
    "recorded by hand": "ghi nhận thủ công",
    "No money was received for another organisation.":
        "Chưa có khoản nào thu hộ tổ chức khác.",
    "Money received for another organisation is passed on within {hours} hours of collection "
    "(Circular 74/2022/TT-BTC, Art. 3): each fee (phí) to its collecting organisation, each "
    "charge (lệ phí) into the state budget. Transfers pay what is owed oldest first.":
        "Tiền thu hộ tổ chức khác phải được chuyển trong vòng {hours} giờ kể từ khi thu (Thông "
        "tư 74/2022/TT-BTC, Điều 3): phí chuyển cho tổ chức thu phí, lệ phí nộp vào ngân sách "
        "nhà nước. Các lệnh chuyển được trừ vào khoản phải chuyển cũ nhất trước.",
    "What was owed onward": "Khoản phải chuyển",
    "Collected at": "Thu lúc",
    "Paid by": "Đã chuyển bằng",
    "Hours since collection": "Số giờ kể từ khi thu",
    # --- deposits of phí into the Treasury fee accounts (/finance/transfers)
    "Fees deposited into the Treasury fee accounts":
        "Gửi tiền phí vào tài khoản phí chờ nộp ngân sách",
    "Daily, weekly or monthly, as each fee's regulation sets, the collecting organisation sends "
    "the fees (phí) it collected to its fee account awaiting budget remittance at the State "
    "Treasury (Decree 120/2016/NĐ-CP, Art. 3(2)(a), as amended by Decree 82/2023/NĐ-CP). "
    "Deposits pay the earliest due first.":
        "Hằng ngày, hằng tuần hoặc hằng tháng theo quy định của từng loại phí, tổ chức thu phí "
        "gửi số tiền phí đã thu vào tài khoản phí chờ nộp ngân sách tại Kho bạc Nhà nước (Nghị "
        "định 120/2016/NĐ-CP, Điều 3 khoản 2 điểm a, sửa đổi bởi Nghị định 82/2023/NĐ-CP). "
        "Các lần gửi được trừ vào khoản đến hạn sớm nhất trước.",
    "Fee account awaiting budget remittance": "Tài khoản phí chờ nộp ngân sách",
    "To deposit": "Phải gửi",
    "Deposited": "Đã gửi",
    "Still to deposit": "Còn phải gửi",
    "No fee under a deposit rule is collected by an organisation with a fee account.":
        "Chưa có khoản phí nào có quy định kỳ gửi do đơn vị đã có tài khoản phí chờ nộp ngân "
        "sách thu.",
    "{agency} has no fee account awaiting budget remittance recorded: its deposits are not "
    "judged. Record it with `recon transfers fee-account`.":
        "{agency} chưa được ghi nhận tài khoản phí chờ nộp ngân sách: việc gửi tiền phí của đơn "
        "vị này không được đối soát. Ghi nhận bằng lệnh `recon transfers fee-account`.",
}


#: the e-receipt's print view, its public lookup and the desk's button (issue 19)
_RECEIPT_PHRASES: dict[str, str] = {
    "Tax code": "Mã số thuế",
    "QR code of the public receipt lookup": "Mã QR tra cứu biên lai",
    "Scan to look this receipt up": "Quét mã để tra cứu biên lai",
    "Form code": "Ký hiệu mẫu",
    "Collected at (Vietnam time)": "Thời điểm thu (giờ Việt Nam)",
    "Payer": "Người nộp",
    "In words": "Bằng chữ",
    "Total fees (phí)": "Tổng tiền phí",
    "Total charges (lệ phí)": "Tổng tiền lệ phí",
    "Amount in words": "Số tiền bằng chữ",
    "Payment method": "Hình thức thanh toán",
    "Digital signature": "Chữ ký số",
    "Signed; the signature is valid": "Đã ký số, chữ ký hợp lệ",
    "The signature is not valid": "Chữ ký số không hợp lệ",
    "Lookup code": "Mã tra cứu",
    "Look this receipt up at": "Tra cứu biên lai tại",
    "Download PDF": "Tải PDF",
    "Receipt lookup": "Tra cứu biên lai",
    "Type the lookup code printed on your receipt, or scan the receipt's QR code.":
        "Nhập mã tra cứu in trên biên lai, hoặc quét mã QR trên biên lai.",
    "Look up": "Tra cứu",
    "Print receipt": "In biên lai",
    "No receipt has this lookup code. Check the code printed on the receipt (12 letters and "
    "digits) and type it again.":
        "Không có biên lai nào có mã tra cứu này. Kiểm tra mã in trên biên lai (12 chữ và số) "
        "rồi nhập lại.",
    "Too many wrong lookup codes from this address. Try again after {time}.":
        "Đã nhập sai mã tra cứu quá nhiều lần từ địa chỉ này. Thử lại sau {time}.",
    "The receipt is being issued; reload the page in a moment.":
        "Biên lai đang được phát hành; tải lại trang sau giây lát.",
}


def _derived() -> dict[str, str]:
    """The desk's older keys, kept working from the vocabularies (one source for each word):
    payment and intent status codes (``t("paid")``) and channels' English labels."""
    out = {code: vi for code, (_, vi) in PAYMENT_STATUS_LABELS.items()}
    out.update(dict(CHANNEL_LABELS.values()))
    return out


#: English key -> Vietnamese: every phrase of the web app
VI: dict[str, str] = {**_derived(), **_PHRASES, **_RECEIPT_PHRASES}
#: the few keys that are codes, not English: what the English switch shows for them
EN: dict[str, str] = {"app_name": "Trung tâm recon",
                      **{code: en for code, (en, _) in PAYMENT_STATUS_LABELS.items()}}


def current_language() -> str:
    if not has_request_context():  # the CLI: Vietnamese first
        return "vi"
    lang = request.args.get("lang") if request else None
    if lang in LANGUAGES:
        return lang
    stored = session.get("lang")
    return stored if stored in LANGUAGES else "vi"


def translate(key: str) -> str:
    """``key`` (an English phrase) in the current language; unknown keys show as they are."""
    if current_language() == "en":
        return EN.get(key, key)
    return VI.get(key, key)


#: a database fault (recon.db.classify_fault) -> (English, Vietnamese): the 503 page and JSON
FAULT_MESSAGES: dict[str, tuple[str, str]] = {
    "unreachable": (
        "The database cannot be reached; nothing was saved. Try again in a few minutes; if it "
        "persists, ask the administrator to check the database server.",
        "Không kết nối được cơ sở dữ liệu; chưa có gì được lưu. Hãy thử lại sau ít phút; nếu vẫn "
        "lỗi, báo quản trị viên kiểm tra máy chủ cơ sở dữ liệu."),
    "read_only": (
        "The database is read-only at the moment; nothing was saved. Try again later; the "
        "administrator must make it writable again.",
        "Cơ sở dữ liệu đang ở chế độ chỉ đọc; chưa có gì được lưu. Hãy thử lại sau; quản trị viên "
        "cần cho phép ghi trở lại."),
    "disk_full": (
        "The database's disk is full or refuses writes; nothing was saved. Try again later; the "
        "administrator must free disk space.",
        "Ổ đĩa của cơ sở dữ liệu đã đầy hoặc không ghi được; chưa có gì được lưu. Hãy thử lại "
        "sau; quản trị viên cần giải phóng dung lượng đĩa."),
    "overloaded": (
        "The database is overloaded; nothing was saved. Try again in a few minutes.",
        "Cơ sở dữ liệu đang quá tải; chưa có gì được lưu. Hãy thử lại sau ít phút."),
    "busy": (
        "The database is busy; nothing was saved. Try again in a moment.",
        "Cơ sở dữ liệu đang bận; chưa có gì được lưu. Hãy thử lại sau giây lát."),
    "not_migrated": (
        "The database's schema is not up to date; nothing was saved. Tell the administrator.",
        "Cơ sở dữ liệu chưa được khởi tạo đầy đủ; chưa có gì được lưu. Hãy báo quản trị viên."),
    "conflict": (
        "This change collided with another one made at the same moment; nothing was saved. Try "
        "again.",
        "Thao tác trùng thời điểm với một thao tác khác; chưa có gì được lưu. Hãy thử lại."),
}


def _pick(table: Mapping[str, tuple[str, str]], value: str | None) -> str:
    pair = table.get(value or "")
    if pair is None:
        return value or ""
    return pair[1] if current_language() == "vi" else pair[0]


def kind_label(kind: str) -> str:
    return _pick(KIND_LABELS, kind)


def status_label(status: str) -> str:
    return _pick(STATUS_LABELS, status)


def resolution_label(value: str | None) -> str:
    return _pick(RESOLUTION_LABELS, value)


def channel_label(value: str | None) -> str:
    return _pick(CHANNEL_LABELS, value)


def provider_label(value: str | None) -> str:
    if value == "cash":
        return channel_label("cash")
    return PROVIDER_LABELS.get(value or "", value or "")


def run_mode_label(value: str | None) -> str:
    return _pick(RUN_MODE_LABELS, value)


def payout_state_label(value: str | None) -> str:
    return _pick(PAYOUT_STATE_LABELS, value)


def payment_status_label(value: str | None) -> str:
    return _pick(PAYMENT_STATUS_LABELS, value)


def result_label(value: str | None) -> str:
    return _pick(RESULT_LABELS, value)


def txn_type_label(value: str | None) -> str:
    return _pick(TXN_TYPE_LABELS, value)


def art36_label(column: str, value: str) -> str:
    """A code of the Art. 36 report's cells in the reader's language."""
    pick = {"provider": provider_label, "type": txn_type_label,
            "status": payment_status_label, "result": result_label,
            "kind": kind_label}.get(column)
    return pick(value) if pick else value


PORTAL_AGREEMENT_LABELS: dict[str, tuple[str, str]] = {
    "agrees": ("Agrees", "Khớp"),
    "differs": ("Differs", "Lệch"),
    "no_list": ("No portal list imported", "Chưa nhập danh sách của Cổng"),
}


def portal_agreement_label(value: str | None) -> str:
    """``agrees`` / ``differs`` / ``no_list`` in the reader's language."""
    return _pick(PORTAL_AGREEMENT_LABELS, value)


def portal_agreement_vi(value: str) -> str:
    """The same, in Vietnamese whatever the request (the CLI's exports)."""
    return PORTAL_AGREEMENT_LABELS.get(value, (value, value))[1]


def action_label(value: str | None) -> str:
    return _pick(ACTION_LABELS, value)


def entity_label(value: str | None) -> str:
    return _pick(ENTITY_LABELS, value)


def entity_ref(entity_type: str | None, entity_id: str | int | None) -> str:
    """``payment``, ``4685`` -> ``Khoản thanh toán #4685`` (English: ``Payment #4685``)."""
    ident = str(entity_id or "")
    shown = f"#{ident}" if ident.isdigit() else ident
    return f"{entity_label(entity_type)} {shown}".strip()


def outcome_label(value: str | None) -> str:
    return _pick(OUTCOME_LABELS, value)


def actor_label_pair(actor: str | None) -> tuple[str, str] | None:
    """(English, Vietnamese) of an actor, or None when its form is unknown."""
    value = actor or ""
    if value in ACTOR_LABELS:
        return ACTOR_LABELS[value]
    kind, sep, name = value.partition(":")
    pair = ACTOR_KIND_LABELS.get(kind)
    if not sep or pair is None or not name:
        return None
    if kind in _PROVIDER_ACTORS:
        name = PROVIDER_LABELS.get(name, name)
    return pair[0].format(name=name), pair[1].format(name=name)


def actor_label(actor: str | None) -> str:
    """Who did it, in words: ``user:thungan`` -> ``Người dùng thungan``, ``webhook:pos`` ->
    ``Thông báo từ POS``, ``system:reconcile`` -> ``Đối soát tự động``. Unknown forms show as
    they are."""
    pair = actor_label_pair(actor)
    if pair is None:
        return actor or ""
    return pair[1] if current_language() == "vi" else pair[0]


def num(value: int | None) -> str:
    """A count the Vietnamese way: ``28300`` -> ``"28.300"`` (both languages, like amounts)."""
    if value is None:
        return ""
    return f"{value:,}".replace(",", ".")


def fault_message(kind: str) -> str:
    """What a page says when the database cannot do its part (``kind`` of the fault)."""
    return _pick(FAULT_MESSAGES, kind)
