"""`recon vietqr ...`: build, read and draw VietQR transfer codes; list the bank directory.

None of these commands needs the database or the app.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from recon.cli.common import fail
from recon.errors import FieldError, ValidationError
from recon.money import MoneyError, parse_vnd
from recon.vietqr.banks import directory
from recon.vietqr.codec import VietQRError, VietQRRequest, decode, encode
from recon.vietqr.render import Size, render_png, render_svg

_FIELD_HINTS = {
    "bin": "Run `recon vietqr banks` to see the BINs, then pass --bin with one of them.",
    "account": "Pass --account with the account (or card) number: letters and digits, no spaces.",
    "amount": "Pass --amount as whole VND with digits only, e.g. --amount 150000.",
    "purpose": "Shorten --purpose to 25 characters (Vietnamese is written without accents).",
    "bill_number": "Shorten --bill-number to 25 characters of plain ASCII.",
    "reference_label": "Shorten --reference-label to 25 characters of plain ASCII.",
    "additional_data": "Shorten --purpose, --bill-number or --reference-label, or drop one.",
    "mcc": "Pass --mcc as 4 digits, or leave it out.",
    "merchant_name": "Shorten --name to 25 characters, or leave it out.",
    "merchant_city": "Shorten --city to 15 characters, or leave it out.",
}


@click.group("vietqr")
def vietqr() -> None:
    """VietQR (NAPAS247) transfer codes: encode, decode, the bank directory."""


@vietqr.command("encode")
@click.option("--bin", "bin_code", required=True, help="The bank's 6-digit BIN (see `banks`).")
@click.option("--account", required=True, help="Account or card number of the beneficiary.")
@click.option("--amount", default=None, help="Amount in whole VND (digits only).")
@click.option("--purpose", default="", help="Transfer purpose (62.08), at most 25 characters.")
@click.option("--bill-number", default="", help="Bill number (62.01).")
@click.option("--reference-label", default="", help="Reference label (62.05).")
@click.option("--static", is_flag=True, help="A reusable code (11) instead of a one-payment (12).")
@click.option("--card", is_flag=True, help="Pay to a card number (QRIBFTTC), not an account.")
@click.option("--name", "merchant_name", default=None, help="Merchant name (59), optional.")
@click.option("--city", "merchant_city", default=None, help="Merchant city (60), optional.")
@click.option("--mcc", default=None, help="Merchant category code (52), 4 digits, optional.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the QR code as PNG to this file.")
@click.option("--svg", "svg_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the QR code as SVG to this file.")
@click.option("--size", type=click.Choice(["screen", "print"]), default="screen",
              show_default=True, help="Scale of the PNG/SVG.")
def encode_command(
    bin_code: str,
    account: str,
    amount: str | None,
    purpose: str,
    bill_number: str,
    reference_label: str,
    static: bool,
    card: bool,
    merchant_name: str | None,
    merchant_city: str | None,
    mcc: str | None,
    png_path: Path | None,
    svg_path: Path | None,
    size: str,
) -> None:
    """Build a VietQR payload; print it on the last line (and write PNG/SVG if asked)."""
    value: int | None = None
    if amount is not None:
        try:
            value = parse_vnd(amount, allow_zero=False)
        except MoneyError as exc:
            fail(ValidationError(FieldError("amount", str(exc)), hint=_FIELD_HINTS["amount"]))
    request = VietQRRequest(
        bin=bin_code.strip(),
        account=account.strip(),
        amount=value,
        purpose=purpose,
        bill_number=bill_number,
        reference_label=reference_label,
        static=static,
        card=card,
        merchant_name=merchant_name,
        merchant_city=merchant_city,
        mcc=mcc,
    )
    try:
        payload = encode(request)
    except VietQRError as exc:
        fail(ValidationError(exc.as_field_error(), hint=_FIELD_HINTS.get(exc.field)))
    scale: Size = "print" if size == "print" else "screen"
    for path, render, kind in (
        (png_path, render_png, "PNG"),
        (svg_path, render_svg, "SVG"),
    ):
        if path is None:
            continue
        try:
            path.write_bytes(render(payload, size=scale))
        except OSError as exc:
            fail(f"cannot write the {kind} to {path}: {exc.strerror or exc}. "
                 "Check that the folder exists and is writable.")
        click.echo(f"Wrote {kind} to {path}", err=True)
    click.echo(payload)


@vietqr.command("decode")
@click.argument("payload")
def decode_command(payload: str) -> None:
    """Read a VietQR payload (or '-' to read it from standard input); print JSON.

    Exits 1 when the payload is not a valid VietQR transfer code; the "errors" list says
    which field is wrong and why.
    """
    text = sys.stdin.read() if payload == "-" else payload
    result = decode(text.strip())
    click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    if not result.valid:
        sys.exit(1)


@vietqr.command("banks")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def banks_command(as_json: bool) -> None:
    """List the bank directory: BIN, short name, name."""
    banks = sorted(directory().values(), key=lambda bank: bank.bin)
    if as_json:
        rows = [
            {
                "bin": bank.bin,
                "short_name": bank.short_name,
                "name": bank.name,
                "napas_code": bank.napas_code,
                "swift": bank.swift,
                "vietqr_status": bank.vietqr_status,
            }
            for bank in banks
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    width = max([len("SHORT NAME"), *(len(bank.short_name) for bank in banks)])
    click.echo(f"{'BIN':<6}  {'SHORT NAME':<{width}}  NAME")
    for bank in banks:
        click.echo(f"{bank.bin:<6}  {bank.short_name:<{width}}  {bank.name}")


COMMANDS: list[click.Command] = [vietqr]
