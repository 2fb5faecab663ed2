"""Attendance risk of one reservation, now: the live feature row and its score.

The row has the columns the nightly flow trains on (``models.features.
attendance_frame`` at the booking cut-off), computed with a few indexed
queries instead of a scan of the ledger, from everything known now: a
booking scored the moment it is made gets the row the trainer builds for it,
column by column (``tests/serving/test_attendance_features.py`` replays a
ledger and holds the two together; floats agree to 1e-12 relative). Scored
later, the row is the booking as it stands now (start, party) with the
histories known now, while ``cutoff_at`` and ``lead_hours`` stay those of
the booking. The restaurant's shrunk no-show rate changes slowly and is
cached for one minute of ledger time, so outcomes recorded in the minute
before a booking may be missing from its rate.

Without a champion, the documented baseline answers: the diner's own
no-show record shrunk toward the restaurant's rate,
``(diner no-shows + rate * 5) / (diner past bookings + 5)``, where the
restaurant's rate is itself shrunk toward 8 % as in the features.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import sqlalchemy as sa

from booking_core.domain import LATE_CANCEL_WINDOW
from booking_core.errors import InvalidRequest, UnknownReservation, UnknownRestaurant
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest
from booking_core.schema import reservations, restaurants
from booking_core.validation import parse_date, parse_time
from models.features import PRIOR_NO_SHOW_RATE, PRIOR_WEIGHT
from models.tracking import to_pandas_input
from serving.champions import Loaded

BASELINE_NAME = "diner record shrunk toward the restaurant's no-show rate"
BASELINE_WEIGHT = 5.0
RATE_TTL = timedelta(minutes=1)

_r = reservations
_RESERVATION = sa.select(
    _r.c.id,
    _r.c.restaurant_id,
    _r.c.diner_id,
    _r.c.booked_at,
    _r.c.start_at,
    _r.c.party_size,
    _r.c.channel,
    _r.c.deposit_required,
    _r.c.special_requests,
    restaurants.c.price_tier,
    restaurants.c.cuisines,
    restaurants.c.timezone,
).join(restaurants, restaurants.c.id == _r.c.restaurant_id)

_BOOKED = _r.c.channel != "walk_in"
# A diner has tens of past bookings, not thousands: counted in Python, which
# keeps interval arithmetic out of dialect-specific SQL.
_DINER_HISTORY = sa.select(_r.c.start_at, _r.c.no_show_at, _r.c.cancelled_at).where(
    _r.c.diner_id == sa.bindparam("diner_id"),
    _r.c.id != sa.bindparam("reservation_id"),
    _BOOKED,
    sa.or_(
        _r.c.no_show_at <= sa.bindparam("now"),
        _r.c.cancelled_at <= sa.bindparam("now"),
        _r.c.completed_at <= sa.bindparam("now"),
    ),
)
# The same rule for the diners of a whole service at once (each booking's
# own row is left out in Python).
_DINERS_HISTORY = sa.select(
    _r.c.id, _r.c.diner_id, _r.c.start_at, _r.c.no_show_at, _r.c.cancelled_at, _r.c.completed_at
).where(
    _r.c.diner_id.in_(sa.bindparam("diner_ids", expanding=True)),
    _BOOKED,
    sa.or_(
        _r.c.no_show_at <= sa.bindparam("now"),
        _r.c.cancelled_at <= sa.bindparam("now"),
        _r.c.completed_at <= sa.bindparam("now"),
    ),
)
_RESTAURANT_OUTCOMES = sa.select(
    sa.func.count(_r.c.no_show_at).label("no_shows"),
    sa.func.count().label("due"),
).where(
    _r.c.restaurant_id == sa.bindparam("restaurant_id"),
    _BOOKED,
    _r.c.cancelled_at.is_(None),
    sa.or_(_r.c.no_show_at <= sa.bindparam("now"), _r.c.completed_at <= sa.bindparam("now")),
)


UTC_US = pl.Datetime("us", "UTC")
# The trainer's columns and types (``models.features.attendance_frame``, labels aside).
FEATURE_SCHEMA = pl.Schema(
    [
        ("reservation_id", pl.Int64()),
        ("restaurant_id", pl.Int64()),
        ("diner_id", pl.Int64()),
        ("booked_at", UTC_US),
        ("start_at", UTC_US),
        ("cutoff_at", UTC_US),
        ("party_size", pl.Int64()),
        ("channel", pl.String()),
        ("deposit_required", pl.Boolean()),
        ("special_requests", pl.String()),
        ("lead_hours", pl.Float64()),
        ("local_hour", pl.Int8()),
        ("weekday", pl.Int8()),
        ("price_tier", pl.Int64()),
        ("cuisine", pl.String()),
        ("diner_prior_bookings", pl.Int64()),
        ("diner_prior_no_shows", pl.Int64()),
        ("diner_prior_cancellations", pl.Int64()),
        ("diner_prior_late_cancellations", pl.Int64()),
        ("restaurant_prior_no_show_rate", pl.Float64()),
    ]
)


@dataclass(frozen=True)
class Risk:
    reservation_id: int
    probability: float
    reasons: list[tuple[str, float]]
    model: str
    model_version: str | None
    source: str  # "champion" or "baseline"


class AttendanceScorer:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._rates: dict[int, tuple[float, datetime]] = {}
        self._lock = threading.Lock()

    def features(self, reservation_id: int, now: datetime | None = None) -> pl.DataFrame:
        """One row, the trainer's columns (labels aside), as known at ``now``."""
        now = now or self.ledger.clock()
        with self.ledger.read() as conn:
            row = conn.execute(_RESERVATION.where(_r.c.id == reservation_id)).first()
            if row is None:
                raise UnknownReservation(f"There is no reservation with id {reservation_id}.")
            if row.channel == "walk_in":
                raise InvalidRequest("A walk-in is already here: it has no attendance risk.")
            history, rate = self._known(conn, row.restaurant_id, row.diner_id, reservation_id, now)
        # From a row with the whole schema given: a tenth of the cost of
        # building it column by column and casting (this runs per request).
        return pl.from_dicts([_values(row, history, rate)], schema=FEATURE_SCHEMA)

    def features_many(
        self,
        reservation_ids: Sequence[int],
        now: datetime | None = None,
        *,
        skip_unknown: bool = False,
    ) -> pl.DataFrame:
        """The rows of many bookings at once, in the order asked, as ``features``
        builds each (the same values): three queries for a whole service
        instead of three per party. Walk-ins have no risk and are refused, as
        are unknown ids, unless ``skip_unknown``: then both are left out (a
        caller inside a booking's transaction may ask about a party that
        transaction has not committed yet)."""
        now = now or self.ledger.clock()
        ids = list(dict.fromkeys(reservation_ids))
        if not ids:
            return pl.DataFrame(schema=FEATURE_SCHEMA)
        with self.ledger.read() as conn:
            ids, found = _booked(conn, ids, skip_unknown=skip_unknown)
            past_by_diner = _diners_pasts(conn, found.values(), now)
            rates = {
                rid: self._restaurant_rate(conn, rid, now)
                for rid in sorted({r.restaurant_id for r in found.values()})
            }
        rows = []
        for i in ids:
            row = found[i]
            history = None
            if row.diner_id is not None:
                history = _counts([p for p in past_by_diner[row.diner_id] if p.id != i])
            rows.append(_values(row, history, rates[row.restaurant_id]))
        return pl.from_dicts(rows, schema=FEATURE_SCHEMA)

    def features_at_booking(self, reservation_ids: Sequence[int]) -> pl.DataFrame:
        """The rows of bookings as each was known the moment it was made: the
        diner's history and the restaurant's rate as of its ``booked_at``
        (not the minute-cached rate: the exact count the trainer makes), for
        weighing a policy on past bookings without reading what came after
        them. The booking itself is as it stands now: a party size or a time
        changed since booking is the changed one. Refuses walk-ins and
        unknown ids as ``features_many`` does.

        Reads each diner's finished bookings and each restaurant's outcomes
        up to the latest booking once, then counts per booking in Python
        (a sorted search per restaurant): four queries for any number."""
        ids = list(dict.fromkeys(reservation_ids))
        if not ids:
            return pl.DataFrame(schema=FEATURE_SCHEMA)
        with self.ledger.read() as conn:
            ids, found = _booked(conn, ids, skip_unknown=False)
            latest = max(row.booked_at for row in found.values())
            past_by_diner = _diners_pasts(conn, found.values(), latest)
            rates = {
                rid: _RateHistory.read(conn, rid, latest)
                for rid in sorted({r.restaurant_id for r in found.values()})
            }
        histories = {d: _DinerHistory.of(past) for d, past in past_by_diner.items()}
        rows = []
        for i in ids:
            row = found[i]
            at = row.booked_at
            history = None
            if row.diner_id is not None:
                history = histories[row.diner_id].at(at, leave_out=i)
            rows.append(_values(row, history, rates[row.restaurant_id].at(at)))
        return pl.from_dicts(rows, schema=FEATURE_SCHEMA)

    def request_features(self, request: BookingRequest, now: datetime) -> pl.DataFrame:
        """The row of a booking not made yet, as ``features`` would build it
        the moment it is made (``reservation_id`` 0), with no deposit asked:
        the risk a deposit asked by risk is decided on. Refuses, as the
        booking core would, a request naming no restaurant or no valid day."""
        day = parse_date(request.local_date)
        at = parse_time(request.local_time)
        with self.ledger.read() as conn:
            place = conn.execute(
                sa.select(
                    restaurants.c.price_tier, restaurants.c.cuisines, restaurants.c.timezone
                ).where(restaurants.c.id == request.restaurant_id)
            ).first()
            if place is None:
                raise UnknownRestaurant(f"There is no restaurant with id {request.restaurant_id}.")
            history, rate = self._known(conn, request.restaurant_id, request.diner_id, 0, now)
        start = datetime.combine(day, at, ZoneInfo(place.timezone)).astimezone(UTC)
        row = SimpleNamespace(
            id=0,
            restaurant_id=request.restaurant_id,
            diner_id=request.diner_id,
            booked_at=now,
            start_at=start,
            party_size=request.party_size,
            channel=str(request.channel),
            deposit_required=False,
            special_requests=request.special_requests,
            price_tier=place.price_tier,
            cuisines=place.cuisines,
            timezone=place.timezone,
        )
        return pl.from_dicts([_values(row, history, rate)], schema=FEATURE_SCHEMA)

    def score_request(
        self, request: BookingRequest, champion: Loaded | None, now: datetime
    ) -> Risk:
        """The risk of a booking about to be made, as if no deposit were asked."""
        return _scored(self.request_features(request, now), champion)[0]

    def _known(
        self,
        conn: sa.Connection,
        restaurant_id: int,
        diner_id: int | None,
        reservation_id: int,
        now: datetime,
    ) -> tuple[tuple[int, int, int, int] | None, float]:
        """The diner's history (other than this booking) and the restaurant's
        rate, as known at ``now``: what one booking's row reads."""
        history = None
        if diner_id is not None:
            params = {"diner_id": diner_id, "reservation_id": reservation_id, "now": now}
            history = _counts(conn.execute(_DINER_HISTORY, params).all())
        return history, self._restaurant_rate(conn, restaurant_id, now)

    def restaurant_rate(self, restaurant_id: int, now: datetime | None = None) -> float:
        """The restaurant's no-show rate, shrunk toward 8 % (the feature's value)."""
        now = now or self.ledger.clock()
        cached = self._cached_rate(restaurant_id, now)
        if cached is not None:  # no connection for what scoring just counted
            return cached
        with self.ledger.read() as conn:
            return self._restaurant_rate(conn, restaurant_id, now)

    def _cached_rate(self, restaurant_id: int, now: datetime) -> float | None:
        cached = self._rates.get(restaurant_id)
        if cached is not None and timedelta(0) <= now - cached[1] < RATE_TTL:
            return cached[0]
        return None

    def _restaurant_rate(self, conn: sa.Connection, restaurant_id: int, now: datetime) -> float:
        # The cache's minute is on the ledger's clock, not the wall's: a rate
        # counted at one ``now`` serves only the minute of ledger time after
        # it (a replay, a simulation or a scoring "as of" an earlier moment
        # gets its own count; on a live ledger the two clocks are the same).
        cached = self._cached_rate(restaurant_id, now)
        if cached is not None:
            return cached
        counts = conn.execute(_RESTAURANT_OUTCOMES, {"restaurant_id": restaurant_id, "now": now})
        rate = _shrunk_rate(*counts.one())
        with self._lock:
            self._rates[restaurant_id] = (rate, now)
        return rate

    def score(
        self, reservation_id: int, champion: Loaded | None, now: datetime | None = None
    ) -> Risk:
        return _scored(self.features(reservation_id, now), champion)[0]

    def score_many(
        self, reservation_ids: Sequence[int], champion: Loaded | None, now: datetime | None = None
    ) -> list[Risk]:
        """Risks of many bookings, in the order asked: one feature read and one
        model call for the lot (a service's plan, a manager's day list)."""
        return _scored(self.features_many(reservation_ids, now), champion)

    def show_probabilities(
        self, reservation_ids: Sequence[int], champion: Loaded | None, now: datetime | None = None
    ) -> dict[int, float]:
        """1 - risk per booking, for the optimizer (seating plans, overbooking);
        ids unknown to the ledger, or walk-ins, are left out."""
        rows = self.features_many(reservation_ids, now, skip_unknown=True)
        return {
            r.reservation_id: min(1.0, max(0.0, 1.0 - r.probability))
            for r in _scored(rows, champion)
        }


