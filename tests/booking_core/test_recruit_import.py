"""The Recruit importer against the real files: expectations are read from the
CSVs with the standard library, independently of the importer's polars code."""

from __future__ import annotations

import csv
import gzip
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from booking_core.errors import InvalidRequest
from booking_core.importers.recruit import RecruitImportSummary, import_recruit, walk_in_covers
from booking_core.ledger import Ledger
from booking_core.schema import (
    dining_tables,
    holidays,
    observed_covers,
    outbox,
    reservation_tables,
    reservations,
    restaurants,
    service_periods,
    table_claims,
)

pytestmark = pytest.mark.realdata

LIMIT = 25
FILES = ("air_store_info.csv.gz", "air_reserve.csv.gz", "air_visit_data.csv.gz", "date_info.csv.gz")
TOKYO_OFFSET = timedelta(hours=9)


@dataclass(frozen=True)
class Recruit:
    path: Path
    stores: list[dict[str, str]]
    reserve: list[dict[str, str]]
    visits: list[dict[str, str]]
    dates: list[dict[str, str]]

    @property
    def first_stores(self) -> list[str]:
        return [s["air_store_id"] for s in self.stores[:LIMIT]]

    def reserve_of(self, stores: list[str]) -> list[dict[str, str]]:
        wanted = set(stores)
        return [r for r in self.reserve if r["air_store_id"] in wanted]

    def valid_reserve_of(self, stores: list[str]) -> list[dict[str, str]]:
        return [
            r
            for r in self.reserve_of(stores)
            if 1 <= int(r["reserve_visitors"]) <= 40
            and r["reserve_datetime"] <= r["visit_datetime"]
        ]


