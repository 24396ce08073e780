"""Rendering: every PNG (and the SVG, rasterised) reads back to the exact payload."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from recon.vietqr.codec import VietQRRequest, encode
from recon.vietqr.render import (
    PRINT_BOX_SIZE,
    PRINT_DPI,
    QUIET_ZONE,
    SCREEN_BOX_SIZE,
    png_data_uri,
    qr_matrix,
    render_png,
    render_svg,
)

V_DYNAMIC = (
    "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA53037045406"
    "1800005802VN62340107NPS68690819thanh toan don hang63042E2E"
)
V_LOWER_CRC = (
    "00020101021138540010A00000072701240006970422011003523509170208QRIBFTTA53037045802VN"
    "630479db"
)
LONGEST = encode(VietQRRequest(
    bin="970436", account="ABCDEFGHIJ123456789", amount=9_999_999_999_999,
    bill_number="B" * 25, reference_label="R" * 25, terminal_label="T" * 25, purpose="P" * 8,
    merchant_name="N" * 25, merchant_city="C" * 15, mcc="9399",
))
PAYLOADS = [
    V_DYNAMIC,
    V_LOWER_CRC,
    encode(VietQRRequest(bin="970418", account="9704180123456789", card=True, static=True)),
    encode(VietQRRequest(bin="970436", account="1012345678", amount=150000,
                         purpose="HS7K3M9QX2RP Lệ phí hồ sơ")),
    LONGEST,
]


def read_back(image: Image.Image) -> list[zxingcpp.Barcode]:
    return [b for b in zxingcpp.read_barcodes(image) if b.format == zxingcpp.BarcodeFormat.QRCode]


def test_longest_payload_is_really_the_longest() -> None:
    assert len(LONGEST) == 276


@pytest.mark.parametrize("size", ["screen", "print"])
@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: f"{len(p)}ch-{p[-4:]}")
def test_png_reads_back_to_the_exact_payload(payload: str, size: str) -> None:
    data = render_png(payload, size=size)  # type: ignore[arg-type]
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    found = read_back(image)
    assert [b.text for b in found] == [payload]
    assert found[0].ec_level == "M"
    modules = len(qr_matrix(payload))
    box = SCREEN_BOX_SIZE if size == "screen" else PRINT_BOX_SIZE
    assert image.size == (modules * box, modules * box)
    if size == "print":
        assert round(image.info["dpi"][0]) == PRINT_DPI


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: f"{len(p)}ch-{p[-4:]}")
def test_quiet_zone_is_four_white_modules(payload: str) -> None:
    image = Image.open(io.BytesIO(render_png(payload))).convert("L")
    quiet = QUIET_ZONE * SCREEN_BOX_SIZE
    width, height = image.size
    for box in ((0, 0, width, quiet), (0, height - quiet, width, height),
                (0, 0, quiet, height), (width - quiet, 0, width, height)):
        assert image.crop(box).getextrema() == (255, 255)
    # ... and the finder pattern starts right after it.
    assert image.getpixel((quiet, quiet)) == 0
    assert image.getpixel((quiet - 1, quiet - 1)) == 255


def rasterise_svg(svg: bytes, scale: int = 8) -> Image.Image:
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    _, _, w, h = (int(v) for v in root.attrib["viewBox"].split())
    image = Image.new("L", (w * scale, h * scale), 255)
    draw = ImageDraw.Draw(image)
    path = root.find(f"{ns}path")
    assert path is not None
    for x, y, run in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", path.attrib["d"]):
        x0, y0 = int(x) * scale, int(y) * scale
        draw.rectangle((x0, y0, x0 + int(run) * scale - 1, y0 + scale - 1), fill=0)
    return image


@pytest.mark.parametrize("size", ["screen", "print"])
@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: f"{len(p)}ch-{p[-4:]}")
def test_svg_reads_back_to_the_exact_payload(payload: str, size: str) -> None:
    svg = render_svg(payload, size=size)  # type: ignore[arg-type]
    assert [b.text for b in read_back(rasterise_svg(svg))] == [payload]
    root = ET.fromstring(svg)
    if size == "print":
        assert root.attrib["width"].endswith("mm")
    else:
        assert int(root.attrib["width"]) == len(qr_matrix(payload)) * SCREEN_BOX_SIZE


def test_data_uri() -> None:
    uri = png_data_uri(V_DYNAMIC)
    assert uri.startswith("data:image/png;base64,")


def test_custom_box_size_and_bad_input() -> None:
    image = Image.open(io.BytesIO(render_png(V_DYNAMIC, box_size=8)))
    assert image.size[0] == len(qr_matrix(V_DYNAMIC)) * 8
    assert [b.text for b in read_back(image)] == [V_DYNAMIC]
    with pytest.raises(ValueError, match="payload"):
        render_png("")
    with pytest.raises(ValueError, match="box_size"):
        render_png(V_DYNAMIC, box_size=0)
    with pytest.raises(ValueError, match="size"):
        render_png(V_DYNAMIC, size="poster")  # type: ignore[arg-type]
