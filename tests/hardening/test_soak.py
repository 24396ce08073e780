"""The soak of ``bench/soak.py``, short: two gunicorn instances (3 workers each) and two
``recon scheduler`` processes (2-second interval) on one PostgreSQL database, 15 s of paced
signed callbacks from every provider with exact duplicates, concurrent duplicates across both
instances and later replays; then everything checked by SQL (the bench's queries)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import soak

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_two_instances_two_schedulers_nothing_lost_nothing_doubled(empty_pg: str,
                                                                   tmp_path: Path) -> None:
    result = soak(empty_pg, tmp_path, duration=15, rate=25, interval=2, threads=4)
    f = result["figures"]
    context = {k: v for k, v in result.items() if k != "queries"}
    # the load was what it says: every kind of delivery, all answered as delivered
    assert set(result["requests_by_kind"]) == {"first", "concurrent", "duplicate", "replay"}
    assert result["status_5xx"] == 0, context
    assert result["client_errors"] == 0, context
    assert result["not_accepted"] == 0, context
    assert result["tracebacks_in_server_logs"] == 0, context
    assert result["exit_codes"] == {"schedulers": [0, 0], "web": [0, 0]}
    # every distinct transaction recorded exactly once, every one sent present
    assert f["doubled_keys"] == 0
    assert f["sent_missing"] == 0 and f["stored_not_sent"] == 0, context
    assert f["payments"] == f["distinct_payments"] == f["sent_distinct"] > 100
    assert result["duplicates"] == result["requests_sent"] - f["sent_distinct"] > 30
    # every request archived, each with its verdict; none an error
    assert f["callbacks"] == result["requests_sent"]
    assert f["callbacks_5xx_or_error"] == 0
    assert f["callbacks_accepted"] == f["sent_distinct"]
    assert f["callbacks_duplicate"] == result["duplicates"]
    assert f["payments_without_callback"] == 0
    # intents paid: exactly those a payment was sent for
    assert f["intents_paid"] == f["sent_matched"]
    assert f["intents_paid_without_payment"] == f["intents_unpaid_with_payment"] == 0
    # reconciliation: both schedulers ran, never two runs at once, no window skipped, and
    # the incremental runs found every unmatched transfer (a final full run finds nothing new)
    assert f["runs"] >= 3 and f["runs_not_succeeded"] == 0, f["runs_not_succeeded_sample"]
    assert f["schedulers_taking_turns"] == 2, context
    assert result["overlaps"] == 0 and result["gaps"] == 0
    assert f["unmatched_found_by_incremental_runs"] == f["sent_unmatched"] > 0, context
    assert result["final_full_run"]["new"] == 0
    assert result["final_full_run"]["auto_resolved"] == 0
    assert f["audit_chain_ok"] and f["audit_events_checked"] >= f["payments"]
