"""Tables in and out of service through the API: the restaurant's host or
manager takes a table out, bookings stop getting it, the parties booked on
it move to other free tables (or, asked not to, stay and are listed), and
strangers, diners and unknown tables are refused."""

from __future__ import annotations

from datetime import date, timedelta

from booking_core.reservations import BookingRequest, book, get_reservation
from serving.routes.tables import HELD_BY_LISTED
from tests.conftest import add_three_tables
from tests.serving.conftest import World, fresh_date

API = "/api/v1"


def _url(restaurant_id: int, table_id: int) -> str:
    return f"{API}/restaurants/{restaurant_id}/tables/{table_id}/service"


def test_a_table_out_of_service_is_left_out_and_its_party_moved(world: World) -> None:
    # A restaurant of its own: on the shared bistro, other tests' parties on
    # that table would move too.
    c, admin = world.client, world.headers["admin"]
    rid, _ = add_three_tables(world.ledger, name="A Table Leaves")
    day = date.fromisoformat(fresh_date())
    held = book(world.ledger, BookingRequest(rid, day, "19:00", 2, guest_name="Moved"))
    table = held.table_ids[0]
    try:
        out = c.put(_url(rid, table), json={"in_service": False}, headers=admin)
        assert out.status_code == 200, out.text
        body = out.json()
        assert body["in_service"] is False
        assert (body["held_by"], body["held_by_count"], body["moved_count"]) == ([], 0, 1)
        [moved] = body["moved"]
        now_on = get_reservation(world.ledger, held.id).table_ids
        assert (moved["reservation_id"], moved["from_table_ids"], moved["table_ids"]) == (
            held.id,
            [table],
            list(now_on),
        )
        assert table not in now_on
        # Later that night the table is free again, but out of service.
        other = book(world.ledger, BookingRequest(rid, day, "21:00", 2, guest_name="New"))
        assert table not in other.table_ids
    finally:
        back = c.put(_url(rid, table), json={"in_service": True}, headers=admin)
    assert back.status_code == 200, back.text
    assert back.json()["in_service"] is True
    assert back.json()["moved_count"] == 0
    # Back in service, the best fit at 21:00 is that table again.
    again = book(world.ledger, BookingRequest(rid, day, "21:00", 2, guest_name="Back"))
    assert again.table_ids == (table,)


def test_the_restaurants_host_takes_its_table_out_and_puts_it_back(world: World) -> None:
    c, host = world.client, world.headers["host"]
    table = book(
        world.ledger, BookingRequest(world.bistro, fresh_date(), "19:00", 2, guest_name="Stays")
    ).table_ids[0]
    keep = {"in_service": False, "move_holders": False}  # nobody else's party moves
    out = c.put(_url(world.bistro, table), json=keep, headers=host)
    assert out.status_code == 200 and out.json()["in_service"] is False, out.text
    back = c.put(_url(world.bistro, table), json={"in_service": True}, headers=host)
    assert back.status_code == 200 and back.json()["in_service"] is True, back.text


def test_asked_not_to_move_anyone_it_lists_who_holds_the_table(world: World) -> None:
    c, admin = world.client, world.headers["admin"]
    rid, _ = add_three_tables(world.ledger, name="Host Moves Them")
    day = date.fromisoformat(fresh_date())
    held = book(world.ledger, BookingRequest(rid, day, "19:00", 2, guest_name="Kept"))
    table = held.table_ids[0]
    body = {"in_service": False, "move_holders": False}
    out = c.put(_url(rid, table), json=body, headers=admin).json()
    assert [h["reservation_id"] for h in out["held_by"]] == [held.id]
    assert (out["held_by_count"], out["moved"]) == (1, [])
    assert get_reservation(world.ledger, held.id).table_ids == (table,)


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
    kept = world.client.put(
        url, json={"in_service": False, "move_holders": False}, headers=admin
    ).json()
    assert kept["held_by_count"] == len(mine) > HELD_BY_LISTED
    listed = [h["start_at"] for h in kept["held_by"]]
    assert len(listed) == HELD_BY_LISTED and listed == sorted(listed)
    # Taken out again with moving on, every one of them moves (the other
    # two-top is free those nights), and the answer is capped the same way.
    moved = world.client.put(url, json={"in_service": False}, headers=admin).json()
    assert (moved["moved_count"], moved["held_by_count"]) == (len(mine), 0)
    starts = [m["start_at"] for m in moved["moved"]]
    assert len(starts) == HELD_BY_LISTED and starts == sorted(starts)
