"""CPU cost of card-number masking (adapters.scrub.mask_pans) on 64 KiB webhook bodies.

    python bench/scrub.py [--repeat 5]

Masking runs on every stored webhook call, and an unauthenticated sender chooses the input
(issue 16 item 2). Prints one JSON line per adversarial shape (the best process time of
``--repeat`` runs, in milliseconds, with the Luhn windows checked per byte), then a summary
line with the worst shape. Also the issue's header attack: 90 headers of 8 KiB, through the
accepted path (every header masked) and the refused path (a bounded part kept and scanned).
Target (issue 16): under 20 ms for any 64 KiB body.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.scrub import Work, mask_pans, redact_headers
from recon.payments.refused import kept_headers

SIZE = 64 * 1024
TARGET_MS = 20.0


def _fill(pattern: bytes, size: int = SIZE) -> bytes:
    return (pattern * (size // len(pattern) + 1))[:size]


def shapes(size: int = SIZE) -> dict[str, bytes]:
    rng = random.Random(16)
    nineteen = b"-".join([b"0"] * 19) + b" "
    return {
        "0- repeated": _fill(b"0-", size),
        "0 (space) repeated": _fill(b"0 ", size),
        "0+ repeated (URL spaces)": _fill(b"0+", size),
        "%30%20 repeated (percent-encoded)": _fill(b"%30%20", size),
        "\\u0030 repeated (JSON escapes)": _fill(b"\\u0030", size),
        "digits only, all 0 (every window passes Luhn)": b"0" * size,
        "digits only, all 7 (no window passes)": b"7" * size,
        "digits only, random": bytes(rng.choice(b"0123456789") for _ in range(size)),
        "4111 1111 1111 1111 repeated": _fill(b"4111 1111 1111 1111 ", size),
        "4111 repeated": _fill(b"4111 ", size),
        "19-digit runs of 1-digit groups": _fill(nineteen, size),
        "13-digit runs between letters": _fill(b"0000000000000x", size),
        "random digits, separators, letters": bytes(rng.choice(b"0123456789 -abc")
                                                    for _ in range(size)),
        "json body with a memo": (json.dumps({"content": "HS7Q2K nop le phi " * 3700})
                                  .encode()[:size]),
    }


def _best_ms(call: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        call()
        best = min(best, time.process_time() - started)
    return round(best * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    worst = ("", 0.0)
    for name, body in shapes().items():
        ms = _best_ms(partial(mask_pans, body), args.repeat)
        work = Work()
        mask_pans(body, work=work)
        print(json.dumps({"shape": name, "bytes": len(body), "mask_ms": ms,
                          "windows_per_byte": round(work.windows / len(body), 2)}))
        if ms > worst[1]:
            worst = (name, ms)
    headers = {f"X-Junk-{i:02}": _fill(b"0-", 8 * 1024).decode() for i in range(90)}
    print(json.dumps({"shape": "90 headers of 8 KiB ('0-'), accepted call: all masked",
                      "bytes": 90 * 8 * 1024,
                      "mask_ms": _best_ms(lambda: redact_headers(headers), args.repeat)}))
    print(json.dumps({"shape": "90 headers of 8 KiB ('0-'), refused call: bounded part kept",
                      "bytes": 90 * 8 * 1024,
                      "mask_ms": _best_ms(lambda: kept_headers(headers), args.repeat)}))
    print(json.dumps({"summary": "worst 64 KiB body", "shape": worst[0], "mask_ms": worst[1],
                      "target_ms": TARGET_MS, "met": worst[1] < TARGET_MS,
                      "date": datetime.now(UTC).date().isoformat(), "repeat": args.repeat}))


if __name__ == "__main__":
    main()
