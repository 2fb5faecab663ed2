"""Model selection for the Recruit demand model on origins *before* the protocol's holdout.

    python benchmarks/recruit_selection.py dump [--origin 2017-02-01 ...] [--out DIR]
    python benchmarks/recruit_selection.py blend [--out DIR]
    python benchmarks/recruit_selection.py combine [--out DIR] [--seeds 3]

The protocol's holdout (origin 2017-03-15) already chose the forecaster's
settings, so further choices (blend weights, objectives, per-horizon models)
are made here, on earlier origins with the same 39-day horizon that all end
before 2017-03-15. ``dump`` fits the point model variants at each origin and
writes, per scored store-day, the actual covers, each variant's forecast and
the statistical forecasts a blend may use (log1p units) to
``DIR/origin_YYYY-MM-DD.parquet`` (every forecast row; ``actual`` is null
where the store-day is not scored), with last year's market swing per day.
``blend`` reads those files and reports the RMSLE of each variant and of
each blend over a grid of weights, per origin and their mean (which
decides). ``combine`` scores the forecast as the forecaster issues it
(blended with the weekday median) for seed bags, the ridge and MLPs
averaged in, single-setting variants, and last year's swing as a shift.

Variants: ``huber`` (the forecaster's point model), ``l2``, ``bucket`` (one
model per horizon bucket 1-7, 8-21, 22-39), ``profile`` (no day-level lags
or windows), ``resid`` (target: the residual from the sells-like weekday's
recency-weighted mean), ``long`` (2000 trees, read at 700, 1500 and 2000),
``huber_sK`` (the point model on bagging seed K), ``hp:name=value`` (one
LightGBM setting changed, e.g. ``hp:max_bin=255``), ``ridge``, ``mlp`` and
``mlp2`` (scikit-learn models on standardized features, fitted on the
residual from the sells-like weekday's recency-weighted mean), ``storecat``
(the store as a categorical feature), ``nnemb`` / ``nnemb:DIM`` (a torch MLP
on the same residual with a learned store embedding of width DIM, 8 by
default; ``nnemb:0`` is the same net without it).
What they showed, and what was chosen (``DemandForecaster``'s default
``blend_weight=0.1`` with the sells-like weekday median), is in the docstring
of ``recruit_demand.py``. A dump takes 2-4 minutes per variant and origin on
one thread (``--threads 1``: on a shared 2-core machine LightGBM's two
threads wait on each other and run several times slower); 5-9 minutes with
three dumps and other work sharing the two cores. The ridge takes 12-26 s,
the MLPs 1-1.5 minutes.
"""

from __future__ import annotations

