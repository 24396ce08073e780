# ruff: noqa: S608 - SQL built from this module's constants only
"""The run's receipt pass: read payments, their shares, dossiers' fee lines and the issued
receipts, judge them (the pure :mod:`recon.engine.receipt_check`) and fold the findings into
the run's result. Runs only when receipts are on (``EngineConfig.receipts`` set).

- a **full** run reads every succeeded payment allocated to a dossier (its own, or shares of
  a split) and every payment that has an issued receipt;
- an **incremental** run reads the payments that changed since the previous run's mark, those
  whose receipts, allocations or dossier (a reassessment stamps it) changed, those whose grace
  period ended between the two runs' ``as_of``, and the subjects of open receipt findings; it
  judges, and claims to have seen, those payments only.

Receipts that belong to no payment are few (the register ties each receipt to its payment) and
always read whole. A receipt's total, fee lines and dossier are what its signed document states
(what the payer holds): read from the columns that repeat them (``dossier_code``, ``total``,
``lines``: migration 0031, written with the document in one transaction by
``recon.receipts.document.figures``), or parsed from the XML where those are NULL. The pass
compares what was issued with what was paid; whether the XML is intact (its signature) is
``recon receipts verify``'s check.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from lxml import etree
from sqlalchemy import Connection, bindparam, text

from recon.db import UTCDateTime
from recon.engine.core import Reconciliation
from recon.engine.receipt_check import (
    RECEIPT_KINDS,
    DossierFees,
    PaidRow,
    ReceiptCheckConfig,
    ReceiptReconciliation,
    ReceiptRow,
    check_receipts,
    covered_before,
    decode_lines,
)

FEE_KIND_WORDS = {"phi": "phí", "le_phi": "lệ phí"}  # fee_lines.kind -> the receipt's word
_CHUNK = 5_000
_PAY = ("SELECT p.id, p.provider, p.provider_txn_id, p.amount, p.status, p.received_at, "
        "p.dossier_id FROM payments p")
_FULL = (_PAY + " WHERE (p.status = 'succeeded' AND (p.dossier_id IS NOT NULL OR EXISTS "
         "(SELECT 1 FROM payment_allocations a WHERE a.payment_id = p.id))) OR EXISTS "
         "(SELECT 1 FROM receipts r WHERE r.payment_id = p.id AND r.status = 'issued')")
_TOUCHED = (
    "SELECT id FROM payments WHERE change_seq >= :mark",
    "SELECT payment_id FROM receipts WHERE change_seq >= :mark AND payment_id IS NOT NULL",
    "SELECT payment_id FROM payment_allocations WHERE change_seq >= :mark",
    "SELECT p.id FROM payments p JOIN dossiers d ON d.id = p.dossier_id "
    "WHERE d.change_seq >= :mark",
    "SELECT a.payment_id FROM payment_allocations a JOIN dossiers d ON d.id = a.dossier_id "
    "WHERE d.change_seq >= :mark",
    "SELECT id FROM payments WHERE status = 'succeeded' AND received_at >= :low "
    "AND received_at < :high",
    # what a part payment is owed follows its dossier's earlier payments
    "SELECT q.id FROM payments p JOIN payments q ON q.dossier_id = p.dossier_id "
    "WHERE p.change_seq >= :mark",
)
_OPEN = ("SELECT identity, payment_id FROM discrepancies WHERE status = 'open' "
         "AND kind IN :kinds")
_SHARES = "SELECT payment_id, dossier_id, amount FROM payment_allocations WHERE payment_id IN :ids"
# the document only where its figures are not stored (rows older than 0031 not backfilled)
_RECEIPTS = ("SELECT id, form_code, series, number, payment_id, amount, collector_code, "
             "dossier_code, total, lines, CASE WHEN lines IS NULL THEN document END "
             "FROM receipts WHERE status = 'issued' AND ")
_FEES = ("SELECT d.id, d.code, f.kind, f.amount, COALESCE(f.collector_code, a.code), a.code "
         "FROM dossiers d JOIN agencies a ON a.id = d.agency_id LEFT JOIN fee_lines f "
         "ON f.dossier_id = d.id WHERE {where} ORDER BY d.id, f.position")
_AGENCIES = "SELECT code, id FROM agencies"
#: a dossier's succeeded payments in the order they cover its fee lines (as forwarding reads)
_EARLIER = ("SELECT id, dossier_id, amount FROM payments WHERE status = 'succeeded' "
            "AND dossier_id IN :ids ORDER BY dossier_id, paid_at, id")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


class ReceiptPass:
    """One run's receipt pass: its outcome, and the open receipt identities it classifies."""

    def __init__(self, result_of: Any, previous_open: list[str]) -> None:
        self._outcome = result_of
        self.previous_open = previous_open

    def apply(self, result: Reconciliation) -> ReceiptReconciliation:
        return ReceiptReconciliation(result, self._outcome, None)

    def previous(self, loaded: Sequence[str]) -> list[str]:
        return sorted({*loaded, *self.previous_open})


