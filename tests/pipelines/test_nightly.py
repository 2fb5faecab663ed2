"""The nightly flow, run for real: Prefect (ephemeral API), an MLflow store in
a temporary directory, models trained on a small synthetic world."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from prefect.testing.utilities import prefect_test_harness

from booking_core.ledger import Ledger
from booking_core.world.generate import generate_world
from models.tracking import CHAMPION, TrackingConfig
from pipelines.nightly import (
    ATTENDANCE,
    DEMAND,
    DURATION,
    MODELS,
    NightlyReport,
    nightly,
    registered_versions,
    run_nightly,
)

TODAY = date(2026, 6, 1)
AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def prefect() -> Iterator[None]:
    # Module, not session: the harness's server runs background threads that
    # draw from the global `random`, and left running into the API fuzz tests
    # Hypothesis took their draws for our strategies' (a flaky failure).
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def world_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.db'}"
    ledger = Ledger.open(url)
    generate_world(ledger, size="small", seed=5, today=TODAY)
    ledger.dispose()
    return url


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="module")
def first_run(prefect: None, world_url: str, var_dir: Path) -> NightlyReport:
    return run_nightly(database_url=world_url, var_dir=str(var_dir), as_of=AS_OF)


def _client(var_dir: Path) -> MlflowClient:
    return TrackingConfig.default(var_dir).activate()


def test_first_run_registers_and_promotes_every_model(
    first_run: NightlyReport, var_dir: Path
) -> None:
    assert first_run.failures == {}
    assert set(first_run.decisions) == set(MODELS)
    client = _client(var_dir)
    for name, decision in first_run.decisions.items():
        assert decision.promoted and decision.reason == "no champion yet"
        champion = client.get_model_version_by_alias(name, CHAMPION)
        assert str(champion.version) == decision.candidate_version
        run = client.get_run(champion.run_id)
        assert run.data.tags["gate.promoted"] == "true"
        assert "holdout_score" in run.data.metrics
        artifacts = {a.path for a in client.list_artifacts(champion.run_id)}
        figures = {"calibration.png", "residuals.png", "forecast.png", "ndcg.png", "tags.png"}
        assert artifacts & figures
    attendance = first_run.decisions[ATTENDANCE]
    assert 0.0 < attendance.candidate_score < 0.5  # a log loss
    # Served exactly as the registry holds it: signature, input example, predictions.
    model = mlflow.pyfunc.load_model(f"models:/{ATTENDANCE}@{CHAMPION}")
    assert model.metadata.get_input_schema() is not None
    assert registered_versions(var_dir) == {name: "1" for name in MODELS}


def test_a_worse_candidate_is_not_promoted(
    first_run: NightlyReport, world_url: str, var_dir: Path
) -> None:
    weak = {ATTENDANCE: {"n_estimators": 1, "learning_rate": 0.001, "refit": False}}
    report = run_nightly(
        database_url=world_url,
        var_dir=str(var_dir),
        as_of=AS_OF,
        only=[ATTENDANCE],
        params=weak,
    )
    decision = report.decisions[ATTENDANCE]
    assert not decision.promoted
    assert decision.champion_version == first_run.decisions[ATTENDANCE].candidate_version
    assert decision.champion_score is not None
    assert decision.candidate_score > decision.champion_score  # both on the same holdout
    client = _client(var_dir)
    assert str(client.get_model_version_by_alias(ATTENDANCE, CHAMPION).version) == "1"
    run = client.get_run(client.get_model_version(ATTENDANCE, decision.candidate_version).run_id)
    assert run.data.tags["gate.promoted"] == "false"
    assert run.data.metrics["gate_champion_score"] == pytest.approx(decision.champion_score)


def test_a_failing_model_does_not_stop_the_others(
    first_run: NightlyReport, world_url: str, var_dir: Path
) -> None:
    broken = {DURATION: {"quantiles": ()}}  # cannot train without a quantile
    state = nightly(
        database_url=world_url,
        var_dir=str(var_dir),
        as_of=AS_OF,
        only=[DURATION, DEMAND],
        params=broken,
        return_state=True,
    )
    assert state.is_failed()
    assert DURATION in (state.message or "")
    report = state.result(raise_on_failure=False)
    if not isinstance(report, NightlyReport):
        report = report.result(raise_on_failure=False)  # type: ignore[union-attr]
    assert isinstance(report, NightlyReport)
    assert DURATION in report.failures and DEMAND in report.decisions
    client = _client(var_dir)
    assert str(client.get_model_version_by_alias(DURATION, CHAMPION).version) == "1"


def test_a_corrupted_champion_is_replaced(
    first_run: NightlyReport, world_url: str, var_dir: Path
) -> None:
    client = _client(var_dir)
    champion = client.get_model_version_by_alias(DURATION, CHAMPION)
    stored = [
        p
        for p in (var_dir / "mlartifacts" / DURATION).rglob("estimator.joblib")
        if _belongs_to(p, champion.source)
    ]
    assert stored, "the champion's estimator file should be in the artifact store"
    for path in stored:
        path.write_bytes(b"not a model")
    report = run_nightly(database_url=world_url, var_dir=str(var_dir), as_of=AS_OF, only=[DURATION])
    decision = report.decisions[DURATION]
    assert decision.promoted and "unusable" in decision.reason
    now = client.get_model_version_by_alias(DURATION, CHAMPION)
    assert str(now.version) == decision.candidate_version


def _belongs_to(path: Path, source: str) -> bool:
    """Whether an artifact file lies under the model version's stored location."""
    marker = source.rstrip("/").split("/")[-1]
    return marker in path.as_posix()
