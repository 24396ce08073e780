"""The demo quarter's e-receipts: one signed receipt for every payment it allocates, and
about 1 % faults of each receipt kind.

The demo turns receipts on for itself: it signs with the deployment's key when
``RECON_RECEIPT_P12_FILE`` is set, else with a throw-away key and self-signed certificate it
generates once in the instance folder (``demo-receipts.p12``; never committed, never a real
organisation's). Every succeeded payment owed a receipt gets one, in the name of the
organisation collecting its dossier's fee lines (a department for the centre's dossiers of its
procedures), under that organisation's made-up MST (:data:`DEMO_TAX_CODES`), numbered 1, 2,
3 … per organisation in the order of collection in the series of 2021 (``EBL01 21T`` with the
default settings), signed a
few seconds after the payment was recorded: each payment of a dossier gets one per collecting
organisation of the fee lines it covers after the dossier's earlier succeeded payments, with
those lines' parts (:func:`recon.engine.receipt_check.line_parts`, the rule issuing and the
receipt pass use: an underpaid transfer's receipt states what it paid, an overpaid one's only
the fees, a dossier paid twice gets none for the second payment), and each share of a split
transfer that pays its dossier's fees gets its dossier's lines.

The faults (:data:`RECEIPT_FAULTS`, scaled with the quarter), so that ``recon reconcile``
with ``RECON_RECEIPTS=on`` finds exactly them:

- ``receipt_missing``: payments left without a receipt (their issuing "failed");
- ``receipt_mismatch``: receipts signed for ``MISMATCH_SHORT`` less than was paid (a fee line
  typed wrong at the desk);
- ``receipt_orphan``: receipts for the failed gateway attempts (the gateway said "paid" and
  then failed), then receipts naming an unpaid dossier and no payment.

Deterministic, idempotent (an audit event marks it done) and bulk-inserted, in one transaction.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from recon.audit import chain as audit
from recon.bulk import allocate_ids, insert_rows
from recon.clock import VN_TZ, Clock
from recon.db import Database
from recon.engine.receipt_check import covered_before, line_parts
from recon.models import AuditEvent, Dossier, FeeLine, Payment, PaymentAllocation
from recon.models.agencies import Agency
from recon.models.receipts import FIGURE_COLUMNS, ReceiptCounter
from recon.receipts.document import (
    FeeItem,
    Party,
    ReceiptContent,
    build,
    figures,
    schema,
    to_bytes,
)
from recon.receipts.issuing import FEE_KIND_WORDS, PAYMENT_METHODS
from recon.receipts.numbering import issue_date
from recon.receipts.settings import ReceiptSettings
from recon.receipts.signing import Signer, sign

SEEDED_ACTION = "demo.receipts_issued"
DEMO_KEY = "demo-receipts.p12"
DEMO_PASSWORD = "recon-demo-receipts"  # noqa: S105 - protects a throw-away demo key only
DEMO_TAX_CODE = "3300101234"  # a made-up MST: the demo's fallback (RECON_RECEIPT_TAX_CODE)
#: each demo organisation's own MST (agencies.tax_code), made up: Thừa Thiên Huế's prefix 33,
#: then 00999 ("999": demo), then a number; a real deployment sets its own with
#: ``recon agencies tax-code``. Each numbers its receipts in its own sequence.
DEMO_TAX_CODES = {
    "H57.TTPVHCC": "3300999001", "H57.TPHUE": "3300999002", "H57.HUONGTHUY": "3300999003",
    "H57.HUONGTRA": "3300999004", "H57.PHUHOI": "3300999005", "H57.THUYDUONG": "3300999006",
    "H57.STP": "3300999011", "H57.SKHDT": "3300999012", "H57.SGTVT": "3300999013",
}
# about 1 % of the ~4,650 receipts of the published quarter, each kind
RECEIPT_FAULTS = {"receipt_missing": 46, "receipt_mismatch": 46, "receipt_orphan": 46}
MISMATCH_SHORT = 1_000
_LOOKUP = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass
class ReceiptReport:
    skipped: bool = False
    issued: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    key_file: str = ""


def demo_signer(env: Mapping[str, str], instance: Path) -> tuple[Signer, str]:
    """The deployment's key when one is set, else the demo's own (made once)."""
    configured = env.get("RECON_RECEIPT_P12_FILE")
    if configured:
        return Signer.from_p12(configured, env.get("RECON_RECEIPT_P12_PASSWORD")), configured
    path = instance / DEMO_KEY
    if not path.is_file():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_demo_p12())
        path.chmod(0o600)
    return Signer.from_p12(path, DEMO_PASSWORD), str(path)


def _demo_p12() -> bytes:
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415
        BestAvailableEncryption,
        pkcs12,
    )
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Trung tâm Phục vụ hành chính công (demo)"),
        x509.NameAttribute(NameOID.COMMON_NAME, "recon demo receipts - not a real signer"),
    ])
    start = datetime(2020, 1, 1, tzinfo=UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + timedelta(days=3650 * 2))
            .sign(key, hashes.SHA256()))
    return pkcs12.serialize_key_and_certificates(
        b"recon-demo", key, cert, None, BestAvailableEncryption(DEMO_PASSWORD.encode()))


def _scaled(base: int, num: int, den: int) -> int:
    return (base * num * 2 + den) // (den * 2)


@dataclass
class _Owed:
    """One receipt owed: ``parts`` the (position, part) of the fee lines it states, all of
    ``collector``'s (None: every line of the dossier, in its one collector's name)."""

    payment_id: int | None
    dossier_id: int
    amount: int
    provider: str
    channel: str
    reference: str
    at: datetime
    collector: str | None = None
    parts: tuple[tuple[int, int], ...] | None = None


def seed_receipts(db: Database, clock: Clock, *, env: Mapping[str, str], instance: Path,
                  year: int = 2021, quarter: int = 1, seed: int = 2021,
                  scale: tuple[int, int] = (1, 1)) -> ReceiptReport:
    """Issue the demo quarter's receipts (see the module doc). Idempotent."""
    report = ReceiptReport()
    with db.transaction() as s:
        if s.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == SEEDED_ACTION, AuditEvent.entity_id == f"{year}Q{quarter}")):
            report.skipped = True
            return report
        settings = ReceiptSettings.from_env({**env, "RECON_RECEIPTS": "on"})
        for code, tax_code in DEMO_TAX_CODES.items():  # kept when one is set already
            s.execute(update(Agency).where(Agency.code == code, Agency.tax_code.is_(None))
                      .values(tax_code=tax_code))
        signer, report.key_file = demo_signer(env, instance)
        owed, failed, unpaid = _owed(s, year, quarter)
        if not owed:
            return report
        rng = random.Random(f"recon-demo-receipts:{seed}:{year}:Q{quarter}")  # noqa: S311
        faults = {k: _scaled(v, *scale) for k, v in RECEIPT_FAULTS.items()}
        order = list(range(len(owed)))
        rng.shuffle(order)
        missing = set(order[:faults["receipt_missing"]])
        mismatched = set([i for i in order[faults["receipt_missing"]:]
                          if owed[i].amount >= 10 * MISMATCH_SHORT][:faults["receipt_mismatch"]])
        orphans_failed = failed[:faults["receipt_orphan"]]
        orphans_none = unpaid[:faults["receipt_orphan"] - len(orphans_failed)]
        wanted: list[tuple[_Owed, int]] = []  # (what, how much the receipt states)
        for i, o in enumerate(owed):
            if i in missing:
                continue
            wanted.append((o, o.amount - MISMATCH_SHORT if i in mismatched else o.amount))
        wanted += [(o, o.amount) for o in orphans_failed + orphans_none]
        wanted.sort(key=lambda w: (w[0].at, w[0].payment_id or 0, w[0].dossier_id))
        report.issued = _issue(s, settings, signer, wanted, rng)
        report.faults = {"receipt_missing": len(missing),
                         "receipt_mismatch": len(mismatched),
                         "receipt_orphan": len(orphans_failed) + len(orphans_none)}
        audit.record(s, clock, actor="demo", action=SEEDED_ACTION, entity_type="demo",
                     entity_id=f"{year}Q{quarter}",
                     data={"issued": report.issued, "faults": report.faults})
    return report


