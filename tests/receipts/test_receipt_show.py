"""Showing a receipt: the staff's print view and PDF, the desk's "In biên lai" after payment,
and the public lookup by the code printed on it (no login; a wrong code reveals nothing;
rate-limited per address)."""

from __future__ import annotations

import io
import re
import unicodedata
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import func, select

from recon.clock import FixedClock
from recon.db import Database
from recon.models import Receipt, ReceiptLookupFailure
from recon.receipts.signing import verify
from tests.receipts.keys import PASSWORD, make_keys
from tests.webhooks.whkit import CODE, Hooks, is_accepted, make_hooks

PUBLIC = "https://dichvucong.example.vn/tra-cuu-bien-lai"


@pytest.fixture(scope="module")
def p12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("keys"))[0]


def _hooks(env: dict[str, str], db: Database, clock: FixedClock, p12: Path,
           **extra: str) -> Hooks:
    return make_hooks(env, db, clock, RECON_RECEIPTS="on", RECON_RECEIPT_P12_FILE=str(p12),
                      RECON_RECEIPT_P12_PASSWORD=PASSWORD, RECON_RECEIPT_TAX_CODE="3300101234",
                      RECON_RECEIPT_LOOKUP_URL=PUBLIC, **extra)


def _log_in(client: FlaskClient, make_user: object, role: str) -> None:
    password = make_user(f"{role}7", role)  # type: ignore[operator]
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    got = client.post("/login", data={"username": f"{role}7", "password": password,
                                      "csrf_token": csrf})
    assert got.status_code == 302


def _csrf(client: FlaskClient) -> str:
    with client.session_transaction() as sess:
        return str(sess["csrf"])


def _paid(hooks: Hooks) -> Receipt:
    intent = hooks.intent("sepay")
    assert is_accepted("sepay", hooks.send(hooks.call("sepay", intent)))
    with hooks.db.read() as s:
        return s.scalars(select(Receipt)).one()


def _text(html: str) -> str:
    return unicodedata.normalize("NFC", re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_each_receipt_stores_the_lookup_code_it_prints(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path) -> None:
    receipt = _paid(_hooks(env, db, clock, p12))
    assert receipt.lookup_code and len(receipt.lookup_code) == 12
    assert f"<MTCuu>{receipt.lookup_code}</MTCuu>".encode() in (receipt.document or "").encode()
    verify((receipt.document or "").encode())


def test_the_print_view_shows_every_part_and_the_qr_of_the_lookup(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path,
        make_user: object) -> None:
    hooks = _hooks(env, db, clock, p12)
    receipt = _paid(hooks)
    _log_in(hooks.client, make_user, "finance")
    got = hooks.client.get(f"/receipts/{receipt.id}")
    assert got.status_code == 200, got.get_data()[:300]
    html = got.get_data(as_text=True)
    text = _text(html)
    for expected in ("BIÊN LAI THU PHÍ, LỆ PHÍ", "EBL01", receipt.series, "00000001",
                     "Mã số thuế", "3300101234", "Người nộp", CODE, "Bằng chữ",
                     "đồng", "Tổng tiền phí", "Tổng tiền lệ phí", "Chuyển khoản (mã QR)",
                     "Đã ký số, chữ ký hợp lệ", "Mã tra cứu", receipt.lookup_code or "-",
                     f"{PUBLIC}?ma={receipt.lookup_code}", "Thời điểm thu (giờ Việt Nam)"):
        assert expected in text, expected
    assert 'data-testid="receipt-qr"' in html and "data:image/png;base64," in html
    assert "receipt.css" in html
    css = hooks.client.get("/static/receipt.css").get_data(as_text=True)
    assert "size: A5" in css and "@media print" in css
    pdf = hooks.client.get(f"/receipts/{receipt.id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    pdf_text = unicodedata.normalize("NFC", "".join(
        page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf.get_data())).pages))
    assert "BIÊN LAI THU PHÍ, LỆ PHÍ" in pdf_text and (receipt.lookup_code or "-") in pdf_text
    assert hooks.client.get(f"/receipts/{receipt.id + 1}").status_code == 404


