"""Payment provider adapters: pure protocol code (bytes in, normalised records out).

    adapter = get_adapter("vnpay", settings.env, max_age_seconds=300)
    event = adapter.parse_callback(raw_request)   # verifies first; raises AdapterError
    ack = adapter.acknowledge(Outcome.accepted)    # the provider's own answer

Nothing here imports from ``recon``; secrets come in through ``env``.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.base import (
    Acknowledgement,
    Adapter,
    AdapterError,
    CallbackEvent,
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
    UnknownProvider,
)
from adapters.casso import CassoAdapter
from adapters.momo import MoMoAdapter
from adapters.payos import PayOSAdapter
from adapters.pos import POSAdapter
from adapters.sepay import SePayAdapter
from adapters.vnpay import VNPayAdapter
from adapters.zalopay import ZaloPayAdapter

ADAPTERS: Mapping[str, type[Adapter]] = {
    cls.name: cls
    for cls in (
        VNPayAdapter,
        MoMoAdapter,
        ZaloPayAdapter,
        PayOSAdapter,
        SePayAdapter,
        CassoAdapter,
        POSAdapter,
    )
}
PROVIDERS: tuple[str, ...] = tuple(ADAPTERS)


def adapter_class(name: str) -> type[Adapter]:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise UnknownProvider(
            f"unknown provider {name!r}; known: {', '.join(PROVIDERS)}"
        ) from None


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
    "RawRequest",
    "ReplayError",
    "SePayAdapter",
    "SignatureError",
    "UnknownProvider",
    "VNPayAdapter",
    "ZaloPayAdapter",
    "adapter_class",
    "env_spec",
    "get_adapter",
]
