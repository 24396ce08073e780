"""Issue 13, item 1: recon as deployed — built as a wheel, installed into a fresh virtualenv
outside the checkout, run from a folder that is not the checkout.

The wheel is built offline from a copy of the sources (`pip wheel --no-build-isolation` with
this venv's setuptools) and installed without its dependencies into a new virtualenv; that
virtualenv sees the test venv's packages through a `.pth` line placed after its own
site-packages, so `import recon` can only find the installed copy (checked). There, `recon db
upgrade` and `recon demo` run on SQLite and on a throw-away PostgreSQL database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_ENV

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
#: what a build needs from the checkout (anything else missing from it would show here)
SOURCES = ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "recon", "adapters",
           "migrations")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    build_log: str
    venv: Path

    @property
    def recon(self) -> Path:
        return self.venv / "bin" / "recon"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


def _run(args: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None,
         timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def _clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RECON_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"RECON_ENV": "development", "RECON_LOG_FORMAT": "text", **values})
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    src, dist, venv = base / "src", base / "dist", base / "venv"
    src.mkdir()
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, ignore=IGNORED)
        else:
            shutil.copy2(origin, src / name)
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "--no-index", "-v", "-w", dist, src], cwd=base)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("recon-*.whl")
    made = _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=base)
    assert made.returncode == 0, made.stderr
    pip = _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install",
                "--no-deps", "--no-index", wheel], cwd=base)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    # the dependencies: this venv's site-packages, after the new venv's own (a path line only:
    # the .pth files there, the editable install of the checkout among them, are not run)
    purelib = _run([venv / "bin" / "python", "-c",
                    "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base)
    Path(purelib.stdout.strip(), "zz_test_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return Installed(wheel, built.stdout + built.stderr, venv)


def test_the_build_warns_about_no_package(installed: Installed) -> None:
    assert "absent from the `packages` configuration" not in installed.build_log
    assert "is absent from" not in installed.build_log


def test_every_source_file_is_in_the_wheel(installed: Installed) -> None:
    """Each file of recon/, adapters/ and migrations/ (as recon/migrations/) is shipped:
    every capability package, template, static file, data file and migration."""
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    expected: set[str] = set()
    for top, target in (("recon", "recon"), ("adapters", "adapters"),
                        ("migrations", "recon/migrations")):
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                expected.add(f"{target}/{path.relative_to(ROOT / top).as_posix()}")
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel: {missing}"
    for package in ("intake", "payments", "settlements", "review", "audit", "demo",
                    "accounts", "engine", "models", "vietqr", "web", "cli"):
        assert f"recon/{package}/__init__.py" in names
    assert not any(name.startswith("migrations/") for name in names)  # no top-level package


def test_the_installed_copy_is_the_one_run(installed: Installed, tmp_path: Path) -> None:
    out = _run([installed.python, "-c",
                "import recon, recon.db; print(recon.__file__); print(recon.db.MIGRATIONS)"],
               cwd=tmp_path, env=_clean_env())
    assert out.returncode == 0, out.stderr
    module, migrations = (Path(line) for line in out.stdout.split())
    assert module.is_relative_to(installed.venv)
    assert migrations.is_relative_to(installed.venv)
    assert (migrations / "versions").is_dir()
    assert not module.is_relative_to(ROOT)


def _upgrade_and_demo(installed: Installed, cwd: Path, env: dict[str, str]) -> None:
    upgrade = _run([installed.recon, "db", "upgrade"], cwd=cwd, env=env)
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    assert "Database is at revision" in upgrade.stdout
    again = _run([installed.recon, "db", "upgrade"], cwd=cwd, env=env)  # a no-op
    assert again.returncode == 0, again.stdout + again.stderr
    demo = _run([installed.recon, "demo", "--dossiers", "300"], cwd=cwd, env=env)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "Traceback" not in demo.stdout + demo.stderr
    report = _run([installed.recon, "audit", "verify"], cwd=cwd, env=env)
    assert report.returncode == 0, report.stdout + report.stderr
    assert "Audit chain intact" in report.stdout


def test_installed_on_sqlite(installed: Installed, tmp_path: Path) -> None:
    """The default database, ./instance/recon.db of the folder the commands run in."""
    _upgrade_and_demo(installed, tmp_path, _clean_env())
    assert (tmp_path / "instance" / "recon.db").is_file()


@pytest.fixture
def empty_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (never migrated), dropped afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.fail(f"this test needs PostgreSQL: set {PG_ENV}")
    url = make_url(base)
    name = f"{url.database}_wheel{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.mark.postgres
def test_installed_on_postgresql(installed: Installed, tmp_path: Path,
                                 empty_pg_database: str) -> None:
    _upgrade_and_demo(installed, tmp_path, _clean_env(RECON_DATABASE_URL=empty_pg_database))
    # no database file in the folder it ran in: only the instance folder's local state, the
    # demo's generated receipt-signing key (recon/demo/receipts.py)
    made = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert made == ["instance", "instance/demo-receipts.p12"], made
