"""Demand forecasting: covers per restaurant and day (or per 15-minute slot).

One global LightGBM model across restaurants, trained with the *direct*
multi-horizon strategy: every feature is computed from data strictly before a
forecast origin and the horizon (1..``horizon`` days) is itself a feature, so
a forecast never feeds on its own predictions. The training set stacks several
historical origins (weekly by default), each contributing horizons
1..``horizon``. The target is ``log1p(covers)``, so the point forecast
minimises RMSLE.

Features of a (series, target day) row at origin *o*: the horizon; the target
day's calendar (weekday, day of month, month, week of year, holiday flags,
days to/from a holiday, and the weekday it "sells like": a Sunday before a
holiday Monday like a Saturday); covers ``lags`` days before *o*; means,
medians and share of open days over trailing ``windows``; recency-weighted
means; store statistics (overall and per day type: weekday, or holiday, with
median/mean/spread/count, recency-weighted and windowed means); the same
weekday 52 weeks earlier against last year's level; days since the last
open day (closures); books on the target day as of *o*, set against what
was on the books at the same lead for the past 8 weeks (pace, and final
covers implied by the usual share booked that early); static attributes.

Input frames (polars; extra columns are ignored unless said otherwise):

``history``
    ``restaurant_id`` (any hashable dtype), ``date`` (Date, or Datetime /
    ISO string turned into a date), ``covers`` (>= 0) — one row per
    restaurant and service day (duplicates are summed). With
    ``freq="slot"`` also ``slot``: minute of the day of the 15-minute slot
    (floored to 15 minutes). **A missing row means unknown** (closed, not
    recorded), not zero: it is left out of the targets and its lags are
    missing. Give explicit zero rows for days (or slots) that were open and
    empty.
``on_books`` (optional)
    Reservations with their booking time: ``restaurant_id``, ``date`` (the
    visit's service day), ``covers`` (party size), and ``booked_at``
    (Datetime) or ``booked_date`` (Date); with ``freq="slot"`` also
    ``slot``. A reservation counts as on the books at origin *o* when it was
    booked before *o* (``booked_at < o 00:00``), so the model can rebuild
    the books as of any origin, training origins included.
``holidays`` (optional)
    ``date`` (or ``local_date``) with an optional ``country``; or any
    iterable of dates. With a ``country`` column, and a ``country`` column in
    ``restaurants``, each restaurant gets its own country's holidays.
``restaurants`` (optional)
    Static attributes: ``restaurant_id`` plus any categorical (string,
    categorical, enum, boolean) or numeric columns (e.g. genre, area,
    latitude). Strings become LightGBM categorical features.

Quantiles: P50 is the point model, fitted to ``log1p(covers)`` with a
Huber loss by default (squared error for ordinary days, so it estimates the
RMSLE-optimal mean of the logs; linear for the rare wild day such as a
private party, which would otherwise drag the fit), then blended with a
statistical forecast: ``(1 - w) * model + w * median`` in log1p units, the
median being the series' median on the weekday the target day sells like
(``blend_weight`` w, 0.1 by default). The other quantiles come
from LightGBM quantile models on the same features, clipped so that
``p10 <= p50 <= p90``. Quantile models were chosen over a point model plus
residual quantiles by horizon: they widen intervals for volatile, small
restaurants where residual quantiles give every restaurant the same width,
and on Recruit their pinball loss was lower (P10 0.096 vs 0.102, P90 0.075 vs
0.080 in log1p units; residuals out of sample from the last 6 origins).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast

import lightgbm as lgb
import numpy as np
import polars as pl

Freq = Literal["day", "slot"]
SLOT_MINUTES = 15
NO_COUNTRY = "*"  # holiday key used when holidays are not per country
HOLIDAY_DISTANCE_CAP = 30  # days; "no holiday within a month" is all the model needs
BOOKS_LOOKBACK_DAYS = 56  # past service days used to learn how books relate to final covers
LAST_YEAR_DAYS = 364  # 52 weeks: same weekday one year earlier
LIKE_FEATURES = ("wd_ewm_6w", "wd_ewm_18w", "wd_median")
BLEND_FEATURE = "like_wd_median"  # the statistical forecast the point forecast is blended with
DEFAULT_BLEND_WEIGHT = 0.1  # chosen on origins before the Recruit holdout (see blend_weight)

__all__ = ["DemandForecaster", "WeekdayMedianBaseline", "rmsle"]


def rmsle(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray) -> float:
    """Root mean squared logarithmic error of covers (not of their logs)."""
    true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    if true.shape != pred.shape or true.size == 0:
        raise ValueError(
            f"y_true and y_pred must be non-empty and alike: {true.shape}, {pred.shape}"
        )
    if (true < 0).any() or (pred < 0).any():
        raise ValueError("rmsle needs non-negative covers")
    return float(np.sqrt(np.mean((np.log1p(pred) - np.log1p(true)) ** 2)))


# --------------------------------------------------------------------------- inputs


def _require(frame: pl.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} is missing required column(s) {', '.join(map(repr, missing))} "
            f"(it has {frame.columns})"
        )


def _to_date(frame: pl.DataFrame, column: str) -> pl.Expr:
    dtype = frame.schema[column]
    if dtype == pl.Date:
        return pl.col(column)
    if isinstance(dtype, pl.Datetime):
        return pl.col(column).dt.date()
    if dtype == pl.String:
        return (
            pl.col(column)
            .str.to_date(strict=False)
            .fill_null(pl.col(column).str.to_datetime(strict=False).dt.date())
        )
    raise ValueError(f"column {column!r} must be a date, datetime or ISO string, not {dtype}")


def _keys(freq: Freq) -> list[str]:
    return ["restaurant_id", "slot"] if freq == "slot" else ["restaurant_id"]


def _slot_expr() -> pl.Expr:
    return (pl.col("slot").cast(pl.Int32) // SLOT_MINUTES * SLOT_MINUTES).alias("slot")


def _prepare_history(history: pl.DataFrame, freq: Freq) -> pl.DataFrame:
    """keys, date, y = log1p(covers), one row per key and date, sorted."""
    keys = _keys(freq)
    _require(history, "history", [*keys, "date", "covers"])
    frame = history.select(
        *keys, _to_date(history, "date").alias("date"), pl.col("covers").cast(pl.Float64)
    ).drop_nulls()
    if (frame["covers"] < 0).any():
        raise ValueError("history covers must be >= 0")
    if freq == "slot":
        frame = frame.with_columns(_slot_expr())
    return (
        frame.group_by(*keys, "date")
        .agg(pl.col("covers").sum())
        .select(*keys, "date", pl.col("covers").log1p().alias("y"))
        .sort(*keys, "date")
    )


def _prepare_books(on_books: pl.DataFrame, freq: Freq, id_dtype: pl.DataType) -> pl.DataFrame:
    """keys, date, lead (days between booking day and service day), covers."""
    keys = _keys(freq)
    _require(on_books, "on_books", [*keys, "date", "covers"])
    if "booked_at" in on_books.columns:
        booked = _to_date(on_books, "booked_at")
    elif "booked_date" in on_books.columns:
        booked = _to_date(on_books, "booked_date")
    else:
        raise ValueError("on_books is missing required column 'booked_at' (or 'booked_date')")
    frame = on_books.select(
        pl.col("restaurant_id").cast(id_dtype),
        *([_slot_expr()] if freq == "slot" else []),
        _to_date(on_books, "date").alias("date"),
        booked.alias("booked_date"),
        pl.col("covers").cast(pl.Float64),
    ).drop_nulls()
    # Lead 0 (booked on the day) never counts for an origin before the day;
    # negative leads are data errors.
    return (
        frame.with_columns(lead=(pl.col("date") - pl.col("booked_date")).dt.total_days())
        .filter(pl.col("lead") >= 0)
        .select(*keys, "date", "lead", "covers")
    )


def _prepare_holidays(holidays: pl.DataFrame | Iterable[date] | None) -> pl.DataFrame:
    """country, date of every holiday (country NO_COUNTRY when not per country)."""
    if holidays is None:
        return pl.DataFrame(schema={"country": pl.String, "date": pl.Date})
    if not isinstance(holidays, pl.DataFrame):
        holidays = pl.DataFrame({"date": list(holidays)}, schema={"date": pl.Date})
    column = "date" if "date" in holidays.columns else "local_date"
    _require(holidays, "holidays", [column])
    country = (
        pl.col("country").cast(pl.String) if "country" in holidays.columns else pl.lit(NO_COUNTRY)
    )
    return (
        holidays.select(country.alias("country"), _to_date(holidays, column).alias("date"))
        .drop_nulls()
        .unique()
        .sort("country", "date")
    )


def _calendar(dates: pl.Series, holidays: pl.DataFrame, countries: list[str]) -> pl.DataFrame:
    """country, date and calendar features for every date and country."""
    days = dates.cast(pl.Int32).to_numpy().astype(np.int64)
    frames = []
    for country in countries:
        hol = np.sort(
            holidays.filter(pl.col("country") == country)["date"].cast(pl.Int32).to_numpy()
        ).astype(np.int64)
        cap = HOLIDAY_DISTANCE_CAP
        if hol.size:
            nxt = np.searchsorted(hol, days, side="left")
            to_next = np.where(nxt < hol.size, hol[np.minimum(nxt, hol.size - 1)] - days, cap)
            prv = np.searchsorted(hol, days, side="right") - 1
            from_prev = np.where(prv >= 0, days - hol[np.maximum(prv, 0)], cap)
        else:
            to_next = from_prev = np.full(days.size, cap)
        is_hol = np.isin(days, hol)
        # Days off (weekends, holidays) and the evenings before them drive
        # demand: a Sunday before a holiday Monday sells like a Saturday, the
        # holiday Monday like a Sunday, a Thursday before a holiday like a Friday.
        weekday = dates.dt.weekday().to_numpy()
        off_today = is_hol | (weekday >= 6)
        # Tomorrow is off after a Friday or a Saturday (not after a Sunday).
        off_tomorrow = np.isin(days + 1, hol) | (weekday == 5) | (weekday == 6)
        like = np.where(
            off_today,
            np.where(off_tomorrow, 6, 7),
            np.where(off_tomorrow, 5, np.minimum(weekday, 4)),
        )
        frames.append(
            pl.DataFrame(
                {
                    "country": [country] * days.size,
                    "date": dates,
                    "holiday": is_hol.astype(np.float64),
                    "holiday_eve": np.isin(days + 1, hol).astype(np.float64),
                    "holiday_after": np.isin(days - 1, hol).astype(np.float64),
                    "days_to_holiday": np.minimum(to_next, cap).astype(np.float64),
                    "days_from_holiday": np.minimum(from_prev, cap).astype(np.float64),
                    "weekday_like": like.astype(np.float64),
                }
            )
        )
    return pl.concat(frames).with_columns(
        weekday=pl.col("date").dt.weekday().cast(pl.Float64),
        day_of_month=pl.col("date").dt.day().cast(pl.Float64),
        month=pl.col("date").dt.month().cast(pl.Float64),
        week_of_year=pl.col("date").dt.week().cast(pl.Float64),
        # Holidays get a day type of their own next to weekdays 1..7: their
        # covers follow neither the weekday they fall on nor any other.
        day_type=pl.when(pl.col("holiday") > 0)
        .then(8)
        .otherwise(pl.col("date").dt.weekday())
        .cast(pl.Float64),
    )


def _day(origin: date | datetime | str) -> date:
    if isinstance(origin, datetime):
        return origin.date()
    if isinstance(origin, date):
        return origin
    return date.fromisoformat(origin)


# --------------------------------------------------------------------------- features


@dataclass
class _Data:
    """Prepared inputs shared by training and prediction."""

    freq: Freq
    hist: pl.DataFrame  # keys, date, y, country, holiday
    books: pl.DataFrame | None  # keys, date, lead, covers
    holidays: pl.DataFrame  # country, date
    restaurants: pl.DataFrame | None  # restaurant_id, country, attribute features (encoded)
    countries: list[str] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return _keys(self.freq)


@dataclass(frozen=True)
class _Spec:
    horizon: int
    lags: tuple[int, ...]
    windows: tuple[int, ...]
    weekday_windows: tuple[int, ...]


def _ewm(halflife_days: float) -> pl.Expr:
    """Exponentially weighted mean of y by age (days before the origin)."""
    weight = pl.lit(0.5).pow(pl.col("age") / halflife_days)
    return (pl.col("y") * weight).sum() / weight.sum()


def _series_stats(past: pl.DataFrame, keys: list[str], spec: _Spec) -> pl.DataFrame:
    y, age = pl.col("y"), pl.col("age")
    longest = spec.windows[-1]
    aggs: list[pl.Expr] = [
        age.min().alias("days_since_last"),  # > 1: closed lately (or stopped reporting)
        age.max().alias("days_since_first"),
        pl.len().cast(pl.Float64).alias("n_obs"),
        y.mean().alias("mean_all"),
        y.median().alias("median_all"),
        y.std().alias("std_all"),
        y.filter(pl.col("holiday") > 0).mean().alias("holiday_mean"),
        y.filter(age <= longest).max().alias(f"max_{longest}d"),
        y.filter(age <= longest).std().alias(f"std_{longest}d"),
        # Last year's level over the 4 weeks before the origin: against the
        # 364-day lag of the target day it carries last year's seasonal swing.
        y.filter((age > LAST_YEAR_DAYS) & (age <= LAST_YEAR_DAYS + 28)).mean().alias("ly_level"),
        y.exp().sub(1).filter(age <= BOOKS_LOOKBACK_DAYS).sum().alias("covers_lookback"),
        (age <= BOOKS_LOOKBACK_DAYS).sum().cast(pl.Float64).alias("open_lookback"),
        *[_ewm(halflife).alias(f"ewm_{halflife}d") for halflife in (7, 28)],
    ]
    for lag in spec.lags:
        aggs.append(y.filter(age == lag).first().alias(f"lag_{lag}d"))
    for w in spec.windows:
        recent = age <= w
        aggs += [
            y.filter(recent).mean().alias(f"mean_{w}d"),
            y.filter(recent).median().alias(f"median_{w}d"),
            (recent.sum() / w).cast(pl.Float64).alias(f"open_share_{w}d"),
        ]
    short = spec.windows[1]
    return (
        past.group_by(keys)
        .agg(aggs)
        .with_columns(
            (pl.col(f"mean_{short}d") - pl.col("mean_all")).alias("level_shift"),
            (pl.col(f"mean_{short}d") - pl.col(f"mean_{longest}d")).alias("trend"),
            (pl.col("holiday_mean") - pl.col("mean_all")).alias("holiday_effect"),
        )
    )


def _weekday_stats(past: pl.DataFrame, keys: list[str], spec: _Spec) -> pl.DataFrame:
    """Per series and day type (weekday 1..7, holidays 8): the weekday profile,
    the strongest signal on Recruit (the recency-weighted means above all)."""
    y, age = pl.col("y"), pl.col("age")
    aggs: list[pl.Expr] = [
        y.median().alias("wd_median"),
        y.mean().alias("wd_mean"),
        y.std().alias("wd_std"),
        pl.len().cast(pl.Float64).alias("wd_n"),
        y.sort_by("date").last().alias("wd_last"),
        *[_ewm(7 * halflife).alias(f"wd_ewm_{halflife}w") for halflife in (6, 18)],
    ]
    for weeks in spec.weekday_windows:
        recent = age <= 7 * weeks
        aggs += [
            y.filter(recent).mean().alias(f"wd_mean_{weeks}w"),
            y.filter(recent).median().alias(f"wd_median_{weeks}w"),
            (recent.sum() / weeks).cast(pl.Float64).alias(f"wd_open_{weeks}w"),
        ]
    return past.group_by(*keys, pl.col("day_type").cast(pl.Int8).alias("weekday_key")).agg(aggs)


def _books_features(
    data: _Data, origin: date, horizon: int, series: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Books on the target days as of the origin, and per lead the history of
    how much of a day's final covers was already on the books that early."""
    assert data.books is not None
    keys = data.keys
    end = origin + timedelta(days=horizon)
    # Booked before the origin: lead >= days from the booking day to the service day.
    known = data.books.filter(
        (pl.col("date") - pl.col("lead").cast(pl.Int32) * pl.duration(days=1)) < pl.lit(origin)
    )
    ahead = (
        known.filter((pl.col("date") >= origin) & (pl.col("date") < end))
        .group_by(*keys, "date")
        .agg(pl.col("covers").sum().alias("books_covers"))
    )
    start = origin - timedelta(days=BOOKS_LOOKBACK_DAYS)
    by_lead = (
        known.filter((pl.col("date") >= start) & (pl.col("date") < origin))
        .group_by(*keys, "lead")
        .agg(pl.col("covers").sum())
    )
    leads = pl.DataFrame({"horizon": np.arange(1, horizon + 1, dtype=np.int64)})
    # For horizon h a past day's books "at the same lead" are those booked >= h days ahead.
    at_lead = (
        by_lead.join(leads, how="cross")
        .filter(pl.col("lead") >= pl.col("horizon"))
        .group_by(*keys, "horizon")
        .agg(pl.col("covers").sum().alias("books_past_at_lead"))
    )
    at_lead = (
        series.join(leads, how="cross")
        .join(at_lead, on=[*keys, "horizon"], how="left")
        .with_columns(pl.col("books_past_at_lead").fill_null(0.0))
    )
    return ahead, at_lead


