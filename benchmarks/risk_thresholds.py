"""Choosing a deposit risk threshold: does the planner tell a manager the truth?

    python benchmarks/risk_thresholds.py                # builds the demo world once (~1-2 min)
    python benchmarks/risk_thresholds.py --world PATH   # the same file risk_deposits.py keeps

Writes ``results/risk_thresholds.json`` and ``results/risk_thresholds.png``.

The demo world and the attendance model of ``risk_deposits.py``:
``AttendanceRisk(target="no_show")`` trained on the bookings that start
before today - 14 days, held as the serving layer holds a champion. On a copy
of the world's ledger (its clock at today noon UTC), the planner
(``serving.risk_thresholds.weigh_thresholds``: the work of
``GET /restaurants/{id}/deposits/risk-thresholds``) weighs, for every world
restaurant, the bookings with a service date in the 14 days before today
(each scored as it was known when it was made, the size rule's aside).

Accuracy, per threshold, all restaurants summed, against the generator's
truth for the same bookings (``risk_deposits.true_effect``):

- expected no-shows over the threshold: the planner's (the model's risk
  without a deposit) against the truth's p0;
- no-shows a deposit would avoid among them: the planner's (the model's own
  deposit effect: its risk without a deposit less its risk with one) against
  the truth's (the generator's deposit logit);
- no-shows seen among them (under the deposits they actually had).

Parity: each booking's risk without a deposit as the planner scored it
against the same model on the trainer's row for that booking (the offline
frame ``risk_deposits.py`` scores); bookings changed after they were made
are read by the planner as they stand now, so a few differ.

Cost: the planner's wall time per restaurant over its default span (28 days),
against the same bookings' rows read as they are known *now*
(``features_many``: cheaper, but it reads outcomes recorded after each
booking) scored the same way; median over restaurants, and the largest.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
# Run as a script, this folder comes first on sys.path: the project's root
# must, so that ``benchmarks.risk_deposits`` and the packages import as themselves.
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmarks.risk_deposits import (  # noqa: E402
    HOLDOUT_DAYS,
    TODAY,
    WORLD_FILE,
    true_effect,
    world,
)
from booking_core.ledger import Ledger  # noqa: E402
from booking_core.risk_thresholds import THRESHOLDS, past_bookings  # noqa: E402
from booking_core.schema import restaurants  # noqa: E402
from models.attendance import AttendanceRisk  # noqa: E402
from models.extract import LedgerSnapshot  # noqa: E402
from models.features import attendance_frame, labelled  # noqa: E402
from serving.attendance import AttendanceScorer, probabilities  # noqa: E402
from serving.champions import Loaded  # noqa: E402
from serving.risk_thresholds import weigh_thresholds  # noqa: E402

RESULTS = _HERE / "results" / "risk_thresholds.json"
PLOT = _HERE / "results" / "risk_thresholds.png"
COST_DAYS = 28  # the route's default span
SHOWN = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5)


def _train(url: str, console: Console) -> tuple[AttendanceRisk, pl.DataFrame, float]:
    """The model ``risk_deposits.py`` fits, and every booking's trainer row with its truth."""
    console.print("reading the ledger and building the attendance frame ...")
    with LedgerSnapshot.from_url(url) as snapshot:
        frames = snapshot.frames()
        truth = snapshot.truth()
    start = datetime.combine(TODAY - timedelta(days=HOLDOUT_DAYS), datetime.min.time(), UTC)
    rows = attendance_frame(frames, "booking")
    train = labelled(rows).filter(pl.col("start_at") < start)
    console.print(f"training AttendanceRisk(no_show) on {train.height:,} bookings ...")
    began = time.perf_counter()
    model = AttendanceRisk(target="no_show").fit(train)
    return model, rows.join(truth, on="reservation_id"), time.perf_counter() - began


def _scored(
    ledger: Ledger, scorer: AttendanceScorer, champion: Loaded, rid: int, first: date, last: date
) -> pl.DataFrame:
    """The planner's bookings at ``rid`` with its two risks each (the
    internals of ``weigh_thresholds``, kept per booking to join the truth)."""
    _, bookings = past_bookings(ledger, rid, first, last)
    weighed = [b for b in bookings if not b.asked_by_size]
    rows = scorer.features_at_booking([b.reservation_id for b in weighed])
    p0 = probabilities(rows.with_columns(deposit_required=pl.lit(False)), champion)
    p1 = probabilities(rows.with_columns(deposit_required=pl.lit(True)), champion)
    return pl.DataFrame(
        {
            "reservation_id": rows["reservation_id"],
            "restaurant_id": [rid] * rows.height,
            "party_size": [b.party_size for b in weighed],
            "no_show_seen": [b.no_show for b in weighed],
            "planner_p0": p0,
            "planner_p1": p1,
        },
        schema_overrides={"reservation_id": pl.Int64, "restaurant_id": pl.Int64},
    )


