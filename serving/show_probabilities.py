"""Show probabilities for the booking core's predictive overbooking: the
attendance model's (the champion, else the documented baseline) as
``1 - risk``, for the booked parties a pooled policy asks about. The
optimizer never imports serving, so the application hands this over when it
plugs the pooled policy in (``serving.app``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from optimizer.pooled_policy import ShowProbabilities
from serving.attendance import AttendanceScorer
from serving.champions import ATTENDANCE, Champions


def attendance_show_probabilities(
    scorer: AttendanceScorer, champions: Champions
) -> ShowProbabilities:
    def show_probabilities(ids: Sequence[int], now: datetime | None) -> Mapping[int, float]:
        # Asked from inside a booking's transaction: a party booked earlier in
        # that same (group) transaction is not visible yet, so it is left out
        # and taken to come, which only makes overbooking more cautious.
        return scorer.show_probabilities(ids, champions.get(ATTENDANCE), now)

    return show_probabilities


__all__ = ["attendance_show_probabilities"]
