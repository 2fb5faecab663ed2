"""Extract: the ledger, read through DuckDB, as polars frames.

``LedgerSnapshot.from_url(url)`` attaches the ledger read-only (SQLite through
DuckDB's ``sqlite`` extension, PostgreSQL through its ``postgres`` extension)
and hands back one polars frame per table. Every frame has the same column
types on both engines, taken from ``booking_core.schema``:

=====================  ===========================================
ledger type            polars type
=====================  ===========================================
integers               ``Int64``
booleans               ``Boolean``
UTC timestamps         ``Datetime("us", "UTC")``
local dates            ``Date``
floats                 ``Float64``
strings, text, JSON    ``String`` (JSON as its text)
=====================  ===========================================

Each method reads the ledger as it stands when called. For an incremental
run, read the outbox first (``changed_reservation_ids``) and the rows after
it: a change committed in between is then read now *and* again next run,
never lost.

The extensions come from the PyPI wheels ``duckdb-extension-sqlite`` and
``duckdb-extension-postgres`` and are loaded from the files they ship; DuckDB
is told never to install or auto-load anything from the network.
"""

from __future__ import annotations

import atexit
import importlib
import shutil
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import duckdb
import polars as pl
import sqlalchemy as sa

from booking_core.ledger import Ledger, normalise_url
from booking_core.schema import UtcDateTime, metadata

# The frames feature builders read, in the order ``frames()`` returns them.
FEATURE_TABLES = (
    "reservations",
    "reservation_tables",
    "restaurants",
    "dining_tables",
    "service_periods",
    "special_dates",
    "observed_covers",
    "holidays",
    "versions",
)

# extension -> (wheel's Python package, the name DuckDB knows it by)
_EXTENSIONS = {
    "sqlite": ("duckdb_extension_sqlite", "sqlite_scanner"),
    "postgres": ("duckdb_extension_postgres", "postgres_scanner"),
}
_NO_NETWORK = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
_ALIAS = "ledger"
# Ids per query when extracting chosen reservations from PostgreSQL: a literal
# IN list is what DuckDB pushes down into its WHERE; a join would copy the table.
_IDS_PER_QUERY = 5_000

_link_lock = threading.Lock()
_link_dir: Path | None = None


def extension_path(name: str) -> Path:
    """A loadable path to the DuckDB extension ``name`` ("sqlite" or "postgres").

    DuckDB derives an extension's entry point from its file name
    (``sqlite_scanner_duckdb_cpp_init``) while the wheels name the file
    ``sqlite.duckdb_extension``, so the shipped file is linked (copied where
    links are refused) under its DuckDB name in a private temporary folder.
    """
    global _link_dir
    package, internal = _EXTENSIONS[name]
    module_file = importlib.import_module(package).__file__
    if module_file is None:
        raise RuntimeError(f"{package} has no files; reinstall duckdb-extension-{name}")
    shipped = (
        Path(module_file).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / f"{name}.duckdb_extension"
    )
    if not shipped.is_file():
        raise RuntimeError(
            f"{shipped} is missing: duckdb-extension-{name} must match duckdb {duckdb.__version__}"
        )
    with _link_lock:
        if _link_dir is None:
            _link_dir = Path(tempfile.mkdtemp(prefix="servicesphere-duckdb-"))
            atexit.register(shutil.rmtree, _link_dir, True)
        _link_dir.mkdir(parents=True, exist_ok=True)  # a temp cleaner may have swept it
        link = _link_dir / f"{internal}.duckdb_extension"
        if not link.exists():
            try:
                link.symlink_to(shipped)
            except OSError:
                shutil.copyfile(shipped, link)
    return link


def libpq_dsn(url: str) -> str:
    """``postgresql+psycopg://user:pw@host:port/db?sslmode=require`` as a libpq
    key/value connection string (``host=... port=... dbname=...``)."""
    parsed = sa.engine.make_url(normalise_url(url))
    if not parsed.drivername.startswith("postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {parsed.drivername}")
    parts: dict[str, object] = {
        "host": parsed.host,
        "port": parsed.port,
        "dbname": parsed.database,
        "user": parsed.username,
        "password": parsed.password,
    }
    for key, value in parsed.query.items():
        parts[key] = value[-1] if isinstance(value, tuple) else value
    return " ".join(f"{k}={_libpq_quote(str(v))}" for k, v in parts.items() if v is not None)