def _cost(
    ledger: Ledger, scorer: AttendanceScorer, champion: Loaded, rid: int
) -> tuple[float, float, int]:
    """Seconds for the planner over ``COST_DAYS`` and for the rows read as of
    now scored the same way; and the bookings weighed."""
    last = TODAY - timedelta(days=1)
    first = last - timedelta(days=COST_DAYS - 1)
    began = time.perf_counter()
    plan = weigh_thresholds(ledger, scorer, champion, rid, first, last).plan
    planner_s = time.perf_counter() - began
    began = time.perf_counter()
    _, bookings = past_bookings(ledger, rid, first, last)
    ids = [b.reservation_id for b in bookings if not b.asked_by_size]
    rows = scorer.features_many(ids)
    probabilities(rows.with_columns(deposit_required=pl.lit(False)), champion)
    probabilities(rows.with_columns(deposit_required=pl.lit(True)), champion)
    now_s = time.perf_counter() - began
    return planner_s, now_s, plan.bookings - plan.asked_by_size


def measure(url: str, console: Console) -> tuple[dict[str, Any], pl.DataFrame]:
    model, truth_rows, fit_s = _train(url, console)
    champion = Loaded("attendance_risk", "bench", None, model, datetime.now(UTC))
    work = Path(tempfile.mkdtemp(prefix="servicesphere-thresholds-"))
    try:
        path = work / "ledger.db"
        shutil.copyfile(url.removeprefix("sqlite:///"), path)
        ledger = Ledger.open(f"sqlite:///{path}")
        ledger.clock = lambda: (
            datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=12)
        )
        with ledger.read() as conn:
            ids = [r.id for r in conn.execute(sa.select(restaurants.c.id).order_by("id"))]
        first = TODAY - timedelta(days=HOLDOUT_DAYS)
        last = TODAY - timedelta(days=1)
        console.print(f"weighing thresholds at {len(ids)} restaurants ({first} to {last}) ...")
        scorer = AttendanceScorer(ledger)
        scored = pl.concat([_scored(ledger, scorer, champion, rid, first, last) for rid in ids])
        console.print(f"timing the planner over {COST_DAYS} days at each restaurant ...")
        _cost(ledger, scorer, champion, ids[0])  # warm: imports, caches
        costs = [(rid, *_cost(ledger, scorer, champion, rid)) for rid in ids]
        ledger.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    joined = scored.join(truth_rows, on="reservation_id", how="left")
    missing = joined["p_no_show"].null_count()
    p0, avoided = true_effect(joined.drop_nulls("p_no_show"))
    joined = joined.drop_nulls("p_no_show").with_columns(
        true_p0=pl.Series(p0), true_avoided=pl.Series(avoided)
    )
    # Parity: the planner's risk against the same model on the trainer's row.
    offline = model.predict_proba(
        joined.select(truth_rows.columns).with_columns(deposit_required=pl.lit(False))
    )[:, 1]
    gap = np.abs(joined["planner_p0"].to_numpy() - offline)
    planner_s = np.array([c[1] for c in costs])
    now_s = np.array([c[2] for c in costs])
    largest = max(costs, key=lambda c: c[3])
    rows = []
    for t in THRESHOLDS:
        over = joined.filter(pl.col("planner_p0") >= t)
        rows.append(
            {
                "threshold": t,
                "bookings_over": over.height,
                "share_over": round(over.height / joined.height, 4),
                "expected_no_shows_planner": round(float(over["planner_p0"].sum()), 1),
                "expected_no_shows_true": round(float(over["true_p0"].sum()), 1),
                "avoided_planner": round(float((over["planner_p0"] - over["planner_p1"]).sum()), 1),
                "avoided_true": round(float(over["true_avoided"].sum()), 1),
                "no_shows_seen": int(over["no_show_seen"].sum()),
            }
        )
    per_restaurant = (
        joined.group_by("restaurant_id")
        .agg(
            pl.len().alias("bookings"),
            *[(pl.col("planner_p0") >= t).mean().alias(f"share_{t}") for t in THRESHOLDS],
        )
        .sort("restaurant_id")
    )
    results: dict[str, Any] = {
        "span": [first.isoformat(), last.isoformat()],
        "restaurants": len(ids),
        "bookings_weighed": joined.height,
        "bookings_without_truth": missing,
        "fit_s": round(fit_s, 1),
        "parity_max_abs_gap": float(gap.max()),
        "parity_share_equal_1e9": round(float(np.mean(gap < 1e-9)), 4),
        "thresholds": rows,
        "cost_span_days": COST_DAYS,
        "planner_p50_ms": round(float(np.median(planner_s)) * 1000, 1),
        "read_now_p50_ms": round(float(np.median(now_s)) * 1000, 1),
        "planner_vs_read_now_ratio": round(float(np.median(planner_s / now_s)), 2),
        "largest_restaurant_bookings": largest[3],
        "largest_planner_ms": round(largest[1] * 1000, 1),
        "largest_read_now_ms": round(largest[2] * 1000, 1),
    }
    return results, per_restaurant


