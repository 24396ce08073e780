"""Import a 100,000-row XLSX statement with `recon settlements import`, and feed it the bombs.

    python bench/import_xlsx.py [--rows 100000] [--backends sqlite,postgresql] [--no-bombs]

Each import runs the real command in a child process against a fresh database; one JSON line per
run: seconds and the child's peak RSS (MiB). The bombs (issue 16, item 4) are the attacks as
reported: a small XLSX whose shared strings inflate to about 600 MB, and 15,000 rows each with a
cell in column XFD. Each must be refused (exit 1, nothing imported) quickly and in bounded memory.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_PG, scratch_database

HEADER = ["provider_txn_id", "amount", "fee", "transaction_at", "settled_on", "net_amount",
          "reference"]


def statement(path: Path, rows: int) -> None:
    """A canonical settlement of ``rows`` lines (write-only mode: bounded memory here too)."""
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Statement")
    ws.append(HEADER)
    start = datetime(2026, 11, 1, 8, 0)  # noqa: DTZ001 - a statement's local time, as banks write it
    for i in range(rows):
        amount = 100_000 + (i % 50) * 1000
        ws.append([f"BENCH{i:09d}", amount, 1000, start + timedelta(seconds=23 * i),
                   date(2026, 11, 25), amount - 1000, f"HS{i:010d}"])
    wb.save(path)


def strings_bomb(path: Path, megabytes: int = 600) -> None:
    """A tiny workbook whose shared-strings part inflates to ``megabytes`` MB (deflated)."""
    item = b"<si><t>" + b"A" * 1000 + b"</t></si>"
    count = megabytes * 1_000_000 // len(item)
    base = io.BytesIO()
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADER)
    wb.save(base)
    source = zipfile.ZipFile(io.BytesIO(base.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "[Content_Types].xml":
                content = content.replace(b"</Types>", (
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
                    b'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
            out.writestr(info, content)
        with out.open("xl/sharedStrings.xml", "w") as part:
            part.write(b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.'
                       b'openxmlformats.org/spreadsheetml/2006/main">')
            block = item * 1000
            for _ in range(count // 1000):
                part.write(block)
            part.write(b"</sst>")


def xfd_bomb(path: Path, rows: int = 15_000) -> None:
    """``rows`` rows of a statement, each with a cell in column XFD (the sheet XML written
    directly: the cells between are absent, as in the attack)."""
    import openpyxl

    base = io.BytesIO()
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADER)
    wb.save(base)
    source = zipfile.ZipFile(io.BytesIO(base.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                head, _, _ = content.partition(b"<sheetData>")
                cells = "".join(f'<c r="{col}1" t="inlineStr"><is><t>{name}</t></is></c>'
                                for col, name in zip("ABCDEFG", HEADER, strict=True))
                body = [f'<row r="1">{cells}</row>']
                for i in range(2, rows + 2):
                    body.append(f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>X{i}</t></is>'
                                f'</c><c r="B{i}"><v>1000</v></c><c r="XFD{i}" t="inlineStr">'
                                '<is><t>x</t></is></c></row>')
                content = (head + b"<sheetData>" + "".join(body).encode()
                           + b"</sheetData></worksheet>")
            out.writestr(info, content)


def run_one(url: str, data: Path) -> dict[str, object]:
    """The import in a child; its own peak RSS read by wait4."""
    env = {**os.environ, "RECON_DATABASE_URL": url, "RECON_ENV": "development"}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "recon.cli", "settlements", "import",
                             "--provider", "vnpay", str(data)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    result: dict[str, object] = {"seconds": round(time.perf_counter() - started, 2),
                                 "exit": code, "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}
    if code == 0:
        result["lines"] = json.loads(stdout.decode().strip().splitlines()[-1])["lines"]
    else:
        result["refusal"] = " ".join(stderr.decode().split())[-300:]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("RECON_BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--no-bombs", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = {"statement": Path(tmp) / "statement.xlsx"}
        statement(files["statement"], args.rows)
        if not args.no_bombs:
            files["strings_bomb"] = Path(tmp) / "strings_bomb.xlsx"
            strings_bomb(files["strings_bomb"])
            files["xfd_bomb"] = Path(tmp) / "xfd_bomb.xlsx"
            xfd_bomb(files["xfd_bomb"])
        for backend in args.backends.split(","):
            for kind, path in files.items():
                with scratch_database(backend, args.pg_url) as url:
                    result = run_one(url, path)
                print(json.dumps({"bench": "import_xlsx", "backend": backend, "file": kind,
                                  "rows": args.rows if kind == "statement" else None,
                                  "file_mb": round(path.stat().st_size / 2**20, 2),
                                  **result}), flush=True)


if __name__ == "__main__":
    main()