def without_receipt_kinds(identities: Iterable[str]) -> list[str]:
    """Open identities less the receipt kinds': with receipts off nothing judges them, so a
    run leaves them as they are (neither confirmed nor resolved)."""
    return [i for i in identities if i.split(":", 1)[0] not in RECEIPT_KINDS]


def prepare(conn: Connection, *, config: ReceiptCheckConfig | None, mode: str,
            as_of: datetime, mark: int | None = None,
            since: datetime | None = None) -> ReceiptPass | None:
    """Read and judge (``None`` when receipts are off)."""
    if config is None:
        return None
    opened = conn.execute(_bind(text(_OPEN), "kinds"), {"kinds": list(RECEIPT_KINDS)}).all()
    if mode == "full":
        rows = conn.execute(text(_FULL).columns(received_at=UTCDateTime())).all()
    else:
        assert mark is not None and since is not None
        grace = timedelta(minutes=config.grace_minutes)
        low, high = sorted((since - grace, as_of - grace))
        ids: set[int] = set()
        for query in _TOUCHED:
            ids.update(int(r[0]) for r in conn.execute(
                text(query), {"mark": mark, "low": low, "high": high}) if r[0] is not None)
        ids.update(int(r[1]) for r in opened if r[1] is not None)
        rows = []
        for chunk in _chunks(sorted(ids)):
            rows += conn.execute(_bind(text(_PAY + " WHERE p.id IN :ids"), "ids")
                                 .columns(received_at=UTCDateTime()), {"ids": chunk}).all()
    payments = [PaidRow(int(r[0]), r[1], r[2], int(r[3]), r[4], r[5],
                        None if r[6] is None else int(r[6])) for r in rows]
    payment_ids = sorted(p.id for p in payments)
    shares: dict[int, list[tuple[int, int]]] = {}
    receipts: list[ReceiptRow] = []
    for chunk in _chunks(payment_ids):
        for pid, did, amount in conn.execute(_bind(text(_SHARES), "ids"), {"ids": chunk}):
            shares.setdefault(int(pid), []).append((int(did), int(amount)))
        receipts += _receipts(conn, _RECEIPTS + "payment_id IN :ids", {"ids": chunk})
    receipts += _receipts(conn, _RECEIPTS + "payment_id IS NULL", None)
    for share_list in shares.values():
        share_list.sort()
    dossier_ids = {p.dossier_id for p in payments if p.dossier_id is not None}
    dossier_ids |= {did for share_list in shares.values() for did, _a in share_list}
    codes = {r.dossier_code for r in receipts if r.dossier_code}
    dossiers = _dossiers(conn, sorted(dossier_ids), sorted(codes))
    agencies = {str(code): int(aid) for code, aid in conn.execute(text(_AGENCIES))}
    covered = _covered(conn, sorted({p.dossier_id for p in payments
                                     if p.dossier_id is not None}))
    outcome = check_receipts(payments=payments, shares=shares, dossiers=dossiers,
                             receipts=receipts, as_of=as_of, config=config, agencies=agencies,
                             covered=covered)
    seen = outcome.seen_payments
    previous = [r[0] for r in opened if mode == "full" or r[1] is None or r[1] in seen]
    return ReceiptPass(outcome, previous)


