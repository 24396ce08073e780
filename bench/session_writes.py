"""What a server-side session costs a logged-in browser's requests (issue 16).

    python bench/session_writes.py [--requests 120] [--every 5]

A fresh migrated SQLite database, one finance user logged in through the form; then
``--requests`` GETs of ``/`` with the clock (a ``FixedClock``) moved ``--every`` seconds before
each. Counts the SQL statements the requests ran by kind: the session lookup is one SELECT per
request, and ``web_sessions.last_seen_at`` is written at most once a minute, so writes are
about ``requests * every / 60``. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from recon import create_app
from recon.accounts.auth import create_user
from recon.cli.admin import upgrade_database
from recon.clock import FixedClock
from recon.config import load_settings
from recon.db import Database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument("--every", type=int, default=5, help="seconds between requests")
    args = parser.parse_args()
    where = Path(tempfile.mkdtemp(prefix="recon-bench-sessions-"))
    url = f"sqlite:///{where / 'recon.db'}"
    upgrade_database(url)
    db = Database(url)
    clock = FixedClock(datetime(2026, 11, 26, 3, tzinfo=UTC))
    app = create_app(load_settings({"RECON_DATABASE_URL": url, "RECON_ENV": "test",
                                    "RECON_SECRET_KEY": "bench-" + "k" * 40,
                                    "RECON_INSTANCE_PATH": str(where),
                                    "RECON_LOG_LEVEL": "WARNING"}), clock=clock, database=db)
    with db.transaction() as s:
        create_user(s, clock, username="ketoan", role="finance", password="bench-password-1")
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    assert client.post("/login", data={"username": "ketoan", "password": "bench-password-1",
                                       "csrf_token": csrf}).status_code == 302
    kinds: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        kinds[statement.split(None, 1)[0].upper()] += 1

    event.listen(db.engine, "before_cursor_execute", count)
    for _ in range(args.requests):
        clock.advance(timedelta(seconds=args.every))
        assert client.get("/").status_code in (200, 302)
    print(json.dumps({"requests": args.requests, "every_seconds": args.every,
                      "selects": kinds["SELECT"], "updates": kinds["UPDATE"],
                      "statements": sum(kinds.values())}))
    db.dispose()


if __name__ == "__main__":
    main()
