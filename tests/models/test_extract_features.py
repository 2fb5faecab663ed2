"""Extract and features: the ledger read through DuckDB, and feature frames
that never see anything recorded after their cut-off."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb_extension_sqlite
import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from booking_core.availability import find_times
from booking_core.errors import BookingError
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, advance, book, cancel, modify
from booking_core.schema import UtcDateTime, metadata
from booking_core.world.generate import WorldSize, generate_world
from models.extract import LedgerSnapshot, extension_path, libpq_dsn
from models.features import (
    ATTENDANCE_FEATURES,
    ATTENDANCE_LABELS,
    Cutoff,
    attendance_frame,
    demand_frames,
    duration_frame,
    labelled,
)
from tests.conftest import POSTGRES_URL, drop_database, fresh_database_url

TODAY = date(2026, 6, 1)
SEED = 11
STAMPS = ("confirmed_at", "arrived_at", "seated_at", "completed_at", "cancelled_at", "no_show_at")
# Highest priority first: the state a reservation was in given which stamps it had.
STATE_BY_STAMP = (
    ("cancelled_at", "cancelled"),
    ("no_show_at", "no_show"),
    ("completed_at", "completed"),
    ("seated_at", "seated"),
    ("arrived_at", "arrived"),
    ("confirmed_at", "confirmed"),
)
# Snapshot method -> ledger table.
TABLES = {
    "reservations": "reservations",
    "reservation_tables": "reservation_tables",
    "restaurants": "restaurants",
    "dining_tables": "dining_tables",
    "diners": "diners",
    "pos_checks": "pos_checks",
    "service_periods": "service_periods",
    "special_dates": "special_dates",
    "observed_covers": "observed_covers",
    "holidays": "holidays",
    "truth": "world_reservation_truth",
    "outbox": "outbox",
}
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


# ---------------------------------------------------------------- worlds


def _world(backend: str, folder: Path, size: str | WorldSize = "tiny") -> str:
    if backend == "postgresql" and not POSTGRES_URL:
        pytest.skip("set SERVICESPHERE_TEST_POSTGRES_URL to run")
    url = fresh_database_url(backend, folder)
    ledger = Ledger.open(url)
    generate_world(ledger, size=size, seed=SEED, today=TODAY)
    ledger.dispose()
    return url


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _world("sqlite", tmp_path_factory.mktemp("sqlite_world"))


@pytest.fixture(scope="module")
def postgresql_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = _world("postgresql", tmp_path_factory.mktemp("pg_world"))
    yield url
    drop_database(url)


@pytest.fixture(scope="module", params=BACKENDS)
def world_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(scope="module")
def frames(sqlite_url: str) -> dict[str, pl.DataFrame]:
    with LedgerSnapshot.from_url(sqlite_url) as snapshot:
        return snapshot.frames()


def _rows(url: str, table: str, where: Any = None) -> list[dict[str, Any]]:
    ledger = Ledger.open(url, migrate=False)
    query = sa.select(metadata.tables[table])
    if where is not None:
        query = query.where(where)
    with ledger.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    ledger.dispose()
    return rows


# ---------------------------------------------------------------- extract


def test_extensions_come_from_the_wheels_and_nothing_is_downloaded(sqlite_url: str) -> None:
    shipped = Path(duckdb_extension_sqlite.__file__).parent
    assert extension_path("sqlite").resolve().is_relative_to(shipped.resolve())
    with LedgerSnapshot.from_url(sqlite_url) as snapshot:
        settings = snapshot.query(
            "SELECT current_setting('autoinstall_known_extensions') AS install, "
            "current_setting('autoload_known_extensions') AS autoload"
        ).row(0)
    assert settings == (False, False)
    ledger = Ledger.open(sqlite_url, migrate=False)
    with LedgerSnapshot.from_ledger(ledger) as snapshot:
        assert snapshot.engine == "sqlite" and snapshot.restaurants().height == 3
    ledger.dispose()


def test_postgres_urls_become_libpq_strings() -> None:
    dsn = libpq_dsn(
        "postgresql+psycopg://alice:p%40ss%20word@db.example:5433/ledger?sslmode=require"
    )
    assert dsn == (
        "host=db.example port=5433 dbname=ledger user=alice password='p@ss word' sslmode=require"
    )
    assert libpq_dsn("postgresql://postgres@127.0.0.1/test") == (
        "host=127.0.0.1 dbname=test user=postgres"
    )
    with pytest.raises(ValueError):
        libpq_dsn("sqlite:///x.db")


def test_row_counts_equal_the_ledger(world_url: str) -> None:
    ledger = Ledger.open(world_url, migrate=False)
    with ledger.read() as conn:
        counts = {
            method: conn.execute(
                sa.select(sa.func.count()).select_from(metadata.tables[table])
            ).scalar_one()
            for method, table in TABLES.items()
        }
    ledger.dispose()
    with LedgerSnapshot.from_url(world_url) as snapshot:
        heights = {method: getattr(snapshot, method)().height for method in TABLES}
        last = snapshot.last_offset()
    assert heights == counts
    assert counts["reservations"] > 1000 and counts["outbox"] > counts["reservations"]
    assert last == counts["outbox"]


def test_types_follow_the_schema_and_timestamps_equal_the_ledger(world_url: str) -> None:
    with LedgerSnapshot.from_url(world_url) as snapshot:
        extracted = {method: getattr(snapshot, method)() for method in TABLES}
    for method, table in TABLES.items():
        for column in metadata.tables[table].columns:
            dtype = extracted[method].schema[column.name]
            if isinstance(column.type, UtcDateTime):
                assert dtype == pl.Datetime("us", "UTC"), (method, column.name)
            elif isinstance(column.type, sa.Boolean):
                assert dtype == pl.Boolean, (method, column.name)
            elif isinstance(column.type, sa.Integer):
                assert dtype == pl.Int64, (method, column.name)
    reservations = extracted["reservations"]
    ids = random.Random(3).sample(reservations["id"].to_list(), 40)
    in_ledger = {r["id"]: r for r in _rows(world_url, "reservations", sa.column("id").in_(ids))}
    stamps = ("start_at", "end_at", "booked_at", "updated_at", *STAMPS)
    for row in reservations.filter(pl.col("id").is_in(ids)).iter_rows(named=True):
        ledger_row = in_ledger[row["id"]]
        for name in stamps:
            assert row[name] == ledger_row[name], (row["id"], name)
            if row[name] is not None:
                assert row[name].utcoffset() == timedelta(0)
        assert row["service_date"] == ledger_row["service_date"]
    checks = {r["id"]: r for r in _rows(world_url, "pos_checks")}
    for row in extracted["pos_checks"].head(20).iter_rows(named=True):
        assert (row["opened_at"], row["closed_at"]) == (
            checks[row["id"]]["opened_at"],
            checks[row["id"]]["closed_at"],
        )


def test_postgres_and_sqlite_extracts_agree(sqlite_url: str, postgresql_url: str) -> None:
    methods = [*TABLES, "dining_tables", "versions"]
    with (
        LedgerSnapshot.from_url(sqlite_url) as lite,
        LedgerSnapshot.from_url(postgresql_url) as pg,
    ):
        for method in methods:
            left, right = getattr(lite, method)(), getattr(pg, method)()
            if method == "outbox":  # PostgreSQL alone records the writer's transaction
                left, right = left.drop("txid"), right.drop("txid")
            assert_frame_equal(left, right, check_exact=True)
        assert lite.changed_reservation_ids(100) == pg.changed_reservation_ids(100)


def _bookable(ledger: Ledger, restaurant_id: int, now: datetime) -> tuple[date, str]:
    for days in range(1, 7):
        day = TODAY + timedelta(days=days)
        times = find_times(ledger, restaurant_id, day, 2, now=now)
        if times:
            return day, times[len(times) // 2].local_time
    raise AssertionError("no free table all week")


@pytest.mark.parametrize("backend", BACKENDS)
def test_incremental_extract_returns_exactly_what_changed(backend: str, tmp_path: Path) -> None:
    url = _world(backend, tmp_path, WorldSize("micro", 1, 7, 7, 80))
    try:
        with LedgerSnapshot.from_url(url) as snapshot:
            before = snapshot.reservations()
            _, offset = snapshot.changed_reservation_ids(0)
            assert offset == snapshot.last_offset() > 0
        booked = before.filter(pl.col("state") == "booked").sort("start_at")["id"].to_list()
        ledger = Ledger.open(url, migrate=False)
        now = datetime.combine(TODAY, time(1), tzinfo=UTC)
        cancelled = cancel(ledger, booked[0], now=now).id
        confirmed = advance(ledger, booked[1], "confirmed", now=now).id
        restaurant_id = int(before["restaurant_id"][0])
        day, at = _bookable(ledger, restaurant_id, now)
        made = book(ledger, BookingRequest(restaurant_id, day, at, 2), now=now)
        moved = None
        for candidate in booked[2:]:
            current = before.filter(pl.col("id") == candidate).row(0, named=True)
            try:
                modify(ledger, candidate, party_size=current["party_size"] % 4 + 1, now=now)
            except BookingError:
                continue
            moved = current
            break
        assert moved is not None
        ledger.dispose()

        with LedgerSnapshot.from_url(url) as snapshot:
            ids, last = snapshot.changed_reservation_ids(offset)
            assert ids == sorted({cancelled, confirmed, made.id, moved["id"]})
            assert last > offset
            assert snapshot.changed_reservation_ids(last) == ([], last)
            changed, after = snapshot.reservations(ids=ids), snapshot.reservations()
            nothing = snapshot.reservations(ids=[])
            versions = snapshot.versions()
            booking = attendance_frame(snapshot, "booking")
        assert_frame_equal(changed, after.filter(pl.col("id").is_in(ids)))
        assert_frame_equal(nothing, after.clear())
        assert_frame_equal(
            before.filter(~pl.col("id").is_in(ids)), after.filter(~pl.col("id").is_in(ids))
        )
        states = dict(zip(changed["id"], changed["state"], strict=True))
        assert states[cancelled] == "cancelled" and states[confirmed] == "confirmed"
        assert states[made.id] == "booked" and made.id not in before["id"]
        # The modification is kept as versions; the booking-time row sees the
        # party as it was booked, not as it is now.
        assert versions["reservation_id"].to_list() == [moved["id"], moved["id"]]
        assert versions["party_size"][0] == moved["party_size"]
        assert versions["valid_from"].to_list() == [moved["booked_at"], now]
        row = booking.filter(pl.col("reservation_id") == moved["id"]).row(0, named=True)
        assert (row["party_size"], row["start_at"]) == (moved["party_size"], moved["start_at"])
        now_party = changed.filter(pl.col("id") == moved["id"])["party_size"][0]
        assert now_party != moved["party_size"]
    finally:
        drop_database(url)


# ---------------------------------------------------------------- features

FEATURES = list(ATTENDANCE_FEATURES)
REMINDER_COLUMNS = [*FEATURES, "confirmed_by_cutoff", "start_at", "cutoff_at"]


def ledger_at(frames: dict[str, pl.DataFrame], at: datetime) -> dict[str, pl.DataFrame]:
    """The frames as the ledger stood at ``at``, rebuilt the plain way (the
    oracle for leakage tests): later bookings gone, later stamps unset, each
    state the one it had then, modifications not yet made undone."""
    r = frames["reservations"].filter(pl.col("booked_at") <= at)
    r = r.with_columns(pl.when(pl.col(c) <= at).then(pl.col(c)).alias(c) for c in STAMPS)
    state: pl.Expr = pl.lit("booked")
    for stamp, name in reversed(STATE_BY_STAMP):
        state = pl.when(pl.col(stamp).is_not_null()).then(pl.lit(name)).otherwise(state)
    r = r.with_columns(
        state.alias("state"),
        pl.when(pl.col("cancelled_at").is_not_null()).then(pl.col("cancelled_by")),
        pl.max_horizontal("booked_at", *STAMPS).alias("updated_at"),
    )
    out = dict(frames)
    versions = frames.get("versions")
    if versions is not None and not versions.is_empty():
        known = versions.filter(pl.col("valid_from") <= at)
        latest = known.sort("valid_from").group_by("reservation_id").last()
        r = r.update(
            latest.select(
                pl.col("reservation_id").alias("id"), "start_at", "party_size", "service_date"
            ),
            on="id",
        )
        out["versions"] = known
    out["reservations"] = r
    out["observed_covers"] = frames["observed_covers"].filter(pl.col("local_date") < at.date())
    return out


def test_attendance_frame_rows_columns_and_labels(frames: dict[str, pl.DataFrame]) -> None:
    reservations = frames["reservations"]
    booked = reservations.filter(pl.col("channel") != "walk_in")
    frame = attendance_frame(frames, "booking")
    assert frame.columns == [
        "reservation_id", "restaurant_id", "diner_id", "booked_at", "start_at", "cutoff_at",
        *FEATURES, *ATTENDANCE_LABELS,
    ]  # fmt: skip
    assert frame.height == booked.height
    assert frame["cutoff_at"].to_list() == frame["booked_at"].to_list()
    open_ended = booked.filter(
        pl.col("no_show_at").is_null()
        & pl.col("cancelled_at").is_null()
        & pl.col("completed_at").is_null()
    )
    assert frame["no_show"].null_count() == open_ended.height > 0
    train = labelled(frame)
    assert train.height == frame.height - open_ended.height
    assert train.select(pl.col(ATTENDANCE_LABELS).null_count().sum()).row(0) == (0, 0, 0)
    by_id = {r["id"]: r for r in booked.iter_rows(named=True)}
    for row in train.iter_rows(named=True):
        truth = by_id[row["reservation_id"]]
        late = truth["cancelled_at"] is not None and truth["cancelled_at"] > truth["start_at"] - (
            timedelta(hours=24)
        )
        assert row["no_show"] == (truth["state"] == "no_show")
        assert row["late_cancel"] == late and row["lost"] == (row["no_show"] or late)

    reminder = attendance_frame(frames, "reminder")
    assert reminder.columns[-4:] == ["confirmed_by_cutoff", *ATTENDANCE_LABELS]
    early = booked.filter(
        pl.col("cancelled_at")
        <= pl.max_horizontal(pl.col("start_at") - timedelta(hours=24), "booked_at")
    )
    assert reminder.height == booked.height - early.height and early.height > 0
    assert not set(early["id"]) & set(reminder["reservation_id"])

    zones = dict(zip(frames["restaurants"]["id"], frames["restaurants"]["timezone"], strict=True))
    for row in frame.sample(60, seed=1).iter_rows(named=True):
        local = row["start_at"].astimezone(ZoneInfo(zones[row["restaurant_id"]]))
        assert (row["local_hour"], row["weekday"]) == (local.hour, local.weekday())
        hours = (row["start_at"] - row["booked_at"]).total_seconds() / 3600
        assert row["lead_hours"] == pytest.approx(hours)
        assert row["cuisine"] and 1 <= row["price_tier"] <= 4


def _outcome(r: dict[str, Any]) -> datetime | None:
    stamps = [r[c] for c in ("no_show_at", "cancelled_at", "completed_at") if r[c] is not None]
    return min(stamps) if stamps else None


@pytest.mark.parametrize("cutoff", ["booking", "reminder"])
def test_histories_count_only_outcomes_known_by_the_cutoff(
    frames: dict[str, pl.DataFrame], cutoff: Cutoff
) -> None:
    """The as-of joins against a plain loop over every reservation."""
    frame = attendance_frame(frames, cutoff)
    booked = frames["reservations"].filter(pl.col("channel") != "walk_in").to_dicts()
    for row in frame.sample(80, seed=2).iter_rows(named=True):
        at = row["cutoff_at"]
        mine = [
            r
            for r in booked
            if r["diner_id"] == row["diner_id"] and r["id"] != row["reservation_id"]
        ]
        known = [r for r in mine if (o := _outcome(r)) is not None and o <= at]
        late = [
            r
            for r in known
            if r["cancelled_at"] and r["cancelled_at"] > r["start_at"] - timedelta(hours=24)
        ]
        assert (
            row["diner_prior_bookings"],
            row["diner_prior_no_shows"],
            row["diner_prior_cancellations"],
            row["diner_prior_late_cancellations"],
        ) == (
            len(known),
            sum(r["no_show_at"] is not None for r in known),
            sum(r["cancelled_at"] is not None for r in known),
            len(late),
        )
        due = [
            r
            for r in booked
            if r["restaurant_id"] == row["restaurant_id"]
            and r["id"] != row["reservation_id"]
            and r["cancelled_at"] is None
            and (o := _outcome(r)) is not None
            and o <= at
        ]
        no_shows = sum(r["no_show_at"] is not None for r in due)
        expected = (no_shows + 0.08 * 20) / (len(due) + 20)
        assert row["restaurant_prior_no_show_rate"] == pytest.approx(expected)
    assert frame["diner_prior_bookings"].max() > 2  # type: ignore[operator]


@pytest.mark.parametrize("cutoff", ["booking", "reminder"])
def test_no_feature_reads_anything_recorded_after_its_cutoff(
    frames: dict[str, pl.DataFrame], cutoff: Cutoff
) -> None:
    """THE leakage test: each sampled row, rebuilt from the ledger as it stood
    at the row's cut-off, has exactly the features it has on the full ledger."""
    full = attendance_frame(frames, cutoff)
    columns = REMINDER_COLUMNS if cutoff == "reminder" else [*FEATURES, "start_at", "cutoff_at"]
    rich = full.filter(pl.col("diner_prior_bookings") >= 2).sample(20, seed=4)
    sample = pl.concat([rich, full.sample(15, seed=5)])
    for row in sample.iter_rows(named=True):
        past = ledger_at(frames, row["cutoff_at"])
        rebuilt = attendance_frame(past, cutoff)
        mine = rebuilt.filter(pl.col("reservation_id") == row["reservation_id"])
        assert mine.height == 1
        assert mine.select(columns).row(0, named=True) == {c: row[c] for c in columns}
        # Nothing about the row's own outcome was known then.
        assert mine.select(ATTENDANCE_LABELS).row(0) == (None, None, None)


