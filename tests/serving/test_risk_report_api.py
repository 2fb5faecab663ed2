"""The risk deposit report over HTTP: the restaurant's managers and admins
read it (hosts, other restaurants' staff and diners are refused), a bad
span or an unknown restaurant is a 4xx that says why, the span defaults to
the last 28 days at the restaurant, and one report's figures are those of
the bookings made for it (``tests/booking_core/test_risk_report.py``
checks the figures in depth)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking_core.accounts import Role, create_user
from booking_core.deposits import NoShowRisk, record_payment
from booking_core.reservations import BookingRequest, Reservation, advance, book
from booking_core.restaurants import add_restaurant
from booking_core.unpaid_deposits import release_unpaid
from serving.security import hash_password
from tests.conftest import bistro_spec
from tests.serving.conftest import PASSWORD, World, sign_in

API = "/api/v1"
MODEL = "attendance_risk@v7"
# Long before the dates other tests book: this house and its nights are this module's own.
AGO = timedelta(days=720)


@dataclass
class House:
    id: int
    manager: dict[str, str]
    host: dict[str, str]
    day: date

    @property
    def path(self) -> str:
        return f"{API}/restaurants/{self.id}/deposits/risk-report"


def _book(world: World, house: House, hhmm: str, risk: float, at: datetime) -> Reservation:
    request = BookingRequest(
        house.id, house.day, hhmm, 2, guest_name=hhmm, no_show_risk=NoShowRisk(risk, MODEL)
    )
    return book(world.ledger, request, now=at)


@pytest.fixture(scope="module")
def house(world: World) -> House:
    """One night, five bookings scored by one model, threshold 0.3: 0.1
    completed and 0.2 a no-show (no deposit); by risk, 0.4 paid and
    completed, 0.5 paid and a no-show, 0.6 released unpaid."""
    rid = add_restaurant(
        world.ledger, bistro_spec(name="Risk Report House", deposit_risk_threshold=0.3)
    )
    hashed = hash_password(PASSWORD)
    manager, host = f"manager@{rid}.report.example", f"host@{rid}.report.example"
    create_user(world.ledger, manager, hashed, Role.MANAGER, restaurant_ids=(rid,))
    create_user(world.ledger, host, hashed, Role.HOST, restaurant_ids=(rid,))
    day = (world.clock.now - AGO).date()
    house = House(rid, sign_in(world.client, manager), sign_in(world.client, host), day)
    at = datetime.combine(day - timedelta(days=1), time(12), tzinfo=world.clock.now.tzinfo)
    r = {
        p: _book(world, house, hhmm, p, at)
        for p, hhmm in (
            (0.1, "18:00"),
            (0.2, "18:30"),
            (0.4, "19:00"),
            (0.5, "19:30"),
            (0.6, "20:00"),
        )
    }
    for p in (0.4, 0.5):
        record_payment(
            world.ledger,
            r[p].id,
            amount_minor=r[p].deposit_minor,
            currency="GBP",
            payment_ref=f"report-{r[p].id}",
            now=at + timedelta(minutes=10),
        )
    released = release_unpaid(world.ledger, now=at + timedelta(hours=2), restaurant_id=rid)
    assert [x.id for x in released] == [r[0.6].id]
    for p in (0.1, 0.4):
        advance(world.ledger, r[p].id, "seated", now=r[p].start_at)
        advance(world.ledger, r[p].id, "completed", now=r[p].start_at + timedelta(minutes=90))
    for p in (0.2, 0.5):
        advance(world.ledger, r[p].id, "no_show", now=r[p].start_at + timedelta(minutes=30))
    return house


def test_a_manager_reads_the_nights_figures(world: World, house: House) -> None:
    night = {"from": house.day.isoformat(), "to": house.day.isoformat()}
    answer = world.client.get(house.path, params=night, headers=house.manager)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["date_from"], body["date_to"]) == (night["from"], night["to"])
    assert body["risk_threshold"] == 0.3
    assert body["deposits"] == {
        "scored": 5,
        "asked_by_risk": 3,
        "asked_by_party_size": 0,
        "asked_none": 2,
        "control": 0,
    }
    asked = body["asked_by_risk"]
    assert (asked["asked"], asked["paid_by_deadline"], asked["released_unpaid"]) == (3, 2, 1)
    assert (asked["paid_late"], asked["pending"], asked["overdue"], asked["ended_unpaid"]) == (
        0,
        0,
        0,
        0,
    )
    by_risk, not_by_risk = body["outcomes_asked_by_risk"], body["outcomes_not_asked_by_risk"]
    assert (by_risk["finished"], by_risk["no_shows"], by_risk["released_unpaid"]) == (3, 1, 1)
    assert by_risk["no_show_rate"] == pytest.approx(1 / 3)
    assert by_risk["no_show_rate_reached"] == pytest.approx(1 / 2)
    assert (not_by_risk["finished"], not_by_risk["no_shows"]) == (2, 1)
    assert not_by_risk["no_show_rate"] == pytest.approx(1 / 2)
    (model,) = body["models"]
    assert (model["model"], model["scored"]) == (MODEL, 5)
    assert model["first_service_date"] == model["last_service_date"] == night["from"]
    clean, deposit = model["no_deposit"], model["with_deposit"]
    assert [(b["low"], b["high"]) for b in clean["bins"]] == [
        (0.0, 0.05),
        (0.05, 0.1),
        (0.1, 0.2),
        (0.2, 0.3),
        (0.3, 0.5),
        (0.5, 1.0),
    ]
    assert [(b["reached"], b["mean_predicted"], b["observed_rate"]) for b in clean["bins"]] == [
        (0, None, None),
        (0, None, None),
        (1, pytest.approx(0.1), 0.0),
        (1, pytest.approx(0.2), 1.0),
        (0, None, None),
        (0, None, None),
    ]
    assert clean["ece"] == pytest.approx((0.1 + 0.8) / 2)
    assert clean["brier"] == pytest.approx((0.1**2 + 0.8**2) / 2)
    top = deposit["bins"][5]  # 0.5 a no-show, 0.6 released: no outcome
    assert (top["bookings"], top["reached"], top["no_shows"]) == (2, 1, 1)
    assert deposit["ece"] == pytest.approx((0.4 + 0.5) / 2)
    assert deposit["brier"] == pytest.approx((0.4**2 + 0.5**2) / 2)
    # Admins read it too, the same.
    as_admin = world.client.get(house.path, params=night, headers=world.headers["admin"])
    assert as_admin.status_code == 200 and as_admin.json()["models"] == body["models"]


def test_the_span_defaults_to_the_last_28_days_there(world: World, house: House) -> None:
    answer = world.client.get(house.path, headers=house.manager)
    assert answer.status_code == 200, answer.text
    today = world.clock.now.astimezone(ZoneInfo("Europe/London")).date()
    body = answer.json()
    assert body["date_to"] == today.isoformat()
    assert body["date_from"] == (today - timedelta(days=27)).isoformat()
    assert body["deposits"]["scored"] == 0 and body["models"] == []
    # One end given: "to" falls back to today, "from" to 27 days before "to".
    start = world.client.get(
        house.path, params={"from": house.day.isoformat()}, headers=house.manager
    )
    assert start.status_code == 422  # more than a year up to today
    end = world.client.get(house.path, params={"to": house.day.isoformat()}, headers=house.manager)
    assert end.status_code == 200, end.text
    assert end.json()["date_from"] == (house.day - timedelta(days=27)).isoformat()
    assert end.json()["deposits"]["scored"] == 5


@pytest.mark.parametrize("who", ["host", "other_manager", "diner"])
def test_hosts_other_staff_and_diners_are_refused(world: World, house: House, who: str) -> None:
    headers = {
        "host": house.host,  # the restaurant's own host
        "other_manager": world.headers["manager"],  # the brasserie's
        "diner": world.headers["ana"],
    }[who]
    answer = world.client.get(house.path, headers=headers)
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "forbidden"


def test_signing_in_is_required(world: World, house: House) -> None:
    assert world.client.get(house.path).status_code == 401


def test_bad_spans_and_unknown_restaurants_say_why(world: World, house: House) -> None:
    def get(path: str, **params: str) -> tuple[int, str]:
        answer = world.client.get(path, params=params, headers=world.headers["admin"])
        return answer.status_code, answer.text

    backwards = get(house.path, **{"from": "2024-03-10", "to": "2024-03-01"})
    assert backwards[0] == 422 and "from is after to" in backwards[1]
    too_long = get(house.path, **{"from": "2023-01-01", "to": "2024-01-02"})
    assert too_long[0] == 422 and "at most 366 days" in too_long[1]
    assert get(house.path, **{"from": "2024-02-30"})[0] == 422
    assert get(house.path, **{"to": "0001-01-01"})[0] == 200  # no day before the calendar's first
    unknown = f"{API}/restaurants/2000000000/deposits/risk-report"
    for params in ({}, {"from": "2024-03-01", "to": "2024-03-02"}):
        status, text = get(unknown, **params)
        assert status == 404 and "no restaurant with id 2000000000" in text
