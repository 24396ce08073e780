"""Helpers for the hardening tests: an app with every provider configured (distinctive secret
values, so a scan can look for them), seeded data, tokens."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient

from recon import create_app
from recon.accounts.auth import create_token
from recon.clock import Clock
from recon.config import load_settings
from recon.db import Database
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.payments.intents import create_intent
from recon.web.openapi import EXAMPLE_AGENCY
from tests.foundation.helpers import AGENCY, dossier_body, seed_agency

# Every credential a provider adapter reads, with a value no other text in the system contains.
PROVIDER_ENV: dict[str, str] = {
    "RECON_VNPAY_TMN_CODE": "HARDTMN1",
    "RECON_VNPAY_HASH_SECRET": "Zq7vnpayHashSecretCURRENT4417",
    "RECON_VNPAY_HASH_SECRET_PREVIOUS": "Zq7vnpayHashSecretPREVIOUS9921",
    "RECON_MOMO_PARTNER_CODE": "MOMOHARD",
    "RECON_MOMO_ACCESS_KEY": "Zq7momoAccessKey5521",
    "RECON_MOMO_SECRET_KEY": "Zq7momoSecretKeyCURRENT8830",
    "RECON_MOMO_SECRET_KEY_PREVIOUS": "Zq7momoSecretKeyPREVIOUS1174",
    "RECON_ZALOPAY_APP_ID": "2553",
    "RECON_ZALOPAY_KEY1": "Zq7zalopayKey1Value6612",
    "RECON_ZALOPAY_KEY2": "Zq7zalopayKey2CURRENT3391",
    "RECON_ZALOPAY_KEY2_PREVIOUS": "Zq7zalopayKey2PREVIOUS7745",
    "RECON_PAYOS_CLIENT_ID": "payos-hard-client",
    "RECON_PAYOS_API_KEY": "Zq7payosApiKey2208",
    "RECON_PAYOS_CHECKSUM_KEY": "Zq7payosChecksumCURRENT5567",
    "RECON_PAYOS_CHECKSUM_KEY_PREVIOUS": "Zq7payosChecksumPREVIOUS0043",
    "RECON_SEPAY_API_KEY": "Zq7sepayApiKeyCURRENT9184",
    "RECON_SEPAY_API_KEY_PREVIOUS": "Zq7sepayApiKeyPREVIOUS3326",
    "RECON_CASSO_CHECKSUM_KEY": "Zq7cassoChecksumCURRENT4471",
    "RECON_CASSO_CHECKSUM_KEY_PREVIOUS": "Zq7cassoChecksumPREVIOUS8852",
    "RECON_CASSO_API_KEY": "Zq7cassoApiKey6639",
    "RECON_POS_SECRET": "Zq7posSecretCURRENT2280",
    "RECON_POS_SECRET_PREVIOUS": "Zq7posSecretPREVIOUS5513",
}
# the values that are credentials (merchant codes and app ids are not secret)
SECRET_VALUES: tuple[str, ...] = tuple(v for v in PROVIDER_ENV.values() if v.startswith("Zq7"))
CODE = "000.00.21.H57-210401-0001"
TOTAL = 180_000


@dataclass
class Api:
    app: Flask
    client: FlaskClient
    db: Database
    clock: Clock
    tokens: dict[str, str]
    intent_id: int

    def auth(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_app(env: dict[str, str], db: Database, clock: Clock, **extra: str) -> Flask:
    app = create_app(load_settings({**env, **PROVIDER_ENV, **extra}), clock=clock, database=db)
    app.config["TESTING"] = True
    return app


def seed(db: Database, clock: Clock) -> int:
    """An agency, one dossier with two fee lines, one open VietQR intent (its id)."""
    seed_agency(db, clock)
    seed_agency(db, clock, EXAMPLE_AGENCY)  # the agency of the OpenAPI examples
    with db.transaction() as s:
        upsert_dossier(s, clock, parse_dossier(dossier_body(CODE, agency_code=EXAMPLE_AGENCY)),
                       actor="test")
    with db.transaction() as s:
        settings = load_settings({"RECON_ENV": "test"})
        outcome = create_intent(s, clock, settings, dossier_code=CODE, channel="vietqr",
                                amount=50_000, actor="test")
        return outcome.intent.id


def make_api(env: dict[str, str], db: Database, clock: Clock, **extra: str) -> Api:
    app = make_app(env, db, clock, **extra)
    intent_id = seed(db, clock)
    tokens = {}
    for role in ("intake", "cashier", "finance", "admin"):
        with db.transaction() as s:
            _, tokens[role] = create_token(s, clock, name=f"{role}-hardening", role=role, user=None)
    return Api(app, app.test_client(), db, clock, tokens, intent_id)


__all__ = ["AGENCY", "CODE", "PROVIDER_ENV", "SECRET_VALUES", "TOTAL", "Api", "make_api",
           "make_app", "seed"]
