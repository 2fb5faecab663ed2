"""The ledger: engine set-up, migrations and the per-service-day write lock."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from booking_core.errors import Conflict
from booking_core.schema import metadata, service_days
from booking_core.settings import get_settings

try:
    import fcntl
except ImportError:  # not POSIX: SQLite's own busy handler queues the writers
    fcntl = None  # type: ignore[assignment]


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def create_ledger_engine(url: str, *, pool_size: int = 10) -> sa.Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 60},
            pool_size=pool_size,
            max_overflow=2 * pool_size,
        )
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(
        url, pool_size=pool_size, max_overflow=2 * pool_size, pool_pre_ping=True
    )


def _configure_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the driver so that we can say
        # BEGIN IMMEDIATE: the write lock is taken before the availability
        # check, not at the first write (which would deadlock-retry).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "booking_core:migrations")
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent)."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


# deadlock_detected, serialization_failure: PostgreSQL rolled the transaction
# back whole, so sending it again is safe.
RETRY_SQLSTATES = frozenset({"40P01", "40001"})


@dataclass
class Ledger:
    """A handle on one ledger database plus the in-process caches keyed on it."""

    engine: sa.Engine
    clock: Callable[[], datetime] = utcnow
    caches: dict[str, Any] = field(default_factory=dict)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _write_lock: threading.RLock | None = field(default=None, repr=False)
    _write_depth: int = field(default=0, repr=False)
    _lock_fd: int | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        database = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if fcntl is not None and database and database != ":memory:":
            self._write_lock = threading.RLock()

    @classmethod
    def open(cls, url: str | None = None, *, migrate: bool = True, pool_size: int = 10) -> Ledger:
        engine = create_ledger_engine(url or get_settings().ledger_url, pool_size=pool_size)
        if migrate:
            upgrade(engine)
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def cache(self, name: str) -> dict[Any, Any]:
        with self._cache_lock:
            return self.caches.setdefault(name, {})

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction. On SQLite it holds the database write lock from
        its first statement; on PostgreSQL call ``lock_service_days`` before
        reading what the write depends on. A PostgreSQL deadlock or
        serialisation failure (the database wrote nothing) is raised as
        ``Conflict``: the request can simply be sent again."""
        try:
            with (
                self._writers(),
                self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn,
                conn.begin(),
            ):
                yield conn
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) not in RETRY_SQLSTATES:
                raise
            raise Conflict(
                "Another change to the same bookings crossed this one and nothing was "
                "written; send the request again."
            ) from exc

    @contextmanager
    def _writers(self) -> Iterator[None]:
        """SQLite writers queue on a lock file before BEGIN IMMEDIATE. SQLite's
        own busy handler polls, sleeping 1, 2, 5, 10... ms between tries, so two
        API workers booking at once lost most of their time asleep (p99 in the
        hundreds of ms); a blocked ``flock`` wakes the moment the holder is done.
        Threads of one process queue on a lock first (``flock`` is per file)."""
        if self._write_lock is None:
            yield
            return
        with self._write_lock:
            self._write_depth += 1
            try:
                if self._write_depth == 1:
                    fcntl.flock(self._write_lock_fd(), fcntl.LOCK_EX)
                yield
            finally:
                self._write_depth -= 1
                if self._write_depth == 0 and self._lock_fd is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _write_lock_fd(self) -> int:
        if self._lock_fd is None:
            path = f"{self.engine.url.database}-writer.lock"
            self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._lock_fd

    def dispose(self) -> None:
        self.engine.dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def lock_service_days(conn: sa.Connection, restaurant_id: int, dates: Iterable[date]) -> None:
    """Serialise writers per restaurant service day and bump the day's version.

    PostgreSQL: the row lock taken by the upsert is held to commit, so two
    bookings for one restaurant-day queue up while other days run in parallel.
    SQLite: BEGIN IMMEDIATE already serialises writers; the version bump still
    invalidates availability caches in other processes.
    """
    statement = _LOCK_DAY[conn.dialect.name]
    for day in sorted(set(dates)):
        conn.execute(statement, {"restaurant_id": restaurant_id, "local_date": day})


def hold_service_days(conn: sa.Connection, restaurant_id: int, dates: Iterable[date]) -> None:
    """Take the service-day locks of ``lock_service_days`` without bumping the
    days' versions: for a writer that must hold its days before it knows
    whether it will write on them (``book_many`` takes all of its days
    before its first outbox event; each booking still bumps its own day).

    A day book remembered under a version is reused by the next writer of
    its day only if nothing but that writer's own bump happened since, so a
    bump here would make the next booking of every held day read its day
    book again. PostgreSQL: a no-op upsert (a missing row is inserted at
    version 0, which is how a missing row reads anyway) still takes the row
    lock, held to commit. SQLite: nothing to do, BEGIN IMMEDIATE already
    serialises writers."""
    if conn.dialect.name != "postgresql":
        return
    for day in sorted(set(dates)):
        conn.execute(_HOLD_DAY, {"restaurant_id": restaurant_id, "local_date": day})


def _lock_day_statement(insert: Any, *, bump: int = 1) -> Any:
    return (
        insert(service_days)
        .values(
            restaurant_id=sa.bindparam("restaurant_id"),
            local_date=sa.bindparam("local_date"),
            bookings_version=bump,
        )
        .on_conflict_do_update(
            index_elements=["restaurant_id", "local_date"],
            set_={"bookings_version": service_days.c.bookings_version + bump},
        )
    )


_LOCK_DAY = {
    "postgresql": _lock_day_statement(postgresql.insert),
    "sqlite": _lock_day_statement(sqlite.insert),
}
_HOLD_DAY = _lock_day_statement(postgresql.insert, bump=0)


def drop_everything(engine: sa.Engine) -> None:
    """Tests only: remove every table, including Alembic's version table."""
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