def _scored(rows: pl.DataFrame, champion: Loaded | None) -> list[Risk]:
    """Scores and reasons for feature rows, by the champion or the baseline."""
    if rows.height == 0:
        return []
    ids = rows["reservation_id"].to_list()
    if champion is None:
        return [_baseline(rows.slice(k, 1)) for k in range(rows.height)]
    model = champion.estimator
    reasons: list[list[tuple[str, float]]]
    if model is not None and hasattr(model, "explain"):  # one pass: scores and reasons
        probabilities, explained = model.explain(rows, top=3)
        reasons = [[(text, float(w)) for text, w in mine] for mine in explained]
    elif model is not None and hasattr(model, "reasons"):  # an estimator without explain
        probabilities = model.predict_proba(rows)[:, 1]
        reasons = [[(text, float(w)) for text, w in mine] for mine in model.reasons(rows, top=3)]
    else:
        probabilities = champion.pyfunc.predict(to_pandas_input(rows))
        reasons = [[] for _ in ids]
    return [
        Risk(rid, float(p), why, champion.name, champion.version, "champion")
        for rid, p, why in zip(ids, probabilities, reasons, strict=True)
    ]


def _booked(
    conn: sa.Connection, ids: list[int], *, skip_unknown: bool
) -> tuple[list[int], dict[int, Any]]:
    """The reservation rows of ``ids``, refusing unknown ids and walk-ins
    (or, with ``skip_unknown``, leaving both out of the ids returned)."""
    found = {}
    for chunk in _chunks(ids):
        found.update({row.id: row for row in conn.execute(_RESERVATION.where(_r.c.id.in_(chunk)))})
    if skip_unknown:
        ids = [i for i in ids if i in found and found[i].channel != "walk_in"]
    missing = [i for i in ids if i not in found]
    if missing:
        raise UnknownReservation(f"There is no reservation with id {missing[0]}.")
    walk_ins = [i for i in ids if found[i].channel == "walk_in"]
    if walk_ins:
        raise InvalidRequest(
            f"Reservation {walk_ins[0]} is a walk-in, already here: it has no attendance risk."
        )
    return ids, found


