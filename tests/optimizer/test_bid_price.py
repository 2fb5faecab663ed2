"""Bid-price admission: free table time is worth nothing, scarce table time
is worth the covers still expected to want it, and the forecast reads only
the past."""

from __future__ import annotations

import dataclasses

import pytest

from optimizer.bid_price import BidPrices, DemandHistory
from optimizer.errors import InvalidDemandHistory
from optimizer.nights import generated_history, make_night, standard_floor
from optimizer.simulation import LOCK_AT_BOOKING, POOLED, simulate_night
from tests.optimizer.conftest import small_floor

FLOOR = small_floor()  # two two-tops (joinable), two four-tops, one six-top


def turn(size: int) -> int:
    return 90 if size <= 2 else 120


def history(sizes: list[int], *, start: int = 120, lead: int = 600) -> DemandHistory:
    n = len(sizes)
    return DemandHistory(tuple(sizes), (start,) * n, (lead,) * n, last_seating=240)


def test_history_must_be_usable() -> None:
    with pytest.raises(InvalidDemandHistory):
        DemandHistory((), (), (), last_seating=240)
    with pytest.raises(InvalidDemandHistory):
        DemandHistory((2, 4), (0,), (60, 60), last_seating=240)
    with pytest.raises(InvalidDemandHistory):
        DemandHistory((0,), (0,), (60,), last_seating=240)


def test_pickup_share_grows_as_the_night_nears() -> None:
    past = DemandHistory(
        (2, 2, 4, 4), (120, 120, 120, 120), (2000, 1000, 300, 60), last_seating=240, spread_slots=0
    )
    shares = [past.share_received_by(now) for now in (-5000, -1000, -100, 100)]
    assert shares == sorted(shares)
    assert shares[0] == 0.0 and shares[-1] == 1.0
    assert sum(past.still_to_come(-500).values()) == pytest.approx(0.5)
    assert past.still_to_come(100) == {}


def test_prices_are_zero_while_tables_outnumber_the_demand() -> None:
    bids = BidPrices(FLOOR, history([2, 4]), turn, closes=360)
    # One request received when (at least) a quarter is taken to have come:
    # four in all, fewer than the tables at any moment.
    prices = bids.prices(-1000, 1, holds=[])
    assert not prices.any()


def test_scarce_four_tops_price_out_a_couple_but_not_a_four() -> None:
    # Many fours are still to come and both four-tops (and the joined
    # two-tops, and the six-top) will be wanted at 2 h.
    bids = BidPrices(FLOOR, history([4] * 40, lead=600), turn, closes=360)
    prices = bids.prices(-2000, 20, holds=[])
    assert prices.max() > 0
    four_top = bids.price_of(prices, (3,), 120, 240)
    assert 2 < four_top <= 4 + 1e-9
    two_top = bids.price_of(prices, (1,), 120, 210)
    assert two_top < four_top
    # Held tables leave fewer free: the free count drops where they are held.
    free = bids.free([((3,), 120, 240)])
    assert free.sum() == bids.free([]).sum() - 8


def test_displaced_covers_are_the_lp_value_lost() -> None:
    bids = BidPrices(FLOOR, history([4] * 40, lead=600), turn, closes=360)
    programme = bids.programme(-2000, 20, holds=[])
    four_top = programme.displaced((3,), 120, 240)
    # Holding a four-top through the peak displaces one four (a little less
    # where the four could have sat at another time).
    assert 2 < four_top <= 4 + 1e-9
    assert programme.displaced((3,), 120, 240) == pytest.approx(four_top)  # bounds restored
    assert programme.displaced((1,), 120, 210) < four_top
    light = BidPrices(FLOOR, history([2, 4]), turn, closes=360).programme(-1000, 1, holds=[])
    assert light.displaced((3,), 120, 240) == pytest.approx(0.0, abs=1e-9)


def test_policy_accepts_as_pooling_does_when_demand_is_light() -> None:
    night = make_night(
        "light", standard_floor(16, seed=1), generated_history(300, seed=2), load=0.15, seed=3
    )
    with_bids = dataclasses.replace(POOLED, name="pooled, bid prices", bid_price_margin=1.0)
    a, b = simulate_night(night, POOLED), simulate_night(night, with_bids)
    assert (a.accepted, a.covers_seated) == (b.accepted, b.covers_seated)


def test_policy_seats_more_covers_when_demand_is_heavy() -> None:
    past = generated_history(300, seed=2)
    with_bids = dataclasses.replace(LOCK_AT_BOOKING, name="lock, bid prices", bid_price_margin=1.0)
    plain = priced = 0
    for seed in range(3, 9):
        night = make_night("heavy", standard_floor(12, seed=1), past, load=1.6, seed=seed)
        plain += simulate_night(night, LOCK_AT_BOOKING).covers_seated
        priced += simulate_night(night, with_bids).covers_seated
    assert priced > plain


def test_doubling_the_stay_doubles_the_granules_the_lp_charges() -> None:
    # One size, one slot: every LP variable is a request for a four at 1 h.
    past = DemandHistory((4,) * 10, (60,) * 10, (600,) * 10, last_seating=240, spread_slots=0)

    def charged(minutes: int) -> set[float]:
        programme = BidPrices(FLOOR, past, lambda _size: minutes, closes=360).programme(
            -2000, 5, holds=[]
        )
        variables = programme.solver.variables()
        return {sum(row.GetCoefficient(x) for row in programme.rows.values()) for x in variables}

    # A single four-top, a joined pair of two-tops, the six-top: each is one
    # table or two, held for every granule of the stay.
    short, long = charged(60), charged(120)
    assert short == {4, 8} and long == {8, 16}
    programme = BidPrices(FLOOR, past, lambda _size: 120, closes=360).programme(-2000, 5, [])
    assert programme.displaced((3,), 60, 180) >= programme.displaced((3,), 60, 120)
