"""Through the API: a booking or change refused for lack of room leaves one
turn-away row (a retry none, bad input none); a no-show answers with the
table it freed and the overbooked party to seat there, which the host's
plan shows too, and the seat call seats it there; a walk-in at a
restaurant with admission control is refused by price (409) unless the
host names the tables, and seated at one without."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from booking_core.daybook import table_policy
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, book
from booking_core.schema import turnaways
from optimizer.pooled_policy import PooledAcceptance
from tests.conftest import add_three_tables, local_time
from tests.serving.conftest import World, fresh_date

API = "/api/v1"


@pytest.fixture
def clock_back(world: World) -> Iterator[None]:
    """The shared clock may be moved to a dinner; it is put back."""
    before = world.clock.now
    yield
    world.clock.now = before


def _restaurant(world: World, name: str, **settings: object) -> tuple[int, dict[str, int]]:
    """Two tables for two (A, C) and one for four (B); dinner 17:00-23:00."""
    return add_three_tables(
        world.ledger,
        name=name,
        **settings,
    )


def _turned_away(ledger: Ledger, rid: int) -> list[sa.Row]:
    with ledger.read() as conn:
        return list(
            conn.execute(
                sa.select(turnaways)
                .where(turnaways.c.restaurant_id == rid)
                .order_by(turnaways.c.id)
            )
        )


def _at(day: str | date, hhmm: str, world: World) -> datetime:
    return local_time(date.fromisoformat(str(day)), hhmm)


def test_refused_bookings_and_changes_are_recorded_once(world: World) -> None:
    c, admin, ana = world.client, world.headers["admin"], world.headers["ana"]
    rid, _ = _restaurant(world, "Turned Away")
    day = fresh_date()

    def booking(at: str, size: int, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
        body = {"restaurant_id": rid, "date": day, "time": at, "party_size": size}
        response = c.post(f"{API}/reservations", json=body, headers=headers)
        return response.status_code, response.json()

    for size in (2, 2, 4):
        assert booking("19:00", size, admin)[0] == 201
    for _ in range(2):  # Ana asks twice: one request turned away
        status, refused = booking("19:00", 2, ana)
        assert (status, refused["code"]) == (409, "no_table_free")
    # Bad input is no demand.
    assert booking("12:00", 2, ana)[1]["code"] == "outside_service_hours"
    assert booking("19:00", 12, ana)[1]["code"] == "party_too_large"
    # Ana's booking at 21:00 cannot move to 19:00 either.
    status, mine = booking("21:00", 2, ana)
    assert status == 201
    moved = c.patch(f"{API}/reservations/{mine['id']}", json={"time": "19:15"}, headers=ana)
    assert moved.status_code == 409
    [row] = _turned_away(world.ledger, rid)
    assert (row.party_size, row.channel, row.reason, row.diner_id) == (
        2,
        "web",
        "no_table",
        world.diner_ids["ana"],
    )
    # A phone booking refused is another guest's request.
    assert booking("19:00", 3, admin)[0] == 409
    assert [(r.channel, r.party_size) for r in _turned_away(world.ledger, rid)] == [
        ("web", 2),
        ("phone", 3),
    ]


def _never_coming(ids: Sequence[int], now: datetime | None) -> Mapping[int, float]:
    return dict.fromkeys(ids, 0.05)


def test_a_no_show_suggests_the_overbooked_party_for_the_freed_table(
    world: World, clock_back: None
) -> None:
    c, admin = world.client, world.headers["admin"]
    rid, table = _restaurant(
        world, "Freed Tables", table_policy="pooled", overbooking_max_wait_risk=0.2
    )
    day = date.fromisoformat(fresh_date())
    held = [book(world.ledger, BookingRequest(rid, day, "18:00", n)) for n in (2, 2, 4)]
    overbook = PooledAcceptance(time_limit_s=5.0, show_probabilities=_never_coming)
    waiting = [
        book(world.ledger, BookingRequest(rid, day, at, n, guest_name=g), policy=overbook)
        for at, n, g in (("18:00", 2, "two"), ("18:15", 4, "four"))
    ]
    assert all(w.overbooked for w in waiting)
    world.clock.now = _at(day, "18:30", world)
    state = f"{API}/reservations/{{}}/state"
    arrived = c.post(state.format(waiting[1].id), json={"state": "arrived"}, headers=admin)
    assert arrived.status_code == 200
    assert "suggested_seating" in arrived.json() and arrived.json()["freed_tables"] == []
    gone = c.post(state.format(held[2].id), json={"state": "no_show"}, headers=admin)
    assert gone.status_code == 200, gone.text
    body = gone.json()
    assert body["state"] == "no_show" and body["table_ids"] == []
    assert body["freed_tables"] == [table["B"]]
    [suggested] = body["suggested_seating"]
    assert suggested["reservation_id"] == waiting[1].id  # the four fits B best
    assert (suggested["table_ids"], suggested["seats"], suggested["party_size"]) == (
        [table["B"]],
        4,
        4,
    )
    # The host's plan shows the same, and nobody was seated.
    plan = c.get(
        f"{API}/restaurants/{rid}/seating/plan", params={"date": day.isoformat()}, headers=admin
    )
    assert plan.status_code == 200, plan.text
    assert plan.json()["suggested_seating"] == body["suggested_seating"]
    parties = {p["reservation_id"]: p for p in plan.json()["parties"]}
    assert parties[waiting[1].id]["state"] == "arrived"
    # The host accepts with the seat call: the four sits at B.
    seated = c.post(state.format(waiting[1].id), json={"state": "seated"}, headers=admin)
    assert seated.status_code == 200, seated.text
    assert seated.json()["table_ids"] == [table["B"]]


def test_a_walk_in_is_refused_by_price_unless_the_host_names_the_tables(
    world: World, clock_back: None
) -> None:
    assert isinstance(table_policy.admission, PooledAcceptance)  # the app plugged it in
    c, admin = world.client, world.headers["admin"]
    day = date.fromisoformat(fresh_date())
    priced, table = _restaurant(world, "Keeps The Four-Top", admission_control=True)
    plain, plain_table = _restaurant(world, "Seats Whoever Comes")
    for rid in (priced, plain):
        # Each past night two twos booked a fortnight ahead and a four half
        # an hour ahead, all at 19:00; tonight the twos are booked.
        for back in range(1, 21):
            night = day - timedelta(days=back)
            seven = _at(night, "19:00", world)
            for size, lead in (
                (2, timedelta(days=14)),
                (2, timedelta(days=14)),
                (4, timedelta(minutes=30)),
            ):
                book(world.ledger, BookingRequest(rid, night, "19:00", size), now=seven - lead)
        for _ in range(2):
            book(world.ledger, BookingRequest(rid, day, "19:00", 2))
    world.clock.now = _at(day, "18:00", world)

    def walk_in(rid: int, tables: list[int] | None) -> tuple[int, dict[str, object]]:
        joined = c.post(f"{API}/restaurants/{rid}/waitlist", json={"party_size": 2}, headers=admin)
        assert joined.status_code == 201, joined.text
        url = f"{API}/restaurants/{rid}/waitlist/{joined.json()['id']}/seat"
        response = c.post(url, json={"table_ids": tables}, headers=admin)
        return response.status_code, response.json()

    status, refused = walk_in(priced, None)
    assert (status, refused["code"]) == (409, "tables_kept_for_later_parties")
    assert "B is kept for the parties still expected" in refused["detail"]
    assert "choose the tables yourself" in refused["detail"]
    status, overridden = walk_in(priced, [table["B"]])
    assert status == 200, overridden
    assert overridden["reservation"]["table_ids"] == [table["B"]]
    status, seated = walk_in(plain, None)
    assert status == 200, seated
    assert seated["reservation"]["table_ids"] == [plain_table["B"]]
    assert _turned_away(world.ledger, priced) == []  # the host could still seat them
