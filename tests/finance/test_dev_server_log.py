"""`recon serve` logs each request once (issue 13, item 9): ``recon.access`` writes its line
(path without the query string); werkzeug's own request line, which carried the full query
string and so a provider's signature, is gone. Its start-up lines and its errors stay."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from recon.cli.admin import upgrade_database
from recon.cli.serve import QuietRequestHandler

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sig-0123456789abcdef-topsecret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text("utf-8")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("recon serve did not start: " + log.read_text("utf-8"))


def test_recon_serve_logs_each_request_once_without_its_query_string(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade_database(url)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    env.update({"RECON_DATABASE_URL": url, "RECON_INSTANCE_PATH": str(tmp_path / "instance"),
                "RECON_SECRET_KEY": "serve-log-test-secret-0123456789abcdef",
                "RECON_ENV": "test", "RECON_LOG_FORMAT": "text"})
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "recon.cli", "serve", "--port", str(port), "--no-scheduler"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_until_listening(port, proc, log)
            base = f"http://127.0.0.1:{port}"
            with urllib.request.urlopen(f"{base}/login?signature={SECRET}", timeout=10) as r:
                assert r.status == 200
            with urllib.request.urlopen(f"{base}/healthz?token={SECRET}", timeout=10) as r:
                assert r.status in (200, 503)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                raw.sendall(b"NONSENSE /x\r\n\r\n")  # werkzeug's error log stays
                raw.recv(100)
            time.sleep(0.5)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    text = log.read_text("utf-8")
    assert SECRET not in text, text
    login_lines = [line for line in text.splitlines() if "/login" in line]
    assert len(login_lines) == 1, text
    assert "recon.access" in login_lines[0] and "GET /login 200" in login_lines[0]
    assert len([line for line in text.splitlines() if "/healthz" in line]) == 1, text
    assert f"Running on http://127.0.0.1:{port}" in text  # start-up kept
    assert "NONSENSE" in text and "ERROR werkzeug" in text  # errors kept


def test_the_quiet_handler_only_drops_the_request_line() -> None:
    own = set(vars(QuietRequestHandler))
    assert "log_request" in own
    assert not own & {"log_error", "log_message", "log"}