def _owed(s: Session, year: int, quarter: int
          ) -> tuple[list[_Owed], list[_Owed], list[_Owed]]:
    """(what is owed a receipt, the failed attempts, unpaid dossiers with fees), each in order
    of collection."""
    from recon.demo.catalog import DOSSIER_PREFIX, quarter_bounds  # noqa: PLC0415

    start, end = quarter_bounds(year, quarter)
    fees: dict[int, int] = {int(did): int(total) for did, total in s.execute(
        select(FeeLine.dossier_id, func.sum(FeeLine.amount)).group_by(FeeLine.dossier_id))}
    shares: dict[int, list[tuple[int, int]]] = {}
    for share_payment, share_dossier, share_amount in s.execute(
            select(PaymentAllocation.payment_id, PaymentAllocation.dossier_id,
                   PaymentAllocation.amount)):
        shares.setdefault(share_payment, []).append((share_dossier, share_amount))
    lines: dict[int, list[tuple[int, int, str]]] = {}  # (position, amount, collector)
    for of_dossier, position, line_amount, collector in s.execute(
            select(FeeLine.dossier_id, FeeLine.position, FeeLine.amount,
                   func.coalesce(FeeLine.collector_code, Agency.code))
            .join(Dossier, Dossier.id == FeeLine.dossier_id)
            .join(Agency, Agency.id == Dossier.agency_id)
            .order_by(FeeLine.dossier_id, FeeLine.position)):
        lines.setdefault(int(of_dossier), []).append(
            (int(position), int(line_amount), str(collector)))
    covered = covered_before((int(i), int(d or 0), int(a)) for i, d, a in s.execute(
        select(Payment.id, Payment.dossier_id, Payment.amount)
        .where(Payment.status == "succeeded", Payment.dossier_id.is_not(None))
        .order_by(Payment.dossier_id, Payment.paid_at, Payment.id)))
    owed: list[_Owed] = []
    failed: list[_Owed] = []
    paid_dossiers: set[int] = set()
    rows = s.execute(select(Payment.id, Payment.dossier_id, Payment.amount, Payment.status,
                            Payment.provider, Payment.channel, Payment.provider_txn_id,
                            Payment.bank_reference, Payment.received_at)
                     .where(Payment.paid_at >= start, Payment.paid_at < end)
                     .order_by(Payment.received_at, Payment.id))
    for pid, did, amount, status, provider, channel, txn, bank_ref, at in rows:
        ref = bank_ref or txn
        if did is not None:
            paid_dossiers.add(did)
        for sd, _a in shares.get(pid, ()):
            paid_dossiers.add(sd)
        if status == "failed" and did is not None:
            failed.append(_Owed(pid, did, amount, provider, channel, ref, at))
        if status != "succeeded":
            continue
        if pid in shares:
            owed += [_Owed(pid, sd, sa, provider, channel, ref, at)
                     for sd, sa in sorted(shares[pid]) if fees.get(sd) == sa]
        elif did is not None and did in lines:
            its = lines[did]
            for who, taken in line_parts([a for _p, a, _c in its], [c for _p, _a, c in its],
                                         covered.get(pid, 0), amount).items():
                owed.append(_Owed(pid, did, sum(part for _i, part in taken), provider, channel,
                                  ref, at, who, tuple((its[i][0], part) for i, part in taken)))
    unpaid = [_Owed(None, did, int(fees[did]), "cash", "cash", "", received + timedelta(hours=1))
              for did, received in s.execute(
                  select(Dossier.id, Dossier.received_at)
                  .where(Dossier.received_at >= start, Dossier.received_at < end,
                         Dossier.code.like(f"{DOSSIER_PREFIX}-%"))
                  .order_by(Dossier.code))
              if did not in paid_dossiers and fees.get(did, 0) > 0]
    return owed, failed, unpaid[::97]


