"""Small floors shared by the optimizer tests."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

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


# A service's past requests for the bid-price tests: (party size, minute
# after opening, minutes booked ahead).
past_requests = st.lists(
    st.tuples(
        st.sampled_from((2, 2, 3, 4, 4, 6)),
        st.integers(0, 18).map(lambda k: 15 * k),
        st.integers(0, 3000),
    ),
    min_size=3,
    max_size=40,
)
