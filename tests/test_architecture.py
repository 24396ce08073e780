"""The house's rules are a test: the import contracts of setup.cfg hold, and each of them fails
when an import breaks it.

``lint-imports`` (import-linter) reads the contracts from setup.cfg and the imports from the
code it finds on the path. The first test runs it on this checkout, as ``make lint`` does. The
second copies the code into a temporary folder, adds one offending module (or line) per
contract, runs it there, and expects every contract reported broken, each naming the offender.
"""

from __future__ import annotations

import configparser
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

from flask import Flask

import recon
from recon import create_app
from recon.clock import FixedClock
from recon.config import load_settings
from recon.db import Database

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACT = "importlinter:contract:"

# contract id -> (file relative to the copy, text appended to it, the import it reports)
VIOLATIONS: dict[str, tuple[str, str, str]] = {
    "layers": ("recon/engine/leak.py", "import recon.review.actions\n",
               "recon.engine.leak -> recon.review.actions"),
    "acyclic": ("recon/engine/records.py", "\nimport recon.engine.lifecycle  # noqa\n",
                ".records -> .lifecycle"),  # as the cycle report names it
    "adapters-pure": ("adapters/leak.py", "import recon.db\n", "adapters.leak -> recon.db"),
    "engine-core-pure": ("recon/engine/explain.py", "\nimport sqlalchemy  # noqa\n",
                         "recon.engine.explain -> sqlalchemy"),
    "models-no-web": ("recon/models/leak.py", "import recon.web.i18n\n",
                      "recon.models.leak -> recon.web.i18n"),
    "vietqr-pure": ("recon/vietqr/leak.py", "import flask\n", "recon.vietqr.leak -> flask"),
    "no-sql-in-views": ("recon/web/leak.py", "from sqlalchemy import select\n",
                        "recon.web.leak -> sqlalchemy"),
}


def _contracts() -> dict[str, configparser.SectionProxy]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    return {name.removeprefix(CONTRACT): config[name] for name in config.sections()
            if name.startswith(CONTRACT)}


def _lint_imports(where: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` in ``where`` (its setup.cfg), importing the code found there first."""
    env = {**os.environ, "PYTHONPATH": str(where), "COLUMNS": "400", "NO_COLOR": "1"}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=where, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def _status(output: str, name: str) -> str | None:
    """KEPT or BROKEN for the contract called ``name`` in lint-imports' report."""
    found = re.search(rf"^{re.escape(name)} (KEPT|BROKEN)", output, re.MULTILINE)
    return found.group(1) if found else None


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = _contracts()
    assert set(VIOLATIONS) == set(contracts)  # every contract is proven below
    for section in contracts.values():
        assert _status(result.stdout, section["name"]) == "KEPT", section["name"]


def test_an_import_that_breaks_a_contract_fails(tmp_path: Path) -> None:
    copy = tmp_path / "house"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("recon", "adapters"):
        shutil.copytree(ROOT / package, copy / package, ignore=ignore)
    shutil.copy(ROOT / "setup.cfg", copy / "setup.cfg")
    for relative, text, _reported in VIOLATIONS.values():
        with (copy / relative).open("a", encoding="utf-8") as out:
            out.write(text)

    result = _lint_imports(copy)
    assert result.returncode != 0
    contracts = _contracts()
    for contract, (_relative, _text, reported) in VIOLATIONS.items():
        name = contracts[contract]["name"]
        assert _status(result.stdout, name) == "BROKEN", (name, result.stdout[-4000:])
        assert reported in result.stdout, (reported, result.stdout[-4000:])


def test_every_part_of_recon_has_a_layer() -> None:
    """A new package or module at the top of recon/ must be placed in the layers contract
    (import-linter cannot require it without one container for everything)."""
    layered = set(re.findall(r"recon\.[a-z_]+", _contracts()["layers"]["layers"]))
    parts = {f"recon.{module.name}" for module in pkgutil.iter_modules(recon.__path__)}
    assert parts - layered == set()
    assert layered - parts == set()  # and nothing named there has gone


def test_bench_endpoints_live_outside_the_application(env: dict[str, str], db: Database,
                                                      clock: FixedClock) -> None:
    assert find_spec("recon.web.bench_endpoints") is None

    def app(extra: dict[str, str]) -> Flask:
        return create_app(load_settings({**env, **extra}), clock=clock, database=db)

    assert "bench_endpoints.bare" not in app({}).view_functions
    bench = app({"RECON_BENCH_ENDPOINTS": "1"})
    assert {"bench_endpoints.bare", "bench_endpoints.durable"} <= set(bench.view_functions)
    assert bench.test_client().post("/_bench/bare").status_code == 204


def test_a_command_starts_without_the_pdf_library_or_hashing_a_password(
        tmp_path: Path) -> None:
    """Every command builds the app; the PDF library (fpdf2, a third of a second to import)
    comes with the first receipt PDF asked for, and no password is hashed (the dummy hash of
    a login by an unknown name is written in the code)."""
    probe = (
        "import sys\n"
        "import werkzeug.security\n"
        "made = []\n"
        "real = werkzeug.security.generate_password_hash\n"
        "werkzeug.security.generate_password_hash = (\n"
        "    lambda *a, **k: made.append(1) or real(*a, **k))\n"
        "import recon.cli\n"
        "from recon import create_app\n"
        "from recon.config import load_settings\n"
        "create_app(load_settings())\n"
        "print('fpdf' in sys.modules, len(made))\n")
    env = {**os.environ, "RECON_ENV": "development",
           "RECON_DATABASE_URL": f"sqlite:///{tmp_path / 'start.db'}",
           "RECON_INSTANCE_PATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, check=True, cwd=ROOT, timeout=120)
    assert done.stdout.split() == ["False", "0"], done.stderr


def test_the_dummy_password_hash_is_made_as_werkzeug_makes_one_now() -> None:
    """A login by an unknown name checks the password against ``DUMMY_HASH``, so that it
    takes as long as a real check: that holds while the hash's method and cost are those
    werkzeug gives the users' passwords."""
    from werkzeug.security import check_password_hash, generate_password_hash

    from recon.accounts.auth import DUMMY_HASH

    assert DUMMY_HASH.split("$")[0] == generate_password_hash("x").split("$")[0]
    assert check_password_hash(DUMMY_HASH, "not-a-real-password")
