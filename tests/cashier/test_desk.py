"""The cashier's desk page: Vietnamese, forms with CSRF, errors that say what to do next."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from recon.clock import FixedClock
from recon.db import Database
from recon.errors import ValidationError
from recon.models import Agency, Payment, PaymentIntent
from recon.payments.recording import PaymentEvent, record_payment
from recon.web import cashier as desk
from tests.intents.helpers import ACCOUNT, ACCOUNT_NAME, CODE, TOTAL, counts, seed

NBSP = "\u00a0"


@pytest.fixture
def csrf(db: Database, clock: FixedClock, login: Any) -> str:
    seed(db, clock)
    token: str = login("cashier")
    return token


def page(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def _create(client: FlaskClient, csrf: str, **form: str) -> TestResponse:
    return client.post(f"/cashier/dossiers/{CODE}/intents",
                       data={"csrf_token": csrf, "channel": "vietqr", **form})


def test_desk_is_vietnamese_with_a_scanner_friendly_search(client: FlaskClient,
                                                           csrf: str) -> None:
    html = page(client.get("/cashier"))
    assert "Quầy thu" in html
    assert "Tên người nộp hoặc mã hồ sơ" in html
    assert "Nhập tên (không dấu cũng được) hoặc mã hồ sơ, rồi nhấn Enter" in html
    search = re.search(r'<form method="get"[^>]*>.*?</form>', html, re.S)
    assert search is not None
    assert re.search(r'<input id="dossier-code" name="q"[^>]*autofocus', search.group(0))
    english = page(client.get("/cashier?lang=en"))
    assert "Cashier desk" in english and "or scan it, then press Enter" in english


def test_a_scanned_code_opens_its_dossier(client: FlaskClient, csrf: str) -> None:
    """A scanner types the code and presses Enter: the search box sends it as ``q``."""
    response = client.get(f"/cashier?q={CODE}")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/cashier?code={CODE}")
    assert client.get(f"/cashier?q=%20{CODE.lower()}%20").headers["Location"].endswith(
        f"/cashier?code={CODE}")
    html = page(client.get(response.headers["Location"]))
    assert 'data-testid="dossier"' in html and "Nguyễn Thị Hương" in html
    assert 'value="000.00.21.H57-210401-0001"' in html  # a new scan replaces it (cashier.js)
    assert "Quay lại danh sách hôm nay" in html


def test_home_sends_the_cashier_to_the_desk(client: FlaskClient, csrf: str) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/cashier")


def test_dossier_shows_fees_paid_and_outstanding(client: FlaskClient, csrf: str) -> None:
    html = page(client.get(f"/cashier?code={CODE}"))
    assert "Nguyễn Thị Hương" in html
    assert "Lệ phí đăng ký hộ kinh doanh" in html
    assert "Phí cung cấp thông tin" in html
    assert f"100.000{NBSP}₫" in html and f"80.000{NBSP}₫" in html
    assert re.search(rf'data-testid="outstanding"[^>]*>180\.000{NBSP}₫<', html)
    assert re.search(rf'data-testid="paid"[^>]*>0{NBSP}₫<', html)
    assert "Còn phải nộp" in html and "Tổng phải nộp" in html
    assert "Tạo mã VietQR" in html
    assert "Ghi nhận tiền mặt" in html


def test_scanned_code_with_whitespace_is_found(client: FlaskClient, csrf: str) -> None:
    assert client.get(f"/cashier?code=%20{CODE}%20").status_code == 200


def test_unknown_dossier_says_what_to_do(client: FlaskClient, csrf: str) -> None:
    response = client.get("/cashier?code=000.00.21.H57-999999-9999")
    assert response.status_code == 404
    html = page(response)
    assert "Không tìm thấy hồ sơ có mã 000.00.21.H57-999999-9999" in html
    assert "quét lại mã vạch" in html


def test_only_cashiers_and_admins(client: FlaskClient, db: Database, clock: FixedClock,
                                  login: Any) -> None:
    assert client.get("/cashier").status_code == 302  # to the login page
    login("finance")
    assert client.get("/cashier").status_code == 403
    assert client.post("/logout", data={"csrf_token": _session_csrf(client)}).status_code == 302
    login("admin")
    assert client.get("/cashier").status_code == 200


def _session_csrf(client: FlaskClient) -> str:
    with client.session_transaction() as sess:
        return str(sess["csrf"])


def test_create_vietqr_shows_the_slip(client: FlaskClient, csrf: str, db: Database) -> None:
    response = _create(client, csrf)
    assert response.status_code == 303
    with db.read() as s:
        intent = s.scalars(select(PaymentIntent)).one()
    assert response.headers["Location"].endswith(f"/cashier?code={CODE}&intent={intent.id}")
    html = page(client.get(response.headers["Location"]))
    assert f'src="/api/v1/payment-intents/{intent.id}/qr.png"' in html
    assert "VietinBank" in html
    assert ACCOUNT in html and ACCOUNT_NAME in html
    assert f"180.000{NBSP}₫" in html
    assert intent.reference in html
    assert ">15:00<" in html
    assert "Đang chờ thanh toán" in html
    assert "In phiếu" in html
    assert f'data-status-url="/api/v1/payment-intents/{intent.id}"' in html
    assert 'data-expires-in="900"' in html


def test_forms_need_csrf(client: FlaskClient, csrf: str, db: Database) -> None:
    before = counts(db)
    assert client.post(f"/cashier/dossiers/{CODE}/intents",
                       data={"channel": "vietqr"}).status_code == 400
    assert client.post(f"/cashier/dossiers/{CODE}/intents",
                       data={"channel": "vietqr", "csrf_token": "forged"}).status_code == 400
    assert client.post(f"/cashier/dossiers/{CODE}/cash",
                       data={"amount": "180000", "receipt_number": "BL-1"}).status_code == 400
    assert counts(db) == before
    _create(client, csrf)
    with db.read() as s:
        intent_id = s.scalars(select(PaymentIntent.id)).one()
    assert client.post(f"/cashier/intents/{intent_id}/cancel").status_code == 400
    with db.read() as s:
        assert s.get_one(PaymentIntent, intent_id).status == "issued"


def test_every_form_on_the_page_carries_the_token(client: FlaskClient, csrf: str) -> None:
    _create(client, csrf)
    html = page(client.get(f"/cashier?code={CODE}&intent=1"))
    posts = re.findall(r'<form method="post".*?</form>', html, re.S)
    assert len(posts) >= 5  # language, logout, intent, cash, cancel (slip and list)
    for form in posts:
        assert f'name="csrf_token" value="{csrf}"' in form


def test_typed_amount_with_dots(client: FlaskClient, csrf: str, db: Database) -> None:
    assert _create(client, csrf, amount="100.000").status_code == 303
    with db.read() as s:
        assert s.scalars(select(PaymentIntent.amount)).one() == 100000


@pytest.mark.parametrize(("amount", "message"), [
    ("180.001", "Số tiền lớn hơn số còn phải nộp (180.000\u00a0₫). Nhập số tiền không quá"),
    ("100.5", "Số tiền “100.5” không phải số đồng nguyên: tiền đồng không có phần lẻ"),
    ("8,5", "Số tiền “8,5” không phải số đồng nguyên: tiền đồng không có phần lẻ, dấu chấm chỉ "
            "dùng để ngăn cách hàng nghìn. Nhập theo dạng 8.000 hoặc 180.000."),
    ("8.00", "Số tiền “8.00” không phải số đồng nguyên"),
    ("abc", "Số tiền “abc” không phải số đồng nguyên"),
    ("0", "Số tiền phải lớn hơn 0 đồng. Nhập số tiền cần thu, ví dụ 8.000."),
    ("99999999999999999", "Số tiền quá lớn."),
])
def test_bad_amount_is_explained(client: FlaskClient, csrf: str, db: Database, amount: str,
                                 message: str) -> None:
    before = counts(db)
    response = _create(client, csrf, amount=amount)
    assert response.status_code == 422
    assert message in page(response)
    assert counts(db) == before


def test_agency_without_account_is_explained(client: FlaskClient, csrf: str,
                                             db: Database) -> None:
    with db.transaction() as s:
        s.execute(update(Agency).values(account_number=""))
    response = _create(client, csrf)
    assert response.status_code == 422
    html = page(response)
    assert "Đơn vị chưa khai báo tài khoản ngân hàng" in html
    assert "báo quản trị viên" in html
    # another channel still works
    assert _create(client, csrf, channel="momo").status_code == 303


def test_other_channel_shows_reference_without_code(client: FlaskClient, csrf: str) -> None:
    response = _create(client, csrf, channel="payos")
    html = page(client.get(response.headers["Location"]))
    assert "qr.png" not in html
    assert "Mã đơn hàng" in html
    assert "cổng thanh toán" in html


def test_cancel_from_the_desk(client: FlaskClient, csrf: str, db: Database) -> None:
    _create(client, csrf)
    with db.read() as s:
        intent_id = s.scalars(select(PaymentIntent.id)).one()
    response = client.post(f"/cashier/intents/{intent_id}/cancel",
                           data={"csrf_token": csrf, "code": CODE})
    assert response.status_code == 303
    html = page(client.get(response.headers["Location"]))
    assert "Đã hủy mã thanh toán." in html
    assert "Đã hủy" in html
    again = client.post(f"/cashier/intents/{intent_id}/cancel",
                        data={"csrf_token": csrf, "code": CODE})
    assert again.status_code == 303  # cancelling twice is harmless


def test_cancel_paid_code_is_explained(client: FlaskClient, csrf: str, db: Database,
                                       clock: FixedClock) -> None:
    _create(client, csrf)
    with db.transaction() as s:
        intent = s.scalars(select(PaymentIntent)).one()
        record_payment(s, clock, PaymentEvent(
            provider="sepay", provider_txn_id="1", channel="vietqr", amount=TOTAL,
            status="succeeded", paid_at=clock.now(), reference=intent.reference),
            actor="test", reference_prefix="HS")
    response = client.post(f"/cashier/intents/{intent.id}/cancel",
                           data={"csrf_token": csrf, "code": CODE})
    assert response.status_code == 409
    assert "Mã này đã được thanh toán nên không hủy được" in page(response)


def test_paid_intent_page_says_paid(client: FlaskClient, csrf: str, db: Database,
                                    clock: FixedClock) -> None:
    location = _create(client, csrf).headers["Location"]
    with db.transaction() as s:
        intent = s.scalars(select(PaymentIntent)).one()
        record_payment(s, clock, PaymentEvent(
            provider="sepay", provider_txn_id="1", channel="vietqr", amount=TOTAL,
            status="succeeded", paid_at=clock.now(), memo=f"CT {intent.reference} NOP PHI"),
            actor="test", reference_prefix="HS")
    html = page(client.get(location))
    assert "Đã thanh toán" in html
    assert "state-paid" in html
    assert 'data-testid="paid-in-full"' in html
    assert 'data-testid="cash-form"' not in html


def test_expired_intent_page(client: FlaskClient, csrf: str, clock: FixedClock) -> None:
    location = _create(client, csrf).headers["Location"]
    clock.advance(timedelta(minutes=15))
    html = page(client.get(location))
    assert "Mã đã hết hạn. Tạo mã mới nếu công dân vẫn cần thanh toán." in html


def test_record_cash_from_the_desk(client: FlaskClient, csrf: str, db: Database) -> None:
    form = {"csrf_token": csrf, "amount": "180.000", "receipt_number": "BL-0042"}
    response = client.post(f"/cashier/dossiers/{CODE}/cash", data=form)
    assert response.status_code == 303
    html = page(client.get(response.headers["Location"]))
    assert f"Đã ghi nhận 180.000{NBSP}₫ tiền mặt, biên lai BL-0042." in html
    assert "Đã thanh toán đủ" in html
    assert "BL-0042" in html and "Tiền mặt" in html
    duplicate = client.post(f"/cashier/dossiers/{CODE}/cash", data=form)
    assert duplicate.status_code == 303
    assert "Biên lai BL-0042 đã được ghi nhận trước đó; không ghi thêm." in page(
        client.get(duplicate.headers["Location"]))
    with db.read() as s:
        assert len(s.scalars(select(Payment)).all()) == 1


@pytest.mark.parametrize(("form", "message"), [
    ({"amount": "180000", "receipt_number": ""}, "Chưa nhập số biên lai. Nhập số in trên biên lai"),
    ({"amount": "", "receipt_number": "BL-1"}, "Chưa nhập số tiền. Nhập số tiền đã nhận"),
    ({"amount": "8,5", "receipt_number": "BL-1"}, "Số tiền “8,5” không phải số đồng nguyên"),
    ({"amount": "8.00", "receipt_number": "BL-1"}, "Số tiền “8.00” không phải số đồng nguyên"),
    ({"amount": "200.000", "receipt_number": "BL-1"}, "Số tiền lớn hơn số còn phải nộp"),
])
def test_bad_cash_form_is_explained_and_kept(client: FlaskClient, csrf: str, db: Database,
                                             form: dict[str, str], message: str) -> None:
    before = counts(db)
    response = client.post(f"/cashier/dossiers/{CODE}/cash", data={"csrf_token": csrf, **form})
    assert response.status_code == 422
    html = page(response)
    assert message in html
    if form["receipt_number"]:
        assert f'value="{form["receipt_number"]}"' in html  # what was typed is kept
    assert counts(db) == before


def test_no_inline_script(client: FlaskClient, csrf: str) -> None:
    location = _create(client, csrf).headers["Location"]
    response = client.get(location)
    html = page(response)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, re.S)
    assert scripts and all(body.strip() == "" for body in scripts)
    assert 'src="/static/cashier.js"' in html
    assert not re.search(r"\son[a-z]+=", html), "no inline event handlers"
    assert "http://" not in html and "https://" not in html  # no CDN
    js = client.get("/static/cashier.js")
    assert js.status_code == 200 and b"setTimeout(poll, POLL_MS)" in js.data
    assert client.get("/static/cashier.css").status_code == 200


def test_every_desk_message_is_translated_and_says_what_next() -> None:
    for reason, key in desk.DESK_MESSAGES.items():
        vietnamese = desk.VI.get(key)
        assert vietnamese, f"{reason} has no Vietnamese text"
        assert vietnamese != key
        assert len(vietnamese.split(". ")) >= 2, f"{reason}: say what happened and what to do"


def test_typed_amounts() -> None:
    assert desk.parse_typed_amount("8000") == 8000
    assert desk.parse_typed_amount("8.000") == 8000
    assert desk.parse_typed_amount("180000") == 180000
    assert desk.parse_typed_amount("180.000") == 180000
    assert desk.parse_typed_amount(" 1.180.000 ₫ ") == 1180000
    assert desk.parse_typed_amount("180.000đ") == 180000
    assert desk.parse_typed_amount("180.000 VND") == 180000
    assert desk.parse_typed_amount("180 000") == 180000
    assert desk.parse_typed_amount("") is None
    assert desk.parse_typed_amount("  ") is None
    assert desk.parse_typed_amount(None) is None
    assert type(desk.parse_typed_amount("8.000")) is int


@pytest.mark.parametrize(("typed", "reason"), [
    ("8,5", "amount_format"), ("8.00", "amount_format"), ("8.0000", "amount_format"),
    ("180.00", "amount_format"), ("18.0000", "amount_format"), ("1,5", "amount_format"),
    ("8,000", "amount_format"), ("8.000,00", "amount_format"), ("08.000", "amount_format"),
    ("0800", "amount_format"), ("-5", "amount_format"), ("+5", "amount_format"),
    ("1e5", "amount_format"), ("١٢٣", "amount_format"), ("8.000.", "amount_format"),
    (".8000", "amount_format"), ("8 .000", "amount_format"), ("1đ000", "amount_format"),
    ("0", "amount_not_positive"), ("0.000", "amount_not_positive"),
    ("10.000.000.000.000.001", "amount_too_big"), ("99999999999999999", "amount_too_big"),
])
def test_typed_amounts_refused(typed: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        desk.parse_typed_amount(typed)
    assert desk.intents.reason_of(caught.value) == reason
    message = desk.DESK_MESSAGES[reason]
    assert desk.VI[message]  # explained in the desk's words


def test_amount_fields_show_vietnamese_grouping(client: FlaskClient, csrf: str) -> None:
    html = page(client.get(f"/cashier?code={CODE}"))
    cash = re.search(r'<input[^>]*data-testid="cash-amount"[^>]*>', html)
    assert cash is not None and 'value="180.000"' in cash.group(0)
    intent = re.search(r'<input[^>]*data-testid="intent-amount"[^>]*>', html)
    assert intent is not None and 'placeholder="180.000"' in intent.group(0)
    assert not re.search(r'value="180000"|placeholder="180000"', html)
    assert "180000" not in re.sub(r"<script.*?</script>", "", html, flags=re.S)


def test_cash_amount_in_the_vietnamese_form_is_recorded(client: FlaskClient, csrf: str,
                                                        db: Database) -> None:
    for typed, receipt in (("8.000", "BL-1"), ("8000", "BL-2")):
        response = client.post(f"/cashier/dossiers/{CODE}/cash",
                               data={"csrf_token": csrf, "amount": typed,
                                     "receipt_number": receipt})
        assert response.status_code == 303, page(response)
    with db.read() as s:
        assert sorted(s.scalars(select(Payment.amount))) == [8000, 8000]
    html = page(client.get(f"/cashier?code={CODE}"))
    cash = re.search(r'<input[^>]*data-testid="cash-amount"[^>]*>', html)
    assert cash is not None and 'value="164.000"' in cash.group(0)
