"""`recon demo` gives the desk a non-empty list today, whatever the date, idempotently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from recon.clock import VN_TZ, FixedClock
from recon.db import Database
from recon.demo.seed import TODAY_QUEUE, seed_demo, today_queue
from recon.intake.desk_queue import owing_queue
from recon.models.dossiers import fold_name


def test_the_demo_fills_todays_list_whatever_the_date(db: Database,
                                                      clock: FixedClock) -> None:
    first = seed_demo(db, clock, dossiers=600)
    assert first.today is not None and first.today.created == TODAY_QUEUE
    today = clock.now().astimezone(VN_TZ).date()
    with db.read() as s:
        queue = owing_queue(s, today)
    assert queue.total == TODAY_QUEUE and queue.owed > 0
    assert all(r.owed > 0 and r.applicant for r in queue.rows)
    assert all(r.received_at.astimezone(VN_TZ).date() == today for r in queue.rows)
    # the demo's names carry diacritics and are found without them (folded by the importer)
    name = next(r.applicant for r in queue.rows if not r.applicant.isascii())
    with db.read() as s:
        found = owing_queue(s, today, query=fold_name(name))
    assert fold_name(name).isascii() and name in [r.applicant for r in found.rows]

    again = seed_demo(db, clock, dossiers=600)
    assert again.today is not None and again.today.created == 0  # idempotent

    # a Sunday, ten days later: that day gets its own queue
    clock.advance(timedelta(days=10))
    assert clock.now().astimezone(VN_TZ).weekday() == 6
    later = seed_demo(db, clock, dossiers=600)
    assert later.today is not None and later.today.created == TODAY_QUEUE
    with db.read() as s:
        assert owing_queue(s, clock.now().astimezone(VN_TZ).date()).total == TODAY_QUEUE
        assert owing_queue(s, today).total == TODAY_QUEUE  # the earlier day is untouched


def test_todays_queue_has_fees_and_the_day_in_its_codes() -> None:
    for start in (datetime(2026, 1, 1, 1, tzinfo=UTC), datetime(2027, 9, 2, 23, tzinfo=UTC)):
        queue = today_queue(FixedClock(start))
        day = start.astimezone(VN_TZ)
        assert len(queue) == TODAY_QUEUE
        assert all(d.total_assessed > 0 for d in queue)
        assert all(f"-{day:%y%m%d}-9" in d.code for d in queue)
        assert all(d.received_at.astimezone(VN_TZ).date() == day.date() for d in queue)
        assert len({d.code for d in queue}) == TODAY_QUEUE
    same_day = [today_queue(FixedClock(datetime(2026, 1, 1, h, tzinfo=UTC))) for h in (1, 9)]
    assert [d.code for d in same_day[0]] == [d.code for d in same_day[1]]


def test_todays_queue_is_never_received_in_the_future() -> None:
    # 00:00:30, 07:00, 08:00 and 16:00 in Huế
    for at in (datetime(2026, 3, 2, 17, 0, 30, tzinfo=UTC), datetime(2026, 3, 3, 0, tzinfo=UTC),
               datetime(2026, 3, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, 9, tzinfo=UTC)):
        now = at.astimezone(VN_TZ)
        queue = today_queue(FixedClock(at))
        times = [d.received_at for d in queue]
        assert times == sorted(times) and len(set(times)) == TODAY_QUEUE
        assert all(t.astimezone(VN_TZ).date() == now.date() for t in times)
        if now.hour >= 7:
            assert times[-1] <= at
    late = today_queue(FixedClock(datetime(2026, 3, 3, 9, tzinfo=UTC)))  # 16:00: 7 min apart
    assert late[0].received_at.astimezone(VN_TZ).strftime("%H:%M") == "07:37"
    assert late[1].received_at - late[0].received_at == timedelta(minutes=7)
