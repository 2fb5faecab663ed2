"""Demand forecaster: shapes, quantile order, skill over the weekday median,
no leakage past the origin, input checks, short histories, and real Recruit data."""

from __future__ import annotations

import copy
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from models.demand import DemandForecaster, WeekdayMedianBaseline, rmsle

START = date(2024, 1, 1)
DAYS = 300
HORIZON = 14
ORIGIN = START + timedelta(days=DAYS - 2 * HORIZON)  # two horizons of holdout after it
HOLIDAYS = [START + timedelta(days=d) for d in (20, 45, 80, 111, 150, 190, 230, 260, 277, 281)]


def synthetic_world(
    n_restaurants: int = 30, seed: int = 7
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """history (restaurant_id, date, covers), on_books (restaurant_id, date,
    booked_at, covers) and restaurants (restaurant_id, cuisine, seats).

    Covers follow a per-restaurant level, weekday profile and trend, a holiday
    lift, and a daily shock that reservations see in advance (so the books say
    something history cannot). Some days are missing (closed)."""
    rng = np.random.default_rng(seed)
    days = np.arange(DAYS)
    dates = [START + timedelta(days=int(d)) for d in days]
    weekday = np.array([d.weekday() for d in dates])
    holiday = np.isin(np.array(dates, dtype="datetime64[D]"), np.array(HOLIDAYS, "datetime64[D]"))
    history, books, attrs = [], [], []
    for r in range(n_restaurants):
        rid = f"R{r:02d}"
        level = rng.uniform(2.5, 4.0)
        profile = rng.normal(0, 0.25, 7) + np.array([-0.2, -0.1, 0, 0.1, 0.35, 0.45, 0.1])
        trend = rng.uniform(-0.6, 0.9) * days / DAYS
        shock = rng.normal(0, 0.3, DAYS)
        log_mean = level + profile[weekday] + trend + 0.5 * holiday + shock
        covers = rng.poisson(np.exp(log_mean))
        open_day = rng.random(DAYS) > 0.05
        if r % 7 == 0:  # closed on Mondays
            open_day &= weekday != 0
        booked_share = rng.uniform(0.1, 0.6)
        for d in days[open_day]:
            history.append((rid, dates[d], int(covers[d])))
            booked = rng.binomial(covers[d], booked_share)
            while booked > 0:
                party = min(booked, int(rng.integers(1, 5)))
                lead = int(rng.geometric(0.15))
                at = datetime.combine(dates[d] - timedelta(days=lead), time(11))
                books.append((rid, dates[d], at, party))
                booked -= party
        attrs.append((rid, ["izakaya", "cafe", "bistro"][r % 3], float(rng.integers(20, 80))))
    hist = pl.DataFrame(history, schema=["restaurant_id", "date", "covers"], orient="row")
    on_books = pl.DataFrame(
        books, schema=["restaurant_id", "date", "booked_at", "covers"], orient="row"
    )
    restaurants = pl.DataFrame(attrs, schema=["restaurant_id", "cuisine", "seats"], orient="row")
    return hist, on_books, restaurants


def small_model(**overrides: object) -> DemandForecaster:
    params: dict[str, object] = {
        "horizon": HORIZON,
        "n_origins": 16,
        "n_estimators": 150,
        "learning_rate": 0.08,
        "num_leaves": 15,
        "min_child_samples": 20,
        "n_jobs": 1,  # small data: threads only add contention
    }
    params.update(overrides)
    return DemandForecaster(**params)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def world() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return synthetic_world()


@pytest.fixture(scope="module")
def fitted(world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> DemandForecaster:
    hist, books, restaurants = world
    before = hist.filter(pl.col("date") < ORIGIN)
    known = books.filter(pl.col("booked_at") < datetime.combine(ORIGIN, time()))
    return small_model().fit(before, on_books=known, holidays=HOLIDAYS, restaurants=restaurants)


def forecast(
    model: DemandForecaster, world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]
) -> pl.DataFrame:
    hist, books, _ = world
    return model.predict(ORIGIN, history=hist, on_books=books)


def test_fit_returns_self_and_sets_fitted_attributes(
    world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    hist, books, restaurants = world
    model = small_model(n_estimators=20, n_origins=4)
    assert not hasattr(model, "boosters_")
    assert model.fit(hist, on_books=books, holidays=HOLIDAYS, restaurants=restaurants) is model
    assert set(model.boosters_) == {0.1, 0.5, 0.9}
    assert "horizon" in model.feature_names_
    assert {"books_log", "holiday", "wd_median", "attr_cuisine"} <= set(model.feature_names_)


def test_prediction_shape_columns_and_dates(
    fitted: DemandForecaster, world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]
) -> None:
    out = forecast(fitted, world)
    assert out.columns == ["restaurant_id", "date", "horizon", "p10", "p50", "p90"]
    assert out.height == 30 * HORIZON
    assert out["date"].min() == ORIGIN
    assert out["date"].max() == ORIGIN + timedelta(days=HORIZON - 1)
    assert sorted(out["horizon"].unique().to_list()) == list(range(1, HORIZON + 1))
    per_day = out.group_by("restaurant_id").agg(pl.col("date").n_unique())
    assert (per_day["date"] == HORIZON).all()
    assert out.select(pl.col("p10", "p50", "p90").is_nan().any()).row(0) == (False,) * 3


def test_quantiles_are_ordered(
    fitted: DemandForecaster, world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]
) -> None:
    out = forecast(fitted, world)
    assert (out["p10"] <= out["p50"]).all()
    assert (out["p50"] <= out["p90"]).all()
    assert (out["p10"] >= 0).all()
    assert (out["p90"] > out["p10"]).mean() > 0.9  # type: ignore[operator]


