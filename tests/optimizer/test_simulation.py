"""Replaying a night: the same requests for every policy, consistent counts."""

from __future__ import annotations

from dataclasses import replace

import pytest
from typer.testing import CliRunner

from optimizer.nights import generated_history, make_night, standard_floor
from optimizer.simulation import (
    LOCK_AT_BOOKING,
    POLICIES,
    POOLED_PREDICTIVE,
    Night,
    NightResult,
    bid_prices_for,
    simulate_night,
)
from serving.cli import app


@pytest.fixture(scope="module")
def night() -> Night:
    return make_night(
        "test night", standard_floor(10, seed=3), generated_history(200, seed=4), load=0.9, seed=5
    )


def test_night_is_drawn_once_and_is_reproducible(night: Night) -> None:
    again = make_night(
        "test night", standard_floor(10, seed=3), generated_history(200, seed=4), load=0.9, seed=5
    )
    assert again.requests == night.requests
    assert [r.requested_at for r in night.requests] == sorted(
        r.requested_at for r in night.requests
    )
    assert all(0 <= r.start <= night.last_seating for r in night.requests)


def test_every_policy_accounts_for_every_request(night: Night) -> None:
    showing = {r.id: r for r in night.requests if r.shows}
    for policy in POLICIES:
        result = simulate_night(night, policy)
        assert result.accepted + result.turned_away == result.requests == len(night.requests)
        assert result.parties_seated + result.walked_out + result.no_shows == result.accepted
        assert result.covers_seated <= sum(r.size for r in showing.values())
        assert 0.0 < result.utilisation < 1.0
        assert result.walked_out <= result.waited_over_15
        if policy.pooled:
            assert result.solver_ms  # every acceptance was a timed check
        else:
            assert not result.solver_ms
            assert result.overbooked == 0


def test_lock_at_booking_is_deterministic(night: Night) -> None:
    assert simulate_night(night, LOCK_AT_BOOKING) == simulate_night(night, LOCK_AT_BOOKING)


def _outcome(result: NightResult) -> NightResult:
    """What a replay decided, without how long it took."""
    return replace(result, solver_ms=[], risk_ms=[])


def test_replays_are_bounded_by_work_units_not_the_clock() -> None:
    # A busy night with a tight solver budget, so that some checks run out:
    # work units, not wall-clock time, decide where, so replays agree.
    busy = make_night(
        "busy night", standard_floor(10, seed=3), generated_history(200, seed=4), load=1.3, seed=6
    )
    tight = replace(POOLED_PREDICTIVE, time_limit_s=0.0005)
    assert POOLED_PREDICTIVE.wall_limit_s is None and tight.wall_limit_s is None
    first, second = simulate_night(busy, tight), simulate_night(busy, tight)
    assert _outcome(first) == _outcome(second)
    assert first.accepted > 0 and first.timed_out > 0


def test_baseline_nights_use_their_own_stay_margin() -> None:
    history = generated_history(200, seed=4)
    floor = standard_floor(10, seed=3)
    learned = make_night("learned", floor, history, load=0.9, seed=5)
    baseline = make_night("baseline", floor, history, load=0.9, seed=5, predictions="baseline")
    assert learned.learned_predictions and not baseline.learned_predictions
    policy = replace(POOLED_PREDICTIVE, spread_margin=0.0, baseline_spread_margin=0.5)
    median = replace(POOLED_PREDICTIVE, spread_margin=0.0, baseline_spread_margin=0.0)
    for r in learned.requests:  # learned predictions: the margin k = 0
        assert policy.planned_minutes(learned, r) == median.planned_minutes(learned, r)
    longer = [
        policy.planned_minutes(baseline, r) > median.planned_minutes(baseline, r)
        for r in baseline.requests
    ]
    assert all(
        policy.planned_minutes(baseline, r) >= median.planned_minutes(baseline, r)
        for r in baseline.requests
    )
    assert any(longer)


def test_cli_prints_the_table() -> None:
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "seating",
            "--source",
            "generated",
            "--nights",
            "1",
            "--restaurants",
            "1",
            "--load",
            "0.3",
        ],
    )
    assert result.exit_code == 0, result.output
    # Every setting a restaurant can choose, by the names a manager knows.
    for name in ("lock-at-booking", "lock + admission", "lock + predicted", "pooled-predictive"):
        assert name in result.output


def test_cli_refuses_bad_input() -> None:
    result = CliRunner().invoke(app, ["simulate", "seating", "--source", "moon"])
    assert result.exit_code == 2
    assert "Unknown source 'moon'" in result.output
    result = CliRunner().invoke(app, ["simulate", "seating", "--load", "-1"])
    assert result.exit_code == 2


def test_bid_prices_charge_the_stay_that_is_booked() -> None:
    history = generated_history(200, seed=4)
    floor = standard_floor(10, seed=3)
    baseline = make_night("baseline", floor, history, load=0.9, seed=5, predictions="baseline")
    learned = make_night("learned", floor, history, load=0.9, seed=5)
    for k in (0.0, 0.5, 2.0):
        policy = replace(POOLED_PREDICTIVE, spread_margin=k, baseline_spread_margin=k)
        # Baseline predictions are the per-size past stays: the request being
        # priced and the requests still to come are held alike.
        bids = bid_prices_for(baseline, policy)
        assert bids is not None
        for r in baseline.requests:
            booked = policy.planned_minutes(baseline, r)
            assert policy.expected_minutes(baseline, r.size) == booked
            assert bids.duration(r.size) == booked + baseline.reset_minutes
        # Learned nights: the stays still to come follow the margin too.
        bids = bid_prices_for(learned, policy)
        assert bids is not None and learned.past_stays
        for size, median, spread in learned.past_stays:
            stay = policy.stay_minutes(learned, size, median, spread)
            assert bids.duration(size) == stay + learned.reset_minutes
    longer = replace(POOLED_PREDICTIVE, baseline_spread_margin=2.0)
    shorter = replace(POOLED_PREDICTIVE, baseline_spread_margin=0.0)
    assert all(
        longer.expected_minutes(baseline, s) > shorter.expected_minutes(baseline, s)
        for s, _, spread in baseline.past_stays
        if spread > 0.05
    )
    # Turn-time policies keep pricing with the restaurant's turn times.
    lock = replace(LOCK_AT_BOOKING, bid_price_margin=1.0)
    lock_bids = bid_prices_for(baseline, lock)
    assert lock_bids is not None
    assert all(lock_bids.duration(s) == baseline.turn_time(s) for s, _, _ in baseline.past_stays)
    assert bid_prices_for(baseline, LOCK_AT_BOOKING) is None
