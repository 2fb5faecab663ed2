"""Risk-based deposits over HTTP: a manager sets the threshold (a probability,
needing a deposit per cover); a booking made through the API at such a
restaurant is scored as it is made, by the attendance champion from a real
MLflow registry or, without one, by the documented baseline, and owes the
per-cover deposit when its risk reaches the threshold. The diner sees why a
deposit is asked; only the restaurant's staff see the risk and the model
that scored it. A champion that fails to score falls back to the baseline:
a booking never fails because a model did."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow.pyfunc import PythonModel

from booking_core.accounts import Role, create_user, register_diner
from booking_core.guests import DinerSpec
from booking_core.reservations import BookingRequest, advance, book
from booking_core.restaurants import add_restaurant
from models.tracking import CHAMPION, TrackingConfig
from serving import risk_deposits
from serving.app import create_app
from serving.champions import ATTENDANCE, Champions
from serving.risk_deposits import BASELINE_LABEL
from serving.security import hash_password
from tests.conftest import bistro_spec
from tests.serving.conftest import PASSWORD, World, api_settings, sign_in

API = "/api/v1"
PER_COVER = 2500
THRESHOLD = 0.3
# Far past the dates other tests book: these houses and diners are this module's own.
AHEAD = timedelta(days=500)


@dataclass
class House:
    id: int
    manager: dict[str, str]
    first_day: date

    def day(self, k: int) -> str:
        """Each test books its own day: a diner holds one booking at a time."""
        return (self.first_day + timedelta(days=k)).isoformat()


@dataclass
class Diners:
    flaky: dict[str, str]  # three past bookings, three no-shows
    steady: dict[str, str]  # no history


def _house(world: World, name: str, **policy: Any) -> House:
    rid = add_restaurant(world.ledger, bistro_spec(name=name, **policy))
    email = f"manager@{rid}.risk.example"
    create_user(world.ledger, email, hash_password(PASSWORD), Role.MANAGER, restaurant_ids=(rid,))
    return House(rid, sign_in(world.client, email), (world.clock.now + AHEAD).date())


@pytest.fixture(scope="module")
def house(world: World) -> House:
    """Deposits of 2500 a cover from parties of six, or by risk from 0.3."""
    house = _house(world, "Risk House", deposit_per_cover_minor=PER_COVER)
    changed = world.client.patch(
        f"{API}/restaurants/{house.id}",
        json={"deposit_risk_threshold": THRESHOLD},
        headers=house.manager,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["deposit_risk_threshold"] == THRESHOLD
    return house


@pytest.fixture(scope="module")
def diners(world: World) -> Diners:
    """A diner who did not come to any of three earlier bookings elsewhere,
    and one with no history."""
    hashed = hash_password(PASSWORD)
    flaky = register_diner(world.ledger, DinerSpec("Flo", email="flo@risk.example"), hashed)
    register_diner(world.ledger, DinerSpec("Sam", email="sam@risk.example"), hashed)
    past = world.clock.now - timedelta(days=60)
    for k in range(3):
        day = (past + timedelta(days=7 * k)).date()
        r = book(
            world.ledger,
            BookingRequest(world.brasserie, day, "19:00", 2, diner_id=flaky.diner_id),
            now=past - timedelta(days=1),
        )
        advance(world.ledger, r.id, "no_show", now=r.start_at + timedelta(minutes=30))
    return Diners(
        sign_in(world.client, "flo@risk.example"), sign_in(world.client, "sam@risk.example")
    )


def _book(
    client: TestClient, house: House, who: dict[str, str], day: int, hhmm: str, party: int = 2
) -> Any:
    body = {"restaurant_id": house.id, "date": house.day(day), "time": hhmm, "party_size": party}
    response = client.post(f"{API}/reservations", json=body, headers=who)
    assert response.status_code == 201, response.text
    return response.json()


def _risk_seen_by(client: TestClient, reservation_id: int, who: dict[str, str]) -> Any:
    response = client.get(f"{API}/reservations/{reservation_id}/deposit-payments", headers=who)
    assert response.status_code == 200, response.text
    return response.json()["no_show_risk"]


def test_the_baseline_asks_the_diner_who_never_comes(
    world: World, house: House, diners: Diners
) -> None:
    flaky = _book(world.client, house, diners.flaky, 0, "18:00")
    assert flaky["deposit"]["reason"] == "risk"
    assert flaky["deposit_minor"] == 2 * PER_COVER
    assert flaky["deposit"]["status"] == "pending"
    steady = _book(world.client, house, diners.steady, 0, "18:00")
    assert (steady["deposit_minor"], steady["deposit"]["reason"]) == (0, None)
    # The staff see the risk and who scored it; the diner only why a deposit is asked.
    seen = _risk_seen_by(world.client, flaky["id"], house.manager)
    assert seen["model"] == BASELINE_LABEL and seen["probability"] >= THRESHOLD
    calm = _risk_seen_by(world.client, steady["id"], house.manager)
    assert calm["probability"] < THRESHOLD
    assert _risk_seen_by(world.client, flaky["id"], diners.flaky) is None


def test_a_restaurant_without_a_threshold_never_scores(world: World, diners: Diners) -> None:
    plain = _house(world, "Plain House", deposit_per_cover_minor=PER_COVER)
    booked = _book(world.client, plain, diners.flaky, 1, "18:00")
    assert (booked["deposit_minor"], booked["deposit"]["reason"]) == (0, None)
    assert _risk_seen_by(world.client, booked["id"], plain.manager) is None


def test_the_threshold_is_refused_without_a_deposit_per_cover(world: World) -> None:
    house = _house(world, "No Deposit House", deposit_per_cover_minor=0, deposit_min_party=None)
    path = f"{API}/restaurants/{house.id}"
    refused = world.client.patch(path, json={"deposit_risk_threshold": 0.2}, headers=house.manager)
    assert refused.status_code == 422
    assert "deposit_per_cover_minor above 0" in refused.json()["detail"]
    for bad in (0.01, 1.0, "high"):
        out = world.client.patch(path, json={"deposit_risk_threshold": bad}, headers=house.manager)
        assert out.status_code == 422, out.text
    both = world.client.patch(
        path,
        json={"deposit_risk_threshold": 0.2, "deposit_per_cover_minor": 1000},
        headers=house.manager,
    )
    assert both.status_code == 200, both.text
    assert world.client.get(path).json()["deposit_risk_threshold"] == 0.2  # public terms


def test_the_control_group_is_drawn_at_the_restaurants_share(
    world: World, diners: Diners, monkeypatch: pytest.MonkeyPatch
) -> None:
    house = _house(world, "Measured House", deposit_per_cover_minor=PER_COVER)
    path = f"{API}/restaurants/{house.id}"
    policy = {"deposit_risk_threshold": THRESHOLD, "deposit_risk_control_share": 0.5}
    changed = world.client.patch(path, json=policy, headers=house.manager)
    assert changed.status_code == 200 and changed.json()["deposit_risk_control_share"] == 0.5
    too_many = world.client.patch(
        path, json={"deposit_risk_control_share": 0.6}, headers=house.manager
    )
    assert too_many.status_code == 422
    monkeypatch.setattr(risk_deposits, "_DRAWS", random.Random(7))
    same_draws = random.Random(7)
    expected = [same_draws.random() < 0.5 for _ in range(6)]
    assert any(expected) and not all(expected)  # the seed gives both groups
    for day, held_back in enumerate(expected):
        booked = _book(world.client, house, diners.flaky, 10 + day, "19:00")
        assert booked["deposit"]["reason"] == (None if held_back else "risk")
        assert booked["deposit_minor"] == (0 if held_back else 2 * PER_COVER)
        seen = _risk_seen_by(world.client, booked["id"], house.manager)
        assert seen["control"] is held_back and seen["probability"] >= THRESHOLD


class Constant(PythonModel):
    """An attendance model that gives every booking the same risk."""

    def __init__(self, p: float) -> None:
        self.p = p

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        return [self.p] * len(model_input)


class Broken(PythonModel):
    """An attendance model whose scoring fails."""

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        raise RuntimeError("a corrupted artifact")


@contextmanager
def _serving(world: World, store: Path, model: PythonModel) -> Iterator[TestClient]:
    config = TrackingConfig.default(store)
    client = config.activate()
    with mlflow.start_run(experiment_id=config.experiment(ATTENDANCE)):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=model,
            registered_model_name=ATTENDANCE,
            pip_requirements=["pandas"],
        )
    client.set_registered_model_alias(ATTENDANCE, CHAMPION, str(info.registered_model_version))
    champions = Champions(store, names=(ATTENDANCE,))
    app = create_app(api_settings(), ledger=world.ledger, champions=champions)
    with TestClient(app) as api:
        yield api


@pytest.mark.slow
def test_the_champion_scores_the_booking_and_is_named(
    world: World, house: House, diners: Diners, tmp_path: Path
) -> None:
    with _serving(world, tmp_path, Constant(0.35)) as api:
        booked = _book(api, house, diners.steady, 2, "18:00")
        assert (booked["deposit"]["reason"], booked["deposit_minor"]) == ("risk", 2 * PER_COVER)
        seen = _risk_seen_by(api, booked["id"], house.manager)
        assert seen == {
            "probability": pytest.approx(0.35),
            "model": f"{ATTENDANCE}@v1",
            "control": False,
        }
        # A large party owes its deposit by the size rule, whatever it scored.
        large = _book(api, house, diners.flaky, 2, "18:00", party=6)
        assert (large["deposit"]["reason"], large["deposit_minor"]) == ("party_size", 6 * PER_COVER)


@pytest.mark.slow
def test_a_champion_that_fails_falls_back_to_the_baseline(
    world: World, house: House, diners: Diners, tmp_path: Path
) -> None:
    with _serving(world, tmp_path, Broken()) as api:
        booked = _book(api, house, diners.flaky, 3, "18:00")
        assert booked["deposit"]["reason"] == "risk"
        assert _risk_seen_by(api, booked["id"], house.manager)["model"] == BASELINE_LABEL
