"""The receipt XML: valid against our schema (xmlschema), signed the Vietnamese way, and every
signature verified by our verifier AND by xmlsec1 (an independent implementation); one changed
byte anywhere in the signed parts makes both refuse."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from recon.errors import ConfigurationError
from recon.receipts.document import SCHEMA_PATH, FeeItem, Party, ReceiptContent, build, to_bytes
from recon.receipts.signing import DS, SignatureInvalid, Signer, sign, verify
from tests.receipts.keys import PASSWORD, make_keys

SIGNED_AT = datetime(2026, 11, 26, 3, 4, 5, tzinfo=UTC)  # 10:04:05 in Huế
XMLSEC1 = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throw-away RSA key and self-signed certificate: the .p12 and the certificate PEM."""
    return make_keys(tmp_path_factory.mktemp("keys"))


def _content(**changes: object) -> ReceiptContent:
    values: dict[str, object] = dict(
        form_code="EBL01", series="26T", number=105, signed_at=SIGNED_AT,
        collector=Party("Sở Tư pháp tỉnh Huế", "3300101234", "Số 1 Lê Lợi, Huế"),
        payer=Party("Nguyễn Thị Hoa & Cộng sự <chi nhánh>"),
        items=(FeeItem("phí", "Phí thẩm định hồ sơ", 100_000),
               FeeItem("lệ phí", "Lệ phí cấp giấy chứng nhận", 1_005)),
        method="QR", provider_reference="FT26330123456", dossier_code="000.00.01.H57-261126-0001",
        procedure="Cấp phiếu lý lịch tư pháp", lookup_code="K7Q2M9XW4P")
    values.update(changes)
    return ReceiptContent(**values)  # type: ignore[arg-type]


def _signed(keys: tuple[Path, Path], **changes: object) -> bytes:
    signer = Signer.from_p12(keys[0], PASSWORD)
    return to_bytes(sign(build(_content(**changes)), signer, SIGNED_AT))


