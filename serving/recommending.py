"""Where recommendations come from: the recommender when it is installed
and fitted, else the documented baseline below (labelled as such).

Baseline: the restaurants most booked in the last 90 days that the diner
has not been to, best rated first among equals; with a date and party
size, only those that can seat the party then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends

from booking_core.availability import find_times
from booking_core.errors import BookingError
from booking_core.ledger import Ledger
from booking_core.schema import reservations, restaurants

BASELINE = "popular restaurants the diner has not visited (90 days)"
WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class Suggested:
    restaurant_id: int
    name: str
    score: float
    reason: str
    time: str | None = None


class RecommendationSource:
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
        out: list[Suggested] = []
        for row in popular:
            if row.id in visited:
                continue
            offered: str | None = None
            if local_date is not None and party_size is not None:
                try:
                    times = find_times(ledger, row.id, local_date, party_size, now=now)
                except BookingError:
                    continue
                if local_time is not None:
                    wish = local_time.hour * 60 + local_time.minute
                    times = sorted(
                        times,
                        key=lambda t: abs(
                            int(t.local_time[:2]) * 60 + int(t.local_time[3:]) - wish
                        ),
                    )
                if not times:
                    continue
                offered = times[0].local_time
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


_source: RecommendationSource = RecommendationSource()


def get_recommendation_source() -> RecommendationSource:
    return _source


RecommendationSourceDep = Annotated[RecommendationSource, Depends(get_recommendation_source)]