def test_beats_weekday_median_on_holdout(
    fitted: DemandForecaster, world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]
) -> None:
    hist, _, _ = world
    before = hist.filter(pl.col("date") < ORIGIN)
    holdout = hist.filter(
        (pl.col("date") >= ORIGIN) & (pl.col("date") < ORIGIN + timedelta(days=HORIZON))
    )
    baseline = WeekdayMedianBaseline(horizon=HORIZON).fit(before).predict(ORIGIN)
    scores = {}
    for name, out in (("model", forecast(fitted, world)), ("median", baseline)):
        joined = holdout.join(out, on=["restaurant_id", "date"], how="left")
        assert joined["p50"].null_count() == 0
        scores[name] = rmsle(joined["covers"].to_numpy(), joined["p50"].to_numpy())
    assert scores["model"] < 0.9 * scores["median"], scores


def test_no_leakage_from_after_the_origin(
    fitted: DemandForecaster, world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]
) -> None:
    hist, books, _ = world
    everything = fitted.predict(ORIGIN, history=hist, on_books=books)
    cutoff = datetime.combine(ORIGIN, time())
    # Later visits changed wildly, later bookings added: nothing may move.
    tampered = hist.with_columns(
        pl.when(pl.col("date") >= ORIGIN).then(pl.col("covers") * 10).otherwise("covers")
    )
    only_past = fitted.predict(
        ORIGIN,
        history=hist.filter(pl.col("date") < ORIGIN),
        on_books=books.filter(pl.col("booked_at") < cutoff),
    )
    with_tampering = fitted.predict(ORIGIN, history=tampered, on_books=books)
    assert everything.equals(only_past)
    assert everything.equals(with_tampering)


def test_books_on_target_days_matter(
    fitted: DemandForecaster, world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]
) -> None:
    hist, books, _ = world
    cutoff = datetime.combine(ORIGIN, time())
    without_future_books = books.filter((pl.col("date") < ORIGIN) | (pl.col("booked_at") >= cutoff))
    a = fitted.predict(ORIGIN, history=hist, on_books=books)
    b = fitted.predict(ORIGIN, history=hist, on_books=without_future_books)
    assert (a["p50"] - b["p50"]).abs().max() > 0  # type: ignore[operator]


