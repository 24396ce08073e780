"""Issue 13, item 3: no traceback ever reaches a user of the `recon` command.

Every command of the CLI (read from the click command tree, so a new command is covered the day
it is added) runs as its own process against a database it cannot use: a SQLite file without
the schema, a folder with no database at all, and a PostgreSQL server that is not there. Each
must print one line saying what is wrong and what to do, exit non-zero, and create nothing
(no SQLite file, no `instance/` folder, no journal next to the database).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from recon.cli import cli

pytestmark = pytest.mark.slow

#: the commands that never touch the database (they must still never print a traceback)
NO_DATABASE = frozenset({"vietqr encode", "vietqr decode", "vietqr banks",
                         "settlements profiles", "portal profiles", "receipts verify",
                         "calendar show", "calendar check", "contracts list", "contracts check",
                         "contracts methods",
                         "receipts certificates"})
#: the commands that look at the database only when they have work (`spool-import`: an empty
#: spool has nothing to import, whatever the database's state; with calls waiting, a database
#: that cannot store them gets the spool's own refusal, tests/hardening/test_spool.py)
NOTHING_TO_DO = {"callbacks spool-import": "Nothing to import: no spooled webhook calls"}
#: the commands allowed to make a database: given an empty SQLite file, they migrate it
MAKES_SCHEMA = frozenset({"db upgrade"})
UNREACHABLE_URL = "postgresql+psycopg://recon@127.0.0.1:5999/recon"


def leaf_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()
                  ) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every runnable command under ``group``, as (path of names, command)."""
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        if isinstance(command, click.Group):
            found.extend(leaf_commands(command, path))
        else:
            found.append((path, command))
    return found


#: values a parameter of this name must have to get past the command's own checks
NAMED_VALUES = {"date": "2021-03-01", "month": "2021-03", "day": "2021-03-01",
                "lines": "599:2716:46:100000",  # remittances record --line CH:SUBITEM:AREA:VND
                "amount": "180000"}  # fee-invoices record --amount VND
#: what a command needs beyond its required parameters to reach the database (one of two
#: options it requires together, checked before any database work)
EXTRA_ARGUMENTS = {"users create": ["--all-agencies"], "users scope": ["--all-agencies"],
                   "tokens create": ["--all-agencies"], "tokens scope": ["--all-agencies"],
                   "report declaration": ["--month", "2021-03"]}


def _value(param: click.Parameter, inputs: Path) -> str:
    """A value of the right kind for a required parameter (a real file for a path that must
    exist), so the command gets past click to its own work."""
    if param.name in NAMED_VALUES:
        return NAMED_VALUES[param.name]
    kind = param.type
    if isinstance(kind, click.Choice):
        return str(kind.choices[0])
    if isinstance(kind, click.IntRange):
        return str(kind.min if kind.min is not None else 1)
    if isinstance(kind, click.types.IntParamType):
        return "1"
    if isinstance(kind, click.Path):
        sample = inputs / "input.csv"
        sample.write_text("code,agency_code\n", encoding="utf-8")
        return str(sample)
    return "X1"


def arguments(command: click.Command, inputs: Path) -> list[str]:
    """The command's required options and arguments, each given a plausible value."""
    args: list[str] = []
    for param in command.params:
        if isinstance(param, click.Option) and param.required:
            args += [param.opts[0], _value(param, inputs)]
    for param in command.params:
        if isinstance(param, click.Argument) and param.required:
            args += [_value(param, inputs)] * (param.nargs if param.nargs > 0 else 1)
    return args


COMMANDS = leaf_commands()
IDS = [" ".join(path) for path, _ in COMMANDS]


