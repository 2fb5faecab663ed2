"""A programme brought up to date (``Programme.update``: new holds, a new
forecast) answers as one built afresh for the same holds, whatever tables
were taken and given back in between."""

from __future__ import annotations

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from booking_core.floor import Table
from optimizer.bid_price import BidPrices, DemandHistory, Programme
from optimizer.service import FloorPlan
from tests.optimizer.conftest import past_requests, small_floor

Hold = tuple[tuple[int, ...], int, int]


def turn(size: int) -> int:
    return 90 if size <= 2 else 120


def floor_of(sizes: list[int], joined: bool) -> FloorPlan:
    tables = [Table(i + 1, f"T{i + 1}", 1, max(1, size - 2), size) for i, size in enumerate(sizes)]
    joins = [((1, 2), 3, sizes[0] + sizes[1])] if joined else []
    return FloorPlan.build(tables, joins)


def tables_of(t: int, sizes: list[int]) -> tuple[int, ...]:
    """A table, or (8) the first two together."""
    return (1, 2) if t == 8 else (t % len(sizes) + 1,)


def assert_same_answers(
    kept: Programme, bids: BidPrices, now: int, received: int, holds: list[Hold], asks: list[Hold]
) -> float:
    """The most any of ``asks`` displaces."""
    fresh = bids.programme(now, received, holds)
    assert kept.value == pytest.approx(fresh.value, abs=1e-6)
    most = 0.0
    for tables, start, end in asks:
        displaced = fresh.displaced(tables, start, end)
        assert kept.displaced(tables, start, end) == pytest.approx(displaced, abs=1e-6)
        most = max(most, displaced)
    return most


# (take: a new hold, or give back one held; tables; start granule; granules
# held; minutes the clock moves, sometimes back; requests received since)
steps = st.lists(
    st.tuples(
        st.booleans(),
        st.integers(0, 8),
        st.integers(0, 20),
        st.integers(1, 10),
        st.integers(-300, 900),
        st.integers(0, 4),
    ),
    min_size=1,
    max_size=12,
)
asks = st.lists(
    st.tuples(st.integers(0, 8), st.integers(0, 20), st.integers(4, 10)), min_size=1, max_size=5
)


@settings(max_examples=80, deadline=None)
@given(
    sizes=st.lists(st.sampled_from((2, 4, 6)), min_size=2, max_size=8),
    joined=st.booleans(),
    past=past_requests,
    now=st.integers(-3000, 0),
    received=st.integers(0, 20),
    steps=steps,
    asks=asks,
)
def test_an_updated_programme_answers_as_a_fresh_one(
    sizes: list[int],
    joined: bool,
    past: list[tuple[int, int, int]],
    now: int,
    received: int,
    steps: list[tuple[bool, int, int, int, int, int]],
    asks: list[tuple[int, int, int]],
) -> None:
    history = DemandHistory(
        tuple(s for s, _, _ in past),
        tuple(t for _, t, _ in past),
        tuple(lead for _, _, lead in past),
        last_seating=240,
    )
    bids = BidPrices(floor_of(sizes, joined), history, turn, closes=360)
    asked = [(tables_of(t, sizes), 15 * g, 15 * (g + n)) for t, g, n in asks]
    holds: list[Hold] = []
    kept = bids.programme(now, received, holds)
    for take, t, g, n, later, more in steps:
        if take or not holds:
            holds.append((tables_of(t, sizes), 15 * g, 15 * (g + n)))
        else:
            holds.pop(t % len(holds))
        now, received = now + later, received + more
        if kept.update(now, received, holds):
            event("updated")
        else:  # the forecast outgrew it: rebuilt, as the pooled policy does
            event("rebuilt")
            kept = bids.programme(now, received, holds)
        if assert_same_answers(kept, bids, now, received, holds, asked) > 1e-6:
            event("a booking displaces covers")


def test_new_holds_and_requests_only_change_the_bounds() -> None:
    bids = BidPrices(
        small_floor(), DemandHistory((4,) * 40, (120,) * 40, (600,) * 40, 240), turn, 360
    )
    kept = bids.programme(-2000, 20, holds=[])
    asked = [((3,), 120, 240), ((1,), 120, 210), ((5,), 60, 180)]
    holds: list[Hold] = [((3,), 120, 240), ((4,), 90, 210)]
    assert kept.update(-2000, 22, holds)
    assert_same_answers(kept, bids, -2000, 22, holds, asked)
    # Given back: as before any was taken.
    assert kept.update(-2000, 20, [])
    assert_same_answers(kept, bids, -2000, 20, [], asked)


def test_a_forecast_expecting_requests_it_has_no_variables_for_is_refused() -> None:
    # Requested 600 minutes ahead of 2 h: none still to come at -300, all at -1000.
    bids = BidPrices(
        small_floor(), DemandHistory((4,) * 10, (120,) * 10, (600,) * 10, 240), turn, 360
    )
    kept = bids.programme(-300, 10, holds=[])
    assert kept.value == 0.0
    assert not kept.update(-1000, 10, holds=[])
    assert kept.value == 0.0  # left as it was