def _libpq_quote(value: str) -> str:
    if value and not any(c in value for c in " '\\\t\n"):
        return value
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _polars_type(column: sa.Column[object]) -> pl.DataType:
    kind = column.type
    if isinstance(kind, UtcDateTime):
        return pl.Datetime("us", "UTC")
    if isinstance(kind, sa.Boolean):
        return pl.Boolean()
    if isinstance(kind, sa.Integer):
        return pl.Int64()
    if isinstance(kind, sa.Float):
        return pl.Float64()
    if isinstance(kind, sa.Date):
        return pl.Date()
    return pl.String()


def _select_list(table: sa.Table, prefix: str = "") -> str:
    """The table's columns, with SQLite's integer booleans and PostgreSQL's
    JSON made plain booleans and text inside DuckDB."""
    out = []
    for column in table.columns:
        ref = f'{prefix}"{column.name}"'
        if isinstance(column.type, sa.Boolean):
            ref = f'CAST({ref} AS BOOLEAN) AS "{column.name}"'
        elif isinstance(column.type, sa.JSON):
            ref = f'CAST({ref} AS VARCHAR) AS "{column.name}"'
        out.append(ref)
    return ", ".join(out)


def _normalise(frame: pl.DataFrame, types: dict[str, pl.DataType]) -> pl.DataFrame:
    """Cast to the documented types; naive timestamps (SQLite) are UTC already."""
    casts = []
    for name, dtype in types.items():
        if name not in frame.columns:
            continue
        current = frame.schema[name]
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            if isinstance(current, pl.Datetime) and current.time_zone is not None:
                col = col.dt.convert_time_zone("UTC")
            elif isinstance(current, pl.Datetime):
                col = col.dt.replace_time_zone("UTC")
            else:  # text that DuckDB did not recognise as a timestamp
                col = col.cast(pl.String).str.to_datetime(time_zone="UTC", time_unit="us")
            casts.append(col.dt.cast_time_unit("us").alias(name))
        elif current != dtype:
            casts.append(col.cast(dtype))
    return frame.with_columns(casts) if casts else frame


