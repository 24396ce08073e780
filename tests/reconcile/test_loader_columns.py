"""A payment's channel, method and foreign card, and a settlement line's fee, net and
transaction time are read for one
kind only, fee_mismatch (the contract of the provider and channel on the transaction's date,
and the net the file stated). Pin that every other kind's findings, and the reasons for closing
earlier ones, do not depend on them, and that the loader reads them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from recon.engine import Discrepancy, classify
from recon.engine.load import _LINE_COLS, _PAY_COLS
from tests.engine.test_engine_properties import World, worlds


def _others(found: list[Discrepancy]) -> list[Discrepancy]:
    return [d for d in found if d.kind != "fee_mismatch"]


def _blank(world: World) -> World:
    return World(
        dossiers=world.dossiers, fee_lines=world.fee_lines, intents=world.intents,
        payments=[p._replace(channel="", method=None, card_foreign=None)
                  for p in world.payments],
        lines=[ln._replace(fee=0, net=ln.amount, transaction_at=None) for ln in world.lines],
        as_of=world.as_of, config=world.config)


@settings(max_examples=150, deadline=None)
@given(world=worlds(), keep=st.integers(0, 100))
def test_core_ignores_the_columns_the_loader_leaves_out(world: World, keep: int) -> None:
    full = world.run()
    blank = _blank(world).run()
    assert _others(full.discrepancies) == _others(blank.discrepancies)
    # closing reasons too: findings of this world, judged against a world that lost some of
    # its settlement lines and payments (so some close, each with a reason read from facts)
    previous = [d.identity for d in _others(full.discrepancies)]
    cut = keep % (len(world.lines) + 1)
    later = World(dossiers=world.dossiers, fee_lines=world.fee_lines, intents=world.intents,
                  payments=world.payments[: len(world.payments) - keep % 3],
                  lines=world.lines[cut:], as_of=world.as_of, config=world.config)
    assert classify(previous, later.run()) == classify(previous, _blank(later).run())
    assert classify(previous, later.run(), partial=True) == classify(
        previous, _blank(later).run(), partial=True)


def test_the_loader_reads_them_for_fee_mismatch() -> None:
    assert "p.channel" in _PAY_COLS
    assert "p.method" in _PAY_COLS and "p.card_foreign" in _PAY_COLS
    assert "l.fee" in _LINE_COLS and "l.transaction_at" in _LINE_COLS
    assert "COALESCE(l.stated_net, l.net) AS net" in _LINE_COLS