@pytest.mark.parametrize(
    ("frame", "drop", "column"),
    [
        ("history", "covers", "covers"),
        ("history", "date", "date"),
        ("history", "restaurant_id", "restaurant_id"),
        ("on_books", "booked_at", "booked_at"),
        ("on_books", "covers", "covers"),
    ],
)
def test_missing_required_column_raises(
    world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], frame: str, drop: str, column: str
) -> None:
    hist, books, _ = world
    frames = {"history": hist, "on_books": books}
    frames[frame] = frames[frame].drop(drop)
    with pytest.raises(ValueError, match=f"{frame}.*'{column}'"):
        small_model(n_estimators=5, n_origins=2).fit(frames["history"], on_books=frames["on_books"])


def test_missing_restaurant_id_in_restaurants_raises(
    world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    hist, _, restaurants = world
    with pytest.raises(ValueError, match=r"restaurants.*'restaurant_id'"):
        small_model(n_estimators=5, n_origins=2).fit(
            hist, restaurants=restaurants.rename({"restaurant_id": "id"})
        )


def test_blend_pulls_point_forecast_towards_the_weekday_median(
    fitted: DemandForecaster, world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]
) -> None:
    hist, _, _ = world
    out = {}
    for weight in (0.0, 0.5, 1.0):
        model = copy.copy(fitted)
        model.blend_weight = weight
        out[weight] = forecast(model, world)
    logs = {w: np.log1p(frame["p50"].to_numpy()) for w, frame in out.items()}
    assert not np.allclose(logs[0.0], logs[1.0])
    np.testing.assert_allclose(logs[0.5], 0.5 * (logs[0.0] + logs[1.0]), atol=1e-9)
    # Weight 1 is the series' median of log1p(covers) on the same weekday
    # (holidays apart) for days with no holiday today or tomorrow.
    days_off = HOLIDAYS + [d - timedelta(days=1) for d in HOLIDAYS]
    medians = (
        hist.filter((pl.col("date") < ORIGIN) & ~pl.col("date").is_in(HOLIDAYS))
        .group_by("restaurant_id", pl.col("date").dt.weekday().alias("weekday"))
        .agg(pl.col("covers").log1p().median().alias("expected"))
    )
    ordinary = (
        out[1.0]
        .with_row_index()
        .filter(~pl.col("date").is_in(days_off))
        .with_columns(weekday=pl.col("date").dt.weekday())
        .join(medians, on=["restaurant_id", "weekday"], how="inner")
        .sort("index")
    )
    assert ordinary.height > 100
    np.testing.assert_allclose(
        logs[1.0][ordinary["index"].to_numpy()], ordinary["expected"].to_numpy(), atol=1e-6
    )
    for frame in out.values():
        assert (frame["p10"] <= frame["p50"]).all() and (frame["p50"] <= frame["p90"]).all()


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_blend_weight_outside_unit_interval_raises(
    world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], weight: float
) -> None:
    hist, _, _ = world
    with pytest.raises(ValueError, match="blend_weight"):
        small_model(n_estimators=5, n_origins=2, blend_weight=weight).fit(hist)


def test_short_history_restaurant_gets_a_forecast(
    fitted: DemandForecaster, world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]
) -> None:
    hist, books, _ = world
    newcomer = pl.DataFrame(
        {
            "restaurant_id": ["NEW"] * 3,
            "date": [ORIGIN - timedelta(days=d) for d in (3, 2, 1)],
            "covers": [12, 15, 11],
        }
    )
    out = fitted.predict(ORIGIN, history=pl.concat([hist, newcomer]), on_books=books)
    new = out.filter(pl.col("restaurant_id") == "NEW")
    assert new.height == HORIZON
    assert new["p50"].is_finite().all()
    assert new["p50"].is_between(2, 60).all()


