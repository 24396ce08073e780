"""`recon receipts verify DIR`: signatures checked, numbers missing and used twice named."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from recon.cli import cli
from recon.receipts.checking import check_directory, ranges
from recon.receipts.document import FeeItem, Party, ReceiptContent, build, to_bytes
from recon.receipts.signing import Signer, sign
from tests.receipts.keys import PASSWORD, make_keys

SIGNED_AT = datetime(2026, 11, 26, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return Signer.from_p12(make_keys(tmp_path_factory.mktemp("keys"))[0], PASSWORD)


def _write(folder: Path, signer: Signer, number: int, name: str | None = None,
           series: str = "26T") -> Path:
    content = ReceiptContent(
        form_code="EBL01", series=series, number=number, signed_at=SIGNED_AT,
        collector=Party("Sở Tư pháp tỉnh Huế", "3300101234"), payer=Party("Nguyễn Văn An"),
        items=(FeeItem("lệ phí", "Lệ phí cấp bản sao", 15_000),), method="TM")
    path = folder / (name or f"EBL01-{series}-{number}.xml")
    path.write_bytes(to_bytes(sign(build(content), signer, SIGNED_AT)))
    return path


def test_a_complete_folder_passes(tmp_path: Path, signer: Signer) -> None:
    for n in (1, 2, 3):
        _write(tmp_path, signer, n)
    (tmp_path / "27").mkdir()
    _write(tmp_path / "27", signer, 1, series="27T")
    result = CliRunner().invoke(cli, ["receipts", "verify", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "EBL01 26T: 3 numbers, first 1, last 3" in result.output
    assert "EBL01 27T: 1 numbers, first 1, last 1" in result.output
    assert "4 receipts checked: every signature verifies" in result.output


def test_gaps_duplicates_and_bad_signatures_are_named(tmp_path: Path, signer: Signer) -> None:
    for n in (1, 2, 5, 6, 9):
        _write(tmp_path, signer, n)
    _write(tmp_path, signer, 6, name="copy-of-6.xml")
    tampered = _write(tmp_path, signer, 10)
    tampered.write_bytes(tampered.read_bytes().replace(b"<STien>15000<", b"<STien>16000<"))
    (tmp_path / "notes.xml").write_bytes(b"<not-a-receipt")
    result = CliRunner().invoke(cli, ["receipts", "verify", str(tmp_path)])
    assert result.exit_code == 1
    # numbers are per organisation: the messages name it by its MST
    assert ("thiếu các số 00000003–00000004, 00000007–00000008 của mẫu EBL01 ký hiệu 26T của "
            "đơn vị MST 3300101234 (missing: 3–4, 7–8)") in result.output
    assert ("số 00000006 của mẫu EBL01 ký hiệu 26T của đơn vị MST 3300101234 dùng 2 lần "
            "(number 6 used twice or more): EBL01-26T-6.xml, copy-of-6.xml") in result.output
    assert "What to do: look each missing number up in the register" in result.output
    assert "EBL01-26T-10.xml: signature: reference #R-EBL01-26T-10: the digest does not " \
           "match" in result.output
    assert "notes.xml: signature: not well-formed XML" in result.output
    report = check_directory(tmp_path)
    assert report.checked == 8 and not report.ok


def test_ranges() -> None:
    assert ranges([]) == "" and ranges([4]) == "4"
    assert ranges([9, 1, 2, 3, 7, 10]) == "1–3, 7, 9–10"
    assert ranges([123], width=8) == "00000123"
