"""Helpers for the fault tests: servers and signed calls come from ``bench/procs.py`` and
``bench/soak.py``; here, what a provider does with our answers and where a request is."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from adapters import RawRequest
from bench.procs import Proc, base_env, start_gunicorn
from bench.soak import PROVIDER_ENV, accepted_or_duplicate, is_retry_answer, send, signed

__all__ = ["PROVIDER_ENV", "Answer", "Provider", "accepted_or_duplicate", "count", "gunicorn",
           "is_retry_answer", "send", "signed", "worker_in_transaction"]


@dataclass
class Answer:
    provider: str
    txn: str
    status: int | None  # None: no answer at all (connection refused or reset)
    kind: str  # delivered, retry, other, no_answer
    at: float  # when the answer came (monotonic)
    body: str = ""
    sent: float = 0.0  # when the request left


@dataclass
class Provider:
    """Delivers one call the way providers do: again and again, until the answer says it was
    delivered (a retry answer or no answer at all means "try again"); every answer kept."""

    base: str
    answers: list[Answer] = field(default_factory=list)
    pause: float = 0.25
    give_up_after: float = 60.0

    def deliver(self, provider: str, txn: str, raw: RawRequest) -> bool:
        deadline = time.monotonic() + self.give_up_after
        with requests.Session() as session:
            while time.monotonic() < deadline:
                answer = self.once(session, provider, txn, raw)
                if answer.kind == "delivered":
                    return True
                if answer.kind == "other":
                    return False  # a refusal: a provider would not retry; the test fails
                time.sleep(self.pause)
        return False

    def once(self, session: requests.Session, provider: str, txn: str,
             raw: RawRequest) -> Answer:
        sent = time.monotonic()
        try:
            response = send(session, self.base, raw, timeout=30)
        except requests.RequestException:
            answer = Answer(provider, txn, None, "no_answer", time.monotonic(), sent=sent)
        else:
            status, body = response.status_code, response.content
            kind = ("delivered" if accepted_or_duplicate(provider, status, body) else
                    "retry" if is_retry_answer(provider, status, body) else "other")
            answer = Answer(provider, txn, status, kind, time.monotonic(),
                            body.decode("utf-8", "replace")[:200], sent)
        self.answers.append(answer)
        return answer


@contextmanager
def gunicorn(url: str, workdir: Path, *, workers: int = 3, ignore_sigxfsz: bool = False,
             **env: str) -> Iterator[Proc]:
    proc = start_gunicorn(base_env(url, workdir, **PROVIDER_ENV, **env), workdir,
                          workers=workers, ignore_sigxfsz=ignore_sigxfsz)
    try:
        yield proc
    finally:
        proc.stop()


def count(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def _socket_inodes(pid: int) -> set[str]:
    out = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = fd.readlink()
        except OSError:
            continue
        if str(target).startswith("socket:["):
            out.add(str(target)[8:-1])
    return out


def _inodes_of_local_ports(ports: set[int]) -> set[str]:
    """The inodes of the live sockets bound locally to any of ``ports``. A closed connection
    in TIME_WAIT on the same ephemeral port is listed too, with inode 0: it is skipped, or it
    would hide the live one."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) in ports and fields[9] != "0":
                out.add(fields[9])
    return out


def worker_in_transaction(url: str, server: Proc, timeout: float = 20.0) -> int:
    """The pid of the gunicorn worker whose PostgreSQL session is inside a transaction (the
    session's client port, found among the workers' sockets in /proc/net/tcp)."""
    engine = create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                ports = [int(p) for p in conn.execute(text(
                    "SELECT client_port FROM pg_stat_activity WHERE datname = "
                    "current_database() AND state = 'idle in transaction' "
                    "AND pid <> pg_backend_pid()")).scalars()]
            if ports:
                inodes = _inodes_of_local_ports(set(ports))
                for pid in server.worker_pids():
                    if inodes & _socket_inodes(pid):
                        return pid
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise AssertionError("no worker held a transaction open")