def read_document(document: str | bytes) -> tuple[str | None, int | None,
                                                  tuple[tuple[str, int], ...]]:
    """(dossier code, total, fee lines as (kind, amount)) of a receipt's signed XML."""
    raw = document.encode("utf-8") if isinstance(document, str) else document
    root = etree.fromstring(raw, _PARSER)
    content = root.find("DLCTu/NDCTu")
    if content is None:
        return None, None, ()
    lines = tuple((k.findtext("LKThu") or "", int(k.findtext("STien") or "0"))
                  for k in content.iterfind("DSKThu/KThu"))
    total = content.findtext("TToan/TgTien")
    return content.findtext("HSo/MHSo"), None if total is None else int(total), lines


def _receipts(conn: Connection, query: str, params: dict[str, Any] | None) -> list[ReceiptRow]:
    clause = text(query)
    if params is not None:
        clause = _bind(clause, "ids")
    out: list[ReceiptRow] = []
    for (rid, form_code, series, number, pid, amount, collector, stored_code, stored_total,
         stored_lines, document) in conn.execute(clause, params or {}):
        code, total, lines = _figures(stored_code, stored_total, stored_lines, document)
        stated = total if total is not None else int(amount or 0)
        out.append(ReceiptRow(int(rid), form_code, series, int(number),
                              None if pid is None else int(pid), stated, code, lines,
                              collector))
    return out


def _figures(code: str | None, total: int | None, lines: str | None, document: str | None
             ) -> tuple[str | None, int | None, tuple[tuple[str, int], ...]]:
    """(dossier code, total, fee lines) from a receipt's stored columns, or from its XML
    where they are not stored (``lines`` NULL)."""
    if lines is not None:
        return code, None if total is None else int(total), decode_lines(lines)
    return (None, None, ()) if not document else read_document(document)


def _dossiers(conn: Connection, ids: list[int], codes: list[str]) -> dict[int, DossierFees]:
    wanted = set(ids)
    for chunk in _chunks(codes):
        wanted.update(int(r[0]) for r in conn.execute(
            _bind(text("SELECT id FROM dossiers WHERE code IN :codes"), "codes"),
            {"codes": chunk}))
    found: dict[int, tuple[str, str, list[tuple[str, int]], list[str]]] = {}
    for chunk in _chunks(sorted(wanted)):
        clause = _bind(text(_FEES.format(where="d.id IN :ids")), "ids")
        for did, code, kind, amount, collector, home in conn.execute(clause, {"ids": chunk}):
            entry = found.setdefault(int(did), (code, home, [], []))
            if kind is not None:
                entry[2].append((FEE_KIND_WORDS.get(kind, kind), int(amount)))
                entry[3].append(collector)
    return {did: DossierFees(did, code, tuple(lines), tuple(collectors), home)
            for did, (code, home, lines, collectors) in found.items()}


def _covered(conn: Connection, dossier_ids: list[int]) -> dict[int, int]:
    """payment id -> what its dossier's earlier succeeded payments covered."""
    rows: list[tuple[int, int, int]] = []
    for chunk in _chunks(dossier_ids):
        rows += [(int(pid), int(did), int(amount)) for pid, did, amount in conn.execute(
            _bind(text(_EARLIER), "ids"), {"ids": chunk})]
    return covered_before(rows)


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _bind(clause: Any, *names: str) -> Any:
    return clause.bindparams(*(bindparam(n, expanding=True) for n in names))


__all__ = ["FEE_KIND_WORDS", "ReceiptPass", "prepare", "read_document",
           "without_receipt_kinds"]
