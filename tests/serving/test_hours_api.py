"""Weekly hours through the API: anyone reads the hours in force on a date;
a manager changes them from a date and gets the bookings the new hours no
longer serve; searches follow at once; bad input, past dates, other
restaurants' staff and diners are refused with a message."""

from __future__ import annotations

from datetime import date, timedelta

from booking_core.reservations import BookingRequest, book
from tests.conftest import add_three_tables
from tests.serving.conftest import World, fresh_date

API = "/api/v1"
LUNCH = {
    "name": "lunch",
    "weekdays": [0, 1, 2, 3, 4],
    "opens": "12:00",
    "closes": "15:30",
    "last_seating": "14:00",
    "turn_times": {"2": 60, "4": 75},
}


def test_a_manager_changes_the_hours_from_a_date(world: World) -> None:
    c, admin = world.client, world.headers["admin"]
    rid, _ = add_three_tables(world.ledger, name="Lunch From Now On")
    # Its own dates, a year on: the shared fresh_date counter is not moved further.
    start = date.fromisoformat(fresh_date()) + timedelta(days=365)
    start += timedelta(days=(7 - start.weekday()) % 7)  # a Monday
    dinner = book(world.ledger, BookingRequest(rid, start + timedelta(days=1), "19:00", 2))
    before = c.get(f"{API}/restaurants/{rid}/hours", params={"on": start.isoformat()}).json()
    assert before["effective_from"] is None and before["changes_from"] == []
    assert {p["name"] for p in before["periods"]} == {"dinner"}

    out = c.put(
        f"{API}/restaurants/{rid}/hours",
        json={"effective_from": start.isoformat(), "periods": [LUNCH]},
        headers=admin,
    )
    assert out.status_code == 200, out.text
    body = out.json()
    assert body["effective_from"] == start.isoformat()
    assert [(p["weekday"], p["opens"], p["last_seating"]) for p in body["periods"]] == [
        (d, "12:00", "14:00") for d in range(5)
    ]
    assert [o["reservation_id"] for o in body["outside_hours"]] == [dinner.id]
    assert body["outside_hours_count"] == 1
    # The day before keeps dinner and says a change is coming.
    eve = start - timedelta(days=1)
    old = c.get(f"{API}/restaurants/{rid}/hours", params={"on": eve.isoformat()}).json()
    assert {p["name"] for p in old["periods"]} == {"dinner"}
    assert old["changes_from"] == [start.isoformat()]
    times = c.get(
        f"{API}/restaurants/{rid}/availability",
        params={"date": (start + timedelta(days=2)).isoformat(), "party_size": 2},
    )
    assert times.status_code == 200, times.text
    slots = [t["local_time"] for t in times.json()["times"]]
    assert slots and slots[0] == "12:00" and slots[-1] == "14:00"


def test_bad_changes_are_refused_with_a_message(world: World) -> None:
    c = world.client
    rid, _ = add_three_tables(world.ledger, name="Guarded Hours")
    url = f"{API}/restaurants/{rid}/hours"
    later = (date.fromisoformat(fresh_date()) + timedelta(days=400)).isoformat()
    body = {"effective_from": later, "periods": [LUNCH]}
    assert c.put(url, json=body).status_code == 401
    assert c.put(url, json=body, headers=world.headers["manager"]).status_code == 403
    assert c.put(url, json=body, headers=world.headers["ana"]).status_code == 403
    admin = world.headers["admin"]
    past = c.put(url, json={**body, "effective_from": "2020-01-01"}, headers=admin)
    assert past.status_code == 422 and "past nights keep" in past.json()["detail"]
    late = {**LUNCH, "last_seating": "16:00"}
    wrong = c.put(url, json={**body, "periods": [late]}, headers=admin)
    assert wrong.status_code == 422 and "last seating" in wrong.json()["detail"]
    clash = {**LUNCH, "name": "brunch", "opens": "11:00", "last_seating": "12:30"}
    overlap = c.put(url, json={**body, "periods": [LUNCH, clash]}, headers=admin)
    assert overlap.status_code == 422 and "overlap" in overlap.json()["detail"]
    for bad in (
        {**LUNCH, "opens": "25:00"},
        {**LUNCH, "weekdays": [7]},
        {**LUNCH, "turn_times": {}},
    ):
        assert c.put(url, json={**body, "periods": [bad]}, headers=admin).status_code == 422
    assert c.put(url, json={**body, "periods": []}, headers=admin).status_code == 422
    missing = c.get(f"{API}/restaurants/999999/hours")
    assert missing.status_code == 404
    # Nothing was changed by any of it.
    now = c.get(url, params={"on": later}).json()
    assert now["effective_from"] is None and now["changes_from"] == []
