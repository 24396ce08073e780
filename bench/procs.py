"""Server processes for the soak bench and the fault tests: gunicorn instances, ``recon
scheduler`` processes and a private PostgreSQL cluster (one a test may restart or make
read-only without touching the machine's shared server)."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
TEST_SECRET_KEY = "soak-secret-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(url: str, workdir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any RECON_* of ours, pointed at ``url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    env.update({"RECON_DATABASE_URL": url, "RECON_ENV": "test",
                "RECON_SECRET_KEY": TEST_SECRET_KEY,
                "RECON_INSTANCE_PATH": str(workdir / "instance"), "PYTHONPATH": str(ROOT),
                "RECON_LOG_LEVEL": "WARNING"})
    env.update(extra)
    return env


def _get(url: str, timeout: float = 5.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def children(parent: int) -> list[int]:
    """The pids whose parent is ``parent``, sorted (read from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == parent:
                pids.append(int(entry.name))
    return sorted(pids)


@dataclass
class Proc:
    """A child process started in its own session, with its output in ``log``."""

    process: subprocess.Popen[bytes]
    log: Path
    base: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return int(self.process.returncode)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """The children of this process (gunicorn's workers)."""
        return children(self.pid)


def _spawn(command: list[str], env: dict[str, str], log: Path, *,
           ignore_sigxfsz: bool = False) -> subprocess.Popen[bytes]:
    """``ignore_sigxfsz``: the child keeps Python's ignored SIGXFSZ (``restore_signals`` would
    reset it), so a write past RLIMIT_FSIZE fails with EFBIG — what a full disk looks like to
    SQLite — instead of killing the process; gunicorn's workers inherit it."""
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=ROOT, start_new_session=True,
                                restore_signals=not ignore_sigxfsz)


def start_gunicorn(env: dict[str, str], workdir: Path, *, name: str = "web", workers: int = 3,
                   timeout: int = 60, wait_healthy: bool = True,
                   ignore_sigxfsz: bool = False) -> Proc:
    """``gunicorn -w N recon.wsgi:app`` on a free loopback port, healthy (``/healthz`` 200)."""
    port = free_port()
    log = workdir / f"{name}.log"
    process = _spawn([str(GUNICORN), "-w", str(workers), "--bind", f"127.0.0.1:{port}",
                      "--timeout", str(timeout), "--graceful-timeout", "5", "recon.wsgi:app"],
                     env, log, ignore_sigxfsz=ignore_sigxfsz)
    proc = Proc(process, log, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while wait_healthy:
        try:
            if _get(f"{proc.base}/healthz") == 200:
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            proc.stop()
            raise RuntimeError(f"gunicorn did not start:\n{proc.output()[-3000:]}")
        time.sleep(0.2)
    return proc


def start_scheduler(env: dict[str, str], workdir: Path, *, name: str = "scheduler") -> Proc:
    log = workdir / f"{name}.log"
    return Proc(_spawn([sys.executable, "-m", "recon.cli", "scheduler"], env, log), log)


# --------------------------------------------------------------------------------------------
# A private PostgreSQL cluster


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) found")
    return Path(initdb).parent


@dataclass
class PrivateCluster:
    """A throw-away PostgreSQL cluster on a free port: ``initdb`` + ``pg_ctl`` in a temporary
    directory. PostgreSQL refuses to run as root, so as root the binaries run as the
    ``postgres`` user (``runuser``), which owns the directory."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="recon-pg-")))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(_pg_bin() / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check,
                              timeout=120)

    def _options(self) -> str:
        return (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                "-c max_connections=100 -c fsync=off -c full_page_writes=off")

    def start(self) -> PrivateCluster:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")
        self.pg_ctl("start")
        return self

    def pg_ctl(self, action: str, *extra: str, mode: str = "fast") -> None:
        """``mode`` of a stop or restart: ``fast`` (sessions cut, a clean shutdown) or
        ``immediate`` (a crash: no checkpoint, recovery replays the WAL at the next start)."""
        args = ["pg_ctl", "-D", str(self.data), "-w", "-t", "60", action, *extra]
        if action in ("start", "restart"):
            args += ["-l", str(self.root / "server.log"), "-o", self._options()]
        if action in ("stop", "restart"):
            args += ["-m", mode]
        self._run(*args)

    def create_database(self, name: str) -> str:
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url(name)

    def sql(self, statement: str) -> None:
        """One statement as the superuser, autocommitted (ALTER SYSTEM, pg_reload_conf)."""
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(statement))
        admin.dispose()

    def server_log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop",
                      check=False)
        shutil.rmtree(self.root, ignore_errors=True)
