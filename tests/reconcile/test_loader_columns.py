"""The loader leaves out the columns the core never reads (a payment's channel; a settlement
line's fee, net and transaction time). Pin that the core's findings, and its reasons for
closing earlier ones, do not depend on them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from recon.engine import classify
from recon.engine.load import _LINE_COLS, _PAY_COLS
from tests.engine.test_engine_properties import World, worlds


def _blank(world: World) -> World:
    return World(
        dossiers=world.dossiers, fee_lines=world.fee_lines, intents=world.intents,
        payments=[p._replace(channel="") for p in world.payments],
        lines=[ln._replace(fee=0, net=0, transaction_at=None) for ln in world.lines],
        as_of=world.as_of, config=world.config)


@settings(max_examples=150, deadline=None)
@given(world=worlds(), keep=st.integers(0, 100))
def test_core_ignores_the_columns_the_loader_leaves_out(world: World, keep: int) -> None:
    full = world.run()
    blank = _blank(world).run()
    assert full.discrepancies == blank.discrepancies
    # closing reasons too: findings of this world, judged against a world that lost some of
    # its settlement lines and payments (so some close, each with a reason read from facts)
    previous = [d.identity for d in full.discrepancies]
    cut = keep % (len(world.lines) + 1)
    later = World(dossiers=world.dossiers, fee_lines=world.fee_lines, intents=world.intents,
                  payments=world.payments[: len(world.payments) - keep % 3],
                  lines=world.lines[cut:], as_of=world.as_of, config=world.config)
    assert classify(previous, later.run()) == classify(previous, _blank(later).run())
    assert classify(previous, later.run(), partial=True) == classify(
        previous, _blank(later).run(), partial=True)


def test_the_loader_really_leaves_them_out() -> None:
    assert "'' AS channel" in _PAY_COLS
    assert "0 AS fee" in _LINE_COLS and "NULL AS transaction_at" in _LINE_COLS
