"""The operator's payment method codes (``RECON_PAYMENT_METHODS``): a TOML file laid over the
adapters' own tables.

Each adapter reads how the payer paid from the provider's own field (VNPay ``vnp_CardType`` and
``vnp_BankCode``, MoMo ``payType``, ZaloPay ``channel``, the POS ``card_brand``) through its
``payment_methods`` table: the providers' documented codes as far as recon knows them, **not
verified against a merchant contract**. A centre whose contract or provider uses other codes
corrects them here, without a release::

    version = 1

    [vnpay.vnp_CardType]        # [<provider>.<field the adapter reads>]
    CUP = "unionpay"            # value (any case) = one of adapters.base.METHODS
    QRCODE = "unknown"          # "unknown": take the value out (no method: the "*" contract)

    [zalopay.channel]
    "42" = "wallet"             # a value the adapter does not know yet is added

Values are compared upper-cased (as the adapters do). The file is merged over each adapter's
table (:func:`adapters.base.merge_methods`): a value it names replaces the adapter's, a value it
maps to ``"unknown"`` is removed, everything else stays. Only the fields an adapter reads can
be named (a new field needs the adapter to read it); a provider without a method field (payOS,
SePay, Casso: their money always comes by bank transfer) cannot be named.

The same effective table reads the providers' query answers (``recon settlements fetch``:
:func:`apply_query_methods`), so a payment a query confirms gets the method its callback would
have given it.

Validated when the app starts and when a command reads it: every problem is named with the file,
the line where it can be found and the key (``vnpay.vnp_CardType.CUP``), and what to write
instead; a bad file stops the start. Unset: the adapters' tables as they are.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Final

from adapters import PROVIDERS, adapter_class
from adapters.base import METHODS, UNKNOWN_METHOD, Adapter, merge_methods
from adapters.pull import ConfirmApi

VARIABLE: Final = "RECON_PAYMENT_METHODS"
FORMAT_VERSION: Final = 1
Table = dict[str, dict[str, str]]
Override = dict[str, Table]  # provider -> field -> value -> method


class MethodsFileError(ValueError):
    """Every problem of a methods file, each naming its line and key."""


def _line_of(lines: list[str], *keys: str) -> int | None:
    """The (1-based) line a key path is written on: the table header ``[a.b]`` of the first
    keys, then the key itself below it; None when it cannot be told."""
    if not keys:
        return None
    header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(
        rf'"?{re.escape(k)}"?' for k in keys[:2]) + (r"\s*\]" if len(keys) > 1 else r"\s*[.\]]"))
    start = next((i for i, ln in enumerate(lines) if header.match(ln)), None)
    if start is None:
        return None
    if len(keys) < 3:
        return start + 1
    key = re.compile(rf'^\s*["\']?{re.escape(keys[2])}["\']?\s*=')
    for i in range(start + 1, len(lines)):
        if lines[i].lstrip().startswith("["):
            break
        if key.match(lines[i]):
            return i + 1
    return start + 1


def parse_methods(content: bytes, origin: str = "<payment methods>") -> Override:
    """The file's overrides, validated; :class:`MethodsFileError` naming every problem."""
    try:
        text = content.decode("utf-8")
        doc = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MethodsFileError(f"{origin}: not a UTF-8 TOML file ({exc}); see "
                               f"docs/operations.md#payment-method-codes") from None
    lines = text.splitlines()
    errors: list[str] = []

    def where(*keys: str) -> str:
        line = _line_of(lines, *keys)
        return (f"line {line}, " if line else "") + ".".join(keys)

    if doc.get("version") != FORMAT_VERSION:
        errors.append(f"version: write version = {FORMAT_VERSION} at the top "
                      f"(got {doc.get('version')!r})")
    out: Override = {}
    for provider, fields in doc.items():
        if provider == "version":
            continue
        if provider not in PROVIDERS:
            errors.append(f"{where(provider)}: unknown provider {provider!r}: one of "
                          f"{', '.join(PROVIDERS)}")
            continue
        readable = adapter_class(provider).payment_methods
        if not isinstance(fields, Mapping):
            errors.append(f"{where(provider)}: must be tables [{provider}.<field>]")
            continue
        for field, values in fields.items():
            if field not in readable:
                known = ", ".join(readable) or "none (its payments carry no method)"
                errors.append(f"{where(provider, field)}: {provider} reads no field {field!r}; "
                              f"the fields it reads: {known}")
                continue
            if not isinstance(values, Mapping):
                errors.append(f"{where(provider, field)}: must be a table of value = method")
                continue
            seen: dict[str, str] = {}
            for value, method in values.items():
                key = value.strip().upper()
                if not key:
                    errors.append(f"{where(provider, field, value)}: the value is empty")
                elif key in seen:
                    errors.append(f"{where(provider, field, value)}: the same value as "
                                  f"{seen[key]!r} (values are compared upper-cased): keep one")
                elif not isinstance(method, str) or (
                        method not in METHODS and method != UNKNOWN_METHOD):
                    errors.append(f"{where(provider, field, value)}: {method!r} is no method: "
                                  f"write one of {', '.join(METHODS)}, or \"{UNKNOWN_METHOD}\" "
                                  "to take the value out")
                else:
                    seen[key] = value
                    out.setdefault(provider, {}).setdefault(field, {})[key] = method
    if errors:
        raise MethodsFileError(f"{origin}: " + "; ".join(errors) + " (nothing is used until "
                               "the file is correct)")
    return out


def load_methods(path: str | Path) -> Override:
    target = Path(path)
    try:
        content = target.read_bytes()
    except OSError as exc:
        raise MethodsFileError(f"cannot read the payment method codes {target}: "
                               f"{exc.strerror}; set {VARIABLE} to a readable file or unset "
                               "it") from None
    return parse_methods(content, str(target))


@lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int) -> Override:
    return load_methods(path)


def methods_from_settings(env: Mapping[str, str]) -> Override:
    """The overrides of ``RECON_PAYMENT_METHODS`` (kept while the file is unchanged); none
    when unset."""
    raw = (env.get(VARIABLE) or "").strip()
    if not raw:
        return {}
    try:
        mtime = Path(raw).stat().st_mtime_ns
    except OSError as exc:
        raise MethodsFileError(f"cannot read the payment method codes {raw}: {exc.strerror}; "
                               f"set {VARIABLE} to a readable file or unset it") from None
    return _cached(raw, mtime)


def effective_table(provider: str, override: Override) -> Table:
    """Provider's effective table: its adapter's, with the operator's laid over it."""
    return merge_methods(adapter_class(provider).payment_methods, override.get(provider, {}))


def apply_methods(adapter: Adapter, env: Mapping[str, str]) -> Adapter:
    """``adapter`` reading methods by the effective table (unchanged without an override)."""
    override = methods_from_settings(env)
    if adapter.name in override:
        adapter.use_methods(effective_table(adapter.name, override))
    return adapter


def apply_query_methods(api: ConfirmApi, provider: str, env: Mapping[str, str]) -> ConfirmApi:
    """``provider``'s query API reading methods by the same effective table as its webhooks
    (:func:`apply_methods`): unchanged without an override."""
    override = methods_from_settings(env)
    if provider in override:
        api.use_methods(effective_table(provider, override))
    return api


__all__ = ["FORMAT_VERSION", "VARIABLE", "MethodsFileError", "apply_methods",
           "apply_query_methods", "effective_table", "load_methods", "methods_from_settings",
           "parse_methods"]
