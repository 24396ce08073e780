"""One receipt per collecting organisation (migration 0027): a dossier whose fee lines belong to
two collectors gets two receipts for a payment, each with that organisation's name, MST, lines,
own numbering and a valid signature; the worker sweep numbers each organisation consecutively;
the receipt pass judges each (payment, collector); verify numbers per organisation (both
databases where a database is used)."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import select

from recon.cli import cli
from recon.clock import FixedClock
from recon.db import Database
from recon.engine.receipt_check import (
    DossierFees,
    PaidRow,
    ReceiptCheckConfig,
    ReceiptOutcome,
    ReceiptRow,
    check_receipts,
    covered_before,
    encode_lines,
)
from recon.engine.receipt_load import prepare
from recon.errors import ValidationError
from recon.intake.agencies import clean_tax_code
from recon.models import Agency, Dossier, FeeLine, Payment, Procedure, Receipt
from recon.receipts.checking import check_entries
from recon.receipts.document import read
from recon.receipts.issuing import Receipting, issue_batch, issue_receipts, load_signer, missing
from recon.receipts.settings import ReceiptSettings
from recon.receipts.signing import verify
from tests.receipts.keys import PASSWORD, make_keys

PAID = datetime(2026, 11, 26, 3, 4, 5, tzinfo=UTC)
CENTRE_MST, DEPT_MST, FALLBACK = "3300100001", "3300100002-001", "3300109999"
XMLSEC1 = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
DS = "http://www.w3.org/2000/09/xmldsig#"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def settings(keys: tuple[Path, Path]) -> ReceiptSettings:
    return ReceiptSettings.from_env({"RECON_RECEIPTS": "on", "RECON_RECEIPTS_ISSUE": "worker",
                                     "RECON_RECEIPT_P12_FILE": str(keys[0]),
                                     "RECON_RECEIPT_P12_PASSWORD": PASSWORD,
                                     "RECON_RECEIPT_TAX_CODE": FALLBACK})


def _agencies(db: Database, dept_mst: str | None = DEPT_MST) -> None:
    with db.transaction() as s:
        s.add(Agency(code="H57.TTPVHCC", name="Trung tâm Phục vụ hành chính công tỉnh Huế",
                     bank_bin="970415", account_number="1130000001", account_name="TTPVHCC",
                     tax_code=CENTRE_MST))
        s.add(Agency(code="H57.STP", name="Sở Tư pháp tỉnh Huế", bank_bin="970415",
                     account_number="1130000002", account_name="STP", tax_code=dept_mst))
        s.add(Procedure(code="LLTP", name="Cấp phiếu lý lịch tư pháp"))


def _paid_two_collectors(db: Database, n: int) -> list[int]:
    """``n`` succeeded payments, each paying a dossier of the centre whose phí is the
    department's and whose lệ phí is the centre's."""
    ids = []
    with db.transaction() as s:
        centre = s.scalars(select(Agency).where(Agency.code == "H57.TTPVHCC")).one()
        procedure = s.scalars(select(Procedure)).one()
        for i in range(n):
            dossier = Dossier(code=f"H57-{i:03d}", agency=centre, procedure=procedure,
                              applicant_name="Nguyễn Thị Hoa", received_at=PAID)
            dossier.fee_lines = [
                FeeLine(position=1, kind="phi", name="Phí cung cấp thông tin", amount=100_000,
                        collector_code="H57.STP"),
                FeeLine(position=2, kind="le_phi", name="Lệ phí cấp", amount=1_005)]
            s.add(dossier)
            s.flush()
            payment = Payment(provider="sepay", provider_txn_id=f"T{i}", channel="vietqr",
                              amount=101_005, status="succeeded",
                              paid_at=PAID + timedelta(seconds=i),
                              received_at=PAID + timedelta(seconds=i), dossier_id=dossier.id)
            s.add(payment)
            s.flush()
            ids.append(payment.id)
    return ids


def _xmlsec1(document: bytes, pem: Path, tmp_path: Path) -> int:
    path = tmp_path / "receipt.xml"
    path.write_bytes(document)
    return subprocess.run(
        [XMLSEC1, "--verify", "--trusted-pem", str(pem), "--id-attr:Id", "DLCTu",
         "--id-attr:Id", f"{DS}:Object", str(path)],
        capture_output=True, text=True, check=False).returncode


def test_a_two_collector_dossier_gets_one_receipt_per_organisation(
        db: Database, settings: ReceiptSettings, keys: tuple[Path, Path],
        tmp_path: Path) -> None:
    _agencies(db)
    first, second = _paid_two_collectors(db, 2)
    signer = load_signer(settings)
    for payment_id in (first, second):
        with db.transaction() as s:
            payment = s.get(Payment, payment_id)
            assert payment is not None
            issue_receipts(s, payment, settings=settings, signer=signer, moment=PAID)
    with db.read() as s:
        rows = list(s.scalars(select(Receipt).order_by(Receipt.id)))
        assert [(r.payment_id, r.collector_code, r.issuer_tax_code, r.number, r.amount)
                for r in rows] == [
            (first, "H57.TTPVHCC", CENTRE_MST, 1, 1_005),
            (first, "H57.STP", DEPT_MST, 1, 100_000),
            (second, "H57.TTPVHCC", CENTRE_MST, 2, 1_005),
            (second, "H57.STP", DEPT_MST, 2, 100_000)]
        documents = [(r.document or "").encode("utf-8") for r in rows]
    dept = read(documents[1])
    assert (dept.collector.name, dept.collector.tax_code) == ("Sở Tư pháp tỉnh Huế", DEPT_MST)
    assert [(i.kind, i.name, i.amount) for i in dept.items] == [
        ("phí", "Phí cung cấp thông tin", 100_000)]
    centre = read(documents[0])
    assert centre.collector.tax_code == CENTRE_MST
    assert [(i.kind, i.amount) for i in centre.items] == [("lệ phí", 1_005)]
    for document in documents:
        assert verify(document)
        assert _xmlsec1(document, keys[1], tmp_path) == 0
    assert _xmlsec1(documents[1].replace(DEPT_MST.encode(), b"3300100003-001"), keys[1],
                    tmp_path) != 0
    # issuing again issues nothing more, and nothing is owed
    with db.transaction() as s:
        payment = s.get(Payment, first)
        assert payment is not None
        again = issue_receipts(s, payment, settings=settings, signer=signer, moment=PAID)
        assert sorted(r.collector_code or "" for r in again) == ["H57.STP", "H57.TTPVHCC"]
        assert missing(s) == []
    with db.read() as s:
        assert len(list(s.scalars(select(Receipt)))) == 4


def test_a_collector_without_its_own_tax_code_issues_under_the_fallback(
        db: Database, settings: ReceiptSettings) -> None:
    _agencies(db, dept_mst=None)
    (payment_id,) = _paid_two_collectors(db, 1)
    with db.transaction() as s:
        payment = s.get(Payment, payment_id)
        assert payment is not None
        issued = issue_receipts(s, payment, settings=settings, signer=load_signer(settings),
                                moment=PAID)
        assert sorted((r.issuer_tax_code, r.number) for r in issued) == [
            (CENTRE_MST, 1), (FALLBACK, 1)]


def test_the_worker_sweep_numbers_each_organisation_consecutively(
        db: Database, settings: ReceiptSettings, clock: FixedClock) -> None:
    _agencies(db)
    payments = _paid_two_collectors(db, 7)
    receipting = Receipting(settings)
    with db.read() as s:
        assert missing(s) == payments
    # batches of 4 receipts: a payment's two receipts may fall in two batches
    total = 0
    while (done := issue_batch(db, clock, receipting, actor="t", limit=4)):
        total += done
    assert total == 14
    with db.read() as s:
        rows = list(s.scalars(select(Receipt).order_by(Receipt.issuer_tax_code,
                                                       Receipt.number)))
        assert missing(s) == []
    for mst, collector in ((CENTRE_MST, "H57.TTPVHCC"), (DEPT_MST, "H57.STP")):
        theirs = [r for r in rows if r.issuer_tax_code == mst]
        assert [r.number for r in theirs] == list(range(1, 8))
        # in order of payment within the organisation
        assert [r.payment_id for r in theirs] == payments
        assert {r.collector_code for r in theirs} == {collector}
        assert all(verify((r.document or "").encode("utf-8")) for r in theirs)


def test_the_receipt_pass_judges_each_payment_and_collector() -> None:
    at = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    paid = PaidRow(1, "sepay", "T1", 101_005, "succeeded", at, 10)
    fees = DossierFees(10, "H57-001", (("phí", 100_000), ("lệ phí", 1_005)),
                       ("H57.STP", "H57.TTPVHCC"), "H57.TTPVHCC")
    agencies = {"H57.TTPVHCC": 1, "H57.STP": 2}
    centre = ReceiptRow(5, "EBL01", "26T", 1, 1, 1_005, "H57-001", (("lệ phí", 1_005),),
                        "H57.TTPVHCC")
    dept = ReceiptRow(6, "EBL01", "26T", 1, 1, 100_000, "H57-001", (("phí", 100_000),),
                      "H57.STP")

    def found(*receipts: ReceiptRow) -> list[str]:
        return [d.identity for d in check_receipts(
            payments=[paid], shares={}, dossiers={10: fees}, receipts=list(receipts),
            as_of=at + timedelta(hours=1), config=ReceiptCheckConfig(),
            agencies=agencies).findings]

    assert found(centre, dept) == []
    # the department's receipt missing: a finding naming it; the centre's keeps the old shape
    assert found(centre) == ["receipt_missing:dossier=10:payment=1:agency=2"]
    assert found(dept) == ["receipt_missing:dossier=10:payment=1"]
    # the department's receipt 1.000 short
    short = dept._replace(amount=99_000, lines=(("phí", 99_000),))
    assert found(centre, short) == ["receipt_mismatch:dossier=10:payment=1:agency=2"]
    # one receipt for both lines, in the centre's name: the department's is missing and the
    # centre's states more than it collected
    whole = centre._replace(amount=101_005, lines=(("phí", 100_000), ("lệ phí", 1_005)))
    assert found(whole) == ["receipt_mismatch:dossier=10:payment=1",
                            "receipt_missing:dossier=10:payment=1:agency=2"]


def test_verify_numbers_each_organisation_apart(keys: tuple[Path, Path]) -> None:
    from recon.receipts.document import FeeItem, Party, ReceiptContent, build, to_bytes
    from recon.receipts.signing import Signer, sign

    signer = Signer.from_p12(keys[0], PASSWORD)

    def receipt(mst: str, number: int) -> tuple[str, bytes]:
        content = ReceiptContent(
            form_code="EBL01", series="26T", number=number, signed_at=PAID,
            collector=Party("Đơn vị", mst), payer=Party("Nguyễn Thị Hoa"),
            items=(FeeItem("phí", "Phí", 1_000),), method="QR", provider_reference=None,
            dossier_code="H57-1", procedure="Thủ tục", lookup_code="ABCDEFGHJKLM")
        data = to_bytes(sign(build(content), signer, PAID))
        return f"{mst}-{number}.xml", data

    files = [receipt(CENTRE_MST, 1), receipt(CENTRE_MST, 2), receipt(DEPT_MST, 1),
             receipt(DEPT_MST, 3)]
    report = check_entries((name, (lambda d=data: d)) for name, data in files)
    assert sorted(report.series) == [(CENTRE_MST, "EBL01", "26T"), (DEPT_MST, "EBL01", "26T")]
    assert all(not s.duplicates for s in report.series.values())
    dept = report.series[(DEPT_MST, "EBL01", "26T")]
    assert dept.missing == [2]
    assert dept.missing_vi() == (f"thiếu số 00000002 của mẫu EBL01 ký hiệu 26T của đơn vị MST "
                                 f"{DEPT_MST}")


@pytest.mark.parametrize(("raw", "stored"), [("0101234567", "0101234567"),
                                             ("0101234567-001", "0101234567-001"),
                                             (" 0101 234567 ", "0101234567"), ("", None)])
def test_a_tax_code_is_10_or_10_3_digits(raw: str, stored: str | None) -> None:
    assert clean_tax_code(raw) == stored


@pytest.mark.parametrize("raw", ["010123456", "01012345678", "0101234567-01", "MST0101234567"])
def test_a_wrong_tax_code_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError, match="10 digits, or 10-3"):
        clean_tax_code(raw)


def test_the_cli_sets_and_clears_an_agency_tax_code(env: dict[str, str], db: Database) -> None:
    agency = "H57.STP"
    created = CliRunner().invoke(cli, [
        "agencies", "create", agency, "--name", "Sở Tư pháp", "--bin", "970415", "--account",
        "113000000002", "--account-name", "So Tu phap", "--tax-code", "0101234567"])
    assert created.exit_code == 0, created.output
    with db.read() as s:
        assert s.scalars(select(Agency.tax_code).where(Agency.code == agency)).one() == \
            "0101234567"
    result = CliRunner().invoke(cli, ["agencies", "tax-code", agency, "--tax-code",
                                      "0101234567-002"])
    assert result.exit_code == 0, result.output
    with db.read() as s:
        assert s.scalars(select(Agency.tax_code).where(Agency.code == agency)).one() == \
            "0101234567-002"
    refused = CliRunner().invoke(cli, ["agencies", "tax-code", agency, "--tax-code", "12"])
    assert refused.exit_code != 0 and "10 digits, or 10-3" in refused.output
    with db.read() as s:
        assert s.scalars(select(Agency.tax_code).where(Agency.code == agency)).one() == \
            "0101234567-002"
    cleared = CliRunner().invoke(cli, ["agencies", "tax-code", agency])
    assert cleared.exit_code == 0, cleared.output
    with db.read() as s:
        assert s.scalars(select(Agency.tax_code).where(Agency.code == agency)).one() is None


def test_an_organisation_signs_with_its_own_certificate_else_the_default(
        db: Database, keys: tuple[Path, Path], tmp_path: Path, clock: FixedClock) -> None:
    """RECON_RECEIPT_P12_DIR/<MST>.p12 (password in <MST>.password) signs that organisation's
    receipts; one without a file there signs with RECON_RECEIPT_P12_FILE's."""
    own_dir = tmp_path / "certificates"
    own_dir.mkdir()
    own_p12, own_pem = make_keys(tmp_path)
    shutil.copyfile(own_p12, own_dir / f"{DEPT_MST}.p12")
    (own_dir / f"{DEPT_MST}.password").write_text(PASSWORD + "\n", encoding="utf-8")
    settings = ReceiptSettings.from_env({
        "RECON_RECEIPTS": "on", "RECON_RECEIPT_P12_FILE": str(keys[0]),
        "RECON_RECEIPT_P12_PASSWORD": PASSWORD, "RECON_RECEIPT_P12_DIR": str(own_dir)})
    _agencies(db)
    _paid_two_collectors(db, 2)
    assert issue_batch(db, clock, Receipting(settings), actor="t") == 4
    with db.read() as s:
        rows = [(r.issuer_tax_code, (r.document or "").encode("utf-8"))
                for r in s.scalars(select(Receipt).order_by(Receipt.id))]
    assert sorted(mst for mst, _d in rows) == [CENTRE_MST, CENTRE_MST, DEPT_MST, DEPT_MST]
    for mst, document in rows:
        pem = own_pem if mst == DEPT_MST else keys[1]
        assert _xmlsec1(document, pem, tmp_path) == 0
        # and not with the other organisation's certificate
        assert _xmlsec1(document, keys[1] if mst == DEPT_MST else own_pem, tmp_path) != 0
        assert verify(document)


