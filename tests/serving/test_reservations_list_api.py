"""``GET /reservations``: a diner lists their own bookings (from today on,
today at UTC-12, by default), the restaurant's staff list its book (today
there by default; ``restaurant_id`` required), admins list any restaurant
or diner, API keys cannot; bad parameters are a 422 that says why."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import LONDON, NOW, local_time
from tests.serving.conftest import World, fresh_date

API = "/api/v1"
URL = f"{API}/reservations"


def _book(
    world: World,
    who: str,
    rid: int,
    day: str,
    at: str = "19:00",
    party: int = 2,
    **extra: Any,
) -> dict[str, Any]:
    response = world.client.post(
        URL,
        json={"restaurant_id": rid, "date": day, "time": at, "party_size": party, **extra},
        headers=world.headers[who],
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _list(world: World, who: str, status: int = 200, /, **params: Any) -> dict[str, Any]:
    response = world.client.get(URL, params=params, headers=world.headers[who])
    assert response.status_code == status, response.text
    return dict(response.json())


def _ids(body: dict[str, Any]) -> list[int]:
    return [r["id"] for r in body["reservations"]]


@pytest.fixture
def clock_back(world: World) -> Iterator[None]:
    """Tests that move the session's clock put it back."""
    before = world.clock.now
    try:
        yield
    finally:
        world.clock.now = before


def test_the_hosts_book_of_a_night(world: World) -> None:
    day = fresh_date()
    ana = _book(world, "ana", world.bistro, day, "20:00", special_requests="window please")
    phone = _book(world, "host", world.bistro, day, "18:00", party=6, guest_name="Mr Large")
    ben = _book(world, "ben", world.bistro, day, "20:00")
    _book(world, "ana", world.brasserie, fresh_date())  # another restaurant, another day
    cancelled = _book(world, "host", world.bistro, day, "21:00", guest_name="Gone")
    world.client.post(
        f"{URL}/{cancelled['id']}/cancel", json={}, headers=world.headers["host"]
    ).raise_for_status()

    book = _list(world, "host", restaurant_id=world.bistro, **{"from": day, "to": day})

    assert _ids(book) == [phone["id"], ana["id"], ben["id"], cancelled["id"]]
    assert (book["total"], book["limit"], book["offset"]) == (4, 50, 0)
    assert book["date_from"] == book["date_to"] == day
    by_id = {r["id"]: r for r in book["reservations"]}
    assert (
        by_id[ana["id"]]
        == world.client.get(f"{URL}/{ana['id']}", headers=world.headers["host"]).json()
    )
    large = by_id[phone["id"]]
    assert (large["guest_name"], large["party_size"], large["state"]) == ("Mr Large", 6, "booked")
    assert len(large["table_ids"]) == 2 and large["deposit_required"]
    assert datetime.fromisoformat(large["start_at"]) == local_time(date.fromisoformat(day), "18:00")
    assert by_id[ana["id"]]["special_requests"] == "window please"
    assert by_id[cancelled["id"]]["state"] == "cancelled"
    assert by_id[cancelled["id"]]["table_ids"] == []
    assert "cancellation_terms" in large and large["fee"] is None

    # One date given is that night; the state filter repeats; paging keeps the total.
    assert _ids(_list(world, "host", restaurant_id=world.bistro, **{"from": day})) == _ids(book)
    assert _ids(_list(world, "host", restaurant_id=world.bistro, to=day)) == _ids(book)
    standing = _list(
        world, "host", restaurant_id=world.bistro, state=["booked", "confirmed"], to=day
    )
    assert _ids(standing) == [phone["id"], ana["id"], ben["id"]]
    assert standing["total"] == 3
    second = _list(world, "host", restaurant_id=world.bistro, to=day, limit=2, offset=2)
    assert (_ids(second), second["total"]) == ([ben["id"], cancelled["id"]], 4)
    assert second["limit"] == 2 and second["offset"] == 2


def test_staff_default_to_today_at_the_restaurant(world: World, clock_back: None) -> None:
    # A summer date (London on BST, an hour ahead of UTC), not one of
    # ``fresh_date``'s: those stay early in the year for the other tests.
    offset = (date.fromisoformat(fresh_date()) - NOW.date()).days
    there = date(NOW.year + 1, 6, 1) + timedelta(days=offset % 90)
    early = _book(world, "host", world.bistro, there.isoformat(), "17:00")
    # 23:30 UTC the day before is already 00:30 on ``there`` in London.
    world.clock.now = datetime.combine(there, datetime.min.time(), UTC) - timedelta(minutes=30)
    assert world.clock.now.astimezone(LONDON).date() == there

    book = _list(world, "host", restaurant_id=world.bistro)
    assert book["date_from"] == book["date_to"] == there.isoformat()
    assert early["id"] in _ids(book)
    assert {r["service_date"] for r in book["reservations"]} == {there.isoformat()}
    # A diner's default is the date on the westernmost clocks (UTC-12), still
    # the day before; and still the day before at 11:00 UTC on ``there``,
    # when a booking on the day before may still be ahead somewhere west.
    assert _list(world, "ana")["date_from"] == (there - timedelta(days=1)).isoformat()
    world.clock.now = datetime.combine(there, datetime.min.time(), UTC) + timedelta(hours=11)
    assert _list(world, "ana")["date_from"] == (there - timedelta(days=1)).isoformat()
    world.clock.now += timedelta(hours=1)
    assert _list(world, "ana")["date_from"] == there.isoformat()