def _diners_pasts(
    conn: sa.Connection, bookings: Iterable[Any], now: datetime
) -> dict[int, list[Any]]:
    """Each booking diner's bookings ended by ``now`` (``_DINERS_HISTORY``)."""
    diners = sorted({r.diner_id for r in bookings if r.diner_id is not None})
    pasts: dict[int, list[Any]] = {d: [] for d in diners}
    for chunk in _chunks(diners):
        for p in conn.execute(_DINERS_HISTORY, {"diner_ids": chunk, "now": now}):
            pasts[p.diner_id].append(p)
    return pasts


def _ended_at(*times: datetime | None) -> datetime:
    """When a booking ended: the first of its ending times recorded."""
    return min(t for t in times if t is not None)


def _chunks(values: Sequence[int], size: int = 900) -> list[list[int]]:
    """Slices of ``values`` short enough for any database's bound-parameter limit."""
    return [list(values[k : k + size]) for k in range(0, len(values), size)]


@dataclass(frozen=True)
class _DinerHistory:
    """A diner's finished bookings in the order they ended, with running
    counts, for ``_counts`` as of any moment (``_DINER_HISTORY``'s rule: a
    booking counts once it ended, by a no-show, a cancellation or a
    completion) in a sorted search rather than a pass over them all."""

    ended: list[datetime]  # sorted
    running: list[tuple[int, int, int, int]]  # the counts of the first k, k = 0..n
    own: dict[int, tuple[datetime, tuple[int, int, int, int]]]  # id: when it ended, its counts

    @classmethod
    def of(cls, past: Sequence[Any]) -> _DinerHistory:
        ended = ((_ended_at(p.no_show_at, p.cancelled_at, p.completed_at), p) for p in past)
        ordered = sorted(ended, key=lambda pair: pair[0])
        n = ns = cx = late = 0
        running = [(n, ns, cx, late)]
        own = {}
        for when, p in ordered:
            mine = _counts([p])
            n, ns, cx, late = n + 1, ns + mine[1], cx + mine[2], late + mine[3]
            running.append((n, ns, cx, late))
            own[p.id] = (when, mine)
        return cls([when for when, _ in ordered], running, own)

    def at(self, moment: datetime, *, leave_out: int) -> tuple[int, int, int, int]:
        """The counts of the bookings ended by ``moment``, ``leave_out`` aside."""
        counts = self.running[bisect.bisect_right(self.ended, moment)]
        ended, mine = self.own.get(leave_out, (None, None))
        if ended is None or mine is None or ended > moment:
            return counts
        n, ns, cx, late = (a - b for a, b in zip(counts, mine, strict=True))
        return n, ns, cx, late


