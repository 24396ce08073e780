"""The desk's list: today's dossiers that still owe fees, newest first, found by the applicant's
name typed with or without diacritics, or by code; the folded name kept on every write path."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text, update
from werkzeug.test import TestResponse

from recon.clock import VN_TZ, FixedClock
from recon.db import Database
from recon.intake import desk_queue
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.intake.importer import ImportSummary, write_dossiers
from recon.models import Agency, Dossier
from recon.models.dossiers import fold_name
from recon.payments.recording import PaymentEvent, record_payment
from recon.web import cashier as desk
from tests.foundation.helpers import AGENCY, dossier_body, seed_agency

OTHER = "H57.UBND.PHUXUAN"
TODAY = "2026-11-26"  # T0 in tests/conftest.py is 10:00 in Huế on this day
NBSP = "\u00a0"


def _code(n: int, day: str = "261126") -> str:
    return f"000.00.21.H57-{day}-{n:04d}"


def _dossier(db: Database, clock: FixedClock, n: int, applicant: str, at: str, *,
             agency: str = AGENCY, fees: list[dict[str, Any]] | None = None,
             day: str = "261126") -> str:
    body = dossier_body(_code(n, day), applicant_name=applicant, received_at=at,
                        agency_code=agency)
    if fees is not None:
        body["fees"] = fees
    with db.transaction() as s:
        upsert_dossier(s, clock, parse_dossier(body), actor="test")
    return _code(n, day)


def _pay(db: Database, clock: FixedClock, code: str, amount: int, txn: str) -> None:
    with db.transaction() as s:
        record_payment(s, clock, PaymentEvent(
            provider="cash", provider_txn_id=txn, channel="cash", amount=amount,
            status="succeeded", paid_at=clock.now(), receipt_number=txn, dossier_code=code),
            actor="test", reference_prefix="HS")


@pytest.fixture
def day(db: Database, clock: FixedClock) -> dict[str, str]:
    """Two agencies; today's dossiers in several states, and yesterday's."""
    seed_agency(db, clock)
    seed_agency(db, clock, OTHER)
    with db.transaction() as s:
        s.execute(update(Agency).where(Agency.code == OTHER)
                  .values(name="UBND phường Phú Xuân"))
    codes = {
        "a": _dossier(db, clock, 1, "Nguyễn Văn A", f"{TODAY}T07:35:00+07:00"),
        "duc": _dossier(db, clock, 2, "Đặng Đức Anh", f"{TODAY}T08:10:00+07:00"),
        "paid": _dossier(db, clock, 3, "Trần Thị Bích", f"{TODAY}T08:20:00+07:00"),
        "free": _dossier(db, clock, 4, "Lê Văn Miễn", f"{TODAY}T08:30:00+07:00", fees=[]),
        "other": _dossier(db, clock, 5, "Nguyễn Văn An", f"{TODAY}T09:05:00+07:00",
                          agency=OTHER),
        "midnight": _dossier(db, clock, 6, "Phạm Thị Khuya", f"{TODAY}T00:00:00+07:00"),
        "yesterday": _dossier(db, clock, 1, "Nguyễn Văn A", "2026-11-25T16:00:00+07:00",
                              day="261125"),
        "tomorrow": _dossier(db, clock, 1, "Nguyễn Văn A", "2026-11-27T00:00:00+07:00",
                             day="261127"),
    }
    _pay(db, clock, codes["paid"], 180_000, "BL-PAID")
    _pay(db, clock, codes["duc"], 100_000, "BL-HALF")
    return codes


@pytest.fixture
def cashier(login: Any) -> str:
    token: str = login("cashier")
    return token


def page(response: TestResponse) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def listed(html: str) -> list[str]:
    return re.findall(r'data-testid="desk-row" data-code="([^"]+)"', html)


# ------------------------------------------------------------------------------ folding


@pytest.mark.parametrize(("name", "folded"), [
    ("Nguyễn Văn A", "nguyen van a"),
    ("ĐẶNG  ĐỨC   Anh", "dang duc anh"),
    ("Trần Thị Bích Ngọc", "tran thi bich ngoc"),
    ("Hoàng Thị Hương Quỳnh", "hoang thi huong quynh"),
    ("Vũ Ưng Ơn", "vu ung on"),
    (unicodedata.normalize("NFD", "Nguyễn Văn Đạt"), "nguyen van dat"),  # decomposed input
    ("  Lê\u00a0Văn\tMiễn ", "le van mien"),
])
def test_fold_name(name: str, folded: str) -> None:
    assert fold_name(name) == folded


def test_the_migration_folds_as_the_model_does() -> None:
    """0007's backfill has its own frozen copy of the folding: it must agree with the model."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "migrations/versions/0007_desk_search.py"
    spec = importlib.util.spec_from_file_location("migration_0007", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    vowels = "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵđ"
    samples = [vowels, vowels.upper(), "Nguyễn Văn A", "İstanbul Ǆ", "x" * 300, ""]
    for sample in samples:
        assert migration.fold(sample) == fold_name(sample)
    assert fold_name(vowels) == "a" * 18 + "e" * 12 + "i" * 6 + "o" * 18 + "u" * 12 + \
        "y" * 6 + "d"


def test_folded_name_is_kept_on_create_and_update(db: Database, clock: FixedClock) -> None:
    seed_agency(db, clock)
    code = _dossier(db, clock, 1, "Nguyễn Văn A", f"{TODAY}T07:35:00+07:00")
    with db.read() as s:
        assert s.scalar(select(Dossier.applicant_name_folded)) == "nguyen van a"
    _dossier(db, clock, 1, "Đỗ Thị Hồng", f"{TODAY}T07:35:00+07:00")
    with db.read() as s:
        row = s.execute(select(Dossier.code, Dossier.applicant_name_folded)).one()
    assert tuple(row) == (code, "do thi hong")


def test_folded_name_is_written_by_the_bulk_importer(db: Database, clock: FixedClock) -> None:
    """The importer writes new dossiers set-based (COPY on PostgreSQL), not through the ORM."""
    seed_agency(db, clock)
    inputs = [parse_dossier(dossier_body(_code(n), applicant_name=name,
                                         received_at=f"{TODAY}T08:00:00+07:00"))
              for n, name in ((1, "Nguyễn Văn A"), (2, "Đinh Thị Ánh"))]
    with db.read() as s:
        agencies = dict(s.execute(select(Agency.code, Agency.id)).all())
    summary = ImportSummary(file="t", sha256="", format="test", records=2)
    with db.transaction() as s:
        write_dossiers(s, clock, inputs, agencies, summary, actor="test")
    with db.read() as s:
        folded = dict(s.execute(select(Dossier.code, Dossier.applicant_name_folded)).all())
    assert folded == {_code(1): "nguyen van a", _code(2): "dinh thi anh"}


def test_migration_0007_backfills_existing_dossiers(db: Database, clock: FixedClock) -> None:
    from alembic import command

    from recon.cli.admin import alembic_config, upgrade_database

    seed_agency(db, clock)
    _dossier(db, clock, 1, "Nguyễn Văn A", f"{TODAY}T07:35:00+07:00")
    db.dispose()
    command.downgrade(alembic_config(db.url), "0006")
    db.dispose()
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO dossiers (id, code, agency_id, procedure_id, applicant_name, received_at,"
            " received_channel, status, created_at, updated_at) SELECT 99, 'OLD-1', agency_id, "
            "procedure_id, 'ĐOÀN Thị Ễ', received_at, 'counter', 'received', created_at, "
            "updated_at FROM dossiers"))
    db.dispose()
    upgrade_database(db.url)
    db.dispose()
    with db.engine.connect() as conn:
        rows = dict(conn.execute(text(
            "SELECT code, applicant_name_folded FROM dossiers")).all())
    assert rows == {_code(1): "nguyen van a", "OLD-1": "doan thi e"}


