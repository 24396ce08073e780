"""Spreadsheet cells that cannot attack: the one rule every CSV and XLSX export applies.

Text from outside (a citizen's transfer memo, a bank statement's description, applicant,
procedure and fee names, file names) reaches export cells. A spreadsheet program takes a cell
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a formula (or
DDE: ``+cmd|' /C calc'!A0``). OWASP's rule: such a text cell is prefixed with a single quote,
which spreadsheets show as text. Only text is touched: numbers (a negative amount is an int)
stay numbers.
"""

from __future__ import annotations

from typing import Any, Final

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str) -> str:
    """``value`` made inert for a spreadsheet cell (``'`` before a formula-like start)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def safe_cell(value: Any) -> Any:
    """:func:`safe_text` for text; any other value as it is."""
    return safe_text(value) if isinstance(value, str) else value
