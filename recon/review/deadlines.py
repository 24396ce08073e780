"""Deadlines as finance pages show them: counted in banking days on the engine's calendar
(the same rule as the engine's ``missing_settlement``; :mod:`recon.calendar`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from recon.clock import VN_TZ
from recon.engine.core import settlement_deadline
from recon.engine.records import EngineConfig


@dataclass(frozen=True)
class Overdue:
    days: int  # the settlement days the provider has (banking days)
    deadline: date  # the last day the settlement may arrive (Vietnam)
    overdue: int  # banking days after the deadline, up to today; 0 while not overdue


def settlement_overdue(provider: str, paid_at: datetime, config: EngineConfig,
                       now: datetime) -> Overdue | None:
    """How late a payment's settlement is, in banking days; ``None`` for a provider that
    never settles (cash)."""
    if not config.needs_settlement(provider):
        return None
    days = config.days_for(provider)
    deadline = settlement_deadline(paid_at, days, config.calendar)
    today = now.astimezone(VN_TZ).date()
    return Overdue(days, deadline, max(0, config.calendar.banking_days_between(deadline, today)))


__all__ = ["Overdue", "settlement_overdue"]
