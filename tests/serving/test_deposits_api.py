"""Deposits over HTTP: a booking the deposit policy covers shows its deposit
pending with a deadline; the payment provider's signed webhook pays it (a
repeat is recorded once; a bad or stale signature is a 401, an unconfigured
secret a 503; a payment that cannot be taken is a 422 or a 409 to refund);
the restaurant's staff record a deposit taken at the door and nobody else
may; its managers release the bookings left unpaid past their deadline; and
a restaurant sets its time to pay when it opens and later."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from httpx import Response
from pydantic import SecretStr, ValidationError

from booking_core.accounts import Role, create_user
from booking_core.restaurants import RestaurantSpec, add_restaurant
from booking_core.schema import outbox
from serving.config import ServingSettings
from serving.security import hash_password, sign_webhook
from tests.conftest import bistro_spec, three_tables_spec
from tests.serving.conftest import (
    PASSWORD,
    Clock,
    World,
    api_settings,
    closed_mondays_body,
    sign_in,
)

API = "/api/v1"
WEBHOOK = f"{API}/payments/webhook"
PAY_SECRET = "payments-secret-" + "p" * 40
PARTY = 4
OWED = PARTY * 2000  # the houses ask 2000 a cover from parties of three
PAY_WITHIN = 30
# Far past the dates other tests book (``fresh_date``): the houses are this
# module's own, but Ana and Ben book elsewhere too, and a diner may not hold
# two bookings two hours apart.
AHEAD = timedelta(days=400)


@dataclass
class House:
    """A restaurant of this module's own: a deposit of 2000 a cover from
    parties of three, 30 minutes to pay; a manager and a host of its own.
    Its bookings are made on ``day`` at ``times``, one after another."""

    id: int
    manager: dict[str, str]
    host: dict[str, str]
    day: date
    times: Iterator[str]


def open_house(world: World, spec: RestaurantSpec, times: list[str]) -> House:
    rid = add_restaurant(world.ledger, spec)
    hashed = hash_password(PASSWORD)
    emails = {role: f"{role.value}@{rid}.house.example" for role in (Role.MANAGER, Role.HOST)}
    for role, email in emails.items():
        create_user(world.ledger, email, hashed, role, restaurant_ids=(rid,))
    manager, host = (sign_in(world.client, emails[r]) for r in (Role.MANAGER, Role.HOST))
    return House(rid, manager, host, world.clock.now.date() + AHEAD, iter(times))


POLICY: dict[str, Any] = {
    "deposit_min_party": 3,
    "deposit_per_cover_minor": 2000,
    "deposit_pay_within_minutes": PAY_WITHIN,
}


@pytest.fixture(scope="module")
def house(world: World) -> House:
    """The bistro's floor: four tables for four, so four parties at a time."""
    times = [t for t in ("17:00", "19:30", "21:30") for _ in range(4)]
    return open_house(world, bistro_spec(name="Deposit House", **POLICY), times)


@pytest.fixture
def clock(world: World) -> Iterator[Clock]:
    """The ledger's clock, put back where it was after the test."""
    before = world.clock.now
    try:
        yield world.clock
    finally:
        world.clock.now = before


@pytest.fixture
def provider(world: World) -> Iterator[None]:
    """The API as configured with the payment provider's secret."""
    app = cast(FastAPI, world.client.app)
    before: ServingSettings = app.state.settings
    app.state.settings = before.model_copy(
        update={"payments_webhook_secret": SecretStr(PAY_SECRET)}
    )
    try:
        yield
    finally:
        app.state.settings = before


