"""Replaying a night: the same requests for every policy, consistent counts."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from optimizer.nights import generated_history, make_night, standard_floor
from optimizer.simulation import LOCK_AT_BOOKING, POLICIES, Night, simulate_night
from serving.cli import app


@pytest.fixture(scope="module")
def night() -> Night:
    return make_night("test night", standard_floor(10, seed=3), generated_history(200, seed=4),
                      load=0.9, seed=5)


def test_night_is_drawn_once_and_is_reproducible(night: Night) -> None:
    again = make_night("test night", standard_floor(10, seed=3), generated_history(200, seed=4),
                       load=0.9, seed=5)
    assert again.requests == night.requests
    assert [r.requested_at for r in night.requests] == sorted(r.requested_at
                                                               for r in night.requests)
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


def test_cli_prints_the_table() -> None:
    result = CliRunner().invoke(app, ["simulate", "seating", "--source", "generated",
                                      "--nights", "1", "--restaurants", "1", "--load", "0.3"])
    assert result.exit_code == 0, result.output
    assert "lock-at-booking" in result.output and "pooled-predictive" in result.output


def test_cli_refuses_bad_input() -> None:
    result = CliRunner().invoke(app, ["simulate", "seating", "--source", "moon"])
    assert result.exit_code == 2
    assert "Unknown source 'moon'" in result.output
    result = CliRunner().invoke(app, ["simulate", "seating", "--load", "-1"])
    assert result.exit_code == 2