def test_slot_frequency_forecasts_each_slot(
    world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    hist, _, _ = world
    # Two services a day: 40% of covers at 19:00, the rest at 20:30 (20:37 floors to 20:30).
    slots = pl.concat(
        [
            hist.with_columns(slot=pl.lit(19 * 60), covers=(pl.col("covers") * 0.4).round()),
            hist.with_columns(slot=pl.lit(20 * 60 + 37), covers=(pl.col("covers") * 0.6).round()),
        ]
    ).filter(pl.col("restaurant_id").is_in(["R01", "R02", "R03"]))
    model = small_model(freq="slot", n_estimators=30, n_origins=4).fit(
        slots.filter(pl.col("date") < ORIGIN), holidays=HOLIDAYS
    )
    out = model.predict(ORIGIN, history=slots)
    assert out.columns == ["restaurant_id", "slot", "date", "horizon", "p10", "p50", "p90"]
    assert sorted(out["slot"].unique().to_list()) == [19 * 60, 20 * 60 + 30]
    assert out.height == 3 * 2 * HORIZON


def test_days_around_holidays_sell_like_weekend_days() -> None:
    from models.demand import _calendar, _prepare_holidays

    # 2017-03-20 was a holiday Monday (Vernal Equinox Day).
    days = pl.Series("date", [date(2017, 3, d) for d in (16, 17, 18, 19, 20, 21, 25, 26, 27)])
    frame = _calendar(days, _prepare_holidays([date(2017, 3, 20)]), ["*"])
    # Thu, Fri, Sat, Sun before the holiday (like Saturday), holiday (like Sunday), Tue;
    # then an ordinary Sat, Sun (a Sunday before a working Monday sells like a Sunday), Mon.
    assert frame["weekday_like"].to_list() == [4, 5, 6, 6, 7, 2, 6, 7, 1]
    assert frame["day_type"].to_list() == [4, 5, 6, 7, 8, 2, 6, 7, 1]
    assert frame["days_to_holiday"].to_list() == [4, 3, 2, 1, 0, 30, 30, 30, 30]


def test_baseline_reproduces_weekday_medians() -> None:
    days = [date(2024, 1, 1) + timedelta(days=d) for d in range(28)]  # starts on a Monday
    hist = pl.DataFrame(
        {"restaurant_id": ["A"] * 28, "date": days, "covers": [10 + d.weekday() for d in days]}
    ).filter(pl.col("date") != date(2024, 1, 7))  # drop a Sunday: still other Sundays
    out = WeekdayMedianBaseline(horizon=7).fit(hist).predict(date(2024, 1, 29))
    assert out["p50"].round(6).to_list() == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0]
    assert out["p10"].round(6).to_list() == out["p50"].round(6).to_list()


def test_rmsle_matches_definition() -> None:
    assert rmsle([0, 1, 10], [0, 1, 10]) == 0.0
    assert rmsle([np.e - 1], [0]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        rmsle([1, 2], [1])


@pytest.mark.realdata
def test_beats_median_on_recruit_subset(shared_data: Path) -> None:
    from benchmarks.recruit_demand import HORIZON as RECRUIT_HORIZON
    from benchmarks.recruit_demand import ORIGIN as RECRUIT_ORIGIN
    from benchmarks.recruit_demand import load_recruit, score

    data = load_recruit(shared_data)
    stores = sorted(data.history["restaurant_id"].unique().to_list())[::16][:50]
    keep = pl.col("restaurant_id").is_in(stores)
    history, holdout = data.history.filter(keep), data.holdout.filter(keep)
    books, restaurants = data.on_books.filter(keep), data.restaurants.filter(keep)
    model = DemandForecaster(
        horizon=RECRUIT_HORIZON, n_origins=26, n_estimators=200, learning_rate=0.05, n_jobs=1
    ).fit(history, on_books=books, holidays=data.holidays, restaurants=restaurants)
    ours = score(model.predict(RECRUIT_ORIGIN, history=history, on_books=books), holdout)
    median = score(
        WeekdayMedianBaseline(horizon=RECRUIT_HORIZON).fit(history).predict(RECRUIT_ORIGIN),
        holdout,
    )
    assert ours < median, (ours, median)