def plot(results: dict[str, Any], per_restaurant: pl.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    ts = list(THRESHOLDS)
    for row in per_restaurant.iter_rows(named=True):
        left.plot(ts, [row[f"share_{t}"] for t in ts], color="tab:blue", alpha=0.35, lw=1)
    left.plot(ts, [r["share_over"] for r in results["thresholds"]], color="black", lw=2)
    left.set(
        xlabel="threshold (risk without a deposit)",
        ylabel="share of bookings asked by risk",
        title="What one threshold asks, restaurant by restaurant (black: all)",
        yscale="log",
    )
    rows = results["thresholds"]
    right.plot(ts, [r["expected_no_shows_true"] for r in rows], "k-", label="no-shows over (truth)")
    right.plot(ts, [r["expected_no_shows_planner"] for r in rows], "k--", label="(planner)")
    right.plot(ts, [r["avoided_true"] for r in rows], "g-", label="avoided by a deposit (truth)")
    right.plot(ts, [r["avoided_planner"] for r in rows], "g--", label="(planner)")
    right.plot(ts, [r["no_shows_seen"] for r in rows], "r:", label="no-shows seen over")
    right.set(
        xlabel="threshold",
        ylabel="no-shows, all restaurants, 14 days",
        title="The planner's figures against the generator's truth",
    )
    right.legend(fontsize=8)
    for ax in (left, right):  # no world booking scores 0.45 or more
        ax.set_xlim(0.03, 0.47)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _table(results: dict[str, Any]) -> Table:
    table = Table(title="Deposit threshold planner against the truth (all restaurants, 14 days)")
    for name in (
        "threshold",
        "asked",
        "share",
        "no-shows over: planner",
        "truth",
        "avoided: planner",
        "truth",
        "seen",
    ):
        table.add_column(name, justify="right")
    for r in results["thresholds"]:
        if r["threshold"] not in SHOWN:
            continue
        table.add_row(
            f"{r['threshold']:.2f}",
            f"{r['bookings_over']:,}",
            f"{r['share_over']:.1%}",
            f"{r['expected_no_shows_planner']:.1f}",
            f"{r['expected_no_shows_true']:.1f}",
            f"{r['avoided_planner']:.1f}",
            f"{r['avoided_true']:.1f}",
            f"{r['no_shows_seen']}",
        )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--world",
        type=Path,
        default=WORLD_FILE,
        help="the demo world's SQLite file (built there when missing)",
    )
    args = parser.parse_args(argv)
    began = time.perf_counter()
    console = Console(width=max(Console().width, 120))
    results, per_restaurant = measure(world(args.world, console), console)
    results["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["machine"] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    plot(results, per_restaurant, PLOT)
    results["duration_s"] = round(time.perf_counter() - began, 1)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    console.print(_table(results))
    console.print(
        f"{results['bookings_weighed']:,} bookings at {results['restaurants']} restaurants "
        f"({results['bookings_without_truth']} without truth); parity with the trainer's rows: "
        f"{results['parity_share_equal_1e9']:.1%} equal, "
        f"max gap {results['parity_max_abs_gap']:.2g}"
    )
    console.print(
        f"planner over {COST_DAYS} days: p50 {results['planner_p50_ms']:.0f} ms per restaurant "
        f"against {results['read_now_p50_ms']:.0f} ms reading the rows as of now "
        f"({results['planner_vs_read_now_ratio']:.2f}x); the largest "
        f"({results['largest_restaurant_bookings']:,} bookings) {results['largest_planner_ms']:.0f}"
        f" ms against {results['largest_read_now_ms']:.0f} ms"
    )
    console.print(f"written to {RESULTS} and {PLOT} in {results['duration_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
