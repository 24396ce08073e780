"""The QR endpoints: every PNG reads back (zxing-cpp) to the intent's exact payload; cached."""

from __future__ import annotations

import io
from typing import Any

import pytest
import zxingcpp
from flask.testing import FlaskClient
from PIL import Image

from recon.clock import FixedClock
from recon.db import Database
from recon.payments import intents
from recon.vietqr import render
from recon.vietqr.codec import decode
from tests.intents.helpers import ACCOUNT, BIN, bearer, intents_url, js, seed


@pytest.fixture
def cashier(db: Database, clock: FixedClock, make_token: Any) -> dict[str, str]:
    seed(db, clock)
    intents.QR_CACHE.clear()
    return bearer(make_token("cashier"))


def read_png(data: bytes) -> str:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, "exactly one code in the image"
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    text: str = found[0].text
    return text


@pytest.mark.parametrize("amount", [1, 999, 100000, 180000])
@pytest.mark.parametrize("size", ["screen", "print"])
def test_png_reads_back_to_the_payload(client: FlaskClient, cashier: dict[str, str],
                                       amount: int, size: str) -> None:
    body = js(client.post(intents_url(), json={"channel": "vietqr", "amount": amount},
                       headers=cashier))
    response = client.get(f"{body['qr_png_url']}?size={size}", headers=cashier)
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    text = read_png(response.data)
    assert text == body["qr_payload"]
    decoded = decode(text)
    assert decoded.valid
    assert (decoded.bin, decoded.account, decoded.amount, decoded.purpose) == (
        BIN, ACCOUNT, amount, body["reference"])


def test_print_is_larger_than_screen(client: FlaskClient, cashier: dict[str, str]) -> None:
    body = js(client.post(intents_url(), json={"channel": "vietqr"}, headers=cashier))
    screen = Image.open(io.BytesIO(client.get(body["qr_png_url"], headers=cashier).data))
    printed = Image.open(io.BytesIO(
        client.get(body["qr_png_url"] + "?size=print", headers=cashier).data))
    assert printed.size[0] == 2 * screen.size[0]


def test_svg_is_the_rendered_code(client: FlaskClient, cashier: dict[str, str]) -> None:
    body = js(client.post(intents_url(), json={"channel": "vietqr"}, headers=cashier))
    response = client.get(body["qr_svg_url"], headers=cashier)
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.data == render.render_svg(body["qr_payload"])
    printed = client.get(body["qr_svg_url"] + "?size=print", headers=cashier)
    assert b'mm"' in printed.data


def test_rendered_once_then_cached(client: FlaskClient, cashier: dict[str, str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = render.render_png

    def counting(payload: str, **kwargs: Any) -> bytes:
        calls.append(payload)
        return real(payload, **kwargs)

    monkeypatch.setattr(intents, "render_png", counting)
    body = js(client.post(intents_url(), json={"channel": "vietqr"}, headers=cashier))
    first = client.get(body["qr_png_url"], headers=cashier)
    second = client.get(body["qr_png_url"], headers=cashier)
    assert first.data == second.data
    assert len(calls) == 1
    client.get(body["qr_png_url"] + "?size=print", headers=cashier)
    assert len(calls) == 2  # another size is another image


def test_http_caching_headers(client: FlaskClient, cashier: dict[str, str]) -> None:
    body = js(client.post(intents_url(), json={"channel": "vietqr"}, headers=cashier))
    response = client.get(body["qr_png_url"], headers=cashier)
    etag = response.headers["ETag"]
    assert etag.startswith('"') and len(etag) > 10
    assert "immutable" in response.headers["Cache-Control"]
    assert "private" in response.headers["Cache-Control"]
    again = client.get(body["qr_png_url"], headers={**cashier, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    printed = client.get(body["qr_png_url"] + "?size=print", headers=cashier)
    assert printed.headers["ETag"] != etag


def test_bad_size_and_no_code(client: FlaskClient, cashier: dict[str, str]) -> None:
    body = js(client.post(intents_url(), json={"channel": "vietqr"}, headers=cashier))
    bad = client.get(body["qr_png_url"] + "?size=huge", headers=cashier)
    assert bad.status_code == 422
    assert js(bad)["errors"][0]["field"] == "size"
    momo = js(client.post(intents_url(), json={"channel": "momo"}, headers=cashier))
    for kind in ("png", "svg"):
        response = client.get(f"/api/v1/payment-intents/{momo['id']}/qr.{kind}",
                              headers=cashier)
        assert response.status_code == 404
        assert "no QR code" in js(response)["message"]
    assert client.get("/api/v1/payment-intents/999/qr.png", headers=cashier).status_code == 404


def test_cache_is_bounded_lru() -> None:
    cache = intents.QRCache(maxsize=2)
    payloads = [
        "00020101021138540010A00000072701240006970422011003523509170208QRIBFTTA53037045802VN"
        "630479db",
        "00020101021138580010A000000727012800069704070114190304136010180208QRIBFTTA5303704"
        "5802VN63040283",
    ]
    a = cache.get(1, payloads[0], "png", "screen")
    cache.get(2, payloads[1], "png", "screen")
    assert cache.get(1, payloads[0], "png", "screen") is a  # hit, and now most recent
    cache.get(3, payloads[1], "svg", "screen")  # evicts intent 2
    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (1, 3)
    cache.get(2, payloads[1], "png", "screen")
    assert cache.misses == 4
