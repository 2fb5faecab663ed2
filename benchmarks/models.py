"""Model quality and learning-loop cost, against the targets of the learning loop.

    python benchmarks/models.py             # synthetic + Recruit + nightly at demo size
    python benchmarks/models.py --with-1m   # also the nightly flow on ~1M reservations

Synthetic world (demo size, fixed seed and today): no-show AUC next to the
oracle AUC of the generator's true probabilities on the same holdout rows,
expected calibration error, and dining-duration P50 MAE next to the oracle's
(the generator's median duration). Recruit: the protocol of
``../shared/data/README.md`` (see ``benchmarks/recruit_demand.py``). Nightly:
wall time and peak memory of one real flow run (Prefect + MLflow in a
scratch directory), in a child process so its memory is its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and this file's own
# name would shadow the ``models`` package; the repository root goes there.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import json
import resource
import subprocess
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table
from sklearn.metrics import roc_auc_score

from booking_core.ledger import Ledger
from booking_core.world.generate import generate_world
from models.attendance import AttendanceRisk, evaluate_classifier
from models.duration import DiningDuration, evaluate_duration
from models.extract import LedgerSnapshot
from models.features import attendance_frame, duration_frame, labelled

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "models.json"
RECRUIT = ROOT.parent / "shared" / "data" / "recruit"
TODAY = date(2026, 6, 1)
SEED = 7
HOLDOUT_DAYS = 14


def _world(path: Path, size: str) -> str:
    url = f"sqlite:///{path}"
    if not path.exists():
        generate_world(Ledger.open(url), size=size, seed=SEED, today=TODAY)
    return url


def synthetic(url: str) -> dict[str, float]:
    with LedgerSnapshot.from_url(url) as snapshot:
        frames = snapshot.frames()
        truth = snapshot.truth()
    cut = datetime.combine(TODAY - timedelta(days=HOLDOUT_DAYS), datetime.min.time(), UTC)
    attendance = labelled(attendance_frame(frames, "booking"))
    train = attendance.filter(pl.col("start_at") < cut)
    holdout = attendance.filter(pl.col("start_at") >= cut).join(truth, on="reservation_id")
    began = time.perf_counter()
    model = AttendanceRisk(target="no_show").fit(train)
    fit_s = time.perf_counter() - began
    y = holdout["no_show"].cast(pl.Int8).to_numpy()
    p = model.predict_proba(holdout.drop(truth.columns[1:]))[:, 1]
    quality = evaluate_classifier(y, p)
    durations = duration_frame(frames).join(truth, on="reservation_id")
    d_train = durations.filter(pl.col("seated_at") < cut)
    d_hold = durations.filter(pl.col("seated_at") >= cut)
    duration = DiningDuration().fit(d_train.drop(truth.columns[1:]))
    pred = duration.predict(d_hold.drop(truth.columns[1:]))
    actual = d_hold["duration_min"].to_numpy()
    return {
        "noshow_auc": float(quality["auc"]),
        "noshow_oracle_auc": float(roc_auc_score(y, holdout["p_no_show"].to_numpy())),
        "noshow_ece": float(quality["ece"]),
        "noshow_base_rate": float(y.mean()),
        "noshow_holdout_rows": float(len(y)),
        "noshow_fit_s": fit_s,
        "duration_p50_mae_min": float(evaluate_duration(actual, pred)["mae_p50"]),
        "duration_oracle_p50_mae_min": float(
            np.mean(np.abs(actual - d_hold["expected_duration_min"].to_numpy()))
        ),
        "duration_p90_coverage": float(evaluate_duration(actual, pred)["coverage_p90"]),
    }


def nightly(url: str) -> dict[str, float]:
    """One real flow run in a child process: its wall time and peak RSS."""
    with tempfile.TemporaryDirectory() as var:
        code = (
            "from datetime import datetime, UTC; from pipelines.nightly import run_nightly; "
            f"r = run_nightly(database_url={url!r}, var_dir={var!r}, "
            "as_of=datetime(2026, 6, 1, tzinfo=UTC)); "
            "import sys; sys.exit(1 if r.failures else 0)"
        )
        env = {"PREFECT_HOME": str(Path(var) / "prefect"), "PATH": "/usr/bin:/bin"}
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, check=False
        )
        seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(f"nightly flow failed:\n{tail}")
    return {"s": seconds, "peak_mb": peak_mb}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--with-1m", action="store_true", help="also run at ~1M reservations")
    parser.add_argument("--skip-recruit", action="store_true", help="leave out the Recruit part")
    parser.add_argument(
        "--only-1m",
        action="store_true",
        help="measure only the ~1M nightly run, keeping the other figures",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=ROOT / "var" / "bench",
        help="where benchmark ledgers are kept between runs",
    )
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    console = Console()
    results: dict[str, Any] = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    if args.only_1m:
        results = json.loads(RESULTS.read_text())
        large = nightly(_world(args.work / "large.db", "large"))
        results["nightly_1m_s"], results["nightly_1m_peak_mb"] = large["s"], large["peak_mb"]
        results["nightly_1m_measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
        console.print(f"~1M nightly: {large['s']:.0f} s, peak {large['peak_mb']:.0f} MB")
        return 0
    console.print("synthetic world: attendance and duration against the oracle ...")
    demo_url = _world(args.work / "demo.db", "demo")
    results.update(synthetic(demo_url))
    if RECRUIT.is_dir() and not args.skip_recruit:
        from benchmarks.recruit_demand import run_recruit_benchmark

        console.print("Recruit: our model, the weekday median and mlforecast ...")
        try:
            results.update(run_recruit_benchmark(RECRUIT))
        except Exception as exc:  # one part failing must not lose the others' figures
            results["recruit_error"] = f"{type(exc).__name__}: {exc}"[:500]
    for key in ("recruit_rmsle_model", "recruit_rmsle_median", "recruit_rmsle_mlforecast"):
        results.setdefault(key, None)
    console.print("nightly flow at demo size ...")
    demo = nightly(demo_url)
    results["nightly_demo_s"], results["nightly_demo_peak_mb"] = demo["s"], demo["peak_mb"]
    if args.with_1m:
        large = nightly(_world(args.work / "large.db", "large"))
        results["nightly_1m_s"], results["nightly_1m_peak_mb"] = large["s"], large["peak_mb"]
        results["nightly_1m_measured_at"] = results["measured_at"]
    else:
        # The ~1M run takes several minutes: keep the last one's figures, dated.
        previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        for key in ("nightly_1m_s", "nightly_1m_peak_mb"):
            results[key] = previous.get(key)
        results["nightly_1m_measured_at"] = previous.get(
            "nightly_1m_measured_at", previous.get("measured_at")
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = Table(title="ServiceSphere models")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("reference / target", justify="right")
    r = results

    def fmt(v: Any, spec: str = ".3f") -> str:
        return "-" if v is None else format(v, spec)

    rows = [
        (
            "no-show AUC (demo world)",
            fmt(r["noshow_auc"]),
            f"oracle {fmt(r['noshow_oracle_auc'])}; target within 0.03",
        ),
        ("no-show ECE", fmt(r["noshow_ece"], ".4f"), "target <= 0.02"),
        (
            "duration P50 MAE (min)",
            fmt(r["duration_p50_mae_min"], ".2f"),
            f"oracle {fmt(r['duration_oracle_p50_mae_min'], '.2f')}",
        ),
        (
            "Recruit RMSLE, our model",
            fmt(r.get("recruit_rmsle_model")),
            "target <= 0.9 x median, < mlforecast",
        ),
        ("Recruit RMSLE, store x weekday median", fmt(r.get("recruit_rmsle_median")), ""),
        ("Recruit RMSLE, mlforecast + LightGBM", fmt(r.get("recruit_rmsle_mlforecast")), ""),
        ("nightly flow, demo size (s)", fmt(r["nightly_demo_s"], ".1f"), "target <= 300"),
        ("nightly flow, demo size, peak MB", fmt(r["nightly_demo_peak_mb"], ".0f"), ""),
        ("nightly flow, ~1M reservations (s)", fmt(r["nightly_1m_s"], ".1f"), ""),
        ("nightly flow, ~1M, peak MB", fmt(r["nightly_1m_peak_mb"], ".0f"), ""),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