def _frame(data: _Data, origin: date, spec: _Spec, with_target: bool) -> pl.DataFrame:
    """One row per series and target day origin..origin+horizon-1 with its
    features (and target ``y`` when asked, for observed days only)."""
    keys = data.keys
    past = data.hist.filter(pl.col("date") < origin).with_columns(
        age=(pl.lit(origin) - pl.col("date")).dt.total_days()
    )
    if past.height == 0:
        return pl.DataFrame()
    series = past.select(keys).unique()
    dates = pl.date_range(origin, origin + timedelta(days=spec.horizon - 1), eager=True)
    grid = series.join(pl.DataFrame({"date": dates}), how="cross").with_columns(
        horizon=(pl.col("date") - pl.lit(origin)).dt.total_days() + 1
    )
    if data.restaurants is not None:
        grid = grid.join(data.restaurants, on="restaurant_id", how="left")
        grid = grid.with_columns(pl.col("country").fill_null(NO_COUNTRY))
    else:
        grid = grid.with_columns(country=pl.lit(NO_COUNTRY))
    calendar = _calendar(dates, data.holidays, data.countries)
    grid = grid.join(calendar, on=["country", "date"], how="left").with_columns(
        pl.col("day_type").cast(pl.Int8).alias("weekday_key")
    )
    grid = grid.join(_series_stats(past, keys, spec), on=keys, how="left")
    wd_stats = _weekday_stats(past, keys, spec)
    grid = grid.join(wd_stats, on=[*keys, "weekday_key"], how="left")
    # The profile of the weekday this day sells like (see _calendar).
    like = wd_stats.select(
        *keys,
        pl.col("weekday_key").alias("like_key"),
        *[pl.col(c).alias(f"like_{c}") for c in LIKE_FEATURES],
    )
    grid = grid.with_columns(like_key=pl.col("weekday_like").cast(pl.Int8)).join(
        like, on=[*keys, "like_key"], how="left"
    )
    # The same weekday 52 weeks earlier: before the origin for any horizon < 364.
    last_year = data.hist.select(
        *keys,
        (pl.col("date") + timedelta(days=LAST_YEAR_DAYS)).alias("date"),
        pl.col("y").alias("ly_same_day"),
    )
    grid = grid.join(last_year, on=[*keys, "date"], how="left")
    if data.freq == "slot":
        grid = grid.with_columns(slot_minute=pl.col("slot").cast(pl.Float64))
    if data.books is not None:
        ahead, at_lead = _books_features(data, origin, spec.horizon, series)
        grid = (
            grid.join(ahead, on=[*keys, "date"], how="left")
            .join(at_lead, on=[*keys, "horizon"], how="left")
            .with_columns(pl.col("books_covers").fill_null(0.0))
        )
        share = pl.col("books_past_at_lead") / pl.col("covers_lookback")
        grid = grid.with_columns(
            books_log=pl.col("books_covers").log1p(),
            books_implied=pl.when(share > 0).then((pl.col("books_covers") / share).log1p()),
            books_pace=pl.col("books_covers").log1p()
            - (pl.col("books_past_at_lead") / pl.col("open_lookback").clip(1)).log1p(),
        ).drop("books_covers", "books_past_at_lead")
    grid = grid.with_columns(
        weekday_effect=pl.col("wd_mean") - pl.col("mean_all"),
        profile_now=pl.col("wd_mean") + pl.col("level_shift"),
        ly_relative=pl.col("ly_same_day") - pl.col("ly_level"),
    ).drop("ly_level")
    if with_target:
        grid = grid.join(data.hist.select(*keys, "date", "y"), on=[*keys, "date"], how="inner")
    return grid


