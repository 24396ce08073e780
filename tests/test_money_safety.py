"""No float on a money path: read the code and the schema.

Every ``float(...)`` call and float literal in the application and the adapters must be in a
function on the allow-list below, each with the reason it is not money. A new one fails this
test until someone looks at it and says why it is safe.
"""

from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import BigInteger

import recon.models  # noqa: F401 - registers every table
from recon.db import Base

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [*sorted((ROOT / "recon").rglob("*.py")), *sorted((ROOT / "adapters").rglob("*.py"))]

# (file relative to the repo, function) -> why a float is not money there
ALLOWED_FLOAT_SITES: dict[tuple[str, str], str] = {
    ("adapters/fields.py", "_floats"): "re-serialising nested JSON for a signature string",
    ("recon/settlements/fetch.py", "_float_setting"): "HTTP timeouts and backoff in seconds",
    ("recon/settlements/fetch.py", "_retry_after"): "Retry-After header in seconds",
    ("recon/scheduler.py", "_positive"): "scheduler interval in minutes",
    ("recon/cli/progress.py", "*"): "progress rates and durations",
    ("recon/vietqr/render.py", "<module>"): "printed module size in millimetres",
    ("recon/demo/catalog.py", "*"): "relative procedure frequencies and channel shares",
    ("recon/demo/payments.py", "*"): "demo sampling probabilities",
    ("recon/engine/runner.py", "*"): "run timings in seconds",
    ("recon/settlements/fetch.py", "*"): "HTTP timeouts and backoff in seconds",
    ("recon/scheduler.py", "*"): "scheduler timings",
    ("recon/review/reports.py", "*"): "shares (percentages) of integer counts, for display",
    ("recon/audit/sealing.py", "*"): "audit sealing intervals and retry delays in seconds",
    ("recon/db.py", "<module>"): "retry delays for deadlocks and serialization failures, seconds",
    ("recon/db.py", "retrying"): "jittered retry delay in seconds",
    ("recon/payments/ingest.py", "_fault_pause"): "crash tests' sleep, seconds (test only)",
    ("recon/accounts/auth.py", "<module>"): "lock wait of the token's last-use write, seconds",
    ("recon/accounts/sessions.py", "<module>"): "lock wait of a session's last-seen write, seconds",
    ("recon/config.py", "<module>"): "the health check's lock wait, seconds",
    ("recon/config.py", "_positive_seconds"): "a timeout setting in seconds",
    ("recon/db.py", "probe_write"): "the health probe's lock and statement timeout, seconds",
    ("recon/payments/spool.py", "import_spool"): "write probe timeout, seconds",
    ("recon/receipts/pdf.py", "*"): "the receipt PDF's layout in millimetres (amounts are text)",
    ("recon/receipts/settings.py", "<module>"): "the receipts sweep's default interval, seconds",
    ("recon/receipts/settings.py", "_sweep_seconds"): "the receipts sweep's interval, seconds",
}
MONEY_WORDS = ("amount", "fee", "net", "delta", "total", "paid", "assessed", "outstanding")
NOT_MONEY_COLUMNS = {("payments", "paid_at"), ("payment_intents", "paid_at"),
                     # "fee" in their names: an account number and a flag (0028_deposits)
                     ("agencies", "fee_pending_account"), ("transfers", "into_fee_account")}


def _float_sites(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    sites: list[tuple[str, int]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = child.name
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Name) \
                    and child.func.id == "float":
                sites.append((function, child.lineno))
            if isinstance(child, ast.Constant) and isinstance(child.value, float):
                sites.append((function, child.lineno))
            visit(child, name)

    visit(tree, "<module>")
    return sites


def test_no_float_on_money_paths() -> None:
    offenders = []
    for path in SOURCES:
        rel = path.relative_to(ROOT).as_posix()
        for function, line in _float_sites(path):
            if (rel, function) in ALLOWED_FLOAT_SITES or (rel, "*") in ALLOWED_FLOAT_SITES:
                continue
            offenders.append(f"{rel}:{line} in {function}()")
    assert not offenders, "float used outside the allow-list: " + ", ".join(offenders)


def test_scanner_finds_floats(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("def pay(a):\n    return float(a) * 1.5\n", encoding="utf-8")
    assert [s[0] for s in _float_sites(sample)] == ["pay", "pay"]


def test_money_columns_are_bigint() -> None:
    wrong = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if (table.name, column.name) in NOT_MONEY_COLUMNS or column.name.endswith("_at"):
                continue
            looks_like_money = any(word in column.name for word in MONEY_WORDS) and \
                column.name not in {"dossiers_created", "dossiers_updated",
                                    "dossiers_unchanged"} and \
                not column.name.endswith(("_id", "_type", "_note", "_by", "_reason"))
            if looks_like_money and not isinstance(column.type, BigInteger):
                wrong.append(f"{table.name}.{column.name} is {column.type}")
    assert not wrong, "money columns must be BigInteger: " + "; ".join(wrong)
