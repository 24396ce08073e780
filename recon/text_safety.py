"""Text a database can store. Two things arrive as Python ``str`` yet are not text:

- NUL (U+0000): PostgreSQL refuses it in every text column and query parameter;
- an unpaired surrogate (U+D800–U+DFFF), which JSON can spell as ``"\\ud800"``: it has no UTF-8
  encoding, so the driver fails (SQLite and PostgreSQL alike).

Either would surface as a 500 from deep inside a transaction; they are refused at the edge with
a message naming the field instead.
"""

from __future__ import annotations

import re
from typing import Any

from recon.errors import FieldError

_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_DEPTH_REPORTED = 20


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or ``None`` when it can."""
    if "\x00" in value:
        return "contains a NUL character (U+0000), which is not text"
    if _SURROGATE.search(value):
        return r"contains an unpaired surrogate (\ud800-\udfff), which is not text"
    return None


def first_bad_text(value: Any, where: str = "body") -> FieldError | None:
    """The first string (key or value) anywhere in parsed JSON ``value`` that is not text."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return FieldError(path, problem)
        elif isinstance(item, dict):
            for key, child in item.items():
                problem = text_problem(key) if isinstance(key, str) else None
                if problem:
                    return FieldError(f"{path} (a key)", problem)
                stack.append((child, f"{path}.{key}" if path != "body" else str(key)))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))
    return None