def _plan(db: Database, statement: Any) -> str:
    """SQLite's EXPLAIN QUERY PLAN of ``statement``, its steps joined in one line."""
    compiled = statement.compile(dialect=db.engine.dialect)
    params = compiled.construct_params()
    values = tuple(v.isoformat() if hasattr(v, "isoformat") else v
                   for v in (params[name] for name in compiled.positiontup or ()))
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values).all()
    return " | ".join(str(r[-1]) for r in rows)


def test_the_day_is_found_through_an_index(db: Database, clock: FixedClock) -> None:
    """The list narrows by received_at (and agency) through an index, never a full scan."""
    if db.engine.dialect.name != "sqlite":
        # PostgreSQL's planner picks a sequential scan on a table this small; the same
        # statement is checked on SQLite, whose plan does not depend on statistics
        return
    seed_agency(db, clock)
    with db.read() as s:
        agency = s.scalars(select(Agency)).one()
    plan = _plan(db, desk_queue.owing_statement(date(2026, 11, 26), agency=agency, query="van a"))
    plan_all = _plan(db, desk_queue.owing_statement(date(2026, 11, 26)))
    assert "ix_dossiers_agency_received (agency_id=? AND received_at>? AND received_at<?)" \
        in plan, plan
    assert "ix_dossiers_received_at (received_at>? AND received_at<?)" in plan_all, plan_all
    assert "SCAN dossiers" not in plan + plan_all


