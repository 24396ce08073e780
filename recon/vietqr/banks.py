"""The State Bank's BIN directory, shipped as data (``recon/data/banks.csv``)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Bank:
    bin: str
    short_name: str
    napas_code: str
    swift: str
    name: str
    in_sbv_list: bool
    vietqr_status: str


@cache
def directory() -> dict[str, Bank]:
    """Every known bank keyed by its 6-digit BIN."""
    text = resources.files("recon").joinpath("data/banks.csv").read_text(encoding="utf-8")
    banks: dict[str, Bank] = {}
    for row in csv.DictReader(text.splitlines()):
        bank = Bank(
            bin=row["bin"].strip(),
            short_name=row["short_name"].strip(),
            napas_code=row["napas_code"].strip(),
            swift=row["swift"].strip(),
            name=row["name"].strip(),
            in_sbv_list=row["in_sbv_list_2023"].strip() == "yes",
            vietqr_status=row["vietqr_status"].strip(),
        )
        banks[bank.bin] = bank
    return banks


def lookup(bin_code: str) -> Bank | None:
    return directory().get(bin_code.strip())