def _read(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _utc(local: str) -> datetime:
    """A Recruit local (Asia/Tokyo, UTC+9 all year) time as aware UTC, by hand."""
    naive = datetime.strptime(local, "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007
    return (naive - TOKYO_OFFSET).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def recruit(shared_data: Path) -> Recruit:
    path = shared_data / "recruit"
    if not all((path / name).is_file() for name in FILES):
        pytest.skip(f"the Recruit files are not all under {path}")
    return Recruit(path, *(_read(path / name) for name in FILES))


@pytest.fixture
def imported(ledger: Ledger, recruit: Recruit) -> RecruitImportSummary:
    return import_recruit(ledger, recruit.path, limit_stores=LIMIT)


def _count(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _counts(ledger: Ledger) -> dict[str, int]:
    tables = (restaurants, reservations, outbox, observed_covers, holidays)
    with ledger.read() as conn:
        return {t.name: _count(conn, t) for t in tables}


def _restaurant_ids(ledger: Ledger) -> dict[str, int]:
    with ledger.read() as conn:
        rows = conn.execute(sa.select(restaurants.c.external_ref, restaurants.c.id))
        return {ref: rid for ref, rid in rows}


def test_imports_the_limited_stores_without_inventing_a_floor(
    ledger: Ledger, recruit: Recruit, imported: RecruitImportSummary
) -> None:
    store = recruit.stores[0]
    genre, area = store["air_genre_name"], store["air_area_name"]
    valid = recruit.valid_reserve_of(recruit.first_stores)
    oversized = [
        r for r in recruit.reserve_of(recruit.first_stores) if int(r["reserve_visitors"]) > 40
    ]
    visits = [v for v in recruit.visits if v["air_store_id"] in set(recruit.first_stores)]

    assert imported.restaurants == LIMIT
    assert imported.reservations == len(valid) > 0
    assert imported.observed_days == len(visits)
    assert imported.holidays == sum(d["holiday_flg"] == "1" for d in recruit.dates)
    assert oversized, "the first stores should include a party over 40 to skip"
    assert imported.skipped_why == {"reserve_party_out_of_range": len(oversized)}
    assert imported.skipped == len(oversized)
    assert _restaurant_ids(ledger).keys() == set(recruit.first_stores)

    with ledger.read() as conn:
        row = conn.execute(
            sa.select(restaurants).where(restaurants.c.external_ref == store["air_store_id"])
        ).one()
        for table in (dining_tables, service_periods, reservation_tables, table_claims):
            assert _count(conn, table) == 0, table.name
    assert row.name == f"{genre} · {' '.join(area.split()[:2])}"
    assert genre in row.description and area in row.description
    assert row.cuisines == [genre.lower()]
    assert row.menu_highlights == []
    assert (row.price_tier, row.rating) == (2, None)
    assert row.latitude == pytest.approx(float(store["latitude"]))
    assert row.longitude == pytest.approx(float(store["longitude"]))
    assert (row.address, row.city) == (area, area.split()[0])
    assert (row.country, row.timezone, row.currency, row.locale) == (
        "JP",
        "Asia/Tokyo",
        "JPY",
        "ja-JP",
    )
    assert (row.source, row.created_at) == ("recruit", ledger.clock())


def test_reservation_times_are_tokyo_local_times_in_utc(
    ledger: Ledger, recruit: Recruit, imported: RecruitImportSummary
) -> None:
    ids = _restaurant_ids(ledger)
    valid = recruit.valid_reserve_of(recruit.first_stores)
    # A visit before 09:00 local falls on the previous UTC day; its service
    # date must stay the local one.
    row = next(r for r in valid if int(r["visit_datetime"][11:13]) < 9)
    start, booked = _utc(row["visit_datetime"]), _utc(row["reserve_datetime"])
    assert start.date() < date.fromisoformat(row["visit_datetime"][:10])

    with ledger.read() as conn:
        found = conn.execute(
            sa.select(reservations).where(
                reservations.c.restaurant_id == ids[row["air_store_id"]],
                reservations.c.start_at == start,
                reservations.c.booked_at == booked,
                reservations.c.party_size == int(row["reserve_visitors"]),
            )
        ).first()
        store = row["air_store_id"]
        in_ledger = Counter(
            tuple(row)
            for row in conn.execute(
                sa.select(
                    reservations.c.start_at, reservations.c.booked_at, reservations.c.party_size
                ).where(reservations.c.restaurant_id == ids[store])
            )
        )
    assert found is not None
    assert found.start_at == datetime.fromisoformat(row["visit_datetime"]).replace(
        tzinfo=UTC
    ) - timedelta(hours=9)
    assert found.service_date == date.fromisoformat(row["visit_datetime"][:10])
    assert found.end_at == start + timedelta(hours=2)
    assert (found.seated_at, found.completed_at, found.updated_at) == (
        start,
        found.end_at,
        found.end_at,
    )
    assert (found.state, found.channel, found.source, found.currency) == (
        "completed",
        "web",
        "recruit",
        "JPY",
    )
    assert (found.diner_id, found.guest_name, found.external_ref) == (None, "", None)

    # Every reservation of that store, as a multiset: nothing lost, nothing shifted.
    in_csv = Counter(
        (_utc(r["visit_datetime"]), _utc(r["reserve_datetime"]), int(r["reserve_visitors"]))
        for r in valid
        if r["air_store_id"] == store
    )
    assert in_ledger == in_csv


def test_observed_covers_are_the_daily_visitors(
    ledger: Ledger, recruit: Recruit, imported: RecruitImportSummary
) -> None:
    ids = _restaurant_ids(ledger)
    store = recruit.first_stores[0]
    visits = {
        v["visit_date"]: int(v["visitors"]) for v in recruit.visits if v["air_store_id"] == store
    }
    day = min(visits)
    with ledger.read() as conn:
        rows = conn.execute(
            sa.select(observed_covers).where(observed_covers.c.restaurant_id == ids[store])
        ).all()
    by_day = {r.local_date: r for r in rows}
    assert by_day[date.fromisoformat(day)].covers == visits[day]
    assert by_day[date.fromisoformat(day)].source == "recruit"
    assert {d.isoformat(): r.covers for d, r in by_day.items()} == visits


def test_walk_in_covers_are_observed_minus_reserved(
    ledger: Ledger, recruit: Recruit, imported: RecruitImportSummary
) -> None:
    ids = _restaurant_ids(ledger)
    reserved: defaultdict[tuple[str, str], int] = defaultdict(int)
    for r in recruit.valid_reserve_of(recruit.first_stores):
        reserved[r["air_store_id"], r["visit_datetime"][:10]] += int(r["reserve_visitors"])
    observed = {
        (v["air_store_id"], v["visit_date"]): int(v["visitors"])
        for v in recruit.visits
        if v["air_store_id"] in set(recruit.first_stores)
    }
    both = sorted(k for k in reserved if k in observed)
    under = next(k for k in both if 0 < reserved[k] < observed[k])
    over = next(k for k in both if reserved[k] > observed[k])
    without = next(k for k in sorted(observed) if k not in reserved)

    frame = walk_in_covers(ledger)
    assert frame.columns == [
        "restaurant_id",
        "local_date",
        "observed_covers",
        "reserved_covers",
        "walk_in_covers",
    ]
    assert frame.height == imported.observed_days
    table = {(r["restaurant_id"], r["local_date"]): r for r in frame.iter_rows(named=True)}

    def check(key: tuple[str, str], walk_ins: int) -> None:
        got = table[ids[key[0]], date.fromisoformat(key[1])]
        assert got["observed_covers"] == observed[key]
        assert got["reserved_covers"] == reserved.get(key, 0)
        assert got["walk_in_covers"] == walk_ins

    check(under, observed[under] - reserved[under])
    check(over, 0)  # more booked than counted: floored, never negative
    check(without, observed[without])

    # Only the asked restaurant, and on a connection as on a ledger.
    store = under[0]
    with ledger.read() as conn:
        one = walk_in_covers(conn, ids[store])
    assert set(one["restaurant_id"].to_list()) == {ids[store]}
    assert one.height == sum(k[0] == store for k in observed)

    # A cancelled party does not count as reserved.
    with ledger.write() as conn:
        victim = conn.execute(
            sa.select(reservations.c.id, reservations.c.party_size)
            .where(
                reservations.c.restaurant_id == ids[store],
                reservations.c.service_date == date.fromisoformat(under[1]),
            )
            .limit(1)
        ).one()
        conn.execute(
            reservations.update().where(reservations.c.id == victim.id).values(state="cancelled")
        )
    again = walk_in_covers(ledger, ids[store])
    day = again.filter(again["local_date"] == date.fromisoformat(under[1])).row(0, named=True)
    assert day["reserved_covers"] == reserved[under] - victim.party_size
    assert day["walk_in_covers"] == observed[under] - reserved[under] + victim.party_size


def test_every_imported_reservation_has_its_history_in_the_outbox(
    ledger: Ledger, imported: RecruitImportSummary
) -> None:
    with ledger.read() as conn:
        booked = {r.id: r for r in conn.execute(sa.select(reservations))}
        events = conn.execute(
            sa.select(outbox)
            .where(outbox.c.entity == "reservation")
            .order_by(outbox.c.event_offset)
        ).all()
        created = conn.execute(
            sa.select(outbox.c.entity_id).where(outbox.c.event_type == "restaurant.created")
        ).scalars()
        restaurant_ids = set(conn.execute(sa.select(restaurants.c.id)).scalars())
        txids = set(conn.execute(sa.select(outbox.c.txid)).scalars())

    assert imported.events == len(events) == 3 * imported.reservations == 3 * len(booked)
    assert set(created) == restaurant_ids
    history: defaultdict[int, list[sa.Row[tuple[object, ...]]]] = defaultdict(list)
    for event in events:
        history[event.entity_id].append(event)
    assert history.keys() == booked.keys()
    for rid, (first, seated, completed) in history.items():
        r = booked[rid]
        assert [e.event_type for e in (first, seated, completed)] == [
            "reservation.booked",
            "reservation.seated",
            "reservation.completed",
        ]
        assert [e.occurred_at for e in (first, seated, completed)] == [
            r.booked_at,
            r.seated_at,
            r.completed_at,
        ]
        assert {e.restaurant_id for e in (first, seated, completed)} == {r.restaurant_id}
        assert first.payload == {
            "state": "booked",
            "party_size": r.party_size,
            "service_date": r.service_date.isoformat(),
            "start_at": r.start_at.isoformat(),
            "end_at": r.end_at.isoformat(),
            "channel": "web",
            "table_ids": [],
            "diner_id": None,
        }
        assert seated.payload == {"from": "booked", "to": "seated"}
        assert completed.payload == {"from": "seated", "to": "completed"}
    # Offsets follow time, so replaying the outbox replays history in order.
    times = [e.occurred_at for e in events]
    assert times == sorted(times)
    if ledger.is_postgres:
        assert len(txids) == 1 and None not in txids
    else:
        assert txids == {None}


def test_reimport_is_refused_and_changes_nothing(
    ledger: Ledger, recruit: Recruit, imported: RecruitImportSummary
) -> None:
    before = _counts(ledger)
    with pytest.raises(InvalidRequest, match="already imported"):
        import_recruit(ledger, recruit.path, limit_stores=LIMIT)
    with pytest.raises(InvalidRequest, match="already imported"):
        import_recruit(ledger, recruit.path, limit_stores=LIMIT + 5)
    assert _counts(ledger) == before


def test_missing_folder_or_file_is_refused_before_writing(
    ledger: Ledger, recruit: Recruit, tmp_path: Path
) -> None:
    with pytest.raises(InvalidRequest, match="does not exist"):
        import_recruit(ledger, tmp_path / "nowhere")
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in FILES:
        if name != "air_visit_data.csv.gz":
            (partial / name).symlink_to(recruit.path / name)
    with pytest.raises(InvalidRequest, match=r"air_visit_data\.csv\.gz"):
        import_recruit(ledger, partial)
    with pytest.raises(InvalidRequest, match="at least 1"):
        import_recruit(ledger, recruit.path, limit_stores=0)
    assert set(_counts(ledger).values()) == {0}


def test_holidays_are_upserted_and_progress_is_reported(ledger: Ledger, recruit: Recruit) -> None:
    new_year = date(2016, 1, 1)
    with ledger.write() as conn:
        conn.execute(
            holidays.insert().values(country="JP", local_date=new_year, name="New Year's Day")
        )
    calls: list[tuple[str, int, int]] = []
    summary = import_recruit(
        ledger, recruit.path, limit_stores=3, progress=lambda *c: calls.append(c)
    )

    expected = {d["calendar_date"] for d in recruit.dates if d["holiday_flg"] == "1"}
    with ledger.read() as conn:
        rows = {r.local_date: r.name for r in conn.execute(sa.select(holidays))}
    assert {d.isoformat() for d in rows} == expected
    assert rows[new_year] == "New Year's Day"  # an existing row is kept as it was
    assert summary.holidays == len(expected)

    stages = list(dict.fromkeys(stage for stage, _, _ in calls))
    assert stages == [
        "read",
        "restaurants",
        "restaurant_events",
        "reservations",
        "events",
        "observed_covers",
        "holidays",
    ]
    last = {stage: (done, total) for stage, done, total in calls}
    assert all(done == total for done, total in last.values())
    assert last["restaurants"][1] == summary.restaurants == 3
    assert last["reservations"][1] == summary.reservations
    assert last["events"][1] == summary.events
    assert last["observed_covers"][1] == summary.observed_days


@pytest.mark.slow
def test_full_data_set(backend: str, recruit: Recruit, request: pytest.FixtureRequest) -> None:
    if backend != "sqlite":
        pytest.skip("timed on SQLite only; the small imports above cover PostgreSQL")
    ledger: Ledger = request.getfixturevalue("ledger")  # only now: no scratch database for a skip
    started = time.perf_counter()
    summary = import_recruit(ledger, recruit.path)
    seconds = time.perf_counter() - started
    print(f"\nfull Recruit import on SQLite: {seconds:.1f} s, {summary}")

    assert summary.restaurants == len(recruit.stores)
    oversized = sum(int(r["reserve_visitors"]) > 40 for r in recruit.reserve)
    assert summary.reservations == len(recruit.reserve) - oversized
    assert summary.observed_days == len(recruit.visits)
    frame = walk_in_covers(ledger)
    assert frame.height == summary.observed_days
    assert frame["walk_in_covers"].min() == 0
    expected = (frame["observed_covers"] - frame["reserved_covers"]).clip(lower_bound=0)
    assert frame["walk_in_covers"].to_list() == expected.to_list()