# ------------------------------------------------------------------------------ the list


def test_today_owing_newest_first_with_amounts(client: FlaskClient, cashier: str,
                                               day: dict[str, str]) -> None:
    html = page(client.get("/cashier"))
    assert listed(html) == [day["other"], day["duc"], day["a"], day["midnight"]]
    assert "Hồ sơ hôm nay còn phải nộp" in html
    assert "Tiếp nhận hôm nay, 26/11/2026, còn khoản phải nộp; mới nhất ở trên." in html
    assert f"4 hồ sơ, cần thu 620.000{NBSP}₫" in html  # 180 + 80 + 180 + 180 thousand
    row = re.search(rf'data-code="{re.escape(day["duc"])}".*?</tr>', html, re.S)
    assert row is not None
    assert "Đặng Đức Anh" in row.group(0) and "08:10" in row.group(0)
    assert "Đăng ký thành lập hộ kinh doanh" in row.group(0)
    assert f">80.000{NBSP}₫<" in row.group(0)  # 180.000 assessed, 100.000 paid
    assert f'href="/cashier?code={day["duc"]}"' in row.group(0)
    assert "UBND phường Phú Xuân" in html  # every agency: the agency column is shown
    for gone in ("paid", "free", "yesterday", "tomorrow"):
        assert day[gone] not in listed(html)


@pytest.mark.parametrize(("typed", "expected"), [
    ("nguyen van a", ["other", "a"]),  # "Nguyễn Văn An" contains it too
    ("Nguyễn Văn A", ["other", "a"]),
    ("NGUYEN VAN AN", ["other"]),
    ("dang duc", ["duc"]),
    ("Đặng", ["duc"]),
    ("ĐẶNG ĐỨC ANH", ["duc"]),
    ("  duc   anh ", ["duc"]),
    ("khuya", ["midnight"]),
    ("261126-0002", ["duc"]),  # part of a code
    ("h57-261126-000", ["other", "duc", "a", "midnight"]),
])
def test_search_by_name_without_diacritics_or_by_code(client: FlaskClient, cashier: str,
                                                     day: dict[str, str], typed: str,
                                                     expected: list[str]) -> None:
    html = page(client.get("/cashier", query_string={"q": typed}))
    assert listed(html) == [day[k] for k in expected]
    shown = " ".join(typed.split())
    assert f"khớp với “{shown}”" in html
    assert "Xóa tìm kiếm" in html


def test_search_finds_nothing_and_says_what_to_do(client: FlaskClient, cashier: str,
                                                 day: dict[str, str]) -> None:
    html = page(client.get("/cashier", query_string={"q": "bich"}))  # paid in full
    assert listed(html) == []
    assert ("Không có hồ sơ nào hôm nay còn phải nộp khớp với “bich”. Kiểm tra lại chính tả "
            "hoặc quét mã vạch của hồ sơ.") in html
    html = page(client.get("/cashier", query_string={"q": "100%_"}))  # LIKE wildcards
    assert listed(html) == []


def test_a_code_typed_in_full_opens_the_dossier_even_an_old_one(
        client: FlaskClient, cashier: str, day: dict[str, str]) -> None:
    for code in (day["a"], day["yesterday"], day["paid"]):
        response = client.get("/cashier", query_string={"q": code})
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"/cashier?code={code}")


