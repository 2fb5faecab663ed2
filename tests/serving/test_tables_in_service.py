"""Tables in and out of service through the API: the restaurant's host or
manager takes a table out, bookings stop getting it, nobody is moved (the
answer lists who still holds it), and strangers, diners and unknown tables
are refused."""

from __future__ import annotations

from datetime import date, timedelta

from booking_core.reservations import BookingRequest, book
from serving.routes.tables import HELD_BY_LISTED
from tests.conftest import add_three_tables
from tests.serving.conftest import World, fresh_date

API = "/api/v1"


def _url(restaurant_id: int, table_id: int) -> str:
    return f"{API}/restaurants/{restaurant_id}/tables/{table_id}/service"


def test_a_table_out_of_service_is_left_out_and_its_bookings_listed(world: World) -> None:
    c, host = world.client, world.headers["host"]
    day = date.fromisoformat(fresh_date())
    held = book(world.ledger, BookingRequest(world.bistro, day, "19:00", 2, guest_name="Kept"))
    table = held.table_ids[0]
    try:
        out = c.put(_url(world.bistro, table), json={"in_service": False}, headers=host)
        assert out.status_code == 200, out.text
        assert out.json()["in_service"] is False
        assert [h["reservation_id"] for h in out.json()["held_by"]] == [held.id]
        assert out.json()["held_by_count"] == 1
        # Later that night the table is free again, but out of service.
        other = book(world.ledger, BookingRequest(world.bistro, day, "21:00", 2, guest_name="New"))
        assert table not in other.table_ids
    finally:
        back = c.put(_url(world.bistro, table), json={"in_service": True}, headers=host)
    assert back.status_code == 200, back.text
    assert back.json()["in_service"] is True
    # Back in service, the best fit at 21:00 is that table again.
    again = book(world.ledger, BookingRequest(world.bistro, day, "21:00", 2, guest_name="Back"))
    assert again.table_ids == (table,)


def test_strangers_diners_and_unknown_tables_are_refused(world: World) -> None:
    c = world.client
    day = date.fromisoformat(fresh_date())
    table = book(
        world.ledger, BookingRequest(world.bistro, day, "19:00", 2, guest_name="Any")
    ).table_ids[0]
    body = {"in_service": False}
    assert (
        c.put(_url(world.bistro, table), json=body, headers=world.headers["manager"]).status_code
        == 403
    )
    assert (
        c.put(_url(world.bistro, table), json=body, headers=world.headers["ana"]).status_code == 403
    )
    missing = c.put(_url(world.bistro, 999_999), json=body, headers=world.headers["host"])
    assert missing.status_code == 404
    assert "no table with id 999999" in missing.json()["detail"]
    not_a_flag = c.put(
        _url(world.bistro, table), json={"in_service": "no"}, headers=world.headers["host"]
    )
    assert not_a_flag.status_code == 422


def test_a_table_booked_far_ahead_lists_the_soonest_and_counts_them_all(world: World) -> None:
    # A restaurant of its own, so the other tests' bistro keeps its history.
    rid, _ = add_three_tables(world.ledger, name="Booked Far Ahead")
    # Its own dates too: the shared fresh_date counter stays where it was.
    first = date.fromisoformat(fresh_date()) + timedelta(days=365)
    days = [first + timedelta(days=i) for i in range(HELD_BY_LISTED + 1)]
    taken = [
        book(world.ledger, BookingRequest(rid, day, "19:00", 2, guest_name="Regular"))
        for day in days
    ]
    table = taken[0].table_ids[0]
    mine = [r for r in taken if r.table_ids == (table,)]
    url, admin = _url(rid, table), world.headers["admin"]
    out = world.client.put(url, json={"in_service": False}, headers=admin).json()
    assert out["held_by_count"] == len(mine) > HELD_BY_LISTED
    listed = [h["start_at"] for h in out["held_by"]]
    assert len(listed) == HELD_BY_LISTED and listed == sorted(listed)
