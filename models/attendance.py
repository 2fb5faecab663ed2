"""Will the party come? No-show and late-cancellation risk per booking.

``AttendanceRisk`` is a LightGBM classifier whose probabilities are calibrated
on a time-ordered slice of its training data and whose predictions explain
themselves (``reasons``). ``HistoricalRateBaseline`` and ``LogisticBaseline``
are what it must beat; ``evaluate_classifier`` and ``calibration_curve_data``
judge all three on the same holdout.

The attendance frame: one polars row per booking, as ``models.features`` builds it.

Core columns (a frame without one raises ``ValueError`` naming it):
    booked_at, start_at        UTC polars Datetime
    party_size                 int
    channel                    str: web / widget / affiliate / phone (any string works)
    deposit_required           bool
    special_requests           str, "" when none
    diner_prior_bookings, diner_prior_no_shows, diner_prior_cancellations
                               point-in-time counts of the diner's earlier, resolved
                               bookings; when absent and ``diner_id`` is present they
                               are derived from the frame (see ``add_diner_history``)
Labels (bool): no_show, late_cancel, lost (= no-show or late cancellation);
    cancelled (optional, any cancellation: only used to derive diner history).
Never features: reservation_id, diner_id and any other ``*_id``, any ``*_at`` or
    other Date/Datetime/Duration column, the labels, and names in ``exclude``.
Everything else is a feature: numeric and bool columns as numbers, str and
    categorical columns as LightGBM categories (e.g. lead_hours, local_hour,
    weekday, price_tier, cuisine, restaurant_prior_no_show_rate,
    diner_prior_late_cancellations, confirmed_by_cutoff).

Derived features:
    lead_days_log      log1p(lead_hours / 24); lead_hours from its column, else
                       start_at - booked_at (trees do not care, the logistic baseline does)
    weekday, hour      the ``weekday`` (Monday = 0) and ``local_hour`` columns when
                       present, else taken from start_at in UTC (``weekday_utc``,
                       ``hour_utc``): the local columns are better, since a 21:00
                       Saturday dinner in New York is Sunday 01:00 UTC
    request_*          from special_requests: has one, its length and keyword flags
                       (birthday, anniversary, allergy, dietary, accessibility, child)
                       in English, French, Spanish and Japanese; no heavier NLP
    diner_no_show_rate, diner_cancel_rate
                       the diner's prior counts shrunk towards typical rates, so a
                       single split can rank "1 in 2" below "4 in 8"
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, Self

import lightgbm as lgb
import numpy as np
import polars as pl
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

Target = Literal["no_show", "late_cancel", "lost"]
Calibration = Literal["isotonic", "sigmoid"]

CORE_COLUMNS = (
    "booked_at",
    "start_at",
    "party_size",
    "channel",
    "deposit_required",
    "special_requests",
)
HISTORY_COLUMNS = ("diner_prior_bookings", "diner_prior_no_shows", "diner_prior_cancellations")
LABEL_COLUMNS = ("no_show", "late_cancel", "lost", "cancelled")
TARGETS = ("no_show", "late_cancel", "lost")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# A booking's outcome is settled by its start (a no-show is called 20 minutes in);
# cancellations may be known earlier, but the frame does not say when.
OUTCOME_SETTLED_AFTER_START = pl.duration(minutes=30)

# Frames up to this many rows (a booking being scored while a host waits) are
# prepared in plain Python: polars' fixed cost per expression (a few hundred
# microseconds, milliseconds when its thread pool competes for the CPU) is
# far more than the work, and LightGBM predicts them on one thread, since
# waking an OpenMP team costs more than a row of stumps.
SMALL_FRAME_ROWS = 16

# Keyword flags over the four languages the platform's diners write in.
# French: "l'anniversaire de Marie" is a birthday, "anniversaire de mariage" an anniversary.
REQUEST_KEYWORDS: dict[str, str] = {
    "birthday": r"birthday|cumpleaños|誕生日|l'anniversaire",
    "anniversary": r"anniversary|anniversaire de mariage|aniversario|記念日|wedding",
    "allergy": r"allerg|alergi|アレルギー",
    "dietary": r"vegan|vegetarian|végétarien|gluten|halal|kosher|pescatarian|"
    r"options|opciones|メニュー",
    "accessible": r"wheelchair|fauteuil|silla de ruedas|車椅子|without steps",
    "child": r"high chair|chaise haute|trona|子供|toddler|bébé|baby",
}


# --------------------------------------------------------------------------- history


def add_diner_history(frame: pl.DataFrame, past: pl.DataFrame | None = None) -> pl.DataFrame:
    """Add diner_prior_{bookings,no_shows,cancellations,late_cancellations} to ``frame``.

    A booking counts towards another of the same diner when its outcome was settled
    before that one's booked_at. The frame does not carry when an outcome became
    known, so it is approximated as start_at + 30 minutes: exact for no-shows and
    completions, late for cancellations (which are therefore counted a little
    later than a host would know them; never earlier, so nothing leaks).
    Cancellations come from the ``cancelled`` label when present, else from
    ``late_cancel`` (then early cancellations go uncounted).

    ``past``: outcome events from earlier frames (``outcome_events``), e.g. the
    training data when scoring new bookings that carry no labels yet.
    """
    events = outcome_events(frame) if "no_show" in frame.columns else _empty_events()
    if past is not None:
        events = pl.concat([past, events], how="vertical_relaxed").unique(
            subset=["diner_id", "booked_at", "start_at"], keep="last", maintain_order=True
        )
    counts = events.sort("settled_at").select(
        "diner_id",
        "settled_at",
        diner_prior_bookings=pl.int_range(1, pl.len() + 1).over("diner_id"),
        diner_prior_no_shows=pl.col("no_show").cum_sum().over("diner_id"),
        diner_prior_cancellations=pl.col("cancelled").cum_sum().over("diner_id"),
        diner_prior_late_cancellations=pl.col("late_cancel").cum_sum().over("diner_id"),
    )
    names = [c for c in counts.columns if c.startswith("diner_prior_")]
    left = (
        frame.drop([c for c in names if c in frame.columns])
        .with_row_index("_row")
        .with_columns(pl.col("diner_id").cast(pl.Int64))
        .sort("booked_at")
    )
    # Strictly before: an outcome settled at the very instant of booking is not yet seen.
    joined = left.join_asof(
        counts,
        left_on="booked_at",
        right_on="settled_at",
        by="diner_id",
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,
    )
    return (
        joined.sort("_row")
        .drop("_row", "settled_at")
        .with_columns(pl.col(names).fill_null(0).cast(pl.Int64))
        .with_columns(pl.col("diner_id").cast(frame.schema["diner_id"]))
    )


def outcome_events(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame's settled bookings, as diner history: diner_id, booked_at, start_at,
    settled_at and 0/1 no_show, cancelled, late_cancel."""
    cancel = next((c for c in ("cancelled", "late_cancel", "lost") if c in frame.columns), None)
    if "diner_id" not in frame.columns or cancel is None:
        return _empty_events()
    late = "late_cancel" if "late_cancel" in frame.columns else cancel
    cancelled = pl.col(cancel) & ~pl.col("no_show") if cancel == "lost" else pl.col(cancel)
    return frame.filter(pl.col("diner_id").is_not_null() & pl.col("no_show").is_not_null()).select(
        pl.col("diner_id").cast(pl.Int64),
        pl.col("booked_at"),
        pl.col("start_at"),
        settled_at=pl.col("start_at") + OUTCOME_SETTLED_AFTER_START,
        no_show=pl.col("no_show").cast(pl.Int64),
        cancelled=cancelled.fill_null(False).cast(pl.Int64),
        late_cancel=pl.col(late).fill_null(False).cast(pl.Int64),
    )


