"""A covers forecast says nothing is coming on a day the restaurant is closed,
whichever source made it (the weekday-median baseline, the champion or the
cold start): P10 = P50 = P90 = the covers still booked on that day, 0 when
none. And the forecast kept between requests follows the restaurants: a
restaurant opened or a date closed through the API shows on the next read,
the same day. The ledger is a real SQLite one with a small generated world:
three restaurants with three weeks of covers, one of them closed on Mondays."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from booking_core.domain import PACING_STATES
from booking_core.ledger import Ledger
from booking_core.schema import reservations, service_periods
from booking_core.slots import hhmm
from models.demand import DemandForecaster, WeekdayMedianBaseline
from models.extract import LedgerSnapshot
from models.features import service_calendar
from models.tracking import ForecastTable
from pipelines.nightly import DEMAND_HORIZON, DemandInputs, demand_features
from serving.champions import DEMAND, Champions, Loaded
from tests.conftest import NOW
from tests.serving.conftest import closed_mondays_body, covers_forecast, generated_api

API = "/api/v1"
TODAY = NOW.date()  # a Sunday; the generated bookings run to TODAY + 7
HORIZON = [TODAY + timedelta(days=k) for k in range(DEMAND_HORIZON)]
MONDAY = 0
CLOSED_LATER = TODAY + timedelta(days=10)  # a Wednesday, nothing booked
BOOKED_THEN_CLOSED = TODAY + timedelta(days=12)  # a Friday, booked then closed
PARTIES = (4, 2)
Q = ("p10", "p50", "p90")


@dataclass
class Stand:
    client: TestClient
    ledger: Ledger
    champions: Champions
    admin: dict[str, str]
    peers: list[int]  # the generated restaurants, with three weeks of covers
    monday_off: int  # the one whose weekly hours close on Mondays
    every_day: list[int]  # the others, open every day of the week


@pytest.fixture(scope="module")
def stand(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stand]:
    with generated_api(tmp_path_factory.mktemp("closed_days")) as api:
        sp = service_periods.c
        with api.ledger.read() as conn:
            mondays = set(conn.execute(sa.select(sp.restaurant_id).where(sp.weekday == MONDAY)))
        closed_mondays = [rid for rid in api.peers if (rid,) not in mondays]
        assert len(closed_mondays) == 1, "the generated world has one restaurant closed on Mondays"
        others = [rid for rid in api.peers if rid not in closed_mondays]
        yield Stand(
            api.client,
            api.ledger,
            api.champions,
            api.admin,
            api.peers,
            closed_mondays[0],
            others,
        )


def _covers(stand: Stand, restaurant_id: int) -> dict[str, Any]:
    return covers_forecast(stand.client, stand.admin, restaurant_id, DEMAND_HORIZON)


def _days(stand: Stand, restaurant_id: int) -> dict[date, tuple[float, float, float]]:
    body = _covers(stand, restaurant_id)
    return {date.fromisoformat(d["date"]): (d["p10"], d["p50"], d["p90"]) for d in body["days"]}


def _inputs(ledger: Ledger) -> tuple[dict[str, pl.DataFrame], DemandInputs]:
    """The ledger as the nightly flow (and serving) reads it today."""
    with LedgerSnapshot.from_ledger(ledger) as snapshot:
        frames = snapshot.frames()
    as_of = datetime.combine(TODAY + timedelta(days=DEMAND_HORIZON), time(), tzinfo=UTC)
    return frames, demand_features.fn(frames, as_of)


def _baseline(ledger: Ledger) -> pl.DataFrame:
    """The weekday-median baseline's own forecast, closed days and all."""
    _, inputs = _inputs(ledger)
    return (
        WeekdayMedianBaseline(horizon=DEMAND_HORIZON)
        .fit(inputs.history)
        .predict(inputs.origin, history=inputs.history)
    )


