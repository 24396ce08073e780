"""Administration: schema, agencies, users, tokens, audit."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click
from alembic import command
from alembic import util as alembic_util
from alembic.config import Config
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from recon.accounts.auth import (
    TOKEN_ROLES,
    USER_ROLES,
    change_password,
    create_token,
    create_user,
    list_tokens,
    list_users,
    revoke_token,
    set_active,
    token_owners,
)
from recon.accounts.scopes import set_token_scope, set_user_scope, user_id_by_name
from recon.audit import chain as audit
from recon.cli.common import app_context, database_app, fail
from recon.cli.faults import fault_line, migrations_problem
from recon.cli.progress import ProgressLine
from recon.clock import VN_TZ
from recon.db import MIGRATIONS, Database, classify_fault
from recon.engine import spans
from recon.errors import ReconError
from recon.intake.agencies import create_agency


def alembic_config(url: str) -> Config:
    """Alembic's settings for ``url``, wherever the migrations are (a checkout's top-level
    ``migrations/`` or an installed wheel's ``recon/migrations``)."""
    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # recon is importable already; the ini's sys.path entry is for `alembic -c` in a checkout
    # (installed, it would put site-packages/recon itself on sys.path)
    cfg.set_main_option("prepend_sys_path", "")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Create or upgrade the schema to the latest migration."""
    app = app_context(ctx)
    db = app.unchecked_db  # this command makes the schema: nothing to check first
    problem = migrations_problem()
    if problem:
        fail(problem)
    try:
        upgrade_database(db.url, revision)
    except (DBAPIError, PoolTimeout) as exc:
        fault = classify_fault(exc)
        if fault is None:
            cause = exc.orig if isinstance(exc, DBAPIError) else exc
            fail(f"migration failed: {' '.join(str(cause).split())[:300]}. Fix the cause, "
                 "then run `recon db upgrade` again.")
        fail(fault_line(fault, db.url))
    except alembic_util.CommandError as exc:
        fail(f"migration failed: {' '.join(str(exc).split())[:300]}. Check --revision "
             "(`recon db upgrade` with no option goes to the latest).")
    click.echo(f"Database is at revision {db.ping()['revision']} ({db.dialect}).")


@db_group.command("spans")
@click.option("--repair", is_flag=True,
              help="Widen every span that is missing or too narrow (only widens; one range "
                   "of ids per transaction: safe while the service runs).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the result as JSON (total counts distinct transactions up to "
                   "100,000; `more` says there were more).")
@click.pass_context
def db_spans(ctx: click.Context, repair: bool, as_json: bool) -> None:
    """Check transaction_spans (each transaction's first and last month, which a full run
    with closed months reads across its horizon) against every payment and settlement line,
    or repair it. Needed only after rows were written with the database's triggers off (a
    restore or a replica's apply that disabled them). Exits 1 when a check finds a gap."""
    db = database_app(ctx).db
    lines: dict[str, ProgressLine] = {}

    def advance(table: str, rows: int) -> None:
        if table not in lines:  # a table's line starts with its first range
            for done in lines.values():
                done.finish()
            lines[table] = ProgressLine(f"{'Repairing' if repair else 'Checking'} the spans "
                                        f"of {table.replace('_', ' ')}", total=counts[table],
                                        unit="rows")
        lines[table].advance(rows)

    try:
        counts = spans.row_counts(db)
        found = (spans.repair if repair else spans.check)(db, advance)
    except (DBAPIError, PoolTimeout) as exc:
        for line in lines.values():
            line.finish(failed=True)
        fault = classify_fault(exc)
        if fault is not None:
            fail(fault_line(fault, db.url))
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        fail(f"the spans could not be {'repaired' if repair else 'checked'}: "
             f"{' '.join(str(cause).split())[:300]}. Run `recon db upgrade` if the database "
             "is behind, then run this again (a repair interrupted only leaves ranges to do).")
    for line in lines.values():
        line.finish()
    if as_json:
        click.echo(json.dumps({"repaired": repair, "rows": found.rows, "total": found.total,
                               "more": found.more,
                               "examples": sorted(map(list, found.uncovered))[:20]}))
    read = ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in found.rows.items())
    count = f"{'more than ' if found.more else ''}{found.total:,}"
    if repair:
        click.echo(f"{count} transactions' spans widened or added ({read} read).", err=as_json)
    elif found.total:
        click.echo(f"{count} transactions have a span missing or too narrow ({read} "
                   "read): a full run with closed months behind may not read all their rows. "
                   "Run `recon db spans --repair` (safe while the service runs).", err=True)
        sys.exit(1)
    else:
        click.echo(f"Every transaction's span covers its rows ({read} read).", err=as_json)


