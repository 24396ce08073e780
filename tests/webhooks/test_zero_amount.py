"""Issue 16 item 11: a 0 VND credit (e.g. SePay ``transferAmount: 0``) moves no money: every
provider answers it with its own "ignored" answer, the call is archived, no payment recorded."""

from __future__ import annotations

import pytest

from adapters import NotAPayment, Outcome, adapter_class
from tests.webhooks.whkit import PROVIDERS, Hooks


@pytest.mark.parametrize("provider", PROVIDERS)
def test_zero_amount_is_not_a_payment(hooks: Hooks, provider: str) -> None:
    intent = hooks.intent(provider)
    raw = hooks.call(provider, intent, amount=0, provider_txn_id="20240521099")
    with pytest.raises(NotAPayment):  # the adapter's parse path refuses it
        hooks.adapter(provider).parse_callback(raw)

    response = hooks.send(raw)
    assert hooks.payments() == []
    (callback,) = hooks.callbacks()  # archived, with its verdict
    ignored = adapter_class(provider).acknowledge(Outcome.ignored, callback.outcome_detail)
    assert (response.status_code, response.get_data()) == (ignored.status_code, ignored.body)
    assert callback.signature_valid is True
    assert callback.outcome == "ignored"
    assert callback.payment_id is None
    assert hooks.intent_row(intent.id).status != "paid"
