"""The spool: raw webhook calls kept on local disk when the database could not store them.

"Nothing is ever lost": :func:`ingest.handle_callback` archives every call in the
``callbacks`` table first. When that very insert fails (the database is down, read-only, full,
or a bug), the provider is told to retry — and :func:`spool_callback` appends the call to a file
here, so it is on record all the same. ``recon callbacks spool-import`` (:func:`import_spool`)
later loads the spooled calls into the archive with outcome ``spooled``. It records no payment:
the provider's retry does that (and its signed timestamps would be stale by then anyway).

Layout of the spool directory (``RECON_SPOOL_DIR``, default ``<instance>/spool``):

- ``callbacks-YYYY-MM-DD.jsonl`` — one JSON object per line, one file per UTC day of receipt,
  appended to by every worker process (``O_APPEND``, one ``write`` per line, ``fsync``);
- ``importing/`` — files an import has claimed (renamed there, whole) and not finished;
- ``imported/`` — files whose every line is in the archive;
- ``rejected/`` — lines that could not be read (a line cut short by a full disk), verbatim.

A line is what the archive would have stored: headers with credentials redacted, body and query
string with card numbers masked (:mod:`adapters.scrub`, as :func:`ingest.archive`); the
body is base64. Each line has an ``id`` of its own; the archive row keeps it at the start of its
``outcome_detail`` (``spool <id>: …``), so an import run twice, or stopped half-way and run
again, stores each call once.

Writers and an import never step on each other: a writer holds a shared ``flock`` on the file
while it appends and checks that the path still names the file it opened; an import takes the
exclusive lock (waiting for appends under way) and renames the file into ``importing/`` — a
writer that comes later finds the path gone or new and appends to the new file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from adapters import Acknowledgement, RawRequest
from adapters.scrub import mask_pans, mask_pans_text, redact_headers
from recon.clock import Clock
from recon.config import Settings
from recon.db import Database, DatabaseFault, classify_fault
from recon.errors import ReconError
from recon.models import Callback

log = logging.getLogger("recon.spool")

VERSION: Final = 1
SPOOLED: Final = "spooled"  # Callback.outcome of an imported line
PREFIX: Final = "callbacks-"
SUFFIX: Final = ".jsonl"
IMPORTING: Final = "importing"
IMPORTED: Final = "imported"
REJECTED: Final = "rejected"
LOCK_FILE: Final = ".import.lock"
#: the most of a body kept (as the archive: recon.payments.ingest.MAX_BODY_BYTES)
MAX_BODY_BYTES: Final = 64 * 1024
_WRITE_ATTEMPTS: Final = 5
_DETAIL_ID = re.compile(r"spool ([0-9a-f]{32}):")
_ID = re.compile(r"[0-9a-f]{32}")
#: how every spooled line begins (compact JSON, "v" and "id" first)
RECORD_START: Final = b'{"v":%d,"id":"' % VERSION


# --------------------------------------------------------------------------------------------
# Writing: one line per call, from any process or thread


def failure_reason(exc: BaseException) -> str:
    """Why the archive could not store a call, short and fit to keep (no SQL, no values)."""
    fault = classify_fault(exc)
    if fault is not None:
        text = f"database {fault.kind}: {fault.detail}"
    elif isinstance(exc, DBAPIError):
        text = f"{type(exc.orig).__name__}: {exc.orig}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return mask_pans_text(" ".join(text.split()))[:300]


def spool_line(provider: str, raw: RawRequest, *, request_id: str | None,
               remote_addr: str | None, reason: str,
               answer: Acknowledgement | None = None) -> dict[str, Any]:
    """The JSON object kept for one call: scrubbed exactly as the archive scrubs it, with the
    answer the provider was given when known."""
    line = {
        "v": VERSION,
        "id": uuid.uuid4().hex,
        "provider": provider[:20],
        "received_at": raw.received_at.astimezone(UTC).isoformat(),
        "method": raw.method[:10],
        "path": raw.path[:255],
        "query_string": mask_pans_text(raw.query_string).replace("\x00", "%00"),
        "headers": redact_headers(raw.headers),
        "body_b64": base64.b64encode(mask_pans(raw.body)[:MAX_BODY_BYTES]).decode("ascii"),
        "remote_addr": (remote_addr or None) and remote_addr[:64],
        "request_id": (request_id or None) and request_id[:64],
        "reason": mask_pans_text(reason)[:300],
    }
    if answer is not None:
        line["response_status"] = answer.status_code
        line["response_body"] = answer.body.decode("utf-8", "replace")[:2000]
    return line


def spool_file(directory: Path, received_at: datetime) -> Path:
    return directory / f"{PREFIX}{received_at.astimezone(UTC):%Y-%m-%d}{SUFFIX}"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _append(path: Path, data: bytes) -> None:
    """Append ``data`` (one line) with one ``write``, durably. Retried when an import renamed
    the file between our open and our lock (the path then names another file, or none)."""
    for _ in range(_WRITE_ATTEMPTS):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # appends share; an import's claim excludes them
            mine = os.fstat(fd)
            try:
                current = os.stat(path)
            except FileNotFoundError:
                continue  # claimed by an import: open the new file
            if (mine.st_dev, mine.st_ino) != (current.st_dev, current.st_ino):
                continue
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write: {written} of {len(data)} bytes (disk full?)")
            os.fsync(fd)
            if mine.st_size == 0:
                _fsync_dir(path.parent)  # a new file: make its name durable too
            return
        finally:
            os.close(fd)
    raise OSError(f"{path} kept being claimed by an import; gave up after {_WRITE_ATTEMPTS} "
                  "attempts")


def spool_callback(settings: Settings, provider: str, raw: RawRequest, *,
                   request_id: str | None, remote_addr: str | None,
                   reason: str, answer: Acknowledgement | None = None) -> Path | None:
    """Keep a call the archive could not store: one JSON line appended to today's spool file
    (UTC day of receipt). The file, or None when even that failed. Never raises."""
    try:
        directory = settings.spool_path
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = spool_line(provider, raw, request_id=request_id, remote_addr=remote_addr,
                          reason=reason, answer=answer)
        path = spool_file(directory, raw.received_at)
        _append(path, (json.dumps(line, ensure_ascii=True, separators=(",", ":")) + "\n")
                .encode("ascii"))
    except Exception:  # never raises: the provider is told to retry anyway
        log.exception("could not spool a %s callback either; the provider was told to retry, "
                      "and its retry is the only copy: check the spool directory "
                      "(RECON_SPOOL_DIR) and the database", provider,
                      extra={"request_id": request_id})
        return None
    log.warning("%s callback spooled to %s (%s); once the database can write, run `recon "
                "callbacks spool-import`", provider, path, line["reason"],
                extra={"request_id": request_id})
    return path


# --------------------------------------------------------------------------------------------
# Counting what waits (the health check: cheap, counts newlines, remembers what it counted)

_counted: dict[Path, tuple[int, int, int]] = {}  # path -> (inode, size, lines)
_counted_lock = threading.Lock()


def _count_lines(path: Path) -> int:
    """Lines in ``path``; for a file seen before that only grew, only the new bytes are read."""
    st = path.stat()
    with _counted_lock:
        seen = _counted.get(path)
    start, lines = 0, 0
    if seen is not None and seen[0] == st.st_ino and seen[1] <= st.st_size:
        start, lines = seen[1], seen[2]
    if st.st_size > start:
        with path.open("rb") as f:
            f.seek(start)
            while chunk := f.read(1 << 20):
                lines += chunk.count(b"\n")
                start += len(chunk)
    with _counted_lock:
        _counted[path] = (st.st_ino, start, lines)
    return lines


def _waiting_files(directory: Path) -> list[Path]:
    files = sorted(directory.glob(f"{PREFIX}*{SUFFIX}"))
    importing = directory / IMPORTING
    if importing.is_dir():
        files += sorted(importing.glob(f"*{SUFFIX}"))
    return files


def pending_lines(directory: Path) -> int:
    """Spooled lines not imported yet (0 when there is no spool). Raises OSError when the
    directory cannot be read."""
    if not directory.exists():
        return 0
    files = _waiting_files(directory)
    total = 0
    for path in files:
        try:
            total += _count_lines(path)
        except FileNotFoundError:
            continue  # claimed or imported meanwhile
    with _counted_lock:
        for gone in set(_counted) - set(files):
            _counted.pop(gone, None)
    return total


# --------------------------------------------------------------------------------------------
# Importing


class SpoolError(ReconError):
    code = "spool"


class SpoolImportStopped(ReconError):
    """The database failed during an import; what was imported stays imported."""

    code = "spool_import_stopped"

    def __init__(self, message: str, *, fault: DatabaseFault | None, summary: ImportSummary,
                 hint: str) -> None:
        super().__init__(message, hint=hint)
        self.fault = fault
        self.summary = summary


@dataclass
class ImportSummary:
    files: int = 0  # files finished (moved to imported/)
    lines: int = 0  # lines read
    imported: int = 0  # archived now
    already: int = 0  # archived by an earlier run
    rejected: int = 0  # unreadable, kept in rejected/
    problems: list[str] = field(default_factory=list)  # the first few rejections, said plainly


@dataclass(frozen=True)
class _Entry:
    id: str
    values: dict[str, Any]


def _entry(line: bytes, clock: Clock) -> _Entry:
    """A spooled line as archive values; ValueError saying what is wrong with it."""
    try:
        obj = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a JSON line ({exc})") from None
    if not isinstance(obj, dict) or obj.get("v") != VERSION:
        raise ValueError(f"not a version-{VERSION} spool record")
    ident, provider, headers = obj.get("id"), obj.get("provider"), obj.get("headers")
    if not isinstance(ident, str) or not _ID.fullmatch(ident):
        raise ValueError("no valid id")
    texts = {k: obj.get(k) for k in ("method", "path", "query_string", "body_b64", "reason",
                                     "received_at")}
    if not isinstance(provider, str) or not provider or any(
            not isinstance(v, str) for v in texts.values()):
        raise ValueError("a field is missing or not text")
    if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ValueError("headers are not an object of texts")
    optional = {k: obj.get(k) for k in ("remote_addr", "request_id", "response_body")}
    if any(v is not None and not isinstance(v, str) for v in optional.values()):
        raise ValueError("remote_addr, request_id or response_body is not text")
    status = obj.get("response_status")  # the answer given (lines spooled since 2026-11-27)
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)
                               or not 100 <= status <= 599):
        raise ValueError("response_status is not an HTTP status")
    try:
        received_at = datetime.fromisoformat(str(texts["received_at"]))
        body = base64.b64decode(str(texts["body_b64"]), validate=True)
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"received_at or body unreadable ({exc})") from None
    if received_at.tzinfo is None:
        raise ValueError("received_at has no time zone")
    imported_at = clock.now().astimezone(UTC).isoformat(timespec="seconds")
    detail = (f"spool {ident}: kept in the spool when received ({texts['reason']}) and "
              f"imported {imported_at}. The provider was told to retry (its retry code): its "
              "retry records the payment; nothing was recorded from this copy.")
    return _Entry(ident, {
        # masked again: the scrubbing is idempotent, and a hand-edited file gains nothing
        "provider": provider[:20],
        "received_at": received_at,
        "method": str(texts["method"])[:10],
        "path": str(texts["path"])[:255],
        "query_string": mask_pans_text(str(texts["query_string"])).replace("\x00", "%00"),
        "headers": json.dumps({k: mask_pans_text(v) for k, v in headers.items()},
                              ensure_ascii=False, sort_keys=True),
        "body": mask_pans(body)[:MAX_BODY_BYTES],
        "remote_addr": optional["remote_addr"],
        "request_id": optional["request_id"],
        "outcome": SPOOLED,
        "outcome_detail": mask_pans_text(detail),
        "response_status": status,
        "response_body": optional["response_body"],
    })


def _store(session: Session, batch: list[_Entry]) -> tuple[int, int]:
    """Archive the entries not archived yet (by spool id); (stored, already there)."""
    times = [e.values["received_at"] for e in batch]
    details = session.execute(
        select(Callback.outcome_detail).where(
            Callback.outcome == SPOOLED,
            Callback.provider.in_({e.values["provider"] for e in batch}),
            Callback.received_at.between(min(times), max(times)))).scalars()
    done = {m.group(1) for d in details if d and (m := _DETAIL_ID.match(d))}
    new: dict[str, _Entry] = {}
    for entry in batch:
        if entry.id not in done:
            new.setdefault(entry.id, entry)
    if new:
        session.execute(insert(Callback), [e.values for e in new.values()])
    return len(new), len(batch) - len(new)


@contextlib.contextmanager
def _import_lock(directory: Path) -> Iterator[None]:
    fd = os.open(directory / LOCK_FILE, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SpoolError(f"another spool import is running on {directory}",
                             hint="Wait for it to finish (it says when), then run "
                                  "`recon callbacks spool-import` again if it stopped.") from None
        yield
    finally:
        os.close(fd)


def claim(directory: Path) -> list[Path]:
    """Move every spool file into ``importing/`` (waiting for appends under way): from now on
    writers append to new files. The files waiting in ``importing/``, oldest first."""
    importing = directory / IMPORTING
    importing.mkdir(mode=0o700, exist_ok=True)
    for path in sorted(directory.glob(f"{PREFIX}*{SUFFIX}")):
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_size == 0:
                continue  # nothing in it (yet): leave it to the writers
            # a name of its own: the same day may be spooled, and claimed, more than once
            os.rename(path, importing / f"{path.stem}.{uuid.uuid4().hex[:8]}{SUFFIX}")
        finally:
            os.close(fd)
    _fsync_dir(directory)
    _fsync_dir(importing)
    return sorted(importing.glob(f"*{SUFFIX}"))


def _split(line: bytes, clock: Clock) -> tuple[bytes, _Entry | None, str]:
    """An unreadable line: (the unreadable part, a whole record found after it, why). A write
    cut short (a disk that filled up) leaves a piece without its newline, and the next call's
    line is appended to it: that line, which starts with :data:`RECORD_START`, is saved."""
    try:
        return b"", _entry(line, clock), ""
    except ValueError as exc:
        why = str(exc)
    start = line.rfind(RECORD_START, 1)
    if start > 0:
        with contextlib.suppress(ValueError):
            return line[:start], _entry(line[start:], clock), why
    return line, None, why


def _import_file(db: Database, clock: Clock, path: Path, summary: ImportSummary,
                 progress: Callable[[int], None], batch_size: int) -> None:
    rejected = path.parent.parent / REJECTED / path.name
    batch: list[_Entry] = []

    def flush() -> None:
        if batch:
            stored, already = db.run(lambda s: _store(s, batch))
            summary.imported += stored
            summary.already += already
            progress(len(batch))
            batch.clear()

    with path.open("rb") as f, contextlib.ExitStack() as closing:
        rejected_out: BinaryIO | None = None  # rewritten by each run over this file
        for number, line in enumerate(f, 1):
            summary.lines += 1
            if not line.strip():
                progress(1)
                continue
            bad, entry, why = _split(line, clock)
            if entry is not None:
                batch.append(entry)
            if bad.strip():
                if rejected_out is None:
                    rejected.parent.mkdir(mode=0o700, exist_ok=True)
                    rejected_out = closing.enter_context(rejected.open("wb"))
                rejected_out.write(bad if bad.endswith(b"\n") else bad + b"\n")
                summary.rejected += 1
                if len(summary.problems) < 10:
                    summary.problems.append(f"{path.name} line {number}: {why}")
                if entry is None:
                    progress(1)
            if len(batch) >= batch_size:
                flush()
        flush()


def import_spool(db: Database, clock: Clock, directory: Path, *,
                 progress: Callable[[int], None] | None = None,
                 batch_size: int = 200) -> ImportSummary:
    """Load every spooled line into the ``callbacks`` archive (outcome ``spooled``), each
    once: a line whose id is archived already is counted, not stored again. Each file is moved
    to ``imported/`` once all its lines are in. Raises :class:`SpoolImportStopped` when the
    database fails (what was imported stays; the rest waits in ``importing/`` for the next
    run) and :class:`SpoolError` when another import is running."""
    summary = ImportSummary()
    if not directory.is_dir():
        return summary
    advance = progress or (lambda n: None)
    with _import_lock(directory):
        try:
            db.probe_write(10.0)  # can it write at all? otherwise touch no file
            for path in claim(directory):
                _import_file(db, clock, path, summary, advance, batch_size)
                imported = directory / IMPORTED
                imported.mkdir(mode=0o700, exist_ok=True)
                os.rename(path, imported / path.name)
                _fsync_dir(imported)
                summary.files += 1
        except DBAPIError as exc:
            fault = classify_fault(exc, db)
            said = (f"{fault.kind}: {fault.detail}" if fault is not None
                    else f"{type(exc.orig).__name__}: {' '.join(str(exc.orig).split())[:300]}")
            raise SpoolImportStopped(
                f"the database cannot store the spooled calls ({said}); {summary.imported} "
                f"were imported before it stopped, the rest stay in {directory}",
                fault=fault, summary=summary,
                hint="Fix the database (GET /healthz says what it sees), then run `recon "
                     "callbacks spool-import` again: nothing is imported twice.") from exc
    return summary
