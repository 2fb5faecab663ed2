"""Features: point-in-time correct frames for the models, from ledger frames.

Every builder takes a ``LedgerSnapshot`` or a mapping of polars frames named
like its methods (``reservations``, ``restaurants``, ...; see each builder for
which it needs), so a notebook can pass frames of its own. The builders are
pure: no I/O beyond asking a snapshot for its frames.

Point in time. A feature of a row is computed only from what the ledger had
recorded by the row's cut-off: a timestamp is known from its value on (known
"by" T means <= T), an outcome (``no_show_at``, ``cancelled_at``,
``completed_at``) is known from its timestamp, and a modified reservation's
start, party size and deposit flag are the version in force at the cut-off
(``versions`` frame; without it the current values are used). Restaurant attributes (price
tier, cuisines, time zone) have no history in the ledger and are used as they
are now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import polars as pl

from booking_core.domain import LATE_CANCEL_WINDOW
from models.extract import LedgerSnapshot

FrameSource = LedgerSnapshot | Mapping[str, pl.DataFrame]
Cutoff = Literal["booking", "reminder"]

# The reminder goes out a day ahead; a cancellation inside the same day
# before the start is a late one (``LATE_CANCEL_WINDOW``, the booking core's).
REMINDER_LEAD = timedelta(hours=24)
# Shrinks a young restaurant's no-show rate towards a typical one.
PRIOR_NO_SHOW_RATE = 0.08
PRIOR_WEIGHT = 20.0

ATTENDANCE_FEATURES = (
    "party_size",
    "channel",
    "deposit_required",
    "special_requests",
    "lead_hours",
    "local_hour",
    "weekday",
    "price_tier",
    "cuisine",
    "diner_prior_bookings",
    "diner_prior_no_shows",
    "diner_prior_cancellations",
    "diner_prior_late_cancellations",
    "restaurant_prior_no_show_rate",
)
REMINDER_FEATURES = (*ATTENDANCE_FEATURES, "confirmed_by_cutoff")
ATTENDANCE_LABELS = ("no_show", "late_cancel", "lost")
DURATION_FEATURES = ("channel", "area", "party_size", "local_hour", "weekday", "price_tier")

_OUTCOMES = ("no_show_at", "cancelled_at", "completed_at")
_AFTER_BOOKING = ("confirmed_at", "arrived_at", "seated_at", *_OUTCOMES)
_UTC = pl.Datetime("us", "UTC")


# ------------------------------------------------------------------ plumbing


def _frames(
    source: FrameSource, required: Iterable[str], optional: Iterable[str] = ()
) -> dict[str, pl.DataFrame]:
    """The named frames; optional ones are absent from the result when the
    mapping lacks them."""
    required, optional = tuple(required), tuple(optional)
    if isinstance(source, LedgerSnapshot):
        return source.frames((*required, *optional))
    missing = [name for name in required if name not in source]
    if missing:
        raise KeyError(f"frames missing: {', '.join(missing)}")
    return {name: source[name] for name in (*required, *optional) if name in source}


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware (UTC) time")
    return moment.astimezone(UTC)


def _known_by(reservations: pl.DataFrame, as_of: datetime | None) -> pl.DataFrame:
    """The reservations as recorded by ``as_of``: later bookings dropped,
    later state timestamps unknown (null)."""
    if as_of is None:
        return reservations
    return reservations.filter(pl.col("booked_at") <= as_of).with_columns(
        pl.when(pl.col(c) <= as_of).then(pl.col(c)).alias(c)
        for c in _AFTER_BOOKING
        if c in reservations.columns
    )


def _outcome_at() -> pl.Expr:
    return pl.min_horizontal(*_OUTCOMES)


def _wall_clock(
    frame: pl.DataFrame, restaurants: pl.DataFrame, column: str, out: str
) -> pl.DataFrame:
    """Adds ``out``: UTC ``column`` on the restaurant's wall clock (naive).

    Polars converts a whole column to one zone, so rows go zone by zone."""
    zones = restaurants.select(pl.col("id").alias("restaurant_id"), pl.col("timezone").alias("_tz"))
    tagged = frame.with_row_index("_row").join(zones, on="restaurant_id", how="left")
    parts = [
        part.with_columns(
            pl.col(column).dt.convert_time_zone(zone or "UTC").dt.replace_time_zone(None).alias(out)
        )
        for (zone,), part in tagged.group_by("_tz")
    ]
    if not parts:
        return frame.with_columns(pl.lit(None, pl.Datetime("us")).alias(out))
    return pl.concat(parts).sort("_row").drop("_row", "_tz")


def _as_recorded_at(frame: pl.DataFrame, versions: pl.DataFrame | None, at: str) -> pl.DataFrame:
    """Start, party size, service date (and the deposit flag, where both
    frames have it) of each reservation (``id``) as the ledger held them at
    column ``at``: the latest version recorded by then."""
    if versions is None or versions.is_empty():
        return frame
    fields = ["start_at", "party_size", "service_date"]
    if "deposit_required" in versions.columns and "deposit_required" in frame.columns:
        fields.append("deposit_required")  # a change of party size can change it
    known = versions.select(
        pl.col("reservation_id").alias("id"),
        "valid_from",
        *(pl.col(f).alias(f"_v_{f}") for f in fields),
    ).sort("valid_from")
    joined = (
        frame.with_row_index("_row")
        .sort(at)
        .join_asof(
            known,
            left_on=at,
            right_on="valid_from",
            by="id",
            strategy="backward",
            check_sortedness=False,  # sorted on the key above; groups are not checked
        )
    )
    return (
        joined.with_columns(pl.coalesce(f"_v_{f}", f).alias(f) for f in fields)
        .sort("_row")
        .drop("_row", "valid_from", *(f"_v_{f}" for f in fields))
    )


def _history_as_of(
    targets: pl.DataFrame, events: pl.DataFrame, key: str, counts: Iterable[str]
) -> pl.DataFrame:
    """For each target row (``key``, ``know_at``): the sums of ``counts`` over
    ``events`` (``key``, ``outcome_at``, counts...) with ``outcome_at <= know_at``.

    Events are summed per key and instant, accumulated in time order, and the
    last total at or before each target's cut-off is taken (an as-of join)."""
    counts = tuple(counts)
    totals = (
        events.group_by(key, "outcome_at")
        .agg(pl.col(c).sum() for c in counts)
        .sort(key, "outcome_at")
        .with_columns(pl.col(c).cum_sum().over(key).alias(c) for c in counts)
        .sort("outcome_at")
    )
    found = (
        targets.select("_row", key, "know_at")
        .sort("know_at")
        .join_asof(
            totals,
            left_on="know_at",
            right_on="outcome_at",
            by=key,
            strategy="backward",
            check_sortedness=False,
        )
    )
    return found.select("_row", *(pl.col(c).fill_null(0).cast(pl.Int64) for c in counts))