def _empty_events() -> pl.DataFrame:
    utc = pl.Datetime("us", "UTC")
    return pl.DataFrame(
        schema={
            "diner_id": pl.Int64,
            "booked_at": utc,
            "start_at": utc,
            "settled_at": utc,
            "no_show": pl.Int64,
            "cancelled": pl.Int64,
            "late_cancel": pl.Int64,
        }
    )


# --------------------------------------------------------------------------- features

# (typical rate, pseudo-bookings) for shrinking a diner's own rates. A diner's
# latent habit moves the log-odds by about one unit per standard deviation, so
# one booking carries about p(1 - p) units of information: at 8% no-shows a
# dozen bookings weigh as much as the prior; cancellations (rarer to differ by
# diner) need more.
HISTORY_PRIOR: dict[str, tuple[float, float]] = {"no_show": (0.08, 12.0), "cancel": (0.15, 30.0)}


def _shrunk(count: str, n: pl.Expr, rate: float, strength: float) -> pl.Expr:
    return (pl.col(count).cast(pl.Float64) + rate * strength) / (n + strength)


def _is_ignored(name: str, dtype: pl.DataType, exclude: Sequence[str]) -> bool:
    return (
        name in exclude
        or name in LABEL_COLUMNS
        or name.endswith("_id")
        or name.endswith("_at")
        or dtype.is_temporal()
    )


def _is_categorical(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)


