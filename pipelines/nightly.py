"""The nightly learning loop: extract -> features -> train -> evaluate ->
register -> promote, for every model, as one Prefect flow.

Each model's branch runs on its own: a model that fails to train, or whose
registration fails, does not stop the others. The flow run then ends Failed
and names the failures, while every model that did train went through the
champion gate as usual (a champion that was not beaten keeps its alias).
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import INPUTS
from prefect.states import Completed, Failed, State
from rich.console import Console
from rich.table import Table

from booking_core.settings import get_settings
from models import features as feats
from models.attendance import AttendanceRisk, evaluate_classifier
from models.demand import DemandForecaster, rmsle
from models.duration import DiningDuration, evaluate_duration
from models.extract import LedgerSnapshot
from models.guest_tags import GuestTagger, guest_texts
from models.recommend import Recommender
from models.recommend_data import frames_from_mapping
from models.recommend_eval import evaluate, local_context, ndcg_at, relevant_sets, time_split
from models.tracking import (
    ForecastTable,
    GateDecision,
    TrackingConfig,
    champion,
    gate,
    log_candidate,
    to_pandas_input,
)
from pipelines import plots

ATTENDANCE = "attendance_risk"
DURATION = "dining_duration"
DEMAND = "covers_demand"
RECOMMEND = "restaurant_recommender"
GUEST_TAGS = "guest_tags"
MODELS = (ATTENDANCE, DURATION, DEMAND, RECOMMEND, GUEST_TAGS)
# Tables the recommender and the guest profiler read beyond the feature tables.
GUEST_TABLES = ("reviews", "diners", "guest_notes", "pos_checks")
LOCAL_KM = 50.0
HOLDOUT_DAYS = 14
DEMAND_HORIZON = 28

Frames = dict[str, pl.DataFrame]


@dataclass
class Trained:
    """A fitted candidate with what MLflow and the gate need."""

    name: str
    estimator: Any
    method: str
    metric: str
    score: float
    metrics: dict[str, float]
    params: dict[str, Any]
    input_example: pl.DataFrame
    score_champion: Callable[[Any], float]
    figures: dict[str, Any] = field(default_factory=dict)
    train_seconds: float = 0.0


@dataclass
class NightlyReport:
    as_of: datetime
    decisions: dict[str, GateDecision] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def params_of(estimator: Any) -> dict[str, Any]:
    """The constructor parameters of an sklearn-style estimator."""
    names = inspect.signature(type(estimator).__init__).parameters
    return {n: getattr(estimator, n) for n in names if n != "self" and hasattr(estimator, n)}


# ---------------------------------------------------------------- extract and features


@task(retries=2, retry_delay_seconds=2)
def ledger_offset(url: str) -> int:
    with LedgerSnapshot.from_url(url) as snapshot:
        return snapshot.last_offset()


@task(retries=2, retry_delay_seconds=2, cache_policy=INPUTS, persist_result=True)
def extract(url: str, last_offset: int) -> Frames:
    """The ledger as polars frames. Cached on (ledger, outbox offset): a rerun
    on a ledger that has not changed skips the read."""
    with LedgerSnapshot.from_url(url) as snapshot:
        return snapshot.frames()


@task(retries=2, retry_delay_seconds=2, cache_policy=INPUTS, persist_result=True)
def extract_guest_tables(url: str, last_offset: int, tables: tuple[str, ...]) -> Frames:
    """Reviews, diners, notes and POS checks, cached like ``extract``. The
    table names are an input so the cache key differs from ``extract``'s:
    the INPUTS policy hashes inputs only, not which task they went to."""
    with LedgerSnapshot.from_url(url) as snapshot:
        return {name: snapshot.table(name) for name in tables}


@task
def attendance_features(frames: Frames, as_of: datetime) -> pl.DataFrame:
    return feats.labelled(feats.attendance_frame(frames, "booking", as_of=as_of))


@task
def duration_features(frames: Frames, as_of: datetime) -> pl.DataFrame:
    return feats.duration_frame(frames, as_of=as_of)


@dataclass
class DemandInputs:
    origin: Any
    history: pl.DataFrame
    on_books: pl.DataFrame
    holidays: pl.DataFrame
    restaurants: pl.DataFrame
    actual: pl.DataFrame


@task
def demand_features(frames: Frames, as_of: datetime) -> DemandInputs:
    """Inputs as of an origin ``DEMAND_HORIZON`` days back, and the actual
    covers since, so candidate and champion are scored on the same days."""
    today = as_of.date()
    origin = today - timedelta(days=DEMAND_HORIZON)
    past = feats.demand_frames(frames, origin, horizon=DEMAND_HORIZON)
    now = feats.demand_frames(frames, today, horizon=1)

    def covers(history: pl.DataFrame) -> pl.DataFrame:
        return history.filter(pl.col("open") & pl.col("covers").is_not_null()).select(
            "restaurant_id", pl.col("service_date").alias("date"), "covers"
        )

    bookings = past.bookings
    # A cancellation takes its covers off the books when it happens: a
    # negative row dated then lets the model rebuild the books at any origin.
    on = bookings.select(
        "restaurant_id",
        pl.col("service_date").alias("date"),
        "booked_at",
        pl.col("party_size").alias("covers"),
    )
    off = bookings.filter(pl.col("off_books_at").is_not_null()).select(
        "restaurant_id",
        pl.col("service_date").alias("date"),
        pl.col("off_books_at").alias("booked_at"),
        (-pl.col("party_size")).alias("covers"),
    )
    restaurants = frames["restaurants"].select(
        pl.col("id").alias("restaurant_id"), "country", "price_tier"
    )
    holidays = frames["holidays"].select(pl.col("local_date").alias("date"), "country")
    actual = covers(now.history).filter(pl.col("date") >= origin)
    return DemandInputs(
        origin, covers(past.history), pl.concat([on, off]), holidays, restaurants, actual
    )


# ---------------------------------------------------------------- training


def _split(frame: pl.DataFrame, column: str, as_of: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    cut = as_of - timedelta(days=HOLDOUT_DAYS)
    train, holdout = frame.filter(pl.col(column) < cut), frame.filter(pl.col(column) >= cut)
    if train.height < 50 or holdout.height < 20:
        raise ValueError(
            f"not enough history: {train.height} training and {holdout.height} holdout rows"
        )
    return train, holdout


@task(retries=1)
def train_attendance(data: pl.DataFrame, as_of: datetime, params: dict[str, Any]) -> Trained:
    began = time.perf_counter()
    train, holdout = _split(data, "start_at", as_of)
    model = AttendanceRisk(**params).fit(train)
    y = holdout[model.target].cast(pl.Int8).to_numpy()
    features = holdout.drop(feats.ATTENDANCE_LABELS)  # what serving will send
    p = model.predict_proba(features)[:, 1]
    metrics = evaluate_classifier(y, p)

    def score_champion(pyfunc: Any) -> float:
        q = np.asarray(pyfunc.predict(to_pandas_input(features)), dtype=float)
        return float(evaluate_classifier(y, q)["log_loss"])

    return Trained(
        ATTENDANCE,
        model,
        "predict_proba",
        "log_loss",
        float(metrics["log_loss"]),
        metrics,
        params_of(model),
        features.head(5),
        score_champion,
        {"calibration.png": plots.calibration(y, p), "importance.png": plots.importance(model)},
        time.perf_counter() - began,
    )


@task(retries=1)
def train_duration(data: pl.DataFrame, as_of: datetime, params: dict[str, Any]) -> Trained:
    began = time.perf_counter()
    train, holdout = _split(data, "seated_at", as_of)
    model = DiningDuration(**params).fit(train)
    features = holdout.drop("duration_min")
    pred = model.predict(features)
    y = holdout["duration_min"].to_numpy()
    metrics = evaluate_duration(y, pred)
    metric = "mae_p50"

    def score_champion(pyfunc: Any) -> float:
        out = pl.from_pandas(pyfunc.predict(to_pandas_input(features)))
        return float(evaluate_duration(y, out)[metric])

    return Trained(
        DURATION,
        model,
        "predict",
        metric,
        float(metrics[metric]),
        metrics,
        params_of(model),
        features.head(5),
        score_champion,
        {"residuals.png": plots.residuals(y, pred["p50"].to_numpy())},
        time.perf_counter() - began,
    )


@task(retries=1)
def train_demand(data: DemandInputs, as_of: datetime, params: dict[str, Any]) -> Trained:
    began = time.perf_counter()
    if data.actual.is_empty():
        raise ValueError("no covers recorded since the demand origin to score against")
    model = DemandForecaster(**{"horizon": DEMAND_HORIZON, **params}).fit(
        data.history,
        on_books=data.on_books,
        holidays=data.holidays,
        restaurants=data.restaurants,
    )

    def forecast(forecaster: Any) -> pl.DataFrame:
        out: pl.DataFrame = forecaster.predict(
            data.origin,
            history=data.history,
            on_books=data.on_books,
            holidays=data.holidays,
            restaurants=data.restaurants,
        )
        return out

    def score(forecaster: Any) -> float:
        joined = data.actual.join(forecast(forecaster), on=["restaurant_id", "date"])
        return float(rmsle(joined["covers"].to_numpy(), joined["p50"].to_numpy()))

    predicted = forecast(model)
    value = score(model)
    joined = data.actual.join(predicted, on=["restaurant_id", "date"])
    return Trained(
        DEMAND,
        ForecastTable(model, predicted),
        "predict",
        "rmsle",
        value,
        {"rmsle": value},
        params_of(model),
        predicted.select("restaurant_id", "date").head(5),
        lambda pyfunc: score(pyfunc.unwrap_python_model().estimator.forecaster),
        {"forecast.png": plots.forecast(joined)},
        time.perf_counter() - began,
    )


@dataclass
class RecommendInputs:
    known: Frames  # interactions, items and users as of the holdout cut
    holdout: pl.DataFrame


@task
def recommend_features(frames: Frames, as_of: datetime) -> RecommendInputs:
    """What the recommender may learn from (bookings and reviews before the
    cut) and the restaurants each diner booked after it."""
    cut = as_of - timedelta(days=HOLDOUT_DAYS)
    everything = frames_from_mapping(frames, as_of)
    _, holdout = time_split(everything["interactions"], cut)
    return RecommendInputs(frames_from_mapping(frames, cut), holdout)


@task(retries=1)
def train_recommender(data: RecommendInputs, as_of: datetime, params: dict[str, Any]) -> Trained:
    """Scored as 1 - NDCG@10 on the holdout (lower is better, as the gate
    wants), both models asked the same requests: each diner, 10 places within
    ``LOCAL_KM`` of where they dine."""
    began = time.perf_counter()
    known = data.known
    model = Recommender(**params).fit(known["interactions"], known["items"], known["users"])
    relevant = relevant_sets(data.holdout)
    if len(relevant) < 5:
        raise ValueError(f"only {len(relevant)} diners booked in the holdout: too few to judge")
    users = sorted(relevant)
    located = [model.profiles_.get(u) for u in users]
    requests = pl.DataFrame(
        {
            "user": users,
            "k": [10] * len(users),
            "latitude": [p.location[0] if p and p.location else None for p in located],
            "longitude": [p.location[1] if p and p.location else None for p in located],
            "max_km": [LOCAL_KM if p and p.location else None for p in located],
        },
        schema={
            "user": pl.Int64,
            "k": pl.Int64,
            "latitude": pl.Float64,
            "longitude": pl.Float64,
            "max_km": pl.Float64,
        },
    )

    def loss(recommended: pl.DataFrame) -> float:
        ranked = {
            u: g.sort("rank")["item"].to_list()
            for (u,), g in recommended.partition_by("user", as_dict=True).items()
        }
        gains = [ndcg_at(ranked.get(u, []), {str(i) for i in relevant[u]}) for u in users]
        return 1.0 - float(np.mean(gains))

    score = loss(model.recommend_frame(requests))
    baselines = {
        method: evaluate(
            Recommender(method=method).fit(known["interactions"], known["items"], known["users"]),
            relevant,
            context_for=local_context(model, LOCAL_KM),
        ).ndcg10
        for method in ("popularity", "embedding")
    }
    metrics = {"ndcg10": 1.0 - score, **{f"ndcg10_{k}": v for k, v in baselines.items()}}
    return Trained(
        RECOMMEND,
        model,
        "recommend_frame",
        "ndcg_loss",
        score,
        metrics,
        params_of(model),
        requests.head(5),
        lambda pyfunc: loss(pl.from_pandas(pyfunc.predict(to_pandas_input(requests)))),
        {"ndcg.png": plots.bars(metrics, "NDCG@10 on the holdout", "NDCG@10")},
        time.perf_counter() - began,
    )


@dataclass
class GuestTagInputs:
    fit_texts: pl.DataFrame
    fit_labels: pl.DataFrame
    holdout_texts: pl.DataFrame
    holdout_labels: pl.DataFrame


@task
def guest_tag_features(frames: Frames, as_of: datetime) -> GuestTagInputs:
    """Texts about each guest before ``as_of``; labels from what guests
    stated in their profile (allergies, diets, seating). Even diner ids fit
    the thresholds, odd ones judge them."""
    texts = guest_texts(frames, as_of)
    diners = frames["diners"]
    labels = []
    for row in diners.iter_rows(named=True):
        for column, prefix in (
            ("allergies", "allergy"),
            ("dietary", "dietary"),
            ("seating_preferences", "seating"),
        ):
            for value in json.loads(row[column] or "[]"):
                labels.append((row["id"], f"{prefix}:{str(value).lower()}"))
    truth = pl.DataFrame(labels, schema={"diner_id": pl.Int64, "tag": pl.String}, orient="row")
    even = pl.col("diner_id") % 2 == 0
    return GuestTagInputs(
        texts.filter(even), truth.filter(even), texts.filter(~even), truth.filter(~even)
    )


def tag_f1(found: pl.DataFrame, truth: pl.DataFrame, diners: set[int]) -> dict[str, float]:
    """F1 per tag that has any truth among ``diners``."""
    predicted = {(int(d), t) for d, t in found.select("diner_id", "tag").iter_rows()}
    actual = {(int(d), t) for d, t in truth.iter_rows() if d in diners}
    out = {}
    for tag in sorted({t for _, t in actual}):
        p = {x for x in predicted if x[1] == tag and x[0] in diners}
        a = {x for x in actual if x[1] == tag}
        out[tag] = 2 * len(p & a) / max(len(p) + len(a), 1)
    return out


@task(retries=1)
def train_guest_tags(data: GuestTagInputs, as_of: datetime, params: dict[str, Any]) -> Trained:
    """Scored as 1 - macro F1 over the tags guests stated (lower is better)."""
    began = time.perf_counter()
    model = GuestTagger(**params).fit(data.fit_texts, data.fit_labels)
    judged = set(data.holdout_texts["diner_id"].to_list())
    if not judged or data.holdout_labels.is_empty():
        raise ValueError("no stated guest facts to judge the tagger against")

    def loss(found: pl.DataFrame) -> float:
        scores = tag_f1(found, data.holdout_labels, judged)
        return 1.0 - float(np.mean(list(scores.values()))) if scores else 1.0

    per_tag = tag_f1(model.predict(data.holdout_texts), data.holdout_labels, judged)
    score = 1.0 - float(np.mean(list(per_tag.values())))
    texts = data.holdout_texts.select("diner_id", "text")
    return Trained(
        GUEST_TAGS,
        model,
        "predict",
        "f1_loss",
        score,
        {"macro_f1": 1.0 - score, **{f"f1_{k.replace(':', '_')}": v for k, v in per_tag.items()}},
        params_of(model),
        texts.head(5),
        lambda pyfunc: loss(pl.from_pandas(pyfunc.predict(to_pandas_input(texts)))),
        {"tags.png": plots.bars(per_tag, "F1 per stated guest fact (holdout)", "F1")},
        time.perf_counter() - began,
    )


@task
def write_guest_tags(url: str, frames: Frames, as_of: datetime, config: TrackingConfig) -> str:
    """Tag every guest with the champion tagger; a host's tags always stand."""
    config.activate()
    import mlflow

    from booking_core.guests import set_machine_tags
    from booking_core.ledger import Ledger

    tagger: GuestTagger = (
        mlflow.pyfunc.load_model(f"models:/{GUEST_TAGS}@champion").unwrap_python_model().estimator
    )
    found = tagger.tags(frames, as_of)
    wanted: dict[int, dict[str, float]] = {int(d): {} for d in frames["diners"]["id"].to_list()}
    for d, tag, confidence in found.select("diner_id", "tag", "confidence").iter_rows():
        if int(d) in wanted:
            wanted[int(d)][tag] = float(confidence)
    ledger = Ledger.open(url, migrate=False)
    try:
        run = set_machine_tags(ledger, wanted, set_by="guest-profiler")
    finally:
        ledger.dispose()
    return (
        f"{run.set} tags set, {run.unchanged} unchanged, {run.yielded} left to hosts, "
        f"{run.retired} retired"
    )