@pytest.mark.parametrize("cutoff", ["booking", "reminder"])
def test_frame_as_of_a_moment_is_the_frame_of_the_ledger_then(
    frames: dict[str, pl.DataFrame], cutoff: Cutoff
) -> None:
    for at in (datetime(2026, 5, 20, 18, tzinfo=UTC), datetime(2026, 5, 27, 3, tzinfo=UTC)):
        as_of = attendance_frame(frames, cutoff, as_of=at)
        then = attendance_frame(ledger_at(frames, at), cutoff, as_of=at)
        assert_frame_equal(as_of, then)
        assert as_of["booked_at"].max() <= at  # type: ignore[operator]
        assert as_of.height < attendance_frame(frames, cutoff).height
    assert_frame_equal(
        duration_frame(frames, as_of=at), duration_frame(ledger_at(frames, at), as_of=at)
    )


def test_changing_a_diners_later_outcomes_leaves_earlier_rows_alone(
    frames: dict[str, pl.DataFrame],
) -> None:
    full = attendance_frame(frames, "booking")
    regular = full.group_by("diner_id").len().sort("len", descending=True)["diner_id"][0]
    rows = full.filter(pl.col("diner_id") == regular).sort("cutoff_at")
    at = rows["cutoff_at"][rows.height // 2]
    # Same moments, other outcomes: completed -> no-show -> cancelled -> completed.
    r = frames["reservations"]
    later = (pl.col("diner_id") == regular) & (
        pl.min_horizontal("no_show_at", "cancelled_at", "completed_at") > at
    )
    flipped = r.with_columns(
        pl.when(later).then(pl.col("completed_at")).otherwise(pl.col("no_show_at")).alias("no_show_at"),
        pl.when(later).then(pl.col("no_show_at")).otherwise(pl.col("cancelled_at")).alias("cancelled_at"),
        pl.when(later).then(pl.col("cancelled_at")).otherwise(pl.col("completed_at")).alias("completed_at"),
    )  # fmt: skip
    assert r.filter(later).height >= 2
    changed = attendance_frame({**frames, "reservations": flipped}, "booking")
    columns = ["reservation_id", *FEATURES]
    earlier = pl.col("cutoff_at") <= at
    assert_frame_equal(
        full.filter(earlier).select(columns), changed.filter(earlier).select(columns)
    )
    # ...while the diner's rows after the change do see it.
    mine_later = earlier.not_() & (pl.col("diner_id") == regular)
    assert (
        not full.filter(mine_later)
        .select(columns)
        .equals(changed.filter(mine_later).select(columns))
    )


def test_a_modified_booking_is_seen_as_it_stood_at_each_cutoff(
    frames: dict[str, pl.DataFrame],
) -> None:
    r = frames["reservations"]
    target = (
        r.filter(
            (pl.col("state") == "booked")
            & (pl.col("start_at") - pl.col("booked_at") > timedelta(days=3))
        )
        .sort("start_at")
        .row(-1, named=True)
    )
    # Changed the night after booking: a day boundary between the two versions.
    moved_at = datetime.combine(target["booked_at"].date() + timedelta(days=1), time(1), UTC)
    new_start = target["start_at"] + timedelta(minutes=30)
    versions = pl.DataFrame(
        {
            "reservation_id": [target["id"]] * 2,
            "valid_from": [target["booked_at"], moved_at],
            "start_at": [target["start_at"], new_start],
            "party_size": [target["party_size"], target["party_size"] + 2],
            "service_date": [target["service_date"]] * 2,
        },
        schema_overrides={"valid_from": pl.Datetime("us", "UTC")},
    )
    now = r.with_columns(
        pl.when(pl.col("id") == target["id"])
        .then(pl.lit(new_start))
        .otherwise(pl.col("start_at"))
        .alias("start_at"),
        pl.when(pl.col("id") == target["id"])
        .then(target["party_size"] + 2)
        .otherwise(pl.col("party_size"))
        .alias("party_size"),
    )
    modified = {**frames, "reservations": now, "versions": versions}
    mine = pl.col("reservation_id") == target["id"]
    at_booking = attendance_frame(modified, "booking").filter(mine).row(0, named=True)
    assert (at_booking["start_at"], at_booking["party_size"]) == (
        target["start_at"],
        target["party_size"],
    )
    at_reminder = attendance_frame(modified, "reminder").filter(mine).row(0, named=True)
    assert (at_reminder["start_at"], at_reminder["party_size"]) == (
        new_start,
        target["party_size"] + 2,
    )
    for origin, party in ((moved_at.date(), 0), (moved_at.date() + timedelta(days=1), 2)):
        books = demand_frames(modified, origin).bookings.filter(mine)
        assert books["party_size"].to_list() == [target["party_size"] + party]


def test_duration_frame(frames: dict[str, pl.DataFrame]) -> None:
    frame = duration_frame(frames)
    done = frames["reservations"].filter(pl.col("completed_at").is_not_null())
    assert frame.height == done.height > 0
    assert set(frame["channel"]) >= {"walk_in", "web"}
    assert frame["area"].null_count() == 0
    assert set(frame["area"]) <= set(frames["dining_tables"]["area_name"])
    by_id = {r["id"]: r for r in done.iter_rows(named=True)}
    for row in frame.sample(40, seed=6).iter_rows(named=True):
        truth = by_id[row["reservation_id"]]
        minutes = (truth["completed_at"] - truth["seated_at"]).total_seconds() / 60
        assert row["duration_min"] == pytest.approx(minutes) and 20 < minutes < 300
        assert row["party_size"] == truth["party_size"]


def test_demand_frames_count_covers_and_the_books_as_of_the_origin(
    frames: dict[str, pl.DataFrame],
) -> None:
    origin = TODAY - timedelta(days=7)
    cut = datetime.combine(origin, time(), tzinfo=UTC)
    demand = demand_frames(frames, origin)
    assert demand.cutoff_at == cut
    rows = frames["reservations"].to_dicts()

    history = demand.history
    assert history["service_date"].max() == origin - timedelta(days=1)
    spans = history.group_by("restaurant_id").agg(
        pl.len(), (pl.col("service_date").max() - pl.col("service_date").min()).dt.total_days()
    )
    assert all(n == days + 1 for _, n, days in spans.iter_rows())  # every date, quiet ones too
    seated: dict[tuple[int, date], int] = {}
    for r in rows:
        if r["seated_at"] is not None and r["seated_at"] < cut and r["service_date"] < origin:
            key = (r["restaurant_id"], r["service_date"])
            seated[key] = seated.get(key, 0) + r["party_size"]
    got = {
        (row["restaurant_id"], row["service_date"]): row["covers"]
        for row in history.iter_rows(named=True)
        if row["covers"]
    }
    assert got == seated
    assert history.filter(pl.col("open").not_())["covers"].sum() == 0
    slots = demand.slot_history.group_by("restaurant_id", "service_date").agg(
        pl.col("covers").sum()
    )
    assert {(a, b): c for a, b, c in slots.iter_rows()} == seated
    assert demand.slot_history["slot_start"].to_list() == [
        m - m % 15 for m in demand.slot_history["slot_start"]
    ]

    books: dict[tuple[int, date], int] = {}
    for r in rows:
        gone = [t for t in (r["cancelled_at"], r["no_show_at"]) if t is not None and t < cut]
        day = r["service_date"]
        soon = origin <= day < origin + timedelta(days=28)
        if r["channel"] != "walk_in" and r["booked_at"] < cut and not gone and soon:
            key = (r["restaurant_id"], day)
            books[key] = books.get(key, 0) + r["party_size"]
    ahead = demand.on_the_books
    assert ahead.height == 28 * history["restaurant_id"].n_unique()
    assert ahead["days_ahead"].to_list() == [d.days for d in ahead["service_date"] - origin]
    got = {
        (row["restaurant_id"], row["service_date"]): row["booked_covers"]
        for row in ahead.iter_rows(named=True)
        if row["booked_covers"]
    }
    assert got == books and sum(books.values()) > 0

    # Nothing recorded after the cut-off reaches any of the frames.
    then = demand_frames(ledger_at(frames, cut - timedelta(microseconds=1)), origin)
    for name, frame in demand.as_dict().items():
        assert_frame_equal(frame, then.as_dict()[name])


def test_observed_covers_count_every_guest_and_gaps_stay_unknown(
    frames: dict[str, pl.DataFrame],
) -> None:
    origin = TODAY - timedelta(days=7)
    plain = demand_frames(frames, origin).history
    days = plain.filter(pl.col("restaurant_id") == 1).sort("service_date")
    quiet, busy = days.row(3, named=True), days.row(4, named=True)
    observed = pl.DataFrame(
        {
            "restaurant_id": [1, 1],
            "local_date": [quiet["service_date"], busy["service_date"]],
            "covers": [quiet["covers"] + 25, max(busy["covers"] - 5, 0)],
            "source": ["recruit", "recruit"],
        }
    )
    history = demand_frames({**frames, "observed_covers": observed}, origin).history
    counted = history.filter(pl.col("restaurant_id") == 1).sort("service_date")
    assert counted["covers"].to_list()[3:5] == [quiet["covers"] + 25, busy["covers"]]
    assert counted["covers"].null_count() == counted.height - 2  # the unobserved days
    others = pl.col("restaurant_id") != 1
    assert_frame_equal(history.filter(others), plain.filter(others))