def _book(
    world: World,
    house: House,
    headers: dict[str, str] | None = None,
    *,
    party: int = PARTY,
    day: date | None = None,
) -> dict[str, Any]:
    """A booking at the house's next time (by its host, for a guest, unless
    ``headers`` say who)."""
    response = world.client.post(
        f"{API}/reservations",
        json={
            "restaurant_id": house.id,
            "date": (day or house.day).isoformat(),
            "time": next(house.times),
            "party_size": party,
            "guest_name": "Guest" if headers is None else "",
        },
        headers=headers or house.host,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _paid(
    world: World,
    reservation_id: int,
    amount: int = OWED,
    ref: str | None = None,
    *,
    secret: str = PAY_SECRET,
    signed_at: int | None = None,
    **extra: Any,
) -> Response:
    event = {
        "type": "deposit.paid",
        "reservation_id": reservation_id,
        "amount_minor": amount,
        "currency": "GBP",
        "payment_ref": ref or f"pay-{reservation_id}",
        **extra,
    }
    body = json.dumps(event).encode()
    signature = sign_webhook(secret, signed_at or int(time.time()), body)
    return world.client.post(
        WEBHOOK,
        content=body,
        headers={"Content-Type": "application/json", "X-ServiceSphere-Signature": signature},
    )


def _payments(world: World, reservation_id: int, headers: dict[str, str]) -> Response:
    return world.client.get(
        f"{API}/reservations/{reservation_id}/deposit-payments", headers=headers
    )


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_a_party_the_policy_covers_owes_its_deposit_by_a_deadline(
    world: World, house: House
) -> None:
    booked = _book(world, house, world.headers["ben"])
    assert (booked["deposit_required"], booked["deposit_minor"]) == (True, OWED)
    deposit = booked["deposit"]
    assert _at(deposit.pop("due_at")) == world.clock.now + timedelta(minutes=PAY_WITHIN)
    assert deposit == {
        "amount_minor": OWED,
        "paid_minor": 0,
        "refunded_minor": 0,
        "held_minor": 0,
        "outstanding_minor": OWED,
        "paid_at": None,
        "status": "pending",
        "reason": "party_size",
    }
    read = world.client.get(f"{API}/reservations/{booked['id']}", headers=world.headers["ben"])
    assert read.json()["deposit"]["status"] == "pending"
    small = _book(world, house, party=2)["deposit"]
    assert (small["status"], small["amount_minor"], small["due_at"]) == ("none", 0, None)
    assert small["reason"] is None


def test_the_provider_pays_a_deposit_once_per_reference(
    world: World, house: House, provider: None
) -> None:
    rid = _book(world, house)["id"]
    part = _paid(world, rid, 5000, "psp-part")
    assert part.status_code == 200, part.text
    assert part.json()["payment"]["recorded"] is True
    assert part.json()["reservation"]["deposit"]["status"] == "pending"
    assert part.json()["reservation"]["deposit"]["outstanding_minor"] == OWED - 5000

    paid_at = world.clock.now - timedelta(minutes=1)
    rest = _paid(world, rid, OWED - 5000, "psp-rest", occurred_at=paid_at.isoformat())
    assert rest.status_code == 200, rest.text
    payment, deposit = rest.json()["payment"], rest.json()["reservation"]["deposit"]
    assert (payment["source"], payment["amount_minor"], payment["currency"]) == (
        "provider",
        OWED - 5000,
        "GBP",
    )
    assert _at(payment["paid_at"]) == paid_at  # when the provider says it was paid
    assert (deposit["status"], deposit["held_minor"], deposit["outstanding_minor"]) == (
        "paid",
        OWED,
        0,
    )
    assert _at(deposit["paid_at"]) == paid_at

    # The provider retries a delivery: the same payment, nothing counted twice.
    again = _paid(world, rid, 5000, "psp-part")
    assert again.status_code == 200, again.text
    assert again.json()["payment"]["recorded"] is False
    assert again.json()["reservation"]["deposit"]["paid_minor"] == OWED
    listed = _payments(world, rid, house.manager)
    assert listed.status_code == 200, listed.text
    assert [(p["payment_ref"], p["amount_minor"]) for p in listed.json()["payments"]] == [
        ("psp-part", 5000),
        ("psp-rest", OWED - 5000),
    ]
    assert listed.json()["deposit"]["status"] == "paid"
    with world.ledger.read() as conn:
        events = conn.execute(
            sa.select(sa.func.count()).where(
                outbox.c.event_type == "reservation.deposit_paid", outbox.c.entity_id == rid
            )
        ).scalar_one()
    assert events == 2


def test_a_delivery_not_signed_right_and_now_is_refused(
    world: World, house: House, provider: None
) -> None:
    rid = _book(world, house)["id"]
    forged = _paid(world, rid, secret="not-the-payments-secret-" + "x" * 20)
    assert (forged.status_code, forged.json()["code"]) == (401, "bad_signature")
    stale = _paid(world, rid, signed_at=int(time.time()) - 3600)
    assert stale.status_code == 401 and "too old" in stale.json()["detail"]
    unsigned = world.client.post(
        WEBHOOK,
        json={
            "type": "deposit.paid",
            "reservation_id": rid,
            "amount_minor": OWED,
            "currency": "GBP",
            "payment_ref": "unsigned",
        },
    )
    assert unsigned.status_code == 401
    event = {"type": "deposit.paid", "reservation_id": rid, "amount_minor": 1}
    signed = sign_webhook(PAY_SECRET, int(time.time()), json.dumps(event).encode())
    tampered = world.client.post(
        WEBHOOK,
        content=json.dumps({**event, "amount_minor": OWED}).encode(),
        headers={"Content-Type": "application/json", "X-ServiceSphere-Signature": signed},
    )
    assert tampered.status_code == 401
    assert _payments(world, rid, house.manager).json()["payments"] == []


def test_without_a_payments_secret_the_webhook_is_off(world: World, house: House) -> None:
    rid = _book(world, house)["id"]
    off = _paid(world, rid)
    assert (off.status_code, off.json()["code"]) == (503, "payments_not_configured")
    assert "not configured" in off.json()["detail"]
    assert _payments(world, rid, house.manager).json()["payments"] == []


def test_a_payments_secret_is_long_or_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="SERVICESPHERE_PAYMENTS_WEBHOOK_SECRET"):
        api_settings(payments_webhook_secret="short")
    assert api_settings().payments_webhook_secret is None
    monkeypatch.setenv("SERVICESPHERE_PAYMENTS_WEBHOOK_SECRET", PAY_SECRET)
    secret = api_settings().payments_webhook_secret
    assert secret is not None and secret.get_secret_value() == PAY_SECRET


