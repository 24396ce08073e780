"""Reconciliation engine: the discrepancy kinds, each declared once (:mod:`.kinds`), the pure
core that detects them (:mod:`.core`), its records (:mod:`.records`), the sentences it writes
(:mod:`.explain`) and what a run changes (:mod:`.lifecycle`).

The runner (:mod:`.runner`, orchestration) with its lock (:mod:`.lock`), reads (:mod:`.load`)
and writes (:mod:`.store`) lives beside it and is the only part that does I/O.
"""

from recon.engine.core import (
    Reconciliation,
    make_identity,
    parse_identity,
    reconcile,
    settlement_cutoff,
    settlement_deadline,
    settlement_overdue,
)
from recon.engine.kinds import KINDS, REGISTRY, SUBJECTS, Kind, KindRegistry
from recon.engine.lifecycle import Classification, Resolution, classify, resolution_reason
from recon.engine.records import (
    AllocationRow,
    Discrepancy,
    DossierRow,
    EngineConfig,
    FeeLineRow,
    IntentRow,
    PaymentRow,
    SettlementLineRow,
    UnsplitRow,
)

__all__ = [
    "KINDS",
    "REGISTRY",
    "SUBJECTS",
    "AllocationRow",
    "Classification",
    "Discrepancy",
    "DossierRow",
    "EngineConfig",
    "FeeLineRow",
    "IntentRow",
    "Kind",
    "KindRegistry",
    "PaymentRow",
    "Reconciliation",
    "Resolution",
    "SettlementLineRow",
    "UnsplitRow",
    "classify",
    "make_identity",
    "parse_identity",
    "reconcile",
    "resolution_reason",
    "settlement_cutoff",
    "settlement_deadline",
    "settlement_overdue",
]