def test_export_agency_scope_is_one_organisations_numbering(
        env: dict[str, str], db: Database, settings: ReceiptSettings, tmp_path: Path) -> None:
    _agencies(db)
    payments = _paid_two_collectors(db, 3)
    signer = load_signer(settings)
    with db.transaction() as s:
        for payment_id in payments:
            payment = s.get(Payment, payment_id)
            assert payment is not None
            issue_receipts(s, payment, settings=settings, signer=signer, moment=PAID)
        s.add(Agency(code="H57.X", name="Không có MST", bank_bin="970415",
                     account_number="1130000009", account_name="X"))
    archive = tmp_path / "stp.zip"
    result = CliRunner().invoke(cli, ["receipts", "export", "--month", "2026-11", "--output",
                                      str(archive), "--agency", "H57.STP"])
    assert result.exit_code == 0, result.output
    assert f"MST {DEPT_MST} EBL01 26T: numbers 1 to 3" in result.output
    with zipfile.ZipFile(archive) as z:
        assert sorted(n for n in z.namelist() if n.endswith(".xml")) == [
            f"receipts/{DEPT_MST}/EBL01-26T-{n:08d}.xml" for n in (1, 2, 3)]
    checked = CliRunner().invoke(cli, ["receipts", "verify", str(archive)])
    assert checked.exit_code == 0, checked.output
    assert "3 receipts checked: every signature verifies" in checked.output
    refused = CliRunner().invoke(cli, ["receipts", "export", "--month", "2026-11", "--output",
                                       str(tmp_path / "x.zip"), "--agency", "H57.X"])
    assert refused.exit_code != 0 and "has no MST of its own" in refused.output
    assert not (tmp_path / "x.zip").exists()