@click.group("agencies")
def agencies_group() -> None:
    """Collecting agencies and their bank accounts."""


@agencies_group.command("create")
@click.argument("code")
@click.option("--name", required=True, help="Full name, e.g. 'Trung tâm Phục vụ hành chính công'")
@click.option("--bin", "bank_bin", required=True, help="6-digit bank BIN (recon vietqr banks)")
@click.option("--account", required=True, help="Collection account number")
@click.option("--account-name", required=True, help="Account holder name as the bank shows it")
@click.option("--tax-code", default=None, metavar="MST",
              help="Its tax code as it issues e-receipts (10 digits, or 10-3); default: "
                   "RECON_RECEIPT_TAX_CODE")
@click.pass_context
def agencies_create(ctx: click.Context, code: str, name: str, bank_bin: str, account: str,
                    account_name: str, tax_code: str | None) -> None:
    """Create an agency that collects into its own account."""
    app = database_app(ctx)
    try:
        with app.db.transaction() as s:
            agency = create_agency(s, app.app.extensions["recon.clock"], code=code, name=name,
                                   bank_bin=bank_bin, account_number=account,
                                   account_name=account_name, actor="cli", tax_code=tax_code)
            click.echo(f"Created agency {agency.code}: {agency.name} "
                       f"({agency.bank_bin} / {agency.account_number}).")
    except ReconError as exc:
        fail(exc)


@agencies_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line")
@click.pass_context
def agencies_list(ctx: click.Context, as_json: bool) -> None:
    """Every agency: its code (what --agency and the API take), name, collection account,
    tax code and the accounts the Treasury leg reads."""
    from sqlalchemy import select  # noqa: PLC0415 - fast --help

    from recon.models import Agency  # noqa: PLC0415

    app = database_app(ctx)
    with app.db.read() as s:
        rows = s.scalars(select(Agency).order_by(Agency.code)).all()
        if not rows:
            click.echo("No agency yet: `recon agencies create CODE --name ... --bin ... "
                       "--account ... --account-name ...` makes one (or `recon demo`).")
            return
        for a in rows:
            record = {"code": a.code, "name": a.name, "bank_bin": a.bank_bin,
                      "account_number": a.account_number, "tax_code": a.tax_code,
                      "transfer_account": a.transfer_account}
            if as_json:
                click.echo(json.dumps(record, ensure_ascii=False))
            else:
                click.echo(f"{a.code:<16} {a.name}  ({a.bank_bin} / {a.account_number}"
                           f"{', MST ' + a.tax_code if a.tax_code else ''})")


@agencies_group.command("tax-code")
@click.argument("code")
@click.option("--tax-code", default=None, metavar="MST",
              help="10 digits, or 10-3 for a dependent unit; omit to clear it (the agency then "
                   "issues under RECON_RECEIPT_TAX_CODE).")
@click.pass_context
def agencies_tax_code(ctx: click.Context, code: str, tax_code: str | None) -> None:
    """Set the tax code (MST) an agency issues e-receipts under: its receipts name it and are
    numbered in its own sequence from now on. Audited."""
    from recon.intake.agencies import set_tax_code  # noqa: PLC0415 - fast --help

    app = database_app(ctx)
    try:
        with app.db.transaction() as s:
            agency = set_tax_code(s, app.app.extensions["recon.clock"], code=code,
                                  tax_code=tax_code, actor="cli")
            click.echo(json.dumps({"agency": agency.code, "tax_code": agency.tax_code},
                                  ensure_ascii=False))
    except ReconError as exc:
        fail(exc)


