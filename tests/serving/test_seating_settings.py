"""The seating setting through the API: managers read and change it, others
may not, an unknown value is a 422 that says what the setting can be, and
the booking writer follows it (a pooled restaurant moves a booked party; a
locking one with admission control refuses a small party the larger ones
still expected need, with a 409)."""

from __future__ import annotations

from datetime import date, timedelta

from booking_core.daybook import BestFitAtBooking
from booking_core.restaurants import PeriodSpec, TableSpec, add_restaurant
from tests.booking_core.test_table_policy import book_past_nights
from tests.conftest import bistro_spec, three_tables_spec
from tests.serving.conftest import World, fresh_date

API = "/api/v1"
PROBLEM = "application/problem+json"


def _url(restaurant_id: int) -> str:
    return f"{API}/restaurants/{restaurant_id}/seating-settings"


def test_a_manager_reads_and_changes_the_setting(world: World) -> None:
    c, manager = world.client, world.headers["manager"]
    url = _url(world.brasserie)
    try:
        read = c.get(url, headers=manager)
        assert read.status_code == 200, read.text
        assert read.json() == {
            "restaurant_id": world.brasserie,
            "table_policy": "lock_at_booking",
            "overbooking_max_wait_risk": None,
            "admission_control": False,
            "booked_stays": "turn_times",
        }
        changed = c.put(url, json={"table_policy": "pooled"}, headers=manager)
        assert changed.status_code == 200, changed.text
        assert changed.json()["table_policy"] == "pooled"
        assert c.get(url, headers=manager).json()["table_policy"] == "pooled"
    finally:  # the session's other tests expect the brasserie to lock at booking
        c.put(url, json={"table_policy": "lock_at_booking"}, headers=manager)
    assert c.get(url, headers=manager).json()["table_policy"] == "lock_at_booking"