# --------------------------------------------------------------------------- part payments


def _paid_in_parts(db: Database) -> dict[str, int]:
    """A two-collector dossier (line 1 the department's phí 100.000 ₫, line 2 the centre's lệ
    phí 1.005 ₫) paid in two parts, 60.000 then 41.005 (the second's paid_at earlier than
    its id order would say: the order is (paid_at, id)), and a second dossier paid 150.000
    (more than its fees), then 101.005 again (all paid before it: owed no receipt)."""
    _agencies(db)
    with db.transaction() as s:
        centre = s.scalars(select(Agency).where(Agency.code == "H57.TTPVHCC")).one()
        procedure = s.scalars(select(Procedure)).one()
        out: dict[str, int] = {}
        for code, payments in (("H57-P1", (("second", 41_005, 9), ("first", 60_000, 5))),
                               ("H57-P2", (("over", 150_000, 20), ("again", 101_005, 30)))):
            dossier = Dossier(code=code, agency=centre, procedure=procedure,
                              applicant_name="Nguyễn Thị Hoa", received_at=PAID)
            dossier.fee_lines = [
                FeeLine(position=1, kind="phi", name="Phí cung cấp thông tin", amount=100_000,
                        collector_code="H57.STP"),
                FeeLine(position=2, kind="le_phi", name="Lệ phí cấp", amount=1_005)]
            s.add(dossier)
            s.flush()
            for name, amount, seconds in payments:
                payment = Payment(provider="sepay", provider_txn_id=f"T-{name}",
                                  channel="vietqr", amount=amount, status="succeeded",
                                  paid_at=PAID + timedelta(seconds=seconds),
                                  received_at=PAID + timedelta(seconds=seconds),
                                  dossier_id=dossier.id)
                s.add(payment)
                s.flush()
                out[name] = payment.id
    return out