@click.group("users")
def users_group() -> None:
    """People who log in."""


AGENCY_OPTION = click.option(
    "--agency", "agencies", multiple=True, metavar="CODE",
    help="An agency it may see and act on (repeatable). See --all-agencies.")
ALL_AGENCIES_OPTION = click.option(
    "--all-agencies", is_flag=True,
    help="It sees the whole deployment (province finance, administrators).")


def _scope_choice(role: str, agencies: tuple[str, ...], all_agencies: bool) -> list[str] | None:
    """The agency codes chosen (None: the whole deployment). Anyone but an administrator must
    say which: a forgotten option must not give a ward's cashier the whole province."""
    if agencies and all_agencies:
        fail("give either --agency CODE (one or more) or --all-agencies, not both; "
             "nothing was created.")
    if all_agencies:
        return None
    if agencies:
        return list(agencies)
    if role == "admin":
        return None
    fail(f"say what a {role} may see: --agency CODE (repeatable) or --all-agencies; "
         "nothing was created.")


def _scope_text(codes: list[str] | None) -> str:
    return "the whole deployment" if codes is None else "agencies " + ", ".join(sorted(codes))


@users_group.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(USER_ROLES))
@click.option("--display-name", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@AGENCY_OPTION
@ALL_AGENCIES_OPTION
@click.pass_context
def users_create(ctx: click.Context, name: str, role: str, display_name: str | None,
                 password_stdin: bool, agencies: tuple[str, ...], all_agencies: bool) -> None:
    """Create a user; the password comes from a prompt, or stdin when it is not a terminal.
    A cashier or finance user is given its agencies (--agency, repeatable) or the whole
    deployment (--all-agencies); an administrator sees the whole deployment unless told."""
    codes = _scope_choice(role, agencies, all_agencies)
    app = database_app(ctx)  # a database that cannot take the user is said before the prompt
    password = _read_password(password_stdin)
    try:
        with app.db.transaction() as s:
            clock = app.app.extensions["recon.clock"]
            user = create_user(s, clock, username=name, role=role,
                               password=password, display_name=display_name)
            if codes is not None:
                set_user_scope(s, clock, user.id, codes)
            click.echo(f"Created user {user.username} with role {user.role}, seeing "
                       f"{_scope_text(codes)}.")
    except ReconError as exc:
        fail(exc)


def _read_password(password_stdin: bool) -> str:
    if password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.pass_context
def users_list(ctx: click.Context, as_json: bool) -> None:
    """Every user: name, role, active, created, last login (never a password)."""
    app = database_app(ctx)
    with app.db.read() as s:
        data: list[dict[str, Any]] = [
            {"id": u.id, "username": u.username, "display_name": u.display_name,
             "role": u.role, "active": u.active, "created_at": u.created_at.isoformat(),
             "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None}
            for u in list_users(s)]
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    if not data:
        click.echo("No users. Create one with `recon users create NAME --role ROLE`.")
        return
    for u in data:
        state = "active" if u["active"] else "DISABLED"
        click.echo(f"{u['id']:>5}  {u['username']:<20} {u['role']:<8} {state:<8} "
                   f"{u['display_name']}")


@users_group.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def users_password(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set NAME's password; every session of NAME ends (they log in again)."""
    app = database_app(ctx)
    password = _read_password(password_stdin)
    try:
        with app.db.transaction() as s:
            ended = change_password(s, app.app.extensions["recon.clock"], username=name,
                                    password=password)
    except ReconError as exc:
        fail(exc)
    click.echo(f"Password of {name} changed; {ended} open session(s) ended.")


@users_group.command("disable")
@click.argument("name")
@click.pass_context
def users_disable(ctx: click.Context, name: str) -> None:
    """Disable NAME: they cannot log in, every session of theirs ends at once, and the API
    tokens they own are refused. `recon users enable` undoes it."""
    app = database_app(ctx)
    try:
        with app.db.transaction() as s:
            done = set_active(s, app.app.extensions["recon.clock"], username=name,
                              active=False)
    except ReconError as exc:
        fail(exc)
    if done.changed:
        click.echo(f"Disabled {name}; {done.sessions_ended} open session(s) ended; tokens "
                   "they own are refused from now on.")
    else:
        click.echo(f"{name} was already disabled; nothing changed.")


@users_group.command("enable")
@click.argument("name")
@click.pass_context
def users_enable(ctx: click.Context, name: str) -> None:
    """Enable NAME again (they log in anew; ended sessions stay ended)."""
    app = database_app(ctx)
    try:
        with app.db.transaction() as s:
            done = set_active(s, app.app.extensions["recon.clock"], username=name,
                              active=True)
    except ReconError as exc:
        fail(exc)
    click.echo(f"Enabled {name}." if done.changed
               else f"{name} was already active; nothing changed.")


@click.group("tokens")
def tokens_group() -> None:
    """Bearer tokens for machines (the one-stop software, integrations)."""


@tokens_group.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(TOKEN_ROLES))
@click.option("--user", "owner", required=True,
              help="The person the token belongs to (a user's name): maker ≠ checker compares "
                   "people, so the token acts as them there.")
@AGENCY_OPTION
@ALL_AGENCIES_OPTION
@click.pass_context
def tokens_create(ctx: click.Context, name: str, role: str, owner: str,
                  agencies: tuple[str, ...], all_agencies: bool) -> None:
    """Mint a token for a person. It is printed once, on the last line; only its hash is
    stored. It sees its agencies (--agency, repeatable) or the whole deployment
    (--all-agencies; an admin token without either), never more than its owner: the two
    scopes intersect on every request."""
    codes = _scope_choice(role, agencies, all_agencies)
    app = database_app(ctx)
    try:
        with app.db.transaction() as s:
            clock = app.app.extensions["recon.clock"]
            row, token = create_token(s, clock, name=name, role=role, user=owner)
            if codes is not None:
                set_token_scope(s, clock, row.id, codes)
    except ReconError as exc:
        fail(exc)
    click.echo(f"Token {row.prefix}… for {row.name} (role {row.role}, belongs to "
               f"{owner.strip().lower()}, seeing {_scope_text(codes)}). Keep it secret; it "
               "cannot be shown again:", err=True)
    click.echo(token)


def _vn_time(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment.astimezone(VN_TZ):%Y-%m-%d %H:%M}"


@tokens_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.pass_context
def tokens_list(ctx: click.Context, as_json: bool) -> None:
    """Every token: id, prefix, name, role, created, last used (to the minute), revoked
    (never the secret: only its hash is stored)."""
    app = database_app(ctx)
    with app.db.read() as s:
        rows = list_tokens(s)
        owners = token_owners(s)
        data: list[dict[str, Any]] = [
            {"id": r.id, "prefix": r.prefix, "name": r.name, "role": r.role,
             "user": owners.get(r.id),
             "created_at": r.created_at.isoformat(),
             "last_used_at": r.last_used_at.isoformat() if r.last_used_at else None,
             "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None}
            for r in rows]
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    if not data:
        click.echo("No API tokens. Create one with "
                   "`recon tokens create NAME --role ROLE --user USERNAME`.")
        return
    click.echo(f"{'id':>5}  {'prefix':<13} {'role':<8} {'created (VN)':<16}  "
               f"{'last used (VN)':<16}  {'revoked (VN)':<16}  {'user':<16}  name")
    for r in rows:
        owner = owners.get(r.id) or "(nobody)"
        click.echo(f"{r.id:>5}  {r.prefix + '…':<13} {r.role:<8} {_vn_time(r.created_at):<16}  "
                   f"{_vn_time(r.last_used_at):<16}  {_vn_time(r.revoked_at):<16}  "
                   f"{owner:<16}  {r.name}")


@tokens_group.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
@click.pass_context
def tokens_revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke token ID (see `recon tokens list`): every API call with it gets 401 from now on.
    Revoking a revoked token changes nothing."""
    app = database_app(ctx)
    try:
        with app.db.transaction() as s:
            done = revoke_token(s, app.app.extensions["recon.clock"], token_id)
            row = done.token
            ident = f"{row.id} ({row.prefix}…, {row.name}, role {row.role})"
            revoked_at = _vn_time(row.revoked_at)
    except ReconError as exc:
        fail(exc)
    if done.changed:  # said only once it is committed
        click.echo(f"Revoked token {ident}: API calls with it are refused (401) from now on.")
    else:
        click.echo(f"Token {ident} was already revoked at {revoked_at} (Vietnam time); "
                   "nothing changed.")


@users_group.command("scope")
@click.argument("name")
@AGENCY_OPTION
@ALL_AGENCIES_OPTION
@click.pass_context
def users_scope(ctx: click.Context, name: str, agencies: tuple[str, ...],
                all_agencies: bool) -> None:
    """Set what user NAME sees: its agencies (--agency, repeatable) or --all-agencies."""
    codes = _scope_choice("user", agencies, all_agencies)
    app = database_app(ctx)
    try:
        with app.db.transaction() as s:
            set_user_scope(s, app.app.extensions["recon.clock"], user_id_by_name(s, name), codes)
    except ReconError as exc:
        fail(exc)
    click.echo(f"User {name} now sees {_scope_text(codes)} (from its next request).")


@tokens_group.command("scope")
@click.argument("token_id", metavar="ID", type=int)
@AGENCY_OPTION
@ALL_AGENCIES_OPTION
@click.pass_context
def tokens_scope(ctx: click.Context, token_id: int, agencies: tuple[str, ...],
                 all_agencies: bool) -> None:
    """Set what token ID (see `recon tokens list`) sees: --agency CODE ... or --all-agencies."""
    codes = _scope_choice("token", agencies, all_agencies)
    app = database_app(ctx)
    try:
        with app.db.transaction() as s:
            set_token_scope(s, app.app.extensions["recon.clock"], token_id, codes)
    except ReconError as exc:
        fail(exc)
    click.echo(f"Token {token_id} now sees {_scope_text(codes)} (from its next call).")


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit trail."""


def _seal_all(db: Database) -> int:
    """Seal every committed unsealed event (PostgreSQL writes them unsealed)."""
    total = 0
    while True:
        with db.transaction() as s:
            sealed = audit.seal(s) or 0
        total += sealed
        if sealed < audit.SEAL_BATCH:
            return total


@audit_group.command("seal")
@click.pass_context
def audit_seal(ctx: click.Context) -> None:
    """Chain the events written since the last seal (the web workers do it continuously)."""
    click.echo(f"{_seal_all(database_app(ctx).db)} events sealed.")


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def audit_verify(ctx: click.Context, as_json: bool) -> None:
    """Seal what is pending, then check every link of the chain; name the first broken one."""
    app = database_app(ctx)
    _seal_all(app.db)
    with app.db.read() as s:
        report = audit.verify_chain(s)
    if as_json:
        click.echo(json.dumps(report.__dict__))
    elif report.ok:
        click.echo(f"Audit chain intact: {report.checked} events verified.")
    else:
        click.secho(f"Audit chain BROKEN at event {report.first_broken_id}: {report.reason}",
                    fg="red", err=True)
        click.echo(f"{report.checked} events before it verified. Restore the audit_events table "
                   "from a backup and investigate who changed the database.", err=True)
    if not report.ok:
        sys.exit(1)


COMMANDS: list[click.Command] = [db_group, agencies_group, users_group, tokens_group,
                                 audit_group]
