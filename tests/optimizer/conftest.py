"""Small floors shared by the optimizer tests."""

from __future__ import annotations

import pytest

from booking_core.floor import Table
from optimizer.service import FloorPlan


def small_floor() -> FloorPlan:
    """Two two-tops that join into a four, two four-tops, one six-top."""
    tables = [
        Table(1, "A1", 1, 1, 2),
        Table(2, "A2", 1, 1, 2),
        Table(3, "B1", 1, 2, 4, accessible=True),
        Table(4, "B2", 2, 2, 4),
        Table(5, "C1", 2, 3, 6),
    ]
    return FloorPlan.build(tables, [((1, 2), 3, 4)])


@pytest.fixture
def floor() -> FloorPlan:
    return small_floor()
