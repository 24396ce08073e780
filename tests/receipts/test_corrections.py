"""Replace or adjust, never erase: a correction is proposed, approved by a second person, and
then issues a new signed receipt (next number of the same counter) naming the original, which
stays issued and readable, marked; the error notice is kept; every step audited."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import xmlschema
from lxml import etree
from sqlalchemy import func, select

from recon.audit.four_eyes import SameUser
from recon.clock import FixedClock
from recon.db import Database
from recon.errors import Conflict, NotFound, ValidationError
from recon.models import AuditEvent, Payment, Receipt, ReceiptCorrection
from recon.receipts import corrections
from recon.receipts.document import SCHEMA_PATH, read
from recon.receipts.issuing import issue_receipt, load_signer
from recon.receipts.notice import SCHEMA_PATH as NOTICE_SCHEMA
from recon.receipts.settings import ReceiptSettings
from recon.receipts.signing import DS, Signer, verify
from recon.scope import Scope
from tests.receipts.figures import assert_figures_stored
from tests.receipts.keys import PASSWORD, make_keys
from tests.receipts.test_issuing import PAID, _payment

XMLSEC1 = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
LATER = datetime(2026, 11, 27, 2, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def settings(keys: tuple[Path, Path]) -> ReceiptSettings:
    return ReceiptSettings.from_env({"RECON_RECEIPTS": "on",
                                     "RECON_RECEIPT_P12_FILE": str(keys[0]),
                                     "RECON_RECEIPT_P12_PASSWORD": PASSWORD,
                                     "RECON_RECEIPT_TAX_CODE": "3300101234"})


@pytest.fixture
def signer(settings: ReceiptSettings) -> Signer:
    return load_signer(settings)


def _issued(db: Database, settings: ReceiptSettings, signer: Signer, txn: str = "T1") -> int:
    payment_id = _payment(db, txn=txn)
    with db.transaction() as s:
        payment = s.get(Payment, payment_id)
        assert payment is not None
        receipt = issue_receipt(s, payment, settings=settings, signer=signer, moment=PAID)
        assert receipt is not None
        return receipt.id


def _xmlsec1(document: bytes, pem: Path, tmp_path: Path) -> int:
    path = tmp_path / "r.xml"
    path.write_bytes(document)
    return subprocess.run([XMLSEC1, "--verify", "--trusted-pem", str(pem), "--id-attr:Id",
                           "DLCTu", "--id-attr:Id", f"{DS}:Object", str(path)],
                          capture_output=True, check=False).returncode


def test_a_replacement_needs_a_second_person_and_names_the_original(
        db: Database, settings: ReceiptSettings, signer: Signer, keys: tuple[Path, Path],
        tmp_path: Path) -> None:
    clock = FixedClock(LATER)
    original_id = _issued(db, settings, signer)
    with db.transaction() as s:
        proposal = corrections.propose(s, clock, original_id, kind="replacement",
                                       reason="Sai tên người nộp", payer_name="Nguyễn Thị Hòa",
                                       actor="user:ketoan")
        proposal_id = proposal.id
    with db.transaction() as s, pytest.raises(SameUser):
        corrections.approve(s, clock, proposal_id, actor="user:ketoan", settings=settings,
                            signer=signer)
    with db.read() as s:  # the refused approval changed nothing
        assert s.scalar(select(func.count()).select_from(Receipt)) == 1
        assert s.get(ReceiptCorrection, proposal_id).status == "proposed"  # type: ignore[union-attr]
    with db.transaction() as s:
        new = corrections.approve(s, clock, proposal_id, actor="user:ketoan2",
                                  settings=settings, signer=signer)
        new_id = new.id
    with db.read() as s:
        original = s.get(Receipt, original_id)
        new = s.get(Receipt, new_id)
        assert original is not None and new is not None
        assert (original.status, original.corrected_as) == ("issued", "replaced")
        assert original.document is not None and verify(original.document.encode())  # readable
        assert (new.number, new.kind, new.corrects_id, new.status) == (2, "replacement",
                                                                       original_id, "issued")
        assert new.payment_id == original.payment_id and new.amount == 101_005
        document = (new.document or "").encode("utf-8")
        verify(document)
        assert _xmlsec1(document, keys[1], tmp_path) == 0
        assert _xmlsec1(document.replace(b"Nguy\xe1\xbb\x85n Th\xe1\xbb\x8b H\xc3\xb2a",
                                         b"Nguyen Thi Hoa"), keys[1], tmp_path) != 0
        xmlschema.XMLSchema(str(SCHEMA_PATH)).validate(etree.fromstring(document))
        root = etree.fromstring(document)
        related = root.find("DLCTu/TTChung/TTCTLQuan")
        assert related is not None
        assert [related.findtext(t) for t in ("TCCTu", "KHMSCTCLQuan", "KHCTCLQuan",
                                              "SCTCLQuan", "NLCTCLQuan")] == [
            "1", "EBL01", "26T", "1", "2026-11-26"]
        assert related.findtext("GChu") == ("Thay thế cho biên lai mẫu số EBL01 ký hiệu 26T "
                                            "số 00000001 ngày 26/11/2026")
        assert read(document).payer.name == "Nguyễn Thị Hòa"
        assert root.findtext("DLCTu/TTChung/MTCuu") != etree.fromstring(
            original.document.encode()).findtext("DLCTu/TTChung/MTCuu")
        correction = s.get(ReceiptCorrection, proposal_id)
        assert correction is not None and correction.status == "approved"
        assert correction.new_receipt_id == new_id and correction.decided_by == "user:ketoan2"
        notice = (correction.notice or "").encode("utf-8")
        xmlschema.XMLSchema(str(NOTICE_SCHEMA)).validate(etree.fromstring(notice))
        row = etree.fromstring(notice).find("DLTBao/DSCTu/CTu")
        assert row is not None
        assert [row.findtext(t) for t in ("SCTu", "NLap", "TCTBao", "LDo")] == [
            "1", "2026-11-26", "3", "Sai tên người nộp"]
        actions = list(s.scalars(select(AuditEvent.action).where(
            AuditEvent.entity_type == "receipt").order_by(AuditEvent.id)))
        assert actions == ["receipt.correction_proposed", "receipt.correction_approved"]
    with db.transaction() as s, pytest.raises(Conflict):  # replaced once, never again
        corrections.propose(s, clock, original_id, kind="replacement", reason="x",
                            payer_name="Another", actor="user:a")


def test_an_adjustment_carries_the_negative_difference(
        db: Database, settings: ReceiptSettings, signer: Signer, keys: tuple[Path, Path],
        tmp_path: Path) -> None:
    clock = FixedClock(LATER)
    original_id = _issued(db, settings, signer)
    line = corrections.parse_line("lệ phí:Lệ phí cấp:-1.005")
    assert (line.kind, line.amount) == ("lệ phí", -1005)
    with db.transaction() as s:
        proposal_id = corrections.propose(s, clock, original_id, kind="adjustment",
                                          reason="Hoàn lệ phí thu thừa", lines=[line],
                                          actor="user:a").id
    with db.transaction() as s:
        new = corrections.approve(s, clock, proposal_id, actor="user:b", settings=settings,
                                  signer=signer)
        new_id = new.id
    with db.read() as s:
        new = s.get(Receipt, new_id)
        assert new is not None and (new.amount, new.kind, new.number) == (-1005, "adjustment", 2)
        document = (new.document or "").encode("utf-8")
        xmlschema.XMLSchema(str(SCHEMA_PATH)).validate(etree.fromstring(document))
        assert _xmlsec1(document, keys[1], tmp_path) == 0
        root = etree.fromstring(document)
        assert root.findtext("DLCTu/NDCTu/TToan/TgTien") == "-1005"
        assert root.findtext("DLCTu/NDCTu/TToan/TgTienBChu") == (
            "Âm một nghìn không trăm linh năm đồng")
        assert root.findtext("DLCTu/TTChung/TTCTLQuan/GChu", "").startswith("Điều chỉnh cho")
        assert s.get(Receipt, original_id).corrected_as == "adjusted"  # type: ignore[union-attr]
        assert (new.total, new.lines) == (-1005, '[["lệ phí",-1005]]')
    assert assert_figures_stored(db) == 2  # the original and its adjustment


@pytest.mark.parametrize(("kind", "lines", "payer", "field"), [
    ("cancel", None, None, "kind"),
    ("replacement", None, None, "lines"),  # nothing changes
    ("replacement", ["phí:Phí:-5"], None, "lines"),
    ("adjustment", None, None, "lines"),
    ("adjustment", ["phí:Phí thẩm định:-200000"], None, "lines"),  # below zero
    ("adjustment", ["phí:Phí:5"], "Someone", "payer_name"),
])
def test_refused_proposals_change_nothing(db: Database, settings: ReceiptSettings,
                                          signer: Signer, kind: str, lines: list[str] | None,
                                          payer: str | None, field: str) -> None:
    original_id = _issued(db, settings, signer)
    with db.transaction() as s, pytest.raises(ValidationError) as caught:
        corrections.propose(s, FixedClock(LATER), original_id, kind=kind, reason="lý do",
                            lines=[corrections.parse_line(x) for x in lines or []] or None,
                            payer_name=payer, actor="user:a")
    assert caught.value.errors[0].field == field
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(ReceiptCorrection)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_bad_lines_and_unknown_or_foreign_receipts(db: Database, settings: ReceiptSettings,
                                                   signer: Signer) -> None:
    for text in ("phí:150000", "thuế:Thuế:5", "phí:Phí:1,5", "phí::5"):
        with pytest.raises(ValidationError):
            corrections.parse_line(text)
    original_id = _issued(db, settings, signer)
    with db.transaction() as s, pytest.raises(NotFound):
        corrections.propose(s, FixedClock(LATER), original_id + 99, kind="replacement",
                            reason="x", payer_name="Y", actor="user:a")
    with db.transaction() as s, pytest.raises(NotFound):  # another agency's receipt
        corrections.propose(s, FixedClock(LATER), original_id, kind="replacement",
                            reason="x", payer_name="Y", actor="user:a", scope=Scope.of([-1]))


def test_a_rejected_proposal_issues_nothing_and_frees_the_receipt(
        db: Database, settings: ReceiptSettings, signer: Signer) -> None:
    clock = FixedClock(LATER)
    original_id = _issued(db, settings, signer)
    with db.transaction() as s:
        first = corrections.propose(s, clock, original_id, kind="replacement", reason="x",
                                    payer_name="Y", actor="user:a").id
    with db.transaction() as s, pytest.raises(Conflict):  # one pending proposal at a time
        corrections.propose(s, clock, original_id, kind="replacement", reason="x",
                            payer_name="Z", actor="user:b")
    with db.transaction() as s:
        corrections.reject(s, clock, first, actor="user:a", note="rút lại")
    with db.transaction() as s, pytest.raises(Conflict):
        corrections.approve(s, clock, first, actor="user:b", settings=settings, signer=signer)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Receipt)) == 1
        assert s.get(Receipt, original_id).corrected_as is None  # type: ignore[union-attr]
    assert date(2026, 11, 26) == PAID.date()