def test_the_desk_prints_the_receipt_after_payment(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path,
        make_user: object) -> None:
    hooks = _hooks(env, db, clock, p12)
    hooks.dossier(CODE)
    _log_in(hooks.client, make_user, "cashier")
    page = hooks.client.get(f"/cashier?code={CODE}").get_data(as_text=True)
    assert 'data-testid="print-last-receipt"' not in page  # nothing paid yet
    amount = re.search(r'data-testid="outstanding"[^>]*>([^<]+)<', page)
    assert amount is not None
    got = hooks.client.post(f"/cashier/dossiers/{CODE}/cash", data={
        "amount": amount.group(1).replace("₫", "").strip(), "receipt_number": "BL-0001",
        "csrf_token": _csrf(hooks.client)}, follow_redirects=True)
    page = got.get_data(as_text=True)
    assert got.status_code == 200 and 'data-testid="paid-in-full"' in page
    with db.read() as s:
        receipt = s.scalars(select(Receipt)).one()
    assert f'href="/receipts/{receipt.id}"' in page and "In biên lai" in page
    shown = hooks.client.get(f"/receipts/{receipt.id}")
    assert shown.status_code == 200 and "Tiền mặt" in shown.get_data(as_text=True)
    # the desk's print view has no link to the XML download, which is finance's
    assert f"/finance/receipts/{receipt.id}.xml" not in shown.get_data(as_text=True)


def test_a_paid_slip_opens_its_receipt(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path,
        make_user: object) -> None:
    hooks = _hooks(env, db, clock, p12)
    intent = hooks.intent("sepay")
    _log_in(hooks.client, make_user, "cashier")
    waiting = hooks.client.get(f"/cashier?code={CODE}&intent={intent.id}").get_data(
        as_text=True)
    assert re.search(r'data-testid="print-receipt"\s+hidden', waiting)
    early = hooks.client.get(f"/cashier/intents/{intent.id}/receipt")
    assert early.status_code == 200 and "đang được phát hành" in early.get_data(as_text=True)
    assert is_accepted("sepay", hooks.send(hooks.call("sepay", intent)))
    paid = hooks.client.get(f"/cashier?code={CODE}&intent={intent.id}").get_data(as_text=True)
    assert re.search(r'data-testid="print-receipt">', paid)  # shown, no longer hidden
    got = hooks.client.get(f"/cashier/intents/{intent.id}/receipt")
    assert got.status_code == 200 and 'data-testid="receipt"' in got.get_data(as_text=True)
    assert hooks.client.get(f"/cashier/intents/{intent.id + 99}/receipt").status_code == 404


def test_without_receipts_the_desk_offers_no_receipt(
        env: dict[str, str], db: Database, clock: FixedClock, make_user: object) -> None:
    hooks = make_hooks(env, db, clock)
    intent = hooks.intent("sepay")
    assert is_accepted("sepay", hooks.send(hooks.call("sepay", intent)))
    _log_in(hooks.client, make_user, "cashier")
    page = hooks.client.get(f"/cashier?code={CODE}&intent={intent.id}").get_data(as_text=True)
    assert "print-receipt" not in page and "In biên lai" not in page


def test_the_public_lookup_shows_the_receipt_without_login(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path) -> None:
    hooks = _hooks(env, db, clock, p12)
    receipt = _paid(hooks)
    code = receipt.lookup_code or ""
    form = hooks.client.get("/tra-cuu-bien-lai")
    assert form.status_code == 200 and "Tra cứu biên lai" in form.get_data(as_text=True)
    typed = f" {code[:4].lower()}-{code[4:8]} {code[8:]} "  # as a person may type it
    got = hooks.client.get("/tra-cuu-bien-lai", query_string={"ma": typed})
    assert got.status_code == 200
    text = _text(got.get_data(as_text=True))
    assert "BIÊN LAI THU PHÍ, LỆ PHÍ" in text and CODE in text and code in text
    for name, value in (("Content-Security-Policy", "frame-ancestors 'none'"),
                        ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"),
                        ("Cache-Control", "no-store")):
        assert value in got.headers.get(name, ""), name
    pdf = hooks.client.get(f"/tra-cuu-bien-lai/{code}.pdf")
    assert pdf.status_code == 200 and pdf.get_data().startswith(b"%PDF-")
    xml = hooks.client.get(f"/tra-cuu-bien-lai/{code}.xml")
    assert xml.status_code == 200 and xml.get_data() == (receipt.document or "").encode()
    assert verify(xml.get_data()).subject
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(ReceiptLookupFailure)) == 0