# --------------------------------------------------------------------------- models


def _encode_restaurants(
    restaurants: pl.DataFrame, categories: dict[str, list[str]], id_dtype: pl.DataType
) -> pl.DataFrame:
    """restaurant_id, country (raw, for holidays) and numeric/coded attributes."""
    exprs: list[pl.Expr] = [pl.col("restaurant_id").cast(id_dtype)]
    exprs.append(
        pl.col("country").cast(pl.String).alias("country")
        if "country" in restaurants.columns
        else pl.lit(NO_COUNTRY).alias("country")
    )
    for name, dtype in restaurants.schema.items():
        if name == "restaurant_id":
            continue
        if name in categories:
            mapping = {value: float(i) for i, value in enumerate(categories[name])}
            exprs.append(
                pl.col(name)
                .cast(pl.String)
                .replace_strict(mapping, default=None, return_dtype=pl.Float64)
                .alias(f"attr_{name}")
            )
        elif dtype.is_numeric():
            exprs.append(pl.col(name).cast(pl.Float64).alias(f"attr_{name}"))
    return restaurants.select(exprs).unique("restaurant_id", keep="first")


def _categories(restaurants: pl.DataFrame) -> dict[str, list[str]]:
    """Levels of each categorical attribute, fixed at fit time (unseen: missing)."""
    _require(restaurants, "restaurants", ["restaurant_id"])
    return {
        name: sorted(restaurants[name].drop_nulls().cast(pl.String).unique())
        for name, dtype in restaurants.schema.items()
        if name != "restaurant_id" and _is_categorical(dtype)
    }