_RESTAURANT_OUTCOME_TIMES = sa.select(_r.c.no_show_at, _r.c.completed_at).where(
    _r.c.restaurant_id == sa.bindparam("restaurant_id"),
    _BOOKED,
    _r.c.cancelled_at.is_(None),
    sa.or_(_r.c.no_show_at <= sa.bindparam("now"), _r.c.completed_at <= sa.bindparam("now")),
)


@dataclass(frozen=True)
class _RateHistory:
    """A restaurant's outcomes over time, for its shrunk no-show rate as of
    any moment (``_RESTAURANT_OUTCOMES``'s count, at each booking's time)."""

    no_shows: list[datetime]  # sorted
    due: list[datetime]  # sorted: when each booking's outcome was recorded

    @classmethod
    def read(cls, conn: sa.Connection, restaurant_id: int, now: datetime) -> _RateHistory:
        rows = conn.execute(
            _RESTAURANT_OUTCOME_TIMES, {"restaurant_id": restaurant_id, "now": now}
        ).all()
        return cls(
            no_shows=sorted(r.no_show_at for r in rows if r.no_show_at is not None),
            due=sorted(_ended_at(r.no_show_at, r.completed_at) for r in rows),
        )

    def at(self, moment: datetime) -> float:
        return _shrunk_rate(
            bisect.bisect_right(self.no_shows, moment), bisect.bisect_right(self.due, moment)
        )


