"""MLflow for every model: where runs go, how a fitted estimator becomes a
registered pyfunc model, and the champion gate.

The tracking store defaults to ``sqlite:///var/mlflow.db`` with artifacts in
``var/mlartifacts``; ``SERVICESPHERE_MLFLOW_URI`` (or an explicit URI) points
at a server instead. Each model is a registered model whose alias
``champion`` is what serving loads; a candidate takes the alias only if it
beats the champion on the same holdout, and the decision is logged on the
candidate's run either way.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import mlflow
import numpy as np
import pandas as pd
import polars as pl
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel

CHAMPION = "champion"


@dataclass(frozen=True)
class TrackingConfig:
    tracking_uri: str
    artifact_root: Path

    @classmethod
    def default(cls, var_dir: Path | str = "var") -> TrackingConfig:
        var = Path(var_dir).resolve()
        uri = os.environ.get("SERVICESPHERE_MLFLOW_URI") or f"sqlite:///{var / 'mlflow.db'}"
        return cls(uri, var / "mlartifacts")

    def activate(self) -> MlflowClient:
        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
                parents=True, exist_ok=True
            )
        self.artifact_root.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        return MlflowClient(self.tracking_uri, self.tracking_uri)

    def experiment(self, name: str) -> str:
        """The experiment's id, created with artifacts under our root if new."""
        found = mlflow.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        location = (self.artifact_root / name).as_uri()
        return str(mlflow.create_experiment(name, artifact_location=location))


class EstimatorModel(PythonModel):
    """Serves one of our polars estimators as an MLflow pyfunc: a pandas frame
    in, the estimator's ``method`` output out (probabilities of the positive
    class for classifiers, a frame of quantiles for forecasters)."""

    def __init__(self, method: str = "predict") -> None:
        self.method = method
        self.estimator: Any = None

    def load_context(self, context: Any) -> None:
        self.estimator = joblib.load(context.artifacts["estimator"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        frame = from_pandas_input(model_input)
        return to_pandas_output(getattr(self.estimator, self.method)(frame))


def to_pandas_input(frame: pl.DataFrame) -> pd.DataFrame:
    """A polars frame as MLflow's schema wants it: timestamps as naive UTC."""
    naive = [
        # Whole seconds: MLflow's example check parses every value with one format.
        pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None).dt.truncate("1s")
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
    ]
    return (frame.with_columns(naive) if naive else frame).to_pandas()


def from_pandas_input(frame: pd.DataFrame) -> pl.DataFrame:
    """The inverse of ``to_pandas_input``: naive timestamps are UTC."""
    out = pl.from_pandas(frame)
    aware = [
        pl.col(name).dt.replace_time_zone("UTC")
        for name, dtype in out.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None
    ]
    return out.with_columns(aware) if aware else out


def to_pandas_output(result: Any) -> Any:
    if isinstance(result, pl.DataFrame):
        return result.to_pandas()
    array = np.asarray(result)
    if array.ndim == 2 and array.shape[1] == 2:
        return array[:, 1]  # a classifier: the probability of the event
    return array


@dataclass(frozen=True)
class Candidate:
    name: str
    version: str
    run_id: str
    score: float


def log_candidate(
    config: TrackingConfig,
    *,
    name: str,
    estimator: Any,
    method: str,
    input_example: pl.DataFrame,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    score: float,
    figures: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
) -> Candidate:
    """One run in the model's experiment: parameters, metrics, plots, the
    estimator as a pyfunc with signature and input example, registered as a
    new version of ``name``. ``score`` is the holdout score the gate uses."""
    config.activate()
    experiment_id = config.experiment(name)
    example = to_pandas_input(input_example.head(5))
    output = to_pandas_output(getattr(estimator, method)(input_example.head(5)))
    signature = infer_signature(example, output)
    with mlflow.start_run(experiment_id=experiment_id) as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.log_params({k: _param(v) for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
        mlflow.log_metric("holdout_score", score)
        mlflow.set_tags({"servicesphere.model": name, **(tags or {})})
        for filename, figure in (figures or {}).items():
            mlflow.log_figure(figure, filename)
        path = Path(tmp) / "estimator.joblib"
        joblib.dump(estimator, path)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=EstimatorModel(method),
            artifacts={"estimator": str(path)},
            signature=signature,
            input_example=example,
            registered_model_name=name,
            # Explicit requirements: inferring them re-imports the model in a
            # subprocess, which costs seconds per model every night.
            pip_requirements=_requirements(),
        )
        version = str(info.registered_model_version)
        return Candidate(name, version, run.info.run_id, score)


def _param(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) else repr(value)


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("lightgbm", "scikit-learn", "polars", "numpy", "pandas")]


def champion(client: MlflowClient, name: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def load_model(name: str, version: str) -> Any:
    return mlflow.pyfunc.load_model(f"models:/{name}/{version}")


@dataclass(frozen=True)
class GateDecision:
    name: str
    metric: str
    candidate_version: str
    candidate_score: float
    champion_version: str | None
    champion_score: float | None
    promoted: bool
    reason: str


def gate(
    config: TrackingConfig,
    candidate: Candidate,
    *,
    metric: str,
    score_champion: Callable[[Any], float],
) -> GateDecision:
    """Promote ``candidate`` if its score is lower (better) than the current
    champion's on the same holdout. ``score_champion`` receives the loaded
    champion pyfunc and returns its score. A champion that cannot be loaded or
    scored (a corrupted artifact) is reported and replaced."""
    client = config.activate()
    current = champion(client, candidate.name)
    champion_score: float | None = None
    if current is None:
        promoted, reason = True, "no champion yet"
    else:
        try:
            champion_score = float(score_champion(load_model(candidate.name, current.version)))
        except Exception as exc:  # any failure to load or score means no usable champion
            promoted, reason = True, f"champion v{current.version} unusable: {exc!s:.200}"
        else:
            promoted = candidate.score < champion_score
            reason = (
                f"{metric} {candidate.score:.4f} vs champion v{current.version} "
                f"{champion_score:.4f}: " + ("better" if promoted else "not better, kept champion")
            )
    if promoted:
        client.set_registered_model_alias(candidate.name, CHAMPION, candidate.version)
    decision = GateDecision(
        candidate.name,
        metric,
        candidate.version,
        candidate.score,
        str(current.version) if current else None,
        champion_score,
        promoted,
        reason,
    )
    with mlflow.start_run(run_id=candidate.run_id):
        mlflow.log_metric("gate_candidate_score", candidate.score)
        if champion_score is not None:
            mlflow.log_metric("gate_champion_score", champion_score)
        mlflow.set_tags(
            {"gate.promoted": str(promoted).lower(), "gate.reason": reason, "gate.metric": metric}
        )
    client.set_model_version_tag(
        candidate.name, candidate.version, "gate", "promoted" if promoted else "rejected"
    )
    return decision


class ForecastTable:
    """A forecaster plus the forecast it made at its origin: served by lookup
    of (restaurant_id, date), the way a manager's dashboard reads it."""

    def __init__(self, forecaster: Any, table: pl.DataFrame) -> None:
        self.forecaster = forecaster
        self.table = table

    def predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        keys = frame.select("restaurant_id", pl.col("date").cast(pl.Date))
        return keys.join(self.table, on=["restaurant_id", "date"], how="left")
