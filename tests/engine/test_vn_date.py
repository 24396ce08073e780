"""``explain.vn_date``'s shortcut for UTC moments (an addition of Vietnam's offset, no
``astimezone``) gives the date ``astimezone`` gives, for any moment and any zone it comes in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from recon.clock import VN_TZ
from recon.engine.explain import vn_date

moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2999, 12, 31))
zones = st.one_of(st.just(UTC), st.just(VN_TZ), st.integers(-14 * 60, 14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))))


@given(moment=moments, zone=zones)
def test_vn_date_is_the_date_in_vietnam(moment: datetime, zone: timezone) -> None:
    aware = moment.replace(tzinfo=zone)
    assert vn_date(aware) == aware.astimezone(VN_TZ).date()


def test_the_boundaries_of_a_vietnam_day() -> None:
    assert vn_date(datetime(2026, 2, 28, 16, 59, 59, 999999, tzinfo=UTC)).day == 28
    assert vn_date(datetime(2026, 2, 28, 17, tzinfo=UTC)).isoformat() == "2026-03-01"
    assert vn_date(datetime(2026, 3, 1, 6, 59, tzinfo=VN_TZ)).isoformat() == "2026-03-01"
