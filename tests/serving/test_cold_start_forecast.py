"""A restaurant just opened through the API has no covers history: its covers
forecast comes from restaurants with a history (covers per seat on that
weekday, times its own seats) and from its own books, says it is a cold
start, and forecasts nothing on the days it is closed. Restaurants with a
history keep the answer they had. The ledger is a real SQLite one, with a
small generated world of three restaurants and three weeks of covers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from booking_core.ledger import Ledger
from models.cold_start import (
    ALL_RESTAURANTS,
    MIN_HISTORY_DAYS,
    SAME_TIER,
    SAME_TIER_AND_CUISINE,
    ColdStartForecaster,
)
from models.demand import WeekdayMedianBaseline
from models.extract import LedgerSnapshot
from models.features import PRIOR_NO_SHOW_RATE, service_calendar
from pipelines.nightly import DEMAND_HORIZON, demand_features
from serving.forecasts import BASELINE_NAME, COLD_START_NAME
from tests.conftest import NOW
from tests.serving.conftest import closed_mondays_body, covers_forecast, generated_api

API = "/api/v1"
TODAY = NOW.date()  # a Sunday
BOOKED_DAY = TODAY + timedelta(days=3)  # a Wednesday
CLOSED_DATE = TODAY + timedelta(days=11)  # a Thursday, closed for a private event
MONDAY = 0  # the new restaurants' day off


@dataclass
class Opening:
    client: TestClient
    ledger: Ledger
    admin: dict[str, str]
    peers: list[int]  # the generated restaurants, with three weeks of covers
    small: int  # 16 seats, bookings on BOOKED_DAY, CLOSED_DATE closed
    large: int  # 32 seats, otherwise the same, no bookings
    booked_covers: int


@pytest.fixture(scope="module")
def opening(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Opening]:
    with generated_api(tmp_path_factory.mktemp("cold_start")) as api:
        client, ledger, admin, peers = api.client, api.ledger, api.admin, api.peers
        opened = {}
        for name, tables in (("Petit Four", 4), ("Grand Huit", 8)):
            made = client.post(
                f"{API}/restaurants", json=closed_mondays_body(name, tables), headers=admin
            )
            assert made.status_code == 201, made.text
            opened[name] = made.json()["id"]
        small, large = opened["Petit Four"], opened["Grand Huit"]
        # Every table of the small one taken twice on BOOKED_DAY: more covers
        # than restaurants like it serve on a Wednesday.
        booked = 0
        for k, at in enumerate(("17:00",) * 4 + ("19:30",) * 4):
            made = client.post(
                f"{API}/reservations",
                json={
                    "restaurant_id": small,
                    "date": BOOKED_DAY.isoformat(),
                    "time": at,
                    "party_size": 4,
                    "guest_name": f"Guest {k}",
                },
                headers=admin,
            )
            assert made.status_code == 201, made.text
            booked += 4
        closed = client.put(
            f"{API}/restaurants/{small}/special-dates/{CLOSED_DATE}",
            json={"note": "Private event"},
            headers=admin,
        )
        assert closed.status_code == 200, closed.text
        yield Opening(client, ledger, admin, peers, small, large, booked)


def _covers(opening: Opening, restaurant_id: int) -> dict[str, Any]:
    return covers_forecast(opening.client, opening.admin, restaurant_id, DEMAND_HORIZON)


def _by_date(body: dict[str, Any]) -> dict[date, dict[str, float]]:
    return {date.fromisoformat(d["date"]): d for d in body["days"]}


def test_a_new_restaurant_gets_a_cold_start_forecast_that_says_so(opening: Opening) -> None:
    body = _covers(opening, opening.small)
    assert body["source"] == "cold_start" and body["model_version"] is None
    assert body["baseline"].startswith(COLD_START_NAME) and "peers" in body["baseline"]
    days = _by_date(body)
    assert sorted(days) == [TODAY + timedelta(days=k) for k in range(DEMAND_HORIZON)]
    for day in days.values():
        assert 0 <= day["p10"] <= day["p50"] <= day["p90"]
    open_days = [d for day, d in days.items() if day.weekday() != MONDAY and day != CLOSED_DATE]
    assert all(d["p50"] > 0 for d in open_days)
    assert any(d["p10"] < d["p50"] < d["p90"] for d in open_days)  # an interval, not a point


def test_the_books_are_a_floor(opening: Opening) -> None:
    small = _by_date(_covers(opening, opening.small))[BOOKED_DAY]
    large = _by_date(_covers(opening, opening.large))[BOOKED_DAY]
    booked = opening.booked_covers
    # The large restaurant has no bookings: half its forecast is what peers
    # alone would give the small one, and that is below what it has booked.
    assert large["p50"] / 2 < booked
    assert small["p50"] == pytest.approx(booked)
    # No fewer than the booked covers less the no-shows a newcomer expects.
    assert small["p10"] == pytest.approx(max(booked * (1 - PRIOR_NO_SHOW_RATE), large["p10"] / 2))
    assert small["p10"] < booked
    assert small["p90"] > booked  # more can still book or walk in


def test_closed_days_forecast_no_covers(opening: Opening) -> None:
    for rid in (opening.small, opening.large):
        days = _by_date(_covers(opening, rid))
        mondays = [d for day, d in days.items() if day.weekday() == MONDAY]
        assert len(mondays) == 4
        assert all((d["p10"], d["p50"], d["p90"]) == (0, 0, 0) for d in mondays)
    small = _by_date(_covers(opening, opening.small))
    large = _by_date(_covers(opening, opening.large))
    assert (small[CLOSED_DATE]["p50"], small[CLOSED_DATE]["p90"]) == (0, 0)
    assert large[CLOSED_DATE]["p50"] > 0  # its own closure, not the weekday's


def test_twice_the_seats_forecast_twice_the_covers(opening: Opening) -> None:
    small = _by_date(_covers(opening, opening.small))
    large = _by_date(_covers(opening, opening.large))
    unbooked = [
        day for day in small if day.weekday() != MONDAY and day not in (BOOKED_DAY, CLOSED_DATE)
    ]
    assert len(unbooked) == DEMAND_HORIZON - 4 - 2
    for day in unbooked:
        assert large[day]["p50"] > small[day]["p50"]
        for q in ("p10", "p50", "p90"):
            assert large[day][q] == pytest.approx(2 * small[day][q])


def test_restaurants_with_history_keep_their_baseline_answer(opening: Opening) -> None:
    # The documented baseline, made here from the ledger as the nightly flow reads it.
    with LedgerSnapshot.from_ledger(opening.ledger) as snapshot:
        frames = snapshot.frames()
    as_of = datetime.combine(TODAY + timedelta(days=DEMAND_HORIZON), time(), tzinfo=UTC)
    inputs = demand_features.fn(frames, as_of)
    expected = (
        WeekdayMedianBaseline(horizon=DEMAND_HORIZON)
        .fit(inputs.history)
        .predict(inputs.origin, history=inputs.history)
    )
    assert set(expected["restaurant_id"]) == set(opening.peers)
    # Except on the days they are closed: nothing is booked on them, so 0
    # (tests/serving/test_forecast_closed_days.py).
    calendar = service_calendar(
        expected.select("restaurant_id", pl.col("date").alias("service_date")), frames
    ).select("restaurant_id", pl.col("service_date").alias("date"), "open")
    expected = expected.join(calendar, on=["restaurant_id", "date"], how="left")
    closed = pl.col("open").not_().fill_null(False)
    assert expected.filter(closed).height > 0
    expected = expected.with_columns(
        pl.when(closed).then(0.0).otherwise(pl.col(q)).alias(q) for q in ("p10", "p50", "p90")
    )
    for rid in opening.peers:
        body = _covers(opening, rid)
        assert (body["source"], body["baseline"], body["model_version"]) == (
            "baseline",
            BASELINE_NAME,
            None,
        )
        mine = expected.filter(pl.col("restaurant_id") == rid).sort("date")
        assert [d["date"] for d in body["days"]] == [d.isoformat() for d in mine["date"]]
        for q in ("p10", "p50", "p90"):
            assert [d[q] for d in body["days"]] == pytest.approx(mine[q].to_list())


# ------------------------------------------------------ the model on plain frames


def _history(rates: dict[int, float], seats: int, days: int) -> pl.DataFrame:
    first = TODAY - timedelta(days=days)
    return pl.DataFrame(
        [
            {"restaurant_id": rid, "date": first + timedelta(days=k), "covers": rate * seats}
            for rid, rate in rates.items()
            for k in range(days)
        ],
        schema={"restaurant_id": pl.Int64, "date": pl.Date, "covers": pl.Float64},
    )


def _profiles(rows: list[tuple[int, int, list[str]]], seats: int = 20) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "restaurant_id": [r[0] for r in rows],
            "seats": [seats] * len(rows),
            "price_tier": [r[1] for r in rows],
            "cuisines": [r[2] for r in rows],
        },
        schema={
            "restaurant_id": pl.Int64,
            "seats": pl.Int64,
            "price_tier": pl.Int64,
            "cuisines": pl.List(pl.String),
        },
    )


def test_peers_are_the_closest_group_with_enough_restaurants() -> None:
    # Three French restaurants of tier 2 serve 2 covers a seat, others 0.5.
    rates = {1: 2.0, 2: 2.0, 3: 2.0, 4: 0.5, 5: 0.5, 6: 0.5}
    places = [
        (1, 2, ["french"]),
        (2, 2, ["french", "wine bar"]),
        (3, 2, ["french"]),
        (4, 2, ["thai"]),
        (5, 3, ["french"]),
        (6, 4, ["sushi"]),
        (7, 2, ["french"]),  # the newcomer
    ]
    model = ColdStartForecaster().fit(_history(rates, 20, 28), restaurants=_profiles(places))
    assert model.newcomers(range(1, 8)) == [7]
    assert model.peers_for(2, ["french"]) == (SAME_TIER_AND_CUISINE, [1, 2, 3])
    assert model.peers_for(2, ["thai"]) == (SAME_TIER, [1, 2, 3, 4])
    assert model.peers_for(1, ["korean"])[0] == ALL_RESTAURANTS
    out = model.predict(TODAY, restaurants=_profiles([places[-1]], seats=10))
    assert out.height == 28 and out["p50"].to_list() == pytest.approx([20.0] * 28)


def test_too_little_history_is_a_newcomer_and_not_a_peer() -> None:
    rates = {1: 1.0, 2: 1.0, 3: 1.0, 4: 3.0}
    history = pl.concat(
        [
            _history({k: v for k, v in rates.items() if k != 4}, 20, MIN_HISTORY_DAYS),
            _history({4: rates[4]}, 20, MIN_HISTORY_DAYS - 1),
        ]
    )
    places = [(rid, 2, ["french"]) for rid in rates]
    model = ColdStartForecaster().fit(history, restaurants=_profiles(places))
    assert model.newcomers(rates) == [4]
    assert model.peers_for(2, ["french"]) == (SAME_TIER_AND_CUISINE, [1, 2, 3])
    out = model.predict(TODAY, restaurants=_profiles([places[-1]]))
    assert out["p50"].to_list() == pytest.approx([20.0] * 28)  # its own 3 a seat left out
