"""A world with a receiving centre and one department that collects through it."""

from __future__ import annotations

import pytest

from recon.clock import FixedClock
from recon.db import Database
from recon.intake.agencies import create_agency
from tests.foundation.helpers import seed_agency
from tests.reconcile.recon_builders import World

COLLECTOR = "H57.STP"


@pytest.fixture
def w(db: Database, clock: FixedClock) -> World:
    world = World(db, clock)
    seed_agency(db, clock)
    world._seeded = True
    with db.transaction() as s:
        create_agency(s, clock, code=COLLECTOR, name="Sở Tư pháp tỉnh Thừa Thiên Huế",
                      bank_bin="970415", account_number="114000000000",
                      account_name="SO TU PHAP", actor="test")
    return world