def _receipt_rows(db: Database) -> list[tuple[int | None, str | None, str, int, int,
                                              list[tuple[str, int]], str]]:
    with db.read() as s:
        rows = list(s.scalars(select(Receipt).order_by(Receipt.issuer_tax_code,
                                                       Receipt.number)))
    out = []
    for r in rows:
        document = (r.document or "").encode("utf-8")
        assert verify(document)
        content = read(document)
        words = etree.fromstring(document).findtext(".//TgTienBChu") or ""
        out.append((r.payment_id, r.collector_code, r.issuer_tax_code, r.number, r.amount,
                    [(i.kind, i.amount) for i in content.items], words))
    return out


def _expected_parts(ids: dict[str, int]) -> list[tuple[int | None, str | None, str, int, int,
                                                      list[tuple[str, int]], str]]:
    return [
        # the centre: its lệ phí is covered by the second part, then by the overpayment
        (ids["second"], "H57.TTPVHCC", CENTRE_MST, 1, 1_005, [("lệ phí", 1_005)],
         "Một nghìn không trăm linh năm đồng"),
        (ids["over"], "H57.TTPVHCC", CENTRE_MST, 2, 1_005, [("lệ phí", 1_005)],
         "Một nghìn không trăm linh năm đồng"),
        # the department: line 1 in parts (60.000 first, the 40.000 left second), then the
        # overpayment's 100.000 (its excess is no fee: no receipt states it)
        (ids["first"], "H57.STP", DEPT_MST, 1, 60_000, [("phí", 60_000)],
         "Sáu mươi nghìn đồng"),
        (ids["second"], "H57.STP", DEPT_MST, 2, 40_000, [("phí", 40_000)],
         "Bốn mươi nghìn đồng"),
        (ids["over"], "H57.STP", DEPT_MST, 3, 100_000, [("phí", 100_000)],
         "Một trăm nghìn đồng")]


