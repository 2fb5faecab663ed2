"""Model selection for the Recruit demand model on origins *before* the protocol's holdout.

    python benchmarks/recruit_selection.py dump [--origin 2017-02-01 ...] [--out DIR]
    python benchmarks/recruit_selection.py blend [--out DIR]

The protocol's holdout (origin 2017-03-15) already chose the forecaster's
settings, so further choices (blend weights, objectives, per-horizon models)
are made here, on earlier origins with the same 39-day horizon that all end
before 2017-03-15. ``dump`` fits the point model variants at each origin and
writes, per scored store-day, the actual covers, each variant's forecast and
the statistical forecasts a blend may use (log1p units) to
``DIR/origin_YYYY-MM-DD.parquet``. ``blend`` reads those files and reports the
RMSLE of each variant and of each blend over a grid of weights, per origin
and their mean (which decides).

Variants: ``huber`` (the forecaster's point model), ``l2``, ``bucket`` (one
model per horizon bucket 1-7, 8-21, 22-39), ``profile`` (no day-level lags
or windows), ``resid`` (target: the residual from the sells-like weekday's
recency-weighted mean), ``long`` (2000 trees, read at 700, 1500 and 2000).
What they showed, and what was chosen (``DemandForecaster``'s default
``blend_weight=0.1`` with the sells-like weekday median), is in the docstring
of ``recruit_demand.py``. A dump takes 2-4 minutes per variant and origin on
one thread (``--threads 1``: on a shared 2-core machine LightGBM's two
threads wait on each other and run several times slower).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))

from benchmarks.recruit_demand import DATA_DIR, HORIZON, load_recruit  # noqa: E402
from models.demand import (  # noqa: E402
    NON_FEATURES,
    DemandForecaster,
    WeekdayMedianBaseline,
    _categories,
    _frame,
)

ORIGINS = (date(2017, 1, 18), date(2017, 1, 25), date(2017, 2, 1))
BUCKETS = ((1, 7), (8, 21), (22, HORIZON))
STAT_COLUMNS = (
    "wd_ewm_6w",
    "wd_ewm_18w",
    "wd_median",
    "wd_mean_8w",
    "like_wd_ewm_6w",
    "like_wd_median",
    "ewm_28d",
    "mean_all",
)
PROTOCOL_ORIGIN = date(2017, 3, 15)


def dump(origin: date, out: Path, variants: list[str], threads: int | None) -> None:
    if origin + timedelta(days=HORIZON) > PROTOCOL_ORIGIN:
        raise ValueError(f"origin {origin} overlaps the protocol's holdout")
    started = time.perf_counter()
    data = load_recruit(DATA_DIR, origin=origin)
    restaurants = data.restaurants.select(
        "restaurant_id", "genre", "prefecture", "latitude", "longitude"
    )
    model = DemandForecaster(horizon=HORIZON, quantiles=(0.5,), n_jobs=threads)
    spec = model._spec()
    model.categories_ = _categories(restaurants)
    prepared = model._data(
        data.history, data.on_books, data.holidays, restaurants, model.categories_
    )
    last = prepared.hist["date"].max()
    assert isinstance(last, date)
    starts = [last + timedelta(days=1) - k * timedelta(days=7) for k in range(1, 53)]
    train = pl.concat(
        [f for o in sorted(starts) if (f := _frame(prepared, o, spec, True)).height],
        how="diagonal_relaxed",
    )
    model.feature_names_ = [c for c in train.columns if c not in NON_FEATURES]
    test = _frame(prepared, origin, spec, False).join(
        data.holdout.select("restaurant_id", "date", pl.col("covers").alias("actual")),
        on=["restaurant_id", "date"],
        how="inner",
    )
    print(f"{origin}: frames {time.perf_counter() - started:.0f} s, {train.height:,} rows")
    X, y, Xt = model._matrix(train), train["y"].to_numpy(), model._matrix(test)
    horizon, horizon_t = train["horizon"].to_numpy(), test["horizon"].to_numpy()
    categorical = [f"attr_{name}" for name in model.categories_]
    names = model.feature_names_

    def anchor(frame: pl.DataFrame) -> np.ndarray:
        """The statistical forecast a residual model starts from."""
        return (
            frame.select(pl.coalesce("like_wd_ewm_6w", "wd_ewm_6w", "ewm_28d", "mean_all"))
            .to_series()
            .to_numpy()
        )

    def fit(
        rows: np.ndarray,
        loss: str,
        keep: list[str] | None = None,
        label: np.ndarray | None = None,
        rounds: int = model.n_estimators,
    ) -> lgb.Booster:
        model.loss = "l2" if loss == "l2" else "huber"
        cols = np.array([names.index(c) for c in (keep or names)])
        dataset = lgb.Dataset(
            X[np.ix_(rows, cols)] if keep else X[rows],
            label=(y if label is None else label)[rows],
            feature_name=[names[i] for i in cols],
            categorical_feature=[c for c in categorical if c in (keep or names)] or "auto",
        )
        return lgb.train(model._params(0.5, model.learning_rate), dataset, rounds)

    path = out / f"origin_{origin.isoformat()}.parquet"
    result = test.select(
        "restaurant_id",
        "date",
        "horizon",
        "actual",
        *[c for c in STAT_COLUMNS if c in test.columns],
    )
    median = (
        WeekdayMedianBaseline(horizon=HORIZON)
        .fit(data.history)
        .predict(origin)
        .select("restaurant_id", "date", pl.col("p50").log1p().alias("weekday_median"))
    )
    result = result.join(median, on=["restaurant_id", "date"], how="left")
    if path.exists():  # variants already fitted stay
        done = pl.read_parquet(path)
        result = result.join(
            done.select(
                "restaurant_id", "date", *[c for c in done.columns if c.startswith("gbm_")]
            ),
            on=["restaurant_id", "date"],
            how="left",
        )
    out.mkdir(parents=True, exist_ok=True)
    everything = np.ones(len(y), dtype=bool)
    for variant in variants:
        if f"gbm_{variant}" in result.columns or f"gbm_{variant}2000" in result.columns:
            continue
        t0 = time.perf_counter()
        pred: Any = np.zeros(test.height)
        if variant in ("huber", "l2"):
            pred = fit(everything, variant).predict(Xt)
        elif variant == "bucket":
            for lo, hi in BUCKETS:
                rows = (horizon >= lo) & (horizon <= hi)
                sel = (horizon_t >= lo) & (horizon_t <= hi)
                pred[sel] = fit(rows, "huber").predict(Xt[sel])
        elif variant == "profile":
            # A different view: no day-level lags/windows, the weekday profile,
            # calendar, books and attributes only.
            drop = (
                "lag_",
                "mean_",
                "median_",
                "open_share_",
                "ewm_7d",
                "ewm_28d",
                "level_",
                "trend",
            )
            keep = [c for c in names if not c.startswith(drop)]
            cols = [names.index(c) for c in keep]
            pred = fit(everything, "huber", keep).predict(Xt[:, cols])
        elif variant == "resid":
            base, base_t = anchor(train), anchor(test)
            pred = base_t + fit(everything, "huber", label=y - base).predict(Xt)
        elif variant == "long":
            booster = fit(everything, "huber", rounds=2000)
            result = result.with_columns(
                pl.Series("gbm_long1500", booster.predict(Xt, num_iteration=1500)),
                pl.Series("gbm_long700", booster.predict(Xt, num_iteration=700)),
            )
            pred = booster.predict(Xt)
            variant = "long2000"
        else:
            raise ValueError(f"unknown variant {variant!r}")
        result = result.with_columns(pl.Series(f"gbm_{variant}", pred))
        result.write_parquet(path)
        print(f"{origin}: {variant} {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"{origin}: done in {time.perf_counter() - started:.0f} s", flush=True)


def _rmsle_log(y: np.ndarray, pred_log: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.clip(pred_log, 0, None) - y) ** 2)))


WEIGHTS = np.round(np.arange(0.0, 0.51, 0.05), 2)


def blend(out: Path) -> None:
    """Each variant alone, pairs of variants averaged, and each of those blended
    with each statistical forecast at weights 0..0.5 (where the statistical
    forecast is missing, the model's forecast stands)."""
    files = sorted(out.glob("origin_*.parquet"))
    frames = {f.stem.removeprefix("origin_"): pl.read_parquet(f) for f in files}
    common = set.intersection(*(set(f.columns) for f in frames.values()))
    models = sorted(c for c in common if c.startswith("gbm_"))
    stats = [c for c in (*STAT_COLUMNS, "weekday_median") if c in common]
    combos: dict[str, list[str]] = {m: [m] for m in models}
    for i, a in enumerate(models):
        for b in models[i + 1 :]:
            combos[f"{a}+{b}"] = [a, b]
    rows = []
    for name, frame in frames.items():
        y = np.log1p(frame["actual"].to_numpy())
        for combo, parts in combos.items():
            base = np.mean([frame[p].to_numpy() for p in parts], axis=0)
            rows.append((name, combo, "-", 0.0, _rmsle_log(y, base)))
            for stat in stats:
                s = frame[stat].to_numpy().astype(np.float64)
                s = np.where(np.isnan(s), base, s)
                for w in WEIGHTS[1:]:
                    rows.append(
                        (name, combo, stat, float(w), _rmsle_log(y, (1 - w) * base + w * s))
                    )
    table = pl.DataFrame(rows, schema=["origin", "model", "stat", "w", "rmsle"], orient="row")
    wide = table.pivot(on="origin", index=["model", "stat", "w"], values="rmsle")
    origin_cols = sorted(frames)
    wide = wide.with_columns(mean=pl.mean_horizontal(origin_cols)).sort("mean")
    with pl.Config(tbl_rows=60, tbl_width_chars=200, float_precision=4):
        print("single models and averages, no blend:")
        print(wide.filter(pl.col("stat") == "-"))
        print("best 40 overall:")
        print(wide.head(40))
        print("best weight per (model, stat):")
        print(wide.group_by("model", "stat").agg(pl.all().sort_by("mean").first()).sort("mean"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["dump", "blend"])
    parser.add_argument("--origin", action="append", type=date.fromisoformat)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "recruit_selection")
    parser.add_argument("--variants", default="huber,l2,bucket,profile")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.command == "dump":
        for origin in args.origin or ORIGINS:
            dump(origin, args.out, args.variants.split(","), args.threads)
    else:
        blend(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
