"""`recon simulate pay`: send a correctly signed callback, as a provider would, to a running server.

For demos (a cashier shows a QR code; from a second terminal, `recon simulate pay HS... --provider
sepay` "pays" it and the desk turns paid) and for integrators checking their set-up. The callback
is signed with this process's `RECON_*` secrets (in development, the same dev-only defaults the
server uses), so it verifies exactly when the server would accept the real provider.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import click
import requests
from sqlalchemy import select

from adapters import (
    PROVIDERS,
    AdapterError,
    CallbackLink,
    NotConfigured,
    RawRequest,
    adapter_class,
    get_adapter,
)
from recon.cli.common import database_app, fail
from recon.clock import Clock
from recon.config import Settings
from recon.db import Database
from recon.models import PaymentIntent

DEFAULT_URL = "http://127.0.0.1:5000"
TIMEOUT_SECONDS = 15  # MoMo's own deadline for an IPN answer
BANK_MEMO = "MBVCB.{txn}.{reference}.NGUYEN VAN A chuyen tien"


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: str
    accepted: bool


def answer_accepted(provider: str, status_code: int, body: str) -> bool:
    """Whether the provider would take this answer as "delivered, stop retrying"."""
    return adapter_class(provider).delivered(status_code, body)


def build_request(db: Database, clock: Clock, settings: Settings, *, reference: str,
                  provider: str, amount: int | None, txn_id: str | None
                  ) -> tuple[RawRequest, list[str]]:
    """The signed call and notes for the operator. Raises click errors for what is wrong."""
    notes: list[str] = []
    ref = reference.strip().upper()
    with db.read() as session:
        intent = session.execute(select(PaymentIntent).where(
            PaymentIntent.reference == ref)).scalar_one_or_none()
    if intent is None:
        if amount is None:
            raise click.ClickException(
                f"no payment intent has the reference {ref}; pass --amount to send it anyway "
                "(it will be recorded as an unmatched payment)")
        notes.append(f"no intent has reference {ref}: the server will keep it unmatched")
    elif intent.status != "issued":
        notes.append(f"intent {ref} is {intent.status}; sending anyway")
    pay_amount = amount if amount is not None else (intent.amount if intent else 0)
    try:
        adapter = get_adapter(provider, settings.env,
                              max_age_seconds=settings.signature_max_age_seconds, clock=clock)
    except NotConfigured as exc:
        raise click.ClickException(
            f"{provider} is not configured here ({exc}); set the same RECON_* secrets the "
            "server uses") from None
    order_code = intent.order_code if intent is not None else None
    memo: str | None = None
    if adapter.link is CallbackLink.memo:  # a bank transfer: the reference is in its memo
        memo = BANK_MEMO.format(txn=secrets.randbelow(10**10), reference=ref)
    if adapter.link is CallbackLink.order_code and order_code is None:
        order_code = 1 + secrets.randbelow(2**53 - 1)
        memo = f"{ref} thanh toan"
        notes.append(f"the intent has no {adapter.label} order code: sent a new one, with the "
                     "reference in the description")
    now: datetime = clock.now()
    try:
        raw = adapter.build_callback(amount=pay_amount, reference=ref, provider_txn_id=txn_id,
                                     transaction_at=now, order_code=order_code, memo=memo)
    except (AdapterError, ValueError) as exc:
        raise click.ClickException(f"cannot build a {provider} callback: {exc}") from None
    return raw, notes


def send(raw: RawRequest, base_url: str, provider: str,
         timeout: int = TIMEOUT_SECONDS) -> Answer:
    url = base_url.rstrip("/") + raw.path + (f"?{raw.query_string}" if raw.query_string else "")
    response = requests.request(raw.method, url, headers=dict(raw.headers),
                                data=raw.body or None, timeout=timeout)
    body = response.text
    return Answer(response.status_code, body,
                  answer_accepted(provider, response.status_code, body))


@click.group("simulate")
def simulate() -> None:
    """Act as a payment provider (demos, integration checks)."""


@simulate.command("pay")
@click.argument("reference")
@click.option("--provider", "provider", required=True, type=click.Choice(PROVIDERS),
              help="Which provider's callback to send.")
@click.option("--amount", type=click.IntRange(min=1),
              help="VND (default: the intent's amount).")
@click.option("--url", default=DEFAULT_URL, show_default=True,
              help="The running server (the callback goes to URL/webhooks/<provider>).")
@click.option("--txn-id", "txn_id", help="The provider transaction id (default: a fresh one; "
              "repeat one to see a redelivery answered as a duplicate).")
@click.pass_context
def pay(ctx: click.Context, reference: str, provider: str, amount: int | None, url: str,
        txn_id: str | None) -> None:
    """Pay intent REFERENCE as PROVIDER would: a signed callback to the server's webhook.

    Prints the server's answer; exits 1 unless the provider would take it as accepted.
    """
    app = database_app(ctx)
    clock: Clock = app.app.extensions["recon.clock"]
    settings: Settings = app.app.extensions["recon.settings"]
    raw, notes = build_request(app.db, clock, settings, reference=reference,
                               provider=provider, amount=amount, txn_id=txn_id)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    try:
        answer = send(raw, url, provider)
    except requests.RequestException as exc:
        fail(f"could not reach {url}: {type(exc).__name__}. Is the server running "
             "(make run / recon serve)?")
    click.echo(f"{provider} answered HTTP {answer.status_code} {answer.body}".rstrip())
    if not answer.accepted:
        fail(f"{provider} would not take this answer as accepted (it would retry)")
    click.echo("accepted")


COMMANDS: list[click.Command] = [simulate]