def _issue(s: Session, settings: ReceiptSettings, signer: Signer,
           wanted: list[tuple[_Owed, int]], rng: random.Random) -> int:
    dossier_ids = sorted({o.dossier_id for o, _a in wanted})
    info: dict[int, tuple[str, str, str, str]] = {}
    lines: dict[int, list[tuple[int, str, str, int]]] = {}
    collector_of: dict[int, str] = {}  # the collecting organisation of the dossier's lines
    names = {str(c): str(n) for c, n in s.execute(select(Agency.code, Agency.name))}
    fallback = settings.tax_code or DEMO_TAX_CODE
    issuers = {str(c): str(t or fallback) for c, t in s.execute(
        select(Agency.code, Agency.tax_code))}
    from recon.models import Procedure  # noqa: PLC0415

    for chunk_start in range(0, len(dossier_ids), 5_000):
        chunk = dossier_ids[chunk_start:chunk_start + 5_000]
        for did, code, applicant, agency, procedure in s.execute(
                select(Dossier.id, Dossier.code, Dossier.applicant_name, Agency.code,
                       Procedure.name).join(Agency, Agency.id == Dossier.agency_id)
                .join(Procedure, Procedure.id == Dossier.procedure_id)
                .where(Dossier.id.in_(chunk))):
            info[did] = (code, applicant, agency, procedure)
        for did, position, kind, name, amount, collector in s.execute(
                select(FeeLine.dossier_id, FeeLine.position, FeeLine.kind, FeeLine.name,
                       FeeLine.amount, FeeLine.collector_code)
                .where(FeeLine.dossier_id.in_(chunk))):
            lines.setdefault(did, []).append((position, kind, name, amount))
            if collector:
                collector_of[did] = collector
    validator = schema()
    counters: dict[tuple[str, str], int] = {}
    rows: list[tuple[Any, ...]] = []
    ids = iter(allocate_ids(s, "receipts", len(wanted)))
    for o, stated in wanted:
        signed_at = (o.at + timedelta(seconds=rng.randint(1, 5))).replace(microsecond=0)
        series = settings.series_for(issue_date(signed_at))
        code, applicant, home, procedure = info[o.dossier_id]
        # the demo's departments collect every line of their procedures' dossiers (one
        # collector per dossier: one receipt each), numbered in their own sequence
        collector = o.collector or collector_of.get(o.dossier_id, home)
        issuer = issuers[collector]
        number = counters[(issuer, series)] = counters.get((issuer, series), 0) + 1
        taken = dict(o.parts) if o.parts is not None else None
        items = [FeeItem(FEE_KIND_WORDS[kind], name, amount if taken is None else taken[p])
                 for p, kind, name, amount in sorted(lines[o.dossier_id])
                 if taken is None or p in taken]
        if stated != o.amount:  # the largest line typed short
            at = max(range(len(items)), key=lambda i: (items[i].amount, -i))
            wrong = items[at]
            items[at] = FeeItem(wrong.kind, wrong.name, wrong.amount - (o.amount - stated))
        content = ReceiptContent(
            form_code=settings.form_code, series=series, number=number, signed_at=signed_at,
            collector=Party(names[collector], issuer), payer=Party(applicant),
            items=tuple(items), method=PAYMENT_METHODS.get(o.channel, o.channel.upper()),
            provider_reference=o.reference or None, dossier_code=code, procedure=procedure,
            lookup_code="".join(rng.choice(_LOOKUP) for _ in range(10)))
        unsigned = build(content)
        validator.assertValid(unsigned)
        document = to_bytes(sign(unsigned, signer, signed_at)).decode("utf-8")
        stored = figures(content)  # the XML's dossier, total and lines, as columns
        rows.append((next(ids), collector, issuer, settings.form_code, series, number, "issued",
                     signed_at.astimezone(VN_TZ).date(), "demo", signed_at, o.payment_id,
                     stated, signed_at, document, *(stored[c] for c in FIGURE_COLUMNS)))
    insert_rows(s, "receipts", ("id", "collector_code", "issuer_tax_code", "form_code", "series",
                                "number", "status", "issued_on",
                                "drawn_by", "drawn_at", "payment_id", "amount", "signed_at",
                                "document", *FIGURE_COLUMNS), rows)
    for (issuer, series), last in sorted(counters.items()):
        counter = s.scalar(select(ReceiptCounter).where(
            ReceiptCounter.issuer_tax_code == issuer,
            ReceiptCounter.form_code == settings.form_code, ReceiptCounter.series == series))
        if counter is None:
            s.add(ReceiptCounter(issuer_tax_code=issuer, form_code=settings.form_code,
                                 series=series, last_number=last))
        else:  # pragma: no cover - the demo's quarter is in the past: its series is new
            raise RuntimeError(f"the series {series} already has numbers; the demo's receipts "
                               "need a fresh database")
    s.flush()
    return len(rows)
