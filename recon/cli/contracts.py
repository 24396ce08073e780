"""`recon contracts list|check`: the fee contracts settlement fees are judged by.

``list`` prints the contracts in force (``RECON_CONTRACTS_FILE``, else the shipped demo
contracts); ``check FILE`` validates a file before an operator points the setting at it. Neither
needs the database.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from recon.cli.common import fail


@click.group("contracts")
def contracts_group() -> None:
    """Fee contracts (hợp đồng phí): list them, check a file; the payment method codes."""


@contracts_group.command("list")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path),
              help="A contracts file (default: RECON_CONTRACTS_FILE, else the shipped one).")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of lines.")
def list_command(path: Path | None, as_json: bool) -> None:
    """Every contract: provider, channel, validity and price."""
    from recon.contracts import load_contracts  # noqa: PLC0415
    from recon.money import format_vnd  # noqa: PLC0415

    target = path or (os.environ.get("RECON_CONTRACTS_FILE") or "").strip() or None
    try:
        book = load_contracts(target)
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps([{
            "id": c.id, "provider": c.provider, "channel": c.channel,
            "valid_from": c.valid_from.isoformat(),
            "valid_to": c.valid_to.isoformat() if c.valid_to else None, "kind": c.kind,
            "rate_bp": c.rate_bp, "fixed_vnd": c.fixed_vnd, "min_vnd": c.min_vnd,
            "max_vnd": c.max_vnd, "tiers": [[t.from_count, t.rate_bp] for t in c.tiers],
            "foreign_card_surcharge_bp": c.foreign_card_surcharge_bp,
            "refund_fee_vnd": c.refund_fee_vnd, "vat_included": c.vat_included,
            "vat_rate_bp": c.vat_rate_bp, "rounding": c.rounding,
            "monthly_vnd": c.monthly_vnd, "note": c.note,
        } for c in book.contracts], ensure_ascii=False))
        return
    click.echo(f"{len(book)} contracts in {book.origin}")
    for c in book.contracts:
        until = c.valid_to.isoformat() if c.valid_to else "…"
        if c.kind == "subscription":
            price = f"subscription {format_vnd(c.monthly_vnd)}/month, no fee per transaction"
        else:
            price = f"{c.rate_bp} bp + {format_vnd(c.fixed_vnd)}"
            if c.min_vnd:
                price += f", min {format_vnd(c.min_vnd)}"
            if c.max_vnd:
                price += f", max {format_vnd(c.max_vnd)}"
            for t in c.tiers:
                price += f", {t.rate_bp} bp from transaction {t.from_count} of a month"
            if c.foreign_card_surcharge_bp:
                price += f", +{c.foreign_card_surcharge_bp} bp foreign card"
            if c.refund_fee_vnd:
                price += f", refund {format_vnd(c.refund_fee_vnd)}"
            price += f", rounding {c.rounding}, VAT {'incl.' if c.vat_included else 'excl.'}"
        click.echo(f"  {c.id:<22} {c.provider:<8} {c.channel:<13} "
                   f"{c.valid_from.isoformat()}..{until}  {price}")


@contracts_group.command("check")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def check_command(path: Path) -> None:
    """Validate a contracts file; exit 1 naming every problem."""
    from recon.contracts import load_contracts  # noqa: PLC0415

    try:
        book = load_contracts(path)
    except ValueError as exc:
        fail(f"{exc}. Fix the file and check it again; nothing was changed.")
    providers = ", ".join(sorted(book.providers())) or "none"
    click.echo(f"OK: {path}: {len(book)} contracts (providers: {providers})")


@contracts_group.command("methods")
@click.option("--provider", default=None, help="Only this provider.")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path),
              help="A payment methods file to show (default: RECON_PAYMENT_METHODS).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of lines.")
def methods_command(provider: str | None, path: Path | None, as_json: bool) -> None:
    """The effective payment method codes: per provider and field, each value the provider
    sends and the method (contract channel) it means; the adapter's, with RECON_PAYMENT_METHODS
    laid over it (marked "file")."""
    from adapters import PROVIDERS, adapter_class  # noqa: PLC0415
    from recon.payments.methods import (  # noqa: PLC0415
        VARIABLE,
        effective_table,
        load_methods,
        methods_from_settings,
    )

    if provider is not None and provider not in PROVIDERS:
        fail(f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)}")
    try:
        override = load_methods(path) if path else methods_from_settings(os.environ)
    except ValueError as exc:
        fail(str(exc))
    source = str(path) if path else (os.environ.get(VARIABLE) or "").strip()
    chosen = [provider] if provider else list(PROVIDERS)
    tables = {p: effective_table(p, override) for p in chosen}
    if as_json:
        click.echo(json.dumps({"file": source or None, "providers": tables},
                              ensure_ascii=False, sort_keys=False))
        return
    laid = f"with {source}" if source else f"no {VARIABLE} file"
    click.echo(f"Payment method codes: the adapters' own, {laid}.")
    for name in chosen:
        own = adapter_class(name).payment_methods
        if not tables[name]:
            click.echo(f"{name}: no method field (its payments carry no method: the \"*\" "
                       "contract)")
            continue
        for field, values in tables[name].items():
            click.echo(f"{name}.{field}:")
            for value, method in values.items():
                mark = "" if own.get(field, {}).get(value) == method else "  (file)"
                click.echo(f"  {value:<18} {method}{mark}")
            removed = sorted(set(own.get(field, {})) - set(values))
            for value in removed:
                click.echo(f"  {value:<18} unknown  (file: taken out)")


COMMANDS: list[click.Command] = [contracts_group]
