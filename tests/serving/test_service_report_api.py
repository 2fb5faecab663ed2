"""The service report over HTTP: staff of the restaurant and admins only,
bad dates a 422 that says why, and a booking refused for lack of room is
turned-away demand in the next report."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tests.conftest import add_three_tables
from tests.serving.conftest import World, fresh_date

API = "/api/v1"


def _report(world: World, rid: int, who: str, **params: str) -> tuple[int, dict[str, Any]]:
    response = world.client.get(
        f"{API}/restaurants/{rid}/service-report", params=params, headers=world.headers[who]
    )
    return response.status_code, response.json()


def test_only_the_restaurants_staff_and_admins_read_it(world: World) -> None:
    day = fresh_date()
    span = {"from": day, "to": day}
    assert _report(world, world.brasserie, "ana", **span)[0] == 403
    status, refused = _report(world, world.bistro, "manager", **span)  # the brasserie's
    assert (status, refused["code"]) == (403, "forbidden")
    for who, rid in (("manager", world.brasserie), ("host", world.bistro), ("admin", world.bistro)):
        status, body = _report(world, rid, who, **span)
        assert status == 200, body
        assert body["restaurant_id"] == rid
        assert [(r["service_date"], r["period"]) for r in body["rows"]] == [(day, "dinner")]
    response = world.client.get(f"{API}/restaurants/{world.bistro}/service-report", params=span)
    assert response.status_code == 401


def test_bad_dates_are_a_422_that_says_why(world: World) -> None:
    day = date.fromisoformat(fresh_date())
    cases = [
        ({"from": "2026-02-30", "to": day.isoformat()}, "validation_error", "query.from"),
        ({"from": day.isoformat()}, "validation_error", "query.to"),
        (
            {"from": day.isoformat(), "to": (day - timedelta(days=1)).isoformat()},
            "invalid_request",
            "from is after to",
        ),
        (
            {"from": day.isoformat(), "to": (day + timedelta(days=92)).isoformat()},
            "invalid_request",
            "at most 92 days",
        ),
    ]
    for params, code, says in cases:
        status, body = _report(world, world.bistro, "admin", **params)
        assert (status, body["code"]) == (422, code), body
        assert says in str(body["detail"])
    status, body = _report(world, 999_999, "admin", **{"from": "2026-03-10", "to": "2026-03-10"})
    assert status == 404, body


def test_a_refused_booking_is_turned_away_demand_in_the_next_report(world: World) -> None:
    c, admin, ana = world.client, world.headers["admin"], world.headers["ana"]
    rid, _ = add_three_tables(world.ledger, name="Reported Over HTTP")
    day = fresh_date()

    def booking(size: int, headers: dict[str, str]) -> int:
        body = {"restaurant_id": rid, "date": day, "time": "19:00", "party_size": size}
        return c.post(f"{API}/reservations", json=body, headers=headers).status_code

    for size in (2, 2, 4):
        assert booking(size, admin) == 201
    status, before = _report(world, rid, "admin", **{"from": day, "to": day})
    assert status == 200, before
    assert before["totals"]["turned_away_requests"] == 0
    assert booking(2, ana) == 409  # every table is held at 19:00
    status, after = _report(world, rid, "admin", **{"from": day, "to": day})
    assert status == 200, after
    [row] = after["rows"]
    assert (row["bookings"], row["covers_booked"]) == (3, 8)
    assert row["turned_away"]["no_table"] == {"requests": 1, "covers": 2}
    assert row["turned_away"]["walk_in_no_table"] == {"requests": 0, "covers": 0}
    assert (row["turned_away_requests"], row["turned_away_covers"]) == (1, 2)
    assert after["totals"]["turned_away"]["no_table"] == {"requests": 1, "covers": 2}
    assert (row["seat_minutes_available"], row["utilisation"]) == (8 * 360, 0.0)
