"""Sealing the audit chain in the background of a web process (PostgreSQL).

On PostgreSQL, :func:`recon.audit.chain.record` writes events unsealed so writers never queue on the
chain; this module chains them soon after. Each process that serves the web app (gunicorn,
``recon serve``) runs one :class:`Sealer`, a daemon thread started by the first request it
serves. It seals when a writer asks (:func:`request_seal`, after a webhook recorded a payment;
a quarter of a second later, so a busy moment's events are sealed together) and every
``RECON_AUDIT_SEAL_SECONDS`` (default 2; 0 turns the thread off, the default when
``RECON_ENV=test``) for events other writers made. Several processes may run one each:
:func:`recon.audit.chain.seal` lets one at a time work and the others return at once; a sealer that
found the lock taken tries again shortly, so every request to seal is followed by a seal that
started after it. ``recon audit seal`` / ``recon audit verify`` seal from the command line.
SQLite needs none of this (events are sealed as they are written).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time

from recon.audit import chain as audit
from recon.config import Settings
from recon.db import Database

log = logging.getLogger("recon.sealing")

DEFAULT_INTERVAL_SECONDS = 2.0
BATCH_DELAY_SECONDS = 0.25
BUSY_RETRY_SECONDS = 0.05
BUSY_ATTEMPTS = 100  # about five seconds of another sealer holding the lock


def interval_from(settings: Settings) -> float:
    default = "0" if settings.environment == "test" else str(DEFAULT_INTERVAL_SECONDS)
    raw = settings.get("AUDIT_SEAL_SECONDS", default) or default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"RECON_AUDIT_SEAL_SECONDS must be a number, got {raw!r}") from None
    return max(value, 0.0)


class Sealer:
    """One process's background sealer for one database."""

    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recon-audit-sealer",
                                         daemon=True)
        self.sealed = 0  # events this sealer sealed (for tests and logs)

    def start(self) -> None:
        self._thread.start()

    def request(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            # let a busy moment's events gather: one seal per batch, not one per event
            self._stop.wait(min(BATCH_DELAY_SECONDS, self.interval))
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.seal_pending()
            except Exception:  # the next wake-up tries again; never kill the thread
                log.exception("sealing the audit chain failed")
                self._stop.wait(1.0)

    def seal_pending(self) -> int:
        """Seal until nothing is left; wait politely while another process is sealing."""
        total = 0
        attempts = 0
        while not self._stop.is_set():
            with self.db.transaction() as session:
                sealed = audit.seal(session, wait=False)
            if sealed is None:  # someone else holds the lock; what we came for may be newer
                attempts += 1
                if attempts >= BUSY_ATTEMPTS:
                    break
                time.sleep(BUSY_RETRY_SECONDS * (1 + random.random()))  # noqa: S311 - jitter
                continue
            total += sealed
            self.sealed += sealed
            if sealed < audit.SEAL_BATCH:
                break
        return total


_lock = threading.Lock()
_sealers: dict[tuple[int, int], Sealer] = {}


def sealer_for(db: Database, settings: Settings) -> Sealer | None:
    """This process's sealer for ``db`` (started on first call), or None where none is
    needed (SQLite) or wanted (interval 0)."""
    if db.dialect != "postgresql":
        return None
    interval = interval_from(settings)
    if interval <= 0:
        return None
    key = (os.getpid(), id(db))  # a forked child starts its own thread
    sealer = _sealers.get(key)
    if sealer is None:
        with _lock:
            sealer = _sealers.get(key)
            if sealer is None:
                sealer = Sealer(db, interval)
                sealer.start()
                _sealers[key] = sealer
    return sealer


def request_seal(db: Database) -> None:
    """Ask this process's sealer, if it runs one, to seal now (after committing audited
    changes). Starts nothing: serving processes start theirs (recon.web)."""
    sealer = _sealers.get((os.getpid(), id(db)))
    if sealer is not None:
        sealer.request()
