"""Crash safety: `recon reconcile` killed with SIGKILL at a random moment, then run again, leaves
exactly the discrepancies an uninterrupted run leaves (several seeds, full and incremental runs,
on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.reconcile import (
    AS_OF,
    INCREMENTAL_AS_OF,
    build_postgresql,
    build_sqlite,
    events_postgresql,
    events_sqlite,
)
from recon.db import Database
from tests.conftest import PG_ENV, TEST_SECRET, backends
from tests.reconcile.recon_builders import state

pytestmark = pytest.mark.slow

DOSSIERS = 20000
SEEDS = (11, 23, 37, 41, 53, 67)
ROOT = Path(__file__).resolve().parents[2]


def _env(url: str, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_") or k == PG_ENV}
    env.update({"RECON_DATABASE_URL": url, "RECON_ENV": "test", "RECON_SECRET_KEY": TEST_SECRET,
                "RECON_INSTANCE_PATH": str(tmp / "instance"), "PYTHONPATH": str(ROOT)})
    return env


def _command(mode: str) -> list[str]:
    as_of = AS_OF if mode == "full" else INCREMENTAL_AS_OF
    return [sys.executable, "-m", "recon.cli", "reconcile", f"--{mode}",
            "--as-of", as_of.isoformat()]


def _run_to_completion(url: str, mode: str, tmp: Path) -> dict[str, Any]:
    """Run; a run killed a moment ago may still hold the lock while its server process
    notices: the new run then says so and exits, and we try again."""
    for _ in range(60):
        done = subprocess.run(_command(mode), env=_env(url, tmp), capture_output=True,
                              text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        if summary.get("status") != "skipped":
            return summary
        time.sleep(0.5)
    raise AssertionError("the lock was never released")


class Copies:
    """A prepared database (data, a first full run, then new events) and copies of it."""

    def __init__(self, backend: str, tmp: Path) -> None:
        self.backend = backend
        self.tmp = tmp
        self.made: list[str] = []
        self.admin_url = os.environ.get(PG_ENV, "")

    def prepare(self) -> str:
        if self.backend == "sqlite":
            path = self.tmp / "base.db"
            from recon.cli.admin import upgrade_database

            url = f"sqlite:///{path}"
            upgrade_database(url)
            self._build(url, build_sqlite, events_sqlite)
            return url
        name = f"crash_{uuid.uuid4().hex[:8]}"
        self._admin(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        url = make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)
        from recon.cli.admin import upgrade_database

        upgrade_database(url)
        self._build(url, build_postgresql, events_postgresql)
        return url

    def _build(self, url: str, build: Callable[..., None], events: Callable[..., None]) -> None:
        engine = create_engine(url)
        build(engine, DOSSIERS)
        engine.dispose()
        _run_to_completion(url, "full", self.tmp)  # the earlier state: findings already open
        engine = create_engine(url)
        events(engine, DOSSIERS)  # late settlements, new duplicates, refunds
        engine.dispose()

    def copy(self, base: str) -> str:
        if self.backend == "sqlite":
            src = Path(make_url(base).database or "")
            target = self.tmp / f"copy_{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(src, target)
            return f"sqlite:///{target}"
        name = f"crash_{uuid.uuid4().hex[:8]}"
        source = make_url(base).database
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        self.made.append(name)
        return make_url(base).set(database=name).render_as_string(hide_password=False)

    def _admin(self, sql: str) -> None:
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(sql))
        admin.dispose()

    def drop_all(self) -> None:
        if self.backend != "postgresql":
            return
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in self.made:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :n"), {"n": name})
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=backends())
def copies(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Copies]:
    if request.param == "postgresql":
        request.getfixturevalue("pg_url")  # fail (never skip) without PostgreSQL
    made = Copies(request.param, tmp_path)
    try:
        yield made
    finally:
        made.drop_all()


def _state(url: str) -> list[tuple[Any, ...]]:
    db = Database(url)
    try:
        return state(db)
    finally:
        db.dispose()


def _runs(url: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, mode, status, error FROM recon_runs ORDER BY id"))
        out = [tuple(r) for r in rows]
    engine.dispose()
    return out


def test_kill_9_at_a_random_moment_then_rerun_gives_the_same_discrepancies(
        copies: Copies) -> None:
    base = copies.prepare()
    expected: dict[str, list[tuple[Any, ...]]] = {}
    durations: dict[str, float] = {}
    run_seconds: dict[str, float] = {}
    for mode in ("full", "incremental"):
        url = copies.copy(base)
        started = time.monotonic()
        summary = _run_to_completion(url, mode, copies.tmp)
        durations[mode] = time.monotonic() - started
        run_seconds[mode] = float(summary["seconds"])
        assert summary["mode"] == mode
        expected[mode] = _state(url)
        assert any(row[2] == "auto_resolved" for row in expected[mode])  # the run changed things
    assert expected["full"] == expected["incremental"]

    outcomes = []
    for i, seed in enumerate(SEEDS):
        mode = ("full", "incremental")[i % 2]
        url = copies.copy(base)
        rng = random.Random(seed)
        if i < len(SEEDS) // 2:  # anywhere in the process's life, start-up included
            delay = rng.uniform(0.0, durations[mode])
            proc = subprocess.Popen(_command(mode), env=_env(url, copies.tmp),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
        else:  # while the run is under way: after it said "run N: ..." on stderr
            delay = rng.uniform(0.0, run_seconds[mode])
            proc = subprocess.Popen(_command(mode), env=_env(url, copies.tmp),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True)
            assert proc.stderr is not None
            for line in proc.stderr:
                if "] run " in line:
                    break
            time.sleep(delay)
        proc.kill()  # SIGKILL: no cleanup of any kind
        code = proc.wait()
        before = _runs(url)
        summary = _run_to_completion(url, mode, copies.tmp)
        assert _state(url) == expected[mode], f"seed {seed}: killed after {delay:.2f}s"
        after = _runs(url)
        # a run the kill left 'running' was marked failed by the rerun
        assert all(r[2] != "running" for r in after)
        killed_mid_run = any(r[2] == "running" for r in before)
        if killed_mid_run:
            assert any(r[2] == "failed" and "abandoned" in (r[3] or "") for r in after)
        outcomes.append((seed, mode, round(delay, 2), code, killed_mid_run, summary["new"]))
    # the kills landed at different moments: before a run row, during a run, after it
    print(outcomes)
    assert any(o[4] for o in outcomes), f"no kill landed inside a run: {outcomes}"
