"""Draw a VietQR payload as a QR code: PNG (pillow) or SVG. Functions return bytes.

Error correction M (15 %: survives a smudged screen or a crease in paper; VietQR apps and the
NAPAS samples use it), quiet zone of 4 modules on every side (the QR standard's minimum).

Two sizes:
- ``"screen"``: 10 px per module, for the cashier's desk screen. A typical dynamic code
  (version 6-8, 41-49 modules) comes out at about 490-570 px square with its quiet zone.
- ``"print"``: 20 px per module with the PNG marked 600 dpi, i.e. about 0.85 mm per module:
  a version 7 code is about 45 mm across, large enough to scan from arm's length on a counter
  standee. The SVG is sized in millimetres at the same scale.
"""

from __future__ import annotations

import base64
import io
from typing import Literal

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

Size = Literal["screen", "print"]

QUIET_ZONE = 4
SCREEN_BOX_SIZE = 10
PRINT_BOX_SIZE = 20
PRINT_DPI = 600
SCREEN_DPI = 96
PRINT_MODULE_MM = PRINT_BOX_SIZE * 25.4 / PRINT_DPI  # 0.8467 mm


def qr_matrix(payload: str) -> list[list[bool]]:
    """The modules of the smallest QR code (error correction M) holding ``payload``.

    Rows of booleans, ``True`` for a dark module, quiet zone included.
    """
    if not isinstance(payload, str) or not payload:
        raise ValueError("payload: nothing to draw; pass the VietQR payload text")
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE, box_size=1)
    qr.add_data(payload)
    qr.make(fit=True)
    matrix: list[list[bool]] = [[bool(cell) for cell in row] for row in qr.get_matrix()]
    return matrix


def _box_size(size: Size, box_size: int | None) -> int:
    if box_size is not None:
        if isinstance(box_size, bool) or not isinstance(box_size, int) or box_size < 1:
            raise ValueError(f"box_size: must be a whole number of pixels >= 1, got {box_size!r}")
        return box_size
    if size == "screen":
        return SCREEN_BOX_SIZE
    if size == "print":
        return PRINT_BOX_SIZE
    raise ValueError(f"size: must be 'screen' or 'print', got {size!r}")


def render_image(
    payload: str, *, size: Size = "screen", box_size: int | None = None
) -> Image.Image:
    """A pillow image (mode ``L``, black on white) of the code."""
    scale = _box_size(size, box_size)
    matrix = qr_matrix(payload)
    n = len(matrix)
    data = bytes(0 if dark else 255 for row in matrix for dark in row)
    small = Image.frombytes("L", (n, n), data)
    return small.resize((n * scale, n * scale), Image.Resampling.NEAREST)


def render_png(payload: str, *, size: Size = "screen", box_size: int | None = None) -> bytes:
    """PNG bytes of the code; ``size`` picks the screen or print scale (see the module doc)."""
    image = render_image(payload, size=size, box_size=box_size)
    dpi = PRINT_DPI if size == "print" else SCREEN_DPI
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=True)
    return out.getvalue()


def render_svg(payload: str, *, size: Size = "screen", box_size: int | None = None) -> bytes:
    """SVG bytes of the code: one path of dark modules on a white square.

    The drawing is in module units (``viewBox``), so it scales crisply; ``width``/``height``
    are pixels for ``"screen"`` and millimetres for ``"print"``.
    """
    matrix = qr_matrix(payload)
    n = len(matrix)
    if size == "print" and box_size is None:
        width = f"{n * PRINT_MODULE_MM:.2f}mm"
    else:
        width = f"{n * _box_size(size, box_size)}"
    parts: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < n:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < n and row[x]:
                x += 1
            parts.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    svg = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width}" '
        f'height="{width}" viewBox="0 0 {n} {n}" shape-rendering="crispEdges">'
        f'<rect width="{n}" height="{n}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(parts)}"/></svg>\n'
    )
    return svg.encode("ascii")


def png_data_uri(payload: str, *, size: Size = "screen") -> str:
    """``data:image/png;base64,...`` for embedding the code in an HTML page."""
    return "data:image/png;base64," + base64.b64encode(render_png(payload, size=size)).decode()


__all__ = [
    "PRINT_BOX_SIZE",
    "PRINT_DPI",
    "QUIET_ZONE",
    "SCREEN_BOX_SIZE",
    "png_data_uri",
    "qr_matrix",
    "render_image",
    "render_png",
    "render_svg",
]