@dataclass
class AttendanceDesign:
    """What the attendance models see: which columns, how each is encoded, and
    which explanation group it belongs to. Learnt from a training frame."""

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    categories: dict[str, list[str]] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    derive_history: bool = False
    history: pl.DataFrame | None = None

    @property
    def feature_names(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @classmethod
    def learn(
        cls, frame: pl.DataFrame, *, exclude: Sequence[str] = (), max_categories: int = 50
    ) -> AttendanceDesign:
        design = cls(derive_history=any(c not in frame.columns for c in HISTORY_COLUMNS))
        if design.derive_history and "no_show" in frame.columns:
            # kept so that new, unlabelled bookings can be given their diner's history
            design.history = outcome_events(frame)
        elif design.derive_history and "diner_id" in frame.columns:
            raise ValueError(
                f"attendance frame lacks {', '.join(HISTORY_COLUMNS)} and the no_show label "
                "to derive them from"
            )
        prepared = design.prepare(frame)
        fixed = {
            "lead_days_log": "lead",
            "party_size": "party_size",
            "deposit_required": "deposit_required",
            **{f"request_{k}": "special_requests" for k in ("has", "length", *REQUEST_KEYWORDS)},
        }
        consumed = {*CORE_COLUMNS, "lead_hours"}  # replaced by derived features
        for name, dtype in prepared.schema.items():
            if name in fixed:
                design.numeric.append(name)
                design.groups[name] = fixed[name]
            elif name == "channel":
                design.categorical.append(name)
                design.groups[name] = name
            elif name in consumed or _is_ignored(name, dtype, exclude):
                continue
            elif _is_categorical(dtype):
                design.categorical.append(name)
                design.groups[name] = name
            elif dtype.is_numeric() or dtype == pl.Boolean:
                design.numeric.append(name)
                design.groups[name] = _group_of(name)
        for name in design.categorical:
            counts = prepared.get_column(name).cast(pl.String).drop_nulls().value_counts(sort=True)
            design.categories[name] = sorted(counts.get_column(name).head(max_categories))
        return design

    def prepare(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The frame with every derived column added (history, lead, calendar, text)."""
        missing = [c for c in CORE_COLUMNS if c not in frame.columns]
        lacking_history = [c for c in HISTORY_COLUMNS if c not in frame.columns]
        if lacking_history and "diner_id" not in frame.columns:
            missing += lacking_history
        if missing:
            raise ValueError(
                f"attendance frame lacks column(s) {', '.join(missing)}"
                + (" (or diner_id to derive the history counts)" if lacking_history else "")
            )
        if lacking_history:
            frame = add_diner_history(frame, self.history)
        lead = (
            pl.col("lead_hours").cast(pl.Float64)
            if "lead_hours" in frame.columns
            else (pl.col("start_at") - pl.col("booked_at")).dt.total_seconds() / 3600.0
        )
        text = pl.col("special_requests").fill_null("").str.to_lowercase()
        booked = pl.col("diner_prior_bookings").cast(pl.Float64)
        # a no-show can only follow a booking that was not cancelled
        kept = booked - pl.col("diner_prior_cancellations").cast(pl.Float64)
        derived: list[pl.Expr] = [
            lead.alias("lead_hours"),
            (lead.clip(lower_bound=0.0) / 24.0).log1p().alias("lead_days_log"),
            pl.col("deposit_required").cast(pl.Float64),
            (text.str.len_chars() > 0).cast(pl.Float64).alias("request_has"),
            text.str.len_chars().cast(pl.Float64).alias("request_length"),
            *(
                text.str.contains(pattern).cast(pl.Float64).alias(f"request_{k}")
                for k, pattern in REQUEST_KEYWORDS.items()
            ),
            # A diner's rates shrunk towards typical ones (see HISTORY_PRIOR): one
            # no-show in two bookings is weaker evidence than four in eight.
            _shrunk("diner_prior_no_shows", kept, *HISTORY_PRIOR["no_show"]).alias(
                "diner_no_show_rate"
            ),
            _shrunk("diner_prior_cancellations", booked, *HISTORY_PRIOR["cancel"]).alias(
                "diner_cancel_rate"
            ),
        ]
        if "weekday" not in frame.columns:
            derived.append((pl.col("start_at").dt.weekday() - 1).alias("weekday_utc"))
        if "local_hour" not in frame.columns:
            derived.append(pl.col("start_at").dt.hour().alias("hour_utc"))
        return frame.with_columns(derived)

    def numeric_matrix(self, prepared: pl.DataFrame) -> np.ndarray:
        if not self.numeric:
            return np.empty((prepared.height, 0))
        cols = [pl.col(c).cast(pl.Float64).fill_nan(None) for c in self.numeric]
        return prepared.select(cols).to_numpy().astype(np.float64, copy=False)

    def category_codes(self, prepared: pl.DataFrame) -> np.ndarray:
        """Integer codes per categorical column; NaN for null or unseen values."""
        out = np.full((prepared.height, len(self.categorical)), np.nan)
        for j, name in enumerate(self.categorical):
            lookup = {v: float(i) for i, v in enumerate(self.categories[name])}
            values = prepared.get_column(name).cast(pl.String).to_list()
            out[:, j] = [lookup.get(v, np.nan) if v is not None else np.nan for v in values]
        return out

    def matrix(self, prepared: pl.DataFrame) -> np.ndarray:
        return np.hstack([self.numeric_matrix(prepared), self.category_codes(prepared)])

    def prepared_rows(self, frame: pl.DataFrame) -> list[dict[str, Any]] | None:
        """``prepare(frame).to_dicts()`` computed in Python, for small frames
        (see ``SMALL_FRAME_ROWS``); None when polars must do it (a frame that
        needs diner history derived, or a column ``prepare`` would refuse).
        A test holds the two paths to the same numbers."""
        columns = frame.columns
        if any(c not in columns for c in (*CORE_COLUMNS, *HISTORY_COLUMNS)):
            return None
        rows = frame.to_dicts()
        for row in rows:
            lead = row.get("lead_hours") if "lead_hours" in columns else _hours(row)
            lead = None if lead is None else float(lead)
            row["lead_hours"] = lead
            row["lead_days_log"] = None if lead is None else math.log1p(max(lead, 0.0) / 24.0)
            deposit = row["deposit_required"]
            row["deposit_required"] = None if deposit is None else float(deposit)
            text = (row["special_requests"] or "").lower()
            row["request_has"] = float(len(text) > 0)
            row["request_length"] = float(len(text))
            for k, pattern in _KEYWORD_PATTERNS.items():
                row[f"request_{k}"] = float(pattern.search(text) is not None)
            booked, no_shows, cancels = (row[c] for c in HISTORY_COLUMNS)
            rate, strength = HISTORY_PRIOR["no_show"]
            row["diner_no_show_rate"] = (
                None
                if booked is None or no_shows is None or cancels is None
                else (no_shows + rate * strength) / (booked - cancels + strength)
            )
            rate, strength = HISTORY_PRIOR["cancel"]
            row["diner_cancel_rate"] = (
                None
                if booked is None or cancels is None
                else (cancels + rate * strength) / (booked + strength)
            )
            start = row["start_at"]
            if "weekday" not in columns:
                row["weekday_utc"] = None if start is None else start.weekday()
            if "local_hour" not in columns:
                row["hour_utc"] = None if start is None else start.hour
        return rows

    def matrix_of_rows(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        """``matrix`` for rows from ``prepared_rows``."""
        out = np.full((len(rows), len(self.numeric) + len(self.categorical)), np.nan)
        lookups = [
            {v: float(i) for i, v in enumerate(self.categories[name])} for name in self.categorical
        ]
        offset = len(self.numeric)
        for i, row in enumerate(rows):
            for j, name in enumerate(self.numeric):
                value = row.get(name)
                if value is not None:
                    out[i, j] = float(value)
            for j, (name, lookup) in enumerate(zip(self.categorical, lookups, strict=True)):
                value = row.get(name)
                if value is not None:
                    out[i, offset + j] = lookup.get(_as_category(value), np.nan)
        return out


_KEYWORD_PATTERNS = {k: re.compile(pattern) for k, pattern in REQUEST_KEYWORDS.items()}


def _hours(row: dict[str, Any]) -> float | None:
    start, booked = row["start_at"], row["booked_at"]
    if start is None or booked is None:
        return None
    # whole seconds, truncated toward zero, as polars' ``dt.total_seconds()``
    micros = (start - booked) // timedelta(microseconds=1)
    seconds = abs(micros) // 1_000_000 * (1 if micros >= 0 else -1)
    return seconds / 3600.0


def _as_category(value: Any) -> str:
    """A value as polars casts it to String (bools are "true"/"false")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _group_of(name: str) -> str:
    if name.startswith("diner_prior_") or name in ("diner_no_show_rate", "diner_cancel_rate"):
        return "diner_history"
    if name in ("weekday", "weekday_utc"):
        return "weekday"
    if name == "hour_utc":
        return "hour"
    return name


def _lead_words(hours: float) -> str:
    if hours < 48:
        return f"lead time {max(hours, 0):.0f} hours"
    return f"lead time {hours / 24:.0f} days"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _phrase(group: str, row: dict[str, Any]) -> str:
    """A host-readable label for one explanation group of one booking."""
    if group == "lead":
        return _lead_words(float(row["lead_hours"]))
    if group == "party_size":
        return f"party of {row['party_size']}"
    if group == "channel":
        return f"booked via {row['channel']}"
    if group == "deposit_required":
        return "deposit required" if row["deposit_required"] else "no deposit"
    if group == "special_requests":
        kinds = [k for k in REQUEST_KEYWORDS if row.get(f"request_{k}")]
        if not row.get("request_has"):
            return "no special request"
        return "special request" + (f" ({', '.join(kinds)})" if kinds else "")
    if group == "diner_history":
        n = int(row.get("diner_prior_bookings") or 0)
        if n == 0:
            return "no earlier bookings"
        ns = int(row.get("diner_prior_no_shows") or 0)
        c = int(row.get("diner_prior_cancellations") or 0)
        return (
            f"{_count(n, 'earlier booking')}: {_count(ns, 'no-show')}, {_count(c, 'cancellation')}"
        )
    if group == "weekday":
        day = row.get("weekday", row.get("weekday_utc"))
        utc = " (UTC)" if "weekday" not in row else ""
        return f"on a {WEEKDAYS[int(day) % 7]}{utc}" if day is not None else "weekday unknown"
    if group == "hour" and row.get("hour_utc") is not None:
        return f"at {int(row['hour_utc']):02d}:00 UTC"
    if group == "local_hour" and row.get("local_hour") is not None:
        return f"at {int(row['local_hour']):02d}:00"
    value = row.get(group, row.get(f"{group}_utc"))
    words = group.replace("_", " ")
    if value is None:
        return f"{words} unknown"
    if isinstance(value, bool):
        return f"{words}: {'yes' if value else 'no'}"
    if isinstance(value, float):
        return f"{words} {value:.3g}"
    return f"{words} {value}"


# --------------------------------------------------------------------------- the model


def _labels(frame: pl.DataFrame, y: Any, target: str) -> np.ndarray:
    if y is not None:
        values = y.to_numpy() if isinstance(y, pl.Series) else np.asarray(y)
    elif target in frame.columns:
        values = frame.get_column(target).to_numpy()
    else:
        raise ValueError(f"attendance frame lacks the label column {target!r} (or pass y)")
    if len(values) != frame.height:
        raise ValueError(f"y has {len(values)} values for {frame.height} rows")
    if any(v is None for v in values) or np.isnan(values.astype(np.float64)).any():
        raise ValueError(f"{target} labels must all be known: drop unsettled bookings first")
    return values.astype(np.float64)


class AttendanceRisk:
    """Calibrated probability that a booking ends as ``target``.

    Calibration: the last ``calibration_fraction`` of the training rows by
    booked_at is held out; a booster learns on the earlier rows (stopping early
    on the held-out slice) and the calibrator maps its raw scores to
    probabilities on that slice. Time order rather than random folds (or
    ``CalibratedClassifierCV``), because the model always scores bookings later
    than the ones it learnt from and a diner's history grows with time.
    ``calibration="sigmoid"`` (Platt) by default: a slice holds a few hundred
    no-shows, on which isotonic steps overfit (measured ECE, Platt vs isotonic:
    0.013-0.018 vs 0.021-0.023 on three small worlds, 0.007 vs 0.009 on the
    demo world); isotonic pays off with many thousands of positives.
    With ``refit`` the booster is then retrained on all rows for the early-stopped
    number of rounds scaled to the larger data, and the calibrator is kept: the
    newest bookings are the most like tomorrow's (+0.004 AUC on the demo world,
    calibration unchanged within noise).

    Defaults are stumps (``num_leaves=2``: an additive model in log-odds) with
    random split thresholds (``extra_trees``) and a slow learning rate: the drivers
    of attendance are close to additive in log-odds and positives are rare, so
    deeper or greedier trees mostly fit noise. Measured as AUC below the
    Bayes-optimal predictor from observables (see the tests), on four worlds:
    0.008-0.023 for 2 leaves with extra trees, 0.011-0.050 for 3 leaves
    without (alike on the demo world, better on the small ones). Raise
    ``num_leaves`` for features that interact (e.g. confirmed_by_cutoff and
    lead time at the reminder cut-off) once there are enough bookings.
    ``n_jobs=1``: on frames of tens of thousands of rows more threads mostly
    add synchronisation.

    Fitted attributes: ``booster_`` (lightgbm.Booster), ``calibrator_``,
    ``feature_names_``, ``categorical_features_``, ``categories_``,
    ``feature_groups_`` (feature -> explanation group), ``design_``,
    ``best_iteration_``, ``base_rate_``, ``fit_seconds_``.
    """

    def __init__(
        self,
        *,
        target: Target = "no_show",
        calibration: Calibration = "sigmoid",
        n_estimators: int = 2000,
        learning_rate: float = 0.03,
        num_leaves: int = 2,
        min_child_samples: int = 100,
        reg_lambda: float = 5.0,
        colsample_bytree: float = 0.8,
        extra_trees: bool = True,
        early_stopping_rounds: int | None = 100,
        calibration_fraction: float = 0.2,
        refit: bool = True,
        max_categories: int = 50,
        exclude: Sequence[str] = (),
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.target = target
        self.calibration = calibration
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.colsample_bytree = colsample_bytree
        self.extra_trees = extra_trees
        self.early_stopping_rounds = early_stopping_rounds
        self.calibration_fraction = calibration_fraction
        self.max_categories = max_categories
        self.exclude = exclude
        self.refit = refit
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _params(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "lambda_l2": self.reg_lambda,
            "feature_fraction": self.colsample_bytree,
            "feature_fraction_seed": self.random_state,
            "extra_trees": self.extra_trees,
            "extra_seed": self.random_state,
            "seed": self.random_state,
            "num_threads": self.n_jobs,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }

    def fit(self, frame: pl.DataFrame, y: pl.Series | np.ndarray | None = None) -> Self:
        """Learn from an attendance frame; labels from ``frame[target]`` unless ``y``."""
        began = time.perf_counter()
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, not {self.target!r}")
        if self.calibration not in ("isotonic", "sigmoid"):
            raise ValueError(
                f"calibration must be 'isotonic' or 'sigmoid', not {self.calibration!r}"
            )
        labels = _labels(frame, y, self.target)
        if y is not None and self.target not in frame.columns:
            frame = frame.with_columns(pl.Series(self.target, labels.astype(bool)))
        order = np.argsort(frame.get_column("booked_at").to_numpy(), kind="stable")
        frame, labels = frame[order], labels[order]
        self.design_ = AttendanceDesign.learn(
            frame, exclude=self.exclude, max_categories=self.max_categories
        )
        X = self.design_.matrix(self.design_.prepare(frame))
        n_cal = round(len(labels) * self.calibration_fraction)
        if n_cal < 50 or len(labels) - n_cal < 50:
            raise ValueError(f"too few rows ({len(labels)}) to train and calibrate")
        cut = len(labels) - n_cal
        if len(np.unique(labels[cut:])) < 2 or len(np.unique(labels[:cut])) < 2:
            raise ValueError("both outcomes must occur in the training and the calibration slice")
        names = self.design_.feature_names
        cats = list(self.design_.categorical)
        train = lgb.Dataset(
            X[:cut], labels[:cut], feature_name=names, categorical_feature=cats, free_raw_data=False
        )
        valid = lgb.Dataset(X[cut:], labels[cut:], reference=train)
        callbacks: list[Callable[..., Any]] = []
        if self.early_stopping_rounds:
            callbacks.append(lgb.early_stopping(self.early_stopping_rounds, verbose=False))
        params = self._params()
        self.booster_ = lgb.train(
            params,
            train,
            num_boost_round=self.n_estimators,
            valid_sets=[valid],
            callbacks=callbacks,
        )
        self.best_iteration_ = self.booster_.best_iteration or self.n_estimators
        raw = self._raw(X[cut:])
        self.calibrator_: IsotonicRegression | LogisticRegression
        if self.calibration == "isotonic":
            self.calibrator_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self.calibrator_.fit(raw, labels[cut:])
        else:
            self.calibrator_ = LogisticRegression(C=1e4)
            self.calibrator_.fit(raw.reshape(-1, 1), labels[cut:])
        if self.refit:
            whole = lgb.Dataset(X, labels, feature_name=names, categorical_feature=cats)
            rounds = round(self.best_iteration_ / (1.0 - self.calibration_fraction))
            self.booster_ = lgb.train(params, whole, num_boost_round=rounds)
            self.best_iteration_ = rounds
        self.feature_names_ = names
        self.categorical_features_ = cats
        self.categories_ = self.design_.categories
        self.feature_groups_ = dict(self.design_.groups)
        self.n_features_in_ = len(names)
        self.classes_ = np.array([False, True])
        self.base_rate_ = float(labels.mean())
        self.calibration_rows_ = n_cal
        self.fit_seconds_ = time.perf_counter() - began
        return self

    def _threads(self, X: np.ndarray) -> dict[str, Any]:
        return {"num_threads": 1} if len(X) <= SMALL_FRAME_ROWS else {}

    def _raw(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(
            self.booster_.predict(
                X, raw_score=True, num_iteration=self.best_iteration_, **self._threads(X)
            )
        )

    def _small_rows(self, frame: pl.DataFrame) -> list[dict[str, Any]] | None:
        if frame.height > SMALL_FRAME_ROWS:
            return None
        return self.design_.prepared_rows(frame)

    def feature_matrix(self, frame: pl.DataFrame) -> np.ndarray:
        """The matrix the booster sees for ``frame`` (columns ``feature_names_``)."""
        rows = self._small_rows(frame)
        if rows is not None:
            return self.design_.matrix_of_rows(rows)
        return self.design_.matrix(self.design_.prepare(frame))

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """P(target) from raw booster scores. The calibrators' own formulas
        (Platt: the logistic of a line; isotonic: linear interpolation between
        its thresholds, clipped), without scikit-learn's per-call input checks,
        which cost more than the arithmetic on one booking."""
        cal = self.calibrator_
        if isinstance(cal, IsotonicRegression):
            x = np.clip(raw, cal.X_min_, cal.X_max_)
            # Isotonic steps tie many bookings; a negligible monotone term of the
            # raw score breaks the ties so the ranking stays the booster's.
            p = np.interp(x, cal.X_thresholds_, cal.y_thresholds_) + 1e-6 * np.tanh(raw / 8.0)
        else:
            p = expit(raw * float(cal.coef_[0, 0]) + float(cal.intercept_[0]))
        return np.asarray(np.clip(p, 1e-6, 1 - 1e-6))

    def predict_proba(self, frame: pl.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2): [P(not target), P(target)]."""
        if frame.height == 0:
            return np.empty((0, 2))
        p = self.calibrate(self._raw(self.feature_matrix(frame)))
        return np.column_stack([1.0 - p, p])

    def predict(self, frame: pl.DataFrame, threshold: float = 0.5) -> np.ndarray:
        """True where P(target) >= threshold (tune the threshold to the cost of a lost table)."""
        return self.predict_proba(frame)[:, 1] >= threshold

    def contributions(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
        """Per-group contributions to the raw (log-odds) score and the base value.

        LightGBM's TreeSHAP (``pred_contrib``): per row, the contributions plus
        the base value sum to the booster's raw score; derived features are
        summed into their group (e.g. all request_* into special_requests).
        """
        groups, values, base = self._contributions(self.feature_matrix(frame))
        return pl.DataFrame(dict(zip(groups, values.T, strict=True))), base

    def _contributions(self, X: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
        contrib = np.asarray(
            self.booster_.predict(
                X, pred_contrib=True, num_iteration=self.best_iteration_, **self._threads(X)
            )
        ).reshape(len(X), -1)
        groups = list(dict.fromkeys(self.feature_groups_[n] for n in self.feature_names_))
        index = {
            g: [i for i, n in enumerate(self.feature_names_) if self.feature_groups_[n] == g]
            for g in groups
        }
        values = np.column_stack([contrib[:, cols].sum(axis=1) for cols in index.values()])
        return groups, values, contrib[:, -1]

    def reasons(self, frame: pl.DataFrame, top: int | None = 3) -> list[list[tuple[str, float]]]:
        """Per booking, the ``top`` groups by absolute contribution to the log-odds,
        phrased for a host: e.g. [("lead time 21 days", 0.42), ("party of 8", 0.2)]."""
        return self.explain(frame, top)[1]

    def explain(
        self, frame: pl.DataFrame, top: int | None = 3
    ) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
        """``predict_proba(frame)[:, 1]`` and ``reasons(frame, top)`` from one
        feature matrix: the contributions sum to the raw score, so scoring a
        booking with its reasons needs one pass over the trees."""
        if frame.height == 0:
            return np.empty(0), []
        small = self._small_rows(frame)
        rows = small if small is not None else self.design_.prepare(frame).to_dicts()
        X = (
            self.design_.matrix_of_rows(rows)
            if small is not None
            else self.design_.matrix(self.design_.prepare(frame))
        )
        groups, values, base = self._contributions(X)
        p = self.calibrate(values.sum(axis=1) + base)
        out: list[list[tuple[str, float]]] = []
        for row, contrib in zip(rows, values, strict=True):
            order = np.argsort(-np.abs(contrib), kind="stable")
            order = order if top is None else order[:top]
            out.append([(_phrase(groups[j], row), float(contrib[j])) for j in order])
        return p, out


# --------------------------------------------------------------------------- baselines


class HistoricalRateBaseline:
    """The rate of ``target`` per restaurant × channel, shrunk towards the global
    rate with ``prior_strength`` pseudo-bookings; unseen pairs get the global
    rate. Needs restaurant_id and channel (either may be missing: then the
    other alone, or the global rate)."""

    def __init__(self, *, target: Target = "no_show", prior_strength: float = 20.0) -> None:
        self.target = target
        self.prior_strength = prior_strength

    def _keys(self, frame: pl.DataFrame) -> list[str]:
        return [c for c in ("restaurant_id", "channel") if c in frame.columns]

    def fit(self, frame: pl.DataFrame, y: pl.Series | np.ndarray | None = None) -> Self:
        labels = _labels(frame, y, self.target)
        self.keys_ = self._keys(frame)
        self.global_rate_ = float(labels.mean())
        m = self.prior_strength
        if self.keys_:
            table = (
                frame.select(self.keys_)
                .with_columns(_y=pl.Series(labels))
                .group_by(self.keys_)
                .agg(_rate=(pl.col("_y").sum() + m * self.global_rate_) / (pl.len() + m))
            )
            self.rates_ = table
        return self

    def predict_proba(self, frame: pl.DataFrame) -> np.ndarray:
        if frame.height == 0:
            return np.empty((0, 2))
        if not self.keys_:
            p = np.full(frame.height, self.global_rate_)
        else:
            keys = frame.select(self.keys_).with_columns(
                [pl.col(k).cast(self.rates_.schema[k]) for k in self.keys_]
            )
            p = (
                keys.join(self.rates_, on=self.keys_, how="left", maintain_order="left")
                .get_column("_rate")
                .fill_null(self.global_rate_)
                .to_numpy()
            )
        return np.column_stack([1.0 - p, p])

    def predict(self, frame: pl.DataFrame, threshold: float = 0.5) -> np.ndarray:
        return self.predict_proba(frame)[:, 1] >= threshold


class LogisticBaseline:
    """Logistic regression on the same features as ``AttendanceRisk``: numeric
    ones standardised (missing values imputed by the training median),
    categorical ones one-hot (unseen values: all zeros)."""

    def __init__(
        self,
        *,
        target: Target = "no_show",
        C: float = 1.0,
        max_categories: int = 50,
        exclude: Sequence[str] = (),
        max_iter: int = 2000,
    ) -> None:
        self.target = target
        self.C = C
        self.max_categories = max_categories
        self.exclude = exclude
        self.max_iter = max_iter

    def _design_matrix(self, frame: pl.DataFrame) -> np.ndarray:
        prepared = self.design_.prepare(frame)
        num = self.design_.numeric_matrix(prepared)
        num = np.where(np.isnan(num), self.median_, num)
        num = (num - self.mean_) / self.scale_
        codes = self.design_.category_codes(prepared)
        onehots = [
            (codes[:, [j]] == np.arange(len(self.design_.categories[name]))).astype(np.float64)
            for j, name in enumerate(self.design_.categorical)
        ]
        return np.hstack([num, *onehots])

    def fit(self, frame: pl.DataFrame, y: pl.Series | np.ndarray | None = None) -> Self:
        labels = _labels(frame, y, self.target)
        if y is not None and self.target not in frame.columns:
            frame = frame.with_columns(pl.Series(self.target, labels.astype(bool)))
        self.design_ = AttendanceDesign.learn(
            frame, exclude=self.exclude, max_categories=self.max_categories
        )
        prepared = self.design_.prepare(frame)
        num = self.design_.numeric_matrix(prepared)
        medians = prepared.select(pl.col(self.design_.numeric).cast(pl.Float64).median())
        self.median_ = np.nan_to_num(medians.to_numpy().astype(np.float64).reshape(-1))
        filled = np.where(np.isnan(num), self.median_, num)
        self.mean_ = filled.mean(axis=0)
        scale = filled.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        self.model_.fit(self._design_matrix(frame), labels)
        self.feature_names_ = self.design_.feature_names
        return self

    def predict_proba(self, frame: pl.DataFrame) -> np.ndarray:
        if frame.height == 0:
            return np.empty((0, 2))
        return np.asarray(self.model_.predict_proba(self._design_matrix(frame)))

    def predict(self, frame: pl.DataFrame, threshold: float = 0.5) -> np.ndarray:
        return self.predict_proba(frame)[:, 1] >= threshold


# --------------------------------------------------------------------------- evaluation


def _as_arrays(y_true: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    y = (y.to_numpy() if isinstance(y := y_true, pl.Series) else np.asarray(y)).astype(np.float64)
    q = np.asarray(p, dtype=np.float64)
    if q.ndim == 2:
        q = q[:, 1]
    return y, q


def calibration_curve_data(y_true: Any, p: Any, n_bins: int = 15) -> pl.DataFrame:
    """Reliability table with equal-frequency bins (each holds ~n/n_bins bookings,
    so no bin is empty or rests on a handful of rows as equal-width bins at low
    rates do): bin, count, mean_predicted, observed_rate."""
    y, q = _as_arrays(y_true, p)
    order = np.argsort(q, kind="stable")
    bins = [b for b in np.array_split(order, max(min(n_bins, len(q)), 1)) if len(b)]
    return pl.DataFrame(
        {
            "bin": list(range(len(bins))),
            "count": [len(b) for b in bins],
            "mean_predicted": [float(q[b].mean()) for b in bins],
            "observed_rate": [float(y[b].mean()) for b in bins],
        },
        schema={
            "bin": pl.Int64,
            "count": pl.Int64,
            "mean_predicted": pl.Float64,
            "observed_rate": pl.Float64,
        },
    )


def expected_calibration_error(y_true: Any, p: Any, n_bins: int = 15) -> float:
    """Σ_bins (n_b / n) · |observed rate - mean prediction| over 15 equal-frequency bins."""
    curve = calibration_curve_data(y_true, p, n_bins)
    if curve.height == 0:
        return float("nan")
    gap = np.abs(curve["observed_rate"].to_numpy() - curve["mean_predicted"].to_numpy())
    return float(np.average(gap, weights=curve["count"].to_numpy()))


def evaluate_classifier(y_true: Any, p: Any) -> dict[str, float]:
    """auc, log_loss, brier, ece (15 equal-frequency bins), base_rate and n.

    ``p``: P(positive) per row, or a predict_proba array of shape (n, 2).
    """
    y, q = _as_arrays(y_true, p)
    both = len(np.unique(y)) == 2
    clipped = np.clip(q, 1e-15, 1 - 1e-15)
    return {
        "auc": float(roc_auc_score(y, q)) if both else math.nan,
        "log_loss": float(log_loss(y, clipped, labels=[0.0, 1.0])) if len(y) else math.nan,
        "brier": float(brier_score_loss(y, q)) if len(y) else math.nan,
        "ece": expected_calibration_error(y, q),
        "base_rate": float(y.mean()) if len(y) else math.nan,
        "n": float(len(y)),
    }
