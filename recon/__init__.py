"""recon: payment reconciliation for Vietnam's public administrative service centres."""

from __future__ import annotations

from typing import Any

from flask import Flask

from recon.clock import Clock, SystemClock
from recon.config import Settings, load_settings
from recon.db import Database
from recon.logs import configure_logging

__version__ = "0.1.0"


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               database: Database | None = None, **overrides: Any) -> Flask:
    """Build the application: settings, database, blueprints. Reads the environment only here."""
    settings = settings or load_settings()
    if overrides:
        settings = settings.with_overrides(**overrides)
    configure_logging(settings.get("LOG_FORMAT") or ("text" if settings.is_development
                                                      else "json"),
                      settings.get("LOG_LEVEL") or "INFO")
    # the banking calendar and the fee contracts are data files: a bad one stops the start
    # here, naming its problems, rather than the first reconciliation run
    from recon.calendar import calendar_from_settings  # noqa: PLC0415
    from recon.contracts import contracts_from_settings  # noqa: PLC0415
    from recon.payments.methods import methods_from_settings  # noqa: PLC0415

    calendar_from_settings(settings.env)
    contracts_from_settings(settings.env)
    methods_from_settings(settings.env)  # the operator's payment method codes
    # a bad RECON_RECEIPT* value stops the start too, not the first payment's recording
    from recon.receipts.issuing import receipting  # noqa: PLC0415

    receipting(settings.env)
    app = Flask(__name__, instance_path=str(settings.instance_path.resolve()),
                template_folder="web/templates", static_folder="web/static")
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["RECON_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = 32 * 1024 * 1024
    app.extensions["recon.settings"] = settings
    app.extensions["recon.db"] = database or Database(
        settings.database_url, ping_after_seconds=settings.db_ping_after_seconds)
    app.extensions["recon.clock"] = clock or SystemClock()

    from recon.web import init_app  # noqa: PLC0415 - web imports models; keep start-up lazy

    init_app(app)
    from recon.scheduler import install  # noqa: PLC0415 - `recon serve` starts it (issue 5)

    install(app)
    return app
