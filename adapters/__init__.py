"""Payment provider adapters: pure protocol code (bytes in, normalised records out).

    adapter = get_adapter("vnpay", settings.env, max_age_seconds=300)
    event = adapter.parse_callback(raw_request)   # verifies first; raises AdapterError
    ack = adapter.acknowledge(Outcome.accepted)    # the provider's own answer

Nothing here imports from ``recon``; secrets come in through ``env``.

**The registry** is the one list of providers: :data:`ADAPTERS` (name → adapter class) and
:data:`PROVIDERS` (their names, in registration order) are live views of it, read by the
webhooks, the simulator, settlement import and fetch and the finance workbench (the OpenAPI
document and the CLI's choices take theirs at import). Adding a provider is one adapter module
(its callback protocol, simulator fields, pull API and settlement profiles) registered with
:func:`register`; a test can do the same for a while with :func:`registered`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from inspect import isabstract
from types import MappingProxyType
from typing import overload

from adapters.base import (
    Acknowledgement,
    Adapter,
    AdapterError,
    CallbackEvent,
    CallbackLink,
    Clock,
    EnvSpec,
    Headers,
    MalformedPayload,
    NotAPayment,
    NotConfigured,
    NotSupported,
    Outcome,
    PaymentStatus,
    RawRequest,
    ReplayError,
    SignatureError,
    SimulatedPayment,
    UnknownProvider,
    Wire,
)
from adapters.casso import CassoAdapter
from adapters.momo import MoMoAdapter
from adapters.payos import PayOSAdapter
from adapters.pos import POSAdapter
from adapters.sepay import SePayAdapter
from adapters.vnpay import VNPayAdapter
from adapters.zalopay import ZaloPayAdapter

#: a provider's name is a column value (VARCHAR(20)) and a URL segment (/webhooks/<name>)
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,19}")
CHANNEL_MAX_LENGTH = 10  # payments.channel is VARCHAR(10)

_REGISTRY: dict[str, type[Adapter]] = {}

#: name → adapter class, live (read-only: change it with :func:`register`)
ADAPTERS: Mapping[str, type[Adapter]] = MappingProxyType(_REGISTRY)


class ProviderNames(Sequence[str]):
    """The registered providers' names, live, in registration order, then ``extra`` names
    (sources of payments that are no provider's, such as ``cash``). Compares equal to a tuple
    of the same names."""

    __slots__ = ("_extra",)

    def __init__(self, extra: tuple[str, ...] = ()) -> None:
        self._extra = extra

    def _names(self) -> tuple[str, ...]:
        return (*_REGISTRY, *self._extra)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...
    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        return self._names()[index]

    def __len__(self) -> int:
        return len(_REGISTRY) + len(self._extra)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name: object) -> bool:
        return name in _REGISTRY or name in self._extra

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ProviderNames | tuple):
            return self._names() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # live, so not hashable

    def __repr__(self) -> str:
        return repr(self._names())

    def plus(self, *extra: str) -> ProviderNames:
        """These names and then ``extra``, live."""
        return ProviderNames((*self._extra, *extra))


#: the registered providers' names, live
PROVIDERS = ProviderNames()


def register(cls: type[Adapter]) -> type[Adapter]:
    """Add provider ``cls.name`` (usable as a class decorator). Refuses a name already taken
    by another class, and an adapter that does not declare what the rest of recon reads."""
    problems: list[str] = []
    name = getattr(cls, "name", None)
    if not isinstance(cls, type) or not issubclass(cls, Adapter):
        raise TypeError(f"{cls!r} is not an Adapter subclass")
    if isabstract(cls):
        problems.append("it leaves abstract methods unimplemented")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        problems.append(f"its name {name!r} must match {NAME_PATTERN.pattern}")
    for attribute in ("label", "channel", "env_spec", "link"):
        if not hasattr(cls, attribute):
            problems.append(f"it does not declare {attribute}")
    channel = getattr(cls, "channel", "")
    if not isinstance(channel, str) or not 0 < len(channel) <= CHANNEL_MAX_LENGTH:
        problems.append(f"its channel {channel!r} must be 1 to {CHANNEL_MAX_LENGTH} characters")
    if problems:
        raise ValueError(f"cannot register {cls.__name__}: " + "; ".join(problems))
    assert isinstance(name, str)
    taken = _REGISTRY.get(name)
    if taken is not None and taken is not cls:
        raise ValueError(f"provider {name!r} is already registered ({taken.__name__})")
    _REGISTRY[name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove provider ``name`` (tests; :class:`UnknownProvider` if it is not registered)."""
    adapter_class(name)
    del _REGISTRY[name]


@contextmanager
def registered(cls: type[Adapter]) -> Iterator[type[Adapter]]:
    """Provider ``cls`` registered for the ``with`` block, then removed again (unless it was
    registered before the block)."""
    before = _REGISTRY.get(getattr(cls, "name", ""))
    register(cls)
    try:
        yield cls
    finally:
        if before is None:
            _REGISTRY.pop(cls.name, None)


for _builtin in (VNPayAdapter, MoMoAdapter, ZaloPayAdapter, PayOSAdapter, SePayAdapter,
                 CassoAdapter, POSAdapter):
    register(_builtin)


def adapter_class(name: str) -> type[Adapter]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownProvider(
            f"unknown provider {name!r}; known: {', '.join(PROVIDERS)}"
        ) from None


def label(name: str) -> str:
    """How people write provider ``name`` ("payOS"); the name itself when it is not one."""
    cls = _REGISTRY.get(name)
    return cls.label if cls is not None else name


def env_spec(name: str) -> EnvSpec:
    """The ``RECON_*`` variables provider ``name`` reads."""
    return adapter_class(name).env_spec


def get_adapter(
    name: str,
    env: Mapping[str, str],
    *,
    max_age_seconds: int,
    clock: Clock | None = None,
) -> Adapter:
    """The adapter for provider ``name`` configured from ``env`` (``RECON_*`` variables).

    Raises :class:`UnknownProvider` for a name not in :data:`PROVIDERS` and
    :class:`NotConfigured` naming every missing required variable. ``max_age_seconds`` bounds
    signed timestamps (Casso, POS); 0 turns that check off.
    """
    return adapter_class(name).from_env(env, max_age_seconds=max_age_seconds, clock=clock)


__all__ = [
    "ADAPTERS",
    "PROVIDERS",
    "Acknowledgement",
    "Adapter",
    "AdapterError",
    "CallbackEvent",
    "CallbackLink",
    "CassoAdapter",
    "Clock",
    "EnvSpec",
    "Headers",
    "MalformedPayload",
    "MoMoAdapter",
    "NotAPayment",
    "NotConfigured",
    "NotSupported",
    "Outcome",
    "POSAdapter",
    "PayOSAdapter",
    "PaymentStatus",
    "ProviderNames",
    "RawRequest",
    "ReplayError",
    "SePayAdapter",
    "SignatureError",
    "SimulatedPayment",
    "UnknownProvider",
    "VNPayAdapter",
    "Wire",
    "ZaloPayAdapter",
    "adapter_class",
    "env_spec",
    "get_adapter",
    "label",
    "register",
    "registered",
    "unregister",
]
