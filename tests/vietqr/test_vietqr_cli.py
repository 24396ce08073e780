"""`recon vietqr encode | decode | banks` through click's CliRunner."""

from __future__ import annotations

import io
import json
from pathlib import Path

import zxingcpp
from click.testing import CliRunner
from PIL import Image

from recon.cli import cli
from recon.vietqr.codec import VietQRRequest, crc16_ccitt_false, decode, encode, format_crc

V_DYNAMIC = (
    "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA53037045406"
    "1800005802VN62340107NPS68690819thanh toan don hang63042E2E"
)
V_LOWER_CRC = (
    "00020101021138540010A00000072701240006970422011003523509170208QRIBFTTA53037045802VN"
    "630479db"
)


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["vietqr", *args], input=stdin)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_encode_prints_the_payload_on_the_last_line() -> None:
    code, out, _ = run("encode", "--bin", "970403", "--account", "0011012345678",
                       "--amount", "180000", "--purpose", "thanh toán đơn hàng",
                       "--bill-number", "NPS6869")
    assert code == 0
    assert out.splitlines()[-1] == V_DYNAMIC


def test_encode_static_card_and_files(tmp_path: Path) -> None:
    png, svg = tmp_path / "code.png", tmp_path / "code.svg"
    code, out, err = run("encode", "--bin", "970418", "--account", "9704180123456789",
                         "--static", "--card", "--png", str(png), "--svg", str(svg),
                         "--size", "print")
    assert code == 0, err
    payload = out.splitlines()[-1]
    assert payload == encode(VietQRRequest(bin="970418", account="9704180123456789",
                                           static=True, card=True))
    result = decode(payload)
    assert result.initiation == "static" and result.service == "QRIBFTTC"
    image = Image.open(io.BytesIO(png.read_bytes()))
    assert [b.text for b in zxingcpp.read_barcodes(image)] == [payload]
    assert svg.read_bytes().startswith(b"<?xml")
    assert "Wrote PNG" in err


def test_encode_bad_amount_says_what_to_do() -> None:
    for bad in ("150.000", "150,000", "1e5", "-5", "0", "12.5"):
        code, out, err = run("encode", "--bin", "970436", "--account", "1", "--amount", bad)
        assert code == 1, bad
        assert out == ""
        assert "amount" in err
        assert "What to do:" in err


def test_encode_amount_accepts_digits_only() -> None:
    code, out, _ = run("encode", "--bin", "970436", "--account", "1", "--amount", " 150000 ")
    assert code == 0
    assert decode(out.splitlines()[-1]).amount == 150000


def test_encode_unknown_bank_points_to_the_directory() -> None:
    code, _, err = run("encode", "--bin", "970499", "--account", "123")
    assert code == 1
    assert "bin: 970499 is not in the bank directory" in err
    assert "recon vietqr banks" in err


def test_encode_too_long_purpose_is_refused_not_truncated() -> None:
    code, out, err = run("encode", "--bin", "970436", "--account", "123",
                         "--purpose", "Thanh toán lệ phí hồ sơ số 12")
    assert code == 1
    assert out == ""
    assert "purpose:" in err and "25" in err


def test_encode_unwritable_file(tmp_path: Path) -> None:
    code, _, err = run("encode", "--bin", "970436", "--account", "123",
                       "--png", str(tmp_path / "missing" / "x.png"))
    assert code == 1
    assert "cannot write the PNG" in err


def test_decode_prints_the_documented_json() -> None:
    code, out, _ = run("decode", V_DYNAMIC)
    assert code == 0
    assert json.loads(out) == {
        "valid": True, "initiation": "dynamic", "bin": "970403", "bank": "Sacombank",
        "account": "0011012345678", "service": "QRIBFTTA", "amount": 180000,
        "purpose": "thanh toan don hang", "bill_number": "NPS6869", "reference_label": None,
        "crc": "2E2E", "errors": [],
    }


def test_decode_lowercase_crc_and_stdin() -> None:
    code, out, _ = run("decode", "-", stdin=V_LOWER_CRC + "\n")
    assert code == 0
    data = json.loads(out)
    assert data["valid"] is True
    assert data["crc"] == "79db"
    assert data["amount"] is None


def test_decode_invalid_exits_1_with_errors_naming_fields() -> None:
    code, out, _ = run("decode", V_DYNAMIC[:-4] + "2E2F")
    assert code == 1
    data = json.loads(out)
    assert data["valid"] is False
    assert data["errors"][0].startswith("63 (CRC)")


def test_decode_not_vietqr() -> None:
    body = ("000201010212" "26280010A0000007750110010453124653037045406180000" "5802VN"
            "6304")
    payload = body + format_crc(crc16_ccitt_false(body))
    code, out, _ = run("decode", payload)
    assert code == 1
    assert json.loads(out)["errors"][0].startswith("not a VietQR transfer code")


def test_decode_keeps_non_ascii_readable() -> None:
    # A payload carrying "đ" (which VietQR forbids): the error quotes it as it is.
    body = ("00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA"
            "53037045802VN62060802đa6304")
    code, out, _ = run("decode", body + format_crc(crc16_ccitt_false(body)))
    assert code == 1
    assert "'đ'" in out
    assert "\\u0111" not in out


def test_banks_table_and_json() -> None:
    code, out, _ = run("banks")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["BIN", "SHORT", "NAME", "NAME"]
    vcb = next(line for line in lines if line.startswith("970436"))
    assert "Vietcombank" in vcb and "Ngân hàng TMCP Ngoại Thương Việt Nam" in vcb
    code, out, _ = run("banks", "--json")
    assert code == 0
    rows = json.loads(out)
    assert {"bin": "970422", "short_name": "MB Bank"}.items() <= next(
        r for r in rows if r["bin"] == "970422").items()
    assert "Ngân hàng" in out  # ensure_ascii=False