def _first_cuisine(restaurants: pl.DataFrame) -> pl.Expr:
    if restaurants.schema["cuisines"] == pl.String:
        return pl.col("cuisines").str.json_decode(pl.List(pl.String)).list.first()
    return pl.col("cuisines").list.first()


# ------------------------------------------------------------------ attendance


def attendance_frame(
    source: FrameSource,
    cutoff: Cutoff = "booking",
    *,
    as_of: datetime | None = None,
    prior_no_show_rate: float = PRIOR_NO_SHOW_RATE,
    prior_weight: float = PRIOR_WEIGHT,
) -> pl.DataFrame:
    """One row per booked (not walk-in) reservation, with what was known at its
    cut-off and whether it was lost.

    Cut-offs: ``"booking"``: ``booked_at``; ``"reminder"``: the final
    ``start_at`` - 24 h (or ``booked_at`` when booked later than that). The reminder frame leaves
    out reservations whose outcome was known by the cut-off (cancelled before
    it): they are no longer at risk. With ``as_of``, the frame is the one that
    could have been built at ``as_of``: bookings made later are left out,
    nothing recorded later is seen, cut-offs after it are read at ``as_of``,
    and outcomes not known by then (future bookings) get null labels; without
    it, the whole ledger is known and only outcomes not yet recorded are null.

    Needs frames ``reservations`` and ``restaurants``; uses ``versions`` when given.

    ===============================  ==================  ======================================
    column                           type                meaning
    ===============================  ==================  ======================================
    reservation_id                   Int64               the reservation
    restaurant_id                    Int64               its restaurant
    diner_id                         Int64               the diner (null: guest without account)
    booked_at                        Datetime(us, UTC)   when it was booked
    start_at                         Datetime(us, UTC)   planned start as known at the cut-off
    cutoff_at                        Datetime(us, UTC)   the moment the prediction is made
    party_size                       Int64               party size as known at the cut-off
    channel                          String              web, widget, affiliate, phone
    deposit_required                 Boolean             a deposit was asked for
    special_requests                 String              the diner's requests ("" if none)
    lead_hours                       Float64             start_at - booked_at, hours
    local_hour                       Int8                hour of start_at, restaurant's clock
    weekday                          Int8                weekday of start_at there, Monday = 0
    price_tier                       Int64               restaurant's price tier, 1..4
    cuisine                          String              restaurant's first cuisine
    diner_prior_bookings             Int64               diner's reservations with an outcome
                                                         known by the cut-off (null: no diner)
    diner_prior_no_shows             Int64               ... of which no-shows
    diner_prior_cancellations        Int64               ... of which cancelled (any time)
    diner_prior_late_cancellations   Int64               ... of which cancelled < 24 h ahead
    restaurant_prior_no_show_rate    Float64             restaurant's no-shows / (no-shows +
                                                         completions) known by the cut-off,
                                                         shrunk: (n + rate·w) / (d + w)
    confirmed_by_cutoff              Boolean             "reminder" only: confirmed by then
    no_show                          Boolean             label: did not come (null: unknown)
    late_cancel                      Boolean             label: cancelled < 24 h before start
    lost                             Boolean             label: no_show or late_cancel
    ===============================  ==================  ======================================

    Walk-ins have no booking to predict and count in no history here.
    """
    if cutoff not in ("booking", "reminder"):
        raise ValueError(f"cutoff is 'booking' or 'reminder', not {cutoff!r}")
    frames = _frames(source, ("reservations", "restaurants"), ("versions",))
    as_of = _aware(as_of)
    restaurants = frames["restaurants"]
    booked = _known_by(frames["reservations"], as_of).filter(pl.col("channel") != "walk_in")
    booked = booked.with_columns(
        _outcome_at().alias("outcome_at"),
        (pl.col("cancelled_at") > pl.col("start_at") - LATE_CANCEL_WINDOW)
        .fill_null(False)
        .alias("_late"),
    )

    if cutoff == "booking":
        cutoff_at = pl.col("booked_at")
    else:
        cutoff_at = pl.max_horizontal(pl.col("start_at") - REMINDER_LEAD, pl.col("booked_at"))
    know_at = cutoff_at if as_of is None else pl.min_horizontal(cutoff_at, pl.lit(as_of, _UTC))
    rows = booked.with_columns(cutoff_at.alias("cutoff_at"), know_at.alias("know_at"))
    if cutoff == "reminder":
        rows = rows.filter(
            (pl.col("outcome_at") > pl.col("know_at")) | pl.col("outcome_at").is_null()
        )

    # Labels from the outcome as finally recorded (final start for lateness).
    known = pl.col("outcome_at").is_not_null()
    rows = rows.with_columns(
        pl.when(known).then(pl.col("no_show_at").is_not_null()).alias("no_show"),
        pl.when(known).then(pl.col("_late")).alias("late_cancel"),
    ).with_columns((pl.col("no_show") | pl.col("late_cancel")).alias("lost"))

    rows = _as_recorded_at(rows, frames.get("versions"), "know_at")
    rows = _wall_clock(rows, restaurants, "start_at", "_local_start").with_row_index("_row")

    # The row's own outcome is never its history, even if recorded at its cut-off.
    own_known = pl.col("outcome_at") <= pl.col("know_at")
    events = booked.filter(pl.col("outcome_at").is_not_null())
    diner = _history_as_of(
        rows.filter(pl.col("diner_id").is_not_null()),
        events.filter(pl.col("diner_id").is_not_null()).select(
            "diner_id",
            "outcome_at",
            pl.lit(1).alias("_d_n"),
            pl.col("no_show_at").is_not_null().cast(pl.Int64).alias("_d_ns"),
            pl.col("cancelled_at").is_not_null().cast(pl.Int64).alias("_d_cx"),
            pl.col("_late").cast(pl.Int64).alias("_d_late"),
        ),
        "diner_id",
        ("_d_n", "_d_ns", "_d_cx", "_d_late"),
    )
    due = events.filter(pl.col("cancelled_at").is_null())
    place = _history_as_of(
        rows,
        due.select(
            "restaurant_id",
            "outcome_at",
            pl.lit(1).alias("_due"),
            pl.col("no_show_at").is_not_null().cast(pl.Int64).alias("_rns"),
        ),
        "restaurant_id",
        ("_due", "_rns"),
    )
    rows = rows.join(diner, on="_row", how="left").join(place, on="_row", how="left")

    def own(flag: pl.Expr) -> pl.Expr:
        return pl.when(own_known).then(flag.cast(pl.Int64)).otherwise(0).fill_null(0)

    no_show_flag = pl.col("no_show_at").is_not_null()
    cancel_flag = pl.col("cancelled_at").is_not_null()
    due_flag = pl.col("outcome_at").is_not_null() & ~cancel_flag
    has_diner = pl.col("diner_id").is_not_null()
    place_facts = restaurants.select(
        pl.col("id").alias("restaurant_id"),
        "price_tier",
        _first_cuisine(restaurants).alias("cuisine"),
    )
    rows = rows.join(place_facts, on="restaurant_id", how="left").with_columns(
        pl.when(has_diner).then(pl.col("_d_n") - own(pl.lit(True))).alias("diner_prior_bookings"),
        pl.when(has_diner).then(pl.col("_d_ns") - own(no_show_flag)).alias("diner_prior_no_shows"),
        pl.when(has_diner)
        .then(pl.col("_d_cx") - own(cancel_flag))
        .alias("diner_prior_cancellations"),
        pl.when(has_diner)
        .then(pl.col("_d_late") - own(pl.col("_late")))
        .alias("diner_prior_late_cancellations"),
        (
            (pl.col("_rns") - own(no_show_flag) + prior_no_show_rate * prior_weight)
            / (pl.col("_due") - own(due_flag) + prior_weight)
        ).alias("restaurant_prior_no_show_rate"),
        ((pl.col("start_at") - pl.col("booked_at")).dt.total_microseconds() / 3_600_000_000).alias(
            "lead_hours"
        ),
        pl.col("_local_start").dt.hour().alias("local_hour"),
        (pl.col("_local_start").dt.weekday() - 1).alias("weekday"),
        (pl.col("confirmed_at") <= pl.col("know_at")).fill_null(False).alias("confirmed_by_cutoff"),
    )
    columns: list[str | pl.Expr] = [
        pl.col("id").alias("reservation_id"),
        "restaurant_id",
        "diner_id",
        "booked_at",
        "start_at",
        "cutoff_at",
        *ATTENDANCE_FEATURES,
    ]
    if cutoff == "reminder":
        columns.append("confirmed_by_cutoff")
    return rows.select(*columns, *ATTENDANCE_LABELS).sort("reservation_id")


