"""What a receipt shows, read back from its signed XML, and its PDF: Vietnamese text that a
PDF text extractor (pypdf, independent of the writer fpdf2) gives back as written."""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from recon.receipts.document import FeeItem, Party, ReceiptContent, build, to_bytes
from recon.receipts.issuing import LOOKUP_CODE_LENGTH, lookup_code
from recon.receipts.lookup import normalise
from recon.receipts.pdf import render_pdf
from recon.receipts.signing import Signer, sign
from recon.receipts.view import read
from tests.receipts.keys import PASSWORD, make_keys

SIGNED_AT = datetime(2026, 11, 26, 3, 4, 5, tzinfo=UTC)  # 10:04:05 in Huế


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    p12, _pem = make_keys(tmp_path_factory.mktemp("keys"))
    content = ReceiptContent(
        form_code="EBL01", series="26T", number=105, signed_at=SIGNED_AT,
        collector=Party("Sở Tư pháp tỉnh Huế", "3300101234"),
        payer=Party("Nguyễn Thị Hoà"),
        items=(FeeItem("phí", "Phí thẩm định hồ sơ", 100_000),
               FeeItem("lệ phí", "Lệ phí cấp giấy chứng nhận", 80_000)),
        method="QR", provider_reference="FT26330123456",
        dossier_code="000.00.01.H57-261126-0001", procedure="Cấp phiếu lý lịch tư pháp",
        lookup_code="K7Q2M9XW4PAB")
    return to_bytes(sign(build(content), Signer.from_p12(p12, PASSWORD), SIGNED_AT))


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return unicodedata.normalize("NFC", text)


def test_the_view_reads_every_part_of_the_signed_receipt(signed: bytes) -> None:
    view = read(signed)
    assert (view.form_code, view.series, view.number_text) == ("EBL01", "26T", "00000105")
    assert view.title == "BIÊN LAI THU PHÍ, LỆ PHÍ"
    assert view.issued_at == "26/11/2026 10:04:05"  # Vietnam time
    assert (view.collector, view.collector_tax_code) == ("Sở Tư pháp tỉnh Huế", "3300101234")
    assert view.payer == "Nguyễn Thị Hoà"
    assert [(line.kind, line.amount) for line in view.lines] == [("phí", 100_000),
                                                                 ("lệ phí", 80_000)]
    assert (view.total_of("phí"), view.total_of("lệ phí")) == (100_000, 80_000)
    assert view.lines[1].words == "Tám mươi nghìn đồng"
    assert view.total_words == "Một trăm tám mươi nghìn đồng"
    assert (view.method_text, view.reference) == ("Chuyển khoản (mã QR)", "FT26330123456")
    assert view.lookup_code == "K7Q2M9XW4PAB"
    assert view.signed and view.signer and "Test receipts signer" in view.signer
    assert view.signing_time == "26/11/2026 10:04:05"


def test_a_changed_byte_shows_the_signature_as_invalid(signed: bytes) -> None:
    forged = signed.replace("Nguyễn Thị Hoà".encode(), "Nguyễn Thị Hoa".encode())
    assert forged != signed
    view = read(forged)
    assert view.payer == "Nguyễn Thị Hoa" and not view.signed and view.signer is None


def test_the_pdf_is_a5_and_its_vietnamese_text_extracts(signed: bytes) -> None:
    pdf = render_pdf(read(signed), lookup_url="https://thutuc.example.vn/tra-cuu-bien-lai"
                                              "?ma=K7Q2M9XW4PAB")
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == \
        (148, 210)  # A5 in mm
    text = _text(pdf)
    for expected in ("BIÊN LAI THU PHÍ, LỆ PHÍ", "Sở Tư pháp tỉnh Huế", "Mã số thuế: 3300101234",
                     "Nguyễn Thị Hoà", "Cấp phiếu lý lịch tư pháp", "Phí thẩm định hồ sơ",
                     "Lệ phí cấp giấy chứng nhận", "Bằng chữ: Tám mươi nghìn đồng",
                     "Một trăm tám mươi nghìn đồng", "180.000", "EBL01", "26T", "00000105",
                     "26/11/2026 10:04:05", "Chuyển khoản (mã QR)", "FT26330123456",
                     "K7Q2M9XW4PAB", "Đã ký số", "Thời điểm ký: 26/11/2026 10:04:05",
                     "Tổng tiền phí: 100.000", "Tổng tiền lệ phí: 80.000"):
        assert expected in text, (expected, text)
    assert reader.pages[0].images, "the QR to the public lookup is drawn"


def test_the_pdf_of_a_forged_receipt_says_its_signature_is_invalid(signed: bytes) -> None:
    forged = signed.replace(b"<STien>80000</STien>", b"<STien>8000</STien>")
    text = _text(render_pdf(read(forged)))
    assert "Chữ ký số không hợp lệ" in text and "Đã ký số" not in text


def test_lookup_codes_are_long_random_and_unambiguous() -> None:
    codes = {lookup_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == LOOKUP_CODE_LENGTH >= 10 for c in codes)
    assert not set("".join(codes)) & set("01OI")
    assert normalise(" k7q2-m9xw 4pab ") == "K7Q2M9XW4PAB"
    assert normalise("K7Q2") is None and normalise("'; drop table receipts") is None
