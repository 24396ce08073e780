"""Multi-process soak: two gunicorn instances and two schedulers on one PostgreSQL database.

    .venv/bin/python bench/soak.py [--duration 60] [--rate 60] [--interval 3] \
        [--database-url postgresql+psycopg://postgres@127.0.0.1/test]

On a scratch database: two app instances (``gunicorn -w 3 recon.wsgi:app`` each, on two ports)
and two ``recon scheduler`` processes (incremental every ``--interval`` seconds). A bounded,
paced loopback load (``--rate`` requests/s from a few client threads) of correctly signed
callbacks from every provider for ``--duration`` seconds, the instances alternating:

- each payment's first delivery, to one instance; some of them are **concurrent duplicates**
  (two or three identical copies released together by a barrier to both instances);
- **exact duplicates** right after (the same bytes to the other instance);
- **replays** later on of deliveries made at least 50 payments earlier;
- a few **unmatched** bank transfers (no reference in the memo), which reconciliation must
  find.

Then it stops the schedulers and servers, runs one full reconciliation and checks by SQL what
the load left (:func:`check`): every distinct (provider, provider_txn_id) recorded exactly once
and every one sent present, every request archived as a callback, no 5xx and no error outcome,
runs never overlapping and every incremental window starting at or before the previous run's
``as_of``, the intents paid exactly those paid, the audit chain whole, and the final full run
finding nothing the incremental runs had not. Prints one JSON line: the figures, the load
average, and the queries that proved them. ``tests/hardening/test_soak.py`` runs it for 15 s.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from sqlalchemy import create_engine, text

from adapters import PROVIDERS, RawRequest, get_adapter
from bench.common import DEFAULT_PG, scratch_database
from bench.procs import Proc, base_env, start_gunicorn, start_scheduler
from recon.audit import chain as audit
from recon.clock import SystemClock
from recon.config import load_settings
from recon.db import Database
from recon.engine.runner import run_reconciliation
from recon.intake.agencies import create_agency
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.payments.intents import create_intent

#: the soak's own provider credentials (the servers get the same)
PROVIDER_ENV: dict[str, str] = {
    "RECON_VNPAY_TMN_CODE": "SOAKTMN1",
    "RECON_VNPAY_HASH_SECRET": "soak-vnpay-hash-secret",
    "RECON_MOMO_PARTNER_CODE": "MOMOSOAK",
    "RECON_MOMO_ACCESS_KEY": "soak-momo-access-key",
    "RECON_MOMO_SECRET_KEY": "soak-momo-secret-key",
    "RECON_ZALOPAY_APP_ID": "2553",
    "RECON_ZALOPAY_KEY1": "soak-zalopay-key1",
    "RECON_ZALOPAY_KEY2": "soak-zalopay-key2",
    "RECON_PAYOS_CLIENT_ID": "soak-payos-client",
    "RECON_PAYOS_API_KEY": "soak-payos-api-key",
    "RECON_PAYOS_CHECKSUM_KEY": "soak-payos-checksum-key",
    "RECON_SEPAY_API_KEY": "soak-sepay-api-key",
    "RECON_CASSO_CHECKSUM_KEY": "soak-casso-checksum-key",
    "RECON_POS_SECRET": "soak-pos-secret",
}
CHANNEL = {"vnpay": "vnpay", "momo": "momo", "zalopay": "zalopay", "payos": "payos",
           "sepay": "vietqr", "casso": "vietqr", "pos": "pos"}
AGENCY = "SOAK"
UNMATCHED_AMOUNT = 50_000


# --------------------------------------------------------------------------------------------
# Data and signed calls


@dataclass(frozen=True)
class Intent:
    provider: str
    reference: str
    amount: int
    order_code: int | None


def seed_intents(url: str, count: int, *, prefix: str = "SOAK") -> list[Intent]:
    """``count`` dossiers (180,000 VND each) with one open intent each, the providers in
    turn."""
    db = Database(url)
    clock = SystemClock()
    settings = load_settings({**PROVIDER_ENV, "RECON_ENV": "test"})
    out: list[Intent] = []
    try:
        with db.transaction() as s:
            create_agency(s, clock, code=AGENCY, name="Trung tâm soak", bank_bin="970415",
                          account_number="113000000000", account_name="SOAK", actor="bench")
        for start in range(0, count, 250):
            with db.transaction() as s:
                for i in range(start, min(count, start + 250)):
                    code = f"000.00.21.H57-{prefix}-{i:06d}"
                    upsert_dossier(s, clock, parse_dossier({
                        "code": code, "agency_code": AGENCY, "procedure_code": "1.001612",
                        "procedure_name": "Đăng ký hộ kinh doanh",
                        "applicant_name": "Nguyễn Văn Ánh",
                        "received_at": "2026-11-02T08:00:00+07:00",
                        "fees": [{"kind": "le_phi", "name": "Lệ phí", "amount": 100_000},
                                 {"kind": "phi", "name": "Phí", "amount": 80_000}]}),
                        actor="bench")
                    provider = PROVIDERS[i % len(PROVIDERS)]
                    intent = create_intent(s, clock, settings, dossier_code=code,
                                           channel=CHANNEL[provider], actor="bench").intent
                    out.append(Intent(provider, intent.reference, intent.amount,
                                      intent.order_code))
    finally:
        db.dispose()
    return out


def signed(provider: str, txn_id: str, intent: Intent | None) -> RawRequest:
    """The call ``provider`` sends for a payment of ``intent`` (None: an unmatched transfer)."""
    adapter = get_adapter(provider, PROVIDER_ENV, max_age_seconds=0)
    if intent is None:
        return adapter.build_callback(amount=UNMATCHED_AMOUNT, provider_txn_id=txn_id,
                                      memo="MBVCB.3278907687.NGUYEN VAN B chuyen tien")
    memo = (f"MBVCB.3278907687.{intent.reference}.NGUYEN VAN A chuyen tien"
            if provider in ("sepay", "casso") else None)
    return adapter.build_callback(amount=intent.amount, reference=intent.reference,
                                  provider_txn_id=txn_id, order_code=intent.order_code,
                                  memo=memo)


def accepted_or_duplicate(provider: str, status: int, body: bytes) -> bool:
    """Would the provider take this answer as "delivered" (stop retrying)?"""
    if status >= 300:
        return False
    if provider == "momo":
        return status == 204
    data = json.loads(body)
    if provider == "vnpay":
        return bool(data["RspCode"] in ("00", "02"))
    if provider == "zalopay":
        return bool(data["return_code"] == 1)
    if provider == "pos":
        return bool(data["status"] in ("accepted", "duplicate"))
    return bool(data == {"success": True})


def is_retry_answer(provider: str, status: int, body: bytes) -> bool:
    """Is this the provider's "try again later" (never a success)?"""
    if status >= 500:
        return True
    if provider in ("vnpay", "zalopay") and status == 200:
        data = json.loads(body)
        return bool(data.get("RspCode") == "99" if provider == "vnpay"
                    else data.get("return_code") == 0)
    return False


