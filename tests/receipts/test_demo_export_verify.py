"""What issue 19 must show: `recon receipts verify` over the demo's March 2021 export finds
every number once and every signature valid; after one receipt's XML is deleted by hand (from
the ZIP, and from the unzipped folder) it names that gap."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select

from recon.cli import cli
from recon.db import Database
from recon.demo.receipts import DEMO_TAX_CODES
from recon.models import Receipt
from recon.receipts.signing import verify
from tests.receipts.figures import assert_figures_stored


def _without(source: Path, target: Path, drop: str) -> None:
    """``source`` with the entry ``drop`` deleted, as `zip -d` would."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            if item.filename != drop:
                new.writestr(item, old.read(item.filename))


def test_the_demo_march_exports_and_verifies_and_names_a_deleted_receipt(
        env: dict[str, str], db: Database, tmp_path: Path) -> None:
    seeded = CliRunner().invoke(cli, ["demo"], catch_exceptions=False)
    assert seeded.exit_code == 0, seeded.output
    archive = tmp_path / "bien-lai-2021-03.zip"
    exported = CliRunner().invoke(cli, ["receipts", "export", "--month", "2021-03",
                                        "--output", str(archive)], catch_exceptions=False)
    assert exported.exit_code == 0, exported.output
    with db.read() as s:
        rows = s.execute(select(Receipt.issuer_tax_code, Receipt.number, Receipt.issued_on)
                         .where(Receipt.status == "issued")
                         .order_by(Receipt.issuer_tax_code, Receipt.number)).all()
    in_march = [(t, n) for t, n, day in rows if date(2021, 3, 1) <= day < date(2021, 4, 1)]
    organisations = sorted({t for t, _n in in_march})
    # every demo organisation issues under its own made-up MST, in its own numbering
    assert len(organisations) > 3 and set(organisations) <= set(DEMO_TAX_CODES.values())
    for mst in organisations:
        theirs = [n for t, n in in_march if t == mst]
        before = sum(1 for t, _n, day in rows if t == mst and day < date(2021, 3, 1))
        # March continues the organisation's year: its numbers follow February's
        assert theirs == list(range(before + 1, before + len(theirs) + 1))
        assert f"MST {mst} EBL01 21T: numbers {theirs[0]} to {theirs[-1]}" in exported.output
    mst = max(organisations, key=lambda t: sum(1 for o, _n in in_march if o == t))
    march = [n for t, n in in_march if t == mst]
    assert len(march) > 500 and len(in_march) > 1_000
    # every demo receipt's stored figures (0031) say what its signed XML says
    assert assert_figures_stored(db) == len(rows)

    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        manifest = list(csv.DictReader(io.StringIO(z.read("manifest.csv").decode("utf-8"))))
        sample = z.read(manifest[0]["file"])
        register = load_workbook(io.BytesIO(z.read("register.xlsx")), read_only=True)
    xml = [n for n in names if n.endswith(".xml")]
    assert len(xml) == len(in_march) == len(manifest)
    assert [int(r["number"]) for r in manifest if r["tax_code"] == mst] == march
    assert all(r["series"] == "21T" and r["form_code"] == "EBL01" and len(r["sha256"]) == 64
               and r["tax_code"] in organisations for r in manifest)
    assert verify(sample)  # the signature holds
    sheet = register.worksheets[0]
    header, *sheet_rows = list(sheet.iter_rows(values_only=True))
    assert header[:4] == ("Mẫu số (ký hiệu mẫu)", "Ký hiệu", "Số", "Trạng thái")
    assert len(sheet_rows) == len(in_march)
    assert sheet_rows[0][3] == "đã phát hành"

    ok = CliRunner().invoke(cli, ["receipts", "verify", str(archive)], catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    assert (f"MST {mst} EBL01 21T: {len(march)} numbers, first {march[0]}, last {march[-1]}"
            in ok.output)
    assert f"{len(in_march)} receipts checked: every signature verifies, no number missing or " \
           "used twice." in ok.output

    # one receipt's XML deleted by hand from the ZIP: the gap is named, and what to do
    gone = march[len(march) // 2]
    # an organisation's files are in its MST's folder
    drop = f"receipts/{mst}/EBL01-21T-{gone:08d}.xml"
    assert drop in names
    broken = tmp_path / "thieu-mot.zip"
    _without(archive, broken, drop)
    result = CliRunner().invoke(cli, ["receipts", "verify", str(broken)])
    assert result.exit_code == 1
    assert (f"thiếu số {gone:08d} của mẫu EBL01 ký hiệu 21T của đơn vị MST {mst} "
            f"(missing: {gone})") in result.output
    assert "What to do: look each missing number up in the register" in result.output

    # the same in the unzipped folder
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(archive) as z:
        z.extractall(folder)
    (folder / drop).unlink()
    result = CliRunner().invoke(cli, ["receipts", "verify", str(folder)])
    assert result.exit_code == 1
    assert f"thiếu số {gone:08d} của mẫu EBL01 ký hiệu 21T" in result.output

    # a file changed after the export is named too (its sha256 is not the manifest's)
    changed = folder / f"receipts/{mst}/EBL01-21T-{march[0]:08d}.xml"
    changed.write_bytes(changed.read_bytes() + b"\n")
    result = CliRunner().invoke(cli, ["receipts", "verify", str(folder)])
    assert result.exit_code == 1
    assert "its sha256 is not the manifest's" in result.output
