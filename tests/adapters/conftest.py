"""Fixtures for the adapter tests (helpers live in adapters_testkit.py beside this file)."""

from __future__ import annotations

import pytest

from tests.adapters.adapters_testkit import NOW, FixedClock


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)
