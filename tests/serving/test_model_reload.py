"""Champions come from a real MLflow registry and are swapped in, without a
restart, when the alias moves; predictions name the version that made them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow.pyfunc import PythonModel

from models.tracking import CHAMPION, TrackingConfig
from serving.app import create_app
from serving.champions import ATTENDANCE, Champions
from serving.forecasts import BASELINE_NAME
from tests.serving.conftest import World, api_settings, covers_forecast, fresh_date, generated_api

pytestmark = pytest.mark.slow


class Constant(PythonModel):
    """A stand-in attendance model: every party has the same risk."""

    def __init__(self, p: float) -> None:
        self.p = p

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        return [self.p] * len(model_input)


def _register(config: TrackingConfig, p: float) -> str:
    config.activate()
    with mlflow.start_run(experiment_id=config.experiment(ATTENDANCE)):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=Constant(p),
            registered_model_name=ATTENDANCE,
            pip_requirements=["pandas"],
        )
    return str(info.registered_model_version)


def test_the_alias_moving_swaps_the_model_without_a_restart(world: World, tmp_path: Path) -> None:
    config = TrackingConfig.default(tmp_path)
    client = config.activate()
    first, second = _register(config, 0.25), _register(config, 0.75)
    client.set_registered_model_alias(ATTENDANCE, CHAMPION, first)
    champions = Champions(tmp_path, names=(ATTENDANCE,), poll_seconds=0.2)
    app = create_app(api_settings(), ledger=world.ledger, champions=champions)
    booked = world.client.post(
        "/api/v1/reservations",
        json={
            "restaurant_id": world.bistro,
            "date": fresh_date(),
            "time": "20:00",
            "party_size": 2,
        },
        headers=world.headers["ana"],
    ).json()
    with TestClient(app) as api:
        path = f"/api/v1/predictions/attendance/{booked['id']}"
        risk = api.get(path, headers=world.headers["host"]).json()
        assert (risk["model_version"], risk["source"]) == (first, "champion")
        assert risk["no_show_probability"] == pytest.approx(0.25)
        client.set_registered_model_alias(ATTENDANCE, CHAMPION, second)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            risk = api.get(path, headers=world.headers["host"]).json()
            if risk["model_version"] == second:
                break
            time.sleep(0.2)
        assert risk["model_version"] == second
        assert risk["no_show_probability"] == pytest.approx(0.75)
        assert api.get("/readyz").json()["models"][ATTENDANCE]["version"] == second


def test_without_a_champion_the_baseline_answers_and_says_so(world: World, tmp_path: Path) -> None:
    booked = world.client.post(
        "/api/v1/reservations",
        json={
            "restaurant_id": world.bistro,
            "date": fresh_date(),
            "time": "18:00",
            "party_size": 2,
        },
        headers=world.headers["ben"],
    ).json()
    risk = world.client.get(
        f"/api/v1/predictions/attendance/{booked['id']}", headers=world.headers["host"]
    ).json()
    assert risk["source"] == "baseline" and risk["model_version"] is None
    assert "shrunk" in risk["baseline"] and risk["reasons"]
    # The covers on a ledger of their own, whose restaurants all have weeks
    # of covers. On the session's, the bistro's source depends on the tests
    # run before: the baseline's while no restaurant has covers yet, the
    # cold start's (a newcomer among restaurants with a history) after.
    with generated_api(tmp_path) as api:
        for restaurant in api.peers:
            covers = covers_forecast(api.client, api.admin, restaurant)
            assert covers["source"] == "baseline" and covers["model_version"] is None
            assert covers["baseline"] == BASELINE_NAME and covers["days"]