@task
def register_and_promote(trained: Trained, config: TrackingConfig) -> GateDecision:
    candidate = log_candidate(
        config,
        name=trained.name,
        estimator=trained.estimator,
        method=trained.method,
        input_example=trained.input_example,
        params=trained.params,
        metrics={**trained.metrics, "train_seconds": trained.train_seconds},
        score=trained.score,
        figures=trained.figures,
    )
    decision = gate(config, candidate, metric=trained.metric, score_champion=trained.score_champion)
    get_run_logger().info("%s v%s: %s", trained.name, candidate.version, decision.reason)
    return decision


# ---------------------------------------------------------------- the flow


@flow(name="nightly")
def nightly(
    database_url: str | None = None,
    var_dir: str = "var",
    as_of: datetime | None = None,
    only: list[str] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
) -> State:
    """Train, evaluate and gate every model on the ledger as of ``as_of``
    (default: now). ``only`` restricts the models, ``params`` overrides their
    hyperparameters (by model name). Returns a Completed state holding the
    report, or a Failed one naming what failed (the rest still went through)."""
    url = database_url or get_settings().ledger_url
    as_of = as_of or datetime.now(UTC)
    config = TrackingConfig.default(var_dir)
    report = NightlyReport(as_of=as_of)
    params = params or {}
    unknown = set(only or ()) - set(MODELS)
    if unknown:
        raise ValueError(f"unknown models {sorted(unknown)}; choose from {MODELS}")
    began = time.perf_counter()
    offset = ledger_offset(url)
    frames = extract(url, offset)
    wanted = [m for m in MODELS if only is None or m in only]
    if {RECOMMEND, GUEST_TAGS} & set(wanted):
        frames = {**frames, **extract_guest_tables(url, offset, GUEST_TABLES)}
    report.seconds["extract"] = time.perf_counter() - began
    builders: dict[str, Any] = {
        ATTENDANCE: (attendance_features, train_attendance),
        DURATION: (duration_features, train_duration),
        DEMAND: (demand_features, train_demand),
        RECOMMEND: (recommend_features, train_recommender),
        GUEST_TAGS: (guest_tag_features, train_guest_tags),
    }
    futures = {}
    for name in wanted:
        build, train = builders[name]
        data = build.submit(frames, as_of)
        futures[name] = train.submit(data, as_of, params.get(name, {}))
    for name, future in futures.items():
        future.wait()
        if not future.state.is_completed():
            report.failures[name] = f"training failed: {future.state.message}"
            continue
        trained: Trained = future.result()
        report.seconds[name] = trained.train_seconds
        registered = register_and_promote(trained, config, return_state=True)
        if registered.is_completed():
            report.decisions[name] = registered.result()
            if name == GUEST_TAGS:
                written = write_guest_tags(url, frames, as_of, config, return_state=True)
                if written.is_completed():
                    report.notes[name] = written.result()
                else:
                    report.failures[name] = f"writing tags failed: {written.message}"
        else:
            report.failures[name] = f"registration failed: {registered.message}"
    report.seconds["total"] = time.perf_counter() - began
    if report.failures:
        message = "; ".join(f"{k}: {v}" for k, v in report.failures.items())
        return Failed(message=message, data=report)
    return Completed(message="all models trained and gated", data=report)


