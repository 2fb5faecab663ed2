"""Show probabilities for the booking core's predictive overbooking: the
attendance model's (the champion, else the documented baseline) as
``1 - risk``, for the booked parties a pooled policy asks about. The
optimizer never imports serving, so the application hands this over when it
plugs the pooled policy in (``serving.app``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa

from booking_core.domain import Channel
from booking_core.ledger import Ledger
from booking_core.schema import reservations
from optimizer.pooled_policy import ShowProbabilities
from serving.attendance import AttendanceScorer
from serving.champions import ATTENDANCE, Champions


def attendance_show_probabilities(
    ledger: Ledger, scorer: AttendanceScorer, champions: Champions
) -> ShowProbabilities:
    def show_probabilities(ids: Sequence[int], now: datetime | None) -> Mapping[int, float]:
        if not ids:
            return {}
        # Asked from inside a booking's transaction: a party booked earlier in
        # that same (group) transaction is not visible yet, so it is left out
        # and taken to come, which only makes overbooking more cautious.
        with ledger.read() as conn:
            visible = set(
                conn.execute(
                    sa.select(reservations.c.id).where(
                        reservations.c.id.in_(list(ids)),
                        reservations.c.channel != Channel.WALK_IN.value,
                    )
                ).scalars()
            )
        asked = [i for i in ids if i in visible]
        risks = scorer.score_many(asked, champions.get(ATTENDANCE), now)
        return {r.reservation_id: min(1.0, max(0.0, 1.0 - r.probability)) for r in risks}

    return show_probabilities


__all__ = ["attendance_show_probabilities"]
