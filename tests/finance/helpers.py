"""A small hand-built world for the finance tests: every figure below is worked out by hand.

Quarter Q1 2021 (Vietnam time) and "now" = T0 (2026-11-26 10:00 in Huế):

====  =====  ====  =======  ========  =======================================================
code  field  ag.   channel  assessed  payments
====  =====  ====  =======  ========  =======================================================
d1    HT     AG1   counter    60,000  sepay/vietqr 60,000 (05/01); settled 06/01 at 59,000
d2    HT     AG1   online    100,000  vnpay failed 100,000, vnpay 100,000 (01/02); settled 02/02
d3    DD     AG2   counter   200,000  cash 200,000
d4    DD     AG2   online    300,000  momo 300,000 twice (a duplicate)
d5    —      AG1   postal          0  —
d6    HT     AG2   counter    80,000  pos 80,000 at 01/04 00:00 (next quarter)
d7    DD     AG1   online     40,000  — (outstanding)
d8    HT     AG1   counter    20,000  received 31/12/2020; vietqr/sepay 20,000 (02/01)
d9    HT     AG1   counter    30,000  cash 10,000 + casso/vietqr 20,000
d10   DD     AG1   online     50,000  zalopay refunded 50,000 (outstanding)
d11   DD     AG2   online     10,000  payos 10,000 at 31/03 23:59:59
d12   HT     AG1   counter    15,000  — received today 08:00 (outstanding, age 0)
d13   HT     AG1   counter    25,000  — received 23/11/2026 (outstanding, age 3)
d14   HT     AG2   online     45,000  sepay/vietqr 45,000 today 09:00; settled today
d15   DD     AG2   counter    70,000  cash 70,000 on 02/11/2026
—                                     sepay 70,000 with no dossier (unmatched) 10/03
====  =====  ====  =======  ========  =======================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from recon.clock import VN_TZ
from recon.db import Database
from recon.models import (
    Agency,
    Callback,
    Discrepancy,
    Dossier,
    FeeLine,
    Payment,
    PaymentIntent,
    Procedure,
    ReconRun,
    SettlementFile,
    SettlementLine,
)

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def vn(y: int, m: int, d: int, hh: int = 9, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=VN_TZ).astimezone(UTC)


@dataclass
class World:
    dossiers: dict[str, int] = field(default_factory=dict)  # name -> id
    codes: dict[str, str] = field(default_factory=dict)  # name -> code
    payments: dict[str, int] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    discrepancies: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    intents: dict[str, int] = field(default_factory=dict)
    run_id: int = 0


DOSSIERS = {
    # name: (procedure, agency, channel, received_at, fees)
    "d1": ("HT", "AG1", "counter", vn(2021, 1, 5, 8), [50_000, 10_000]),
    "d2": ("HT", "AG1", "online", vn(2021, 2, 1, 8), [100_000]),
    "d3": ("DD", "AG2", "counter", vn(2021, 2, 3), [200_000]),
    "d4": ("DD", "AG2", "online", vn(2021, 2, 4), [300_000]),
    "d5": ("NO", "AG1", "postal", vn(2021, 2, 5), []),
    "d6": ("HT", "AG2", "counter", vn(2021, 3, 31, 16), [80_000]),
    "d7": ("DD", "AG1", "online", vn(2021, 3, 20), [40_000]),
    "d8": ("HT", "AG1", "counter", vn(2020, 12, 31, 23, 30), [20_000]),
    "d9": ("HT", "AG1", "counter", vn(2021, 3, 1), [30_000]),
    "d10": ("DD", "AG1", "online", vn(2021, 3, 2), [50_000]),
    "d11": ("DD", "AG2", "online", vn(2021, 3, 31, 20), [10_000]),
    "d12": ("HT", "AG1", "counter", vn(2026, 11, 26, 8), [15_000]),
    "d13": ("HT", "AG1", "counter", vn(2026, 11, 23, 8), [25_000]),
    "d14": ("HT", "AG2", "online", vn(2026, 11, 26, 8), [45_000]),
    "d15": ("DD", "AG2", "counter", vn(2026, 11, 2, 8), [70_000]),
}


def build_world(db: Database) -> World:
    w = World()
    with db.transaction() as s:
        agencies = {}
        for code in ("AG1", "AG2"):
            a = Agency(code=code, name=f"Trung tâm {code}", bank_bin="970415",
                       account_number="113000000000", account_name="TRUNG TAM " + code)
            s.add(a)
            agencies[code] = a
        procedures = {
            "HT": Procedure(code="1.001193", name="Đăng ký khai sinh", field="Hộ tịch"),
            "DD": Procedure(code="1.004227", name="Đăng ký đất đai", field="Đất đai"),
            "NO": Procedure(code="9.999999", name="Thủ tục không phí", field=None),
        }
        s.add_all(procedures.values())
        s.flush()
        for name, (proc, agency, channel, received, fees) in DOSSIERS.items():
            code = f"000.00.21.H57-T-{name.upper()}"
            d = Dossier(code=code, agency_id=agencies[agency].id,
                        procedure_id=procedures[proc].id, applicant_name=f"Công dân {name}",
                        received_at=received, received_channel=channel)
            d.fee_lines = [FeeLine(position=i, kind="le_phi" if i else "phi", name=f"Khoản {i}",
                                   amount=a) for i, a in enumerate(fees)]
            s.add(d)
            s.flush()
            w.dossiers[name] = d.id
            w.codes[name] = code

        def pay(key: str, dossier: str | None, provider: str, channel: str, amount: int,
                status: str, at: datetime, ref: str | None = None) -> Payment:
            p = Payment(provider=provider, provider_txn_id=f"TX-{key}", channel=channel,
                        amount=amount, status=status, paid_at=at, received_at=at,
                        reference=ref, dossier_id=w.dossiers[dossier] if dossier else None,
                        recorded_by="test", updated_at=at)
            s.add(p)
            s.flush()
            w.payments[key] = p.id
            return p

        intent = PaymentIntent(dossier_id=w.dossiers["d1"], channel="vietqr", amount=60_000,
                               reference="HS2ABCDEFGH7", status="paid", qr_payload="000201TEST",
                               created_at=vn(2021, 1, 5, 8, 55), expires_at=vn(2021, 1, 5, 9, 10),
                               updated_at=vn(2021, 1, 5, 9))
        s.add(intent)
        s.flush()
        w.intents["d1"] = intent.id
        p1 = pay("d1", "d1", "sepay", "vietqr", 60_000, "succeeded", vn(2021, 1, 5, 9),
                 ref="HS2ABCDEFGH7")
        p1.intent_id = intent.id
        pay("d2-failed", "d2", "vnpay", "vnpay", 100_000, "failed", vn(2021, 2, 1, 9))
        pay("d2", "d2", "vnpay", "vnpay", 100_000, "succeeded", vn(2021, 2, 1, 9, 5))
        pay("d3", "d3", "cash", "cash", 200_000, "succeeded", vn(2021, 2, 3, 10))
        momo = pay("d4", "d4", "momo", "momo", 300_000, "succeeded", vn(2021, 2, 4, 10))
        pay("d4-dup", "d4", "momo", "momo", 300_000, "succeeded", vn(2021, 2, 4, 10, 3))
        pay("d6", "d6", "pos", "pos", 80_000, "succeeded", vn(2021, 4, 1, 0, 0, 0))
        pay("d8", "d8", "sepay", "vietqr", 20_000, "succeeded", vn(2021, 1, 2, 9))
        pay("d9-cash", "d9", "cash", "cash", 10_000, "succeeded", vn(2021, 3, 1, 10))
        pay("d9", "d9", "casso", "vietqr", 20_000, "succeeded", vn(2021, 3, 1, 10, 5))
        pay("d10", "d10", "zalopay", "zalopay", 50_000, "refunded", vn(2021, 3, 2, 10))
        pay("d11", "d11", "payos", "payos", 10_000, "succeeded", vn(2021, 3, 31, 23, 59, 59))
        pay("d14", "d14", "sepay", "vietqr", 45_000, "succeeded", vn(2026, 11, 26, 9))
        pay("d15", "d15", "cash", "cash", 70_000, "succeeded", vn(2026, 11, 2, 9))
        pay("unmatched", None, "sepay", "vietqr", 70_000, "succeeded", vn(2021, 3, 10, 9))

        callback = Callback(
            provider="momo", received_at=vn(2021, 2, 4, 10), method="POST",
            path="/webhooks/momo", query_string="",
            headers=json.dumps({"Content-Type": "application/json",
                                "Authorization": "Bearer very-secret"}),
            body=json.dumps({"orderId": "HS2ABCDEFGH7", "amount": 300_000,
                             "signature": "abcdef0123456789", "card": "970436******1234",
                             "orderInfo": "Thanh toán hồ sơ"}).encode("utf-8"),
            signature_valid=True, outcome="accepted", provider_txn_id="TX-d4",
            payment_id=momo.id)
        s.add(callback)
        s.flush()
        momo.callback_id = callback.id

        def settle(key: str, provider: str, txn: str, amount: int, fee: int,
                   settled_on: date) -> None:
            name = f"{provider}-{settled_on.isoformat()}.csv"
            f = SettlementFile(provider=provider, filename=name,
                               sha256=(key * 64)[:64].ljust(64, "0"),
                               size=10, content=b"provider_txn_id,amount\r\n" + txn.encode(),
                               imported_by="test", row_count=1, total_amount=amount)
            s.add(f)
            s.flush()
            w.files[key] = f.id
            line = SettlementLine(file_id=f.id, line_no=1, provider=provider,
                                  provider_txn_id=txn, amount=amount, fee=fee, net=amount - fee,
                                  transaction_at=None, settled_on=settled_on)
            s.add(line)
            s.flush()
            w.lines[key] = line.id

        settle("a", "sepay", "TX-d1", 59_000, 0, date(2021, 1, 6))
        settle("b", "vnpay", "TX-d2", 100_000, 880, date(2021, 2, 2))
        settle("c", "zalopay", "TX-d10", 50_000, 500, date(2021, 3, 3))
        settle("d", "sepay", "TX-d14", 45_000, 0, date(2026, 11, 26))

        run = ReconRun(mode="full", as_of=T0, started_at=T0, finished_at=T0,
                       status="succeeded", triggered_by="test")
        s.add(run)
        s.flush()
        w.run_id = run.id

        def disc(key: str, kind: str, detected: datetime, delta: int, *,
                 dossier: str | None = None, payment: str | None = None,
                 line: str | None = None, provider: str | None = None,
                 status: str = "open", **extra: object) -> None:
            parts = [kind]
            if dossier:
                parts.append(f"dossier={w.dossiers[dossier]}")
            if payment:
                parts.append(f"payment={w.payments[payment]}")
            if line:
                parts.append(f"settlement_line={w.lines[line]}")
            d = Discrepancy(
                identity=":".join(parts), kind=kind, status=status,
                dossier_id=w.dossiers[dossier] if dossier else None,
                payment_id=w.payments[payment] if payment else None,
                settlement_line_id=w.lines[line] if line else None, provider=provider,
                expected_amount=max(-delta, 0), actual_amount=max(delta, 0), delta=delta,
                explanation=f"Giải thích {key}", explanation_en=f"Explanation {key}",
                detected_at=detected, first_run_id=run.id, last_run_id=run.id,
                updated_at=detected, **extra)
            s.add(d)
            s.flush()
            w.discrepancies[key] = d.id

        disc("A", "duplicate_payment", vn(2026, 11, 26, 8), 300_000, dossier="d4",
             payment="d4-dup", provider="momo")
        disc("B", "unmatched_payment", vn(2026, 11, 25, 8), 70_000, payment="unmatched",
             provider="sepay")
        disc("C", "missing_settlement", vn(2026, 11, 23, 8), -10_000, dossier="d11",
             payment="d11", provider="payos")
        disc("D", "amount_mismatch", vn(2026, 11, 20, 8), -1_000, dossier="d1",
             payment="d1", line="a", provider="sepay")
        disc("E", "status_mismatch", vn(2026, 11, 1, 8), 50_000, dossier="d10",
             payment="d10", line="c", provider="zalopay")
        disc("F", "overpaid", vn(2026, 11, 1, 8), 9_000, dossier="d2", status="resolved",
             resolution_type="provider_corrected", resolution_note="done",
             resolved_by="user:someone", resolved_at=vn(2026, 11, 2))
        disc("G", "overpaid", vn(2026, 11, 26, 9), 5_000, dossier="d3",
             proposed_resolution_type="written_off", proposed_note="small",
             proposed_by="user:other", proposed_at=vn(2026, 11, 26, 9, 30))
    return w


def later(days: int) -> datetime:
    return T0 + timedelta(days=days)
