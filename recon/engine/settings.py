"""The engine's settings, read from the environment: settlement days and tolerances per
provider (:func:`engine_config_from_env`) and the incremental run's overlap
(:func:`overlap_from_env`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Final

from recon.calendar import calendar_from_settings
from recon.contracts import contracts_from_settings
from recon.engine.records import EngineConfig

DEFAULT_OVERLAP: Final = timedelta(minutes=5)

_DAYS_RE = re.compile(r"^RECON_([A-Z0-9]+)_SETTLEMENT_DAYS$")
_TOLERANCE_RE = re.compile(r"^RECON_([A-Z0-9]+)_TOLERANCE_VND$")


def engine_config_from_env(env: Mapping[str, str]) -> EngineConfig:
    """``RECON_<PROVIDER>_SETTLEMENT_DAYS`` (banking days, default 2) and
    ``RECON_<PROVIDER>_TOLERANCE_VND`` (default 0) for every provider named in the
    environment; ``RECON_SETTLEMENT_DAYS`` and ``RECON_TOLERANCE_VND`` change the defaults.
    The days are counted on the Vietnamese banking calendar with the announced days of
    ``RECON_CALENDAR_FILE`` (:func:`recon.calendar.calendar_from_settings`); settlement
    lines' fees are judged by the contracts of ``RECON_CONTRACTS_FILE``
    (:func:`recon.contracts.contracts_from_settings`). ``RECON_FORWARD_DEADLINE_HOURS``
    (default 24): the hours within which money collected for another organisation is passed
    on (``forward_overdue``)."""
    days: dict[str, int] = {}
    tolerances: dict[str, int] = {}
    default_days = 2
    default_tolerance = 0
    deadline_hours = 24
    for name, raw in env.items():
        if raw is None or str(raw).strip() == "":
            continue
        if name == "RECON_SETTLEMENT_DAYS":
            default_days = _whole(name, raw)
        elif name == "RECON_TOLERANCE_VND":
            default_tolerance = _whole(name, raw)
        elif name == "RECON_FORWARD_DEADLINE_HOURS":
            deadline_hours = _whole(name, raw)
        elif m := _DAYS_RE.match(name):
            days[m.group(1).lower()] = _whole(name, raw)
        elif m := _TOLERANCE_RE.match(name):
            tolerances[m.group(1).lower()] = _whole(name, raw)
    return EngineConfig(settlement_days=days, default_settlement_days=default_days,
                        tolerances=tolerances, default_tolerance=default_tolerance,
                        calendar=calendar_from_settings(env),
                        contracts=contracts_from_settings(env),
                        forward_deadline_hours=deadline_hours)


def _whole(name: str, raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {raw!r}")
    return value


def overlap_from_env(env: Mapping[str, str]) -> timedelta:
    raw = env.get("RECON_RECONCILE_OVERLAP_SECONDS")
    if raw is None or raw.strip() == "":
        return DEFAULT_OVERLAP
    return timedelta(seconds=_whole("RECON_RECONCILE_OVERLAP_SECONDS", raw))


__all__ = ["DEFAULT_OVERLAP", "engine_config_from_env", "overlap_from_env"]