def test_a_wrong_code_reveals_nothing(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path) -> None:
    hooks = _hooks(env, db, clock, p12)
    receipt = _paid(hooks)
    code = receipt.lookup_code or ""
    near = code[:-1] + ("A" if code[-1] != "A" else "B")  # one character off
    answers = []
    for wrong in (near, "ZZZZZZZZZZZZ", "short", "'; select *", str(receipt.id)):
        got = hooks.client.get("/tra-cuu-bien-lai", query_string={"ma": wrong})
        assert got.status_code == 404, wrong
        html = got.get_data(as_text=True)
        assert "Không có biên lai nào có mã tra cứu này" in html
        assert CODE not in html and "BIÊN LAI THU PHÍ" not in html
        answers.append(html.replace(wrong.replace("'", "&#39;"), "?"))
    assert len(set(answers[:2])) == 1  # a near code and a far one: the same page
    for path in (f"/tra-cuu-bien-lai/{near}.pdf", f"/tra-cuu-bien-lai/{near}.xml"):
        assert hooks.client.get(path).status_code == 404
    listing = hooks.client.get("/tra-cuu-bien-lai/")  # no listing: an unknown page (to login)
    assert listing.status_code in (302, 404) and code not in listing.get_data(as_text=True)


def test_wrong_codes_are_rate_limited_per_address(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path) -> None:
    hooks = _hooks(env, db, clock, p12, RECON_RECEIPT_LOOKUP_MAX_FAILURES="3",
                   RECON_RECEIPT_LOOKUP_WINDOW_SECONDS="600")
    code = _paid(hooks).lookup_code or ""
    one = {"REMOTE_ADDR": "203.0.113.7"}
    for attempt in range(3):
        got = hooks.client.get("/tra-cuu-bien-lai", query_string={"ma": f"WRONG{attempt}XXXXX"},
                               environ_base=one)
        assert got.status_code == 404
    # past the limit even the right code is refused from that address (so the refusal
    # itself tells nothing), with when to come back
    for path in (f"/tra-cuu-bien-lai?ma={code}", f"/tra-cuu-bien-lai/{code}.pdf",
                 f"/tra-cuu-bien-lai/{code}.xml"):
        refused = hooks.client.get(path, environ_base=one)
        assert refused.status_code == 429, path
        assert int(refused.headers["Retry-After"]) == 600
        assert "BIÊN LAI THU PHÍ" not in refused.get_data(as_text=True)
    assert "quá nhiều lần" in hooks.client.get(
        f"/tra-cuu-bien-lai?ma={code}", environ_base=one).get_data(as_text=True)
    other = hooks.client.get(f"/tra-cuu-bien-lai?ma={code}",
                             environ_base={"REMOTE_ADDR": "203.0.113.8"})
    assert other.status_code == 200  # another address is not held back
    clock.advance(timedelta(seconds=601))
    assert hooks.client.get(f"/tra-cuu-bien-lai?ma={code}", environ_base=one).status_code == 200


def test_a_wrong_lookup_limit_stops_the_app_at_start(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path) -> None:
    with pytest.raises(ValueError, match="RECON_RECEIPT_LOOKUP_MAX_FAILURES"):
        _hooks(env, db, clock, p12, RECON_RECEIPT_LOOKUP_MAX_FAILURES="ten")