class LedgerSnapshot:
    """A read-only DuckDB view of one ledger, returning polars frames.

    Use ``from_url`` (or ``from_ledger``) and close it when done, or use it as
    a context manager. Not safe to share between threads.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, engine: str) -> None:
        self._con = con
        self.engine = engine  # "sqlite" or "postgresql"

    # ---------------------------------------------------------------- opening

    @classmethod
    def from_url(cls, url: str, *, threads: int | None = None) -> LedgerSnapshot:
        """Attach the ledger at a SQLAlchemy-style URL (``sqlite:///path.db``,
        ``postgresql[+psycopg]://user@host:port/db``) read-only."""
        url = normalise_url(url)
        parsed = sa.engine.make_url(url)
        config: dict[str, str | bool | int | float | list[str]] = dict(_NO_NETWORK)
        if threads is not None:
            config["threads"] = threads
        con = duckdb.connect(":memory:", config=config)
        try:
            # Session time zone UTC: TIMESTAMPTZ values reach polars tagged UTC.
            con.execute("SET TimeZone = 'UTC'")
            if parsed.drivername.startswith("sqlite"):
                path = parsed.database
                if not path or path == ":memory:":
                    raise ValueError("an in-memory SQLite ledger cannot be attached")
                if not Path(path).is_file():
                    raise FileNotFoundError(f"no SQLite ledger at {path}")
                con.execute(f"LOAD {_sql_literal(str(extension_path('sqlite')))}")
                con.execute(f"ATTACH {_sql_literal(path)} AS {_ALIAS} (TYPE sqlite, READ_ONLY)")
                return cls(con, "sqlite")
            if parsed.drivername.startswith("postgresql"):
                con.execute(f"LOAD {_sql_literal(str(extension_path('postgres')))}")
                dsn = _sql_literal(libpq_dsn(url))
                con.execute(f"ATTACH {dsn} AS {_ALIAS} (TYPE postgres, READ_ONLY)")
                return cls(con, "postgresql")
            raise ValueError(f"unsupported ledger URL scheme: {parsed.drivername}")
        except BaseException:
            con.close()
            raise

    @classmethod
    def from_ledger(cls, ledger: Ledger, *, threads: int | None = None) -> LedgerSnapshot:
        return cls.from_url(
            ledger.engine.url.render_as_string(hide_password=False), threads=threads
        )

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---------------------------------------------------------------- reading

    def query(self, sql: str, params: Sequence[object] | None = None) -> pl.DataFrame:
        """Run DuckDB SQL (tables as ``ledger.<name>``) and return a polars frame."""
        return self._con.execute(sql, params or []).pl()

    def table(
        self, name: str, *, where: str = "", params: Sequence[object] | None = None
    ) -> pl.DataFrame:
        """Any ledger table, all columns, primary-key order, documented types;
        ``where`` is DuckDB SQL over its columns (``?`` for ``params``)."""
        table = metadata.tables[name]
        order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
        sql = f"SELECT {_select_list(table)} FROM {_ALIAS}.{name}"
        sql += f" WHERE {where}" if where else ""
        sql += f" ORDER BY {order}" if order else ""
        return _normalise(self.query(sql, params), self._types(table))

    @staticmethod
    def _types(table: sa.Table) -> dict[str, pl.DataType]:
        return {c.name: _polars_type(c) for c in table.columns}

    def reservations(self, ids: Iterable[int] | None = None) -> pl.DataFrame:
        """Reservations (walk-ins included); only those with ``ids`` when given."""
        if ids is None:
            return self.table("reservations")
        return self._by_ids("reservations", "id", ids)

    def reservation_tables(self, reservation_ids: Iterable[int] | None = None) -> pl.DataFrame:
        """Table assignments, released ones kept (the seating history)."""
        if reservation_ids is None:
            return self.table("reservation_tables")
        return self._by_ids("reservation_tables", "reservation_id", reservation_ids)

    def _by_ids(self, name: str, column: str, ids: Iterable[int]) -> pl.DataFrame:
        wanted = sorted({int(i) for i in ids})
        if self.engine == "sqlite":  # a local scan: one semi-join is cheapest
            return self.table(
                name, where=f'"{column}" IN (SELECT UNNEST(?::BIGINT[]))', params=[wanted]
            )
        if not wanted:
            return self.table(name, where="FALSE")
        chunks = [
            self.table(name, where=f'"{column}" IN ({", ".join(map(str, part))})')
            for part in (
                wanted[i : i + _IDS_PER_QUERY] for i in range(0, len(wanted), _IDS_PER_QUERY)
            )
        ]
        return pl.concat(chunks).sort(metadata.tables[name].primary_key.columns[0].name)

    def restaurants(self) -> pl.DataFrame:
        return self.table("restaurants")

    def dining_tables(self) -> pl.DataFrame:
        """Tables with ``area_name``, the name of their dining area."""
        table = metadata.tables["dining_tables"]
        sql = (
            f"SELECT {_select_list(table, 't.')}, a.name AS area_name "
            f"FROM {_ALIAS}.dining_tables t JOIN {_ALIAS}.dining_areas a ON a.id = t.area_id "
            "ORDER BY t.id"
        )
        types = self._types(table) | {"area_name": pl.String()}
        return _normalise(self.query(sql), types)

    def diners(self) -> pl.DataFrame:
        return self.table("diners")

    def pos_checks(self) -> pl.DataFrame:
        return self.table("pos_checks")

    def service_periods(self) -> pl.DataFrame:
        return self.table("service_periods")

    def special_dates(self) -> pl.DataFrame:
        return self.table("special_dates")

    def observed_covers(self) -> pl.DataFrame:
        return self.table("observed_covers")

    def holidays(self) -> pl.DataFrame:
        return self.table("holidays")

    def truth(self) -> pl.DataFrame:
        """What the synthetic world knew (``world_reservation_truth``): for
        benchmarks that judge models against it, never a feature."""
        return self.table("world_reservation_truth")

    # ---------------------------------------------------------------- outbox

    def _outbox_sql(self, columns: str, where: str) -> str:
        """SQL over the outbox rows matching ``where`` (plain SQL valid on both
        engines; ``{outbox}`` in it names the outbox table).

        Writers commit events in offset order (``booking_core.outbox``), so
        whatever is visible is a prefix of the feed."""
        if self.engine == "sqlite":
            where = where.format(outbox=f"{_ALIAS}.outbox")
            return f"SELECT {columns} FROM {_ALIAS}.outbox WHERE {where}"
        inner = f"SELECT {columns} FROM outbox WHERE ({where.format(outbox='outbox')})"
        return f"SELECT * FROM postgres_query('{_ALIAS}', {_sql_literal(inner)})"

    def outbox(self, after_offset: int = 0) -> pl.DataFrame:
        """Events with ``event_offset > after_offset``, oldest first; ``payload``
        is the event's JSON text."""
        table = metadata.tables["outbox"]
        columns = ", ".join(
            "payload::text AS payload"
            if c.name == "payload" and self.engine == "postgresql"
            else f'"{c.name}"'
            for c in table.columns
        )
        sql = self._outbox_sql(columns, f"event_offset > {int(after_offset)}")
        return _normalise(self.query(sql + " ORDER BY event_offset"), self._types(table))

    def last_offset(self) -> int:
        """The offset of the newest event a reader may acknowledge (0: none)."""
        found = self.query(
            f"SELECT max(event_offset) FROM ({self._outbox_sql('event_offset', 'TRUE')})"
        )
        last = found.item()
        return int(last) if last is not None else 0

    def changed_reservation_ids(self, after_offset: int = 0) -> tuple[list[int], int]:
        """Reservations touched by events after ``after_offset``, and the offset
        to resume from next time (``after_offset`` itself when nothing new).

        A changed reservation can also change features of its diner's and its
        restaurant's later reservations (their histories): refresh those too.
        """
        sql = self._outbox_sql(
            "entity, entity_id, event_offset", f"event_offset > {int(after_offset)}"
        )
        ids_sql = "list(entity_id) FILTER (WHERE entity = 'reservation')"
        found = self.query(
            f"SELECT list_sort(list_distinct({ids_sql})) AS ids, max(event_offset) AS last "
            f"FROM ({sql})"
        ).row(0)
        ids, last = found
        return [int(i) for i in ids or []], int(last) if last is not None else int(after_offset)

    def versions(self) -> pl.DataFrame:
        """Every version of each reservation that was ever modified, from its
        outbox events: what the ledger said from ``valid_from`` on.

        ==============  =====================  =====================================
        column          type                   meaning
        ==============  =====================  =====================================
        reservation_id  Int64                  the reservation
        valid_from      Datetime(us, UTC)      when this version was recorded
        start_at        Datetime(us, UTC)      planned start in this version
        party_size      Int64                  party size in this version
        service_date    Date                   local service date in this version
        deposit_required Boolean               a deposit asked in this version (null:
                                               recorded before versions said so)
        ==============  =====================  =====================================

        Reservations never modified are absent: their row is their only version.
        """
        payload = "payload::text AS payload" if self.engine == "postgresql" else "payload"
        source = self._outbox_sql(
            f"entity_id, event_offset, event_type, occurred_at, {payload}",
            "entity = 'reservation' "
            "AND event_type IN ('reservation.booked', 'reservation.modified') "
            "AND entity_id IN (SELECT entity_id FROM {outbox} "
            "WHERE event_type = 'reservation.modified')",
        )
        sql = f"""
            SELECT entity_id AS reservation_id, occurred_at AS valid_from,
                CAST(json_extract_string(payload, CASE WHEN event_type = 'reservation.modified'
                    THEN '$.to.start_at' ELSE '$.start_at' END) AS TIMESTAMPTZ) AS start_at,
                CAST(json_extract_string(payload, CASE WHEN event_type = 'reservation.modified'
                    THEN '$.to.party_size' ELSE '$.party_size' END) AS BIGINT) AS party_size,
                CAST(json_extract_string(payload, '$.service_date') AS DATE) AS service_date,
                CAST(json_extract_string(payload, CASE WHEN event_type = 'reservation.modified'
                    THEN '$.to.deposit_required' ELSE '$.deposit_required' END) AS BOOLEAN)
                    AS deposit_required
            FROM ({source}) ORDER BY reservation_id, event_offset
        """
        types: dict[str, pl.DataType] = {
            "reservation_id": pl.Int64(),
            "valid_from": pl.Datetime("us", "UTC"),
            "start_at": pl.Datetime("us", "UTC"),
            "party_size": pl.Int64(),
            "service_date": pl.Date(),
            "deposit_required": pl.Boolean(),
        }
        return _normalise(self.query(sql), types)

    # ---------------------------------------------------------------- bundles

    def frames(self, names: Iterable[str] = FEATURE_TABLES) -> dict[str, pl.DataFrame]:
        """Several frames by name (method names above), e.g. for ``models.features``."""
        return {name: getattr(self, name)() for name in names}


__all__ = ["FEATURE_TABLES", "LedgerSnapshot", "extension_path", "libpq_dsn"]
