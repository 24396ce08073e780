"""The receipt as a PDF (A5), whose Vietnamese text a PDF reader extracts as written.

Laid out with fpdf2 in DejaVu Sans, shipped in ``recon/receipts/fonts`` (Bitstream Vera
licence with DejaVu's public-domain changes, ``LICENSE-DejaVu.txt``): the PDF never depends on
the host's fonts. fpdf2 embeds the subset of glyphs used with its Unicode map, so copying or
extracting the text gives back the receipt's words, diacritics included.
"""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, MethodReturnValue, XPos, YPos

from recon.money import format_vnd
from recon.receipts.view import ReceiptView
from recon.vietqr.render import render_png

FONTS = Path(__file__).with_name("fonts")
FONT = "DejaVu"
WIDTH = 128.0  # mm: A5 (148 mm) less two margins of 10 mm
KIND_TITLES = {"phí": "Phí", "lệ phí": "Lệ phí"}


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


class _Receipt(FPDF):
    def line_of(self, label: str, value: str | None, *, bold: bool = False) -> None:
        if not value:
            return
        self.set_font(FONT, "", 9)
        self.cell(40, 5.5, _nfc(label))
        self.set_font(FONT, "B" if bold else "", 9)
        self.multi_cell(WIDTH - 40, 5.5, _nfc(value), align=Align.L, new_x=XPos.LMARGIN,
                        new_y=YPos.NEXT)


def render_pdf(view: ReceiptView, *, lookup_url: str | None = None) -> bytes:
    """The PDF of ``view``; ``lookup_url``: the public lookup page for this receipt (its QR)."""
    pdf = _Receipt(format=(148, 210), unit="mm")  # A5
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(auto=True, margin=10)
    pdf.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_title(_nfc(f"{view.title} {view.form_code} {view.series} {view.number_text}"))
    pdf.set_creator("recon")
    pdf.add_page()

    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(WIDTH - 30, 5, _nfc(view.collector), align=Align.L, new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    if view.collector_tax_code:
        pdf.cell(WIDTH - 30, 5, _nfc(f"Mã số thuế: {view.collector_tax_code}"),
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if lookup_url:
        qr = render_png(lookup_url, box_size=4)
        pdf.image(io.BytesIO(qr), x=148 - 10 - 26, y=8, w=26, h=26)
    pdf.set_y(max(pdf.get_y(), 30) + 2)
    pdf.set_font(FONT, "B", 13)
    pdf.cell(WIDTH, 7, _nfc(view.title), align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    pdf.cell(WIDTH, 5, _nfc(f"Ký hiệu mẫu: {view.form_code}   Ký hiệu: {view.series}   "
                            f"Số: {view.number_text}"),
             align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.cell(WIDTH, 5, _nfc(f"Thời điểm thu (giờ Việt Nam): {view.issued_at}"),
             align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)

    pdf.line_of("Người nộp:", view.payer, bold=True)
    pdf.line_of("Mã hồ sơ:", view.dossier_code)
    pdf.line_of("Thủ tục:", view.procedure)
    pdf.ln(2)

    widths = (16.0, 77.0, 35.0)
    pdf.set_font(FONT, "B", 9)
    for width, head in zip(widths, ("Loại", "Khoản thu", "Số tiền"), strict=True):
        pdf.cell(width, 6, _nfc(head), border=1, align=Align.C)
    pdf.ln()
    for line in view.lines:
        pdf.set_font(FONT, "", 9)
        text = _nfc(f"{line.name}\nBằng chữ: {line.words}")
        measured = pdf.multi_cell(widths[1], 5, text, dry_run=True,
                                  output=MethodReturnValue.HEIGHT)
        height = max(measured if isinstance(measured, float | int) else 10.0, 10.0)
        if pdf.will_page_break(height):
            pdf.add_page()
        top = pdf.get_y()
        pdf.cell(widths[0], height, _nfc(KIND_TITLES.get(line.kind, line.kind)), border=1,
                 align=Align.C)
        pdf.multi_cell(widths[1], 5, text, border=1, align=Align.L, new_x=XPos.RIGHT,
                       new_y=YPos.TOP)
        pdf.set_xy(10 + widths[0] + widths[1], top)
        pdf.cell(widths[2], height, _nfc(format_vnd(line.amount)), border=1, align=Align.R)
        pdf.set_xy(10, top + height)
    pdf.set_font(FONT, "B", 9)
    pdf.cell(widths[0] + widths[1], 6, _nfc("Tổng cộng"), border=1)
    pdf.cell(widths[2], 6, _nfc(format_vnd(view.total)), border=1, align=Align.R,
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.line_of("Tổng tiền phí:", format_vnd(view.total_of("phí")))
    pdf.line_of("Tổng tiền lệ phí:", format_vnd(view.total_of("lệ phí")))
    pdf.line_of("Số tiền bằng chữ:", view.total_words, bold=True)
    pdf.line_of("Hình thức thanh toán:", view.method_text)
    pdf.line_of("Mã tham chiếu:", view.reference)
    pdf.ln(2)
    if view.signed:
        pdf.line_of("Chữ ký số:", "Đã ký số, chữ ký hợp lệ")
        pdf.line_of("Người ký:", view.signer)
        pdf.line_of("Thời điểm ký:", view.signing_time)
    else:
        pdf.line_of("Chữ ký số:", "Chữ ký số không hợp lệ")
    pdf.line_of("Mã tra cứu:", view.lookup_code, bold=True)
    if lookup_url:
        pdf.line_of("Tra cứu tại:", lookup_url)
    return bytes(pdf.output())
