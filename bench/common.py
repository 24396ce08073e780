"""Helpers the benchmarks share: throw-away databases and peak memory of child processes."""

from __future__ import annotations

import os
import resource
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from recon.cli.admin import upgrade_database

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1/test"


@contextmanager
def scratch_database(kind: str, pg_url: str = DEFAULT_PG) -> Iterator[str]:
    """A migrated, empty database (``sqlite`` or ``postgresql``), removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{os.path.join(tmp, 'bench.db')}"
            upgrade_database(url)
            yield url
        return
    base = make_url(pg_url)
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_database(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def children_peak_rss_mb() -> float:
    """Peak resident memory of the largest finished child process, in MiB (Linux: KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
