"""Which role may use which route: the one place that says so. Deny by default.

Every endpoint the app registers must appear here; a test fails if one does not. ``PUBLIC``
routes need no login (health, login page, provider webhooks — those authenticate by signature).
"""

from __future__ import annotations

from flask import g

from recon.scope import Scope

PUBLIC: frozenset[str] = frozenset({"*"})
ALL_STAFF = frozenset({"cashier", "finance", "admin"})
FINANCE = frozenset({"finance", "admin"})
CASHIER = frozenset({"cashier", "admin"})
ADMIN = frozenset({"admin"})

POLICY: dict[str, frozenset[str]] = {
    "static": PUBLIC,
    "health.healthz": PUBLIC,
    # the full health answer (a driver's error text names hosts and users): administrators
    "health.detail": ADMIN,
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,
    "auth.language": PUBLIC,
    "auth.home": ALL_STAFF,
    # the finance workbench (issue 6): finance staff and administrators, never the desk
    "finance.index": FINANCE,
    "finance.queue": FINANCE,
    "finance.export": FINANCE,
    "finance.detail": FINANCE,
    "finance.download_receipt": FINANCE,
    "finance.approval": FINANCE,
    "finance.approvals": FINANCE,
    "finance.resolve": FINANCE,
    "finance.approve": FINANCE,
    "finance.reject": FINANCE,
    "finance.assign": FINANCE,
    "finance.reopen": FINANCE,
    "finance.dossier_lookup": FINANCE,
    "finance.download_file": FINANCE,
    "finance.daily": FINANCE,
    "finance.daily_export": FINANCE,
    "finance.fees": FINANCE,
    "finance.quarterly": FINANCE,
    "finance.quarterly_export": FINANCE,
    "finance.outstanding": FINANCE,
    "finance.outstanding_export": FINANCE,
    "finance.payouts": FINANCE,
    "finance.payouts_export": FINANCE,
    "finance.declarations_page": FINANCE,
    "finance.transfers": FINANCE,
    "finance.declarations_export": FINANCE,
    "finance.remittances_page": FINANCE,
    "finance.download_statement_line": FINANCE,
    "finance.audit_log": FINANCE,
    "finance.audit_verify": FINANCE,
    # e-receipts (issue 19): the day's receipts, corrections (two people), summary tables
    "finance_receipts.index": FINANCE,
    "finance_receipts.receipt_page": FINANCE,
    "finance_receipts.propose_correction": FINANCE,
    "finance_receipts.approve_correction": FINANCE,
    "finance_receipts.reject_correction": FINANCE,
    "finance_receipts.correction_notice": FINANCE,
    "finance_receipts.summary_file": FINANCE,
    "finance_receipts.prepare_summary": FINANCE,
    "finance_receipts.mark_summary_sent": FINANCE,
    # intake API
    "api.create_dossier": frozenset({"intake", "admin"}),
    "api.get_dossier": frozenset({"intake", "cashier", "finance", "admin"}),
    "api.list_dossiers": frozenset({"intake", "cashier", "finance", "admin"}),
    "api.list_agencies": frozenset({"intake", "cashier", "finance", "admin"}),
    # the OpenAPI document (issue 7): it documents, it grants nothing
    "openapi.spec": PUBLIC,
    # payment intents and cash (issue 3): the desk writes, everyone else may read
    "payments_api.create_intent": CASHIER,
    "payments_api.cancel_intent": CASHIER,
    "payments_api.record_cash": CASHIER,
    "payments_api.get_intent": frozenset({"intake", "cashier", "finance", "admin"}),
    "payments_api.intent_qr_png": frozenset({"intake", "cashier", "finance", "admin"}),
    "payments_api.intent_qr_svg": frozenset({"intake", "cashier", "finance", "admin"}),
    # the cashier's desk
    "cashier.index": CASHIER,
    "cashier.create_intent": CASHIER,
    "cashier.cancel_intent": CASHIER,
    "cashier.record_cash": CASHIER,
    "cashier.intent_receipt": CASHIER,  # "In biên lai" on a paid slip (issue 19)
    # settlement files (issue 5): finance uploads and reads them
    "settlements_api.upload_settlement": FINANCE,
    "settlements_api.list_settlement_files": FINANCE,
    "settlements_api.get_settlement_file": FINANCE,
    "settlements_api.settlement_file_content": FINANCE,
    # reconciliation (issue 5): what runs found, for finance
    "discrepancies_api.list_discrepancies": FINANCE,
    "discrepancies_api.list_runs": FINANCE,
    # closed months (issue 15): finance proposes and approves; the service lets only an
    # admin reopen
    "periods_api.list_periods": FINANCE,
    "periods_api.propose_period": FINANCE,
    "periods_api.approve_period": FINANCE,
    "periods_api.reopen_period": FINANCE,
    "periods_api.period_snapshot": FINANCE,
    "finance_periods.index": FINANCE,
    "finance_periods.propose": FINANCE,
    "finance_periods.approve": FINANCE,
    "finance_periods.reopen": FINANCE,
    "finance_periods.report": FINANCE,
    "finance_periods.report_xlsx": FINANCE,
    # e-receipts (issue 19): the print view and PDF for the desk that took the payment and for
    # finance; the public lookup by the code printed on the receipt needs no login (it shows
    # that one receipt only, and is rate-limited per address: recon/receipts/lookup.py)
    "receipts.print_view": ALL_STAFF,
    "receipts.print_pdf": ALL_STAFF,
    "receipts.lookup_page": PUBLIC,
    "receipts.public_pdf": PUBLIC,
    "receipts.public_xml": PUBLIC,
    # provider webhooks (issue 4): public, they authenticate by signature
    "webhooks.receive": PUBLIC,
    # bench/webhooks.py only: registered when RECON_BENCH_ENDPOINTS=1, never in production
    "bench_endpoints.bare": PUBLIC,
    "bench_endpoints.durable": PUBLIC,
}


def allowed(endpoint: str | None, role: str | None) -> bool:
    if endpoint is None:
        return False
    roles = POLICY.get(endpoint)
    if roles is None:
        return False
    if roles is PUBLIC:
        return True
    return role is not None and role in roles


def is_public(endpoint: str | None) -> bool:
    return endpoint is not None and POLICY.get(endpoint) is PUBLIC


NOTHING = Scope.of(())


def scope() -> Scope:
    """The agencies the caller of this request may see (resolved with the principal, once per
    request, by ``recon.web.security.load_scope``); none at all when no principal was
    resolved. Every view hands it to the service it calls."""
    found = g.get("scope")
    return found if isinstance(found, Scope) else NOTHING