def test_part_payments_get_their_parts_inline(
        db: Database, settings: ReceiptSettings, keys: tuple[Path, Path],
        tmp_path: Path) -> None:
    ids = _paid_in_parts(db)
    signer = load_signer(settings)
    with db.read() as s:
        # owed: the parts and the overpayment; the payment after the fees were paid is not
        assert missing(s) == [ids["first"], ids["second"], ids["over"]]
    for name in ("first", "second", "over", "again"):
        with db.transaction() as s:
            payment = s.get(Payment, ids[name])
            assert payment is not None
            issued = issue_receipts(s, payment, settings=settings, signer=signer, moment=PAID)
            assert len(issued) == {"first": 1, "second": 2, "over": 2, "again": 0}[name]
    assert _receipt_rows(db) == _expected_parts(ids)
    with db.read() as s:
        assert missing(s) == []
        documents = [(r.document or "").encode("utf-8") for r in s.scalars(select(Receipt))]
    for document in documents:
        assert _xmlsec1(document, keys[1], tmp_path) == 0


def test_part_payments_by_the_worker_sweep_and_the_cli(
        env: dict[str, str], db: Database, settings: ReceiptSettings, clock: FixedClock,
        keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _paid_in_parts(db)
    # the sweep, in batches of 2: each organisation numbered in order of payment
    total = 0
    while (done := issue_batch(db, clock, Receipting(settings), actor="t", limit=2)):
        total += done
    assert total == 5
    assert _receipt_rows(db) == _expected_parts(ids)
    with db.read() as s:
        assert missing(s) == []
    # issue-missing has nothing left to issue (the payment after the fees owes none)
    for key, value in (("RECON_RECEIPTS", "on"), ("RECON_RECEIPT_P12_FILE", str(keys[0])),
                       ("RECON_RECEIPT_P12_PASSWORD", PASSWORD),
                       ("RECON_RECEIPT_TAX_CODE", FALLBACK)):
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["receipts", "issue-missing"], catch_exceptions=False)
    assert result.exit_code == 0 and "0 payment(s) without a receipt" in result.output


