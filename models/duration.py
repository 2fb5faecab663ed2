"""How long will the party stay? Quantiles of dining duration (turn time).

The duration frame: one polars row per seated party, as ``models.features`` builds it.

Required columns (a frame without one raises ``ValueError`` naming it):
    party_size      int
    local_hour      int, the hour of the seating in the restaurant's time zone
    weekday         int, Monday = 0, local
    restaurant_id   int, a category (each kitchen and floor has its own pace)
    area            str, the dining area of the (first) table: bar, terrace, ...
    price_tier      int, 1..4
Label: duration_min (float, seated to completed) for ``fit``.
Never features: reservation_id and other ``*_id`` except restaurant_id, ``*_at``
    and other Date/Datetime/Duration columns (e.g. seated_at), the label, and
    names in ``exclude``.
Everything else is a feature: numeric and bool columns as numbers, str and
    categorical columns as LightGBM categories.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Self

import lightgbm as lgb
import numpy as np
import polars as pl

REQUIRED_COLUMNS = ("party_size", "local_hour", "weekday", "restaurant_id", "area", "price_tier")
CATEGORICAL_COLUMNS = ("restaurant_id", "area")
LABEL = "duration_min"


def quantile_name(q: float) -> str:
    """The column name for quantile ``q``: 0.5 -> "p50", 0.9 -> "p90", 0.975 -> "p97.5"."""
    return f"p{q * 100:g}"


class DiningDuration:
    """One LightGBM quantile model per quantile of duration_min.

    The models learn log(duration): quantiles survive a monotone transform, and
    the drivers of a meal's length multiply (a bigger party and a pricier menu
    and a private room), which trees fit better as sums. Predicted quantiles
    are sorted per row so that they never cross (p90 >= p50).

    Defaults measured on four synthetic worlds (time-ordered last 20% held
    out): P50 MAE 0.2-1.0% above the oracle's (the world's true median), p90
    coverage 0.886-0.902; 15 leaves undercover slightly (0.876-0.892).

    Fitted attributes: ``boosters_`` (quantile -> lightgbm.Booster),
    ``feature_names_``, ``categorical_features_``, ``categories_``,
    ``fit_seconds_``.
    """

    def __init__(
        self,
        *,
        quantiles: Sequence[float] = (0.5, 0.9),
        n_estimators: int = 400,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_child_samples: int = 100,
        log_target: bool = True,
        max_categories: int = 500,
        exclude: Sequence[str] = (),
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.quantiles = quantiles
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.log_target = log_target
        self.max_categories = max_categories
        self.exclude = exclude
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check(self, frame: pl.DataFrame) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"duration frame lacks column(s) {', '.join(missing)}")

    def _learn_columns(self, frame: pl.DataFrame) -> None:
        numeric: list[str] = []
        categorical: list[str] = list(CATEGORICAL_COLUMNS)
        for name, dtype in frame.schema.items():
            if name in CATEGORICAL_COLUMNS:
                continue
            if (
                name == LABEL
                or name in self.exclude
                or name.endswith("_id")
                or name.endswith("_at")
                or dtype.is_temporal()
            ):
                continue
            if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
                categorical.append(name)
            elif dtype.is_numeric() or dtype == pl.Boolean:
                numeric.append(name)
        self.categories_: dict[str, list[str]] = {}
        for name in categorical:
            counts = frame.get_column(name).cast(pl.String).drop_nulls().value_counts(sort=True)
            self.categories_[name] = sorted(counts.get_column(name).head(self.max_categories))
        self.numeric_features_ = numeric
        self.categorical_features_ = categorical
        self.feature_names_ = [*numeric, *categorical]

    def feature_matrix(self, frame: pl.DataFrame) -> np.ndarray:
        """The matrix the boosters see (columns ``feature_names_``; unseen or
        missing categories are NaN, which LightGBM treats as missing)."""
        self._check(frame)
        num = (
            frame.select(pl.col(c).cast(pl.Float64).fill_nan(None) for c in self.numeric_features_)
            .to_numpy()
            .astype(np.float64, copy=False)
            if self.numeric_features_
            else np.empty((frame.height, 0))
        )
        codes = np.full((frame.height, len(self.categorical_features_)), np.nan)
        for j, name in enumerate(self.categorical_features_):
            lookup = {v: float(i) for i, v in enumerate(self.categories_[name])}
            values = frame.get_column(name).cast(pl.String).to_list()
            codes[:, j] = [lookup.get(v, np.nan) if v is not None else np.nan for v in values]
        return np.hstack([num, codes])

    def fit(self, frame: pl.DataFrame, y: pl.Series | np.ndarray | None = None) -> Self:
        """Learn from a duration frame; the label is ``frame["duration_min"]`` unless ``y``."""
        began = time.perf_counter()
        self._check(frame)
        if not self.quantiles or any(not 0.0 < q < 1.0 for q in self.quantiles):
            raise ValueError(f"quantiles must lie strictly between 0 and 1: {self.quantiles}")
        if y is None:
            if LABEL not in frame.columns:
                raise ValueError(f"duration frame lacks the label column {LABEL!r} (or pass y)")
            y = frame.get_column(LABEL)
        target = (y.to_numpy() if isinstance(y, pl.Series) else np.asarray(y)).astype(np.float64)
        if len(target) != frame.height:
            raise ValueError(f"y has {len(target)} values for {frame.height} rows")
        keep = np.isfinite(target) & (target > 0)
        self._learn_columns(frame)
        X = self.feature_matrix(frame)[keep]
        target = np.log(target[keep]) if self.log_target else target[keep]
        data = lgb.Dataset(
            X,
            target,
            feature_name=self.feature_names_,
            categorical_feature=self.categorical_features_,
            free_raw_data=False,
        )
        self.boosters_: dict[float, lgb.Booster] = {}
        for q in sorted(self.quantiles):
            params: dict[str, Any] = {
                "objective": "quantile",
                "alpha": q,
                "learning_rate": self.learning_rate,
                "num_leaves": self.num_leaves,
                "min_data_in_leaf": self.min_child_samples,
                "seed": self.random_state,
                "num_threads": self.n_jobs,
                "deterministic": True,
                "force_row_wise": True,
                "verbose": -1,
            }
            self.boosters_[q] = lgb.train(params, data, num_boost_round=self.n_estimators)
        self.n_features_in_ = len(self.feature_names_)
        self.fit_seconds_ = time.perf_counter() - began
        return self

    def predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Minutes per quantile, one column each (``p50``, ``p90``, ...), never crossing."""
        names = [quantile_name(q) for q in sorted(self.quantiles)]
        if frame.height == 0:
            return pl.DataFrame(schema=dict.fromkeys(names, pl.Float64))
        X = self.feature_matrix(frame)
        raw = np.column_stack(
            [np.asarray(self.boosters_[q].predict(X)) for q in sorted(self.quantiles)]
        )
        minutes = np.exp(raw) if self.log_target else raw
        # Separately fitted quantiles can cross; sorting each row is the
        # rearrangement that never makes any quantile's error worse.
        minutes = np.sort(minutes, axis=1)
        return pl.DataFrame({n: minutes[:, j] for j, n in enumerate(names)})


def evaluate_duration(y: Any, pred: pl.DataFrame) -> dict[str, float]:
    """mae_p50 (if a p50 column), and per quantile column pXX: pinball_pXX (mean
    pinball loss, minutes) and coverage_pXX (share of parties done by then)."""
    actual = (y.to_numpy() if isinstance(y, pl.Series) else np.asarray(y)).astype(np.float64)
    out: dict[str, float] = {"n": float(len(actual))}
    for name in pred.columns:
        q = float(name.removeprefix("p")) / 100.0
        guess = pred.get_column(name).to_numpy().astype(np.float64)
        diff = actual - guess
        out[f"pinball_{name}"] = float(np.mean(np.maximum(q * diff, (q - 1.0) * diff)))
        out[f"coverage_{name}"] = float(np.mean(actual <= guess))
        if name == "p50":
            out["mae_p50"] = float(np.mean(np.abs(diff)))
    return out