def test_the_counter_is_chosen_on_the_desk_and_remembered(client: FlaskClient, cashier: str,
                                                          day: dict[str, str]) -> None:
    html = page(client.get("/cashier", query_string={"agency": OTHER}))
    assert listed(html) == [day["other"]]
    assert re.search(rf'<option value="{re.escape(OTHER)}" selected>', html)
    assert "Hồ sơ hôm nay còn phải nộp · UBND phường Phú Xuân" in html
    assert listed(page(client.get("/cashier"))) == [day["other"]]  # kept in the session
    assert listed(page(client.get("/cashier", query_string={"q": "nguyen"}))) == [day["other"]]
    html = page(client.get("/cashier", query_string={"agency": ""}))
    assert len(listed(html)) == 4
    assert re.search(r'<option value="" selected>Tất cả đơn vị</option>', html)


def test_an_unknown_agency_shows_every_agency_and_says_so(client: FlaskClient, cashier: str,
                                                          day: dict[str, str]) -> None:
    html = page(client.get("/cashier", query_string={"agency": "NOPE"}))
    assert len(listed(html)) == 4
    assert ("Không có đơn vị mã NOPE; đang hiện tất cả đơn vị. Chọn quầy trong danh sách."
            in html)


def test_the_list_alone_for_search_as_you_type(client: FlaskClient, cashier: str,
                                               day: dict[str, str]) -> None:
    response = client.get("/cashier", query_string={"partial": "list", "q": day["a"]})
    html = page(response)  # a full code is not opened here: the list shows it
    assert html.lstrip().startswith('<section class="card no-print queue" id="desk-list"')
    assert "<html" not in html
    assert listed(html) == [day["a"]]


def test_an_empty_day_says_so(client: FlaskClient, login: Any, db: Database,
                              clock: FixedClock, day: dict[str, str]) -> None:
    clock.advance(timedelta(days=3))
    login("cashier")  # after the clock moved: a session idle for three days has ended
    html = page(client.get("/cashier"))
    assert listed(html) == []
    assert ("Không có hồ sơ nào tiếp nhận hôm nay còn phải nộp. Quét hoặc nhập mã hồ sơ để mở "
            "hồ sơ những ngày trước.") in html


def test_the_list_is_limited_and_says_so(client: FlaskClient, cashier: str, db: Database,
                                         clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
                                         day: dict[str, str]) -> None:
    monkeypatch.setattr(desk_queue, "LIST_LIMIT", 2)
    html = page(client.get("/cashier"))
    assert listed(html) == [day["other"], day["duc"]]
    assert f"4 hồ sơ, cần thu 620.000{NBSP}₫" in html
    assert "Đang hiện 2 hồ sơ mới nhất. Nhập tên hoặc mã để thu hẹp danh sách." in html


def test_the_list_in_english(client: FlaskClient, cashier: str, day: dict[str, str]) -> None:
    html = page(client.get("/cashier", query_string={"lang": "en", "q": "nguyen van a"}))
    assert "Still to pay today" in html
    assert f"2 dossiers match “nguyen van a”, 360.000{NBSP}₫ to collect" in html
    assert "All agencies" in html and "Amount to pay" in html


def test_every_new_desk_text_is_vietnamese(client: FlaskClient, cashier: str,
                                           day: dict[str, str]) -> None:
    """No English key of the desk shows on its Vietnamese pages."""
    pages = [page(client.get("/cashier")),
             page(client.get("/cashier", query_string={"q": "bich"})),
             page(client.get("/cashier", query_string={"agency": "NOPE"})),
             page(client.get("/cashier", query_string={"code": day["a"]}))]
    english = [key for key in desk.VI if re.fullmatch(r"[A-Z][a-z]+(?: [a-z']+)+", key)]
    assert english
    for html in pages:
        visible = re.sub(r"<[^>]+>", " ", html)
        for key in english:
            assert f" {key} " not in f" {' '.join(visible.split())} ", key


def test_owing_queue_counts_and_money(db: Database, clock: FixedClock,
                                      day: dict[str, str]) -> None:
    with db.read() as s:
        queue = desk_queue.owing_queue(s, date(2026, 11, 26))
        assert (queue.total, queue.owed) == (4, 620_000)
        assert all(type(r.owed) is int for r in queue.rows)
        assert [r.received_at.astimezone(VN_TZ).strftime("%H:%M") for r in queue.rows] == [
            "09:05", "08:10", "07:35", "00:00"]
        yesterday = desk_queue.owing_queue(s, date(2026, 11, 25))
        assert [r.code for r in yesterday.rows] == [day["yesterday"]]
