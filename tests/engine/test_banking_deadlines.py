"""Settlement deadlines count banking days: Tết, bridge days and make-up Saturdays move them,
and the SQL-side cutoff (``settlement_cutoff``, used by incremental runs) agrees with the rule."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from recon.calendar import load_calendar
from recon.engine import EngineConfig, settlement_cutoff, settlement_deadline, settlement_overdue
from recon.engine.settings import engine_config_from_env
from tests.engine.engine_builders import dossier, pay, run, vn

VN_CAL, _ = load_calendar()
BANKING = EngineConfig(calendar=VN_CAL)


def _missing(as_of: datetime, config: EngineConfig = BANKING) -> list[str]:
    p = pay(1, 50_000, dossier=1, paid_at=vn(2021, 2, 9, 15))
    result = run(dossiers=[dossier(1, 50_000)], payments=[p], as_of=as_of, config=config)
    return [d.kind for d in result.discrepancies]


def test_a_payment_before_tet_is_due_after_it() -> None:
    """Paid Tue 9 Feb 2021, 2 banking days: Tết (10–16 Feb) counts no day, so the deadline is
    Thu 18 Feb; with calendar days it would have been Thu 11 Feb, in the middle of Tết."""
    assert settlement_deadline(vn(2021, 2, 9, 15), 2, VN_CAL).isoformat() == "2021-02-18"
    assert settlement_deadline(vn(2021, 2, 9, 15), 2).isoformat() == "2021-02-11"
    assert _missing(vn(2021, 2, 18, 23, 59)) == []
    assert _missing(vn(2021, 2, 19)) == ["missing_settlement"]
    assert _missing(vn(2021, 2, 12), EngineConfig()) == ["missing_settlement"]


def test_the_explanation_names_banking_days() -> None:
    p = pay(1, 50_000, dossier=1, paid_at=vn(2021, 2, 9, 15))
    (d,) = run(dossiers=[dossier(1, 50_000)], payments=[p], as_of=vn(2021, 3, 1),
               config=BANKING).discrepancies
    assert "2 ngày làm việc (hết ngày 18/02/2021)" in d.explanation
    assert "2-banking-day settlement deadline" in d.explanation_en


def test_a_make_up_saturday_counts() -> None:
    """Paid Fri 21 Aug 2026 with 1 banking day: due on the make-up Saturday 22 Aug."""
    assert settlement_deadline(vn(2026, 8, 21, 10), 1, VN_CAL).isoformat() == "2026-08-22"
    assert settlement_deadline(vn(2026, 8, 28, 10), 1, VN_CAL).isoformat() == "2026-09-03"


def test_the_service_counts_on_the_banking_calendar() -> None:
    config = engine_config_from_env({"RECON_SETTLEMENT_DAYS": "2"})
    assert config.banking_days
    assert not config.calendar.is_banking_day(vn(2026, 2, 17).date())


moments = st.datetimes(min_value=datetime(2020, 12, 1), max_value=datetime(2027, 1, 31),
                       timezones=st.just(UTC))


@given(moments, moments, st.integers(0, 6))
def test_cutoff_agrees_with_the_deadline_on_the_banking_calendar(
        paid_at: datetime, as_of: datetime, days: int) -> None:
    assert (paid_at < settlement_cutoff(as_of, days, VN_CAL)) is settlement_overdue(
        paid_at, days, as_of, VN_CAL)


def test_cutoff_around_tet_2026() -> None:
    """As of Mon 23 Feb 2026 with 1 banking day: paid before Fri 13 Feb is overdue."""
    cutoff = settlement_cutoff(vn(2026, 2, 23, 9), 1, VN_CAL)
    assert cutoff == vn(2026, 2, 13).astimezone(UTC)