def test_the_tree_is_read() -> None:
    """The enumeration sees the commands a user knows (and so every later one)."""
    names = set(IDS)
    assert {"db upgrade", "report quarterly", "reconcile", "dossiers import", "demo", "serve",
            "scheduler", "vietqr banks", "callbacks spool-import"} <= names
    assert names >= NO_DATABASE | MAKES_SCHEMA | set(NOTHING_TO_DO)


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_recon(args: list[str], *, cwd: Path, url: str | None) -> Outcome:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    env.pop("PYTHONPATH", None)
    env.update({"RECON_ENV": "development", "RECON_LOG_FORMAT": "text"})
    if url is not None:
        env["RECON_DATABASE_URL"] = url
    proc = subprocess.run([sys.executable, "-m", "recon.cli", *args], cwd=cwd, env=env,
                          input="a-long-password\n", capture_output=True, text=True,
                          timeout=120, check=False)
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest()
                                         if p.is_file() else "dir")
            for p in sorted(folder.rglob("*"))}


def assert_one_line(out: Outcome, *, expected: str, name: str = "") -> None:
    text = out.stdout + out.stderr
    if name in NOTHING_TO_DO:
        assert out.code == 0, text
        assert out.stdout.startswith(NOTHING_TO_DO[name]), text
        assert "Traceback" not in text and out.stderr == "", text
        return
    assert "Traceback" not in text, text
    assert out.code != 0, text
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("Error: "), text
    assert expected in lines[0], text
    assert out.stdout == "", text


@dataclass
class Run:
    """One command run in its own folders: ``work`` (its working folder, empty before),
    ``data`` (the database's folder) with its contents before the run."""

    out: Outcome
    work: Path
    data: Path
    before: dict[str, str]


SCENARIOS = ("unmigrated", "no-database", "unreachable")


def _run_one(scenario: str, path: tuple[str, ...], command: click.Command, root: Path) -> Run:
    work, data, inputs = root / "work", root / "data", root / "inputs"
    for folder in (work, data, inputs):
        folder.mkdir(parents=True)
    url: str | None = None
    if scenario == "unmigrated":
        db_file = data / "recon.db"
        sqlite3.connect(db_file).close()  # an empty SQLite file: no schema
        url = f"sqlite:///{db_file}"
    elif scenario == "unreachable":
        url = UNREACHABLE_URL
    before = snapshot(data)
    extra = EXTRA_ARGUMENTS.get(" ".join(path), [])
    out = run_recon([*path, *arguments(command, inputs), *extra], cwd=work, url=url)
    return Run(out, work, data, before)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Run]:
    """Every command in every scenario, a few processes at a time (each one is mostly
    Python starting up)."""
    jobs = {(scenario, " ".join(path)): (scenario, path, command,
                                         tmp_path_factory.mktemp(f"{scenario}-{path[-1]}"))
            for scenario in SCENARIOS for path, command in COMMANDS}
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {key: pool.submit(_run_one, *job) for key, job in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("name", IDS)
def test_unmigrated_sqlite(name: str, runs: dict[tuple[str, str], Run]) -> None:
    run = runs["unmigrated", name]
    out = run.out
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    assert snapshot(run.work) == {}, f"{name} created files in the working folder"
    if name in MAKES_SCHEMA:
        assert out.code == 0, out.stderr
        assert "Database is at revision" in out.stdout
        return
    assert snapshot(run.data) == run.before, f"{name} changed the database folder"
    if name in NO_DATABASE:
        return
    assert_one_line(out, expected=f"the database (SQLite file {run.data / 'recon.db'}) has "
                                  "no schema: run `recon db upgrade`", name=name)


@pytest.mark.parametrize("name", IDS)
def test_no_database_in_this_folder(name: str, runs: dict[tuple[str, str], Run]) -> None:
    """No RECON_DATABASE_URL, no ./instance: a command that reads says so and makes none."""
    run = runs["no-database", name]
    out = run.out
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    if name in MAKES_SCHEMA:  # allowed to make ./instance/recon.db, and does
        assert out.code == 0, out.stderr
        assert (run.work / "instance" / "recon.db").is_file()
        return
    assert snapshot(run.work) == {}, f"{name} created files in the working folder"
    if name in NO_DATABASE:
        return
    assert_one_line(out, expected=f"there is no database at "
                                  f"{run.work / 'instance' / 'recon.db'}: run `recon db upgrade`",
                    name=name)


@pytest.mark.parametrize("name", IDS)
def test_unreachable_postgresql(name: str, runs: dict[tuple[str, str], Run]) -> None:
    run = runs["unreachable", name]
    out = run.out
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    assert snapshot(run.work) == {}, f"{name} created files in the working folder"
    if name in NO_DATABASE:
        return
    assert_one_line(out, expected="cannot connect to PostgreSQL at 127.0.0.1:5999/recon: "
                                  "connection refused", name=name)


# --------------------------------------------------------------------------------------------
# What main() does with an error raised in the middle of a command


def _main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          error: BaseException) -> tuple[int, str]:
    from recon import cli as cli_module

    @click.command("boom")
    def boom() -> None:
        raise error

    monkeypatch.setitem(cli_module.cli.commands, "boom", boom)
    monkeypatch.setattr(sys, "argv", ["recon", "boom"])
    with pytest.raises(SystemExit) as exited:
        cli_module.main()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


