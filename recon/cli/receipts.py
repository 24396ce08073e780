"""`recon receipts verify DIR`: every receipt's signature, and each series' numbering."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("receipts")
def receipts() -> None:
    """E-receipts (biên lai điện tử): see docs/receipts.md."""


@receipts.command("verify")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def verify_folder(folder: Path) -> None:
    """Verify every *.xml receipt below FOLDER: signatures, numbers used twice, gaps."""
    from recon.cli.common import progress_enabled  # noqa: PLC0415 - fast --help
    from recon.cli.progress import ProgressLine  # noqa: PLC0415
    from recon.receipts.checking import check_directory, ranges  # noqa: PLC0415

    total = sum(1 for _ in folder.rglob("*.xml"))
    with ProgressLine("Verifying receipts", total=total, unit="files") as line:
        report = check_directory(folder, progress=line.advance if progress_enabled() else None)
    for series in report.series.values():
        click.echo(f"{series.form_code} {series.series}: {len(series.files)} numbers, "
                   f"last {series.last}")
        if series.missing:
            click.echo(f"  missing (find them in the register: spoiled, or lost): "
                       f"{ranges(series.missing)}")
        for number, names in series.duplicates.items():
            click.echo(f"  number {number} used twice or more: {', '.join(names)}")
    for name, problem in report.bad:
        click.echo(f"{name}: {problem}")
    if report.ok:
        click.echo(f"{report.checked} receipts checked: every signature verifies, "
                   "no number missing or used twice.")
        return
    click.echo(f"{report.checked} receipts checked: {len(report.bad)} bad file(s); see above.",
               err=True)
    raise SystemExit(1)


COMMANDS = [receipts]
