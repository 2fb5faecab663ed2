"""Attendance risk and dining duration, learnt from a small synthetic world and
judged against the world's own truth (which the models never see)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa
from sklearn.metrics import roc_auc_score

from booking_core.ledger import Ledger
from booking_core.schema import (
    dining_areas,
    dining_tables,
    reservation_tables,
    reservations,
    restaurants,
    world_reservation_truth,
)
from booking_core.world.generate import generate_world
from booking_core.world.people import attendance_truth
from models.attendance import (
    AttendanceRisk,
    HistoricalRateBaseline,
    LogisticBaseline,
    add_diner_history,
    calibration_curve_data,
    evaluate_classifier,
)
from models.duration import DiningDuration, evaluate_duration

TODAY = date(2026, 6, 1)
NOW = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC)
SETTLED = ("completed", "no_show", "cancelled", "seated", "arrived")
ATTENDANCE_COLUMNS = (
    "reservation_id",
    "restaurant_id",
    "diner_id",
    "booked_at",
    "start_at",
    "party_size",
    "channel",
    "deposit_required",
    "special_requests",
    "lead_hours",
    "local_hour",
    "weekday",
    "price_tier",
    "cuisine",
    "diner_prior_bookings",
    "diner_prior_no_shows",
    "diner_prior_cancellations",
    "diner_prior_late_cancellations",
    "no_show",
    "late_cancel",
    "lost",
    "cancelled",
)


DURATION_COLUMNS = (
    "reservation_id",
    "restaurant_id",
    "area",
    "party_size",
    "local_hour",
    "weekday",
    "price_tier",
    "seated_at",
    "duration_min",
)

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- frames


def load_bookings(ledger: Ledger) -> pl.DataFrame:
    """Every reservation with its restaurant, first table's area and the world's truth."""
    r, rest, truth = reservations, restaurants, world_reservation_truth
    area = (
        sa.select(dining_areas.c.name)
        .select_from(
            reservation_tables.join(
                dining_tables, dining_tables.c.id == reservation_tables.c.table_id
            ).join(dining_areas, dining_areas.c.id == dining_tables.c.area_id)
        )
        .where(reservation_tables.c.reservation_id == r.c.id)
        .order_by(reservation_tables.c.table_id)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        sa.select(
            r.c.id.label("reservation_id"),
            r.c.restaurant_id,
            r.c.diner_id,
            r.c.booked_at,
            r.c.start_at,
            r.c.service_date,
            r.c.party_size,
            r.c.channel,
            r.c.state,
            r.c.deposit_required,
            r.c.special_requests,
            r.c.cancelled_at,
            r.c.seated_at,
            r.c.completed_at,
            rest.c.timezone,
            rest.c.price_tier,
            rest.c.cuisines,
            area.label("area"),
            truth.c.p_no_show,
            truth.c.p_late_cancel,
            truth.c.expected_duration_min,
        )
        .join_from(r, rest, rest.c.id == r.c.restaurant_id)
        .join(truth, truth.c.reservation_id == r.c.id)
    )
    with ledger.read() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    frame = pl.DataFrame(rows, infer_schema_length=None).with_columns(
        cuisine=pl.col("cuisines").list.first()
    )
    # Local calendar, one time zone at a time.
    parts = []
    for (tz,), part in frame.group_by("timezone"):
        local = pl.col("start_at").dt.convert_time_zone(str(tz))
        parts.append(
            part.with_columns(
                local_hour=local.dt.hour().cast(pl.Int64),
                weekday=(local.dt.weekday() - 1).cast(pl.Int64),
            )
        )
    return pl.concat(parts).sort("reservation_id")


def attendance_frame(bookings: pl.DataFrame) -> pl.DataFrame:
    """Settled bookings with point-in-time diner history (an outcome counts once
    settled: a cancellation when made, anything else 20 minutes after the start)."""
    frame = bookings.filter(
        (pl.col("channel") != "walk_in")
        & (pl.col("start_at") < NOW)
        & pl.col("state").is_in(SETTLED)
    ).with_columns(
        no_show=pl.col("state") == "no_show",
        cancelled=pl.col("state") == "cancelled",
        late_cancel=(pl.col("state") == "cancelled")
        & (pl.col("cancelled_at") > pl.col("start_at") - pl.duration(hours=24)),
        lead_hours=(pl.col("start_at") - pl.col("booked_at")).dt.total_seconds() / 3600.0,
    )
    frame = frame.with_columns(lost=pl.col("no_show") | pl.col("late_cancel"))
    settled = (
        frame.select(
            "diner_id",
            settled_at=pl.when(pl.col("cancelled"))
            .then(pl.col("cancelled_at"))
            .otherwise(pl.col("start_at") + pl.duration(minutes=20)),
            no_show=pl.col("no_show").cast(pl.Int64),
            cancelled=pl.col("cancelled").cast(pl.Int64),
            late=pl.col("late_cancel").cast(pl.Int64),
        )
        .drop_nulls("diner_id")
        .sort("settled_at")
        .select(
            "diner_id",
            "settled_at",
            diner_prior_bookings=pl.int_range(1, pl.len() + 1).over("diner_id"),
            diner_prior_no_shows=pl.col("no_show").cum_sum().over("diner_id"),
            diner_prior_cancellations=pl.col("cancelled").cum_sum().over("diner_id"),
            diner_prior_late_cancellations=pl.col("late").cum_sum().over("diner_id"),
        )
    )
    history = [c for c in settled.columns if c.startswith("diner_prior_")]
    return (
        frame.sort("booked_at")
        .join_asof(
            settled,
            left_on="booked_at",
            right_on="settled_at",
            by="diner_id",
            allow_exact_matches=False,
            check_sortedness=False,
        )
        .with_columns(pl.col(history).fill_null(0))
    )


def duration_frame(bookings: pl.DataFrame) -> pl.DataFrame:
    return (
        bookings.filter(pl.col("completed_at").is_not_null() & pl.col("seated_at").is_not_null())
        .with_columns(
            duration_min=(pl.col("completed_at") - pl.col("seated_at")).dt.total_seconds() / 60.0
        )
        .sort("seated_at")
    )


def time_split(
    frame: pl.DataFrame, by: str, share: float = 0.2
) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = frame.sort(by)
    cut = round(frame.height * (1 - share))
    return frame[:cut], frame[cut:]


def best_achievable(frame: pl.DataFrame) -> np.ndarray:
    """P(no-show) from observables only, Bayes-optimal: the world's attendance
    model with the diner's latent flakiness integrated over its posterior given
    their settled history (per-booking noise left out). The yardstick for how
    close a learner can get; the oracle knows the flakiness itself."""
    grid = np.linspace(-4.0, 4.0, 81)
    log_prior = -0.5 * grid**2
    z = np.empty((frame.height, 4))
    for i, row in enumerate(frame.iter_rows(named=True)):
        for j, flakiness in enumerate((0.0, 1.0)):
            p_cancel, p_ns, _ = attendance_truth(
                lead_hours=row["lead_hours"],
                party_size=row["party_size"],
                deposit=row["deposit_required"],
                weekday=row["service_date"].weekday(),
                channel=row["channel"],
                has_request=bool(row["special_requests"]),
                flakiness=flakiness,
                noise_ns=0.0,
                noise_c=0.0,
            )
            z[i, 2 * j : 2 * j + 2] = (
                math.log(p_cancel / (1 - p_cancel)),
                math.log(p_ns / (1 - p_ns)),
            )
    # Logits are linear in flakiness: slope = z(1) - z(0).
    z_cancel = z[:, [0]] + (z[:, [2]] - z[:, [0]]) * grid
    z_ns = z[:, [1]] + (z[:, [3]] - z[:, [1]]) * grid
    p_cancel, p_ns = 1 / (1 + np.exp(-z_cancel)), 1 / (1 + np.exp(-z_ns))
    cancelled = frame["cancelled"].to_numpy()[:, None]
    no_show = frame["no_show"].to_numpy()[:, None]
    loglik = np.where(
        cancelled,
        np.log(p_cancel),
        np.log1p(-p_cancel) + np.where(no_show, np.log(p_ns), np.log1p(-p_ns)),
    )
    settled_at = np.where(
        frame["cancelled"].to_numpy(),
        frame["cancelled_at"].dt.epoch("s").fill_null(0).to_numpy(),
        frame["start_at"].dt.epoch("s").to_numpy() + 1200,
    )
    booked_at = frame["booked_at"].dt.epoch("s").to_numpy()
    diner = frame["diner_id"].to_numpy()
    p = ((1 - p_cancel) * p_ns) @ np.exp(log_prior - np.logaddexp.reduce(log_prior))
    order = np.argsort(diner, kind="stable")
    bounds = np.flatnonzero(np.diff(diner[order])) + 1
    for rows in np.split(order, bounds):
        for i in rows:
            seen = rows[settled_at[rows] < booked_at[i]]
            if len(seen):
                post = log_prior + loglik[seen].sum(axis=0)
                post = np.exp(post - np.logaddexp.reduce(post))
                p[i] = ((1 - p_cancel[i]) * p_ns[i]) @ post
    return p


@dataclass
class World:
    attendance_train: pl.DataFrame
    attendance_holdout: pl.DataFrame
    duration_train: pl.DataFrame
    duration_holdout: pl.DataFrame


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path = tmp_path_factory.mktemp("models") / "w.db"
    ledger = Ledger.open(f"sqlite:///{path.as_posix()}")
    generate_world(ledger, size="small", seed=3, today=TODAY)
    bookings = load_bookings(ledger)
    ledger.dispose()
    a_train, a_holdout = time_split(attendance_frame(bookings), "booked_at")
    d_train, d_holdout = time_split(duration_frame(bookings), "seated_at")
    yield World(a_train, a_holdout, d_train, d_holdout)


def model_view(frame: pl.DataFrame) -> pl.DataFrame:
    """What a model may see: the documented columns, no truth, no state."""
    return frame.select(ATTENDANCE_COLUMNS)


@pytest.fixture(scope="module")
def no_show_model(world: World) -> AttendanceRisk:
    return AttendanceRisk(target="no_show").fit(model_view(world.attendance_train))


@pytest.fixture(scope="module")
def duration_model(world: World) -> DiningDuration:
    return DiningDuration().fit(world.duration_train.select(DURATION_COLUMNS))


# --------------------------------------------------------------------------- attendance


def test_fit_returns_self_with_fitted_attributes(world: World) -> None:
    model = AttendanceRisk(target="lost", calibration="sigmoid", n_estimators=50)
    assert model.fit(model_view(world.attendance_train)) is model
    for name in ("booster_", "calibrator_", "feature_names_", "categories_", "best_iteration_"):
        assert hasattr(model, name), name
    assert "channel" in model.categories_ and "cuisine" in model.categories_
    assert {"lead_days_log", "diner_no_show_rate", "request_has"} <= set(model.feature_names_)
    assert not {"reservation_id", "diner_id", "restaurant_id", "no_show", "booked_at"} & set(
        model.feature_names_
    )


def test_no_show_ranking_beats_baseline_and_approaches_the_achievable(
    world: World, no_show_model: AttendanceRisk
) -> None:
    holdout = world.attendance_holdout
    y = holdout["no_show"]
    model = evaluate_classifier(y, no_show_model.predict_proba(model_view(holdout)))
    baseline = HistoricalRateBaseline().fit(model_view(world.attendance_train))
    rate = evaluate_classifier(y, baseline.predict_proba(model_view(holdout)))
    oracle = float(roc_auc_score(y, holdout["p_no_show"]))
    # the Bayes reference reads each diner's whole settled history, training rows included
    everything = pl.concat([world.attendance_train, holdout])
    achievable = float(roc_auc_score(y, best_achievable(everything)[-holdout.height :]))
    assert model["auc"] > rate["auc"] + 0.025
    # The oracle knows each diner's latent flakiness, which observables reveal only
    # through a handful of past outcomes, and each booking's own noise: in a small
    # world the Bayes-optimal predictor from observables sits well below the
    # oracle, so the bar is set against that predictor (the demo-size benchmark
    # compares with the oracle itself).
    assert achievable - model["auc"] <= 0.03, (model["auc"], achievable, oracle)


def test_no_show_probabilities_are_calibrated(world: World, no_show_model: AttendanceRisk) -> None:
    holdout = world.attendance_holdout
    p = no_show_model.predict_proba(model_view(holdout))
    assert p.shape == (holdout.height, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    metrics = evaluate_classifier(holdout["no_show"], p)
    assert metrics["ece"] <= 0.03
    assert set(metrics) >= {"auc", "log_loss", "brier", "ece", "base_rate"}
    curve = calibration_curve_data(holdout["no_show"], p)
    assert curve.height == 15
    assert curve["count"].max() - curve["count"].min() <= 1  # equal-frequency bins
    assert no_show_model.predict(model_view(holdout)).dtype == np.bool_


def test_reasons_are_ranked_and_add_up_to_the_raw_score(
    world: World, no_show_model: AttendanceRisk
) -> None:
    rows = model_view(world.attendance_holdout[:40])
    X = no_show_model.feature_matrix(rows)
    it = no_show_model.best_iteration_
    contrib = np.asarray(no_show_model.booster_.predict(X, pred_contrib=True, num_iteration=it))
    raw = np.asarray(no_show_model.booster_.predict(X, raw_score=True, num_iteration=it))
    base = contrib[:, -1]
    every = no_show_model.reasons(rows, top=None)
    for reasons, b, score in zip(every, base, raw, strict=True):
        assert sum(v for _, v in reasons) + b == pytest.approx(score, abs=1e-9)
    top = no_show_model.reasons(rows)
    for short, full in zip(top, every, strict=True):
        assert len(short) == 3 and short == full[:3]
        sizes = [abs(v) for _, v in full]
        assert sizes == sorted(sizes, reverse=True)
    labels = {label for reasons in every for label, _ in reasons}
    assert any(label.startswith("lead time ") for label in labels)
    assert any(label.startswith("party of ") for label in labels)
    assert any(label.startswith("booked via ") for label in labels)


def test_extra_columns_become_features(world: World) -> None:
    rng = np.random.default_rng(0)
    train = model_view(world.attendance_train).with_columns(
        table_mood=pl.Series(rng.choice(["calm", "busy", "loud"], world.attendance_train.height)),
        weather_c=pl.Series(rng.normal(15, 5, world.attendance_train.height)),
    )
    model = AttendanceRisk(n_estimators=30, early_stopping_rounds=None).fit(train)
    assert "table_mood" in model.categorical_features_
    assert "weather_c" in model.feature_names_
    assert model.categories_["table_mood"] == ["busy", "calm", "loud"]
    # ... and unseen values of it, or of a core category, do not break prediction.
    rows = model_view(world.attendance_holdout[:5]).with_columns(
        table_mood=pl.lit("haunted"), channel=pl.lit("carrier pigeon"), weather_c=pl.lit(None)
    )
    p = model.predict_proba(rows)
    assert p.shape == (5, 2) and np.isfinite(p).all()
    assert len(model.reasons(rows)) == 5


def test_missing_core_column_is_named(world: World, no_show_model: AttendanceRisk) -> None:
    frame = model_view(world.attendance_train)
    with pytest.raises(ValueError, match="party_size"):
        AttendanceRisk().fit(frame.drop("party_size"))
    with pytest.raises(ValueError, match="special_requests"):
        no_show_model.predict_proba(frame.drop("special_requests"))
    with pytest.raises(ValueError, match="diner_prior_no_shows"):
        no_show_model.predict_proba(frame.drop("diner_prior_no_shows", "diner_id"))


def test_empty_frame_predicts_nothing(world: World, no_show_model: AttendanceRisk) -> None:
    empty = model_view(world.attendance_holdout).clear()
    assert no_show_model.predict_proba(empty).shape == (0, 2)
    assert no_show_model.predict(empty).shape == (0,)
    assert no_show_model.reasons(empty) == []


def test_fit_with_separate_labels_matches_frame_labels(world: World) -> None:
    frame = model_view(world.attendance_train)

    def model() -> AttendanceRisk:
        return AttendanceRisk(target="late_cancel", n_estimators=40, early_stopping_rounds=None)

    a = model().fit(frame)
    b = model().fit(frame.drop("no_show", "late_cancel", "lost", "cancelled"), frame["late_cancel"])
    rows = model_view(world.attendance_holdout[:50])
    np.testing.assert_allclose(a.predict_proba(rows), b.predict_proba(rows))


def test_diner_history_is_derived_point_in_time() -> None:
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "diner_id": [7, 7, 7, 8],
            "booked_at": [at, at + timedelta(days=1), at + timedelta(days=10), at],
            "start_at": [
                at + timedelta(days=5),
                at + timedelta(days=2),
                at + timedelta(days=12),
                at + timedelta(days=1),
            ],
            "no_show": [True, False, False, True],
            "cancelled": [False, True, False, False],
        }
    )
    history = add_diner_history(frame)
    # Booking 2 was made before booking 1 was settled; booking 3 after both.
    assert history["diner_prior_bookings"].to_list() == [0, 0, 2, 0]
    assert history["diner_prior_no_shows"].to_list() == [0, 0, 1, 0]
    assert history["diner_prior_cancellations"].to_list() == [0, 0, 1, 0]


def test_history_is_derived_when_absent(world: World) -> None:
    drop = [c for c in ATTENDANCE_COLUMNS if c.startswith("diner_prior_")]
    train = model_view(world.attendance_train).drop(drop)
    model = AttendanceRisk(n_estimators=200).fit(train)
    assert model.design_.history is not None
    # New bookings carry no labels: their history comes from the training data.
    holdout = model_view(world.attendance_holdout).drop(drop)
    unlabelled = holdout.drop("no_show", "late_cancel", "lost", "cancelled")
    p = model.predict_proba(unlabelled)[:, 1]
    assert roc_auc_score(holdout["no_show"], p) > 0.6


def test_logistic_baseline(world: World) -> None:
    model = LogisticBaseline().fit(model_view(world.attendance_train))
    p = model.predict_proba(model_view(world.attendance_holdout))
    assert evaluate_classifier(world.attendance_holdout["no_show"], p)["auc"] > 0.6
    assert model.predict_proba(model_view(world.attendance_holdout).clear()).shape == (0, 2)


# --------------------------------------------------------------------------- duration


def test_duration_p50_is_near_the_oracle(world: World, duration_model: DiningDuration) -> None:
    holdout = world.duration_holdout
    pred = duration_model.predict(holdout.select(DURATION_COLUMNS))
    metrics = evaluate_duration(holdout["duration_min"], pred)
    oracle = float((holdout["duration_min"] - holdout["expected_duration_min"]).abs().mean())
    assert metrics["mae_p50"] <= 1.15 * oracle, (metrics["mae_p50"], oracle)


def test_duration_p90_covers_nine_in_ten(world: World, duration_model: DiningDuration) -> None:
    holdout = world.duration_holdout
    pred = duration_model.predict(holdout.select(DURATION_COLUMNS))
    assert pred.columns == ["p50", "p90"]
    assert (pred["p90"] >= pred["p50"]).all()
    metrics = evaluate_duration(holdout["duration_min"], pred)
    assert 0.85 <= metrics["coverage_p90"] <= 0.95


def test_duration_quantiles_never_cross(world: World) -> None:
    rng = np.random.default_rng(1)
    train = world.duration_train.select(DURATION_COLUMNS).with_columns(
        server=pl.Series(rng.choice(["ana", "ben"], world.duration_train.height))
    )
    model = DiningDuration(quantiles=(0.9, 0.5, 0.55, 0.1), n_estimators=60)
    assert model.fit(train) is model
    assert "server" in model.categorical_features_
    assert not {"reservation_id", "seated_at", "duration_min"} & set(model.feature_names_)
    pred = model.predict(world.duration_holdout.select(DURATION_COLUMNS).with_columns(server=None))
    assert pred.columns == ["p10", "p50", "p55", "p90"]
    values = pred.to_numpy()
    assert (np.diff(values, axis=1) >= 0).all()


def test_duration_frame_checks(world: World, duration_model: DiningDuration) -> None:
    frame = world.duration_holdout.select(DURATION_COLUMNS)
    assert duration_model.predict(frame.clear()).shape == (0, 2)
    with pytest.raises(ValueError, match="area"):
        duration_model.predict(frame.drop("area"))
    unseen = frame[:3].with_columns(restaurant_id=pl.lit(10_000), area=pl.lit("Rooftop"))
    assert duration_model.predict(unseen).height == 3


def test_special_requests_are_read_in_four_languages() -> None:
    from models.attendance import AttendanceDesign

    requests = [
        "It's Sam's birthday, could you bring a candle with dessert?",
        "Nous fêtons notre anniversaire de mariage ce soir.",
        "Alergia grave a nueces en la mesa, por favor avisen a cocina.",
        "車椅子で伺います。段差のない席をお願いします。",
        "C'est l'anniversaire de Marie, une bougie sur le dessert serait parfaite.",
        "",
    ]
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "booked_at": [at] * 6,
            "start_at": [at + timedelta(days=2)] * 6,
            "party_size": [2] * 6,
            "channel": ["web"] * 6,
            "deposit_required": [False] * 6,
            "special_requests": requests,
            "diner_prior_bookings": [0] * 6,
            "diner_prior_no_shows": [0] * 6,
            "diner_prior_cancellations": [0] * 6,
        }
    )
    flags = AttendanceDesign().prepare(frame)
    assert flags["request_birthday"].to_list() == [1, 0, 0, 0, 1, 0]
    assert flags["request_anniversary"].to_list() == [0, 1, 0, 0, 0, 0]
    assert flags["request_allergy"].to_list() == [0, 0, 1, 0, 0, 0]
    assert flags["request_accessible"].to_list() == [0, 0, 0, 1, 0, 0]
    assert flags["request_has"].to_list() == [1, 1, 1, 1, 1, 0]
    assert flags["lead_days_log"].to_list() == pytest.approx([math.log(3.0)] * 6)
    assert flags["weekday_utc"].to_list() == [1] * 6  # 3 March 2026 was a Tuesday