def send(session: requests.Session, base: str, raw: RawRequest,
         timeout: float = 60) -> requests.Response:
    url = base + raw.path + (f"?{raw.query_string}" if raw.query_string else "")
    return session.request(raw.method, url, headers=dict(raw.headers), data=raw.body or None,
                           timeout=timeout)


# --------------------------------------------------------------------------------------------
# The load


@dataclass(frozen=True)
class Delivery:
    key: tuple[str, str]  # (provider, provider_txn_id)
    raw: RawRequest
    matched: bool


@dataclass(frozen=True)
class Task:
    kind: str  # first, concurrent, duplicate, replay
    delivery: Delivery
    copies: int = 1


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    total: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    status_5xx: int = 0
    not_accepted: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    sent: dict[tuple[str, str], bool] = field(default_factory=dict)  # key -> matched

    def add(self, task: Task, results: list[requests.Response | BaseException]) -> None:
        with self.lock:
            self.sent[task.delivery.key] = task.delivery.matched
            for result in results:
                self.total += 1
                self.by_kind[task.kind] = self.by_kind.get(task.kind, 0) + 1
                if isinstance(result, BaseException):
                    self.exceptions.append(repr(result)[:200])
                    continue
                if result.status_code >= 500:
                    self.status_5xx += 1
                provider = task.delivery.key[0]
                if not accepted_or_duplicate(provider, result.status_code, result.content):
                    self.not_accepted.append(f"{provider} {result.status_code} "
                                             f"{result.text[:120]}")


