"""Choosing a deposit risk threshold over HTTP: a manager reads, for every
threshold a restaurant may set, what it would have asked of the restaurant's
past bookings and what it would have caught. Each booking is scored as it was
known the moment it was made: a diner who stopped coming only after booking
is not held against that booking. By the documented baseline, and by a
champion from a real MLflow registry whose risk falls with a deposit (the
avoided no-shows and the spend they keep)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow.pyfunc import PythonModel

from booking_core import pos
from booking_core.deposits import NoShowRisk
from booking_core.guests import DinerSpec, create_diner
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, Reservation, advance, book, seat_walk_in
from serving.champions import ATTENDANCE
from serving.risk_deposits import BASELINE_LABEL
from tests.serving.conftest import World
from tests.serving.test_risk_deposits_api import PER_COVER, House, _house, _serving

API = "/api/v1"
SPAN_DAYS = 10


@dataclass
class Past:
    house: House
    first: date
    last: date
    flaky: int  # three no-shows before booking here, then a fourth
    late: int  # stopped coming only after booking here
    guests: list[int]  # four anonymous parties of two (one paid 12000 at the till)
    large: int  # a party of six: the size rule's

    def path(self, **query: Any) -> str:
        span = {"from": self.first.isoformat(), "to": self.last.isoformat(), **query}
        params = "&".join(f"{k}={v}" for k, v in span.items())
        return f"{API}/restaurants/{self.house.id}/deposits/risk-thresholds?{params}"


def _no_show(ledger: Ledger, r: Reservation) -> None:
    advance(ledger, r.id, "no_show", now=r.start_at + timedelta(minutes=30))


@pytest.fixture(scope="module")
def past(world: World) -> Past:
    ledger = world.ledger
    house = _house(world, "Planner House", deposit_per_cover_minor=PER_COVER)
    first = (world.clock.now - timedelta(days=90)).date()
    last = first + timedelta(days=SPAN_DAYS - 1)
    flaky = create_diner(ledger, DinerSpec("Fay", email="fay@thresholds.example"))
    late = create_diner(ledger, DinerSpec("Lou", email="lou@thresholds.example"))

    def at(day: date, hhmm: str = "19:00") -> datetime:
        return datetime.combine(day, time.fromisoformat(hhmm), world.clock.now.tzinfo)

    def booked(rid: int, day: date, diner: int | None, party: int = 2, hhmm: str = "19:00") -> Any:
        request = BookingRequest(rid, day, hhmm, party, diner_id=diner, guest_name="Guest")
        return book(ledger, request, now=at(day) - timedelta(days=3))

    for k in range(3):  # Fay's record elsewhere, before the span
        _no_show(ledger, booked(world.brasserie, first - timedelta(days=30 - 7 * k), flaky))
    fay = booked(house.id, first, flaky)
    _no_show(ledger, fay)
    lou = booked(house.id, first + timedelta(days=2), late)
    advance(ledger, lou.id, "seated", now=lou.start_at)
    advance(ledger, lou.id, "completed", now=lou.start_at + timedelta(hours=1))
    for k in range(3):  # Lou's no-shows elsewhere, after that booking was made
        _no_show(ledger, booked(world.brasserie, first + timedelta(days=3 + k), late))
    guests = []
    for k in range(4):
        guest = booked(house.id, first + timedelta(days=4 + k), None, hhmm="20:00")
        advance(ledger, guest.id, "seated", now=guest.start_at)
        if k == 0:
            opened = guest.start_at + timedelta(minutes=5)
            pos.open_check(
                ledger, house.id, "till-1", table_id=guest.table_ids[0], covers=2, opened_at=opened
            )
            pos.close_check(
                ledger,
                house.id,
                "till-1",
                subtotal_minor=12000,
                closed_at=opened + timedelta(hours=1),
            )
        else:
            advance(ledger, guest.id, "completed", now=guest.start_at + timedelta(hours=1))
        guests.append(guest.id)
    large = booked(house.id, last, None, party=6)
    # Left out: a walk-in in the span, a booking after it.
    seat_walk_in(ledger, house.id, 2, now=at(last, "20:30"))
    booked(house.id, last + timedelta(days=1), None)
    return Past(house, first, last, fay.id, lou.id, guests, large.id)


def test_the_baseline_lays_out_every_threshold(world: World, past: Past) -> None:
    response = world.client.get(past.path(max_share=0.2), headers=past.house.manager)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["source"] == "baseline" and plan["model"] == BASELINE_LABEL
    assert (plan["date_from"], plan["date_to"]) == (past.first.isoformat(), past.last.isoformat())
    assert (plan["bookings"], plan["asked_by_size"], plan["no_shows_seen"]) == (7, 1, 1)
    assert (plan["deposit_per_cover_minor"], plan["deposit_min_party"]) == (PER_COVER, 6)
    assert plan["spend_per_cover_minor"] == pytest.approx(6000.0)
    rows = {row["threshold"]: row for row in plan["thresholds"]}
    assert list(rows) == [round(0.05 * k, 2) for k in range(1, 20)]
    # Fay (three no-shows in three bookings when she booked) alone reaches 0.3;
    # Lou had no record yet when she booked, whatever she did since.
    fay = rows[0.3]
    assert (fay["over"], fay["covers_over"], fay["reached"], fay["no_shows_seen"]) == (1, 2, 1, 1)
    assert fay["deposits_asked_minor"] == 2 * PER_COVER
    assert fay["share_asked"] == pytest.approx(2 / 7)
    assert fay["no_show_rate_seen"] == 1.0
    assert 0.3 <= fay["expected_no_shows"] <= 1.0
    assert fay["expected_no_shows_avoided"] is None  # the baseline knows no deposit effect
    # At 0.05 every booking the size rule leaves is over (the house rate is ~8 %).
    assert rows[0.05]["over"] == 6
    # The suggestion keeps to a fifth of the bookings asked by risk: Fay only.
    suggested = plan["suggested_threshold"]
    assert rows[suggested]["share_over"] <= 0.2
    assert all(r["share_over"] > 0.2 for t, r in rows.items() if t < suggested)
    assert rows[suggested]["over"] == 1


@pytest.mark.slow
def test_a_champion_says_what_a_deposit_would_avoid(
    world: World, past: Past, tmp_path: Path
) -> None:
    with _serving(world, tmp_path, DepositAware()) as api:
        plan = api.get(past.path(), headers=past.house.manager).json()
    assert (plan["source"], plan["model"]) == ("champion", f"{ATTENDANCE}@v1")
    assert plan["suggested_threshold"] is None
    rows = {row["threshold"]: row for row in plan["thresholds"]}
    over = rows[0.4]  # every booking the size rule leaves: 0.4 without a deposit
    assert (over["over"], over["covers_over"]) == (6, 12)
    assert over["expected_no_shows"] == pytest.approx(6 * 0.4)
    assert over["expected_no_shows_avoided"] == pytest.approx(6 * 0.3)
    assert over["expected_covers_kept"] == pytest.approx(12 * 0.3)
    assert over["expected_spend_kept_minor"] == round(12 * 0.3 * 6000)
    assert rows[0.45]["over"] == 0


def test_the_control_groups_measured_effect_is_set_beside_the_model(world: World) -> None:
    """Where the restaurant keeps a control group, the plan carries the
    deposit's effect measured on it, as the risk report does."""
    house = _house(
        world,
        "Measured Planner House",
        deposit_per_cover_minor=PER_COVER,
        deposit_risk_threshold=0.3,
        deposit_risk_control_share=0.5,
    )
    first = (world.clock.now - timedelta(days=120)).date()
    # Draws under 0.5 fall in the control group: no deposit.
    for k, (draw, came) in enumerate(((0.1, False), (0.2, True), (0.9, True), (0.8, True))):
        day = first + timedelta(days=k)
        request = BookingRequest(
            house.id,
            day,
            "19:00",
            2,
            guest_name="Guest",
            no_show_risk=NoShowRisk(0.5, "attendance_risk@v9", draw),
        )
        made = book(world.ledger, request, now=made_at(day))
        assert made.deposit_risk_control is (draw < 0.5)
        if came:
            advance(world.ledger, made.id, "seated", now=made.start_at)
            advance(world.ledger, made.id, "completed", now=made.start_at + timedelta(hours=1))
        else:
            _no_show(world.ledger, made)
    path = (
        f"{API}/restaurants/{house.id}/deposits/risk-thresholds"
        f"?from={first}&to={first + timedelta(days=3)}"
    )
    plan = world.client.get(path, headers=house.manager).json()
    effect = plan["measured_deposit_effect"]
    assert (effect["control_reached"], effect["asked_reached"]) == (2, 2)
    assert (effect["control_rate"], effect["asked_rate"]) == (0.5, 0.0)
    assert effect["difference"] == pytest.approx(0.5)
    assert (plan["risk_threshold"], plan["control_share"]) == (0.3, 0.5)
    # The baseline scores the four alike (no diner): a deposit asked of each from 0.05.
    assert {row["threshold"]: row["over"] for row in plan["thresholds"]}[0.05] == 4


