"""The payout pass's configuration, from the adapters and the environment.

Each provider that pays the centre in batches declares it in its adapter (``payout``, an
:class:`adapters.base.PayoutSpec`): the memo pattern of its credits, its payout days, whether
its sessions run over non-banking days. None of it is published (LEGS.md A.2, A.4), so each
is a setting: ``RECON_<PROVIDER>_PAYOUT_MEMO`` (a regular expression) and
``RECON_<PROVIDER>_PAYOUT_DAYS`` (banking days) replace the adapter's, and
``RECON_PAYOUT_STATEMENT_PROFILES`` (comma-separated) names the settlement profiles whose
files are the centre's bank statements, ``RECON_PAYOUT_LATE_DAYS`` the banking days a late
credit may still pay its batch.

Banking days: :func:`engine_config` (what ``recon reconcile`` and the scheduler use) counts
them on the engine's banking calendar (weekends, Vietnam's holidays and the operator's file of
bridge and make-up days, ``RECON_CALENDAR_FILE``). :func:`payout_config` alone defaults to
weekends only (:func:`recon.engine.payouts.weekend_add_banking_days`), for the pure tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

import adapters
from recon.engine.payouts import (
    DEFAULT_LATE_DAYS,
    AddBankingDays,
    PayoutConfig,
    ProviderPayout,
    weekend_add_banking_days,
)
from recon.engine.records import EngineConfig
from recon.engine.settings import engine_config_from_env
from recon.errors import FieldError, ValidationError


def payout_config(env: Mapping[str, str], *,
                  add_banking_days: AddBankingDays = weekend_add_banking_days) -> PayoutConfig:
    """The providers of the registry that declare ``payout``, with the environment's
    overrides. A bad value raises :class:`~recon.errors.ValidationError` naming it."""
    providers: dict[str, ProviderPayout] = {}
    for name in adapters.PROVIDERS:
        spec = adapters.adapter_class(name).payout
        if spec is None:
            continue
        prefix = f"RECON_{name.upper()}_PAYOUT_"
        memo = (env.get(prefix + "MEMO") or "").strip() or spec.memo
        try:
            re.compile(memo)
        except re.error as exc:
            raise ValidationError(FieldError(prefix + "MEMO", f"not a regular expression ({exc})"),
                                  hint="Fix the pattern, e.g. \\bVNPAY\\b") from None
        days = _whole(env, prefix + "DAYS", spec.days)
        providers[name] = ProviderPayout(
            provider=name, memo=memo, days=days,
            merge_non_banking_days=spec.merge_non_banking_days, pays_gross=spec.pays_gross)
    raw_profiles = (env.get("RECON_PAYOUT_STATEMENT_PROFILES") or "").strip()
    profiles = (frozenset(p.strip() for p in raw_profiles.split(",") if p.strip())
                if raw_profiles else frozenset({"vietinbank_statement"}))
    return PayoutConfig(providers=providers, add_banking_days=add_banking_days,
                        statement_profiles=profiles,
                        late_days=_whole(env, "RECON_PAYOUT_LATE_DAYS", DEFAULT_LATE_DAYS))


def engine_config(env: Mapping[str, str], *,
                  add_banking_days: AddBankingDays | None = None) -> EngineConfig:
    """The engine's configuration with its payout pass and, with e-receipts on, its receipt
    pass (what a real run uses). Payout days
    count on the engine's banking calendar (``RECON_CALENDAR_FILE``, Vietnam's holidays)
    unless ``add_banking_days`` is given."""
    base = engine_config_from_env(env)
    counting = add_banking_days if add_banking_days is not None else base.calendar.add_banking_days
    from recon.receipts.settings import receipt_check_config  # noqa: PLC0415 - no cycle

    return replace(base, payouts=payout_config(env, add_banking_days=counting),
                   receipts=receipt_check_config(env))


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise ValidationError(FieldError(name, f"must be a whole number of days >= 0, got {raw!r}"),
                              hint=f"Set {name} to e.g. 1, or unset it")
    return int(raw)


__all__ = ["engine_config", "payout_config"]
