"""Coverage-guided fuzzing (Atheris/libFuzzer) of the edges that read outside bytes.

Not run in CI (the Hypothesis suites in tests/hardening are); run it for minutes or hours when
the codec, an adapter or an importer changes:

    .venv/bin/pip install -e '.[fuzz]'
    .venv/bin/python bench/fuzz_vietqr.py --target vietqr -- -max_total_time=300
    .venv/bin/python bench/fuzz_vietqr.py --target adapters -- -runs=200000 corpus/

Targets: ``vietqr`` (decode: never raises; a valid result's amount is the one the payload
states), ``adapters`` (every provider's ``parse_callback`` on the bytes as a body and as a query
string: only ``AdapterError``), ``intake`` (JSON → ``parse_dossier``: only ``ValidationError``;
accepted amounts are the JSON integers), ``settlements`` (``parse_settlement`` with each built-in
profile: only ``ValidationError``). Arguments after ``--`` go to libFuzzer; without a corpus
directory a temporary one is seeded with valid inputs. A crash writes the input to
``crash-<sha1>`` and exits non-zero. libFuzzer's last line (``DONE``) gives the figures: runs
(``#N``), coverage and executions per second.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports():
    import adapters
    from adapters import AdapterError, RawRequest, get_adapter
    from recon.errors import ValidationError
    from recon.intake.dossiers import parse_dossier
    from recon.settlements.importer import load_profiles, parse_settlement
    from recon.vietqr.codec import decode

PROVIDER_ENV = {
    "RECON_VNPAY_TMN_CODE": "FUZZTMN1", "RECON_VNPAY_HASH_SECRET": "fuzz-vnpay",
    "RECON_MOMO_PARTNER_CODE": "MOMOFUZZ", "RECON_MOMO_ACCESS_KEY": "fuzz-momo-access",
    "RECON_MOMO_SECRET_KEY": "fuzz-momo", "RECON_ZALOPAY_APP_ID": "2553",
    "RECON_ZALOPAY_KEY1": "fuzz-zalo-1", "RECON_ZALOPAY_KEY2": "fuzz-zalo-2",
    "RECON_PAYOS_CLIENT_ID": "fuzz", "RECON_PAYOS_API_KEY": "fuzz",
    "RECON_PAYOS_CHECKSUM_KEY": "fuzz-payos", "RECON_SEPAY_API_KEY": "fuzz-sepay",
    "RECON_CASSO_CHECKSUM_KEY": "fuzz-casso", "RECON_POS_SECRET": "fuzz-pos",
}
NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
SEEDS = {
    "vietqr": [b"00020101021238570010A000000727012700069704220113VQRQ000000000208QRIBFTTA"
               b"530370454061800005802VN62150811HS7K3M9QX2R6304"],
    "intake": [json.dumps({"code": "A-1", "agency_code": "HUE", "procedure_code": "1",
                           "procedure_name": "P", "applicant_name": "A",
                           "received_at": "2021-04-01T08:30:00+07:00",
                           "fees": [{"kind": "phi", "name": "F", "amount": 1000}]}).encode()],
    "settlements": [b"provider_txn_id,amount,fee,transaction_at,settled_on\n"
                    b"7001,100000,1100,2021-04-01T08:41:00+07:00,2021-04-02\n"],
}


def stated_amount(payload: str) -> int | None:
    pos = 0
    while pos + 4 <= len(payload):
        tag, length = payload[pos:pos + 2], payload[pos + 2:pos + 4]
        if not length.isdigit():
            return None
        value = payload[pos + 4:pos + 4 + int(length)]
        if tag == "54":
            digits = value.rstrip(".")
            return int(digits) if digits.isdigit() else None
        pos += 4 + int(length)
    return None


def fuzz_vietqr(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    result = decode(text)
    if result.valid and result.amount is not None and result.amount != stated_amount(text):
        raise AssertionError(f"amount {result.amount} is not what {text!r} states")


ADAPTERS = {name: get_adapter(name, PROVIDER_ENV, max_age_seconds=0)
            for name in adapters.PROVIDERS}


def fuzz_adapters(data: bytes) -> None:
    headers = {"Authorization": "Apikey fuzz-sepay", "X-Casso-Signature": "t=1,v1=00",
               "X-Recon-Signature": "t=1,v1=00", "Content-Type": "application/json"}
    for adapter in ADAPTERS.values():
        for raw in (RawRequest("POST", "/webhooks/x", "", headers, data, NOW),
                    RawRequest("GET", "/webhooks/x", data.decode("utf-8", "replace"), {}, b"",
                               NOW)):
            try:
                event = adapter.parse_callback(raw)
            except AdapterError:
                continue
            if not isinstance(event.amount, int) or event.amount < 0:
                raise AssertionError(f"{adapter.name}: amount {event.amount!r}")


def fuzz_intake(data: bytes) -> None:
    try:
        obj: Any = json.loads(data, parse_float=Decimal)
    except (ValueError, ArithmeticError, RecursionError):
        return
    try:
        parsed = parse_dossier(obj)
    except ValidationError:
        return
    sent = [f["amount"] for f in obj["fees"]]
    if [f.amount for f in parsed.fees] != sent or not all(type(a) is int for a in sent):
        raise AssertionError(f"amounts {parsed.fees} from {sent}")


PROFILES = load_profiles()


def fuzz_settlements(data: bytes) -> None:
    for profile in PROFILES.values():
        for name in ("report.csv", "report.xlsx"):
            try:
                result = parse_settlement(data, name, profile)
            except ValidationError:
                continue
            for line in result.lines:
                if line.net != line.amount - line.fee or line.amount < 0 or line.fee < 0:
                    raise AssertionError(f"{profile.name}: {line}")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "vietqr": fuzz_vietqr, "adapters": fuzz_adapters, "intake": fuzz_intake,
    "settlements": fuzz_settlements,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=sorted(TARGETS), default="vietqr")
    args, rest = parser.parse_known_args()
    target = TARGETS[args.target]
    libfuzzer_args = [a for a in rest if a != "--"]
    seeds = SEEDS.get(args.target, [])
    for seed in seeds:
        target(seed)  # the harness itself must accept valid input
    if seeds and not any(not a.startswith("-") for a in libfuzzer_args):
        corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{args.target}-"))
        for i, seed in enumerate(seeds):
            (corpus / f"seed-{i}").write_bytes(seed)
        libfuzzer_args.append(str(corpus))
    atheris.Setup([sys.argv[0], *libfuzzer_args], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
