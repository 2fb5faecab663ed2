"""Stay margins scaled by how few of the floor's tables seat a party."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from optimizer.nights import generated_history, make_night, standard_floor
from optimizer.simulation import POOLED_PREDICTIVE, Night, bid_prices_for
from tests.optimizer.conftest import small_floor


def _night(floor_tables: int = 10) -> Night:
    return make_night(
        "baseline",
        standard_floor(floor_tables, seed=3),
        generated_history(200, seed=4),
        load=0.9,
        seed=5,
        predictions="baseline",
    )


def test_share_of_tables_counts_the_tables_that_seat_the_party_alone() -> None:
    night = replace(_night(), floor=small_floor())
    # Two-tops seat 1-2, four-tops 2-4, the six-top 3-6 (the joined pair is
    # a combination, not a table).
    assert night.share_of_tables(1) == 2 / 5
    assert night.share_of_tables(2) == 4 / 5
    assert night.share_of_tables(4) == 3 / 5
    assert night.share_of_tables(6) == 1 / 5
    assert night.share_of_tables(7) == 0.0


@given(
    k=st.floats(0.0, 2.0),
    median=st.floats(30.0, 240.0),
    spread=st.floats(0.0, 0.6),
    size=st.integers(1, 8),
)
def test_a_scarce_party_keeps_more_of_the_margin(
    k: float, median: float, spread: float, size: int
) -> None:
    night = _night()
    flat = replace(POOLED_PREDICTIVE, spread_margin=k, baseline_spread_margin=k)
    scaled = replace(flat, margin_by_scarcity=True)
    none = replace(flat, spread_margin=0.0, baseline_spread_margin=0.0)
    booked = scaled.stay_minutes(night, size, median, spread)
    # Between the median and the unscaled margin, whatever the size.
    assert none.stay_minutes(night, size, median, spread) <= booked
    assert booked <= flat.stay_minutes(night, size, median, spread)
    # No table seats it alone: the whole margin.
    if night.share_of_tables(size) == 0.0:
        assert booked == flat.stay_minutes(night, size, median, spread)


def test_the_margin_falls_on_the_sizes_few_tables_seat() -> None:
    night = replace(_night(), floor=small_floor())
    policy = replace(POOLED_PREDICTIVE, baseline_spread_margin=1.0, margin_by_scarcity=True)
    flat = replace(policy, margin_by_scarcity=False)
    # Same predicted stay, different sizes: a two (4 of 5 tables) keeps a
    # fifth of the margin, a six (1 of 5) four fifths.
    two = policy.stay_minutes(night, 2, 100.0, 0.2) - 100
    six = policy.stay_minutes(night, 6, 100.0, 0.2) - 100
    whole = flat.stay_minutes(night, 2, 100.0, 0.2) - 100
    assert two < six < whole
    assert abs(two - 0.2 * whole) <= 5 and abs(six - 0.8 * whole) <= 5


def test_bid_prices_hold_the_requests_to_come_by_the_same_scaled_rule() -> None:
    night = _night()
    policy = replace(POOLED_PREDICTIVE, baseline_spread_margin=0.7, margin_by_scarcity=True)
    bids = bid_prices_for(night, policy)
    assert bids is not None
    for size, median, spread in night.past_stays:
        stay = policy.stay_minutes(night, size, median, spread)
        assert bids.duration(size) == stay + night.reset_minutes