def plan(intents: list[Intent], rng: random.Random, *, unmatched_every: int = 20
         ) -> Iterator[Task]:
    """The stream of tasks: first deliveries (15 % as concurrent copies), exact duplicates
    (15 %), replays of deliveries 50 or more payments old (10 %), an unmatched transfer every
    ``unmatched_every`` payments."""
    delivered: list[Delivery] = []
    serial = itertools.count(1)
    for n, intent in enumerate(intents):
        if n % unmatched_every == unmatched_every - 1:
            provider = ("sepay", "casso")[n % 2]
            txn = f"SOAKU{next(serial):09d}"
            delivery = Delivery((provider, txn), signed(provider, txn, None), False)
        else:
            txn = f"{700_000_000 + next(serial)}"
            delivery = Delivery((intent.provider, txn), signed(intent.provider, txn, intent),
                                True)
        roll = rng.random()
        if roll < 0.15:
            yield Task("concurrent", delivery, copies=rng.choice((2, 3)))
        else:
            yield Task("first", delivery)
            if roll < 0.30:
                yield Task("duplicate", delivery)
        delivered.append(delivery)
        if len(delivered) > 50 and rng.random() < 0.10:
            yield Task("replay", rng.choice(delivered[:-50]))


class Load:
    """``threads`` client threads sending ``plan`` paced at ``rate`` requests/s in all,
    alternating the instances, until ``duration`` seconds have passed or the plan ends."""

    def __init__(self, bases: list[str], tasks: Iterator[Task], *, rate: float,
                 threads: int) -> None:
        self.bases = bases
        self.tasks = tasks
        self.rate = rate
        self.threads = threads
        self.tally = Tally()
        self._lock = threading.Lock()
        self._slot = 0
        self._turn = itertools.count()
        self._stop = threading.Event()

    def _next(self) -> tuple[Task, int] | None:
        with self._lock:
            task = next(self.tasks, None)
            if task is None:
                return None
            start = self._slot
            self._slot += task.copies
            return task, start

    def _worker(self, started: float, deadline: float) -> None:
        sessions = {base: requests.Session() for base in self.bases}
        while not self._stop.is_set() and time.monotonic() < deadline:
            item = self._next()
            if item is None:
                return
            task, slot = item
            wait = started + slot / self.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            turn = next(self._turn)
            if task.copies == 1:
                base = self.bases[turn % len(self.bases)]
                try:
                    results: list[requests.Response | BaseException] = [
                        send(sessions[base], base, task.delivery.raw)]
                except requests.RequestException as exc:
                    results = [exc]
            else:
                results = self._together(task, turn)
            self.tally.add(task, results)

    def _together(self, task: Task, turn: int) -> list[requests.Response | BaseException]:
        """``task.copies`` identical requests released at once across the instances."""
        barrier = threading.Barrier(task.copies)
        results: list[requests.Response | BaseException] = [RuntimeError("not sent")] * \
            task.copies

        def one(index: int) -> None:
            base = self.bases[(turn + index) % len(self.bases)]
            try:
                barrier.wait(timeout=30)
                with requests.Session() as session:
                    results[index] = send(session, base, task.delivery.raw)
            except (requests.RequestException, threading.BrokenBarrierError) as exc:
                results[index] = exc

        workers = [threading.Thread(target=one, args=(i,)) for i in range(task.copies)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        return results

    def run(self, duration: float) -> float:
        started = time.monotonic()
        deadline = started + duration
        workers = [threading.Thread(target=self._worker, args=(started, deadline))
                   for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return time.monotonic() - started


# --------------------------------------------------------------------------------------------
# The checks: each figure with the query that gives it

QUERIES: dict[str, str] = {
    "payments": "SELECT count(*) FROM payments",
    "distinct_payments": "SELECT count(DISTINCT (provider, provider_txn_id)) FROM payments",
    "doubled_keys": "SELECT count(*) FROM (SELECT provider, provider_txn_id FROM payments "
                    "GROUP BY 1, 2 HAVING count(*) > 1) d",
    "callbacks": "SELECT count(*) FROM callbacks",
    "callbacks_5xx_or_error": "SELECT count(*) FROM callbacks WHERE response_status >= 500 "
                              "OR outcome = 'error' OR response_status IS NULL",
    "callbacks_accepted": "SELECT count(*) FROM callbacks WHERE outcome IN "
                          "('accepted', 'unknown_order')",
    "callbacks_duplicate": "SELECT count(*) FROM callbacks WHERE outcome = 'duplicate'",
    "payments_without_callback": "SELECT count(*) FROM payments p WHERE NOT EXISTS (SELECT 1 "
                                 "FROM callbacks c WHERE c.payment_id = p.id)",
    "runs": "SELECT count(*) FROM recon_runs",
    "runs_not_succeeded": "SELECT count(*) FROM recon_runs WHERE status <> 'succeeded'",
    "run_overlaps": "SELECT count(*) FROM recon_runs a JOIN recon_runs b ON a.id < b.id "
                    "AND b.started_at < a.finished_at AND a.started_at < b.finished_at",
    "window_gaps": "SELECT count(*) FROM recon_runs r WHERE r.mode = 'incremental' AND "
                   "r.window_start > (SELECT p.as_of FROM recon_runs p WHERE p.id < r.id AND "
                   "p.status = 'succeeded' ORDER BY p.id DESC LIMIT 1)",
    "schedulers_taking_turns": "SELECT count(DISTINCT split_part(triggered_by, ':', 3) || "
                               "split_part(triggered_by, ':', 4)) FROM recon_runs",
    "intents_paid": "SELECT count(*) FROM payment_intents WHERE status = 'paid'",
    "intents_paid_without_payment": "SELECT count(*) FROM payment_intents i WHERE "
                                    "i.status = 'paid' AND NOT EXISTS (SELECT 1 FROM payments "
                                    "p WHERE p.intent_id = i.id AND p.status = 'succeeded')",
    "intents_unpaid_with_payment": "SELECT count(*) FROM payment_intents i WHERE "
                                   "i.status <> 'paid' AND EXISTS (SELECT 1 FROM payments p "
                                   "WHERE p.intent_id = i.id AND p.status = 'succeeded')",
    "unmatched_payments": "SELECT count(*) FROM payments WHERE intent_id IS NULL",
    "unmatched_found_by_incremental_runs":
        "SELECT count(*) FROM discrepancies d JOIN recon_runs r ON r.id = d.first_run_id "
        "WHERE d.kind = 'unmatched_payment' AND r.triggered_by LIKE 'scheduler:%'",
}


def check(url: str, tally: Tally) -> dict[str, Any]:
    """Every figure of :data:`QUERIES`, and the comparison with what was sent."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            figures: dict[str, Any] = {name: int(conn.execute(text(sql)).scalar_one())
                                       for name, sql in QUERIES.items()}
            stored = {(str(p), str(t)) for p, t in conn.execute(text(
                "SELECT provider, provider_txn_id FROM payments"))}
            failed = [f"run {i} ({by}): {error}" for i, by, error in conn.execute(text(
                "SELECT id, triggered_by, error FROM recon_runs WHERE status <> 'succeeded' "
                "ORDER BY id LIMIT 5"))]
    finally:
        engine.dispose()
    sent = set(tally.sent)
    figures["runs_not_succeeded_sample"] = failed
    figures["sent_distinct"] = len(sent)
    figures["sent_missing"] = len(sent - stored)  # sent, answered, and not recorded: lost
    figures["stored_not_sent"] = len(stored - sent)
    figures["sent_matched"] = sum(1 for matched in tally.sent.values() if matched)
    figures["sent_unmatched"] = len(sent) - figures["sent_matched"]
    db = Database(url)
    try:
        deadline = time.monotonic() + 30
        while True:  # the servers have stopped; seal whatever their sealers left
            with db.transaction() as s:
                audit.seal(s)
            with db.read() as s:
                if audit.unsealed_count(s) == 0 or time.monotonic() > deadline:
                    break
        with db.read() as s:
            chain = audit.verify_chain(s)
        figures["audit_chain_ok"] = bool(chain.ok)
        figures["audit_events_checked"] = int(chain.checked)
    finally:
        db.dispose()
    return figures


def final_full_run(url: str) -> dict[str, int]:
    """A full run after the load: what the incremental runs missed (it should be nothing)."""
    db = Database(url)
    try:
        summary = run_reconciliation(db, clock=SystemClock(), audit=audit.record_on, mode="full",
                                     triggered_by="bench:soak-final")
    finally:
        db.dispose()
    return {"new": summary.new, "auto_resolved": summary.auto_resolved,
            "unmatched_payment": int(summary.counts.get("unmatched_payment", 0))}


def slots_without_run(url: str, interval: float) -> tuple[int, int]:
    """(interval slots from the first run's start to the last's, slots in which no run
    started): a figure, not a check (a busy machine delays ticks; the windows are what
    guarantees that nothing is skipped)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        starts = [float(v) for v in conn.execute(text(
            "SELECT extract(epoch FROM started_at) FROM recon_runs ORDER BY started_at"
        )).scalars()]
    engine.dispose()
    if not starts:
        return 0, 0
    started, end = starts[0], starts[-1]
    slots = max(1, int((end - started) // interval))
    empty = sum(1 for k in range(slots) if not any(
        started + k * interval <= s < started + (k + 1) * interval for s in starts))
    return slots, empty


# --------------------------------------------------------------------------------------------
# The whole soak


def soak(url: str, workdir: Path, *, duration: float, rate: float, interval: float,
         threads: int = 6, seed: int = 7) -> dict[str, Any]:
    """Run the soak on the migrated, empty database ``url``; the figures."""
    phases: dict[str, float] = {}
    mark = time.monotonic()
    expected = int(duration * rate / 1.3) + 100  # payments the plan may need
    intents = seed_intents(url, expected)
    phases["seed"] = time.monotonic() - mark
    env = base_env(url, workdir, **PROVIDER_ENV, RECON_AUDIT_SEAL_SECONDS="0.5",
                   RECON_RECONCILE_INTERVAL_SECONDS=f"{interval:g}",
                   RECON_LOG_LEVEL="INFO")
    webs: list[Proc] = []
    schedulers: list[Proc] = []
    load_before = os.getloadavg()
    try:
        mark = time.monotonic()
        for i in range(2):  # appended one by one: one that started is stopped if the next fails
            webs.append(start_gunicorn(env, workdir, name=f"web{i}"))
        for i in range(2):
            schedulers.append(start_scheduler(env, workdir, name=f"scheduler{i}"))
        phases["start"] = time.monotonic() - mark
        load = Load([w.base for w in webs], plan(intents, random.Random(seed)), rate=rate,
                    threads=threads)
        seconds = load.run(duration)
        time.sleep(2 * interval + 1)  # the last ticks see the last payments
    finally:
        mark = time.monotonic()
        scheduler_codes = [p.stop(timeout=60) for p in schedulers]
        web_codes = [p.stop() for p in webs]
        phases["stop"] = time.monotonic() - mark
    load_after = os.getloadavg()
    tally = load.tally
    mark = time.monotonic()
    figures = check(url, tally)
    slots, empty = slots_without_run(url, interval)
    final = final_full_run(url)
    phases["check"] = time.monotonic() - mark
    logs = "\n".join(p.output() for p in webs)
    return {
        "duration_s": round(seconds, 1),
        "rate_target": rate,
        "requests_sent": tally.total,
        "requests_by_kind": tally.by_kind,
        "callbacks_per_s": round(tally.total / seconds, 1),
        "distinct_payments": figures["distinct_payments"],
        "duplicates": tally.total - len(tally.sent),
        "status_5xx": tally.status_5xx,
        "not_accepted": len(tally.not_accepted),
        "not_accepted_sample": tally.not_accepted[:5],
        "client_errors": len(tally.exceptions),
        "client_errors_sample": tally.exceptions[:5],
        "runs": figures["runs"],
        "overlaps": figures["run_overlaps"],
        "gaps": figures["window_gaps"],
        "scheduler_slots": slots,
        "slots_without_run_start": empty,
        "final_full_run": final,
        "figures": figures,
        "queries": QUERIES,
        "exit_codes": {"schedulers": scheduler_codes, "web": web_codes},
        "tracebacks_in_server_logs": logs.count("Traceback"),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(),
        "phase_seconds": {k: round(v, 1) for k, v in phases.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=60.0, help="requests per second, in all")
    parser.add_argument("--interval", type=float, default=3.0,
                        help="scheduler interval, seconds")
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--database-url", default=os.environ.get("RECON_TEST_DATABASE_URL",
                                                                 DEFAULT_PG))
    args = parser.parse_args()
    import tempfile

    with scratch_database("postgresql", args.database_url) as url, \
            tempfile.TemporaryDirectory() as tmp:
        result = soak(url, Path(tmp), duration=args.duration, rate=args.rate,
                      interval=args.interval, threads=args.threads)
    print(json.dumps(result, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    main()