def labelled(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows whose outcome is known: a training or evaluation set."""
    return frame.filter(pl.col("no_show").is_not_null())


# ------------------------------------------------------------------ durations


def duration_frame(source: FrameSource, *, as_of: datetime | None = None) -> pl.DataFrame:
    """One row per completed reservation (walk-ins included) with its seating
    and completion recorded (by ``as_of`` when given): how long the party
    held its table.

    Needs ``reservations`` and ``restaurants``; ``reservation_tables`` and
    ``dining_tables`` (with ``area_name``) give the area, else it is null.

    ==============  ==================  =================================================
    column          type                meaning
    ==============  ==================  =================================================
    reservation_id  Int64               the reservation
    restaurant_id   Int64               its restaurant
    channel         String              booking channel, ``walk_in`` for walk-ins
    area            String              area of its first table held when seated
    party_size      Int64               party size
    local_hour      Int8                hour of the planned start, restaurant's clock
    weekday         Int8                weekday of the planned start there, Monday = 0
    price_tier      Int64               restaurant's price tier, 1..4
    seated_at       Datetime(us, UTC)   when the party sat down
    duration_min    Float64             label: completed_at - seated_at, minutes
    ==============  ==================  =================================================
    """
    frames = _frames(
        source, ("reservations", "restaurants"), ("reservation_tables", "dining_tables")
    )
    as_of = _aware(as_of)
    done = _known_by(frames["reservations"], as_of).filter(
        pl.col("seated_at").is_not_null() & pl.col("completed_at").is_not_null()
    )
    done = _wall_clock(done, frames["restaurants"], "start_at", "_local_start")
    if "reservation_tables" in frames and "dining_tables" in frames:
        held = frames["reservation_tables"].join(
            done.select(pl.col("id").alias("reservation_id"), "seated_at"), on="reservation_id"
        )
        # A table moved away from before seating is not where the party sat.
        at_seating = (pl.col("assigned_at") <= pl.col("seated_at")) & (
            pl.col("released_at").is_null() | (pl.col("released_at") > pl.col("seated_at"))
        )
        first = (
            held.with_columns(at_seating.alias("_held"))
            .sort("reservation_id", "_held", "id", descending=[False, True, False])
            .group_by("reservation_id", maintain_order=True)
            .first()
            .join(
                frames["dining_tables"].select(
                    pl.col("id").alias("table_id"), pl.col("area_name").alias("area")
                ),
                on="table_id",
                how="left",
            )
            .select(pl.col("reservation_id").alias("id"), "area")
        )
        done = done.join(first, on="id", how="left")
    else:
        done = done.with_columns(pl.lit(None, pl.String).alias("area"))
    tiers = frames["restaurants"].select(pl.col("id").alias("restaurant_id"), "price_tier")
    return (
        done.join(tiers, on="restaurant_id", how="left")
        .select(
            pl.col("id").alias("reservation_id"),
            "restaurant_id",
            "channel",
            "area",
            "party_size",
            pl.col("_local_start").dt.hour().alias("local_hour"),
            (pl.col("_local_start").dt.weekday() - 1).alias("weekday"),
            "price_tier",
            "seated_at",
            (
                (pl.col("completed_at") - pl.col("seated_at")).dt.total_microseconds() / 60_000_000
            ).alias("duration_min"),
        )
        .sort("reservation_id")
    )


# ------------------------------------------------------------------ demand


@dataclass(frozen=True)
class DemandFrames:
    """Inputs of the demand model at one forecast origin.

    ``cutoff_at`` is midnight UTC of ``origin``: what the ledger had recorded
    strictly before it is known, nothing after. (A restaurant west of UTC is
    still serving the day before at that moment, so its last history day can
    be partial: a simple rule, the same for every restaurant.)

    ``history``: one row per restaurant and local service date, every date
    from its first recorded covers to ``origin`` - 1 (quiet days are zeros).

    ===============  =======  ===================================================
    column           type     meaning
    ===============  =======  ===================================================
    restaurant_id    Int64    the restaurant
    service_date     Date     local service date
    weekday          Int8     Monday = 0
    holiday          Boolean  a public holiday in the restaurant's country
    open             Boolean  service periods that weekday and no closure that
                              date; null for restaurants without service periods
    parties          Int64    parties seated (booked and walk-in)
    booked_covers    Int64    covers of booked parties that sat down
    walk_in_covers   Int64    covers of walk-ins seated
    observed_covers  Int64    covers counted outside the booking system (e.g.
                              Recruit's visits), null where none were recorded
    covers           Int64    target: booked + walk-in covers, or the observed
                              covers when larger (they count every guest);
                              null (unknown) on a day without observed covers
                              at a restaurant whose covers are observed
    ===============  =======  ===================================================

    ``on_the_books``: one row per restaurant and date ``origin`` ..
    ``origin + horizon - 1``: the bookings known at ``cutoff_at``.

    ===============  =======  ===================================================
    column           type     meaning
    ===============  =======  ===================================================
    restaurant_id    Int64    the restaurant (those with history or bookings)
    service_date     Date     local service date
    days_ahead       Int64    service_date - origin, days
    weekday          Int8     Monday = 0
    holiday          Boolean  as above
    open             Boolean  as above
    booked_parties   Int64    bookings made before cutoff_at and not cancelled
                              or marked no-show before it (dates and party
                              sizes as they stood at cutoff_at)
    booked_covers    Int64    their covers
    ===============  =======  ===================================================

    ``bookings``: every booked (not walk-in) reservation made before
    ``cutoff_at``, whatever its date, to rebuild the books as of an earlier
    origin *o*: on the books at *o* when ``booked_at < o`` and
    ``off_books_at`` is null or ``>= o``.

    ===============  ==================  ========================================
    column           type                meaning
    ===============  ==================  ========================================
    reservation_id   Int64               the reservation
    restaurant_id    Int64               its restaurant
    service_date     Date                local service date, as at cutoff_at
    party_size       Int64               covers, as at cutoff_at
    booked_at        Datetime(us, UTC)   when it was booked
    off_books_at     Datetime(us, UTC)   cancelled or marked no-show, if that
                                         was recorded before cutoff_at
    ===============  ==================  ========================================

    ``slot_history``: covers seated per restaurant, service date (< origin)
    and slot of the planned start (a walk-in's start is its seating); slots
    with no covers are absent.

    ===============  =======  ===================================================
    column           type     meaning
    ===============  =======  ===================================================
    restaurant_id    Int64    the restaurant
    service_date     Date     local service date
    slot_start       Int64    minutes after local midnight of the service date,
                              a multiple of ``slot_minutes`` (> 1440 after midnight)
    parties          Int64    parties seated
    covers           Int64    their covers
    ===============  =======  ===================================================
    """

    origin: date
    cutoff_at: datetime
    history: pl.DataFrame
    on_the_books: pl.DataFrame
    slot_history: pl.DataFrame
    bookings: pl.DataFrame

    def as_dict(self) -> dict[str, pl.DataFrame]:
        """The frames by name: history, on_the_books, slot_history, bookings."""
        return {
            "history": self.history,
            "on_the_books": self.on_the_books,
            "slot_history": self.slot_history,
            "bookings": self.bookings,
        }


def _calendar(frame: pl.DataFrame, frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Adds weekday, holiday and open to rows keyed by restaurant and date."""
    out = frame.with_columns((pl.col("service_date").dt.weekday() - 1).alias("weekday"))
    countries = frames["restaurants"].select(
        pl.col("id").alias("restaurant_id"), pl.col("country").alias("_country")
    )
    out = out.join(countries, on="restaurant_id", how="left")
    if "holidays" in frames:
        days_off = (
            frames["holidays"]
            .select(pl.col("country").alias("_country"), pl.col("local_date").alias("service_date"))
            .unique()
            .with_columns(pl.lit(True).alias("holiday"))
        )
        out = out.join(days_off, on=["_country", "service_date"], how="left")
    else:
        out = out.with_columns(pl.lit(None, pl.Boolean).alias("holiday"))
    out = out.with_columns(pl.col("holiday").fill_null(False))

    open_by_week: pl.Expr = pl.lit(None, pl.Boolean)
    if "service_periods" in frames:
        # Each date reads the timetable in force then (hours change from a
        # date; ``Floor.timetable_on``): NULL starts are the first timetable.
        first = pl.lit(date(1, 1, 1), pl.Date)
        periods = frames["service_periods"].with_columns(
            (
                pl.col("effective_from").cast(pl.Date).fill_null(first)
                if "effective_from" in frames["service_periods"].columns
                else first
            ).alias("_from")
        )
        with_floor = (
            periods.select("restaurant_id").unique().with_columns(pl.lit(True).alias("_floor"))
        )
        starts = periods.select("restaurant_id", "_from").unique().sort("_from")
        weekdays = (
            periods.select("restaurant_id", "_from", pl.col("weekday").cast(pl.Int8))
            .unique()
            .with_columns(pl.lit(True).alias("_serves"))
        )
        out = (
            out.with_row_index("_row")
            .sort("service_date")
            .join_asof(
                starts,
                left_on="service_date",
                right_on="_from",
                by="restaurant_id",
                strategy="backward",
                check_sortedness=False,  # both sorted on their keys just above
            )
            .sort("_row")
            .drop("_row")
        )
        out = out.join(with_floor, on="restaurant_id", how="left").join(
            weekdays, on=["restaurant_id", "_from", "weekday"], how="left"
        )
        open_by_week = pl.when(pl.col("_floor")).then(pl.col("_serves").fill_null(False))
    special: pl.Expr = pl.lit(None, pl.Boolean)
    if "special_dates" in frames:
        closures = frames["special_dates"].select(
            "restaurant_id",
            pl.col("local_date").alias("service_date"),
            pl.col("closed").alias("_closed"),
        )
        out = out.join(closures, on=["restaurant_id", "service_date"], how="left")
        special = ~pl.col("_closed")
    out = out.with_columns(pl.coalesce(special, open_by_week).alias("open"))
    return out.drop(
        c for c in ("_country", "_floor", "_from", "_serves", "_closed") if c in out.columns
    )


def service_calendar(frame: pl.DataFrame, source: FrameSource) -> pl.DataFrame:
    """``frame``'s rows (``restaurant_id``, ``service_date``) with ``weekday``
    (Monday = 0), ``holiday`` and ``open`` as the demand frames read them:
    the timetable in force on each date and the special dates' closures;
    ``open`` is null for a restaurant without service periods.

    Needs ``restaurants``; uses ``holidays``, ``service_periods`` and
    ``special_dates`` when given."""
    frames = _frames(source, ("restaurants",), ("holidays", "service_periods", "special_dates"))
    return _calendar(frame, frames)


def demand_frames(
    source: FrameSource,
    origin: date,
    *,
    horizon: int = 28,
    slot_minutes: int = 15,
) -> DemandFrames:
    """Daily and per-slot covers before ``origin`` and the bookings on the books
    for the ``horizon`` days from it; see ``DemandFrames`` for the columns.

    Needs ``reservations`` and ``restaurants``; uses ``observed_covers``,
    ``holidays``, ``service_periods``, ``special_dates`` and ``versions`` when given.
    """
    frames = _frames(
        source,
        ("reservations", "restaurants"),
        ("observed_covers", "holidays", "service_periods", "special_dates", "versions"),
    )
    cutoff = datetime.combine(origin, time(), tzinfo=UTC)
    reservations = frames["reservations"]
    walk_in = pl.col("channel") == "walk_in"
    sat = reservations.filter((pl.col("seated_at") < cutoff) & (pl.col("service_date") < origin))

    daily = sat.group_by("restaurant_id", "service_date").agg(
        pl.len().cast(pl.Int64).alias("parties"),
        pl.col("party_size").filter(~walk_in).sum().alias("booked_covers"),
        pl.col("party_size").filter(walk_in).sum().alias("walk_in_covers"),
    )
    if "observed_covers" in frames:
        observed = (
            frames["observed_covers"]
            .filter(pl.col("local_date") < origin)
            .select(
                "restaurant_id",
                pl.col("local_date").alias("service_date"),
                pl.col("covers").alias("observed_covers"),
            )
        )
        daily = daily.join(
            observed, on=["restaurant_id", "service_date"], how="full", coalesce=True
        )
    else:
        daily = daily.with_columns(pl.lit(None, pl.Int64).alias("observed_covers"))
    last = origin - timedelta(days=1)
    grid = (
        daily.group_by("restaurant_id")
        .agg(pl.col("service_date").min().alias("_first"))
        .with_columns(pl.date_ranges("_first", pl.lit(last)).alias("service_date"))
        .explode("service_date")
        .drop("_first")
    )
    counts = ("parties", "booked_covers", "walk_in_covers")
    history = grid.join(daily, on=["restaurant_id", "service_date"], how="left").with_columns(
        pl.col(c).fill_null(0).cast(pl.Int64) for c in counts
    )
    # A restaurant whose covers are counted outside the ledger has an unknown
    # day (closed or not recorded) where that count is missing.
    counted = history.filter(pl.col("observed_covers").is_not_null())["restaurant_id"].unique()
    history = history.with_columns(
        pl.when(
            pl.col("restaurant_id").is_in(counted.to_list()) & pl.col("observed_covers").is_null()
        )
        .then(None)
        .otherwise(
            pl.max_horizontal(pl.col("booked_covers") + pl.col("walk_in_covers"), "observed_covers")
        )
        .alias("covers")
    )
    history = (
        _calendar(history, frames)
        .select(
            "restaurant_id",
            "service_date",
            "weekday",
            "holiday",
            "open",
            *counts,
            pl.col("observed_covers").cast(pl.Int64),
            pl.col("covers").cast(pl.Int64),
        )
        .sort("restaurant_id", "service_date")
    )

    made = reservations.filter(~walk_in & (pl.col("booked_at") < cutoff)).with_columns(
        pl.lit(cutoff, _UTC).alias("_at")
    )
    off = pl.min_horizontal("cancelled_at", "no_show_at")
    bookings = (
        _as_recorded_at(made, frames.get("versions"), "_at")
        .select(
            pl.col("id").alias("reservation_id"),
            "restaurant_id",
            "service_date",
            "party_size",
            "booked_at",
            pl.when(off < cutoff).then(off).alias("off_books_at"),
        )
        .sort("reservation_id")
    )
    end = origin + timedelta(days=horizon)
    ahead = bookings.filter(
        pl.col("off_books_at").is_null()
        & (pl.col("service_date") >= origin)
        & (pl.col("service_date") < end)
    )
    booked = ahead.group_by("restaurant_id", "service_date").agg(
        pl.len().cast(pl.Int64).alias("booked_parties"),
        pl.col("party_size").sum().cast(pl.Int64).alias("booked_covers"),
    )
    places = pl.concat([history.select("restaurant_id"), booked.select("restaurant_id")]).unique()
    dates = pl.DataFrame(
        {"service_date": pl.date_range(origin, end - timedelta(days=1), eager=True)}
    )
    books = (
        places.join(dates, how="cross")
        .join(booked, on=["restaurant_id", "service_date"], how="left")
        .with_columns(
            pl.col("booked_parties").fill_null(0),
            pl.col("booked_covers").fill_null(0),
            (pl.col("service_date") - pl.lit(origin)).dt.total_days().alias("days_ahead"),
        )
    )
    on_the_books = (
        _calendar(books, frames)
        .select(
            "restaurant_id",
            "service_date",
            pl.col("days_ahead").cast(pl.Int64),
            "weekday",
            "holiday",
            "open",
            "booked_parties",
            "booked_covers",
        )
        .sort("restaurant_id", "service_date")
    )

    local = _wall_clock(sat, frames["restaurants"], "start_at", "_local_start")
    minute = (
        pl.col("_local_start") - pl.col("service_date").cast(pl.Datetime("us"))
    ).dt.total_minutes()
    slot_history = (
        local.with_columns(((minute // slot_minutes) * slot_minutes).alias("slot_start"))
        .group_by("restaurant_id", "service_date", "slot_start")
        .agg(
            pl.len().cast(pl.Int64).alias("parties"),
            pl.col("party_size").sum().cast(pl.Int64).alias("covers"),
        )
        .with_columns(pl.col("slot_start").cast(pl.Int64))
        .sort("restaurant_id", "service_date", "slot_start")
    )
    return DemandFrames(origin, cutoff, history, on_the_books, slot_history, bookings)


__all__ = [
    "ATTENDANCE_FEATURES",
    "ATTENDANCE_LABELS",
    "DURATION_FEATURES",
    "REMINDER_FEATURES",
    "Cutoff",
    "DemandFrames",
    "FrameSource",
    "attendance_frame",
    "demand_frames",
    "duration_frame",
    "labelled",
    "service_calendar",
]
