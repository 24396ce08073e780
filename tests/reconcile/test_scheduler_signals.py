"""``recon scheduler``'s signal handling in process: a stop asked for before the scheduler
has started (the handler is installed first) ends :func:`run_blocking` instead of letting it
start and run forever. The stop in the middle of a run is ``tests/hardening/test_stop.py``."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from flask import Flask

from recon.scheduler import run_blocking


def test_a_signal_before_the_start_ends_it(app: Flask) -> None:
    late: list[bool] = []

    def on_start(scheduler: Any) -> None:
        def rescue() -> None:  # the old behaviour would block forever: end it, noted
            late.append(True)
            scheduler.shutdown(wait=False)

        timer = threading.Timer(20, rescue)
        timer.daemon = True
        timer.start()
        started.append(timer)
        os.kill(os.getpid(), signal.SIGTERM)  # handled in this (the main) thread

    started: list[threading.Timer] = []
    saved = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        run_blocking(app, on_start=on_start)
    finally:
        signal.signal(signal.SIGTERM, saved[0])
        signal.signal(signal.SIGINT, saved[1])
        for timer in started:
            timer.cancel()
    assert started, "run_blocking never reached its start"
    assert late == [], "the scheduler started although a stop had been asked for"
