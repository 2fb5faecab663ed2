"""Predictive overbooking through the API, with the application's own show
probabilities (the attendance baseline: the restaurant's and the diner's
past no-shows): the setting's round trip and refusals, a pooled restaurant
taking a booking without a table when its booked parties are habitual
no-shows and refusing it (409, full) when they are sure to come, and the
host seating the overbooked party through the state endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest

from booking_core.daybook import table_policy
from booking_core.domain import ReservationState
from booking_core.guests import DinerSpec, create_diner
from booking_core.reservations import BookingRequest, advance, book
from booking_core.restaurants import PeriodSpec, TableSpec, add_restaurant
from optimizer.pooled_policy import PooledAcceptance
from tests.conftest import bistro_spec
from tests.serving.conftest import World, fresh_date

API = "/api/v1"
PROBLEM = "application/problem+json"


def _url(restaurant_id: int) -> str:
    return f"{API}/restaurants/{restaurant_id}/seating-settings"


def test_the_overbooking_setting_round_trips_for_a_manager(world: World) -> None:
    c, manager = world.client, world.headers["manager"]
    url = _url(world.brasserie)
    try:
        on = c.put(
            url, json={"table_policy": "pooled", "overbooking_max_wait_risk": 0.05}, headers=manager
        )
        assert on.status_code == 200, on.text
        assert on.json() == {
            "restaurant_id": world.brasserie,
            "table_policy": "pooled",
            "overbooking_max_wait_risk": 0.05,
            "admission_control": False,
            "booked_stays": "turn_times",
        }
        assert c.get(url, headers=manager).json()["overbooking_max_wait_risk"] == 0.05
        # A PUT sets the whole setting: leaving the bound out turns it off.
        off = c.put(url, json={"table_policy": "pooled"}, headers=manager)
        assert off.json()["overbooking_max_wait_risk"] is None
    finally:
        c.put(url, json={"table_policy": "lock_at_booking"}, headers=manager)
    assert c.get(url, headers=manager).json() == {
        "restaurant_id": world.brasserie,
        "table_policy": "lock_at_booking",
        "overbooking_max_wait_risk": None,
        "admission_control": False,
        "booked_stays": "turn_times",
    }


def test_out_of_range_bounds_and_locked_restaurants_are_422s(world: World) -> None:
    c, manager = world.client, world.headers["manager"]
    url = _url(world.brasserie)
    for bad in (0, -0.01, 0.25, 1):
        refused = c.put(
            url, json={"table_policy": "pooled", "overbooking_max_wait_risk": bad}, headers=manager
        )
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.headers["content-type"] == PROBLEM
        assert "overbooking_max_wait_risk" in refused.text
    locked = c.put(
        url,
        json={"table_policy": "lock_at_booking", "overbooking_max_wait_risk": 0.05},
        headers=manager,
    )
    assert locked.status_code == 422
    assert "pooled restaurants only" in locked.json()["detail"]
    assert c.get(url, headers=manager).json()["overbooking_max_wait_risk"] is None
    # A host of a restaurant cannot turn it on.
    host = c.put(
        _url(world.bistro),
        json={"table_policy": "pooled", "overbooking_max_wait_risk": 0.05},
        headers=world.headers["host"],
    )
    assert host.status_code == 403
    schema = c.get("/openapi.json").json()["components"]["schemas"]
    described = schema["SeatingSettingsUpdate"]["properties"]["overbooking_max_wait_risk"]
    assert "pooled restaurants only" in described["description"]


@pytest.fixture
def at_dinner(world: World) -> Iterator[None]:
    """The shared clock moved to a dinner, then back."""
    before = world.clock.now
    yield
    world.clock.now = before


def _pooled_overbooking(world: World, name: str) -> int:
    return add_restaurant(
        world.ledger,
        bistro_spec(
            name=name,
            tables=(TableSpec("A", "Main", 1, 2), TableSpec("C", "Main", 1, 2)),
            combinations=(),
            periods=(PeriodSpec("dinner", tuple(range(7)), "17:00", "23:00", "21:30", {2: 90}),),
            deposit_min_party=None,
            table_policy="pooled",
            overbooking_max_wait_risk=0.1,
        ),
    )


def _habitual_no_show(world: World, rid: int, name: str, nights: list[date]) -> int:
    """A diner who booked the restaurant on each of ``nights`` and never came."""
    diner = create_diner(world.ledger, DinerSpec(name))
    for night in nights:
        start = datetime.combine(night, datetime.min.time(), tzinfo=world.clock.now.tzinfo)
        seating = start + timedelta(hours=19)
        r = book(
            world.ledger,
            BookingRequest(rid, night, "19:00", 2, diner_id=diner),
            now=seating - timedelta(days=3),
        )
        advance(world.ledger, r.id, ReservationState.NO_SHOW, now=seating + timedelta(minutes=30))
    return diner


def test_a_full_pooled_restaurant_overbooks_habitual_no_shows_only(
    world: World, at_dinner: None
) -> None:
    assert isinstance(table_policy.pooled, PooledAcceptance)
    assert table_policy.pooled.show_probabilities is not None  # the app handed its scorer over
    c, admin = world.client, world.headers["admin"]
    now = world.clock.now
    past = [(now - timedelta(days=d)).date() for d in range(2, 8)]
    day = fresh_date()

    def booking(rid: int, at: str, diner: int | None = None) -> tuple[int, dict[str, object]]:
        body = {"restaurant_id": rid, "date": day, "time": at, "party_size": 2, "diner_id": diner}
        response = c.post(f"{API}/reservations", json=body, headers=admin)
        return response.status_code, response.json()

    # Parties sure enough to come (guests, no history: the 8 % prior): refused.
    steady = _pooled_overbooking(world, "Steady Guests")
    for _ in range(2):
        assert booking(steady, "18:00")[0] == 201
    status, refused = booking(steady, "18:30")
    assert (status, refused["code"]) == (409, "no_table_free")
    assert "No table for 2 is free" in refused["detail"]

    # Two diners who never came, six times each: their tables will likely free.
    flaky = _pooled_overbooking(world, "Flaky Guests")
    diners = [_habitual_no_show(world, flaky, n, past) for n in ("Nell", "Nick")]
    early = [booking(flaky, "18:00", d) for d in diners]
    assert [s for s, _ in early] == [201, 201]
    status, taken = booking(flaky, "18:30")
    assert status == 201, taken
    assert taken["overbooked"] is True and taken["table_ids"] == []
    assert all(r["overbooked"] is False for _, r in early)
    read = c.get(f"{API}/reservations/{taken['id']}", headers=admin).json()
    assert read["overbooked"] is True and read["table_ids"] == []
    # The host's plan of the evening lists it, with no table held yet.
    plan = c.get(f"{API}/restaurants/{flaky}/seating/plan", params={"date": day}, headers=admin)
    assert plan.status_code == 200, plan.text
    listed = {p["reservation_id"]: p for p in plan.json()["parties"]}
    assert listed[taken["id"]]["table_ids"] == []

    # 18:25: one of them did not come, as expected; the host marks it and
    # seats the overbooked party at the table that freed.
    stamp = datetime.fromisoformat(str(early[0][1]["start_at"]))
    world.clock.now = stamp + timedelta(minutes=25)
    state = f"{API}/reservations/{{}}/state"
    seat = c.post(state.format(taken["id"]), json={"state": "seated"}, headers=admin)
    assert seat.status_code == 409  # both tables still held (the grace period)
    gone = c.post(state.format(early[0][1]["id"]), json={"state": "no_show"}, headers=admin)
    assert gone.status_code == 200, gone.text
    seat = c.post(state.format(taken["id"]), json={"state": "seated"}, headers=admin)
    assert seat.status_code == 200, seat.text
    assert seat.json()["state"] == "seated"
    assert seat.json()["table_ids"] == early[0][1]["table_ids"]
    assert seat.json()["overbooked"] is True
