"""Cold-start covers forecasts: a restaurant too new to have a covers history
of its own is forecast from restaurants like it, and from its own books.

For each day of the horizon, a newcomer's forecast is built from:

* **peers**: the covers per seat (seats: the sum of its active tables'
  capacities) of restaurants with a history of their own, on that weekday,
  over each peer's last ``window_days`` of history, taken at P10/P50/P90 over
  the peers' days pooled, and times the newcomer's seats. The peers are the
  first group holding at least ``min_peers`` restaurants, in order: the same
  price tier sharing a cuisine, the same price tier, sharing a cuisine, all
  restaurants (then one is enough). Price tier comes before cuisine because
  the price says more about how often a table turns (a tasting menu turns it
  once) than the food does: an assumption, not measured here. A weekday on
  which no peer served takes all of the peers' days.
* **books**: the covers on the books for the day when the forecast is made
  (bookings not cancelled nor marked no-show, and parties already seated).
  P50 is at least what is booked: a booked table is the surest cover a new
  restaurant has. P10 is at least the booked covers less the expected
  no-shows (the restaurant's own no-show rate, shrunk toward 8 % like the
  attendance model's feature: a newcomer's is 8 %): fewer than that would
  mean more no-shows than anyone expects. P90 keeps the peers' spread above
  P50 on top of the books, since more bookings and walk-ins can still come.
* **the calendar**: a day the restaurant is closed (its weekly timetable in
  force on that date, or a closure on its special dates, as
  ``models.features.service_calendar`` reads them, like the demand features)
  has no peer demand: it forecasts 0, or only what is still booked on it.
  A restaurant without any timetable has unknown opening days (``open`` is
  null), and is forecast every day, as the trained model would.

The model learns nothing about the newcomer itself: its answer is a prior,
and the trained model (or the weekday-median baseline) takes over once the
restaurant has ``min_history_days`` of covers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from booking_core.domain import PACING_STATES
from models.features import PRIOR_NO_SHOW_RATE, PRIOR_WEIGHT, service_calendar

# Two of every weekday. With fewer recorded days, the weekday medians that
# the baseline and the trained model's weekday features rest on come from one
# day or none, and an opening week's novelty (friends and family, a review)
# would become the restaurant's profile; peers are the steadier guess.
MIN_HISTORY_DAYS = 14
# Eight of each weekday: recent enough to follow the season, long enough for
# a peer's odd night to weigh little.
PEER_WINDOW_DAYS = 56
MIN_PEERS = 3

SAME_TIER_AND_CUISINE = "same price tier and cuisine"
SAME_TIER = "same price tier"
SAME_CUISINE = "same cuisine"
ALL_RESTAURANTS = "all restaurants"
PEER_GROUPS = (SAME_TIER_AND_CUISINE, SAME_TIER, SAME_CUISINE, ALL_RESTAURANTS)

_OUT_SCHEMA = {
    "restaurant_id": pl.Int64,
    "date": pl.Date,
    "horizon": pl.Int64,
    "p10": pl.Float64,
    "p50": pl.Float64,
    "p90": pl.Float64,
    "peers": pl.String,
    "n_peers": pl.Int64,
}


@dataclass(frozen=True)
class _Profile:
    restaurant_id: int
    seats: int
    price_tier: int | None
    cuisines: frozenset[str]


class ColdStartForecaster:
    """Covers per day, P10/P50/P90, for restaurants with too little history.

    Parameters
    ----------
    horizon: days forecast from an origin (horizon 1 is the origin's day).
    min_history_days: recorded days of covers from which a restaurant is no
        newcomer (``newcomers``) and may serve as a peer.
    window_days: each peer's last days of history read.
    min_peers: restaurants a peer group needs before it is used.

    Frames (polars):

    ``history`` (``fit``)
        ``restaurant_id``, ``date``, ``covers``: one row per recorded open
        day, as ``pipelines.nightly.demand_features`` gives it.
    ``restaurants`` (``fit`` and ``predict``)
        ``restaurant_id``, ``seats``, ``price_tier``, ``cuisines`` (a list of
        strings); for ``predict`` also ``no_show_rate`` (optional, else 8 %).
        ``fit`` reads the peers' rows; ``predict`` forecasts every row given.
    ``calendar`` (``predict``, optional)
        ``restaurant_id``, ``date``, ``open`` (null: unknown, forecast).
    ``books`` (``predict``, optional)
        ``restaurant_id``, ``date``, ``booked_covers``.
    """

    def __init__(
        self,
        *,
        horizon: int = 28,
        min_history_days: int = MIN_HISTORY_DAYS,
        window_days: int = PEER_WINDOW_DAYS,
        min_peers: int = MIN_PEERS,
    ) -> None:
        self.horizon = horizon
        self.min_history_days = min_history_days
        self.window_days = window_days
        self.min_peers = min_peers

    def fit(self, history: pl.DataFrame, *, restaurants: pl.DataFrame) -> ColdStartForecaster:
        """Learn the peers' covers per seat by weekday from their history."""
        days = (
            history.filter(pl.col("covers").is_not_null())
            .group_by("restaurant_id")
            .agg(pl.len().alias("days"), pl.col("date").max().alias("last"))
        )
        self.history_days_: dict[int, int] = dict(
            zip(days["restaurant_id"].to_list(), days["days"].to_list(), strict=True)
        )
        seated = restaurants.filter(pl.col("seats") > 0)
        peers = days.filter(pl.col("days") >= self.min_history_days).join(
            seated.select("restaurant_id", "seats"), on="restaurant_id"
        )
        with_history = set(peers["restaurant_id"].to_list())
        self.peers_ = [p for p in _profiles(seated) if p.restaurant_id in with_history]
        self.rates_ = (
            history.join(peers, on="restaurant_id")
            .filter(
                pl.col("covers").is_not_null()
                & (pl.col("date") > pl.col("last") - pl.duration(days=self.window_days))
            )
            .select(
                "restaurant_id",
                (pl.col("date").dt.weekday() - 1).cast(pl.Int8).alias("weekday"),
                (pl.col("covers") / pl.col("seats")).alias("covers_per_seat"),
            )
        )
        return self

    def newcomers(self, restaurant_ids: Iterable[int]) -> list[int]:
        """Those of ``restaurant_ids`` with fewer than ``min_history_days``
        recorded days of covers in the history ``fit`` saw."""
        self._check_fitted()
        return [
            rid for rid in restaurant_ids if self.history_days_.get(rid, 0) < self.min_history_days
        ]

    def peers_for(self, price_tier: int | None, cuisines: Iterable[str]) -> tuple[str, list[int]]:
        """The peer group a restaurant of that tier and cuisines is forecast
        from: its name and its restaurants (none when no peer has history)."""
        self._check_fitted()
        mine = frozenset(cuisines)
        tests = {
            SAME_TIER_AND_CUISINE: lambda p: p.price_tier == price_tier and bool(p.cuisines & mine),
            SAME_TIER: lambda p: p.price_tier == price_tier,
            SAME_CUISINE: lambda p: bool(p.cuisines & mine),
            ALL_RESTAURANTS: lambda p: True,
        }
        for group in PEER_GROUPS:
            ids = [p.restaurant_id for p in self.peers_ if tests[group](p)]
            if len(ids) >= self.min_peers or (group == ALL_RESTAURANTS and ids):
                return group, ids
        return ALL_RESTAURANTS, []

    def predict(
        self,
        origin: date,
        *,
        restaurants: pl.DataFrame,
        calendar: pl.DataFrame | None = None,
        books: pl.DataFrame | None = None,
    ) -> pl.DataFrame:
        """Forecast days ``origin .. origin + horizon - 1`` of every restaurant
        in ``restaurants`` that has seats, when there are peers to learn from.

        Returns restaurant_id, date, horizon, p10, p50, p90 (covers), peers
        (the group's name) and n_peers.
        """
        self._check_fitted()
        dates = [origin + timedelta(days=k) for k in range(self.horizon)]
        rates = self._weekday_rates(restaurants)
        if rates.is_empty():
            return pl.DataFrame(schema=_OUT_SCHEMA)
        grid = (
            rates.select("restaurant_id")
            .unique()
            .join(pl.DataFrame({"date": dates}, schema={"date": pl.Date}), how="cross")
            .with_columns(
                ((pl.col("date") - pl.lit(origin)).dt.total_days() + 1).alias("horizon"),
                (pl.col("date").dt.weekday() - 1).cast(pl.Int8).alias("weekday"),
            )
            .join(rates, on=["restaurant_id", "weekday"], how="left")
        )
        if calendar is not None:
            grid = grid.join(
                calendar.select("restaurant_id", "date", "open"),
                on=["restaurant_id", "date"],
                how="left",
            )
        else:
            grid = grid.with_columns(pl.lit(None, pl.Boolean).alias("open"))
        if books is not None:
            grid = grid.join(
                books.select("restaurant_id", "date", "booked_covers"),
                on=["restaurant_id", "date"],
                how="left",
            )
        else:
            grid = grid.with_columns(pl.lit(0).alias("booked_covers"))
        no_shows = (
            pl.col("no_show_rate").fill_null(PRIOR_NO_SHOW_RATE)
            if "no_show_rate" in restaurants.columns
            else pl.lit(PRIOR_NO_SHOW_RATE)
        )
        attrs = restaurants.select("restaurant_id", "seats", no_shows.alias("_no_show"))
        grid = grid.join(attrs, on="restaurant_id", how="left")

        # Peer demand: covers per seat times seats, none on a closed day.
        serves = pl.col("open").fill_null(True)
        demand = {
            q: pl.when(serves).then(pl.col(f"q{q}") * pl.col("seats")).otherwise(0.0)
            for q in (10, 50, 90)
        }
        booked = pl.col("booked_covers").fill_null(0).cast(pl.Float64)
        shows = booked * (1.0 - pl.col("_no_show"))
        out = grid.with_columns(
            pl.max_horizontal(demand[50], booked).alias("p50"),
            pl.max_horizontal(demand[90], booked + demand[90] - demand[50]).alias("p90"),
            pl.max_horizontal(demand[10], shows).alias("_p10"),
        ).with_columns(pl.min_horizontal("_p10", "p50").alias("p10"))
        return out.select(
            *(pl.col(c).cast(t) for c, t in _OUT_SCHEMA.items()),
        ).sort("restaurant_id", "date")

    # ------------------------------------------------------------ helpers

    def _weekday_rates(self, restaurants: pl.DataFrame) -> pl.DataFrame:
        """Per restaurant and weekday, the peers' covers per seat at P10, P50
        and P90 (``q10``, ``q50``, ``q90``), with the group's name."""
        parts: list[pl.DataFrame] = []
        weekdays = pl.DataFrame({"weekday": list(range(7))}, schema={"weekday": pl.Int8})
        for newcomer in _profiles(restaurants.filter(pl.col("seats") > 0)):
            group, ids = self.peers_for(newcomer.price_tier, newcomer.cuisines)
            rows = self.rates_.filter(pl.col("restaurant_id").is_in(ids))
            if rows.is_empty():
                continue
            by_day = rows.group_by("weekday").agg(_quantiles())
            every_day = rows.select(_quantiles())
            filled = (
                weekdays.join(by_day, on="weekday", how="left")
                .join(every_day.rename(lambda c: f"{c}_all"), how="cross")
                .select(
                    "weekday",
                    *(pl.coalesce(f"q{q}", f"q{q}_all").alias(f"q{q}") for q in (10, 50, 90)),
                )
            )
            parts.append(
                filled.with_columns(
                    pl.lit(newcomer.restaurant_id, pl.Int64).alias("restaurant_id"),
                    pl.lit(group).alias("peers"),
                    pl.lit(len(ids), pl.Int64).alias("n_peers"),
                )
            )
        if not parts:
            return pl.DataFrame()
        return pl.concat(parts)

    def _check_fitted(self) -> None:
        if not hasattr(self, "rates_"):
            raise ValueError("ColdStartForecaster is not fitted: call fit first")


def _quantiles() -> Sequence[pl.Expr]:
    return [
        pl.col("covers_per_seat").quantile(q / 100, interpolation="linear").alias(f"q{q}")
        for q in (10, 50, 90)
    ]


def _profiles(restaurants: pl.DataFrame) -> list[_Profile]:
    return [
        _Profile(
            int(row["restaurant_id"]),
            int(row["seats"]),
            None if row["price_tier"] is None else int(row["price_tier"]),
            frozenset(row["cuisines"] or ()),
        )
        for row in restaurants.iter_rows(named=True)
    ]


@dataclass(frozen=True)
class ColdStartInputs:
    """What ``ColdStartForecaster`` reads of the ledger besides the history."""

    restaurants: pl.DataFrame  # restaurant_id, seats, price_tier, cuisines, no_show_rate
    calendar: pl.DataFrame  # restaurant_id, date, open
    books: pl.DataFrame  # restaurant_id, date, booked_covers


def cold_start_inputs(
    frames: Mapping[str, pl.DataFrame], origin: date, *, horizon: int
) -> ColdStartInputs:
    """Restaurants' seats, tiers, cuisines and no-show rates, their calendar
    over the horizon, and the covers on the books for it as the frames stand
    (``frames`` needs ``restaurants``, ``dining_tables`` and
    ``reservations``; ``service_periods``, ``special_dates`` and
    ``holidays`` when the ledger has them)."""
    restaurants = frames["restaurants"]
    seats = (
        frames["dining_tables"]
        .filter(pl.col("active"))
        .group_by("restaurant_id")
        .agg(pl.col("max_covers").sum().cast(pl.Int64).alias("seats"))
    )
    reservations = frames["reservations"]
    booked = pl.col("channel") != "walk_in"
    due = booked & pl.col("cancelled_at").is_null()
    outcomes = (
        reservations.filter(
            due & (pl.col("no_show_at").is_not_null() | pl.col("completed_at").is_not_null())
        )
        .group_by("restaurant_id")
        .agg(pl.len().alias("_due"), pl.col("no_show_at").is_not_null().sum().alias("_no_shows"))
    )
    profile = (
        restaurants.select(
            pl.col("id").cast(pl.Int64).alias("restaurant_id"),
            "price_tier",
            pl.col("cuisines").str.json_decode(pl.List(pl.String)),
        )
        .join(seats, on="restaurant_id", how="left")
        .join(outcomes, on="restaurant_id", how="left")
        .with_columns(
            pl.col("seats").fill_null(0),
            (
                (pl.col("_no_shows").fill_null(0) + PRIOR_NO_SHOW_RATE * PRIOR_WEIGHT)
                / (pl.col("_due").fill_null(0) + PRIOR_WEIGHT)
            ).alias("no_show_rate"),
        )
        .drop("_due", "_no_shows")
    )
    end = origin + timedelta(days=horizon)
    days = pl.DataFrame(
        {"service_date": pl.date_range(origin, end - timedelta(days=1), eager=True)}
    )
    calendar = service_calendar(
        profile.select("restaurant_id").join(days, how="cross"), frames
    ).select("restaurant_id", pl.col("service_date").alias("date"), "open")
    states = [s.value for s in PACING_STATES]
    books = (
        reservations.filter(
            pl.col("state").is_in(states)
            & (pl.col("service_date") >= origin)
            & (pl.col("service_date") < end)
        )
        .group_by("restaurant_id", pl.col("service_date").alias("date"))
        .agg(pl.col("party_size").sum().cast(pl.Int64).alias("booked_covers"))
    )
    return ColdStartInputs(profile, calendar, books)


__all__ = [
    "ALL_RESTAURANTS",
    "MIN_HISTORY_DAYS",
    "PEER_GROUPS",
    "SAME_CUISINE",
    "SAME_TIER",
    "SAME_TIER_AND_CUISINE",
    "ColdStartForecaster",
    "ColdStartInputs",
    "cold_start_inputs",
]
