"""Vietnamese by default, English as a switch. Keys are short English phrases."""

from __future__ import annotations

from flask import request, session

LANGUAGES = ("vi", "en")

VI: dict[str, str] = {
    "app_name": "Đối soát thanh toán",
    "Log in": "Đăng nhập",
    "Log out": "Đăng xuất",
    "Username": "Tên đăng nhập",
    "Password": "Mật khẩu",
    "Wrong username or password.": "Sai tên đăng nhập hoặc mật khẩu.",
    "Too many failed logins. Try again in {minutes} minutes (at {time}).":
        "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút (lúc {time}).",
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
}


def current_language() -> str:
    lang = request.args.get("lang") if request else None
    if lang in LANGUAGES:
        return lang
    stored = session.get("lang")
    return stored if stored in LANGUAGES else "vi"


def translate(key: str) -> str:
    if current_language() == "en":
        return "Trung tâm recon" if key == "app_name" else key
    if key == "app_name":
        return VI[key]
    return VI.get(key, key)
