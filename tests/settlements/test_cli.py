"""`recon settlements import | fetch | profiles` as an operator uses them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from recon.cli import cli
from recon.db import Database
from recon.models import AuditEvent, Payment, SettlementFile, SettlementLine
from tests.settlements.conftest import FAST_HTTP, FIXTURES, FakeProviders
from tests.settlements.test_fetch import (
    PAYOS_KEYS,
    STATEMENT,
    TOKEN,
    _payos_data,
    payos_route,
    sepay_route,
)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _count(db: Database, model: Any) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_import_prints_a_json_summary_last(env: dict[str, str], db: Database) -> None:
    result = run("settlements", "import", "--provider", "vnpay",
                 str(FIXTURES / "vnpay_merchant.csv"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["profile"], summary["lines"], summary["skipped"]) == (
        "vnpay_merchant", 3, 1)
    assert summary["total_amount"] == 1510000
    assert "Reading vnpay_merchant.csv" in result.stderr
    assert "Checking" in result.stderr and "done" in result.stderr
    with db.read() as s:
        assert s.scalars(select(SettlementFile.imported_by)).one() == "cli"


def test_import_with_bad_rows_lists_every_error_and_exits_1(env: dict[str, str],
                                                           tmp_path: Path,
                                                           db: Database) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("provider_txn_id,amount,fee,transaction_at,settled_on,net_amount\n"
                    "A,100000,1000,2026-11-24T10:00:00,2026-11-25,99000\n"
                    "B,100.5,0,2026-11-24T10:00:00,2026-11-25,\n"
                    "C,100000,1000,2026-11-24T10:00:00,2026-11-25,98000\n", encoding="utf-8")
    result = run("settlements", "import", "--provider", "momo", str(path))
    assert result.exit_code == 1
    # line 4 states a net that is not amount - fee: no problem of the import (it is kept with
    # its stated net and reported by reconciliation as a fee_mismatch), so one problem left
    assert "1 problem(s) in bad.csv; nothing was imported" in result.stderr
    assert "line 3: amount:" in result.stderr
    assert "line 4" not in result.stderr
    assert "What to do: Nothing was imported" in result.stderr
    assert result.stdout == ""
    assert _count(db, SettlementFile) == 0 and _count(db, SettlementLine) == 0


def test_import_twice_is_refused_with_exit_1(env: dict[str, str], db: Database) -> None:
    path = str(FIXTURES / "canonical.csv")
    assert run("settlements", "import", "--provider", "vnpay", path).exit_code == 0
    events = _count(db, AuditEvent)
    again = run("settlements", "import", "--provider", "vnpay", path)
    assert again.exit_code == 1
    assert "canonical.csv was already imported on" in again.stderr
    assert "nothing was changed" in again.stderr
    assert _count(db, AuditEvent) == events and _count(db, SettlementFile) == 1


def test_import_with_a_named_profile_and_a_profiles_file(env: dict[str, str], db: Database,
                                                         tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    custom = tmp_path / "profiles.toml"
    custom.write_text('[profiles.short]\nproviders = ["pos"]\n[profiles.short.columns]\n'
                      'provider_txn_id = "rrn"\namount = "so tien"\nsettled_on = "ngay"\n',
                      encoding="utf-8")
    monkeypatch.setenv("RECON_SETTLEMENT_PROFILES", str(custom))
    data = tmp_path / "pos.csv"
    data.write_text("rrn,so tien,ngay\n433012345678,180000,2026-11-25\n", encoding="utf-8")
    result = run("settlements", "import", "--provider", "pos", "--profile", "short",
                 str(data))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[-1])["profile"] == "short"
    listing = run("settlements", "profiles")
    assert listing.exit_code == 0
    names = [line.split()[0] for line in listing.stdout.splitlines()]
    assert names == ["canonical", "vnpay_merchant", "momo_report", "vietinbank_statement",
                     "sepay_export", "short"]
    assert f"[{custom}]" in listing.stdout
    full = json.loads(run("settlements", "profiles", "--json").stdout)
    assert full[0]["name"] == "canonical" and full[0]["columns"]["fee"] == ["fee"]
    custom.write_text("[profiles.short]\n", encoding="utf-8")
    broken = run("settlements", "profiles")
    assert broken.exit_code == 1
    assert "profile 'short'" in broken.stderr and "What to do" in broken.stderr


def test_unknown_provider_is_refused_by_the_cli(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["settlements", "import", "--provider", "paypal",
                                      str(FIXTURES / "canonical.csv")])
    assert result.exit_code == 2
    assert "'paypal' is not one of" in result.output


def _fetch_env(monkeypatch: pytest.MonkeyPatch, fake: FakeProviders, **more: str) -> None:
    for key, value in {**FAST_HTTP, **more}.items():
        monkeypatch.setenv(key, value)
    for provider in ("SEPAY", "PAYOS"):
        monkeypatch.setenv(f"RECON_{provider}_API_BASE", fake.url)


def test_fetch_sepay_then_again(env: dict[str, str], db: Database, fake: FakeProviders,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    sepay_route(fake, list(STATEMENT))
    _fetch_env(monkeypatch, fake, RECON_SEPAY_API_TOKEN=TOKEN)
    result = run("settlements", "fetch", "--provider", "sepay", "--date", "2026-11-25")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["kind"], summary["lines"], summary["date"]) == (
        "statement", 4, "2026-11-25")
    again = run("settlements", "fetch", "--provider", "sepay", "--date", "2026-11-25")
    assert again.exit_code == 1
    assert "the same data was already fetched" in again.stderr
    assert "there is nothing new for that date" in again.stderr
    assert _count(db, SettlementFile) == 1


def test_fetch_errors_say_what_to_do(env: dict[str, str], fake: FakeProviders,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _fetch_env(monkeypatch, fake)
    missing = run("settlements", "fetch", "--provider", "sepay")
    assert missing.exit_code == 1
    assert "RECON_SEPAY_API_TOKEN is not set" in missing.stderr
    assert "What to do: Set RECON_SEPAY_API_TOKEN" in missing.stderr
    bad_date = run("settlements", "fetch", "--provider", "sepay", "--date", "25/11/2026")
    assert bad_date.exit_code == 1 and "--date must be YYYY-MM-DD" in bad_date.stderr
    monkeypatch.setenv("RECON_SEPAY_API_TOKEN", TOKEN)
    fake.fail_first = 100
    down = run("settlements", "fetch", "--provider", "sepay", "--date", "2026-11-25")
    assert down.exit_code == 1
    assert "SePay did not answer after 3 attempts (HTTP 500)" in down.stderr
    assert fake.calls() == 3
    casso = run("settlements", "fetch", "--provider", "casso")
    assert casso.exit_code == 1
    assert "recon settlements import --provider casso FILE" in casso.stderr


def test_fetch_payos_exit_1_when_an_answer_cannot_be_trusted(
        env: dict[str, str], db: Database, fake: FakeProviders, make_intent: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    make_intent("payos", order_code=42)
    payos_route(fake, {42: _payos_data(42, 180000, [("FT42", 180000)])}, tamper=True)
    _fetch_env(monkeypatch, fake, **PAYOS_KEYS)
    result = run("settlements", "fetch", "--provider", "payos", "--date", "2026-11-26")
    assert result.exit_code == 1
    assert json.loads(result.stdout.strip().splitlines()[-1])["errors"]
    assert "signature that does not match" in result.stderr
    assert _count(db, Payment) == 0
