"""Settings, read from ``RECON_*`` environment variables when the app is built (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_INSTANCE = Path("instance")
DEFAULT_INTENT_EXPIRY_INTERVAL = 60
DEFAULT_HEALTH_TIMEOUT = 2.0


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value <= 0:
        raise ValueError(f"{name} must be a whole number of seconds above 0, got {value}; "
                         f"unset it for the default ({default})")
    return value


def _non_negative_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 0:
        raise ValueError(f"{name} must be a whole number of seconds, 0 or more, got {value}; "
                         f"unset it for the default ({default})")
    return value


def _positive_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}; unset it for the "
                         f"default ({default:g})") from None
    if not 0 < value <= 60:
        raise ValueError(f"{name} must be above 0 and at most 60 seconds, got {raw!r}; unset "
                         f"it for the default ({default:g})")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    instance_path: Path
    environment: str = "development"
    reference_prefix: str = "HS"
    intent_ttl_seconds: int = 15 * 60
    signature_max_age_seconds: int = 300
    # how often the scheduler sweeps issued intents whose time is up (recon.scheduler)
    intent_expiry_interval_seconds: int = DEFAULT_INTENT_EXPIRY_INTERVAL
    secret_key_previous: tuple[str, ...] = ()
    # PostgreSQL: a pooled connection idle longer than this is pinged before use (0: always)
    db_ping_after_seconds: int = 1
    # how long /healthz waits for a lock before it says "busy" (recon.web.health)
    health_timeout_seconds: float = DEFAULT_HEALTH_TIMEOUT
    # where webhook calls go when the database cannot store them (recon.payments.spool); None: the
    # instance directory's spool/
    spool_dir: Path | None = None
    # every RECON_* variable, so provider adapters can read their own secrets
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def is_development(self) -> bool:
        return self.environment in {"development", "test"}

    @property
    def spool_path(self) -> Path:
        """The spool directory (``RECON_SPOOL_DIR``, else ``<instance>/spool``)."""
        return self.spool_dir if self.spool_dir is not None else self.instance_path / "spool"

    def get(self, name: str, default: str | None = None) -> str | None:
        """A raw ``RECON_<NAME>`` value (``name`` without the prefix)."""
        value = self.env.get(f"RECON_{name}")
        return value if value not in (None, "") else default

    def whole_number(self, name: str, default: int, *, minimum: int = 1) -> int:
        """``RECON_<NAME>`` as a whole number of at least ``minimum`` (``default`` when unset);
        anything else is a :class:`ValueError` naming the variable and the default."""
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"RECON_{name} must be a whole number, got {raw!r}; unset it for "
                             f"the default ({default})") from None
        if value < minimum:
            raise ValueError(f"RECON_{name} must be at least {minimum}, got {value}; unset it "
                             f"for the default ({default})")
        return value

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


# Provider credentials for RECON_ENV=development only (`make run`, `recon simulate pay`): fake
# values so the demo's webhooks verify out of the box. Never applied in any other environment;
# a variable that is set always wins.
DEV_PROVIDER_ENV: Mapping[str, str] = {
    "RECON_VNPAY_TMN_CODE": "DEVTMN01",
    "RECON_VNPAY_HASH_SECRET": "dev-only-vnpay-hash-secret",
    "RECON_MOMO_PARTNER_CODE": "MOMODEV",
    "RECON_MOMO_ACCESS_KEY": "dev-only-momo-access-key",
    "RECON_MOMO_SECRET_KEY": "dev-only-momo-secret-key",
    "RECON_ZALOPAY_APP_ID": "2553",
    "RECON_ZALOPAY_KEY1": "dev-only-zalopay-key1",
    "RECON_ZALOPAY_KEY2": "dev-only-zalopay-key2",
    "RECON_PAYOS_CLIENT_ID": "dev-only-payos-client-id",
    "RECON_PAYOS_API_KEY": "dev-only-payos-api-key",
    "RECON_PAYOS_CHECKSUM_KEY": "dev-only-payos-checksum-key",
    "RECON_SEPAY_API_KEY": "dev-only-sepay-api-key",
    "RECON_CASSO_CHECKSUM_KEY": "dev-only-casso-checksum-key",
    "RECON_CASSO_API_KEY": "dev-only-casso-api-key",
    "RECON_POS_SECRET": "dev-only-pos-secret",
}


DEV_SECRET_KEY = "dev-only-insecure-key"  # noqa: S105 - development only, refused elsewhere
SECRET_KEY_MIN_BYTES = 32
_GENERATE_HINT = ("generate one with `python -c 'import secrets; print(secrets.token_hex(32))'` "
                  "and set it as RECON_SECRET_KEY")
# values published somewhere (the example env file, the dev default, the usual stand-ins):
# anyone can sign a session cookie with them
_PLACEHOLDER_WORDS = ("change-me", "changeme", "change_me", "replace-me", "replaceme",
                      "example", "placeholder", "secret-key-here", "your-secret", "dev-only",
                      "insecure", "token_hex", "xxxxxxxx")


def secret_key_problem(secret: str) -> str | None:
    """Why ``secret`` must not sign sessions outside development (``None``: it may)."""
    lowered = secret.strip().lower()
    if lowered == DEV_SECRET_KEY or any(word in lowered for word in _PLACEHOLDER_WORDS):
        return ("RECON_SECRET_KEY is a published placeholder (the example file's or the "
                "development default): anyone could forge a session with it; " + _GENERATE_HINT)
    if len(secret.encode("utf-8")) < SECRET_KEY_MIN_BYTES:
        return (f"RECON_SECRET_KEY is {len(secret.encode('utf-8'))} bytes long; it must be at "
                f"least {SECRET_KEY_MIN_BYTES} bytes of random text; " + _GENERATE_HINT)
    return None


def default_database_url(instance_path: Path) -> str:
    return f"sqlite:///{(instance_path / 'recon.db').resolve()}"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    recon_env = {k: v for k, v in env.items() if k.startswith("RECON_")}
    instance = Path(env.get("RECON_INSTANCE_PATH") or DEFAULT_INSTANCE)
    environment = env.get("RECON_ENV", "development")
    secret = env.get("RECON_SECRET_KEY", "")
    if not secret:
        if environment not in {"development", "test"}:
            raise ValueError(
                "RECON_SECRET_KEY is not set. Set it to a long random value, e.g. "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`."
            )
        secret = DEV_SECRET_KEY
    elif environment not in {"development", "test"}:
        problem = secret_key_problem(secret)
        if problem is not None:
            raise ValueError(problem)
    if environment == "development":
        for name, value in DEV_PROVIDER_ENV.items():
            if not recon_env.get(name):
                recon_env[name] = value
    previous = tuple(
        p for p in (env.get("RECON_SECRET_KEY_PREVIOUS") or "").split(",") if p.strip()
    )
    return Settings(
        database_url=env.get("RECON_DATABASE_URL") or default_database_url(instance),
        secret_key=secret,
        secret_key_previous=previous,
        instance_path=instance,
        environment=environment,
        reference_prefix=env.get("RECON_REFERENCE_PREFIX", "HS"),
        intent_ttl_seconds=_int(env, "RECON_INTENT_TTL_SECONDS", 15 * 60),
        signature_max_age_seconds=_int(env, "RECON_SIGNATURE_MAX_AGE_SECONDS", 300),
        intent_expiry_interval_seconds=_positive_int(
            env, "RECON_INTENT_EXPIRY_INTERVAL_SECONDS", DEFAULT_INTENT_EXPIRY_INTERVAL),
        db_ping_after_seconds=_non_negative_int(env, "RECON_DB_PING_AFTER_SECONDS", 1),
        health_timeout_seconds=_positive_seconds(env, "RECON_HEALTH_TIMEOUT_SECONDS",
                                                 DEFAULT_HEALTH_TIMEOUT),
        spool_dir=Path(env["RECON_SPOOL_DIR"]) if env.get("RECON_SPOOL_DIR") else None,
        env=recon_env,
    )