def test_a_bug_is_one_line_and_its_traceback_on_request(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("RECON_TRACEBACK", raising=False)
    code, err = _main(monkeypatch, capsys, RuntimeError("the\nimpossible happened"))
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "unexpected error: RuntimeError: the impossible happened" in err
    assert "RECON_TRACEBACK=1" in err
    monkeypatch.setenv("RECON_TRACEBACK", "1")
    with pytest.raises(RuntimeError):
        _main(monkeypatch, capsys, RuntimeError("shown"))


def test_a_database_lost_mid_command_is_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import psycopg
    from sqlalchemy.exc import OperationalError

    from recon.cli.common import AppContext

    monkeypatch.setattr(AppContext, "last_url", UNREACHABLE_URL)
    lost = OperationalError("SELECT 1", {}, psycopg.OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 5999 failed: '
        "Connection refused\n\tIs the server running on that host and accepting TCP/IP "
        "connections?"), connection_invalidated=True)
    code, err = _main(monkeypatch, capsys, lost)
    assert code == 1
    assert err == ("Error: cannot connect to PostgreSQL at 127.0.0.1:5999/recon: connection "
                   "refused. Check that the server is running and that RECON_DATABASE_URL "
                   "names it.\n")


@pytest.mark.parametrize(("detail", "reason"), [
    ('connection failed: connection to server at "127.0.0.1", port 5999 failed: Connection '
     "refused\n\tIs the server running on that host and accepting TCP/IP connections?",
     "connection refused"),
    ('connection failed: connection to server at "10.0.0.5", port 5432 failed: FATAL:  '
     'password authentication failed for user "recon"',
     'password authentication failed for user "recon"'),
    ('connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
     'database "recon" does not exist', 'database "recon" does not exist'),
    ("connection timeout expired", "connection timeout expired"),
])
def test_connect_reason(detail: str, reason: str) -> None:
    from recon.cli.faults import connect_reason

    assert connect_reason(detail) == reason


def test_a_server_without_free_connections_is_overloaded_not_unreachable() -> None:
    """PostgreSQL full (max_connections) refuses a new connection without a SQLSTATE: the
    operator is told to look at the connections, not that the server is down."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from recon.cli.faults import fault_line
    from recon.db import classify_fault

    full = OperationalError("connect", {}, psycopg.OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
        "sorry, too many clients already"))
    fault = classify_fault(full)
    assert fault is not None and fault.kind == "overloaded"
    line = fault_line(fault, "postgresql+psycopg://recon:secret@127.0.0.1/recon")
    assert line.startswith("the database (PostgreSQL at 127.0.0.1/recon) is overloaded")
    assert "max_connections" in line and "secret" not in line