def _shrunk_rate(no_shows: int, due: int) -> float:
    """The restaurant's no-show rate shrunk toward 8 % (the feature's value)."""
    return (no_shows + PRIOR_NO_SHOW_RATE * PRIOR_WEIGHT) / (due + PRIOR_WEIGHT)


def _counts(past: Sequence[Any]) -> tuple[int, int, int, int]:
    """Past bookings, no-shows, cancellations and late cancellations."""
    return (
        len(past),
        sum(p.no_show_at is not None for p in past),
        sum(p.cancelled_at is not None for p in past),
        sum(
            p.cancelled_at is not None and p.cancelled_at > p.start_at - LATE_CANCEL_WINDOW
            for p in past
        ),
    )


def _values(row: Any, history: tuple[int, int, int, int] | None, rate: float) -> dict[str, Any]:
    """The feature row of one reservation (``FEATURE_SCHEMA``'s columns)."""
    local = row.start_at.astimezone(ZoneInfo(row.timezone))
    cuisines = row.cuisines or []
    return {
        "reservation_id": row.id,
        "restaurant_id": row.restaurant_id,
        "diner_id": row.diner_id,
        "booked_at": row.booked_at,
        "start_at": row.start_at,
        "cutoff_at": row.booked_at,
        "party_size": row.party_size,
        "channel": row.channel,
        "deposit_required": bool(row.deposit_required),
        "special_requests": row.special_requests,
        "lead_hours": (row.start_at - row.booked_at) / timedelta(hours=1),
        "local_hour": local.hour,
        "weekday": local.weekday(),
        "price_tier": row.price_tier,
        "cuisine": cuisines[0] if cuisines else None,
        "diner_prior_bookings": history[0] if history else None,
        "diner_prior_no_shows": history[1] if history else None,
        "diner_prior_cancellations": history[2] if history else None,
        "diner_prior_late_cancellations": history[3] if history else None,
        "restaurant_prior_no_show_rate": rate,
    }


