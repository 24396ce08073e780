"""Issuing the e-receipt of a succeeded payment, inside the transaction that records it.

``issue_receipt`` never costs a payment: when a receipt cannot be issued (receipts off, no
dossier, an amount that is not the dossier's fees, a signing failure) it says why in the log and
returns None, and the payment is recorded all the same. The number is drawn and the receipt
signed in a SAVEPOINT, so a failure after the draw gives the number back: never skipped.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

from lxml import etree
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from recon.clock import Clock
from recon.db import Database
from recon.engine.receipt_check import covered_before, line_parts
from recon.errors import ConfigurationError, ReconError
from recon.models.agencies import Agency
from recon.models.dossiers import Dossier, FeeLine
from recon.models.payments import Payment, PaymentAllocation
from recon.models.receipts import Receipt
from recon.receipts.document import FeeItem, Party, ReceiptContent, build, figures, schema, to_bytes
from recon.receipts.numbering import Drawn, draw_block, lock_counter, next_number
from recon.receipts.settings import ReceiptSettings
from recon.receipts.signing import Signer, sign

log = logging.getLogger("recon.receipts")

FEE_KIND_WORDS = {"phi": "phí", "le_phi": "lệ phí"}
# how it was paid (HTTToan/PThuc): cash, a QR transfer, an e-wallet or gateway, a card
PAYMENT_METHODS = {"cash": "TM", "vietqr": "QR", "payos": "QR", "vnpay": "VI", "momo": "VI",
                   "zalopay": "VI", "pos": "THE"}
_LOOKUP_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


LOOKUP_CODE_LENGTH = 12


def lookup_code() -> str:
    """An unguessable code the payer looks the receipt up by: 12 characters of an alphabet
    without look-alikes (no 0/O, 1/I), drawn by ``secrets`` (60 bits)."""
    return "".join(secrets.choice(_LOOKUP_ALPHABET) for _ in range(LOOKUP_CODE_LENGTH))


def unused_lookup_code(session: Session) -> str:
    """A fresh lookup code no receipt has (the unique index is the last defence)."""
    while True:
        code = lookup_code()
        if session.scalar(select(Receipt.id).where(Receipt.lookup_code == code)) is None:
            return code


#: who signs an organisation's receipts: its MST -> its signer (None: it cannot sign now)
SignerOf = Callable[[str], "Signer | None"]


def own_certificate(settings: ReceiptSettings, issuer: str) -> Path | None:
    """The organisation's own PKCS#12 file (``RECON_RECEIPT_P12_DIR/<MST>.p12``), or None:
    it signs with the default certificate (``RECON_RECEIPT_P12_FILE``)."""
    if not settings.p12_dir or not issuer:
        return None
    path = Path(settings.p12_dir) / f"{issuer}.p12"
    return path if path.is_file() else None


def load_own_signer(settings: ReceiptSettings, path: Path) -> Signer:
    """An organisation's own signer: its file, opened with the password in ``<MST>.password``
    beside it, else ``RECON_RECEIPT_P12_PASSWORD``."""
    secret = path.with_suffix(".password")
    password = (secret.read_text(encoding="utf-8").strip() if secret.is_file()
                else settings.p12_password)
    return Signer.from_p12(path, password)


def load_signer(settings: ReceiptSettings) -> Signer:
    if not settings.p12_file:
        raise ConfigurationError("RECON_RECEIPTS is on but RECON_RECEIPT_P12_FILE is not set",
                                 hint="Set RECON_RECEIPT_P12_FILE and "
                                      "RECON_RECEIPT_P12_PASSWORD, or RECON_RECEIPTS=off.")
    return Signer.from_p12(settings.p12_file, settings.p12_password)


def _dossier_of(receipt: Receipt) -> str | None:
    """The dossier code a signed receipt names (MHSo), read from its document."""
    if not receipt.document:
        return None
    root = etree.fromstring(receipt.document.encode("utf-8"))
    return root.findtext(".//MHSo")


@dataclass(frozen=True)
class _Planned:
    """Everything a receipt says but its number (drawn last: the counter stays locked from
    the draw to the end of the transaction, so the less done after it, the less others wait).
    ``collector_code``: the agency whose fee lines it carries; ``issuer``: the MST its number
    is drawn under ('' when none is configured)."""

    payment_id: int
    amount: int
    items: tuple[FeeItem, ...]
    collector: Party
    collector_code: str
    issuer: str
    payer: Party
    method: str
    provider_reference: str | None
    dossier_code: str
    procedure: str
    lookup_code: str


def issuer_of(agency: Agency, settings: ReceiptSettings) -> str:
    """The MST ``agency`` issues receipts under: its own, else RECON_RECEIPT_TAX_CODE, else ''
    (the organisation whose numbering it draws from)."""
    return agency.tax_code or settings.tax_code or ""


def _plan(session: Session, payment: Payment, dossier: Dossier, amount: int,
          settings: ReceiptSettings, agencies: Mapping[str, Agency], *,
          codes: list[str] | None = None, before: int | None = None) -> list[_Planned]:
    """The receipts of ``amount`` of ``payment`` for ``dossier``: one per collecting
    organisation of the fee lines it covers after ``before`` VND of the dossier's earlier
    succeeded payments (:func:`recon.engine.receipt_check.line_parts`), each with those lines'
    parts and their sum (a part payment's receipts carry its parts; what exceeds the fees is
    no line's). ``before`` None: a share of a split transfer, receipted only when it is the
    dossier's assessed total (logged otherwise). None for a collector that is no known agency
    (logged; ``receipt_missing`` follows)."""
    fees = sum(line.amount for line in dossier.fee_lines)
    if not dossier.fee_lines or (before is None and fees != amount):
        log.warning("no receipt for payment %s: it paid %s VND, the dossier %s assesses %s VND;"
                    " a person issues it", payment.id, amount, dossier.code, fees)
        return []
    home = next((a for a in agencies.values() if a.id == dossier.agency_id), None)
    plans = []
    ordered = sorted(dossier.fee_lines, key=lambda f: f.position)
    parts = line_parts([f.amount for f in ordered],
                       [f.collector_code or (home.code if home else "") for f in ordered],
                       before or 0, amount)
    for code, taken in parts.items():
        lines = [(ordered[i], part) for i, part in taken]
        agency = agencies.get(code)
        if agency is None:
            log.error("no receipt for payment %s: the dossier %s names the collector %r, which "
                      "is no agency; create it (recon agencies create)", payment.id,
                      dossier.code, code)
            continue
        issuer = issuer_of(agency, settings)
        plans.append(_Planned(
            payment_id=payment.id, amount=sum(part for _line, part in lines),
            items=tuple(FeeItem(FEE_KIND_WORDS[line.kind], line.name, part)
                        for line, part in lines),
            collector=Party(agency.name, issuer or None), collector_code=agency.code,
            issuer=issuer, payer=Party(dossier.applicant_name),
            method=PAYMENT_METHODS.get(payment.channel, payment.channel.upper()),
            provider_reference=payment.bank_reference or payment.provider_txn_id,
            dossier_code=dossier.code, procedure=dossier.procedure.name,
            lookup_code=codes.pop() if codes else unused_lookup_code(session)))
    return plans


def _agencies(session: Session) -> dict[str, Agency]:
    """Every agency by code (a small table: the collecting organisations)."""
    return {a.code: a for a in session.scalars(select(Agency))}


def _signed(plan: _Planned, drawn: Drawn, signer: Signer, moment: datetime,
            actor: str) -> Receipt:
    """The issued receipt of ``plan`` under the number ``drawn``, built, validated, signed."""
    content = ReceiptContent(
        form_code=drawn.form_code, series=drawn.series, number=drawn.number,
        signed_at=moment, collector=plan.collector, payer=plan.payer,
        items=plan.items, method=plan.method, provider_reference=plan.provider_reference,
        dossier_code=plan.dossier_code, procedure=plan.procedure, lookup_code=plan.lookup_code)
    unsigned = build(content)
    schema().assertValid(unsigned)
    document = to_bytes(sign(unsigned, signer, moment))
    return Receipt(form_code=drawn.form_code, series=drawn.series, number=drawn.number,
                   issuer_tax_code=drawn.issuer, collector_code=plan.collector_code,
                   status="issued", issued_on=drawn.issued_on, drawn_by=actor, drawn_at=moment,
                   payment_id=plan.payment_id, amount=plan.amount, signed_at=moment,
                   document=document.decode("utf-8"), lookup_code=plan.lookup_code,
                   **figures(content))


def _key(receipt: Receipt, home: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(dossier code, collector code) of an issued receipt; a receipt without a collector (none
    left after migration 0027, but read safely) is its dossier's agency's."""
    code = _dossier_of(receipt)
    return code, receipt.collector_code or home.get(code or "")


def _wanted(session: Session, payment: Payment, share: tuple[int, int] | None,
            issued: list[Receipt], settings: ReceiptSettings,
            agencies: Mapping[str, Agency]) -> tuple[list[Receipt], list[_Planned]]:
    """(the receipts of this share already issued, the ones still owed)."""
    dossier_id, amount = share if share is not None else (payment.dossier_id, payment.amount)
    dossier = session.get(Dossier, dossier_id) if dossier_id else None
    if dossier is None:
        log.warning("no receipt for payment %s: it matches no dossier", payment.id)
        return [], []
    home_code = next((a.code for a in agencies.values() if a.id == dossier.agency_id), "")
    mine = [r for r in issued if _key(r, {dossier.code: home_code})[0] in (dossier.code, None)]
    have = {_key(r, {dossier.code: home_code})[1] for r in mine}
    before = None if share is not None else _covered(session, [dossier.id]).get(payment.id, 0)
    plans = _plan(session, payment, dossier, amount, settings, agencies, before=before)
    return mine, [p for p in plans if p.collector_code not in have]


def _covered(session: Session, dossier_ids: list[int]) -> dict[int, int]:
    """payment id -> what the earlier succeeded payments of its dossier covered, for the
    payments of ``dossier_ids`` (in the order forwarding spreads them: paid_at, id)."""
    if not dossier_ids:
        return {}
    return covered_before((int(pid), int(did or 0), int(amount)) for pid, did, amount in
                          session.execute(select(Payment.id, Payment.dossier_id, Payment.amount)
                                          .where(Payment.status == "succeeded",
                                                 Payment.dossier_id.in_(dossier_ids))
                                          .order_by(Payment.dossier_id, Payment.paid_at,
                                                    Payment.id)))


def _issue_plans(session: Session, plans: list[_Planned], *, settings: ReceiptSettings,
                 signer_of: SignerOf, moment: datetime, actor: str) -> list[Receipt]:
    """Draw, sign (with the organisation's signer) and register each of ``plans``, the draws
    in order of organisation (every issuer takes counters in one order: no two transactions
    wait on each other), each in a SAVEPOINT: a failure gives its number back and costs
    nothing else. An organisation whose certificate cannot be loaded gets nothing (logged)."""
    out: list[Receipt] = []
    for plan in sorted(plans, key=lambda p: p.issuer):
        signer = signer_of(plan.issuer)
        if signer is None:
            continue
        try:
            with session.begin_nested():
                drawn = next_number(session, settings, moment=moment, issuer=plan.issuer)
                receipt = _signed(plan, drawn, signer, moment, actor)
                # registered once, signed: the number is in the register in this transaction
                session.add(receipt)
                session.flush()
        except (ReconError, ValueError, KeyError, etree.DocumentInvalid) as exc:
            log.error("no receipt for payment %s (collector %s): %s; its number was given "
                      "back", plan.payment_id, plan.collector_code, exc)
            continue
        out.append(receipt)
    return out


def _issued_of(session: Session, payment: Payment, just_recorded: bool) -> list[Receipt]:
    if just_recorded:
        return []
    return list(session.scalars(select(Receipt).where(
        Receipt.payment_id == payment.id, Receipt.status == "issued").order_by(Receipt.id)))


def issue_receipts(session: Session, payment: Payment, *, settings: ReceiptSettings,
                   signer: Signer, moment: datetime, actor: str = "system",
                   share: tuple[int, int] | None = None,
                   just_recorded: bool = False) -> list[Receipt]:
    """Issue, sign and register the receipts of ``payment`` (of one ``share`` of a split
    transfer: (dossier id, amount)): one per collecting organisation of the dossier's fee
    lines; those already issued are returned, not issued again. ``just_recorded``: the payment
    was inserted in this transaction, so it has no receipt yet (none is looked for)."""
    if not settings.enabled or payment.status != "succeeded":
        return []
    agencies = _agencies(session)
    mine, plans = _wanted(session, payment, share, _issued_of(session, payment, just_recorded),
                          settings, agencies)
    return mine + _issue_plans(session, plans, settings=settings,
                               signer_of=lambda _issuer: signer, moment=moment, actor=actor)


def issue_receipt(session: Session, payment: Payment, *, settings: ReceiptSettings,
                  signer: Signer, moment: datetime, actor: str = "system",
                  share: tuple[int, int] | None = None,
                  just_recorded: bool = False) -> Receipt | None:
    """The first of :func:`issue_receipts` (a dossier with one collector has one receipt), or
    None when none could be issued."""
    found = issue_receipts(session, payment, settings=settings, signer=signer, moment=moment,
                           actor=actor, share=share, just_recorded=just_recorded)
    return found[0] if found else None


@dataclass
class Receipting:
    """Receipts as recording issues them: the settings and, loaded once, the signer. A key
    that cannot be loaded is logged (each time a receipt is wanted) and issues nothing: the
    payment is recorded all the same, and ``recon receipts issue-missing`` issues it later."""

    settings: ReceiptSettings
    _signer: Signer | None = field(default=None, repr=False)
    _own: dict[str, Signer | None] = field(default_factory=dict, repr=False)

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def signer(self) -> Signer | None:
        if self._signer is None:
            try:
                self._signer = load_signer(self.settings)
            except (ReconError, ValueError, OSError) as exc:
                log.error("no receipt issued: the signing key cannot be loaded (%s); payments "
                          "are recorded, run `recon receipts issue-missing` once it is fixed",
                          exc)
                return None
        return self._signer

    def signer_for(self, issuer: str) -> Signer | None:
        """The signer of the organisation with MST ``issuer``: its own certificate in
        ``RECON_RECEIPT_P12_DIR`` when there is one, else the default (:meth:`signer`). An own
        certificate that cannot be opened signs nothing (logged): never another's key."""
        path = own_certificate(self.settings, issuer)
        if path is None:
            return self.signer()
        if issuer not in self._own:
            try:
                self._own[issuer] = load_own_signer(self.settings, path)
            except (ReconError, ValueError, OSError) as exc:
                log.error("no receipt issued for the organisation %s: its certificate %s "
                          "cannot be loaded (%s); fix it, then `recon receipts issue-missing`",
                          issuer, path, exc)
                return None
        return self._own[issuer]

    def issue(self, session: Session, payment: Payment, *, moment: datetime,
              actor: str = "system", just_recorded: bool = False) -> list[Receipt]:
        """The receipts of ``payment``: one per collecting organisation of its dossier's fee
        lines, for its dossier or for each allocation of a split transfer.
        ``just_recorded``: the payment was inserted in this transaction and matched to one
        dossier, so it has no allocation and no receipt yet (neither is looked for: two
        queries fewer on every new payment)."""
        if not self.enabled or payment.status != "succeeded":
            return []
        shares = [] if just_recorded else [(a.dossier_id, a.amount) for a in session.scalars(
            select(PaymentAllocation).where(PaymentAllocation.payment_id == payment.id)
            .order_by(PaymentAllocation.id))]
        if not shares and payment.dossier_id is None:
            return []
        signer = self.signer()
        if signer is None:
            return []
        agencies = _agencies(session)
        issued = _issued_of(session, payment, just_recorded)
        kept: list[Receipt] = []
        plans: list[_Planned] = []
        for share in (list(shares) if shares else [None]):
            mine, owed = _wanted(session, payment, share, issued, self.settings, agencies)
            kept += mine
            plans += owed
        # every share's receipts drawn together, in order of organisation (no lock cycles)
        return kept + _issue_plans(session, plans, settings=self.settings,
                                   signer_of=self.signer_for, moment=moment, actor=actor)


_CACHE: dict[tuple[tuple[str, str], ...], Receipting] = {}


def receipting(env: Mapping[str, str]) -> Receipting | None:
    """The receipting of these ``RECON_*`` variables (one per distinct set: the key is read
    once), or None when receipts are off."""
    key = tuple(sorted((k, v) for k, v in env.items() if k.startswith("RECON_RECEIPT")))
    found = _CACHE.get(key)
    if found is None:
        found = _CACHE[key] = Receipting(ReceiptSettings.from_env(env))
    return found if found.enabled else None


def inline_receipting(env: Mapping[str, str]) -> Receipting | None:
    """The receipting a payment's own transaction does: :func:`receipting`, or None when
    receipts are off or issued by the worker (``RECON_RECEIPTS_ISSUE=worker``)."""
    found = receipting(env)
    return found if found is not None and found.settings.inline else None


def missing(session: Session) -> list[int]:
    """The succeeded payments owed a receipt that have none (their issuing failed, or the
    worker issues them), in order of payment (recorded, id): matched to a dossier, with fewer
    issued receipts than collecting organisations of the fee lines they cover after the
    dossier's earlier payments (a part payment's parts too; a payment covering no line, all
    paid before it, is owed none), or split, with fewer issued receipts than they are owed
    (one per collecting organisation of each dossier paid)."""
    issued = (select(Receipt.payment_id, func.count().label("n")).where(
        Receipt.status == "issued").group_by(Receipt.payment_id).subquery())
    collectors = (
        select(FeeLine.dossier_id,
               func.count(func.distinct(func.coalesce(FeeLine.collector_code, Agency.code)))
               .label("n"))
        .join(Dossier, Dossier.id == FeeLine.dossier_id)
        .join(Agency, Agency.id == Dossier.agency_id)
        .group_by(FeeLine.dossier_id).subquery())
    shares = (select(PaymentAllocation.payment_id,
                     func.sum(func.coalesce(collectors.c.n, 0)).label("n"))
              .outerjoin(collectors, collectors.c.dossier_id == PaymentAllocation.dossier_id)
              .group_by(PaymentAllocation.payment_id).subquery())
    own = (select(collectors.c.n).where(collectors.c.dossier_id == Payment.dossier_id)
           .correlate(Payment).scalar_subquery())
    # candidates: at most as many receipts as the collectors of all the dossier's lines
    rows = session.execute(
        select(Payment.id, Payment.dossier_id, Payment.amount,
               func.coalesce(issued.c.n, 0), shares.c.n.is_(None))
        .outerjoin(issued, issued.c.payment_id == Payment.id)
        .outerjoin(shares, shares.c.payment_id == Payment.id)
        .where(Payment.status == "succeeded",
               or_(and_(Payment.dossier_id.is_not(None), own.is_not(None)),
                   shares.c.n.is_not(None)),
               func.coalesce(issued.c.n, 0) < func.coalesce(shares.c.n, own, 1))
        .order_by(Payment.received_at, Payment.id)).all()
    own_rows = [r for r in rows if r[4]]
    dossier_ids = sorted({int(r[1]) for r in own_rows})
    covered = _covered(session, dossier_ids)
    lines: dict[int, tuple[list[int], list[str]]] = {}
    for chunk in range(0, len(dossier_ids), 5_000):
        for did, amount, collector in session.execute(
                select(FeeLine.dossier_id, FeeLine.amount,
                       func.coalesce(FeeLine.collector_code, Agency.code))
                .join(Dossier, Dossier.id == FeeLine.dossier_id)
                .join(Agency, Agency.id == Dossier.agency_id)
                .where(FeeLine.dossier_id.in_(dossier_ids[chunk:chunk + 5_000]))
                .order_by(FeeLine.dossier_id, FeeLine.position)):
            entry = lines.setdefault(int(did), ([], []))
            entry[0].append(int(amount))
            entry[1].append(str(collector))
    out = []
    for pid, did, amount, have, unsplit in rows:
        if unsplit:
            amounts, who = lines.get(int(did), ([], []))
            owed = len(line_parts(amounts, who, covered.get(int(pid), 0), int(amount)))
            if int(have) >= owed:
                continue
        out.append(int(pid))
    return out


@dataclass(frozen=True)
class SweepSummary:
    """What :func:`issue_missing` did: payments looked at, receipts issued, payments left."""

    payments: int
    issued: int
    left: int


def issue_missing(db: Database, clock: Clock, receipts: Receipting, *, actor: str,
                  progress: Callable[[int], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> SweepSummary:
    """Issue the receipts that issuing at payment could not (:func:`missing`), one payment per
    transaction, its row locked first (two sweeps never issue the same receipt twice)."""
    with db.read() as session:
        wanted = missing(session)
    issued = done = 0
    for payment_id in wanted:
        if should_stop is not None and should_stop():
            break
        with db.transaction() as session:
            payment = session.scalars(select(Payment).where(Payment.id == payment_id)
                                      .with_for_update()).one()
            before = session.scalar(select(func.count()).select_from(Receipt).where(
                Receipt.payment_id == payment_id, Receipt.status == "issued")) or 0
            after = len(receipts.issue(session, payment, moment=clock.now(), actor=actor))
            issued += max(after - before, 0)
        done += 1
        if progress is not None:
            progress(1)
    with db.read() as session:
        left = len(missing(session))
    return SweepSummary(done, issued, left)


#: how many receipts one sweep transaction issues at most (one block of numbers)
SWEEP_BATCH: Final = 200


def _owed(session: Session, payments: list[Payment],
          settings: ReceiptSettings) -> list[_Planned]:
    """The receipts ``payments`` are owed and have not, in their order: one per collecting
    organisation of the dossier paid, or of each share of a split transfer, less those issued.
    Read per batch (allocations, issued receipts, dossiers with their fee lines, agencies, the
    lookup codes): a few queries, not a few per payment."""
    ids = [p.id for p in payments]
    shares: dict[int, list[tuple[int, int]]] = {}
    for a in session.scalars(select(PaymentAllocation).where(
            PaymentAllocation.payment_id.in_(ids)).order_by(PaymentAllocation.id)):
        shares.setdefault(a.payment_id, []).append((a.dossier_id, a.amount))
    issued: dict[int, list[Receipt]] = {}
    for r in session.scalars(select(Receipt).where(
            Receipt.payment_id.in_(ids), Receipt.status == "issued").order_by(Receipt.id)):
        if r.payment_id is not None:
            issued.setdefault(r.payment_id, []).append(r)
    wanted: list[tuple[Payment, int, int]] = []
    for payment in payments:
        mine = shares.get(payment.id)
        if not mine:
            if payment.dossier_id is None:
                continue
            mine = [(payment.dossier_id, payment.amount)]
        wanted.extend((payment, d, amount) for d, amount in mine)
    covered = _covered(session, sorted({p.dossier_id for p in payments
                                        if p.dossier_id is not None and p.id not in shares}))
    dossiers = {d.id: d for d in session.scalars(
        select(Dossier).where(Dossier.id.in_({d for _p, d, _a in wanted}))
        .options(selectinload(Dossier.fee_lines))).unique()}
    agencies = _agencies(session)
    home = {a.id: a.code for a in agencies.values()}
    codes = _fresh_codes(session, sum(
        len({f.collector_code for f in dossiers[d].fee_lines}) + 1
        for _p, d, _a in wanted if d in dossiers))
    plans = []
    for payment, dossier_id, amount in wanted:
        dossier = dossiers.get(dossier_id)
        if dossier is None:
            continue  # gone
        homes = {dossier.code: home.get(dossier.agency_id, "")}
        have = {_key(r, homes)[1] for r in issued.get(payment.id, [])
                if _key(r, homes)[0] in (dossier.code, None)}
        before = None if payment.id in shares else covered.get(payment.id, 0)
        plans += [p for p in _plan(session, payment, dossier, amount, settings, agencies,
                                   codes=codes, before=before) if p.collector_code not in have]
    return plans


def _fresh_codes(session: Session, count: int) -> list[str]:
    """``count`` distinct lookup codes no receipt has, checked in one query (a clash, at 60
    bits, only draws again)."""
    while True:
        codes = list({lookup_code() for _ in range(count)})
        if len(codes) == count and session.scalar(select(func.count()).select_from(
                Receipt).where(Receipt.lookup_code.in_(codes))) == 0:
            return codes


def issue_batch(db: Database, clock: Clock, receipts: Receipting, *, actor: str,
                limit: int = SWEEP_BATCH) -> int:
    """Issue up to ``limit`` owed receipts (:func:`missing`) in one transaction, in order of
    payment: the default organisation's counter ('' ) is locked first, as the sweeps' turn (two
    sweeps take turns, and the second sees what the first issued; '' sorts first, so the
    order of counter locks stays one), the payments owed are read and locked (one another
    issuer holds is left for the next sweep), one block of consecutive numbers is drawn per
    organisation (one counter update each), and each receipt is signed and registered. A
    receipt that cannot be signed keeps its number as ``spoiled`` (never skipped). The number
    of receipts issued."""
    signer = receipts.signer()
    if signer is None:
        return 0
    settings = receipts.settings
    with db.transaction() as session:
        moment = clock.now()
        lock_counter(session, settings, moment=moment)
        wanted = missing(session)
        plans: list[_Planned] = []
        for start in range(0, len(wanted), limit):
            chunk = wanted[start:start + limit]
            locked = {p.id: p for p in session.scalars(
                select(Payment).where(Payment.id.in_(chunk))
                .with_for_update(skip_locked=True))}
            plans.extend(_owed(session, [locked[i] for i in chunk if i in locked], settings))
            if len(plans) >= limit:
                break
        # an organisation whose own certificate cannot be loaded waits (logged), numberless
        plans = [p for p in plans[:limit] if receipts.signer_for(p.issuer) is not None]
        if not plans:
            return 0
        # one block of consecutive numbers per organisation, in order of organisation (every
        # issuer takes counters in one order), each in order of payment
        numbered: list[tuple[_Planned, Drawn]] = []
        for issuer in sorted({p.issuer for p in plans}):
            theirs = [p for p in plans if p.issuer == issuer]
            numbered += zip(theirs, draw_block(session, settings, moment=moment,
                                               count=len(theirs), issuer=issuer), strict=True)
        issued = 0
        for plan, drawn in numbered:
            try:
                receipt = _signed(plan, drawn, receipts.signer_for(plan.issuer) or signer,
                                  moment, actor)
                issued += 1
            except (ReconError, ValueError, KeyError, etree.DocumentInvalid) as exc:
                log.error("no receipt for payment %s: %s; its number %s is kept as spoiled",
                          plan.payment_id, exc, drawn.number)
                receipt = Receipt(form_code=drawn.form_code, series=drawn.series,
                                  number=drawn.number, issuer_tax_code=drawn.issuer,
                                  collector_code=plan.collector_code, status="spoiled",
                                  issued_on=drawn.issued_on, drawn_by=actor, drawn_at=moment,
                                  payment_id=plan.payment_id, amount=plan.amount,
                                  spoiled_reason=f"signing failed: {exc}"[:500],
                                  spoiled_at=moment)
            session.add(receipt)
        session.flush()
    return issued


def sweep_owed(db: Database, clock: Clock, receipts: Receipting, *, actor: str,
               should_stop: Callable[[], bool] | None = None,
               limit: int = SWEEP_BATCH) -> int:
    """The worker's sweep (``RECON_RECEIPTS_ISSUE=worker``): :func:`issue_batch` until a batch
    issues nothing or is not full; the receipts issued."""
    total = 0
    while should_stop is None or not should_stop():
        issued = issue_batch(db, clock, receipts, actor=actor, limit=limit)
        total += issued
        if issued < limit:
            break
    return total
