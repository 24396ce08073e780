"""CPU cost of card-number masking (adapters.scrub.mask_pans) on 64 KiB webhook bodies.

    python bench/scrub.py [--repeat 3]

Masking runs on every webhook body and header before the signature is checked (issue 16 item
2): an unauthenticated sender chooses the input. Prints, per adversarial shape, the best
process time of ``--repeat`` runs in milliseconds. Target (issue 16): under 20 ms for any
64 KiB body.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.scrub import mask_pans

SIZE = 64 * 1024


def shapes(size: int = SIZE) -> dict[str, bytes]:
    rng = random.Random(16)
    nineteen = b"-".join([b"0"] * 19) + b" "
    return {
        "0- repeated": (b"0-" * size)[:size],
        "digits with spaces": (b"4111 " * size)[:size],
        "all digits": b"7" * size,
        "19-digit runs of 1-digit groups": (nineteen * size)[:size],
        "random digits, separators, letters": bytes(rng.choice(b"0123456789 -abc")
                                                    for _ in range(size)),
        "json body with a memo": (json.dumps({"content": "HS7Q2K nop le phi " * 3000})
                                  .encode()[:size]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name, body in shapes().items():
        best = min(_time(body) for _ in range(args.repeat))
        print(json.dumps({"shape": name, "bytes": len(body), "mask_ms": round(best * 1000, 1)}))


def _time(body: bytes) -> float:
    started = time.process_time()
    mask_pans(body)
    return time.process_time() - started


if __name__ == "__main__":
    main()
