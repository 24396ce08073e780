"""Fee contracts: what each provider may charge per transaction, as data.

:mod:`recon.contracts.model` is pure (the contract, its integer fee arithmetic, the book that
finds the contract of a line); :mod:`recon.contracts.source` reads and validates the operator's
TOML file (``RECON_CONTRACTS_FILE``, default ``recon/data/fee_contracts.toml``).
"""

from __future__ import annotations

from recon.contracts.model import (
    METHODS,
    ROUNDINGS,
    Contract,
    ContractBook,
    FeeCheck,
    MonthCounter,
    Tier,
    divide,
)
from recon.contracts.source import (
    contracts_from_settings,
    default_contracts_path,
    load_contracts,
    parse_contracts,
)

__all__ = ["METHODS", "ROUNDINGS", "Contract", "ContractBook", "FeeCheck", "MonthCounter", "Tier",
           "contracts_from_settings", "default_contracts_path", "divide", "load_contracts",
           "parse_contracts"]
