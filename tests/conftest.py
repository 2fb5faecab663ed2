"""Shared fixtures. Every ledger test runs on SQLite and, when
``SERVICESPHERE_TEST_POSTGRES_URL`` is set, on PostgreSQL too: one suite for both."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic import command

from booking_core.ledger import (
    Ledger,
    alembic_config,
    create_ledger_engine,
    normalise_url,
    upgrade,
)
from booking_core.restaurants import (
    CombinationSpec,
    PeriodSpec,
    RestaurantSpec,
    TableSpec,
    add_restaurant,
    table_ids_by_name,
)
from booking_core.schema import diners, outbox

POSTGRES_URL = os.environ.get("SERVICESPHERE_TEST_POSTGRES_URL", "")
REQUIRE_POSTGRES = os.environ.get("SERVICESPHERE_REQUIRE_POSTGRES") == "1"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _backends() -> list[object]:
    params: list[object] = ["sqlite"]
    if POSTGRES_URL or REQUIRE_POSTGRES:
        params.append(pytest.param("postgresql", marks=pytest.mark.postgres))
    else:
        params.append(
            pytest.param(
                "postgresql",
                marks=pytest.mark.skip(reason="set SERVICESPHERE_TEST_POSTGRES_URL to run"),
            )
        )
    return params


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    if not POSTGRES_URL:
        pytest.fail("SERVICESPHERE_REQUIRE_POSTGRES=1 but no SERVICESPHERE_TEST_POSTGRES_URL")
    return normalise_url(POSTGRES_URL)


def fresh_database_url(backend: str, tmp_path: Path) -> str:
    """A new, empty database: a file for SQLite, a schema-less scratch database
    for PostgreSQL (created here, dropped by ``drop_database``)."""
    if backend == "sqlite":
        return f"sqlite:///{(tmp_path / 'ledger.db').as_posix()}"
    admin = normalise_url(POSTGRES_URL)
    name = f"ss_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return sa.engine.make_url(admin).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    parsed = sa.engine.make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=_backends())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def ledger_url(backend: str, tmp_path: Path) -> Iterator[str]:
    url = fresh_database_url(backend, tmp_path)
    engine = create_ledger_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    drop_database(url)


# A fixed "now" before every date the tests book, so nothing is in the past.
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
# Every test restaurant is in London, on UTC until 29 March 2026 and an hour
# ahead after: a wall-clock time there is not the same time in UTC.
LONDON = ZoneInfo("Europe/London")


def local_time(day: date, hhmm: str) -> datetime:
    """``hhmm`` on ``day`` at the test restaurants (London), as an aware datetime."""
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=LONDON)


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    led = Ledger.open(ledger_url, migrate=False)
    led.clock = lambda: NOW
    yield led
    led.dispose()


def bistro_spec(**overrides: object) -> RestaurantSpec:
    """A small London bistro: six tables, one combination, dinner every day."""
    base: dict[str, object] = {
        "name": "Bistro Test",
        "timezone": LONDON.key,
        "currency": "GBP",
        "country": "GB",
        "locale": "en-GB",
        "latitude": 51.5,
        "longitude": -0.12,
        "cuisines": ("french",),
        "price_tier": 2,
        "tables": (
            TableSpec("T1", "Main", 1, 2),
            TableSpec("T2", "Main", 1, 2),
            TableSpec("T3", "Main", 2, 4, accessible=True),
            TableSpec("T4", "Main", 2, 4),
            TableSpec("W1", "Window", 2, 4, features=("window",)),
            TableSpec("W2", "Window", 2, 4, features=("window",)),
        ),
        "combinations": (CombinationSpec("W1+W2", ("W1", "W2"), 5, 8),),
        "periods": (
            PeriodSpec(
                "dinner",
                tuple(range(7)),
                "17:00",
                "23:00",
                "21:30",
                {2: 90, 4: 120, 8: 150},
                max_covers_per_slot=16,
                max_parties_per_slot=4,
            ),
        ),
        "deposit_min_party": 6,
        "deposit_per_cover_minor": 2000,
    }
    base.update(overrides)
    return RestaurantSpec(**base)  # type: ignore[arg-type]


def down_and_up_again(ledger: Ledger, revision: str) -> None:
    """Downgrade the ledger's schema to ``revision`` and upgrade it to the
    head again: what an existing ledger's rows go through in a migration."""
    cfg = alembic_config()
    with ledger.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    upgrade(ledger.engine)


def insert_diner(ledger: Ledger, name: str) -> int:
    """A bare diner (no account), as a booking's ``diner_id`` needs one."""
    with ledger.write() as conn:
        return int(
            conn.execute(
                diners.insert()
                .values(name=name, dietary=[], allergies=[], seating_preferences=[], created_at=NOW)
                .returning(diners.c.id)
            ).scalar_one()
        )


def outbox_payloads(ledger: Ledger, event_type: str) -> list[object]:
    """The payloads of the outbox's ``event_type`` events, oldest first."""
    with ledger.read() as conn:
        return list(
            conn.execute(
                sa.select(outbox.c.payload)
                .where(outbox.c.event_type == event_type)
                .order_by(outbox.c.event_offset)
            ).scalars()
        )


def three_tables_spec(**overrides: object) -> RestaurantSpec:
    """The bistro cut down to two tables for two (A, C) and one for four (B),
    no combination, no deposit; dinner 17:00-23:00 (London is on UTC in
    March), 90 minutes for two or three, 120 for four: small enough that a
    test can fill it by hand."""
    small: dict[str, object] = {
        "tables": (
            TableSpec("A", "Main", 1, 2),
            TableSpec("C", "Main", 1, 2),
            TableSpec("B", "Main", 2, 4),
        ),
        "combinations": (),
        "periods": (
            PeriodSpec("dinner", tuple(range(7)), "17:00", "23:00", "21:30", {3: 90, 4: 120}),
        ),
        "deposit_min_party": None,
    }
    small.update(overrides)
    return bistro_spec(**small)


def add_three_tables(ledger: Ledger, **overrides: object) -> tuple[int, dict[str, int]]:
    """``three_tables_spec`` added to ``ledger``: its id and table ids by name."""
    rid = add_restaurant(ledger, three_tables_spec(**overrides))
    with ledger.read() as conn:
        return rid, table_ids_by_name(conn, rid)


@pytest.fixture
def bistro(ledger: Ledger) -> int:
    return add_restaurant(ledger, bistro_spec())


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data sets not found at {SHARED_DATA}")
    return SHARED_DATA