def _is_categorical(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(
        dtype, pl.Categorical | pl.Enum
    )


NON_FEATURES = {"restaurant_id", "slot", "date", "y", "country", "weekday_key", "like_key"}


class DemandForecaster:
    """Global direct multi-horizon LightGBM forecaster of covers.

    Parameters
    ----------
    horizon: days forecast from an origin (horizon 1 is the origin's day).
    quantiles: forecast quantiles; must hold 0.5 (the point forecast). Output
        columns are named ``p{100 q}``.
    freq: ``"day"`` (covers per restaurant and day) or ``"slot"`` (per
        restaurant, day and 15-minute slot; each slot is its own series).
    lags: days before the origin whose covers are features (``lag_{k}d``).
    windows: trailing windows (days before the origin) summarised by mean,
        median and share of open days (at least two; the second is the
        "recent level", the last the long one).
    weekday_windows: trailing windows in weeks for the same-weekday mean,
        median and share of open days.
    n_origins, origin_step_days: default training origins, every
        ``origin_step_days`` going back from the day after the last history day.
    loss: point model loss on ``log1p(covers)``: ``"huber"`` (default; a few
        wild days, such as private parties, pull an L2 fit less) or ``"l2"``.
    huber_delta: where the Huber loss turns linear, in log1p units.
    n_estimators, learning_rate, num_leaves, min_child_samples,
    feature_fraction, bagging_fraction, lambda_l2, max_bin: LightGBM
        settings of the point model.
    interval_estimators: trees of each non-median quantile model (default: a
        quarter of ``n_estimators``, at a learning rate scaled up to match,
        at most 0.3): intervals need less precision than the point forecast.
    blend_weight: weight in [0, 1] of a statistical forecast in the point
        forecast, in log1p units: ``(1 - w) * model + w * median``, where the
        median is the series' median of ``log1p(covers)`` on the weekday the
        target day sells like (``0``: the model alone). It costs no fitting.
        The default was chosen on Recruit origins before the benchmark's
        holdout (``benchmarks/recruit_selection.py``).
    n_jobs: LightGBM threads (``None``: LightGBM's default, all cores).
    random_state: seed for LightGBM's bagging.
    """

    # Models pickled before the blend existed predict as they did: no blend.
    blend_weight: float = 0.0

    def __init__(
        self,
        *,
        horizon: int = 28,
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
        freq: Freq = "day",
        lags: Sequence[int] = (1, 7, 14, 21, 28),
        windows: Sequence[int] = (7, 14, 28, 56, 112),
        weekday_windows: Sequence[int] = (8, 16),
        n_origins: int = 52,
        origin_step_days: int = 7,
        loss: Literal["huber", "l2"] = "huber",
        huber_delta: float = 1.0,
        n_estimators: int = 1000,
        learning_rate: float = 0.03,
        num_leaves: int = 63,
        min_child_samples: int = 300,
        feature_fraction: float = 0.5,
        bagging_fraction: float = 0.8,
        lambda_l2: float = 10.0,
        max_bin: int = 63,
        interval_estimators: int | None = None,
        blend_weight: float = DEFAULT_BLEND_WEIGHT,
        n_jobs: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.horizon = horizon
        self.quantiles = quantiles
        self.freq = freq
        self.lags = lags
        self.windows = windows
        self.weekday_windows = weekday_windows
        self.n_origins = n_origins
        self.origin_step_days = origin_step_days
        self.loss = loss
        self.huber_delta = huber_delta
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.lambda_l2 = lambda_l2
        self.max_bin = max_bin
        self.interval_estimators = interval_estimators
        self.blend_weight = blend_weight
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ------------------------------------------------------------------ helpers

    def _spec(self) -> _Spec:
        if not 1 <= self.horizon < LAST_YEAR_DAYS:
            raise ValueError(f"horizon must be between 1 and {LAST_YEAR_DAYS - 1} days")
        if self.freq not in ("day", "slot"):
            raise ValueError(f"freq must be 'day' or 'slot', not {self.freq!r}")
        if 0.5 not in self.quantiles or any(not 0 < q < 1 for q in self.quantiles):
            raise ValueError("quantiles must lie in (0, 1) and include 0.5 (the point forecast)")
        if not 0.0 <= self.blend_weight <= 1.0:
            raise ValueError(f"blend_weight must lie in [0, 1], not {self.blend_weight!r}")
        windows = tuple(sorted(set(self.windows)))
        if len(windows) < 2:
            raise ValueError("windows needs at least two trailing windows")
        return _Spec(
            horizon=self.horizon,
            lags=tuple(sorted(set(self.lags))),
            windows=windows,
            weekday_windows=tuple(sorted(set(self.weekday_windows))),
        )

    def _data(
        self,
        history: pl.DataFrame,
        on_books: pl.DataFrame | None,
        holidays: pl.DataFrame | Iterable[date] | None,
        restaurants: pl.DataFrame | None,
        categories: dict[str, list[str]],
    ) -> _Data:
        hist = _prepare_history(history, self.freq)
        id_dtype = hist.schema["restaurant_id"]
        hol = _prepare_holidays(holidays)
        attrs = None
        if restaurants is not None:
            _require(restaurants, "restaurants", ["restaurant_id"])
            attrs = _encode_restaurants(restaurants, categories, id_dtype)
        countries = sorted({NO_COUNTRY, *hol["country"].to_list()})
        if attrs is not None:
            countries = sorted({*countries, *attrs["country"].to_list()})
        if attrs is not None and set(hol["country"]) - {NO_COUNTRY}:
            country_of = attrs.select("restaurant_id", "country")
        else:
            # Holidays not per country (or no countries known): everyone shares them.
            hol = hol.with_columns(country=pl.lit(NO_COUNTRY))
            country_of = None
            if attrs is not None:
                attrs = attrs.with_columns(country=pl.lit(NO_COUNTRY))
        # Flag holidays in history for holiday profiles and day types.
        if country_of is not None:
            hist = hist.join(country_of, on="restaurant_id", how="left")
            hist = hist.with_columns(pl.col("country").fill_null(NO_COUNTRY))
        else:
            hist = hist.with_columns(country=pl.lit(NO_COUNTRY))
        hist = hist.join(
            hol.with_columns(holiday=pl.lit(1.0)), on=["country", "date"], how="left"
        ).with_columns(
            pl.col("holiday").fill_null(0.0),
        )
        hist = hist.with_columns(
            day_type=pl.when(pl.col("holiday") > 0).then(8).otherwise(pl.col("date").dt.weekday())
        ).sort(*_keys(self.freq), "date")
        books = None if on_books is None else _prepare_books(on_books, self.freq, id_dtype)
        return _Data(self.freq, hist, books, hol, attrs, countries)

    def _matrix(self, frame: pl.DataFrame) -> np.ndarray:
        missing = [c for c in self.feature_names_ if c not in frame.columns]
        if missing:  # e.g. restaurants passed at fit time but not now
            frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in missing)
        # float32 halves the memory of a year of origins; LightGBM bins in float32 anyway.
        return frame.select(pl.col(self.feature_names_).cast(pl.Float32)).to_numpy()

    def _rounds(self, quantile: float) -> tuple[int, float]:
        """Trees and learning rate of the model for one quantile."""
        if quantile == 0.5:
            return self.n_estimators, self.learning_rate
        rounds = self.interval_estimators or max(1, self.n_estimators // 4)
        return rounds, min(0.3, self.learning_rate * self.n_estimators / rounds)

    def _params(self, quantile: float, learning_rate: float) -> dict[str, Any]:
        params: dict[str, Any] = {
            "learning_rate": learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": self.lambda_l2,
            "max_bin": self.max_bin,
            "seed": self.random_state,
            "verbose": -1,
        }
        if quantile != 0.5:
            params.update(objective="quantile", alpha=quantile)
        elif self.loss == "huber":
            params.update(objective="huber", alpha=self.huber_delta)
        elif self.loss == "l2":
            params["objective"] = "regression"
        else:
            raise ValueError(f"loss must be 'huber' or 'l2', not {self.loss!r}")
        if self.n_jobs is not None:
            params["num_threads"] = self.n_jobs
        return params

    # ------------------------------------------------------------------ API

    def fit(
        self,
        history: pl.DataFrame,
        *,
        on_books: pl.DataFrame | None = None,
        holidays: pl.DataFrame | Iterable[date] | None = None,
        restaurants: pl.DataFrame | None = None,
        origins: Sequence[date] | None = None,
    ) -> DemandForecaster:
        """Train on ``history`` from several origins (see the module docstring
        for the frames). ``origins`` defaults to ``n_origins`` weekly origins
        going back from the day after the last history day."""
        spec = self._spec()
        self.categories_ = {} if restaurants is None else _categories(restaurants)
        data = self._data(history, on_books, holidays, restaurants, self.categories_)
        if data.hist.height == 0:
            raise ValueError("history has no rows with covers")
        last = cast(date, data.hist["date"].max())
        if origins is None:
            step = timedelta(days=self.origin_step_days)
            starts = [last + timedelta(days=1) - k * step for k in range(1, self.n_origins + 1)]
        else:
            starts = [_day(o) for o in origins]
        starts = sorted(set(starts))
        frames = [f for o in starts if (f := _frame(data, o, spec, True)).height]
        if not frames:
            raise ValueError("no training rows: every origin lacks history before it or after it")
        train = pl.concat(frames, how="diagonal_relaxed")
        self.feature_names_ = [c for c in train.columns if c not in NON_FEATURES]
        categorical = [f"attr_{name}" for name in self.categories_]
        X = self._matrix(train)
        y = train["y"].to_numpy()
        dataset = lgb.Dataset(
            X,
            label=y,
            feature_name=self.feature_names_,
            categorical_feature=categorical or "auto",
            free_raw_data=False,
        )
        self.boosters_: dict[float, lgb.Booster] = {}
        for q in sorted(self.quantiles):
            rounds, rate = self._rounds(q)
            self.boosters_[q] = lgb.train(self._params(q, rate), dataset, num_boost_round=rounds)
        self.origins_ = starts
        self.n_train_rows_ = train.height
        self.uses_books_ = on_books is not None
        self.holidays_ = _prepare_holidays(holidays)
        self.restaurants_ = restaurants
        return self

    def predict(
        self,
        origin: date | datetime | str,
        *,
        history: pl.DataFrame,
        on_books: pl.DataFrame | None = None,
        holidays: pl.DataFrame | Iterable[date] | None = None,
        restaurants: pl.DataFrame | None = None,
    ) -> pl.DataFrame:
        """Forecast days ``origin .. origin + horizon - 1`` for every series
        with history before the origin.

        Only history before the origin and books booked before it are read,
        so passing later rows changes nothing. ``holidays`` and
        ``restaurants`` default to those given to ``fit``.

        Returns restaurant_id, [slot,] date, horizon, and one column per
        quantile (``p10``, ``p50``, ``p90`` by default) in covers.
        """
        if not hasattr(self, "boosters_"):
            raise ValueError("DemandForecaster is not fitted: call fit first")
        if self.uses_books_ and on_books is None:
            raise ValueError("the model was fitted with on_books: pass on_books to predict")
        spec = self._spec()
        start = _day(origin)
        data = self._data(
            history,
            on_books if self.uses_books_ else None,
            self.holidays_ if holidays is None else holidays,
            self.restaurants_ if restaurants is None else restaurants,
            self.categories_,
        )
        keys = data.keys
        frame = _frame(data, start, spec, False)
        out_schema: dict[str, Any] = {
            **{k: data.hist.schema[k] for k in keys},
            "date": pl.Date,
            "horizon": pl.Int64,
            **{_column(q): pl.Float64 for q in self.quantiles},
        }
        if frame.height == 0:
            return pl.DataFrame(schema=out_schema)
        X = self._matrix(frame)
        raw = {q: booster.predict(X) for q, booster in self.boosters_.items()}
        point = _blend(np.asarray(raw[0.5], dtype=np.float64), frame, self.blend_weight)
        logs = {
            q: point
            if q == 0.5
            else np.minimum(raw[q], point)
            if q < 0.5
            else np.maximum(raw[q], point)
            for q in raw
        }
        # Quantile models are trained independently; sort so they never cross.
        ordered = sorted(logs)
        stacked = np.sort(np.vstack([logs[q] for q in ordered]), axis=0)
        result = frame.select(*keys, "date", pl.col("horizon").cast(pl.Int64))
        result = result.with_columns(
            pl.Series(_column(q), np.clip(np.expm1(stacked[i]), 0.0, None))
            for i, q in enumerate(ordered)
        )
        return result.select(list(out_schema)).sort(*keys, "date")


def _blend(point: np.ndarray, frame: pl.DataFrame, weight: float) -> np.ndarray:
    """The point forecast pulled towards the series' median of the weekday the
    day sells like, in log1p units (where that median is missing, the model
    stands)."""
    if weight == 0.0:
        return point
    anchor = frame[BLEND_FEATURE].cast(pl.Float64).fill_null(np.nan).to_numpy()
    return np.where(np.isnan(anchor), point, (1.0 - weight) * point + weight * anchor)


def _column(q: float) -> str:
    return f"p{round(q * 100):d}"


class WeekdayMedianBaseline:
    """Per series × weekday median of ``log1p(covers)`` over the training
    window, falling back to the series' overall median (the Recruit
    benchmark's reference, about 0.555 RMSLE). Quantiles are the same
    empirical quantiles of ``log1p(covers)``.

    ``window_days`` limits the window to the last days of history (``None``:
    all of it). ``predict`` uses the medians learnt by ``fit``; pass
    ``history`` to re-anchor them on that frame's days before the origin.
    """

    def __init__(
        self,
        *,
        horizon: int = 28,
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
        freq: Freq = "day",
        window_days: int | None = None,
    ) -> None:
        self.horizon = horizon
        self.quantiles = quantiles
        self.freq = freq
        self.window_days = window_days

    def _profiles(self, hist: pl.DataFrame, end: date) -> tuple[pl.DataFrame, pl.DataFrame]:
        keys = _keys(self.freq)
        past = hist.filter(pl.col("date") < end)
        if self.window_days is not None:
            past = past.filter(pl.col("date") >= end - timedelta(days=self.window_days))
        qs = [
            pl.col("y").quantile(q, interpolation="linear").alias(_column(q))
            for q in self.quantiles
        ]
        by_day = past.group_by(*keys, pl.col("date").dt.weekday().alias("weekday")).agg(qs)
        overall = past.group_by(keys).agg(qs)
        return by_day, overall

    def fit(
        self,
        history: pl.DataFrame,
        *,
        on_books: pl.DataFrame | None = None,
        holidays: pl.DataFrame | Iterable[date] | None = None,
        restaurants: pl.DataFrame | None = None,
        origins: Sequence[date] | None = None,
    ) -> WeekdayMedianBaseline:
        """Learn the profiles from ``history`` (other frames are accepted for
        API compatibility and ignored)."""
        if 0.5 not in self.quantiles:
            raise ValueError("quantiles must include 0.5 (the point forecast)")
        hist = _prepare_history(history, self.freq)
        if hist.height == 0:
            raise ValueError("history has no rows with covers")
        end = cast(date, hist["date"].max()) + timedelta(days=1)
        self.by_weekday_, self.overall_ = self._profiles(hist, end)
        return self

    def predict(
        self,
        origin: date | datetime | str,
        *,
        history: pl.DataFrame | None = None,
        on_books: pl.DataFrame | None = None,
        holidays: pl.DataFrame | Iterable[date] | None = None,
        restaurants: pl.DataFrame | None = None,
    ) -> pl.DataFrame:
        """Same output as ``DemandForecaster.predict``."""
        if not hasattr(self, "overall_"):
            raise ValueError("WeekdayMedianBaseline is not fitted: call fit first")
        start = _day(origin)
        keys = _keys(self.freq)
        by_day, overall = self.by_weekday_, self.overall_
        if history is not None:
            by_day, overall = self._profiles(_prepare_history(history, self.freq), start)
        dates = pl.date_range(start, start + timedelta(days=self.horizon - 1), eager=True)
        cols = [_column(q) for q in self.quantiles]
        grid = (
            overall.select(keys)
            .join(pl.DataFrame({"date": dates}), how="cross")
            .with_columns(
                horizon=(pl.col("date") - pl.lit(start)).dt.total_days() + 1,
                weekday=pl.col("date").dt.weekday(),
            )
            .join(by_day, on=[*keys, "weekday"], how="left")
            .join(overall, on=keys, how="left", suffix="_all")
        )
        return grid.select(
            *keys,
            "date",
            pl.col("horizon").cast(pl.Int64),
            *[pl.coalesce(c, f"{c}_all").exp().sub(1).clip(0).alias(c) for c in cols],
        ).sort(*keys, "date")