def _rows(table: pl.DataFrame, restaurant_id: int) -> dict[date, tuple[float, float, float]]:
    mine = table.filter(pl.col("restaurant_id") == restaurant_id)
    return {row["date"]: tuple(row[q] for q in Q) for row in mine.iter_rows(named=True)}


def _closed(ledger: Ledger) -> set[tuple[int, date]]:
    """(restaurant, date) over the horizon that its hours or special dates close."""
    frames, _ = _inputs(ledger)
    grid = (
        frames["restaurants"]
        .select(pl.col("id").cast(pl.Int64).alias("restaurant_id"))
        .join(pl.DataFrame({"service_date": HORIZON}), how="cross")
    )
    shut = service_calendar(grid, frames).filter(pl.col("open").not_())
    return {(int(r), d) for r, d in shut.select("restaurant_id", "service_date").iter_rows()}


def _booked(ledger: Ledger, restaurant_id: int, day: date) -> int:
    r = reservations.c
    with ledger.read() as conn:
        covers = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(r.party_size), 0)).where(
                r.restaurant_id == restaurant_id,
                r.service_date == day,
                r.state.in_([s.value for s in PACING_STATES]),
            )
        ).scalar_one()
    return int(covers)


def _close(stand: Stand, restaurant_id: int, day: date) -> dict[str, Any]:
    done = stand.client.put(
        f"{API}/restaurants/{restaurant_id}/special-dates/{day}",
        json={"note": "Private event"},
        headers=stand.admin,
    )
    assert done.status_code == 200, done.text
    body: dict[str, Any] = done.json()
    return body


def _zero(values: tuple[float, float, float]) -> bool:
    return values == (0, 0, 0)


def test_a_weekday_the_hours_close_forecasts_no_covers_from_the_baseline(stand: Stand) -> None:
    own = _rows(_baseline(stand.ledger), stand.monday_off)
    body = _covers(stand, stand.monday_off)
    assert body["source"] == "baseline"
    days = {date.fromisoformat(d["date"]): (d["p10"], d["p50"], d["p90"]) for d in body["days"]}
    assert sorted(days) == HORIZON
    mondays = [day for day in HORIZON if day.weekday() == MONDAY]
    assert len(mondays) == 4
    # The baseline alone falls back to the restaurant's overall median on a
    # weekday it never served: covers on a day nobody is let in.
    assert all(own[day][1] > 0 for day in mondays)
    assert all(_zero(days[day]) for day in mondays)
    assert all(days[day] == pytest.approx(own[day]) for day in HORIZON if day not in mondays)
    assert all(days[day][1] > 0 for day in HORIZON if day not in mondays)


def test_a_closure_set_after_a_read_shows_at_once(stand: Stand) -> None:
    rid = stand.every_day[0]
    before = {peer: _days(stand, peer) for peer in stand.peers}
    assert before[rid][CLOSED_LATER][1] > 0
    assert _booked(stand.ledger, rid, CLOSED_LATER) == 0
    assert _close(stand, rid, CLOSED_LATER)["outside_hours_count"] == 0
    after = {peer: _days(stand, peer) for peer in stand.peers}  # the same day, a moment later
    assert _zero(after[rid][CLOSED_LATER])
    # Nothing else moved: its other days, and every other restaurant.
    assert {d: v for d, v in after[rid].items() if d != CLOSED_LATER} == {
        d: v for d, v in before[rid].items() if d != CLOSED_LATER
    }
    assert all(after[peer] == before[peer] for peer in stand.peers if peer != rid)