import argparse
import itertools
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
    # Every forecast row (the market-level swing averages over all of them);
    # ``actual`` is null where the store-day is not scored.
    test = _frame(prepared, origin, spec, False).join(
        data.holdout.select("restaurant_id", "date", pl.col("covers").alias("actual")),
        on=["restaurant_id", "date"],
        how="left",
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
        params = {**model._params(0.5, model.learning_rate), **extra}
        return lgb.train(params, dataset, rounds)

    extra: dict[str, Any] = {}  # LightGBM parameters the forecaster does not expose

    path = out / f"origin_{origin.isoformat()}.parquet"
    result = test.select(
        "restaurant_id",
        "date",
        "horizon",
        "actual",
        *[c for c in STAT_COLUMNS if c in test.columns],
        "mean_28d",
    ).join(_last_year_swing(data.history, origin), on="date", how="left")
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
        elif variant.startswith("huber_s"):
            # The same point model on another bagging seed.
            model.random_state = int(variant.removeprefix("huber_s"))
            pred = fit(everything, "huber").predict(Xt)
            model.random_state = 0
        elif variant.startswith("hp:"):
            # Settings changed, e.g. "hp:max_bin=255" or
            # "hp:learning_rate=0.015;n_estimators=2000": the forecaster's own
            # parameters, or any other LightGBM parameter (e.g. extra_trees=true).
            changed: dict[str, Any] = {}
            for item in variant.removeprefix("hp:").split(";"):
                setting, value = item.split("=")
                if hasattr(model, setting):
                    changed[setting] = getattr(model, setting)
                    setattr(model, setting, type(changed[setting])(value))
                elif value in ("true", "false"):
                    extra[setting] = value == "true"
                else:
                    extra[setting] = float(value) if "." in value else int(value)
            pred = fit(everything, "huber", rounds=model.n_estimators).predict(Xt)
            for setting, default in changed.items():
                setattr(model, setting, default)
            extra.clear()
        elif variant in ("ridge", "mlp", "mlp2"):
            pred = _other_family(variant, X, y, Xt, names, categorical, threads)
        elif variant == "storecat":
            # The store itself as a categorical feature (a learned store effect).
            codes, codes_t = _store_codes(train, test)
            dataset = lgb.Dataset(
                np.hstack([X, codes[:, None]]),
                label=y,
                feature_name=[*names, "store_code"],
                categorical_feature=[*categorical, "store_code"],
            )
            params = {**model._params(0.5, model.learning_rate), "cat_smooth": 50.0}
            booster = lgb.train(params, dataset, model.n_estimators)
            pred = booster.predict(np.hstack([Xt, codes_t[:, None]]))
        elif variant.startswith("nnemb"):
            codes, codes_t = _store_codes(train, test)
            pred = _embedding_net(variant, X, y, Xt, codes, codes_t, names, categorical, threads)
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


def _last_year_swing(history: pl.DataFrame, origin: date) -> pl.DataFrame:
    """Per target day d: the mean over stores of log1p(covers) on d - 364 less
    the store's mean over the 28 days before origin - 364 (stores open on both),
    with how many stores and base days it rests on."""
    year = timedelta(days=364)
    base_start, base_end = origin - year - timedelta(days=28), origin - year
    hist = history.select("restaurant_id", "date", pl.col("covers").log1p().alias("y"))
    base_rows = hist.filter((pl.col("date") >= base_start) & (pl.col("date") < base_end))
    base = base_rows.group_by("restaurant_id").agg(pl.col("y").mean().alias("base"))
    days = pl.DataFrame(
        {"date": pl.date_range(origin, origin + timedelta(days=HORIZON - 1), eager=True)}
    )
    then = hist.join(base, on="restaurant_id", how="inner").with_columns(
        (pl.col("date") + year).alias("date")
    )
    swing = (
        days.join(then, on="date", how="inner")
        .group_by("date")
        .agg(
            (pl.col("y") - pl.col("base")).mean().alias("ly_swing"),
            pl.len().alias("ly_stores"),
        )
    )
    return days.join(swing, on="date", how="left").with_columns(
        ly_base_days=pl.lit(base_rows["date"].n_unique())
    )


def _anchor_of(X: np.ndarray, names: list[str]) -> np.ndarray:
    """The statistical forecast a residual model starts from (first present of
    the sells-like weekday's, the weekday's, the 28-day recency-weighted means,
    the overall mean)."""
    out = np.full(len(X), np.nan)
    for column in ("like_wd_ewm_6w", "wd_ewm_6w", "ewm_28d", "mean_all"):
        values = X[:, names.index(column)].astype(np.float64)
        out = np.where(np.isnan(out), values, out)
    return np.nan_to_num(out)


ONE_HOT = ("weekday", "weekday_like", "day_type", "month")


def _design(
    X: np.ndarray, Xt: np.ndarray, names: list[str], categorical: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Standardized, median-imputed numeric features with missing flags, and
    one-hot codes (attributes, weekday types, month), for models other than trees."""
    coded = [i for i, n in enumerate(names) if n in categorical or n in ONE_HOT]
    numeric = [i for i in range(len(names)) if i not in coded]
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    num, num_t = X[:, numeric].astype(np.float32), Xt[:, numeric].astype(np.float32)
    missing = np.isnan(num)
    flagged = missing.any(axis=0)
    median = np.nanmedian(num, axis=0)
    median = np.where(np.isnan(median), 0.0, median)
    num = np.where(missing, median, num)
    num_t = np.where(np.isnan(num_t), median, num_t)
    mean, std = num.mean(axis=0), num.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    parts.append(((num - mean) / std, (num_t - mean) / std))
    parts.append(
        (
            missing[:, flagged].astype(np.float32),
            np.isnan(Xt[:, numeric])[:, flagged].astype(np.float32),
        )
    )
    for i in coded:
        levels = np.unique(X[~np.isnan(X[:, i]), i])
        parts.append(
            (
                (X[:, i][:, None] == levels[None, :]).astype(np.float32),
                (Xt[:, i][:, None] == levels[None, :]).astype(np.float32),
            )
        )
    return (
        np.hstack([a for a, _ in parts]).astype(np.float32),
        np.hstack([b for _, b in parts]).astype(np.float32),
    )


def _other_family(
    variant: str,
    X: np.ndarray,
    y: np.ndarray,
    Xt: np.ndarray,
    names: list[str],
    categorical: list[str],
    threads: int | None,
) -> np.ndarray:
    """A ridge regression or a small MLP (scikit-learn) on the residual from the
    statistical anchor, for a blend partner whose errors differ from the trees'."""
    from threadpoolctl import threadpool_limits

    A, At = _design(X, Xt, names, categorical)
    base, base_t = _anchor_of(X, names), _anchor_of(Xt, names)
    # Wild days (private parties) would pull a squared loss: clip the residual.
    target = np.clip(y - base, -2.0, 2.0)
    with threadpool_limits(threads):
        if variant == "ridge":
            ones, ones_t = np.ones((len(A), 1), np.float32), np.ones((len(At), 1), np.float32)
            A, At = np.hstack([A, ones]), np.hstack([At, ones_t])
            gram = np.zeros((A.shape[1], A.shape[1]))
            rhs = np.zeros(A.shape[1])
            for lo in range(0, len(A), 200_000):
                block = A[lo : lo + 200_000].astype(np.float64)
                gram += block.T @ block
                rhs += block.T @ target[lo : lo + 200_000]
            penalty = 1.0 * np.eye(A.shape[1])
            penalty[-1, -1] = 0.0
            coef = np.linalg.solve(gram + penalty, rhs)
            return base_t + At.astype(np.float64) @ coef
        from sklearn.neural_network import MLPRegressor

        if variant == "mlp2":
            # Heavy tails (books, days since the last visit) clipped; slower, longer.
            A, At = np.clip(A, -5, 5), np.clip(At, -5, 5)
        slow = variant == "mlp2"
        net = MLPRegressor(
            hidden_layer_sizes=(64, 32) if slow else (128, 64),
            alpha=1e-3 if slow else 1e-4,
            batch_size=2048,
            learning_rate_init=3e-4 if slow else 1e-3,
            max_iter=20 if slow else 12,
            early_stopping=True,
            validation_fraction=0.05,
            n_iter_no_change=4 if slow else 3,
            random_state=0,
        )
        net.fit(A, target.astype(np.float32))
        return base_t + net.predict(At).astype(np.float64)


def _store_codes(train: pl.DataFrame, test: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each store as an integer code (stores only in the forecast frame get their own)."""
    stores = pl.concat([train["restaurant_id"], test["restaurant_id"]]).unique().sort()
    lookup = dict(zip(stores.to_list(), range(len(stores)), strict=True))
    return (
        np.array([lookup[s] for s in train["restaurant_id"].to_list()], dtype=np.float32),
        np.array([lookup[s] for s in test["restaurant_id"].to_list()], dtype=np.float32),
    )


def _embedding_net(
    variant: str,
    X: np.ndarray,
    y: np.ndarray,
    Xt: np.ndarray,
    codes: np.ndarray,
    codes_t: np.ndarray,
    names: list[str],
    categorical: list[str],
    threads: int | None,
) -> np.ndarray:
    """A torch MLP with a learned embedding per store, fitted on the residual
    from the statistical anchor: the one kind of information the trees do not
    get (which store it is). ``nnemb`` or ``nnemb:DIM`` (embedding width; 0: none)."""
    import torch

    torch.manual_seed(0)
    if threads:
        torch.set_num_threads(threads)
    dim = int(variant.split(":")[1]) if ":" in variant else 8
    A, At = _design(X, Xt, names, categorical)
    A, At = np.clip(A, -5, 5), np.clip(At, -5, 5)
    base, base_t = _anchor_of(X, names), _anchor_of(Xt, names)
    target = np.clip(y - base, -2.0, 2.0).astype(np.float32)
    n_stores = int(max(codes.max(), codes_t.max())) + 1

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.store = torch.nn.Embedding(n_stores, max(dim, 1))
            torch.nn.init.normal_(self.store.weight, std=0.01)
            self.body = torch.nn.Sequential(
                torch.nn.Linear(A.shape[1] + dim, 256),
                torch.nn.ReLU(),
                torch.nn.Dropout(0.1),
                torch.nn.Linear(256, 128),
                torch.nn.ReLU(),
                torch.nn.Linear(128, 1),
            )

        def forward(self, a: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
            parts = [a, self.store(c)[:, :dim]] if dim else [a]
            return self.body(torch.cat(parts, dim=1)).squeeze(1)

    net = Net()
    tensors = (
        torch.from_numpy(A),
        torch.from_numpy(codes.astype(np.int64)),
        torch.from_numpy(target),
    )
    epochs, batch = 8, 4096
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    steps = epochs * (len(A) + batch - 1) // batch
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps)
    loss_fn = torch.nn.HuberLoss(delta=1.0)
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(A))
        for lo in range(0, len(A), batch):
            idx = order[lo : lo + batch]
            optimizer.zero_grad()
            loss = loss_fn(net(tensors[0][idx], tensors[1][idx]), tensors[2][idx])
            loss.backward()
            optimizer.step()
            schedule.step()
    net.eval()
    with torch.no_grad():
        out = net(torch.from_numpy(At), torch.from_numpy(codes_t.astype(np.int64))).numpy()
    return base_t + out.astype(np.float64)


def _rmsle_log(y: np.ndarray, pred_log: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.clip(pred_log, 0, None) - y) ** 2)))


WEIGHTS = np.round(np.arange(0.0, 0.51, 0.05), 2)


def blend(out: Path) -> None:
    """Each variant alone, pairs of variants averaged, and each of those blended
    with each statistical forecast at weights 0..0.5 (where the statistical
    forecast is missing, the model's forecast stands)."""
    files = sorted(out.glob("origin_*.parquet"))
    # Only scored store-days (dumps keep every forecast row, unscored ones without actual).
    frames = {
        f.stem.removeprefix("origin_"): pl.read_parquet(f).filter(pl.col("actual").is_not_null())
        for f in files
    }
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


def _with_median(point: np.ndarray, frame: pl.DataFrame, weight: float = 0.1) -> np.ndarray:
    """The forecaster's blend with the sells-like weekday median (model alone
    where the median is missing)."""
    anchor = frame["like_wd_median"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    return np.where(np.isnan(anchor), point, (1 - weight) * point + weight * anchor)


def _swing_shift(final: np.ndarray, frame: pl.DataFrame) -> np.ndarray:
    """Per row, last year's market swing on its day less the swing the forecast
    implies (mean over stores of forecast less the store's last-28-day mean);
    0 where last year says nothing."""
    implied = (
        frame.select("date", pl.Series("gap", final) - pl.col("mean_28d"))
        .group_by("date")
        .agg(pl.col("gap").mean().alias("implied"))
    )
    joined = frame.select("date", "ly_swing").join(implied, on="date", how="left")
    shift = (joined["ly_swing"] - joined["implied"]).fill_null(0.0).to_numpy()
    return np.nan_to_num(shift)


def combine(out: Path, seeds: int) -> None:
    """Seed bags, a second model family and last year's swing, per origin and mean.

    Every row is the final forecast as the forecaster would issue it (blended
    with the sells-like weekday median at 0.1) unless said otherwise."""
    frames = {
        f.stem.removeprefix("origin_"): frame
        for f in sorted(out.glob("origin_*.parquet"))
        if "gbm_huber" in (frame := pl.read_parquet(f)).columns
    }
    rows: list[tuple[str, str, float]] = []
    for name, frame in frames.items():
        scored = frame["actual"].is_not_null().to_numpy()
        y = np.log1p(frame["actual"].fill_null(0).to_numpy())[scored]

        def score(final: np.ndarray, y: np.ndarray = y, scored: np.ndarray = scored) -> float:
            return _rmsle_log(y, final[scored])

        runs = [frame["gbm_huber"].to_numpy()] + [
            frame[f"gbm_huber_s{k}"].to_numpy()
            for k in range(1, seeds)
            if f"gbm_huber_s{k}" in frame.columns
        ]
        singles = [score(_with_median(r, frame)) for r in runs]
        rows.append((name, "single seed 0", singles[0]))
        rows.append((name, f"single, mean over seeds 0-{len(runs) - 1}", float(np.mean(singles))))
        for k in (2, 3, 5):
            if k <= len(runs):
                rows.append(
                    (name, f"bag of {k}", score(_with_median(np.mean(runs[:k], axis=0), frame)))
                )
        bag = np.mean(runs[:3], axis=0) if len(runs) >= 3 else runs[0]
        for setting in sorted(c for c in frame.columns if c.startswith("gbm_hp:")):
            alt = frame[setting].to_numpy()
            label = setting.removeprefix("gbm_hp:")
            rows.append((name, f"{label} (seed 0)", score(_with_median(alt, frame))))
            rows.append(
                (
                    name,
                    f"{label} + seed 0 averaged",
                    score(_with_median((runs[0] + alt) / 2, frame)),
                )
            )
            if len(runs) >= 3:
                four = (3 * bag + alt) / 4
                rows.append(
                    (name, f"{label} + seeds 0-2 averaged", score(_with_median(four, frame)))
                )
        for other in ("gbm_ridge", "gbm_mlp", "gbm_mlp2"):
            if other not in frame.columns:
                continue
            alt = frame[other].to_numpy()
            rows.append((name, f"{other} alone", score(_with_median(alt, frame))))
            for b in (0.1, 0.2, 0.3, 0.4):
                rows.append(
                    (
                        name,
                        f"seed0 + {other} {b}",
                        score(_with_median((1 - b) * runs[0] + b * alt, frame)),
                    )
                )
                rows.append(
                    (
                        name,
                        f"bag3 + {other} {b}",
                        score(_with_median((1 - b) * bag + b * alt, frame)),
                    )
                )
        if {"gbm_ridge", "gbm_mlp2"} <= set(frame.columns):
            # Everything together: seeds 0-2, the ridge, the MLP, last year's swing.
            ridge, mlp = frame["gbm_ridge"].to_numpy(), frame["gbm_mlp2"].to_numpy()
            for b_ridge, b_mlp, alpha in itertools.product((0.1, 0.2), (0.1, 0.2), (0.0, 0.1)):
                final = _with_median(
                    (1 - b_ridge - b_mlp) * bag + b_ridge * ridge + b_mlp * mlp, frame
                )
                final = final + alpha * _swing_shift(final, frame)
                label = f"bag3 + ridge {b_ridge} + mlp2 {b_mlp} + ly swing {alpha}"
                rows.append((name, label, score(final)))
        for base_name, base in (("seed0", runs[0]), ("bag3", bag)):
            final = _with_median(base, frame)
            shift = _swing_shift(final, frame)
            for alpha in (0.1, 0.2, 0.3, 0.5):
                rows.append((name, f"{base_name} + ly swing {alpha}", score(final + alpha * shift)))
    table = pl.DataFrame(rows, schema=["origin", "variant", "rmsle"], orient="row", strict=False)
    wide = table.pivot(on="origin", index="variant", values="rmsle")
    origin_cols = sorted(frames)
    wide = wide.with_columns(mean=pl.mean_horizontal(origin_cols))
    with pl.Config(tbl_rows=200, tbl_width_chars=200, float_precision=4, fmt_str_lengths=40):
        print(wide)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["dump", "blend", "combine"])
    parser.add_argument("--origin", action="append", type=date.fromisoformat)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "recruit_selection")
    parser.add_argument("--variants", default="huber,l2,bucket,profile")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seeds", type=int, default=5, help="combine: seeds to bag at most")
    args = parser.parse_args()
    if args.command == "dump":
        for origin in args.origin or ORIGINS:
            dump(origin, args.out, args.variants.split(","), args.threads)
    elif args.command == "combine":
        combine(args.out, args.seeds)
    else:
        blend(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
