"""Booking throughput and availability latency of the booking core, against its targets.

    python benchmarks/booking.py            # about two minutes; writes results/booking.json
    python benchmarks/booking.py --profile  # also cProfile the single-process SQLite loop

Throughput counts accepted bookings only (refusals are reported as the accept
ratio). Each engine also gets a raw-driver baseline in the same run: the same
reservation rows inserted one transaction per row with no checks, so the ratio
shows what acceptance costs over the bare write.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing as mp
import os
import platform
import pstats
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from booking_core.availability import find_times
from booking_core.errors import BookingError
from booking_core.ledger import Ledger, normalise_url
from booking_core.reservations import BookingRequest, book
from booking_core.restaurants import PeriodSpec, RestaurantSpec, TableSpec, add_restaurant

RESULTS = Path(__file__).resolve().parent / "results" / "booking.json"
POSTGRES_ADMIN_URL = os.environ.get(
    "SERVICESPHERE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TARGET_SQLITE_BOOKINGS_PER_S = 1000.0
TARGET_AVAILABILITY_P99_MS = 10.0

# Each throughput figure is the median of a few rounds (a fresh restaurant each,
# its raw-driver baseline right after it), so that a noisy neighbour on a
# shared machine moves one round rather than the result.
ROUNDS = 3
SQLITE_REQUESTS = 3000  # per round
POSTGRES_REQUESTS = 2000  # per round
PER_PROCESS_REQUESTS = 2000  # per process and round
BOOKING_DAYS = 120  # spread so that nearly every request fits
AVAILABILITY_BOOKINGS = 400
AVAILABILITY_WARM_CALLS = 10_000
AVAILABILITY_COLD_CALLS = 2_000
SEED = 20260301

# (party size, weight): mostly couples and foursomes, as in real demand.
PARTY_MIX = ((1, 2), (2, 40), (3, 12), (4, 25), (5, 6), (6, 8), (7, 3), (8, 4))


def bench_spec(name: str) -> RestaurantSpec:
    """A 60-table restaurant with lunch and dinner and no pacing limits."""
    tables = (
        [TableSpec(f"A{i}", "Main", 1, 2) for i in range(20)]
        + [TableSpec(f"B{i}", "Main", 2, 4) for i in range(25)]
        + [TableSpec(f"C{i}", "Terrace", 4, 6) for i in range(10)]
        + [TableSpec(f"D{i}", "Terrace", 6, 8) for i in range(5)]
    )
    turns = {2: 60, 4: 75, 6: 90, 8: 105}
    return RestaurantSpec(
        name=name,
        timezone="Europe/London",
        currency="GBP",
        country="GB",
        locale="en-GB",
        latitude=51.5,
        longitude=-0.12,
        cuisines=("british",),
        price_tier=2,
        tables=tuple(tables),
        periods=(
            PeriodSpec("lunch", tuple(range(7)), "11:00", "16:00", "15:00", turns),
            PeriodSpec("dinner", tuple(range(7)), "17:00", "00:00", "22:30", turns),
        ),
    )


SLOT_TIMES = [f"{m // 60:02d}:{m % 60:02d}" for m in range(11 * 60, 15 * 60 + 1, 15)] + [
    f"{m // 60:02d}:{m % 60:02d}" for m in range(17 * 60, 22 * 60 + 31, 15)
]


def first_day() -> date:
    # Relative to the real clock: book() refuses times that have passed.
    return datetime.now(UTC).date() + timedelta(days=3)


def requests_for(restaurant_id: int, n: int, seed: int) -> list[BookingRequest]:
    rng = random.Random(seed)
    sizes, weights = zip(*PARTY_MIX, strict=True)
    start = first_day()
    return [
        BookingRequest(
            restaurant_id,
            start + timedelta(days=rng.randrange(BOOKING_DAYS)),
            rng.choice(SLOT_TIMES),
            rng.choices(sizes, weights)[0],
            guest_name=f"Guest {i}",
        )
        for i in range(n)
    ]


@dataclass(frozen=True)
class LoopResult:
    accepted: int
    attempted: int
    elapsed_s: float

    @property
    def per_s(self) -> float:
        return self.accepted / self.elapsed_s

    @property
    def accept_ratio(self) -> float:
        return self.accepted / self.attempted


def booking_loop(ledger: Ledger, requests: Sequence[BookingRequest]) -> LoopResult:
    accepted = 0
    t0 = time.perf_counter()
    for request in requests:
        try:
            book(ledger, request)
        except BookingError:
            continue
        accepted += 1
    return LoopResult(accepted, len(requests), time.perf_counter() - t0)


# ---------------------------------------------------------------- raw-driver baselines


def _raw_rows(restaurant_id: int, n: int) -> Iterator[tuple[Any, ...]]:
    """Reservation rows like the ones book() writes, for the plain-driver loops."""
    rng = random.Random(SEED)
    start = first_day()
    now = datetime.now(UTC).replace(tzinfo=None)
    for i in range(n):
        day = start + timedelta(days=rng.randrange(BOOKING_DAYS))
        begin = datetime.combine(day, datetime.min.time()) + timedelta(hours=19)
        yield (
            restaurant_id,
            f"Raw {i}",
            day,
            begin,
            begin + timedelta(minutes=90),
            2,
            "web",
            "booked",
            "",
            "GBP",
            now,
            now,
        )


RAW_COLUMNS = (
    "restaurant_id, guest_name, service_date, start_at, end_at, party_size, channel, state, "
    "special_requests, currency, booked_at, updated_at"
)


def _sqlite_value(value: Any) -> Any:
    """Text in the formats SQLAlchemy's SQLite dialect writes."""
    if isinstance(value, datetime):
        return value.isoformat(" ", "microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def raw_sqlite_inserts(path: Path, restaurant_id: int, n: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    # The same pragmas as the ledger's engine, so only the booking logic differs.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    sql = f"INSERT INTO reservations ({RAW_COLUMNS}) VALUES ({', '.join('?' * 12)})"
    rows = [tuple(_sqlite_value(v) for v in row) for row in _raw_rows(restaurant_id, n)]
    t0 = time.perf_counter()
    for row in rows:
        conn.execute("BEGIN")
        conn.execute(sql, row)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return n / elapsed


def raw_postgres_inserts(url: str, restaurant_id: int, n: int) -> float:
    sql = f"INSERT INTO reservations ({RAW_COLUMNS}) VALUES ({', '.join(['%s'] * 12)})"
    rows = [
        tuple(v.replace(tzinfo=UTC) if isinstance(v, datetime) else v for v in row)
        for row in _raw_rows(restaurant_id, n)
    ]
    with psycopg.connect(url) as conn:
        t0 = time.perf_counter()
        for row in rows:
            conn.execute(sql, row)
            conn.commit()
        elapsed = time.perf_counter() - t0
    return n / elapsed


@dataclass(frozen=True)
class Measured:
    rounds: list[LoopResult]
    raw_rounds: list[float]  # rows/s of the raw-driver baseline, one per round

    @property
    def per_s(self) -> float:
        return statistics.median(r.per_s for r in self.rounds)

    @property
    def raw_per_s(self) -> float | None:
        return statistics.median(self.raw_rounds) if self.raw_rounds else None

    @property
    def accept_ratio(self) -> float:
        return sum(r.accepted for r in self.rounds) / sum(r.attempted for r in self.rounds)


def measure_rounds(
    url: str, label: str, requests: int, raw: Callable[[int, int], float] | None
) -> Measured:
    """Rounds of the booking loop on one ledger, each followed by its raw baseline."""
    ledger = Ledger.open(url)
    rounds: list[LoopResult] = []
    raws: list[float] = []
    try:
        for i in range(ROUNDS):
            rid = add_restaurant(ledger, bench_spec(f"{label} {i}"))
            booking_loop(ledger, requests_for(rid, 50, SEED + 99))  # warm caches and the pool
            rounds.append(booking_loop(ledger, requests_for(rid, requests, SEED + i)))
            if raw is not None:
                raws.append(raw(rid, requests))
    finally:
        ledger.dispose()
    return Measured(rounds, raws)


def profile_sqlite(workdir: Path) -> str:
    ledger = Ledger.open(f"sqlite:///{(workdir / 'profile.db').as_posix()}")
    try:
        rid = add_restaurant(ledger, bench_spec("Bench Profile"))
        booking_loop(ledger, requests_for(rid, 50, SEED + 99))
        profiler = cProfile.Profile()
        profiler.enable()
        booking_loop(ledger, requests_for(rid, 1000, SEED + 7))
        profiler.disable()
    finally:
        ledger.dispose()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_callees(r"reservations.py:\d+\(book\)")
    stats.print_stats(30)
    return out.getvalue()


# ---------------------------------------------------------------- SQLite


def sqlite_single(workdir: Path) -> Measured:
    path = workdir / "single.db"
    return measure_rounds(
        f"sqlite:///{path.as_posix()}",
        "Bench Single",
        SQLITE_REQUESTS,
        lambda rid, n: raw_sqlite_inserts(path, rid, n),
    )


def _process_worker(url: str, restaurant_id: int, seed: int, barrier: Any, out: Any) -> None:
    """One of the concurrent processes: its own engine, pool and caches."""
    ledger = Ledger.open(url, migrate=False)
    try:
        booking_loop(ledger, requests_for(restaurant_id, 50, seed + 99))
        requests = requests_for(restaurant_id, PER_PROCESS_REQUESTS, seed)
        barrier.wait(120)
        result = booking_loop(ledger, requests)
        out.put((result.accepted, result.attempted, result.elapsed_s))
    finally:
        ledger.dispose()


def sqlite_two_processes(workdir: Path) -> Measured:
    url = f"sqlite:///{(workdir / 'two.db').as_posix()}"
    Ledger.open(url).dispose()  # migrate once, before the processes start
    ctx = mp.get_context("spawn")
    rounds = []
    for r in range(ROUNDS):
        ledger = Ledger.open(url, migrate=False)
        try:
            # One restaurant per process: they contend for the database, not for tables.
            rids = [add_restaurant(ledger, bench_spec(f"Bench Proc {r}.{i}")) for i in range(2)]
        finally:
            ledger.dispose()
        barrier = ctx.Barrier(2)
        out = ctx.Queue()
        procs = [
            ctx.Process(target=_process_worker, args=(url, rid, SEED + 10 * r + i, barrier, out))
            for i, rid in enumerate(rids)
        ]
        for p in procs:
            p.start()
        parts = [out.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(60)
        if any(p.exitcode != 0 for p in procs):
            raise RuntimeError("a benchmark process failed")
        # Both started together at the barrier: the aggregate rate is over the longer run.
        rounds.append(
            LoopResult(
                sum(a for a, _, _ in parts),
                sum(n for _, n, _ in parts),
                max(e for _, _, e in parts),
            )
        )
    return Measured(rounds, [])


# ---------------------------------------------------------------- PostgreSQL


@contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str]:
    """A new database for the run, dropped afterwards; yields its libpq URL."""
    admin = sa.engine.make_url(normalise_url(admin_url)).set(drivername="postgresql")
    name = f"ss_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_version(admin_url: str) -> str | None:
    libpq = sa.engine.make_url(normalise_url(admin_url)).set(drivername="postgresql")
    try:
        with psycopg.connect(libpq.render_as_string(hide_password=False), connect_timeout=3) as c:
            row = c.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return None
    return str(row[0]) if row else None


def postgres_single(admin_url: str) -> Measured:
    with scratch_postgres(admin_url) as url:
        return measure_rounds(
            url,
            "Bench Postgres",
            POSTGRES_REQUESTS,
            lambda rid, n: raw_postgres_inserts(url, rid, n),
        )


# ---------------------------------------------------------------- availability


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p99_ms: float
    calls: int


def _latency(samples: list[float]) -> Latency:
    ms = sorted(s * 1000 for s in samples)
    return Latency(statistics.median(ms), ms[min(len(ms) - 1, round(0.99 * len(ms)))], len(ms))


def fill_day(ledger: Ledger, rid: int, day: date, target: int) -> int:
    """Book the day up to ``target`` reservations: passes over the day in time
    order (as a book fills), each with random party sizes."""
    rng = random.Random(SEED + 1)
    sizes, weights = zip(*PARTY_MIX, strict=True)
    booked = 0
    for _ in range(20):
        for at in SLOT_TIMES:
            for _ in range(3):
                if booked >= target:
                    return booked
                try:
                    book(ledger, BookingRequest(rid, day, at, rng.choices(sizes, weights)[0]))
                except BookingError:
                    continue
                booked += 1
    return booked


def availability(workdir: Path) -> tuple[Latency, Latency, int, int]:
    ledger = Ledger.open(f"sqlite:///{(workdir / 'availability.db').as_posix()}")
    try:
        rid = add_restaurant(ledger, bench_spec("Bench Availability"))
        day = first_day() + timedelta(days=1)
        held = fill_day(ledger, rid, day, AVAILABILITY_BOOKINGS)
        rng = random.Random(SEED + 2)

        def one_call() -> Callable[[], object]:
            party = rng.randint(1, 8)
            lo: str | None = None
            hi: str | None = None
            if rng.random() < 0.5:  # half the searches narrow the time window
                lo, hi = sorted(rng.sample(SLOT_TIMES, 2))
            return lambda: find_times(ledger, rid, day, party, earliest=lo, latest=hi)

        offered = len(find_times(ledger, rid, day, 2))
        warm = []
        for _ in range(AVAILABILITY_WARM_CALLS):
            call = one_call()
            t0 = time.perf_counter()
            call()
            warm.append(time.perf_counter() - t0)
        cold = []
        for _ in range(AVAILABILITY_COLD_CALLS):
            call = one_call()
            ledger.caches.clear()  # floor and day book reloaded from the database
            t0 = time.perf_counter()
            call()
            cold.append(time.perf_counter() - t0)
    finally:
        ledger.dispose()
    return _latency(warm), _latency(cold), held, offered


# ---------------------------------------------------------------- report


def code_version() -> dict[str, Any]:
    """The commit measured, and whether booking_core had uncommitted changes."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    status = git("status", "--porcelain", "--", "booking_core")
    return {"commit": git("rev-parse", "HEAD"), "booking_core_dirty": bool(status)}


def machine(pg_version: str | None) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sa.__version__,
        "postgres": pg_version,
    }


def _fmt(value: float | None, unit: str) -> str:
    return "skipped" if value is None else f"{value:,.1f} {unit}"


def _ratio(ours: float, raw: float | None) -> float | None:
    return ours / raw if raw else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--profile", action="store_true", help="cProfile the SQLite booking loop")
    args = parser.parse_args(argv)
    # Wide enough for the table when the output is piped to a file or CI log.
    console = Console(width=None if sys.stdout.isatty() else 120)
    started = time.perf_counter()
    pg_version = postgres_version(POSTGRES_ADMIN_URL)

    profile_report = None
    with tempfile.TemporaryDirectory(prefix="ss_bench_") as tmp:
        workdir = Path(tmp)
        with console.status("SQLite, one process"):
            single = sqlite_single(workdir)
        with console.status("SQLite, two processes"):
            two = sqlite_two_processes(workdir)
        pg: Measured | None = None
        if pg_version is not None:
            with console.status("PostgreSQL, one process"):
                pg = postgres_single(POSTGRES_ADMIN_URL)
        with console.status("availability"):
            warm, cold, held, offered = availability(workdir)
        if args.profile:
            with console.status("profiling"):
                profile_report = profile_sqlite(workdir)

    sqlite_ok = single.per_s >= TARGET_SQLITE_BOOKINGS_PER_S
    avail_ok = warm.p99_ms <= TARGET_AVAILABILITY_P99_MS

    def r(value: float | None, digits: int = 1) -> float | None:
        return None if value is None else round(value, digits)

    results: dict[str, Any] = {
        "sqlite_bookings_per_s": r(single.per_s),
        "sqlite_accept_ratio": r(single.accept_ratio, 4),
        "sqlite_raw_inserts_per_s": r(single.raw_per_s),
        "sqlite_ratio_to_raw": r(_ratio(single.per_s, single.raw_per_s), 4),
        "sqlite_2proc_bookings_per_s": r(two.per_s),
        "sqlite_2proc_accept_ratio": r(two.accept_ratio, 4),
        "postgres_bookings_per_s": r(pg.per_s) if pg else None,
        "postgres_accept_ratio": r(pg.accept_ratio, 4) if pg else None,
        "postgres_raw_inserts_per_s": r(pg.raw_per_s) if pg else None,
        "postgres_ratio_to_raw": r(_ratio(pg.per_s, pg.raw_per_s), 4) if pg else None,
        "availability_p50_ms": r(warm.p50_ms, 3),
        "availability_p99_ms": r(warm.p99_ms, 3),
        "availability_cold_p50_ms": r(cold.p50_ms, 3),
        "availability_cold_p99_ms": r(cold.p99_ms, 3),
        "rounds": {
            "sqlite_bookings_per_s": [r(x.per_s) for x in single.rounds],
            "sqlite_raw_inserts_per_s": [r(x) for x in single.raw_rounds],
            "sqlite_2proc_bookings_per_s": [r(x.per_s) for x in two.rounds],
            "postgres_bookings_per_s": [r(x.per_s) for x in pg.rounds] if pg else None,
            "postgres_raw_inserts_per_s": [r(x) for x in pg.raw_rounds] if pg else None,
        },
        "setup": {
            "rounds": ROUNDS,
            "sqlite_requests_per_round": SQLITE_REQUESTS,
            "postgres_requests_per_round": POSTGRES_REQUESTS,
            "requests_per_process_and_round": PER_PROCESS_REQUESTS,
            "booking_days": BOOKING_DAYS,
            "tables": 60,
            "availability_bookings_on_day": held,
            "availability_times_offered_for_two": offered,
            "availability_warm_calls": warm.calls,
            "availability_cold_calls": cold.calls,
            "cold": "ledger.caches.clear() before each call: floor and day book reloaded",
        },
        "machine": machine(pg_version),
        "code": code_version(),
        "targets": {
            "sqlite_bookings_per_s": {"target": TARGET_SQLITE_BOOKINGS_PER_S, "pass": sqlite_ok},
            "availability_p99_ms": {"target": TARGET_AVAILABILITY_P99_MS, "pass": avail_ok},
        },
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")

    def verdict(ok: bool) -> str:
        return "[green]pass[/green]" if ok else "[red]FAIL[/red]"

    def ratio(m: Measured) -> str:
        found = _ratio(m.per_s, m.raw_per_s)
        return "" if found is None else f"{found:.3f}"

    table = Table(title=f"ServiceSphere booking benchmark (throughput: median of {ROUNDS} rounds)")
    for column in ("measure", "value", "raw driver", "ours / raw", "target"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row(
        "SQLite bookings/s, 1 process",
        _fmt(single.per_s, "/s"),
        _fmt(single.raw_per_s, "/s"),
        ratio(single),
        f">= {TARGET_SQLITE_BOOKINGS_PER_S:.0f} {verdict(sqlite_ok)}",
    )
    table.add_row("SQLite bookings/s, 2 processes", _fmt(two.per_s, "/s"), "", "", "")
    if pg is not None:
        table.add_row(
            "PostgreSQL bookings/s, 1 process",
            _fmt(pg.per_s, "/s"),
            _fmt(pg.raw_per_s, "/s"),
            ratio(pg),
            "",
        )
    else:
        table.add_row("PostgreSQL bookings/s", "skipped: unreachable", "", "", "")
    table.add_row(
        "accept ratio (SQLite / 2 proc / PG)",
        f"{single.accept_ratio:.1%} / {two.accept_ratio:.1%} / "
        + (f"{pg.accept_ratio:.1%}" if pg else "-"),
        "",
        "",
        "",
    )
    table.add_row("find_times p50", _fmt(warm.p50_ms, "ms"), "", "", "")
    table.add_row(
        "find_times p99",
        _fmt(warm.p99_ms, "ms"),
        "",
        "",
        f"<= {TARGET_AVAILABILITY_P99_MS:.0f} ms {verdict(avail_ok)}",
    )
    table.add_row("find_times p50, caches cleared", _fmt(cold.p50_ms, "ms"), "", "", "")
    table.add_row("find_times p99, caches cleared", _fmt(cold.p99_ms, "ms"), "", "", "")
    console.print(table)
    m = results["machine"]
    console.print(
        f"{m['cpu_count']} CPUs ({m['cpu']}), Python {m['python']}, SQLite {m['sqlite']}, "
        f"PostgreSQL {m['postgres'] or 'unreachable'}; availability day: {held} bookings on "
        f"60 tables. {results['duration_s']} s in all; results in {RESULTS}"
    )
    if profile_report:
        print(profile_report)  # plain: rich would wrap pstats' wide columns
    return 0


if __name__ == "__main__":
    sys.exit(main())
