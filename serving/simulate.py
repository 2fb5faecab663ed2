"""``servicesphere simulate seating``: replay nights under the seating policies.

Reads what the optimizer may not (the ledger, the Recruit files) and hands it
over as plain data: a floor, turn times, and past bookings to shape request
streams from."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from booking_core.domain import Channel
from booking_core.errors import BookingError
from booking_core.floor import load_floor
from booking_core.ledger import Ledger
from booking_core.schema import reservations, restaurants, world_reservation_truth
from optimizer.nights import PastBooking, generated_history, make_night, standard_floor
from optimizer.service import FloorPlan
from optimizer.simulation import (
    LOCK_ADMISSION,
    LOCK_PREDICTIVE,
    POLICIES,
    SETTINGS,
    Night,
    NightResult,
    SeatingPolicy,
    percentile,
    simulate_night,
)

simulate_app = typer.Typer(help="Replay nights under seating policies.", no_args_is_help=True)
console = Console()


@dataclass(frozen=True)
class Restaurant:
    """What a night generator needs to know about one restaurant's dinner."""

    name: str
    floor: FloorPlan
    turn_times: tuple[tuple[int, int], ...]
    last_seating: int
    closes: int
    history: tuple[PastBooking, ...]


def world_restaurants(url: str, *, limit: int = 3, weekday: int = 5) -> list[Restaurant]:
    """The synthetic world's restaurants (their dinner on ``weekday``) with
    their past bookings and the generator's truths about them."""
    ledger = Ledger.open(url, migrate=False)
    out = []
    try:
        with ledger.read() as conn:
            ids = list(
                conn.execute(
                    sa.select(restaurants.c.id)
                    .where(restaurants.c.source == "synthetic")
                    .order_by(restaurants.c.id)
                ).scalars()
            )
            for rid in ids:
                floor = load_floor(conn, rid)
                dinner = [p for p in floor.periods if p.weekday == weekday and p.name == "dinner"]
                if not dinner:
                    continue
                period = dinner[0]
                r, t = reservations, world_reservation_truth
                rows = conn.execute(
                    sa.select(
                        r.c.party_size,
                        r.c.start_at,
                        r.c.booked_at,
                        r.c.accessible_required,
                        t.c.p_no_show,
                        t.c.expected_duration_min,
                    )
                    .select_from(r.join(t, t.c.reservation_id == r.c.id))
                    .where(r.c.restaurant_id == rid, r.c.channel != Channel.WALK_IN.value)
                ).all()
                history = []
                for row in rows:
                    local = row.start_at.astimezone(floor.zone)
                    minute = local.hour * 60 + local.minute - period.opens_min
                    if not 0 <= minute <= period.last_seating_min - period.opens_min:
                        continue
                    lead = int((row.start_at - row.booked_at).total_seconds() // 60)
                    history.append(
                        PastBooking(
                            row.party_size,
                            minute,
                            lead,
                            row.p_no_show,
                            row.expected_duration_min,
                            bool(row.accessible_required),
                        )
                    )
                if len(history) >= 50:
                    out.append(
                        Restaurant(
                            floor.name,
                            FloorPlan.from_floor(floor),
                            period.turn_times,
                            period.last_seating_min - period.opens_min,
                            period.closes_min - period.opens_min,
                            tuple(history),
                        )
                    )
                if len(out) >= limit:
                    break
    finally:
        ledger.dispose()
    return out


def recruit_restaurants(folder: Path, *, limit: int = 3, seed: int = 0) -> list[Restaurant]:
    """Request streams shaped from the Recruit (AirREGI) reservations: the
    stores with the most dinner reservations, their party sizes, visit hours
    and lead times. Recruit has no floors, no no-shows and no durations: the
    floor is a standard one sized to the store's busiest evening, the night's
    realisations come from the world's laws, and the predictions are the
    baseline (turn times per party size, the historical no-show rate)."""
    import polars as pl

    path = folder / "air_reserve.csv.gz"
    if not path.is_file():
        raise BookingError(f"{path} not found: point --recruit at the Recruit data folder.")
    frame = (
        pl.read_csv(path, try_parse_dates=True)
        .with_columns(
            hour=pl.col("visit_datetime").dt.hour(), day=pl.col("visit_datetime").dt.date()
        )
        .filter(pl.col("hour").is_between(17, 22), pl.col("reserve_visitors") <= 12)
    )
    busiest = (
        frame.group_by("air_store_id")
        .len()
        .sort(["len", "air_store_id"], descending=True)
        .head(limit)["air_store_id"]
        .to_list()
    )
    out: list[Restaurant] = []
    rng = np.random.default_rng(seed)
    for store in busiest:
        rows = frame.filter(pl.col("air_store_id") == store)
        most = rows.group_by("day").agg(pl.col("reserve_visitors").sum())["reserve_visitors"].max()
        peak = int(most) if isinstance(most, int | float) else 20
        history = []
        for visit, reserved, size, hour in rows.select(
            "visit_datetime", "reserve_datetime", "reserve_visitors", "hour"
        ).iter_rows():
            # Visits are on the hour; spread them over the hour's four slots.
            minute = (hour - 17) * 60 + 15 * int(rng.integers(0, 4))
            lead = max(int((visit - reserved).total_seconds() // 60), 15)
            history.append(PastBooking(int(size), min(minute, 300), lead))
        tables = int(np.clip(round(peak / 3), 10, 30))
        out.append(
            Restaurant(
                f"Recruit {store[-6:]}",
                standard_floor(tables, seed=len(out)),
                DEFAULT_TURNS,
                300,
                360,
                tuple(history),
            )
        )
    return out


DEFAULT_TURNS = ((2, 90), (4, 120), (6, 150), (8, 165), (40, 195))


def generated_restaurants(limit: int = 3, seed: int = 0) -> list[Restaurant]:
    """Restaurants drawn from the world's laws without a ledger."""
    return [
        Restaurant(
            f"Generated {k + 1}",
            standard_floor(14 + 4 * k, seed=seed + k),
            DEFAULT_TURNS,
            270,
            360,
            tuple(generated_history(400, seed=seed + 100 + k)),
        )
        for k in range(limit)
    ]


def nights_for(
    restaurants: Sequence[Restaurant], *, load: float, nights: int, seed: int, predictions: str
) -> list[Night]:
    return [
        make_night(
            f"{r.name} #{n + 1} load {load:g}",
            r.floor,
            r.history,
            load=load,
            seed=seed + 1000 * k + n,
            turn_times=r.turn_times,
            last_seating=r.last_seating,
            closes=r.closes,
            predictions=predictions,
        )
        for k, r in enumerate(restaurants)
        for n in range(nights)
    ]


def replay(
    nights: Sequence[Night],
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    policies: Sequence[SeatingPolicy] = POLICIES,
) -> list[NightResult]:
    """Every night under every policy (in ``workers`` processes)."""
    jobs = [(night, policy) for night in nights for policy in policies]
    results: list[NightResult] = []
    if workers <= 1:
        for i, job in enumerate(jobs):
            results.append(simulate_night(*job))
            if progress:
                progress(i + 1, len(jobs))
        return results
    from multiprocessing import get_context

    with get_context("spawn").Pool(workers) as pool:
        for i, result in enumerate(pool.imap(_run, jobs)):
            results.append(result)
            if progress:
                progress(i + 1, len(jobs))
    return results


def _run(job: tuple[Night, Any]) -> NightResult:
    return simulate_night(*job)


@dataclass
class PolicySummary:
    policy: str
    nights: int
    requests: int
    covers_seated: int
    utilisation: float
    turned_away: int
    overbooked: int
    waited_over_15: int
    walked_out: int
    moves_per_service: float
    solver_p50_ms: float
    solver_p99_ms: float


def summarise(results: Sequence[NightResult]) -> list[PolicySummary]:
    """One row per policy, in the order the policies were replayed."""
    out = []
    for name in dict.fromkeys(r.policy for r in results):
        mine = [r for r in results if r.policy == name]
        times = [t for r in mine for t in r.solver_ms]
        out.append(
            PolicySummary(
                name,
                len(mine),
                sum(r.requests for r in mine),
                sum(r.covers_seated for r in mine),
                sum(r.seat_minutes for r in mine)
                / max(sum(r.seat_capacity_minutes for r in mine), 1),
                sum(r.turned_away for r in mine),
                sum(r.overbooked for r in mine),
                sum(r.waited_over_15 for r in mine),
                sum(r.walked_out for r in mine),
                sum(r.table_moves for r in mine) / len(mine),
                percentile(times, 50),
                percentile(times, 99),
            )
        )
    return out


# The locking settings by the names a manager knows them by (the seating
# benchmark's longer names say what they were compared for).
SHORT_NAMES = {
    LOCK_ADMISSION.name: "lock + admission",
    LOCK_PREDICTIVE.name: "lock + predicted",  # stays, admission, steering
}


def summary_table(title: str, rows: Sequence[PolicySummary]) -> Table:
    table = Table(title=title, caption="moves: table changes per service seen by hosts")
    # Short headers: the table must fit an 80-column terminal.
    for name in (
        "policy",
        "covers",
        "vs lock",
        "util.",
        "turned away",
        "over-booked",
        "waits > 15'",
        "left",
        "moves",
        "solver p50/p99 ms",
    ):
        table.add_column(
            name, justify="left" if name == "policy" else "right", no_wrap=name == "policy"
        )
    base = rows[0].covers_seated if rows else 0
    for s in rows:
        gain = 100.0 * (s.covers_seated - base) / base if base else 0.0
        table.add_row(
            SHORT_NAMES.get(s.policy, s.policy),
            f"{s.covers_seated:,}",
            f"{gain:+.1f}%",
            f"{s.utilisation:.1%}",
            f"{s.turned_away:,}",
            f"{s.overbooked:,}",
            f"{s.waited_over_15:,}",
            f"{s.walked_out:,}",
            f"{s.moves_per_service:.1f}",
            f"{s.solver_p50_ms:.0f}/{s.solver_p99_ms:.0f}",
        )
    return table


def save_plot(groups: dict[str, list[PolicySummary]], path: Path) -> None:
    """Covers seated and guests waiting over 15 minutes per policy, per load."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    names = list(dict.fromkeys(r.policy for rows in groups.values() for r in rows))
    width = 0.8 / max(len(groups), 1)
    for i, (label, rows) in enumerate(groups.items()):
        by = {r.policy: r for r in rows}
        xs = np.arange(len(names)) + i * width
        axes[0].bar(xs, [by[n].covers_seated if n in by else 0 for n in names], width, label=label)
        axes[1].bar(xs, [by[n].waited_over_15 if n in by else 0 for n in names], width, label=label)
    for ax, title in zip(axes, ("Covers seated", "Guests waiting > 15 min"), strict=True):
        ax.set_xticks(np.arange(len(names)) + width * (len(groups) - 1) / 2, names)
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not sys.stderr.isatty() and not sys.stdout.isatty(),
    )


@simulate_app.command("seating")
def seating(
    source: Annotated[str, typer.Option(help="world (the ledger), recruit or generated")] = "world",
    load: Annotated[float, typer.Option(help="Requested table-minutes / table-minutes")] = 1.2,
    nights: Annotated[int, typer.Option(help="Nights per restaurant")] = 2,
    restaurants_: Annotated[int, typer.Option("--restaurants")] = 2,
    seed: Annotated[int, typer.Option()] = 7,
    workers: Annotated[int, typer.Option(help="Processes")] = 1,
    database_url: Annotated[str | None, typer.Option("--database-url")] = None,
    recruit: Annotated[Path, typer.Option(help="Recruit data folder")] = Path(
        "../shared/data/recruit"
    ),
    plot: Annotated[Path | None, typer.Option(help="Where to save the plot (png)")] = None,
) -> None:
    """Replay nights under every seating setting a restaurant can choose
    (lock-at-booking, with admission control, with predicted stays too,
    pooled, pooled-predictive) and print covers seated, utilisation,
    turn-aways, waits, moves and solver times."""
    from booking_core.settings import get_settings

    if load <= 0 or nights < 1 or restaurants_ < 1:
        console.print("[bold red]error:[/] load, nights and restaurants must be positive.")
        raise typer.Exit(2)
    try:
        if source == "world":
            url = database_url or get_settings().database_url
            chosen = world_restaurants(url, limit=restaurants_)
            predictions = "model"
        elif source == "recruit":
            chosen = recruit_restaurants(recruit, limit=restaurants_, seed=seed)
            predictions = "baseline"
        elif source == "generated":
            chosen = generated_restaurants(restaurants_, seed=seed)
            predictions = "model"
        else:
            raise BookingError(f"Unknown source {source!r}; use world, recruit or generated.")
    except (BookingError, sa.exc.SQLAlchemyError) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if not chosen:
        console.print(
            "[bold red]error:[/] no restaurant with enough dinner bookings; "
            "run `servicesphere seed` first."
        )
        raise typer.Exit(2)
    stream = nights_for(chosen, load=load, nights=nights, seed=seed, predictions=predictions)
    with _bar() as bar:
        task = bar.add_task("nights x policy", total=len(stream) * len(SETTINGS))
        results = replay(
            stream,
            workers=workers,
            progress=lambda done, _total: bar.update(task, completed=done),
            policies=SETTINGS,
        )
    rows = summarise(results)
    console.print(summary_table(f"{source}: {len(stream)} nights at load {load:g}", rows))
    if plot is not None:
        save_plot({f"load {load:g}": rows}, plot)
        console.print(f"plot saved to {plot}")


__all__ = [
    "Restaurant",
    "generated_restaurants",
    "nights_for",
    "recruit_restaurants",
    "replay",
    "save_plot",
    "simulate_app",
    "summarise",
    "summary_table",
    "world_restaurants",
]