def probabilities(rows: pl.DataFrame, champion: Loaded | None) -> list[float]:
    """The no-show probabilities of feature rows, without reasons (the cheap
    path for many rows), by the champion or the baseline, clipped to [0, 1]."""
    if rows.height == 0:
        return []
    if champion is None:
        found = rows.select(
            _baseline_probability(
                pl.col("restaurant_prior_no_show_rate"),
                pl.col("diner_prior_bookings").fill_null(0),
                pl.col("diner_prior_no_shows").fill_null(0),
            )
        ).to_series()
        return [min(1.0, max(0.0, float(p))) for p in found]
    model = champion.estimator
    if model is not None and hasattr(model, "predict_proba"):
        scored = model.predict_proba(rows)[:, 1]
    else:
        scored = champion.pyfunc.predict(to_pandas_input(rows))
    return [min(1.0, max(0.0, float(p))) for p in scored]


def _baseline_probability(rate: Any, bookings: Any, no_shows: Any) -> Any:
    """The baseline's rule, on numbers or on polars expressions alike."""
    return (no_shows + rate * BASELINE_WEIGHT) / (bookings + BASELINE_WEIGHT)


def _baseline(row: pl.DataFrame) -> Risk:
    r: dict[str, Any] = row.row(0, named=True)
    rate = float(r["restaurant_prior_no_show_rate"])
    n = r["diner_prior_bookings"] or 0
    no_shows = r["diner_prior_no_shows"] or 0
    p = _baseline_probability(rate, n, no_shows)
    reasons = [(f"restaurant no-show rate {rate:.1%}", rate)]
    if r["diner_id"] is not None:
        reasons.append((f"{no_shows} no-shows in {n} past bookings", p - rate))
    return Risk(int(r["reservation_id"]), p, reasons, "attendance_risk", None, "baseline")