def run_nightly(**kwargs: Any) -> NightlyReport:
    """Run the flow once and return its report, whether or not a model failed."""
    state = nightly(return_state=True, **kwargs)
    report = state.result(raise_on_failure=False)
    if isinstance(report, State):
        report = report.result(raise_on_failure=False)
    if not isinstance(report, NightlyReport):
        raise RuntimeError(f"the nightly flow could not run: {state.message}")
    return report


def registered_versions(var_dir: str | Path = "var") -> dict[str, str | None]:
    client = TrackingConfig.default(var_dir).activate()
    return {
        name: (str(v.version) if (v := champion(client, name)) is not None else None)
        for name in MODELS
    }


def print_report(console: Console, report: NightlyReport, var_dir: str | Path = "var") -> None:
    table = Table(title=f"Nightly run as of {report.as_of:%Y-%m-%d %H:%M} UTC")
    for column in (
        "model",
        "candidate",
        "metric",
        "candidate score",
        "champion score",
        "decision",
        "train s",
    ):
        table.add_column(column)
    for name in MODELS:
        if name in report.failures:
            table.add_row(name, "-", "-", "-", "-", f"[red]{report.failures[name][:80]}[/]", "-")
            continue
        d = report.decisions.get(name)
        if d is None:
            continue
        table.add_row(
            name,
            f"v{d.candidate_version}",
            d.metric,
            f"{d.candidate_score:.4f}",
            "-" if d.champion_score is None else f"{d.champion_score:.4f}",
            "[green]promoted[/]" if d.promoted else "kept champion",
            f"{report.seconds.get(name, 0.0):.1f}",
        )
    console.print(table)
    config = TrackingConfig.default(var_dir)
    champions = registered_versions(var_dir)
    console.print("Champions: " + ", ".join(f"{k} v{v}" for k, v in champions.items() if v))
    console.print(
        f"MLflow UI: [bold].venv/bin/mlflow ui --backend-store-uri {config.tracking_uri}[/] "
        "then open http://127.0.0.1:5000"
    )


__all__ = [
    "MODELS",
    "NightlyReport",
    "nightly",
    "print_report",
    "registered_versions",
    "run_nightly",
]