def test_issue_missing_issues_part_payments(
        env: dict[str, str], db: Database, keys: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _paid_in_parts(db)
    for key, value in (("RECON_RECEIPTS", "on"), ("RECON_RECEIPT_P12_FILE", str(keys[0])),
                       ("RECON_RECEIPT_P12_PASSWORD", PASSWORD),
                       ("RECON_RECEIPT_TAX_CODE", FALLBACK)):
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["receipts", "issue-missing"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "3 payment(s) without a receipt: 5 receipt(s) issued, 0 payment(s) still" in (
        result.output)
    assert _receipt_rows(db) == _expected_parts(ids)


def test_the_receipt_pass_judges_part_payments_by_their_parts(
        db: Database, settings: ReceiptSettings) -> None:
    ids = _paid_in_parts(db)
    as_of = PAID + timedelta(hours=1)
    config = ReceiptCheckConfig()

    def findings() -> list[str]:
        with db.read() as s:
            found = prepare(s.connection(), config=config, mode="full", as_of=as_of)
            assert found is not None
            outcome: ReceiptOutcome = found._outcome  # the pass's own findings
        return [d.identity for d in outcome.findings]

    with db.read() as s:
        agency = {a.code: a.id for a in s.scalars(select(Agency))}
        dossier = {d.code: d.id for d in s.scalars(select(Dossier))}
    d1, d2, stp = dossier["H57-P1"], dossier["H57-P2"], agency["H57.STP"]
    # nothing issued: each part owed is missing (the payment after the fees owes none)
    assert findings() == sorted([
        f"receipt_missing:dossier={d1}:payment={ids['first']}:agency={stp}",
        f"receipt_missing:dossier={d1}:payment={ids['second']}",
        f"receipt_missing:dossier={d1}:payment={ids['second']}:agency={stp}",
        f"receipt_missing:dossier={d2}:payment={ids['over']}",
        f"receipt_missing:dossier={d2}:payment={ids['over']}:agency={stp}"])
    signer = load_signer(settings)
    for name in ("first", "second", "over"):
        with db.transaction() as s:
            payment = s.get(Payment, ids[name])
            assert payment is not None
            issue_receipts(s, payment, settings=settings, signer=signer, moment=PAID)
    assert findings() == []
    # the first part's receipt re-stated as the whole line: a mismatch of that part only
    with db.transaction() as s:
        first = s.scalars(select(Receipt).where(Receipt.payment_id == ids["first"])).one()
        first.document = None
        first.amount = first.total = 100_000  # the register's amount and the stored figures
        first.lines = encode_lines([("phí", 100_000)])
    assert findings() == [
        f"receipt_mismatch:dossier={d1}:payment={ids['first']}:agency={stp}"]


def test_the_pure_pass_on_part_payments() -> None:
    at = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    fees = DossierFees(10, "H57-001", (("phí", 100_000), ("lệ phí", 1_005)),
                       ("H57.STP", "H57.TTPVHCC"), "H57.TTPVHCC")
    agencies = {"H57.TTPVHCC": 1, "H57.STP": 2}
    first = PaidRow(1, "sepay", "T1", 60_000, "succeeded", at, 10)
    second = PaidRow(2, "sepay", "T2", 41_005, "succeeded", at, 10)
    covered = covered_before([(1, 10, 60_000), (2, 10, 41_005)])
    assert covered == {1: 0, 2: 60_000}
    assert fees.parts_by_collector(60_000, 41_005) == {"H57.STP": [("phí", 40_000)],
                                                       "H57.TTPVHCC": [("lệ phí", 1_005)]}

    def found(*receipts: ReceiptRow) -> list[str]:
        return [d.identity for d in check_receipts(
            payments=[first, second], shares={}, dossiers={10: fees}, receipts=list(receipts),
            as_of=at + timedelta(hours=1), config=ReceiptCheckConfig(),
            agencies=agencies, covered=covered).findings]

    def rcpt(rid: int, pid: int, amount: int, kind: str, collector: str) -> ReceiptRow:
        return ReceiptRow(rid, "EBL01", "26T", rid, pid, amount, "H57-001",
                          ((kind, amount),), collector)

    good = [rcpt(1, 1, 60_000, "phí", "H57.STP"), rcpt(2, 2, 40_000, "phí", "H57.STP"),
            rcpt(3, 2, 1_005, "lệ phí", "H57.TTPVHCC")]
    assert found(*good) == []
    assert found(*good[:2]) == ["receipt_missing:dossier=10:payment=2"]
    # the first part receipted for the whole line; a receipt of the centre for the first
    # part, which covers none of its line
    assert found(rcpt(1, 1, 100_000, "phí", "H57.STP"), *good[1:]) == [
        "receipt_mismatch:dossier=10:payment=1:agency=2"]
    assert found(*good, rcpt(4, 1, 1_005, "lệ phí", "H57.TTPVHCC")) == [
        "receipt_mismatch:dossier=10:payment=1"]
    # the parts' lines of another kind than the lines they cover
    assert found(rcpt(1, 1, 60_000, "lệ phí", "H57.STP"), *good[1:]) == [
        "receipt_mismatch:dossier=10:payment=1:agency=2"]
