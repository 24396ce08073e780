"""Import N dossiers (2 fee lines each) from JSON Lines with `recon dossiers import`.

    python bench/import_dossiers.py [--dossiers 100000] [--backends sqlite,postgresql]

Runs the real command in a child process (so its progress bar shows on this terminal) against
a fresh database per backend, and prints one JSON line per backend: seconds, peak RSS (MiB).
Target (issue 2): under 10 s and under 300 MB for 100,000 dossiers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_PG, scratch_database

AGENCY = "BENCH"


def write_file(path: Path, n: int) -> None:
    start = datetime(2021, 1, 4, 1, 0, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            body = {
                "code": f"000.00.21.H57-BENCH-{i:07d}",
                "agency_code": AGENCY,
                "procedure_code": f"1.00{i % 40:04d}",
                "procedure_name": f"Thủ tục số {i % 40}",
                "applicant_name": "Nguyễn Văn Ánh",
                "received_at": (start + timedelta(seconds=37 * i)).isoformat(),
                "fees": [
                    {"kind": "le_phi", "name": "Lệ phí", "amount": 100000 + i % 7 * 1000},
                    {"kind": "phi", "name": "Phí thẩm định", "amount": 50000},
                ],
            }
            out.write(json.dumps(body, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("RECON_BENCH_PG_URL", DEFAULT_PG))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "dossiers.jsonl"
        write_file(data, args.dossiers)
        for backend in args.backends.split(","):
            with scratch_database(backend, args.pg_url) as url:
                result = run_one(url, data)
            print(json.dumps({"bench": "import_dossiers", "backend": backend,
                              "dossiers": args.dossiers, "file_mb": round(
                                  data.stat().st_size / 2**20, 1), **result}))


def run_one(url: str, data: Path) -> dict[str, object]:
    """Run the import in a child and read its own peak RSS from /usr/bin/time-like rusage."""
    env = {**os.environ, "RECON_DATABASE_URL": url, "RECON_ENV": "development"}
    recon = [sys.executable, "-m", "recon.cli"]
    subprocess.run([*recon, "agencies", "create", AGENCY, "--name", "Bench", "--bin", "970415",
                    "--account", "1", "--account-name", "BENCH"], env=env, check=True,
                   capture_output=True)
    started = time.perf_counter()
    proc = subprocess.Popen([*recon, "dossiers", "import", str(data)], env=env,
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"import failed (wait status {status})")
    summary = json.loads(stdout.decode().strip().splitlines()[-1])
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "created": summary["created"], "fee_lines": summary["fee_lines"]}


if __name__ == "__main__":
    main()
