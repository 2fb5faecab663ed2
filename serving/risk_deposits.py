"""Risk-based deposits, the application's half: a booking at a restaurant
that asks deposits by risk is scored as it is made, and the booking core
decides on that score (``booking_core.deposits.reason_to_ask``).

The score is the attendance model's champion (else its documented
baseline), on the row the trainer builds for the booking, with no deposit
asked: the risk a deposit would lower, not the risk under the deposit it
might get. A booking must never fail because a model did: a champion that
fails to score falls back to the baseline, and a request the core will
refuse anyway (an unknown day, say) is passed on unscored so the core's own
message answers it.

With the score goes a number drawn uniformly from [0, 1): the core leaves a
booking over the threshold without a deposit, in the restaurant's control
group, when the draw falls below its ``deposit_risk_control_share``.

Whether the restaurant asks by risk is read from the floor this worker has
cached (refreshed by every booking the core takes there), so the common
case, a restaurant that does not, costs no query; right after a manager
turns it on, the next booking in a worker may go unscored while its cache
catches up.
"""

from __future__ import annotations

import logging
import random
from dataclasses import replace
from datetime import datetime

from booking_core.availability import get_floor
from booking_core.deposits import NoShowRisk
from booking_core.domain import Channel
from booking_core.errors import InvalidRequest
from booking_core.floor import Floor
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest
from serving.attendance import BASELINE_NAME, AttendanceScorer, Risk
from serving.champions import ATTENDANCE, Champions, Loaded

log = logging.getLogger(__name__)
BASELINE_LABEL = f"baseline ({BASELINE_NAME})"
# The control group's draws: not a secret, only uniform (a test may seed it).
_DRAWS = random.Random()


def _floor(ledger: Ledger, restaurant_id: int) -> Floor:
    cached: Floor | None = ledger.cache("floors").get(restaurant_id)
    if cached is not None:
        return cached
    with ledger.read() as conn:
        return get_floor(ledger, conn, restaurant_id)


def risk_label(champion: Loaded | None) -> str:
    """What a booking's risk records as its model: the champion's name and
    version, or the baseline."""
    return BASELINE_LABEL if champion is None else champion.label


def may_ask_by_risk(ledger: Ledger, request: BookingRequest) -> bool:
    """False when the request is surely not scored (a walk-in, or a
    restaurant whose cached floor asks no deposit by risk): decided without
    I/O, so the common booking skips the thread pool; True when it may be
    (``with_no_show_risk`` then reads the floor if it was not cached)."""
    if str(request.channel) == Channel.WALK_IN.value:
        return False
    cached: Floor | None = ledger.cache("floors").get(request.restaurant_id)
    return cached is None or cached.deposit_risk_threshold is not None


def with_no_show_risk(
    ledger: Ledger,
    scorer: AttendanceScorer,
    champions: Champions,
    request: BookingRequest,
    now: datetime,
) -> BookingRequest:
    """``request`` with its no-show risk when its restaurant asks deposits by
    risk; unchanged otherwise (walk-ins are never scored)."""
    if not may_ask_by_risk(ledger, request):
        return request
    if _floor(ledger, request.restaurant_id).deposit_risk_threshold is None:
        return request
    champion = champions.get(ATTENDANCE)
    risk: Risk
    try:
        risk = scorer.score_request(request, champion, now)
    except InvalidRequest:
        return request  # the booking core refuses it in its own words
    except Exception:
        if champion is None:
            log.exception("no-show baseline failed; booking unscored")
            return request
        log.exception("attendance champion failed to score a booking; the baseline scores it")
        risk = scorer.score_request(request, None, now)
    label = risk_label(champion if risk.source == "champion" else None)
    probability = min(1.0, max(0.0, float(risk.probability)))
    return replace(request, no_show_risk=NoShowRisk(probability, label, _DRAWS.random()))


__all__ = ["BASELINE_LABEL", "may_ask_by_risk", "risk_label", "with_no_show_risk"]
