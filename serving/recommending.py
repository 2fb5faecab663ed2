"""Where recommendations come from: the nightly flow's registered
``restaurant_recommender`` champion (``models.recommend.Recommender``) when
one is loaded, else the documented baseline below (labelled as such).

Either way the hard constraint holds: with a date and party size, only
restaurants the booking core can seat then (``booking_core.availability``),
within half an hour of the time asked for (any time that day without one),
each with the bookable time nearest it.

Baseline: the restaurants most booked in the last 90 days that the diner
has not been to, best rated first among equals. The API does not fit a
recommender itself: fitting embeds the whole catalogue (the MiniLM model
loads in ~10 s) and each worker would fit its own; the nightly flow fits,
judges it against the champion on NDCG@10 and registers it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request

from booking_core.availability import find_times
from booking_core.errors import BookingError
from booking_core.ledger import Ledger
from booking_core.schema import reservations, restaurants
from models.recommend import DiningContext
from models.recommend_data import bookable_at
from serving.champions import RECOMMENDER, Champions, Loaded

BASELINE = "popular restaurants the diner has not visited (90 days)"
WINDOW = timedelta(days=90)
TIME_WINDOW_MIN = 30  # "19:30" also finds 19:00 to 20:00, as models.recommend_data does
log = logging.getLogger("servicesphere.recommendations")


@dataclass(frozen=True)
class Suggested:
    restaurant_id: int
    name: str
    score: float
    reason: str
    time: str | None = None


def bookable_check(
    ledger: Ledger,
    local_date: date,
    local_time: time | None,
    party_size: int,
    now: datetime,
) -> Callable[[int], str | None]:
    """Restaurant id -> the bookable local time for the party (nearest the
    time asked for, within ``TIME_WINDOW_MIN`` either way; without a time,
    the first of the day), or None when the booking core cannot seat it."""
    if local_time is not None:
        return bookable_at(
            ledger,
            local_date,
            local_time.strftime("%H:%M"),
            party_size,
            window_min=TIME_WINDOW_MIN,
            now=now,
        )

    def first_time(restaurant_id: int) -> str | None:
        try:
            times = find_times(ledger, int(restaurant_id), local_date, party_size, now=now)
        except BookingError:
            return None
        return times[0].local_time if times else None

    return first_time


class PopularityBaseline:
    name = "baseline"
    version: str | None = None
    description: str | None = BASELINE

    def recommend(
        self,
        ledger: Ledger,
        diner_id: int,
        *,
        k: int,
        local_date: date | None,
        local_time: time | None,
        party_size: int | None,
        now: datetime,
    ) -> list[Suggested]:
        r = reservations
        with ledger.read() as conn:
            visited = set(
                conn.execute(sa.select(r.c.restaurant_id).where(r.c.diner_id == diner_id)).scalars()
            )
            popular = conn.execute(
                sa.select(
                    restaurants.c.id,
                    restaurants.c.name,
                    restaurants.c.rating,
                    sa.func.count(r.c.id).label("bookings"),
                )
                .select_from(
                    restaurants.outerjoin(
                        r,
                        sa.and_(
                            r.c.restaurant_id == restaurants.c.id, r.c.booked_at >= now - WINDOW
                        ),
                    )
                )
                .group_by(restaurants.c.id, restaurants.c.name, restaurants.c.rating)
                .order_by(sa.desc("bookings"), restaurants.c.rating.desc(), restaurants.c.id)
            ).all()
        check = (
            bookable_check(ledger, local_date, local_time, party_size, now)
            if local_date is not None and party_size is not None
            else None
        )
        out: list[Suggested] = []
        for row in popular:
            if row.id in visited:
                continue
            offered: str | None = None
            if check is not None:
                offered = check(row.id)
                if offered is None:
                    continue
            out.append(
                Suggested(
                    row.id,
                    row.name,
                    float(row.bookings),
                    f"popular: {row.bookings} bookings in the last 90 days",
                    offered,
                )
            )
            if len(out) >= k:
                break
        return out


class ChampionRecommender:
    """The registered recommender, with the ledger's availability as its
    ``bookable`` constraint and the reasons it gives."""

    def __init__(self, champion: Loaded) -> None:
        self.model = champion.estimator
        self.name = RECOMMENDER
        self.version: str | None = champion.version
        self.description: str | None = None

    def recommend(
        self,
        ledger: Ledger,
        diner_id: int,
        *,
        k: int,
        local_date: date | None,
        local_time: time | None,
        party_size: int | None,
        now: datetime,
    ) -> list[Suggested]:
        offered: dict[Any, str] = {}
        bookable: Callable[[Any], str | None] | None = None
        if local_date is not None and party_size is not None:
            check = bookable_check(ledger, local_date, local_time, party_size, now)

            def bookable(item: Any) -> str | None:
                found = check(int(item))
                if found is not None:
                    offered[item] = found
                return found

        context = DiningContext(
            party_size=party_size,
            time=local_time.strftime("%H:%M") if local_time is not None else None,
            bookable=bookable,
        )
        try:
            picked = self.model.recommend(diner_id, k=k, context=context)
        except Exception:  # a champion that cannot answer: the baseline does, and says so
            log.exception("recommender failed", extra={"version": self.version})
            baseline = PopularityBaseline()
            self.name, self.version, self.description = "baseline", None, baseline.description
            return baseline.recommend(
                ledger,
                diner_id,
                k=k,
                local_date=local_date,
                local_time=local_time,
                party_size=party_size,
                now=now,
            )
        return [
            Suggested(int(r.item), r.name, float(r.score), r.reason, offered.get(r.item))
            for r in picked
        ]


RecommendationSource = PopularityBaseline | ChampionRecommender


def recommendation_source(champions: Champions) -> RecommendationSource:
    """The champion when one is loaded and is our recommender, else the baseline."""
    champion = champions.get(RECOMMENDER)
    if champion is not None and hasattr(champion.estimator, "recommend"):
        return ChampionRecommender(champion)
    return PopularityBaseline()


def get_recommendation_source(request: Request) -> RecommendationSource:
    return recommendation_source(request.app.state.champions)


RecommendationSourceDep = Annotated[RecommendationSource, Depends(get_recommendation_source)]

__all__ = [
    "BASELINE",
    "ChampionRecommender",
    "PopularityBaseline",
    "RecommendationSource",
    "RecommendationSourceDep",
    "Suggested",
    "bookable_check",
    "recommendation_source",
]
