"""Import the Recruit Restaurant Visitor Forecasting data set (Kaggle, 2017).

AirREGI stores become restaurants, their reservations become completed
reservations with their outbox history, daily visitor counts become observed
covers, and the calendar's holidays become Japanese holidays. All of it is
written in one transaction: an import either lands whole or not at all.

What Recruit does not record, and what the import assumes instead:

* price tier: unknown, so every store gets tier 2 (of 1..4);
* durations: unknown, so every reservation holds two hours from its visit time;
* attendance: the data has no cancellations or no-shows, so every reservation
  is seated at its visit time and completed two hours later;
* floor plans and opening hours: unknown, so no tables, service periods,
  table assignments or claims are created. The restaurants can be analysed,
  not booked, until a host sets them up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from booking_core import outbox as outbox_feed
from booking_core.domain import MAX_PARTY, MIN_PARTY, Channel, ReservationState
from booking_core.errors import InvalidRequest
from booking_core.ledger import Ledger
from booking_core.schema import holidays, observed_covers, outbox, reservations, restaurants

SOURCE = "recruit"
TIMEZONE = "Asia/Tokyo"
CURRENCY = "JPY"
PRICE_TIER = 2
VISIT_DURATION = timedelta(hours=2)

STORES = "air_store_info.csv.gz"
RESERVE = "air_reserve.csv.gz"
VISITS = "air_visit_data.csv.gz"
DATES = "date_info.csv.gz"
_COLUMNS: dict[str, tuple[str, ...]] = {
    STORES: ("air_store_id", "air_genre_name", "air_area_name", "latitude", "longitude"),
    RESERVE: ("air_store_id", "visit_datetime", "reserve_datetime", "reserve_visitors"),
    VISITS: ("air_store_id", "visit_date", "visitors"),
    DATES: ("calendar_date", "holiday_flg"),
}
_DATETIME = "%Y-%m-%d %H:%M:%S"
_DATE = "%Y-%m-%d"
# Rows per executemany call: large enough to be fast, small enough for a
# progress bar to move.
_BATCH = 5_000

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RecruitImportSummary:
    restaurants: int
    reservations: int
    events: int
    observed_days: int
    # Holiday dates in the calendar; ones already in the ledger are kept as is.
    holidays: int
    skipped: int
    skipped_why: dict[str, int] = field(default_factory=dict)


def import_recruit(
    ledger: Ledger,
    path: Path,
    *,
    progress: Progress | None = None,
    limit_stores: int | None = None,
) -> RecruitImportSummary:
    """Load the Recruit files under ``path`` into a ledger that holds no Recruit data yet.

    ``limit_stores`` keeps the first stores of ``air_store_info`` (file order)
    and only their reservations and visits. ``progress`` is called with
    (stage, done, total) as each stage advances. Raises ``InvalidRequest`` for
    a missing folder, file or column, a malformed value, or a repeated import.
    """
    report: Progress = progress or _silent
    if limit_stores is not None and limit_stores < 1:
        raise InvalidRequest("limit_stores must be at least 1.")
    path = Path(path)
    if not path.is_dir():
        raise InvalidRequest(f"The Recruit data folder {path} does not exist.")
    for name in _COLUMNS:
        if not (path / name).is_file():
            raise InvalidRequest(f"The Recruit file {name} is missing from {path}.")

    # Everything is read and checked before the write lock is taken.
    why: Counter[str] = Counter()
    raw: dict[str, pl.DataFrame] = {}
    for done, name in enumerate(_COLUMNS, start=1):
        raw[name] = _read(path / name)
        report("read", done, len(_COLUMNS))
    stores = _stores(raw[STORES], limit_stores, why)
    booked = _reservations(raw[RESERVE], stores, why)
    visits = _visits(raw[VISITS], stores, why)
    holiday_dates = _holidays(raw[DATES], why)

    now = ledger.clock()
    with ledger.write() as conn:
        _refuse_reimport(conn)
        txid = _txid(conn)
        ids = _insert_restaurants(conn, stores.selected, now, txid, report)
        booked = booked.join(ids, on="air_store_id", how="inner", maintain_order="left")
        reservation_ids = _insert_reservations(conn, booked, report)
        events = _insert_events(conn, booked, reservation_ids, txid, report)
        visits = visits.join(ids, on="air_store_id", how="inner", maintain_order="left")
        _insert_all(
            conn, observed_covers.insert(), _observed_rows(visits), "observed_covers", report
        )
        _insert_holidays(conn, holiday_dates, report)

    return RecruitImportSummary(
        restaurants=ids.height,
        reservations=len(reservation_ids),
        events=events,
        observed_days=visits.height,
        holidays=len(holiday_dates),
        skipped=sum(why.values()),
        skipped_why=dict(sorted(why.items())),
    )


def walk_in_covers(
    conn_or_ledger: sa.Connection | Ledger, restaurant_id: int | None = None
) -> pl.DataFrame:
    """Per restaurant-day with observed covers: observed, reserved (parties that
    did not cancel or no-show) and walk-in covers (the difference, floored at 0).
    Days without observations are left out: their walk-ins are unknown."""
    if isinstance(conn_or_ledger, Ledger):
        with conn_or_ledger.read() as conn:
            return walk_in_covers(conn, restaurant_id)
    conn = conn_or_ledger
    r, oc = reservations.c, observed_covers.c
    reserved_q = (
        sa.select(r.restaurant_id, r.service_date, sa.func.sum(r.party_size).label("covers"))
        .where(r.state.not_in([ReservationState.CANCELLED.value, ReservationState.NO_SHOW.value]))
        .group_by(r.restaurant_id, r.service_date)
    )
    query = sa.select(oc.restaurant_id, oc.local_date, oc.covers)
    if restaurant_id is not None:
        reserved_q = reserved_q.where(r.restaurant_id == restaurant_id)
        query = query.where(oc.restaurant_id == restaurant_id)
    reserved = reserved_q.subquery("reserved")
    reserved_covers = sa.func.coalesce(reserved.c.covers, 0)
    difference = oc.covers - reserved_covers
    query = (
        query.add_columns(
            reserved_covers.label("reserved_covers"),
            sa.case((difference > 0, difference), else_=0).label("walk_in_covers"),
        )
        .select_from(
            observed_covers.outerjoin(
                reserved,
                sa.and_(
                    reserved.c.restaurant_id == oc.restaurant_id,
                    reserved.c.service_date == oc.local_date,
                ),
            )
        )
        .order_by(oc.restaurant_id, oc.local_date)
    )
    rows = [tuple(row) for row in conn.execute(query)]
    return pl.DataFrame(
        rows,
        schema={
            "restaurant_id": pl.Int64,
            "local_date": pl.Date,
            "observed_covers": pl.Int64,
            "reserved_covers": pl.Int64,
            "walk_in_covers": pl.Int64,
        },
        orient="row",
    )


def _silent(stage: str, done: int, total: int) -> None:
    return None


def _read(file: Path) -> pl.DataFrame:
    try:
        # All strings: types are parsed explicitly below, so a malformed value
        # is reported, not silently inferred into another type.
        frame = pl.read_csv(file, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InvalidRequest(f"Cannot read the Recruit file {file}: {exc}") from exc
    wanted = _COLUMNS[file.name]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise InvalidRequest(f"The Recruit file {file} lacks the column(s) {', '.join(missing)}.")
    return frame.select(wanted)


def _parse(frame: pl.DataFrame, name: str, *exprs: pl.Expr) -> pl.DataFrame:
    try:
        return frame.with_columns(*exprs)
    except pl.exceptions.PolarsError as exc:
        raise InvalidRequest(f"The Recruit file {name} has a malformed value: {exc}") from exc


def _drop(frame: pl.DataFrame, bad: pl.Expr, reason: str, why: Counter[str]) -> pl.DataFrame:
    kept = frame.filter(~bad)
    if kept.height != frame.height:
        why[reason] += frame.height - kept.height
    return kept


def _drop_missing(frame: pl.DataFrame, prefix: str, why: Counter[str]) -> pl.DataFrame:
    return _drop(frame, pl.any_horizontal(pl.all().is_null()), f"{prefix}_missing_values", why)


@dataclass(frozen=True)
class _Stores:
    listed: pl.DataFrame  # every store id in air_store_info
    valid: pl.DataFrame  # the ids of stores that can be imported
    selected: pl.DataFrame  # the stores to import (within the limit)


def _in_scope(frame: pl.DataFrame, stores: _Stores, prefix: str, why: Counter[str]) -> pl.DataFrame:
    """Rows of the selected stores. Rows of stores the store file does not list,
    or lists with unusable data, are skipped; rows of stores outside the limit
    are out of scope, not skipped."""
    listed = frame.join(stores.listed, on="air_store_id", how="semi", maintain_order="left")
    if listed.height != frame.height:
        why[f"{prefix}_unknown_store"] += frame.height - listed.height
    valid = listed.join(stores.valid, on="air_store_id", how="semi", maintain_order="left")
    if valid.height != listed.height:
        why[f"{prefix}_store_skipped"] += listed.height - valid.height
    ids = stores.selected.select("air_store_id")
    return valid.join(ids, on="air_store_id", how="semi", maintain_order="left")


def _stores(raw: pl.DataFrame, limit: int | None, why: Counter[str]) -> _Stores:
    listed = raw.select("air_store_id").drop_nulls().unique()
    frame = _drop_missing(raw, "store", why)
    frame = _parse(
        frame, STORES, pl.col("latitude").cast(pl.Float64), pl.col("longitude").cast(pl.Float64)
    )
    unique = frame.unique("air_store_id", keep="first", maintain_order=True)
    if unique.height != frame.height:
        why["store_duplicate"] += frame.height - unique.height
    frame = _drop(
        unique,
        ~(pl.col("latitude").is_between(-90, 90) & pl.col("longitude").is_between(-180, 180)),
        "store_bad_coordinates",
        why,
    )
    return _Stores(
        listed=listed,
        valid=frame.select("air_store_id"),
        selected=frame if limit is None else frame.head(limit),
    )


def _reservations(raw: pl.DataFrame, stores: _Stores, why: Counter[str]) -> pl.DataFrame:
    frame = _drop_missing(raw, "reserve", why)
    frame = _in_scope(frame, stores, "reserve", why)
    frame = _parse(
        frame,
        RESERVE,
        pl.col("visit_datetime").str.to_datetime(_DATETIME, time_unit="us"),
        pl.col("reserve_datetime").str.to_datetime(_DATETIME, time_unit="us"),
        pl.col("reserve_visitors").cast(pl.Int64),
    )
    frame = _drop(
        frame,
        pl.col("reserve_datetime") > pl.col("visit_datetime"),
        "reserve_booked_after_visit",
        why,
    )
    frame = _drop(
        frame,
        ~pl.col("reserve_visitors").is_between(MIN_PARTY, MAX_PARTY),
        "reserve_party_out_of_range",
        why,
    )

    def utc(column: str) -> pl.Expr:
        # Tokyo has had no daylight saving since 1951: every local time is unambiguous.
        return pl.col(column).dt.replace_time_zone(TIMEZONE).dt.convert_time_zone("UTC")

    return (
        frame.select(
            "air_store_id",
            pl.col("visit_datetime").dt.date().alias("service_date"),
            utc("visit_datetime").alias("start_at"),
            utc("reserve_datetime").alias("booked_at"),
            pl.col("reserve_visitors").alias("party_size"),
        )
        .with_columns(end_at=pl.col("start_at") + VISIT_DURATION)
        # Ids then follow booking order, as they would have live.
        .sort("booked_at", "start_at", "air_store_id", maintain_order=True)
    )


def _visits(raw: pl.DataFrame, stores: _Stores, why: Counter[str]) -> pl.DataFrame:
    frame = _drop_missing(raw, "visit", why)
    frame = _in_scope(frame, stores, "visit", why)
    frame = _parse(
        frame,
        VISITS,
        pl.col("visit_date").str.to_date(_DATE),
        pl.col("visitors").cast(pl.Int64),
    )
    frame = _drop(frame, pl.col("visitors") < 0, "visit_negative_visitors", why)
    unique = frame.unique(["air_store_id", "visit_date"], keep="first", maintain_order=True)
    if unique.height != frame.height:
        why["visit_duplicate_day"] += frame.height - unique.height
    return unique


def _holidays(raw: pl.DataFrame, why: Counter[str]) -> list[date]:
    frame = _drop_missing(raw, "date", why)
    frame = _parse(
        frame,
        DATES,
        pl.col("calendar_date").str.to_date(_DATE),
        pl.col("holiday_flg").cast(pl.Int64),
    )
    return sorted(set(frame.filter(pl.col("holiday_flg") == 1)["calendar_date"].to_list()))


def _refuse_reimport(conn: sa.Connection) -> None:
    existing = conn.execute(
        sa.select(sa.func.count()).select_from(restaurants).where(restaurants.c.source == SOURCE)
    ).scalar_one()
    if existing:
        raise InvalidRequest(
            f"Recruit data is already imported: this ledger has {existing} restaurants with "
            f"source {SOURCE!r}. Import into a ledger without them."
        )


def _txid(conn: sa.Connection) -> int | None:
    """Take the outbox feed lock for this bulk write (see booking_core.outbox)."""
    return outbox_feed.hold_feed(conn)


def _insert_all(
    conn: sa.Connection,
    statement: sa.Executable,
    rows: Sequence[dict[str, Any]],
    stage: str,
    report: Progress,
) -> None:
    report(stage, 0, len(rows))
    # Never execute with an empty list: SQLAlchemy would run a single insert
    # without parameters.
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        conn.execute(statement, list(batch))
        report(stage, start + len(batch), len(rows))


def _insert_restaurants(
    conn: sa.Connection, stores: pl.DataFrame, now: datetime, txid: int | None, report: Progress
) -> pl.DataFrame:
    """Insert the stores; returns their (air_store_id, restaurant_id)."""
    rows: list[dict[str, Any]] = []
    for store_id, genre, area, latitude, longitude in stores.iter_rows():
        parts = area.split()
        rows.append(
            {
                "name": f"{genre} · {' '.join(parts[:2])}"[:200],
                "description": (
                    f"{genre} restaurant in {area}, Japan. Imported from the Recruit "
                    f"Restaurant Visitor Forecasting data (AirREGI store {store_id})."
                ),
                "cuisines": [genre.lower()],
                "menu_highlights": [],
                "price_tier": PRICE_TIER,
                "rating": None,
                "latitude": latitude,
                "longitude": longitude,
                "address": area[:300],
                # The first part of an area name is its prefecture (Tōkyō-to, Ōsaka-fu ...).
                "city": parts[0][:100] if parts else "",
                "country": "JP",
                "timezone": TIMEZONE,
                "currency": CURRENCY,
                "locale": "ja-JP",
                "source": SOURCE,
                "external_ref": store_id,
                "created_at": now,
            }
        )
    try:
        _insert_all(conn, restaurants.insert(), rows, "restaurants", report)
    except sa.exc.IntegrityError as exc:
        # The check above saw no Recruit store, so a duplicate (source,
        # external_ref) means a concurrent import got there first.
        if "unique" not in str(exc.orig).lower():
            raise
        raise InvalidRequest(
            "Recruit data is already imported: another import added the same stores."
        ) from exc
    fetched = conn.execute(
        sa.select(restaurants.c.external_ref, restaurants.c.id, restaurants.c.name).where(
            restaurants.c.source == SOURCE
        )
    ).all()
    events = [
        {
            "event_type": "restaurant.created",
            "entity": "restaurant",
            "entity_id": restaurant_id,
            "restaurant_id": restaurant_id,
            "payload": {"name": name, "tables": 0, "timezone": TIMEZONE, "source": SOURCE},
            "occurred_at": now,
            "txid": txid,
        }
        for _, restaurant_id, name in sorted(fetched, key=lambda row: row[1])
    ]
    _insert_all(conn, outbox.insert(), events, "restaurant_events", report)
    return pl.DataFrame(
        [(ref, restaurant_id) for ref, restaurant_id, _ in fetched],
        schema={"air_store_id": pl.String, "restaurant_id": pl.Int64},
        orient="row",
    )


def _insert_reservations(conn: sa.Connection, frame: pl.DataFrame, report: Progress) -> list[int]:
    """Insert the reservations; returns their ids in the frame's row order."""
    columns = frame.select(
        "restaurant_id", "service_date", "start_at", "end_at", "booked_at", "party_size"
    )
    rows = [
        {
            "restaurant_id": restaurant_id,
            "diner_id": None,
            "guest_name": "",
            "service_date": service_date,
            "start_at": start_at,
            "end_at": end_at,
            "party_size": party_size,
            "channel": Channel.WEB.value,
            "state": ReservationState.COMPLETED.value,
            "currency": CURRENCY,
            "source": SOURCE,
            "external_ref": None,
            "booked_at": booked_at,
            "seated_at": start_at,
            "completed_at": end_at,
            # The last state change, as advance() keeps it for live reservations.
            "updated_at": end_at,
        }
        for restaurant_id, service_date, start_at, end_at, booked_at, party_size in (
            columns.iter_rows()
        )
    ]
    # Reservations carry no external ref to look ids up by, so RETURNING in
    # parameter order hands them back batch by batch instead.
    statement = reservations.insert().returning(reservations.c.id, sort_by_parameter_order=True)
    ids: list[int] = []
    report("reservations", 0, len(rows))
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        ids.extend(int(i) for i in conn.execute(statement, batch).scalars())
        report("reservations", len(ids), len(rows))
    return ids


