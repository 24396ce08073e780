"""Fixtures for the allocation tests: the webhook tests' signed calls and app."""

from __future__ import annotations

import pytest

from recon.clock import FixedClock
from recon.db import Database
from tests.webhooks.whkit import Hooks, make_hooks


@pytest.fixture
def hooks(env: dict[str, str], db: Database, clock: FixedClock) -> Hooks:
    return make_hooks(env, db, clock)