def test_a_booking_on_a_newly_closed_day_is_still_counted(stand: Stand) -> None:
    rid = stand.every_day[-1]
    sp = service_periods.c
    with stand.ledger.read() as conn:
        opens = conn.execute(
            sa.select(sa.func.min(sp.opens_min)).where(
                sp.restaurant_id == rid, sp.weekday == BOOKED_THEN_CLOSED.weekday()
            )
        ).scalar_one()
    at = hhmm(int(opens) + 60)
    for k, size in enumerate(PARTIES):
        made = stand.client.post(
            f"{API}/reservations",
            json={
                "restaurant_id": rid,
                "date": BOOKED_THEN_CLOSED.isoformat(),
                "time": at,
                "party_size": size,
                "guest_name": f"Early bird {k}",
            },
            headers=stand.admin,
        )
        assert made.status_code == 201, made.text
    assert _booked(stand.ledger, rid, BOOKED_THEN_CLOSED) == sum(PARTIES)
    assert _days(stand, rid)[BOOKED_THEN_CLOSED][1] > 0
    closed = _close(stand, rid, BOOKED_THEN_CLOSED)
    assert closed["outside_hours_count"] == len(PARTIES)  # still booked, to honour or call
    day = _days(stand, rid)[BOOKED_THEN_CLOSED]
    assert day == (sum(PARTIES),) * 3


def test_a_restaurant_opened_after_a_read_gets_days_the_same_day(stand: Stand) -> None:
    assert _covers(stand, stand.peers[0])["days"]  # the forecast is made and kept
    made = stand.client.post(
        f"{API}/restaurants",
        json=closed_mondays_body("Late Opener", 4),
        headers=stand.admin,
    )
    assert made.status_code == 201, made.text
    body = _covers(stand, made.json()["id"])
    assert body["source"] == "cold_start"
    days = {date.fromisoformat(d["date"]): d for d in body["days"]}
    assert sorted(days) == HORIZON
    assert all(days[day]["p50"] == 0 for day in HORIZON if day.weekday() == MONDAY)
    assert all(days[day]["p50"] > 0 for day in HORIZON if day.weekday() != MONDAY)


def test_other_answers_are_the_baselines_but_on_closed_days(stand: Stand) -> None:
    own = _baseline(stand.ledger)
    closed = _closed(stand.ledger)
    changed = 0
    for rid in stand.peers:
        expected = _rows(own, rid)
        days = _days(stand, rid)
        assert sorted(days) == sorted(expected) == HORIZON
        for day in HORIZON:
            if (rid, day) in closed:
                assert days[day] == (_booked(stand.ledger, rid, day),) * 3
                changed += days[day] != pytest.approx(expected[day])
            else:
                assert days[day] == pytest.approx(expected[day])
    assert changed >= 4  # the Mondays at least


def test_the_champion_forecasts_no_covers_on_closed_days(stand: Stand) -> None:
    _, inputs = _inputs(stand.ledger)
    forecaster = DemandForecaster(
        horizon=DEMAND_HORIZON,
        n_origins=2,
        n_estimators=20,
        num_leaves=7,
        min_child_samples=5,
        n_jobs=1,
    ).fit(
        inputs.history,
        on_books=inputs.on_books,
        holidays=inputs.holidays,
        restaurants=inputs.restaurants,
    )
    own = forecaster.predict(
        inputs.origin,
        history=inputs.history,
        on_books=inputs.on_books,
        holidays=inputs.holidays,
        restaurants=inputs.restaurants,
    )
    closed = _closed(stand.ledger)
    loaded = Loaded(DEMAND, "9", None, ForecastTable(forecaster, own), datetime.now(UTC))
    stand.champions._loaded[DEMAND] = loaded
    try:
        mine = _covers(stand, stand.monday_off)
        answers = {rid: _days(stand, rid) for rid in stand.peers}
    finally:
        del stand.champions._loaded[DEMAND]
    assert (mine["source"], mine["model_version"]) == ("champion", "9")
    mondays = [day for day in HORIZON if day.weekday() == MONDAY]
    assert any(_rows(own, stand.monday_off)[day][1] > 0 for day in mondays)
    assert all(_zero(answers[stand.monday_off][day]) for day in mondays)
    for rid in stand.peers:
        expected = _rows(own, rid)
        for day in HORIZON:
            if (rid, day) in closed:
                assert answers[rid][day] == (_booked(stand.ledger, rid, day),) * 3
            else:
                assert answers[rid][day] == pytest.approx(expected[day])
