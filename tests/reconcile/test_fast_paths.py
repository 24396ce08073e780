"""The runner's PostgreSQL fast paths against its plain ones, on random event sequences:

- the full load (three tables read at once on three connections sharing one snapshot) reads
  exactly what one connection reading them one after the other reads;
- the binary ``COPY`` writer leaves exactly the table the row-by-row ``INSERT`` writer leaves
  (statuses, amounts, sentences, auto-resolution reasons, what was reopened).

On SQLite both sides take the plain path; the comparisons still run there.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.db import Database
from recon.engine import load, runner
from tests.conftest import backends
from tests.reconcile.recon_builders import state
from tests.reconcile.test_runner_properties import Event, Harness, events, play

_PERSIST = runner.persist  # the real one (each example below patches the module's)


@pytest.fixture(scope="module")
def fast_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fast")


@pytest.fixture
def harness_for(sqlite_template: Path, fast_tmp: Path,
                request: pytest.FixtureRequest) -> Iterator[Any]:
    made: list[Harness] = []

    def make(backend: str) -> Harness:
        # one example at a time: the previous example's pools go first (fifteen examples'
        # idle connections would otherwise outnumber a shared server's max_connections)
        for old in made:
            old.close()
        made.clear()
        pg = request.getfixturevalue("pg_url") if backend == "postgresql" else None
        h = Harness(backend, sqlite_template, fast_tmp, pg)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def _sorted(rows: Any) -> list[Any]:
    return sorted(rows, key=repr)


@pytest.mark.parametrize("backend", backends())
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(script=st.lists(events, min_size=1, max_size=14))
def test_parallel_full_load_reads_what_one_connection_reads(
        backend: str, script: list[Event], harness_for: Any) -> None:
    db: Database = harness_for(backend).fresh()
    play(db, script, mode="incremental")  # leaves open, auto-resolved and resolved rows
    with load.read_snapshot(db) as conn:
        together = load.load_full(conn)
    with load.read_snapshot(db) as conn:
        apart = load.load_full(conn, parallel=False)
    for mine, theirs in zip(together, apart, strict=True):
        assert _sorted(mine) == _sorted(theirs)
    # and it is everything the core needs: every payment and line, every matched dossier
    with db.engine.connect() as conn:
        payments = conn.exec_driver_sql("SELECT COUNT(*) FROM payments").scalar_one()
        lines = conn.exec_driver_sql("SELECT COUNT(*) FROM settlement_lines").scalar_one()
    assert len(together.payments) == payments and len(together.lines) == lines
    loaded = {d.id for d in together.dossiers}
    assert {p.dossier_id for p in together.payments if p.dossier_id is not None} <= loaded


@pytest.mark.parametrize("backend", backends())
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(script=st.lists(events, min_size=1, max_size=14),
       mode=st.sampled_from(["full", "incremental"]))
def test_copy_writer_leaves_what_the_row_writer_leaves(
        backend: str, script: list[Event], mode: str, harness_for: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    harness = harness_for(backend)
    plain = _PERSIST
    reopened: dict[bool, list[list[str]]] = {True: [], False: []}

    def recording(copy: bool) -> Any:
        @functools.wraps(plain)
        def persist(*args: Any, **kwargs: Any) -> list[str]:
            out = plain(*args, **kwargs, copy=copy)
            reopened[copy].append(out)
            return out

        return persist

    tables = {}
    for copy in (True, False):
        monkeypatch.setattr(runner, "persist", recording(copy))
        play(db := harness.fresh(), script, mode=mode)
        tables[copy] = state(db)
    assert tables[True] == tables[False]
    assert reopened[True] == reopened[False]
