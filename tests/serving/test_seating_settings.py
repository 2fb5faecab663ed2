"""The seating setting through the API: managers read and change it, others
may not, an unknown value is a 422 that says what the setting can be, and
the booking writer follows it (a pooled restaurant moves a booked party)."""

from __future__ import annotations

from booking_core.restaurants import PeriodSpec, TableSpec, add_restaurant
from tests.conftest import bistro_spec
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
