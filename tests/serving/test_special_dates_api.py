"""Closures and special hours through the API: anyone reads them; a
restaurant's manager closes a date or gives it its own hours and gets the
bookings the day no longer serves; searches follow at once; removing the
date brings the week back; bad input, past dates, other restaurants' staff
and diners are refused with a message."""

from __future__ import annotations

from datetime import date, timedelta

from booking_core.reservations import BookingRequest, book
from tests.conftest import add_three_tables
from tests.serving.conftest import World, fresh_date

API = "/api/v1"


def _day(offset: int) -> date:
    # Its own dates, well after the shared fresh_date counter's.
    return date.fromisoformat(fresh_date()) + timedelta(days=500 + offset)


def test_a_manager_closes_a_date_then_opens_it_for_a_gala(world: World) -> None:
    c, admin = world.client, world.headers["admin"]
    rid, _ = add_three_tables(world.ledger, name="Gala Night")
    day = _day(0)
    url = f"{API}/restaurants/{rid}/special-dates"
    early = book(world.ledger, BookingRequest(rid, day, "17:30", 2))
    late = book(world.ledger, BookingRequest(rid, day, "21:00", 2))

    closed = c.put(f"{url}/{day}", json={"note": "Private party"}, headers=admin)
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["closed"] is True and body["note"] == "Private party"
    assert [o["reservation_id"] for o in body["outside_hours"]] == [early.id, late.id]
    assert body["outside_hours_count"] == 2
    times = c.get(
        f"{API}/restaurants/{rid}/availability",
        params={"date": day.isoformat(), "party_size": 2},
    )
    assert times.status_code == 200 and times.json()["times"] == []
    refused = c.post(
        f"{API}/reservations",
        json={"restaurant_id": rid, "date": day.isoformat(), "time": "19:00", "party_size": 2},
        headers={**admin, "Idempotency-Key": f"gala-{rid}"},
    )
    assert refused.status_code == 409 and "Private party" in refused.json()["detail"]

    # Now a gala from 19:00 to 01:00: only the 17:30 booking is outside it.
    gala = {
        "closed": False,
        "note": "Gala",
        "opens": "19:00",
        "closes": "01:00",
        "last_seating": "22:30",
    }
    opened = c.put(f"{url}/{day}", json=gala, headers=admin)
    assert opened.status_code == 200, opened.text
    assert opened.json()["opens"] == "19:00" and opened.json()["closes"] == "01:00"
    assert [o["reservation_id"] for o in opened.json()["outside_hours"]] == [early.id]
    slots = c.get(
        f"{API}/restaurants/{rid}/availability",
        params={"date": day.isoformat(), "party_size": 2},
    ).json()["times"]
    assert slots[0]["local_time"] == "19:00" and slots[-1]["local_time"] == "22:30"

    listed = c.get(url, params={"from": (day - timedelta(days=1)).isoformat()})
    assert listed.status_code == 200
    assert [(d["date"], d["closed"], d["note"]) for d in listed.json()] == [
        (day.isoformat(), False, "Gala")
    ]
    assert c.delete(f"{url}/{day}", headers=admin).status_code == 204
    assert c.get(url, params={"from": day.isoformat()}).json() == []
    back = c.get(
        f"{API}/restaurants/{rid}/availability",
        params={"date": day.isoformat(), "party_size": 2},
    ).json()["times"]
    assert back[0]["local_time"] == "17:00"


def test_bad_special_dates_are_refused_with_a_message(world: World) -> None:
    c = world.client
    rid, _ = add_three_tables(world.ledger, name="Guarded Dates")
    url = f"{API}/restaurants/{rid}/special-dates"
    day = _day(10)
    closed = {"note": "Holiday"}
    assert c.put(f"{url}/{day}", json=closed).status_code == 401
    assert c.put(f"{url}/{day}", json=closed, headers=world.headers["manager"]).status_code == 403
    assert c.put(f"{url}/{day}", json=closed, headers=world.headers["ana"]).status_code == 403
    assert c.delete(f"{url}/{day}", headers=world.headers["ana"]).status_code == 403
    admin = world.headers["admin"]
    past = c.put(f"{url}/2020-01-01", json=closed, headers=admin)
    assert past.status_code == 422 and "past nights keep" in past.json()["detail"]
    open_ = {"closed": False, "opens": "19:00", "closes": "22:00"}
    half = c.put(f"{url}/{day}", json=open_, headers=admin)
    assert half.status_code == 422 and "last_seating" in half.text
    late = {**open_, "last_seating": "23:00"}
    wrong = c.put(f"{url}/{day}", json=late, headers=admin)
    assert wrong.status_code == 422 and "must fall between" in wrong.json()["detail"]
    for bad in (
        {"closed": True, "opens": "19:00"},
        {"note": "x" * 201},
        {"note": "line\nbreak"},
        {**late, "last_seating": "25:00"},
    ):
        assert c.put(f"{url}/{day}", json=bad, headers=admin).status_code == 422, bad
    assert c.put(f"{url}/not-a-date", json=closed, headers=admin).status_code == 422
    gone = c.delete(f"{url}/{day}", headers=admin)
    assert gone.status_code == 404 and "nothing set" in gone.json()["detail"]
    assert c.get(f"{API}/restaurants/999999/special-dates").status_code == 404
    span = c.get(url, params={"from": "2027-01-01", "to": "2030-01-01"})
    assert span.status_code == 422
    backwards = c.get(url, params={"from": "2027-01-02", "to": "2027-01-01"})
    assert backwards.status_code == 422
    assert c.get(url, params={"from": "9999-12-30"}).json() == []
    # Nothing was set by any of it.
    assert c.get(url, params={"from": "2020-01-01"}).json() == []
