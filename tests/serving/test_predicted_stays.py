"""Predicted booked stays in the application: the stay rule (the seating
simulator's P50 + k (P90 - P50), k = 0.2 for the duration champion and
0.7 for the per-size baseline, each scaled by how few tables seat the
party, plus the table's reset), the champion asked once
per slot, the restaurant's past stays without one, the setting through the
API, bookings through the API held for the predicted stay, and time
steering in the availability API."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, time, timedelta

import numpy as np
import pytest

from booking_core.daybook import BestFitAtBooking
from booking_core.floor import load_floor
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, advance, book
from booking_core.restaurants import PeriodSpec, TableSpec, add_restaurant
from optimizer.plan import PlanSettings
from optimizer.service import FloorPlan
from optimizer.simulation import (
    BASELINE_SPREAD_MARGIN,
    MARGIN_BY_SCARCITY,
    SPREAD_MARGIN,
    scarcity_margin,
)
from serving.champions import DURATION, Champions
from serving.stays import MIN_PAST_STAYS, PredictedStays, booked_stay, margin
from serving.turn_times import TurnQuery, TurnTimes
from tests.booking_core.test_table_policy import book_past_nights
from tests.conftest import NOW, bistro_spec, three_tables_spec
from tests.serving.conftest import World, fresh_date
from tests.serving.test_seating_and_waitlist import _duration_champion

API = "/api/v1"
PROBLEM = "application/problem+json"
RESET = PlanSettings().reset_minutes


def test_the_stay_rule_is_the_simulators(ledger: Ledger) -> None:
    assert (SPREAD_MARGIN, BASELINE_SPREAD_MARGIN, MARGIN_BY_SCARCITY) == (0.2, 0.7, True)
    assert booked_stay(60, 100, 0.0) == 60 + RESET  # the median
    assert booked_stay(60, 100, 0.1) == 65 + RESET  # 64 up to 5 minutes
    assert booked_stay(61, 61, 0.0) == 65 + RESET
    assert booked_stay(1, 1, 0.1) == 5 + RESET
    # k shrinks with the share of the tables that seat the party alone: on
    # a two-top (1-2) and a four-top (2-4), none for a two, half for a four,
    # all of it for a six (no table seats six alone).
    with ledger.read() as conn:
        floor = load_floor(conn, one_table(ledger, "Scarce Fours"))
    assert [margin(SPREAD_MARGIN, floor, n) for n in (2, 4, 6)] == [0.0, 0.1, 0.2]
    assert margin(BASELINE_SPREAD_MARGIN, floor, 4) == 0.35
    # The simulator's floor plan gives the same shares.
    plan = FloorPlan.from_floor(floor)
    assert [scarcity_margin(0.2, plan.tables.values(), n) for n in (2, 4, 6)] == [0.0, 0.1, 0.2]


def one_table(ledger: Ledger, name: str) -> int:
    spec = bistro_spec(
        name=name,
        tables=(TableSpec("A", "Main", 1, 2), TableSpec("B", "Main", 2, 4)),
        combinations=(),
        periods=(
            PeriodSpec("dinner", tuple(range(7)), "17:00", "23:00", "21:30", {2: 90, 4: 120}),
        ),
        deposit_min_party=None,
    )
    return add_restaurant(ledger, spec)


def test_the_champion_is_asked_once_per_slot(ledger: Ledger) -> None:
    rid = one_table(ledger, "Champion Stays")
    champions = Champions(None)
    champions._loaded[DURATION] = champion = _duration_champion(rid)
    with ledger.read() as conn:
        floor = load_floor(conn, rid)
    stays = PredictedStays(champions)
    evening = datetime.combine(NOW.date() + timedelta(days=9), time(19), tzinfo=NOW.tzinfo)
    starts = [evening + timedelta(minutes=15 * i) for i in range(3)]
    got = stays.minutes(ledger, floor, 2, starts, channel="web")
    pairs = TurnTimes(champion).quantiles(
        floor, floor.price_tier, [TurnQuery(0, 2, "web", s) for s in starts]
    )
    assert pairs is not None
    k = margin(SPREAD_MARGIN, floor, 2)
    assert got == [booked_stay(p50, p90, k) for p50, p90 in pairs]  # type: ignore[misc]
    assert all(abs(m - (50 + RESET)) <= 5 for m in got if m is not None)  # meals of 40 + 5 x 2
    assert stays.model_calls == 1
    assert stays.minutes(ledger, floor, 2, starts, channel="web") == got
    assert stays.model_calls == 1  # every slot known
    stays.minutes(ledger, floor, 2, [*starts, evening + timedelta(hours=1)], channel="web")
    assert stays.model_calls == 2  # one new slot, one call


def completed_stays(ledger: Ledger, rid: int, size: int, minutes: list[int]) -> None:
    """Past parties of ``size`` at 19:00, one a night, who stayed ``minutes``."""
    today = ledger.clock().date()
    for back, stay in enumerate(minutes, start=1):
        night = today - timedelta(days=back)
        seating = datetime.combine(night, time(19), tzinfo=NOW.tzinfo)
        request = BookingRequest(rid, night, "19:00", size, guest_name="past")
        taken = book(ledger, request, now=seating - timedelta(days=1), policy=BestFitAtBooking())
        advance(ledger, taken.id, "seated", now=seating)
        advance(ledger, taken.id, "completed", now=seating + timedelta(minutes=stay))


PAST_TWOS = [40 + (7 * i) % 19 for i in range(MIN_PAST_STAYS + 4)]  # 40 to 58 minutes


def baseline_minutes(stays: list[int]) -> int:
    """A two's baseline stay on ``one_table``'s floor, where both tables seat
    a two: the margin, scaled by scarcity, is 0 (the median)."""
    p50, p90 = float(np.quantile(stays, 0.5)), float(np.quantile(stays, 0.9))
    return booked_stay(p50, p90, 0.0)


def test_without_a_champion_the_restaurants_past_stays_of_the_size(ledger: Ledger) -> None:
    rid = one_table(ledger, "Past Stays")
    completed_stays(ledger, rid, 2, PAST_TWOS)
    completed_stays(ledger, rid, 4, [70] * (MIN_PAST_STAYS - 1))  # too few to go on
    with ledger.read() as conn:
        floor = load_floor(conn, rid)
    stays = PredictedStays(Champions(None))
    at = [datetime.combine(NOW.date() + timedelta(days=9), time(19), tzinfo=NOW.tzinfo)]
    expected = baseline_minutes(PAST_TWOS)
    assert expected == 50 + RESET  # P50 48.5, P90 55.7: 49.2, up to 50
    assert stays.minutes(ledger, floor, 2, at, channel="web") == [expected]
    assert stays.minutes(ledger, floor, 4, at, channel="web") == [None]
    assert stays.minutes(ledger, floor, 3, at, channel="web") == [None]
    assert stays.model_calls == 0


# ---------------------------------------------------------------- the API


def _url(restaurant_id: int) -> str:
    return f"{API}/restaurants/{restaurant_id}/seating-settings"


@pytest.fixture
def restaurant(world: World) -> Iterator[int]:
    rid = one_table(world.ledger, f"Stays {fresh_date()}")
    yield rid


def test_the_setting_round_trips_and_a_bad_value_is_a_422(world: World) -> None:
    c, manager = world.client, world.headers["manager"]
    url = _url(world.brasserie)
    try:
        body = {"table_policy": "lock_at_booking", "booked_stays": "predicted"}
        on = c.put(url, json=body, headers=manager)
        assert on.status_code == 200, on.text
        assert on.json()["booked_stays"] == "predicted"
        assert c.get(url, headers=manager).json()["booked_stays"] == "predicted"
        bad = c.put(url, json={**body, "booked_stays": "median"}, headers=manager)
        assert bad.status_code == 422
        assert bad.headers["content-type"] == PROBLEM
        assert "'turn_times' or 'predicted'" in bad.json()["detail"]
        assert c.get(url, headers=manager).json()["booked_stays"] == "predicted"
        # A PUT sets the whole setting: left out, turn times.
        off = c.put(url, json={"table_policy": "lock_at_booking"}, headers=manager)
        assert off.json()["booked_stays"] == "turn_times"
    finally:
        c.put(url, json={"table_policy": "lock_at_booking"}, headers=manager)
    described = c.get("/openapi.json").json()["components"]["schemas"]
    assert (
        "predicted"
        in described["SeatingSettingsUpdate"]["properties"]["booked_stays"]["description"]
    )


def test_a_booking_through_the_api_is_held_for_the_predicted_stay(
    world: World, restaurant: int
) -> None:
    c, admin = world.client, world.headers["admin"]
    completed_stays(world.ledger, restaurant, 2, PAST_TWOS)
    day = fresh_date()
    body = {"restaurant_id": restaurant, "date": day, "time": "19:00", "party_size": 2}
    held = timedelta(minutes=15 * math.ceil(baseline_minutes(PAST_TWOS) / 15))
    made = c.post(f"{API}/reservations", json=body, headers=admin)
    assert made.status_code == 201, made.text
    turns = made.json()
    span = datetime.fromisoformat(turns["end_at"]) - datetime.fromisoformat(turns["start_at"])
    assert span == timedelta(minutes=90)
    on = {"table_policy": "lock_at_booking", "booked_stays": "predicted"}
    assert c.put(_url(restaurant), json=on, headers=admin).status_code == 200
    taken = c.post(f"{API}/reservations", json={**body, "time": "20:00"}, headers=admin)
    assert taken.status_code == 201, taken.text
    got = taken.json()
    span = datetime.fromisoformat(got["end_at"]) - datetime.fromisoformat(got["start_at"])
    assert span == held < timedelta(minutes=90)
    times = c.get(
        f"{API}/restaurants/{restaurant}/availability",
        params={"date": day, "party_size": 2, "earliest": "21:00", "latest": "21:00"},
    ).json()["times"]
    assert len(times) == 1
    start, end = (datetime.fromisoformat(times[0][k]) for k in ("start_at", "end_at"))
    assert end - start == held
    # A party of four: no past stays of that size, so its turn time.
    made = c.post(
        f"{API}/reservations", json={**body, "time": "17:00", "party_size": 4}, headers=admin
    )
    assert made.status_code == 201, made.text
    four = made.json()
    span = datetime.fromisoformat(four["end_at"]) - datetime.fromisoformat(four["start_at"])
    assert span == timedelta(minutes=120)


def test_availability_steers_to_the_least_displacing_time(world: World) -> None:
    rid = add_restaurant(
        world.ledger,
        three_tables_spec(
            name="Three Tables Steering",
        ),
    )
    c, admin = world.client, world.headers["admin"]
    now = world.clock.now
    # Twenty past nights: two twos booked a fortnight ahead, a four an hour ahead.
    nights = [now.date() - timedelta(days=back) for back in range(1, 21)]
    book_past_nights(world.ledger, rid, nights, policy=BestFitAtBooking())
    day = (now + timedelta(days=9)).date().isoformat()  # the twos are in, the four is not
    body = {"restaurant_id": rid, "date": day, "time": "19:00", "party_size": 2}
    assert c.post(f"{API}/reservations", json=body, headers=admin).status_code == 201
    url = f"{API}/restaurants/{rid}/availability"
    params: dict[str, str | int] = {
        "date": day,
        "party_size": 4,
        "earliest": "17:00",
        "latest": "18:00",
    }
    plain = c.get(url, params=params).json()["times"]
    assert plain and all(t["displaced_covers"] is None for t in plain)
    assert not any(t["recommended"] for t in plain)
    on = {"table_policy": "lock_at_booking", "admission_control": True}
    assert c.put(_url(rid), json=on, headers=admin).status_code == 200
    priced = c.get(url, params=params).json()["times"]
    displaced = {t["local_time"]: t["displaced_covers"] for t in priced}
    assert all(d is not None for d in displaced.values())
    # As a diner app shows them: two decimals, never the LP's -0.0 or 7e-15.
    assert all(d >= 0 and round(d, 2) == d and str(d) != "-0.0" for d in displaced.values())
    least = min(displaced.values())
    assert [t["local_time"] for t in priced if t["recommended"]] == [
        t for t, d in displaced.items() if d == least
    ]
    assert max(displaced.values()) > least  # the recommendation tells the times apart