def test_payments_that_cannot_be_taken_are_refused(
    world: World, house: House, provider: None
) -> None:
    rid = _book(world, house)["id"]
    euros = _paid(world, rid, ref="psp-eur", currency="EUR")
    assert euros.status_code == 422 and "GBP" in euros.json()["detail"]
    too_much = _paid(world, rid, OWED + 1, "psp-more")
    assert too_much.status_code == 422 and f"owes {OWED}" in too_much.json()["detail"]
    for bad in ({"amount_minor": 0}, {"currency": "gbp"}, {"type": "deposit.refunded"}):
        assert _paid(world, rid, ref="psp-bad", **bad).status_code == 422, bad
    assert _paid(world, 999_999, ref="psp-nobody").status_code == 404
    assert _paid(world, rid, ref="psp-mine").status_code == 200
    other = _book(world, house)["id"]
    reused = _paid(world, other, ref="psp-mine")  # one reference, one payment
    assert reused.status_code == 409

    cancelled = world.client.post(f"{API}/reservations/{other}/cancel", json={}, headers=house.host)
    assert cancelled.status_code == 200, cancelled.text
    late = _paid(world, other, ref="psp-late")
    assert (late.status_code, late.json()["code"]) == (409, "illegal_transition")
    assert "refunded" in late.json()["detail"]
    assert _payments(world, other, house.manager).json()["payments"] == []


def test_staff_record_a_deposit_taken_at_the_restaurant(world: World, house: House) -> None:
    rid = _book(world, house, world.headers["ben"], day=house.day + timedelta(days=1))["id"]
    url = f"{API}/reservations/{rid}/deposit-payments"
    taken = {"amount_minor": OWED, "payment_ref": f"till-{rid}"}
    # The booking's own diner, another diner, another restaurant's host and manager.
    for who in ("ben", "ana", "host", "manager"):
        refused = world.client.post(url, json=taken, headers=world.headers[who])
        assert refused.status_code == 403, (who, refused.text)
    assert world.client.post(url, json=taken).status_code == 401
    assert (
        world.client.post(url, json={**taken, "currency": "EUR"}, headers=house.host).status_code
        == 422
    )
    assert (
        world.client.post(url, json={**taken, "amount_minor": 0}, headers=house.host).status_code
        == 422
    )
    assert (
        world.client.post(
            f"{API}/reservations/999999/deposit-payments", json=taken, headers=house.host
        ).status_code
        == 404
    )

    recorded = world.client.post(url, json=taken, headers=house.host)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["deposit"]["status"] == "paid"
    again = world.client.post(url, json=taken, headers=house.host)
    assert again.status_code == 200 and again.json()["deposit"]["paid_minor"] == OWED
    listed = _payments(world, rid, house.manager).json()["payments"]
    assert [(p["source"], p["amount_minor"], p["currency"]) for p in listed] == [
        ("restaurant", OWED, "GBP")
    ]
    # Read by whoever may read the booking; someone else's is not found.
    assert _payments(world, rid, world.headers["ben"]).status_code == 200
    assert _payments(world, rid, world.headers["ana"]).status_code == 404
    assert _payments(world, rid, world.headers["host"]).status_code == 404