def test_an_unknown_value_is_a_422_naming_the_choices(world: World) -> None:
    response = world.client.put(
        _url(world.brasserie), json={"table_policy": "best_fit"}, headers=world.headers["manager"]
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert "'lock_at_booking' or 'pooled'" in response.json()["detail"]
    missing = world.client.put(_url(world.brasserie), json={}, headers=world.headers["manager"])
    assert missing.status_code == 422


def test_only_the_restaurants_managers_change_it(world: World) -> None:
    c = world.client
    body = {"table_policy": "pooled"}
    for who, restaurant in (
        ("ana", world.brasserie),  # a diner
        ("host", world.bistro),  # staff, but a host
        ("manager", world.bistro),  # a manager, of another restaurant
    ):
        refused = c.put(_url(restaurant), json=body, headers=world.headers[who])
        assert refused.status_code == 403, (who, refused.text)
        assert refused.headers["content-type"] == PROBLEM
    # A diner cannot read it either; the bistro's host can.
    assert c.get(_url(world.bistro), headers=world.headers["ana"]).status_code == 403
    assert c.get(_url(world.bistro), headers=world.headers["host"]).json()["table_policy"] == (
        "lock_at_booking"
    )
    assert c.put(_url(world.bistro), json=body).status_code == 401
    assert c.put(_url(999_999), json=body, headers=world.headers["admin"]).status_code == 404


def test_bookings_through_the_api_follow_the_setting(world: World) -> None:
    spec = bistro_spec(
        name="Two Tables",
        tables=(TableSpec("A", "Main", 1, 2), TableSpec("B", "Main", 2, 4)),
        combinations=(),
        periods=(PeriodSpec("dinner", tuple(range(7)), "17:00", "23:00", "21:30", {4: 90}),),
        deposit_min_party=None,
    )
    rid = add_restaurant(world.ledger, spec)
    c, admin = world.client, world.headers["admin"]
    day = fresh_date()

    def booking(at: str, size: int) -> tuple[int, dict[str, object]]:
        body = {"restaurant_id": rid, "date": day, "time": at, "party_size": size}
        response = c.post(f"{API}/reservations", json=body, headers=admin)
        return response.status_code, response.json()

    status, early = booking("18:00", 2)  # A 18:00-19:30
    assert status == 201
    status, late = booking("19:30", 3)  # B 19:30-21:00
    assert status == 201
    status, refused = booking("18:30", 2)  # locking at booking: no table
    assert (status, refused["code"]) == (409, "no_table_free")
    assert c.put(_url(rid), json={"table_policy": "pooled"}, headers=admin).status_code == 200
    status, taken = booking("18:30", 2)  # the early party moves to B
    assert status == 201, taken
    assert taken["table_ids"] == early["table_ids"]
    moved = c.get(f"{API}/reservations/{early['id']}", headers=admin).json()
    assert moved["table_ids"] == late["table_ids"]


def test_admission_control_round_trips_and_is_off_unless_given(world: World) -> None:
    c, manager = world.client, world.headers["manager"]
    url = _url(world.brasserie)
    try:
        on = c.put(
            url,
            json={"table_policy": "lock_at_booking", "admission_control": True},
            headers=manager,
        )
        assert on.status_code == 200, on.text
        assert on.json() == {
            "restaurant_id": world.brasserie,
            "table_policy": "lock_at_booking",
            "overbooking_max_wait_risk": None,
            "admission_control": True,
            "booked_stays": "turn_times",
        }
        assert c.get(url, headers=manager).json()["admission_control"] is True
        # Not a boolean: a 422, and the setting stays as it was.
        bad = c.put(
            url,
            json={"table_policy": "lock_at_booking", "admission_control": "yes"},
            headers=manager,
        )
        assert bad.status_code == 422
        assert c.get(url, headers=manager).json()["admission_control"] is True
        # A PUT sets the whole setting: leaving the field out turns it off.
        off = c.put(url, json={"table_policy": "lock_at_booking"}, headers=manager)
        assert off.json()["admission_control"] is False
    finally:
        c.put(url, json={"table_policy": "lock_at_booking"}, headers=manager)
    assert c.get(url, headers=manager).json()["admission_control"] is False
    described = world.client.get("/openapi.json").json()["components"]["schemas"]
    assert (
        "lock_at_booking"
        in described["SeatingSettingsUpdate"]["properties"]["admission_control"]["description"]
    )


def test_a_locking_restaurant_with_admission_control_refuses_with_a_409(world: World) -> None:
    spec = three_tables_spec(
        name="Three Tables Admitting",
    )
    rid = add_restaurant(world.ledger, spec)
    c, admin = world.client, world.headers["admin"]
    now = world.clock.now
    # Nine days ahead, as in booking_core's test: the twos have come and the
    # four has not. Not a ``fresh_date`` (how far ahead that is depends on
    # the tests run before): the restaurant is this test's own, so is the date.
    day = (now.date() + timedelta(days=9)).isoformat()
    # Twenty past nights: two twos booked a fortnight ahead, a four an hour ahead.
    nights = [now.date() - timedelta(days=back) for back in range(1, 21)]
    book_past_nights(world.ledger, rid, nights, policy=BestFitAtBooking())
    assert date.fromisoformat(day) - now.date() < timedelta(days=14)  # the four is still due

    def booking(at: str, size: int) -> tuple[int, dict[str, object]]:
        body = {"restaurant_id": rid, "date": day, "time": at, "party_size": size}
        response = c.post(f"{API}/reservations", json=body, headers=admin)
        return response.status_code, response.json()

    for _ in range(2):
        assert booking("19:00", 2)[0] == 201
    on = {"table_policy": "lock_at_booking", "admission_control": True}
    assert c.put(_url(rid), json=on, headers=admin).status_code == 200
    status, refused = booking("19:00", 2)
    assert status == 409, refused
    assert refused["code"] == "tables_kept_for_later_parties"
    for _ in range(2):
        assert booking("17:00", 2)[0] == 201
    status, early = booking("17:00", 2)  # B, long before any four wants it
    assert status == 201, early
    # Without admission control the same restaurant takes the two at 19:00.
    off = {"table_policy": "lock_at_booking"}
    assert c.put(_url(rid), json=off, headers=admin).status_code == 200
    status, taken = booking("19:00", 2)
    assert status == 201, taken
