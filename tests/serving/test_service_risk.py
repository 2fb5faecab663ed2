"""The manager's list of a service's bookings by attendance risk: riskiest
first, who needs a reminder call by the documented rule, the covers to
expect, and only the restaurant's own staff may read it.

A ledger of this module's own: a bistro where one diner never came (three
no-shows), two regulars always did, and a rival restaurant's manager."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from booking_core.accounts import Role, create_user, register_diner
from booking_core.guests import DinerSpec
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, advance, book, cancel, seat_walk_in
from booking_core.restaurants import add_restaurant
from serving.app import create_app
from serving.champions import Champions
from serving.routes.predictions import ATTENTION_FLOOR, ATTENTION_RATE_MULTIPLE
from serving.security import hash_password
from tests.conftest import NOW, bistro_spec
from tests.serving.conftest import PASSWORD, Clock, api_settings, sign_in

API = "/api/v1"
LONDON = ZoneInfo("Europe/London")


@dataclass
class Service:
    client: TestClient
    headers: dict[str, dict[str, str]]
    bistro: int
    day: date
    ids: dict[str, int]  # who -> reservation on ``day``


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    ledger = Ledger.open(f"sqlite:///{tmp_path_factory.mktemp('risk') / 'ledger.db'}")
    clock = Clock()
    ledger.clock = clock
    bistro = add_restaurant(ledger, bistro_spec())
    rival = add_restaurant(ledger, bistro_spec(name="Rival"))
    hashed = hash_password(PASSWORD)
    create_user(ledger, "manager@bistro.example", hashed, Role.MANAGER, restaurant_ids=(bistro,))
    create_user(ledger, "manager@rival.example", hashed, Role.MANAGER, restaurant_ids=(rival,))
    diners = {
        name: register_diner(ledger, DinerSpec(name, email=f"{name}@example.com"), hashed)
        for name in ("risky", "regular", "steady")
    }
    # Three past evenings: the risky diner never comes, the regulars always do.
    for k in range(3):
        past = (NOW + timedelta(days=1 + k)).date()
        made = {
            name: book(
                ledger,
                BookingRequest(bistro, past, t, 2, diner_id=d.diner_id, guest_name=name),
            )
            for (name, d), t in zip(diners.items(), ("19:00", "19:00", "19:30"), strict=True)
        }
        clock.now = datetime.combine(past, time(22, 30), LONDON)
        advance(ledger, made["risky"].id, "no_show")
        for name in ("regular", "steady"):
            advance(ledger, made[name].id, "seated")
            advance(ledger, made[name].id, "completed")
    day = (clock.now + timedelta(days=3)).date()
    ids = {
        "risky": book(
            ledger,
            BookingRequest(bistro, day, "20:00", 4, diner_id=diners["risky"].diner_id),
        ).id,
        "regular": book(
            ledger,
            BookingRequest(bistro, day, "19:00", 2, diner_id=diners["regular"].diner_id),
        ).id,
        "guest": book(ledger, BookingRequest(bistro, day, "19:30", 3, guest_name="Walk-up")).id,
    }
    # Neither a cancelled booking nor a party already here is on the list.
    cancel(ledger, book(ledger, BookingRequest(bistro, day, "21:00", 2, guest_name="Gone")).id)
    with TestClient(create_app(api_settings(), ledger=ledger, champions=Champions(None))) as client:
        headers = {
            who: sign_in(client, email)
            for who, email in (
                ("manager", "manager@bistro.example"),
                ("rival", "manager@rival.example"),
                ("diner", "risky@example.com"),
            )
        }
        clock.now = datetime.combine(day, time(18, 30), LONDON)
        seat_walk_in(ledger, bistro, 2, guest_name="Here now")
        yield Service(client, headers, bistro, day, ids)
    ledger.dispose()


def test_the_riskiest_bookings_come_first_with_the_covers_to_expect(service: Service) -> None:
    response = service.client.get(
        f"{API}/predictions/no-shows/{service.bistro}",
        params={"date": service.day.isoformat()},
        headers=service.headers["manager"],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["source"], body["model_version"]) == ("baseline", None) and body["baseline"]
    listed = {b["reservation_id"]: b for b in body["bookings"]}
    assert set(listed) == set(service.ids.values())  # not the cancelled one, not the walk-in
    p = {who: listed[rid]["no_show_probability"] for who, rid in service.ids.items()}
    assert p["risky"] > p["guest"] > p["regular"]  # three no-shows; unknown; always came
    assert [b["reservation_id"] for b in body["bookings"]] == sorted(
        listed, key=lambda rid: -listed[rid]["no_show_probability"]
    )
    threshold = max(ATTENTION_FLOOR, ATTENTION_RATE_MULTIPLE * body["restaurant_no_show_rate"])
    flagged = {who for who, rid in service.ids.items() if listed[rid]["needs_attention"]}
    assert flagged == {who for who in p if p[who] >= threshold} == {"risky"}
    assert body["booked_covers"] == 4 + 2 + 3
    assert body["expected_covers"] == pytest.approx(
        sum(b["party_size"] * (1 - b["no_show_probability"]) for b in body["bookings"])
    )
    assert body["expected_covers"] < body["booked_covers"] - 4 * 0.5  # the risky four count less
    assert any(
        "no-shows in 3 past bookings" in r["reason"]
        for r in listed[service.ids["risky"]]["reasons"]
    )


def test_a_quiet_day_has_an_empty_list(service: Service) -> None:
    body = service.client.get(
        f"{API}/predictions/no-shows/{service.bistro}",
        params={"date": (service.day + timedelta(days=5)).isoformat()},
        headers=service.headers["manager"],
    ).json()
    assert body["bookings"] == [] and body["booked_covers"] == 0 and body["expected_covers"] == 0


@pytest.mark.parametrize(
    ("who", "restaurant", "date_", "status"),
    [
        ("rival", "bistro", "day", 403),
        ("diner", "bistro", "day", 403),
        ("manager", "nowhere", "day", 403),  # not theirs either: no hint that it exists
        ("manager", "bistro", "31-02-2026", 422),
        (None, "bistro", "day", 401),
    ],
)
def test_only_the_restaurants_staff_may_read_it(
    service: Service, who: str | None, restaurant: str, date_: str, status: int
) -> None:
    rid = service.bistro if restaurant == "bistro" else 999_999
    response = service.client.get(
        f"{API}/predictions/no-shows/{rid}",
        params={"date": service.day.isoformat() if date_ == "day" else date_},
        headers=service.headers[who] if who else {},
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"]
