"""A small progress line for long CLI work, written to stderr and throttled."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

WIDTH = 28


class ProgressLine:
    """``with ProgressLine("Writing", total=n) as p: p.advance(k)``.

    On a terminal it redraws one line with a bar, count, rate and ETA; elsewhere (CI logs,
    pipes) it prints at most one line every few seconds, and always a final one.
    """

    def __init__(self, label: str, total: int | None = None, *, unit: str = "records",
                 stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._start = time.monotonic()
        self._last = 0.0
        self._interval = 0.1 if self.tty else 5.0
        self._finished = False

    def __enter__(self) -> ProgressLine:
        self._start = time.monotonic()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.finish(failed=exc is not None)

    def finish(self, *, failed: bool = False) -> None:
        """Draw the final line once (later calls do nothing)."""
        if not self._finished:
            self._finished = True
            self._draw(final=True, failed=failed)

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._draw()

    def _draw(self, *, final: bool = False, failed: bool = False) -> None:
        elapsed = max(time.monotonic() - self._start, 1e-9)
        rate = self.done / elapsed
        if self.total:
            frac = min(self.done / self.total, 1.0)
            filled = int(frac * WIDTH)
            bar = "█" * filled + "░" * (WIDTH - filled)
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            text = (f"{self.label} {bar} {frac:6.1%} {self.done:,}/{self.total:,} {self.unit}"
                    f" · {rate:,.0f}/s" + ("" if final else f" · ETA {eta:,.0f}s"))
        else:
            text = f"{self.label} {self.done:,} {self.unit} · {rate:,.0f}/s"
        if final:
            text += f" · {elapsed:.1f}s" + (" · stopped" if failed else " · done")
        if self.tty:
            self.stream.write("\r\x1b[2K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
