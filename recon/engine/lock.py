"""The run lock: one reconciliation at a time, across every process and host.

On PostgreSQL a session-level ``pg_try_advisory_lock`` held on a dedicated connection for the
whole run (the server drops it the moment that connection dies, so a ``kill -9`` never leaves it
stuck); on SQLite an exclusive ``flock`` on a file beside the database (``<db>.reconlock``; the
kernel drops it when the process dies); an in-memory SQLite database, which only its own process
can see, takes a thread lock. A runner that cannot get the lock raises :class:`RunInProgress` at
once; it never waits.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
from pathlib import Path
from typing import Final

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from recon.db import Database
from recon.errors import Conflict

LOCK_KEY: Final = 0x7265636F6E02  # "recon" + 2: the reconciliation run lock


class RunInProgress(Conflict):
    """Another reconciliation run holds the lock."""

    code = "run_in_progress"

    def __init__(self) -> None:
        super().__init__(
            "another reconciliation run is in progress; this one did nothing",
            hint="Wait for it to finish (recon-runs shows it), then run again if needed.",
        )


class RunLock:
    """One reconciliation at a time, across processes and hosts. ``acquire()`` never waits."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: Connection | None = None
        self._fd: int | None = None
        self._thread_lock: threading.Lock | None = None

    def acquire(self) -> bool:
        if self.db.dialect == "postgresql":
            conn = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                        {"k": LOCK_KEY}).scalar_one())
            except BaseException:
                conn.close()
                raise
            if not got:
                conn.close()
                return False
            self._conn = conn
            return True
        path = _sqlite_lock_path(self.db.url)
        if path is None:  # in-memory database: only this process can see it
            lock = _MEMORY_LOCKS.setdefault(self.db.url, threading.Lock())
            if not lock.acquire(blocking=False):
                return False
            self._thread_lock = lock
            return True
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            except Exception:  # noqa: BLE001 - a broken connection: closing it drops the lock
                conn.invalidate()
            finally:
                conn.close()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        if self._thread_lock is not None:
            lock, self._thread_lock = self._thread_lock, None
            lock.release()

    def __enter__(self) -> RunLock:
        if not self.acquire():
            raise RunInProgress()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


_MEMORY_LOCKS: dict[str, threading.Lock] = {}


def _sqlite_lock_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).with_name(Path(database).name + ".reconlock")


__all__ = ["LOCK_KEY", "RunInProgress", "RunLock"]