def _xmlsec1(document: bytes, pem: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "receipt.xml"
    path.write_bytes(document)
    return subprocess.run(
        [XMLSEC1, "--verify", "--trusted-pem", str(pem), "--id-attr:Id", "DLCTu",
         "--id-attr:Id", f"{DS}:Object", str(path)],
        capture_output=True, text=True, check=False)


def test_the_unsigned_and_the_signed_receipt_match_the_schema(keys: tuple[Path, Path]) -> None:
    schema = xmlschema.XMLSchema(str(SCHEMA_PATH))
    unsigned = to_bytes(build(_content()))
    schema.validate(unsigned.decode("utf-8"))
    signed = _signed(keys)
    schema.validate(signed.decode("utf-8"))
    data = schema.to_dict(signed.decode("utf-8"))
    common = data["DLCTu"]["TTChung"]
    assert (common["KHMSCTu"], common["KHCTu"], common["SCTu"]) == ("EBL01", "26T", 105)
    assert (common["NLap"], common["TGLap"]) == ("2026-11-26", "2026-11-26T10:04:05")
    total = data["DLCTu"]["NDCTu"]["TToan"]
    assert total == {"TgTien": 101_005,
                     "TgTienBChu": "Một trăm linh một nghìn không trăm linh năm đồng"}
    assert signed.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<CTu><DLCTu Id=")
    assert b"> <" not in signed and b">\n<" not in signed.split(b"\n", 1)[1]


def test_the_schema_refuses_what_a_receipt_may_not_carry() -> None:
    schema = xmlschema.XMLSchema(str(SCHEMA_PATH))
    good = to_bytes(build(_content())).decode("utf-8")
    for bad in (good.replace("<SCTu>105</SCTu>", "<SCTu>123456789</SCTu>"),
                good.replace("<LKThu>phí</LKThu>", "<LKThu>thuế</LKThu>"),
                good.replace("<TGLap>2026-11-26T10:04:05</TGLap>",
                             "<TGLap>2026-11-26T10:04:05+07:00</TGLap>"),
                good.replace("<STien>1005</STien>", "<STien>1005.5</STien>")):
        assert bad != good
        assert not schema.is_valid(bad)
    with pytest.raises(ValueError):
        build(_content(items=(FeeItem("thuế", "x", 1),)))
    with pytest.raises(ValueError):
        build(_content(items=()))


def test_the_signature_has_the_vietnamese_shape(keys: tuple[Path, Path]) -> None:
    root = etree.fromstring(_signed(keys))
    ns = {"ds": DS}
    signature = root.find(f"DSCKS/TCThu/{{{DS}}}Signature")
    assert signature is not None and root.find(f"DLCTu//{{{DS}}}Signature") is None
    uris = signature.xpath("ds:SignedInfo/ds:Reference/@URI", namespaces=ns)
    time_id = signature.xpath("ds:Object/@Id", namespaces=ns)[0]
    assert uris == ["#R-EBL01-26T-105", f"#{time_id}"]
    assert signature.xpath("ds:SignedInfo/ds:CanonicalizationMethod/@Algorithm",
                           namespaces=ns) == ["http://www.w3.org/TR/2001/REC-xml-c14n-20010315"]
    assert signature.xpath("ds:SignedInfo/ds:SignatureMethod/@Algorithm", namespaces=ns) == [
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"]
    prop = signature.find(f"{{{DS}}}Object/{{{DS}}}SignatureProperties/"
                          f"{{{DS}}}SignatureProperty")
    assert prop is not None and prop.get("Target") == f"#{signature.get('Id')}"
    assert prop.findtext(f"{{{DS}}}SigningTime") == "2026-11-26T10:04:05"
    assert "CN=Test receipts signer" in signature.findtext(
        f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509SubjectName", "")
    assert signature.findtext(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")


@pytest.mark.parametrize("number", [1, 105, 99_999_999])
def test_both_verifiers_accept_every_signed_receipt(keys: tuple[Path, Path], tmp_path: Path,
                                                    number: int) -> None:
    document = _signed(keys, number=number)
    checked = verify(document)
    assert checked.signing_time == "2026-11-26T10:04:05"
    assert "Test receipts signer" in checked.subject
    result = _xmlsec1(document, keys[1], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout + result.stderr


@pytest.mark.parametrize(("old", "new"), [
    (b"<SCTu>105</SCTu>", b"<SCTu>106</SCTu>"),  # the number
    (b"<STien>1005</STien>", b"<STien>1006</STien>"),  # an amount
    (b"Hoa", "Hòa".encode()),  # the payer's name
    (b"2026-11-26T10:04:05</SigningTime>", b"2026-11-26T10:04:06</SigningTime>"),
])
def test_one_changed_byte_fails_both_verifiers(keys: tuple[Path, Path], tmp_path: Path,
                                               old: bytes, new: bytes) -> None:
    document = _signed(keys)
    assert document.count(old) == 1
    tampered = document.replace(old, new)
    with pytest.raises(SignatureInvalid):
        verify(tampered)
    assert _xmlsec1(tampered, keys[1], tmp_path).returncode != 0


def test_a_changed_signature_value_or_certificate_fails(keys: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    document = _signed(keys)
    root = etree.fromstring(document)
    value = root.find(f"DSCKS/TCThu/{{{DS}}}Signature/{{{DS}}}SignatureValue")
    assert value is not None and value.text
    flipped = ("A" if value.text[10] != "A" else "B")
    value.text = value.text[:10] + flipped + value.text[11:]
    tampered = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    with pytest.raises(SignatureInvalid, match="signature value"):
        verify(tampered)
    assert _xmlsec1(tampered, keys[1], tmp_path).returncode != 0


def test_a_bad_p12_password_is_a_configuration_error(keys: tuple[Path, Path],
                                                     tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="PASSWORD"):
        Signer.from_p12(keys[0], "wrong")
    with pytest.raises(ConfigurationError, match="cannot read"):
        Signer.from_p12(tmp_path / "missing.p12", PASSWORD)