def _insert_events(
    conn: sa.Connection,
    frame: pl.DataFrame,
    ids: list[int],
    txid: int | None,
    report: Progress,
) -> int:
    """Each reservation's history as the live code would have written it:
    booked, seated, completed. Offsets follow time, so a consumer replaying the
    outbox sees the same order of events as it would have live."""
    frame = frame.with_columns(pl.Series("reservation_id", ids, dtype=pl.Int64))
    iso = "%Y-%m-%dT%H:%M:%S+00:00"  # what datetime.isoformat() gives for whole-second UTC
    booked_payloads = {
        reservation_id: {
            "state": ReservationState.BOOKED.value,
            "party_size": party_size,
            "service_date": service_date,
            "start_at": start_at,
            "end_at": end_at,
            "channel": Channel.WEB.value,
            "table_ids": [],
            "diner_id": None,
        }
        for reservation_id, party_size, service_date, start_at, end_at in frame.select(
            "reservation_id",
            "party_size",
            pl.col("service_date").dt.strftime(_DATE),
            pl.col("start_at").dt.strftime(iso),
            pl.col("end_at").dt.strftime(iso),
        ).iter_rows()
    }
    steps = [
        ("booked_at", "reservation.booked"),
        ("start_at", "reservation.seated"),
        ("end_at", "reservation.completed"),
    ]
    timeline = pl.concat(
        [
            frame.select(
                "reservation_id",
                "restaurant_id",
                pl.col(column).alias("occurred_at"),
                pl.lit(step, dtype=pl.Int8).alias("step"),
            )
            for step, (column, _) in enumerate(steps)
        ]
    ).sort("occurred_at", "reservation_id", "step")
    transitions: list[dict[str, Any] | None] = [
        None,
        {"from": ReservationState.BOOKED.value, "to": ReservationState.SEATED.value},
        {"from": ReservationState.SEATED.value, "to": ReservationState.COMPLETED.value},
    ]
    rows = [
        {
            "event_type": steps[step][1],
            "entity": "reservation",
            "entity_id": reservation_id,
            "restaurant_id": restaurant_id,
            "payload": booked_payloads[reservation_id]
            if step == 0
            else dict(transitions[step] or {}),
            "occurred_at": occurred_at,
            "txid": txid,
        }
        for reservation_id, restaurant_id, occurred_at, step in timeline.iter_rows()
    ]
    _insert_all(conn, outbox.insert(), rows, "events", report)
    return len(rows)


def _observed_rows(visits: pl.DataFrame) -> list[dict[str, Any]]:
    return [
        {"restaurant_id": restaurant_id, "local_date": day, "covers": covers, "source": SOURCE}
        for restaurant_id, day, covers in visits.select(
            "restaurant_id", "visit_date", "visitors"
        ).iter_rows()
    ]


def _insert_holidays(conn: sa.Connection, dates: list[date], report: Progress) -> None:
    # Holidays are shared by every Japanese restaurant and may already be
    # there from another source: keep existing rows.
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(holidays).on_conflict_do_nothing(index_elements=["country", "local_date"])
    rows = [{"country": "JP", "local_date": day, "name": "holiday"} for day in dates]
    _insert_all(conn, statement, rows, "holidays", report)


__all__ = ["RecruitImportSummary", "import_recruit", "walk_in_covers"]
