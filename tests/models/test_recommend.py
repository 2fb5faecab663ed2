"""Recommender: taste, cold start, hard constraints (a diner whose favourites
are all fully booked), diversity, reasons, errors, odd text, serving form,
and quality on a time split, on a small catalogue whose tastes are known."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.embeddings import EmbeddingStore
from models.recommend import (
    DiningContext,
    NotFitted,
    Recommender,
    RecommenderError,
    UnknownItem,
    haversine_km,
)
from models.recommend_eval import evaluate, relevant_sets, time_split

CITIES = {"London": (51.507, -0.128), "Paris": (48.857, 2.352), "Tokyo": (35.676, 139.650)}
DISHES = {
    "italian": ("fresh pasta", "wood-fired pizza", "tiramisu"),
    "japanese": ("sushi", "ramen", "tempura"),
    "french": ("duck confit", "steak frites", "creme brulee"),
    "indian": ("butter chicken", "lamb curry", "tandoori naan"),
    "vegetarian": ("roasted vegetables", "lentil stew", "vegan chocolate cake"),
    "steakhouse": ("dry-aged ribeye", "porterhouse", "creamed spinach"),
}
ROOMS = ("candle-lit romantic", "lively", "family-friendly", "quiet business")
START = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 300


def catalogue() -> pl.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for city, (lat, lon) in CITIES.items():
        for cuisine, dishes in DISHES.items():
            for k in range(2):
                name = f"{city} {cuisine.title()} {k + 1}"
                room = ROOMS[int(rng.integers(len(ROOMS)))]
                rows.append(
                    {
                        "item": f"{city[:3].upper()}-{cuisine}-{k}",
                        "name": name,
                        "text": f"{name} is a {room} {cuisine} restaurant in {city}, "
                        f"known for its {dishes[k]} and {dishes[2]}.",
                        "cuisine": cuisine,
                        "price_tier": int(rng.integers(1, 5)),
                        "latitude": lat + float(rng.normal(0, 0.02)),
                        "longitude": lon + float(rng.normal(0, 0.02)),
                        "dietary": ["vegetarian", "vegan"] if cuisine == "vegetarian" else None,
                    }
                )
    return pl.DataFrame(rows)


def bookings(items: pl.DataFrame, diners: int = 90) -> pl.DataFrame:
    """Each diner loves one cuisine and dines in their own city: 80% of
    visits to the loved cuisine (rated 4-5), the rest anywhere in town (1-3)."""
    rng = np.random.default_rng(2)
    cuisines = list(DISHES)
    rows = []
    for d in range(diners):
        city = list(CITIES)[d % 3][:3].upper()
        loved = cuisines[(d // 3) % len(cuisines)]
        local = items.filter(pl.col("item").str.starts_with(city))
        favourites = local.filter(pl.col("cuisine") == loved)["item"].to_list()
        others = local.filter(pl.col("cuisine") != loved)["item"].to_list()
        for _ in range(int(rng.integers(8, 16))):
            day = float(rng.uniform(0, DAYS))
            if rng.random() < 0.8:
                item, rating = (
                    favourites[int(rng.integers(len(favourites)))],
                    int(rng.integers(4, 6)),
                )
            else:
                item, rating = others[int(rng.integers(len(others)))], int(rng.integers(1, 4))
            rows.append(
                (d, item, START + timedelta(days=day), rating if rng.random() < 0.6 else None)
            )
    return pl.DataFrame(rows, schema=["user", "item", "time", "rating"], orient="row").with_columns(
        pl.col("rating").cast(pl.Float64)
    )


@pytest.fixture(scope="module")
def items() -> pl.DataFrame:
    return catalogue()


@pytest.fixture(scope="module")
def history(items: pl.DataFrame) -> pl.DataFrame:
    return bookings(items)


@pytest.fixture(scope="module")
def model(items: pl.DataFrame, history: pl.DataFrame, embedder: EmbeddingStore) -> Recommender:
    return Recommender(max_share=0.4).fit(history, items, embedder=embedder)


def loved_cuisine(user: int) -> str:
    return list(DISHES)[(user // 3) % len(DISHES)]


def city_of(user: int) -> str:
    return list(CITIES)[user % 3]


def test_recommendations_follow_the_diners_taste_and_city(model: Recommender) -> None:
    assert model.ranker_ is not None and model.train_groups_ >= 5
    for user in (0, 4, 8, 13):
        recs = model.recommend(user, k=3)
        assert len(recs) == 3
        assert recs[0].category == loved_cuisine(user)
        assert recs[0].name.startswith(city_of(user))
        assert all(r.reasons and all(isinstance(x, str) and x for x in r.reasons) for r in recs)


def test_reasons_speak_to_the_diner(model: Recommender) -> None:
    rec = model.recommend(0, k=1, context=DiningContext(party_size=4, time="19:30"))[0]
    assert "you have dined here" in rec.reasons[0] or rec.reasons[0].startswith("because you")
    assert "open at 19:30 for 4" in rec.reasons
    assert rec.reason[0].isupper() and " · " in rec.reason


def test_cold_start_from_stated_preferences(model: Recommender) -> None:
    context = DiningContext(preferences="vegan, plant-based vegetable dishes")
    recs = model.recommend("new diner", k=4, context=context)
    assert len(recs) == 4
    assert sum(r.category == "vegetarian" for r in recs) >= 2
    assert recs[0].category == "vegetarian"
    assert any("matches what you like" in reason for r in recs for reason in r.reasons)


def test_cold_start_from_location_alone(model: Recommender) -> None:
    tokyo = CITIES["Tokyo"]
    recs = model.recommend(None, k=5, context=DiningContext(location=tokyo, max_km=30))
    assert len(recs) == 5
    assert all(r.name.startswith("Tokyo") for r in recs)
    assert all(r.distance_km is not None and r.distance_km <= 30 for r in recs)


def test_unknown_user_without_anything_gets_popular_places(model: Recommender) -> None:
    recs = model.recommend(10_000, k=10)
    assert len(recs) == 10
    assert len({r.item for r in recs}) == 10


def test_a_diner_whose_every_liked_restaurant_is_fully_booked(model: Recommender) -> None:
    user = 0
    liked = {r.item for r in model.recommend(user, k=10)} | {
        model.items_[p] for p in model.profiles_[user].visits
    }
    asked: list[Any] = []

    def bookable(item: Any) -> str | None:
        asked.append(item)
        return None if item in liked else "20:00"

    context = DiningContext(party_size=4, bookable=bookable, location=CITIES["London"], max_km=40)
    recs = model.recommend(user, k=5, context=context)
    assert recs, "bookable places nearby exist; the diner must still get suggestions"
    assert not {r.item for r in recs} & liked
    assert all(r.name.startswith("London") for r in recs)
    assert all("open at 20:00 for 4" in r.reasons for r in recs)
    assert len(asked) < len(model.items_)  # only the best candidates were checked

    nothing = model.recommend(user, k=5, context=DiningContext(bookable=lambda _: None))
    assert nothing == []


def test_dietary_needs_are_a_hard_constraint(model: Recommender) -> None:
    recs = model.recommend(0, k=5, context=DiningContext(dietary=("vegan",)))
    # Only the vegetarian kitchens list vegan among what they serve.
    assert len(recs) == 5
    assert all(r.category == "vegetarian" and "serves vegan" in r.reasons for r in recs)
    assert model.recommend(0, k=5, context=DiningContext(dietary=("halal",))) == []


def test_results_are_spread_across_cuisines(model: Recommender) -> None:
    recs = model.recommend(0, k=5)
    counts: dict[str | None, int] = {}
    for r in recs:
        counts[r.category] = counts.get(r.category, 0) + 1
    assert max(counts.values()) <= 2  # max_share 0.4 of 5


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    user=st.one_of(st.integers(0, 120), st.none(), st.text(max_size=5)),
    k=st.integers(1, 12),
    city=st.sampled_from(list(CITIES)),
    max_km=st.one_of(st.none(), st.floats(0.5, 20_000)),
    open_share=st.floats(0, 1),
    seed=st.integers(0, 1000),
)
def test_every_recommendation_keeps_the_hard_constraints(
    model: Recommender,
    user: Any,
    k: int,
    city: str,
    max_km: float | None,
    open_share: float,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    open_now = {i for i in model.items_ if rng.random() < open_share}
    origin = CITIES[city]
    context = DiningContext(location=origin, max_km=max_km, bookable=open_now)
    recs = model.recommend(user, k=k, context=context)
    ids = [r.item for r in recs]
    assert len(ids) == len(set(ids)) <= k
    assert set(ids) <= open_now
    if max_km is not None:
        for r in recs:
            p = model.index_[r.item]
            lat, lon = model.catalogue_.latitude[p], model.catalogue_.longitude[p]
            assert haversine_km(*origin, np.array([lat]), np.array([lon]))[0] <= max_km
    scores = [r.score for r in recs]
    assert all(np.isfinite(scores))


def test_similar_restaurants(model: Recommender) -> None:
    recs = model.similar("LON-japanese-0", k=3)
    assert recs[0].item != "LON-japanese-0"
    assert sum(r.category == "japanese" for r in recs) >= 2
    assert recs[0].reasons == ("similar to London Japanese 1",)
    with pytest.raises(UnknownItem, match="no restaurant 'nope'"):
        model.similar("nope")


@pytest.mark.parametrize("k", [0, 101, "3", 2.5, True])
def test_a_bad_k_is_a_clear_error(model: Recommender, k: Any) -> None:
    with pytest.raises(RecommenderError, match="k must be an integer"):
        model.recommend(0, k=k)


def test_bad_inputs_are_clear_errors(items: pl.DataFrame, history: pl.DataFrame) -> None:
    with pytest.raises(NotFitted):
        Recommender().recommend(0)
    with pytest.raises(RecommenderError, match=r"lacks column\(s\) \['text'\]"):
        Recommender().fit(history, items.drop("text"))
    with pytest.raises(RecommenderError, match="unique"):
        Recommender().fit(history, pl.concat([items, items.head(1)]))
    with pytest.raises(RecommenderError, match="'time' must be"):
        Recommender(method="popularity").fit(history.with_columns(pl.lit("x").alias("time")), items)
    with pytest.raises(RecommenderError, match="polars DataFrame"):
        Recommender().fit(history.to_pandas(), items)  # type: ignore[arg-type]


def test_max_km_without_any_location_is_a_clear_error(model: Recommender) -> None:
    with pytest.raises(RecommenderError, match="needs a location"):
        model.recommend(None, context=DiningContext(max_km=5))


def test_empty_and_non_english_text(embedder: EmbeddingStore) -> None:
    items = pl.DataFrame(
        {
            "item": [1, 2, 3, 4, 5, 6],
            "text": [
                "",
                "Trattoria italienne : pâtes fraîches et pizza au feu de bois.",
                "Cuisine italienne, risotto et pâtes maison, tiramisu.",
                "Asador: carne a la parrilla, chuletón de buey.",
                "寿司と天ぷらの店。新鮮な魚。",
                None,
            ],
        }
    )
    history = pl.DataFrame({"user": ["a", "a", "b"], "item": [2, 5, 1], "time": [1.0, 2.0, 3.0]})
    model = Recommender(method="embedding").fit(history, items, embedder=embedder)
    assert not np.any(model.catalogue_.vectors[0]) and not np.any(model.catalogue_.vectors[5])
    assert np.all(np.linalg.norm(model.catalogue_.vectors[1:5], axis=1) > 0.99)
    assert model.similar(1) == []  # no text: like nothing in particular
    assert model.similar(2, k=1)[0].item == 3  # French to French, by meaning
    recs = model.recommend("b", k=6)
    assert {r.item for r in recs} == {1, 2, 3, 4, 5, 6}


def test_served_from_a_pickle_as_mlflow_does(model: Recommender) -> None:
    copy = pickle.loads(pickle.dumps(model))
    assert "_embedder" not in copy.__dict__
    assert [r.item for r in copy.recommend(4, k=5)] == [r.item for r in model.recommend(4, k=5)]
    requests = pl.DataFrame({"user": [4, 999], "k": [3, 2], "party_size": [2, None]})
    out = copy.recommend_frame(requests)
    assert out.columns == ["user", "rank", "item", "score", "reason"]
    assert out.filter(pl.col("user") == 4)["rank"].to_list() == [1, 2, 3]
    assert out.filter(pl.col("user") == 999).height == 2


def test_the_ranker_beats_the_baselines_on_a_time_split(
    items: pl.DataFrame, history: pl.DataFrame, embedder: EmbeddingStore
) -> None:
    train, holdout = time_split(history, START + timedelta(days=DAYS - 60))
    relevant = relevant_sets(holdout)
    scores = {
        method: evaluate(
            Recommender(method=method).fit(train, items, embedder=embedder), relevant, k=5
        )
        for method in ("popularity", "embedding", "ranker")
    }
    assert scores["ranker"].users == len(relevant) > 50
    assert scores["ranker"].ndcg10 > scores["popularity"].ndcg10
    assert scores["ranker"].ndcg10 > scores["embedding"].ndcg10 - 0.02
    assert scores["embedding"].ndcg10 > scores["popularity"].ndcg10