def made_at(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), UTC) - timedelta(days=3)


def test_bad_requests_are_refused(world: World, past: Past) -> None:
    manager = past.house.manager
    backwards = world.client.get(
        f"{API}/restaurants/{past.house.id}/deposits/risk-thresholds"
        f"?from={past.last}&to={past.first}",
        headers=manager,
    )
    assert backwards.status_code == 422 and "from is after to" in backwards.json()["detail"]
    long = past.first - timedelta(days=200)
    too_long = world.client.get(
        f"{API}/restaurants/{past.house.id}/deposits/risk-thresholds?from={long}&to={past.last}",
        headers=manager,
    )
    assert too_long.status_code == 422 and "at most 92 days" in too_long.json()["detail"]
    for bad in ("0", "1.5", "many"):
        assert world.client.get(past.path(max_share=bad), headers=manager).status_code == 422
    # Staff of the restaurant, managers and up: a diner, or another house's manager, may not.
    for who in (world.headers["ana"], world.headers["manager"]):
        assert world.client.get(past.path(), headers=who).status_code == 403
    unknown = world.client.get(
        f"{API}/restaurants/999999/deposits/risk-thresholds", headers=world.headers["admin"]
    )
    assert unknown.status_code == 404


def test_the_default_span_is_the_four_weeks_to_yesterday(world: World, past: Past) -> None:
    response = world.client.get(
        f"{API}/restaurants/{past.house.id}/deposits/risk-thresholds", headers=past.house.manager
    )
    assert response.status_code == 200, response.text
    plan = response.json()
    today = world.clock.now.date()  # the house is on London time, as the clock
    assert plan["date_to"] == (today - timedelta(days=1)).isoformat()
    assert plan["date_from"] == (today - timedelta(days=28)).isoformat()
    assert plan["measured_deposit_effect"] is None  # no control group here


class DepositAware(PythonModel):
    """An attendance model whose risk is 0.4 without a deposit, 0.1 with one."""

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        return np.where(model_input["deposit_required"].astype(bool), 0.1, 0.4)
