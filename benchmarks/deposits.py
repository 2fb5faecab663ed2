"""What deposits paid by a deadline cost the booking core, against the same work without them.

    python benchmarks/deposits.py   # well under a minute; writes results/deposits.json

Two identical 60-table restaurants (``booking.py``'s) on one SQLite ledger,
one asking a deposit from every party, the other none, take the same
requests in alternation, so that booking with a deposit is timed side by
side with booking without (the ratio is the cost of asking one). Then two
thirds of the deposit bookings are paid (one payment each, timed), and at
the deadline ``release_unpaid`` releases the rest (timed per booking
released). Last, the sweep is run again with nothing left to release, over
a ledger that also holds a long history of ended bookings, which the partial
index keeps out of its way: the cost a job pays every five minutes.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
# Run as a script, this folder comes first on sys.path: the project's root
# must, so that ``benchmarks.booking`` and the packages import as themselves.
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import sqlalchemy as sa  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmarks.booking import bench_spec, requests_for  # noqa: E402
from booking_core.deposits import overdue_query, record_payment  # noqa: E402
from booking_core.errors import BookingError  # noqa: E402
from booking_core.ledger import Ledger  # noqa: E402
from booking_core.reservations import book  # noqa: E402
from booking_core.restaurants import add_restaurant  # noqa: E402
from booking_core.schema import reservations  # noqa: E402
from booking_core.unpaid_deposits import release_unpaid  # noqa: E402

RESULTS = _HERE / "results" / "deposits.json"
REQUESTS = 1500  # per restaurant
HISTORY = 200_000  # ended bookings copied in, for the idle sweep


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
    }


def _history(ledger: Ledger, rows: int) -> None:
    """Copy the ledger's bookings, ended, until it holds ``rows`` more: a
    long history the sweep must not read."""
    with ledger.write() as conn:
        cols = [c.name for c in reservations.columns if c.name not in ("id", "idempotency_key")]
        listed = ", ".join(cols)
        chosen = ", ".join(
            "'completed'" if c == "state" else ("NULL" if c == "request_fingerprint" else c)
            for c in cols
        )
        have = 0
        while have < rows:
            conn.exec_driver_sql(
                f"INSERT INTO reservations ({listed}) SELECT {chosen} FROM reservations "
                f"LIMIT {rows - have}"
            )
            have = conn.execute(sa.select(sa.func.count()).select_from(reservations)).scalar_one()


def _sweep_sql(ledger: Ledger, now: datetime) -> str:
    """The sweep's own query (``deposits.overdue_query``) as SQLite runs it."""
    compiled = overdue_query(now).compile(ledger.engine, compile_kwargs={"literal_binds": True})
    return str(compiled)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--history", type=int, default=HISTORY)
    args = parser.parse_args(argv)
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger.open(f"sqlite:///{tmp}/deposits.db")
        asks = add_restaurant(
            ledger,
            replace(bench_spec("Deposits"), deposit_min_party=1, deposit_per_cover_minor=1000),
        )
        plain = add_restaurant(ledger, bench_spec("No deposits"))
        now = datetime.now(UTC)
        timed: dict[int, list[float]] = {asks: [], plain: []}
        taken = []
        pairs = zip(
            requests_for(asks, args.requests, seed=1),
            requests_for(plain, args.requests, seed=1),
            strict=True,
        )
        for asked, not_asked in pairs:
            for request in (asked, not_asked):
                t0 = time.perf_counter()
                try:
                    r = book(ledger, request, now=now)
                except BookingError:
                    continue
                timed[request.restaurant_id].append(time.perf_counter() - t0)
                if request.restaurant_id == asks:
                    taken.append(r)
        paid_ms = []
        for i, r in enumerate(taken):
            if i % 3 == 2:
                continue
            t0 = time.perf_counter()
            record_payment(
                ledger,
                r.id,
                amount_minor=r.deposit_minor,
                currency="GBP",
                payment_ref=f"pi_{r.id}",
                now=now + timedelta(minutes=10),
            )
            paid_ms.append(time.perf_counter() - t0)
        deadline = now + timedelta(minutes=60)
        t0 = time.perf_counter()
        released = release_unpaid(ledger, now=deadline)
        release_s = time.perf_counter() - t0
        _history(ledger, args.history)
        with ledger.read() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(reservations)).scalar_one()
        idle, scan = [], []
        later = deadline + timedelta(minutes=5)
        unindexed = _sweep_sql(ledger, later).replace(
            "FROM reservations", "FROM reservations NOT INDEXED"
        )
        for _ in range(20):
            t0 = time.perf_counter()
            assert release_unpaid(ledger, now=later) == []
            idle.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with ledger.read() as conn:
                assert conn.exec_driver_sql(unindexed).all() == []
            scan.append(time.perf_counter() - t0)
        ledger.dispose()

    with_deposit, without = _ms(timed[asks]), _ms(timed[plain])
    results: dict[str, Any] = {
        "booking_with_deposit": with_deposit | {"bookings": len(timed[asks])},
        "booking_without_deposit": without | {"bookings": len(timed[plain])},
        "booking_p50_ratio": round(with_deposit["p50_ms"] / without["p50_ms"], 3),
        "payment": _ms(paid_ms) | {"payments": len(paid_ms)},
        "release": {
            "released": len(released),
            "seconds": round(release_s, 3),
            "per_booking_ms": round(release_s / max(1, len(released)) * 1000, 3),
        },
        "idle_sweep": _ms(idle) | {"reservations_in_ledger": total},
        "idle_sweep_query_without_index": _ms(scan),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")

    table = Table(title="Deposits (SQLite, one process)")
    for col in ("measure", "value", "baseline / note"):
        table.add_column(col)
    table.add_row(
        "booking p50 / p99, deposit asked",
        f"{with_deposit['p50_ms']:.2f} / {with_deposit['p99_ms']:.2f} ms",
        f"no deposit {without['p50_ms']:.2f} / {without['p99_ms']:.2f} ms "
        f"(ratio {results['booking_p50_ratio']:.2f})",
    )
    table.add_row(
        "payment recorded p50 / p99",
        f"{results['payment']['p50_ms']:.2f} / {results['payment']['p99_ms']:.2f} ms",
        f"{len(paid_ms)} payments",
    )
    table.add_row(
        "release at the deadline",
        f"{results['release']['per_booking_ms']:.2f} ms a booking",
        f"{len(released)} released in {release_s:.2f} s",
    )
    table.add_row(
        "sweep with nothing overdue p50 / p99",
        f"{results['idle_sweep']['p50_ms']:.2f} / {results['idle_sweep']['p99_ms']:.2f} ms",
        f"{total:,} reservations in the ledger; its query alone without the partial index "
        f"{results['idle_sweep_query_without_index']['p50_ms']:.2f} ms p50",
    )
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
