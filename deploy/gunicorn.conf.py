"""gunicorn settings for recon: ``gunicorn -c deploy/gunicorn.conf.py recon.wsgi:app``.

Every value can be overridden from the environment of the service (see README, Deployment).
Sync workers: each request is short (a webhook is two small transactions), and a worker that
hangs is killed and replaced after ``timeout`` seconds, which bounds the damage of one bad call.
"""

from __future__ import annotations

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


# nginx (TLS) in front on the same host; set RECON_TRUSTED_PROXIES=1 in the app's environment
bind = os.environ.get("RECON_BIND", "127.0.0.1:8000")
workers = _int("RECON_WEB_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 9))
worker_class = "sync"
timeout = _int("RECON_WEB_TIMEOUT", 30)  # a worker silent this long is killed and replaced
graceful_timeout = 30  # on SIGTERM/HUP, requests under way get this long to finish
keepalive = 5
max_requests = 5000  # recycle workers now and then (bounded memory over months)
max_requests_jitter = 500
# each worker builds its own app, engine and connection pool after the fork: a pool must never
# be shared across processes
preload_app = False
# recon writes one JSON access line per request itself (method, path, status, ms, request id;
# never a query string, which for VNPay holds signed payment data): gunicorn's own is off
accesslog = None
errorlog = "-"
loglevel = os.environ.get("RECON_LOG_LEVEL", "info").lower()
forwarded_allow_ips = os.environ.get("RECON_FORWARDED_ALLOW_IPS", "127.0.0.1")
limit_request_line = 8190  # VNPay's signed query strings are long, but not longer than this
proc_name = "recon-web"
# gunicorn 24+ opens a control socket in $HOME/.gunicorn, which the units' ProtectSystem=strict
# makes read-only (a warning at every start); the service is driven by systemd's signals
# (reload = HUP). Older gunicorn ignores the name.
control_socket_disable = True