def test_a_manager_releases_the_bookings_left_unpaid(
    world: World, clock: Clock, provider: None
) -> None:
    # Three tables, one of them for four: each party of four holds the only table.
    spec = three_tables_spec(name="Release House", **POLICY)
    house = open_house(world, spec, ["17:00", "19:30", "21:30", "17:00"])
    unpaid, part, paid = (_book(world, house) for _ in range(3))
    assert _paid(world, part["id"], 5000, f"psp-{part['id']}").status_code == 200
    assert _paid(world, paid["id"]).status_code == 200
    url = f"{API}/restaurants/{house.id}/deposits/release"

    nothing = world.client.post(url, headers=house.manager)  # not due yet
    assert nothing.status_code == 200 and nothing.json()["released"] == []
    full = {"restaurant_id": house.id, "date": house.day.isoformat(), "time": "17:00"}
    taken = world.client.post(
        f"{API}/reservations", json={**full, "party_size": PARTY}, headers=house.host
    )
    assert taken.status_code == 409, taken.text
    clock.now += timedelta(minutes=PAY_WITHIN)
    for who, headers in (
        ("its host", house.host),
        ("another restaurant's manager", world.headers["manager"]),
        ("a diner", world.headers["ben"]),
    ):
        assert world.client.post(url, headers=headers).status_code == 403, who
    missing = world.client.post(
        f"{API}/restaurants/999999/deposits/release", headers=world.headers["admin"]
    )
    assert missing.status_code == 404

    done = world.client.post(url, headers=house.manager)
    assert done.status_code == 200, done.text
    assert _at(done.json()["at"]) == clock.now
    released = {r["id"]: r for r in done.json()["released"]}
    assert sorted(released) == sorted([unpaid["id"], part["id"]])
    for r in released.values():
        assert (r["state"], r["cancelled_by"], r["table_ids"]) == ("cancelled", "restaurant", [])
        assert r["fee"] is None  # no fee: the diner never secured it
    assert released[unpaid["id"]]["deposit"]["status"] == "unpaid"
    assert released[part["id"]]["deposit"]["status"] == "refunded"
    with world.ledger.read() as conn:
        payload = conn.execute(
            sa.select(outbox.c.payload).where(
                outbox.c.event_type == "reservation.cancelled", outbox.c.entity_id == part["id"]
            )
        ).scalar_one()
    assert (payload["reason"], payload["deposit_refund_minor"]) == ("deposit_unpaid", 5000)

    kept = world.client.get(f"{API}/reservations/{paid['id']}", headers=house.manager).json()
    assert (kept["state"], kept["deposit"]["status"]) == ("booked", "paid")
    # The only table for four is on sale again at once.
    retaken = _book(world, house)
    assert retaken["table_ids"] == unpaid["table_ids"]
    # A payment arriving after the release is to be refunded.
    late = _paid(world, unpaid["id"])
    assert late.status_code == 409 and "refunded" in late.json()["detail"]
    again = world.client.post(url, headers=world.headers["admin"])
    assert again.status_code == 200 and again.json()["released"] == []
    # The manager's night: the paid booking's deposit held, the retaken one
    # owed, the two released.
    day = house.day.isoformat()
    report = world.client.get(
        f"{API}/restaurants/{house.id}/service-report?from={day}&to={day}", headers=house.manager
    )
    assert report.status_code == 200, report.text
    totals = report.json()["totals"]
    assert (
        totals["deposits_held_minor"],
        totals["deposits_outstanding_minor"],
        totals["released_unpaid"],
    ) == (OWED, OWED, 2)


def test_a_restaurant_sets_its_time_to_pay(world: World) -> None:
    c, admin = world.client, world.headers["admin"]
    made = c.post(
        f"{API}/restaurants",
        json={**closed_mondays_body("Quick Pay", 2), "deposit_pay_within_minutes": 15},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    assert made.json()["deposit_pay_within_minutes"] == 15
    default = c.post(f"{API}/restaurants", json=closed_mondays_body("Slow Pay", 2), headers=admin)
    assert default.json()["deposit_pay_within_minutes"] == 60
    changed = c.patch(
        f"{API}/restaurants/{rid}", json={"deposit_pay_within_minutes": 2880}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert c.get(f"{API}/restaurants/{rid}").json()["deposit_pay_within_minutes"] == 2880
    for minutes in (4, 10081, None):
        refused = c.patch(
            f"{API}/restaurants/{rid}", json={"deposit_pay_within_minutes": minutes}, headers=admin
        )
        assert refused.status_code == 422, (minutes, refused.text)
        assert "deposit_pay_within_minutes" in refused.json()["detail"]
    too_quick = c.post(
        f"{API}/restaurants",
        json={**closed_mondays_body("Too Quick", 2), "deposit_pay_within_minutes": 1},
        headers=admin,
    )
    assert too_quick.status_code == 422
    schema = c.get("/openapi.json").json()["components"]["schemas"]
    field = schema["RestaurantCreate"]["properties"]["deposit_pay_within_minutes"]
    assert (field["minimum"], field["maximum"]) == (5, 10080) and field["description"]
    assert schema["DepositPublic"]["properties"]["due_at"]["description"]