def test_staff_need_their_own_restaurant(world: World) -> None:
    for who in ("host", "manager"):
        response = world.client.get(URL, headers=world.headers[who])
        assert response.status_code == 422, response.text
        assert "restaurant_id" in response.json()["detail"]
    assert _list(world, "host", 403, restaurant_id=world.brasserie)["code"] == "forbidden"
    assert _list(world, "manager", 403, restaurant_id=world.bistro)["code"] == "forbidden"
    assert _list(world, "manager", restaurant_id=world.brasserie)["reservations"] is not None


def test_a_diner_lists_only_their_own(world: World, clock_back: None) -> None:
    day, later = fresh_date(), fresh_date()
    past = _book(world, "ana", world.bistro, day, "17:00")
    here = _book(world, "ana", world.bistro, later, "17:00")
    there = _book(world, "ana", world.brasserie, later, "20:00")
    bens = _book(world, "ben", world.bistro, later, "19:00")
    ana_id = world.diner_ids["ana"]

    window = {"from": day, "to": later}
    mine = _list(world, "ana", **window)
    assert _ids(mine) == [past["id"], here["id"], there["id"]] and mine["total"] == 3
    assert _ids(_list(world, "ana", diner_id=ana_id, **window)) == _ids(mine)
    only_bistro = _list(world, "ana", restaurant_id=world.bistro, **window)
    assert _ids(only_bistro) == [past["id"], here["id"]]
    assert _ids(_list(world, "ben", **window)) == [bens["id"]]

    refused = _list(world, "ana", 403, diner_id=world.diner_ids["ben"])
    assert "own" in refused["detail"]

    # No dates: from today (at UTC-12) on, with no end; yesterday's booking drops out.
    world.clock.now = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
    world.clock.now += timedelta(days=1, hours=12)
    upcoming = _list(world, "ana", limit=200)
    today = world.clock.now.date()
    assert upcoming["date_from"] == today.isoformat() and upcoming["date_to"] is None
    assert {here["id"], there["id"]} <= set(_ids(upcoming))
    assert past["id"] not in _ids(upcoming) and bens["id"] not in _ids(upcoming)
    assert all(r["diner_id"] == ana_id for r in upcoming["reservations"])
    assert all(r["service_date"] >= today.isoformat() for r in upcoming["reservations"])
    assert upcoming["total"] == len(upcoming["reservations"])


def test_admins_list_any_restaurant_or_diner(world: World) -> None:
    day = fresh_date()
    bens = _book(world, "ben", world.brasserie, day, "19:00")
    phone = _book(world, "admin", world.brasserie, day, "18:00", guest_name="Walk")
    book = _list(world, "admin", restaurant_id=world.brasserie, **{"from": day})
    assert _ids(book) == [phone["id"], bens["id"]]
    ben = _list(world, "admin", diner_id=world.diner_ids["ben"], **{"from": day, "to": day})
    assert _ids(ben) == [bens["id"]]
    both = _list(
        world,
        "admin",
        diner_id=world.diner_ids["ben"],
        restaurant_id=world.bistro,
        **{"from": day, "to": day},
    )
    assert both["total"] == 0
    nobody = _list(world, "admin", 422)
    assert "restaurant_id" in nobody["detail"] and "diner_id" in nobody["detail"]
    assert _list(world, "admin", 404, restaurant_id=999_999)["code"] == "unknown_restaurant"


def test_api_keys_and_strangers_cannot_list(world: World) -> None:
    for key in (world.pos_key, world.affiliate_key):
        response = world.client.get(
            URL, params={"restaurant_id": world.bistro}, headers={"X-API-Key": key}
        )
        assert response.status_code == 403, response.text
        assert "API keys" in response.json()["detail"]
    assert world.client.get(URL, params={"restaurant_id": world.bistro}).status_code == 401


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-05-02", "to": "2026-05-01"}, "'to' is before 'from'"),
        ({"from": "2026-05-01", "to": "2026-08-01"}, "at most 92 days"),
        ({"state": "gone"}, "state"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"offset": -1}, "offset"),
        ({"from": "tomorrow"}, "from"),
        ({"restaurant_id": 0}, "restaurant_id"),
    ],
)
def test_bad_parameters_say_why(world: World, params: dict[str, Any], message: str) -> None:
    params.setdefault("restaurant_id", world.bistro)
    body = _list(world, "host", 422, **params)
    assert message in body["detail"], body
