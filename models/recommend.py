"""Restaurant recommendations a diner can act on: places they will love and
can actually book, each with a reason they understand.

Works on any interaction data, not only our ledger::

    model = Recommender().fit(interactions, items)      # polars frames
    model.recommend(42, k=10, context=DiningContext(party_size=4, bookable=...))
    model.similar("R17", k=5)

``items``: ``item`` (id) and ``text`` (description, cuisines, menu, reviews);
optional ``name``, ``latitude``/``longitude``, ``dietary`` (list of diets the
kitchen serves); every other numeric column (price tier, rating...) and
string column (cuisine, ambience...) is an attribute the ranker uses.
``interactions``: ``user``, ``item``, ``time`` (datetime, date, or days as a
number) and optional ``rating``. ``users`` (optional): ``user`` with
``preferences`` (stated taste, free text), ``latitude``/``longitude``,
``dietary`` (list).

Two stages. Retrieval takes the nearest restaurants in taste (embedding
similarity), the most popular and the closest, then drops everything that
breaks a hard constraint of the request (too far, not serving the diner's
diet, excluded, not bookable at the date, time and party size). A LightGBM
LambdaRank model re-ranks what is left on similarity, distance, price and
attribute match, rating, popularity, novelty and past visits; the list is
then spread across cuisines (at most ``max_share`` of it from one).

Availability is a hard constraint rather than a ranker feature: what was
bookable when a diner searched is not recorded, so it cannot be learned
without leaking the choice itself. The caller passes it in ``context``
(``bookable``: a set of ids, a mapping id -> time, or a callback), which
keeps this module free of the database; ``models.recommend_data.bookable_at``
builds the callback from the ledger.

Unknown users are not an error: they get the cold start (stated
preferences, then location, then popularity), documented on ``recommend``.
An unknown item in ``similar`` raises ``UnknownItem``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import polars as pl
from threadpoolctl import ThreadpoolController

from models.embeddings import TextEmbedder, shared_store
from models.taste import CatalogueView, TasteProfile, build_profiles

Method = Literal["ranker", "embedding", "popularity"]
Bookable = Mapping[Any, str] | Collection[Any] | Callable[[Any], "str | bool | None"]
RESERVED_ITEM_COLUMNS = {"item", "text", "name", "latitude", "longitude", "dietary"}
EARTH_KM = 6371.0
# Weight of popularity (0..1) against stated-taste similarity in the cold start.
COLD_POPULARITY = 0.1


class RecommenderError(ValueError):
    """Bad input to the recommender; the message says what to fix."""


class UnknownItem(RecommenderError):
    pass


class NotFitted(RecommenderError):
    pass


@dataclass(frozen=True)
class DiningContext:
    """What the diner asked for. Every field is optional.

    ``bookable`` restricts results to restaurants that can take the party:
    a set of item ids, a mapping id -> local time ("19:30") or a callback
    id -> time string / True / False / None, called only on the best
    candidates until ``k`` are found. ``party_size`` and ``time`` only word
    the reason ("open at 19:30 for 4"). ``location`` (latitude, longitude)
    and ``max_km`` bound the distance; ``dietary`` must be served (when the
    catalogue has a ``dietary`` column, a restaurant must list every diet
    asked for; without the column diets cannot be checked and only shape the
    taste query through ``preferences``). ``preferences``
    is stated taste for a diner we do not know yet. ``exclude_seen`` leaves
    out restaurants the diner has been to.
    """

    party_size: int | None = None
    time: str | None = None
    bookable: Bookable | None = None
    location: tuple[float, float] | None = None
    max_km: float | None = None
    dietary: tuple[str, ...] = ()
    preferences: str = ""
    exclude: Collection[Any] = ()
    exclude_seen: bool = False


@dataclass(frozen=True)
class Recommendation:
    item: Any
    name: str
    score: float
    reasons: tuple[str, ...]
    category: str | None = None
    distance_km: float | None = None

    @property
    def reason(self) -> str:
        """The reasons as one sentence for a card: "Because you loved X · open at 19:30 for 4"."""
        text = " · ".join(self.reasons)
        return text[:1].upper() + text[1:]


@dataclass
class _Scored:
    positions: np.ndarray
    scores: np.ndarray
    features: dict[str, np.ndarray] = field(default_factory=dict)
    loved_match: np.ndarray | None = None


# ---------------------------------------------------------------- small helpers


def haversine_km(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    p1, p2 = math.radians(lat), np.radians(lats)
    dphi = p2 - p1
    dlmb = np.radians(lons) - math.radians(lon)
    a = np.sin(dphi / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return np.asarray(2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def time_in_days(column: pl.Series) -> np.ndarray:
    """Datetimes and dates as days since 1970; plain numbers are taken as days."""
    dtype = column.dtype
    if isinstance(dtype, pl.Datetime):
        return column.dt.epoch("us").to_numpy().astype(float) / 86_400e6
    if dtype == pl.Date:
        return column.dt.epoch("d").to_numpy().astype(float)
    if dtype.is_numeric():
        return column.cast(pl.Float64).to_numpy()
    raise RecommenderError(
        f"interaction 'time' must be a datetime, a date or a number of days, not {dtype}"
    )


def _as_datetime_days(moment: datetime | date | float | None) -> float | None:
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return moment.timestamp() / 86_400.0
    if isinstance(moment, date):
        return float((moment - date(1970, 1, 1)).days)
    return float(moment)


def _require(frame: Any, what: str, columns: tuple[str, ...]) -> pl.DataFrame:
    if not isinstance(frame, pl.DataFrame):
        raise RecommenderError(f"{what} must be a polars DataFrame, not {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RecommenderError(f"{what} lacks column(s) {missing}; it has {frame.columns}")
    return frame


def _title(value: str) -> str:
    return value.replace("_", " ").replace("-", " ").strip().capitalize()


# ---------------------------------------------------------------- the model


class Recommender:
    """Two-stage restaurant recommender (see the module docstring).

    ``method``: "ranker" (the full model), or one of the baselines it is
    judged against, "embedding" (taste-vector similarity only) and
    "popularity" (recency-weighted bookings). All three share retrieval,
    hard constraints and cuisine diversity, so they differ only in ranking.
    """

    def __init__(
        self,
        *,
        method: Method = "ranker",
        half_life_days: float = 120.0,
        candidates: int = 150,
        diversity_by: str | None = "cuisine",
        max_share: float = 0.5,
        min_rating: float | None = None,
        holdout_share: float = 0.2,
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        random_state: int = 0,
    ) -> None:
        self.method = method
        self.half_life_days = half_life_days
        self.candidates = candidates
        self.diversity_by = diversity_by
        self.max_share = max_share
        self.min_rating = min_rating
        self.holdout_share = holdout_share
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state

    # ------------------------------------------------------------ fitting

    def fit(
        self,
        interactions: pl.DataFrame,
        items: pl.DataFrame,
        users: pl.DataFrame | None = None,
        *,
        embedder: TextEmbedder | None = None,
    ) -> Recommender:
        """Learn from ``interactions`` over the catalogue ``items`` (see the
        module docstring for columns). ``embedder`` defaults to the shared
        in-memory store; pass an ``EmbeddingStore`` on disk to reuse vectors."""
        if self.method not in ("ranker", "embedding", "popularity"):
            raise RecommenderError(f"unknown method {self.method!r}")
        if not 0 < self.max_share <= 1:
            raise RecommenderError("max_share must lie in (0, 1]")
        items = _require(items, "items", ("item", "text"))
        interactions = _require(interactions, "interactions", ("user", "item", "time"))
        if items.is_empty():
            raise RecommenderError("items is empty: there is nothing to recommend")
        if items["item"].null_count() or items["item"].n_unique() != items.height:
            raise RecommenderError("item ids must be present and unique")
        self._embedder = embedder
        self._fit_catalogue(items, embedder or shared_store())
        rows = self._interaction_rows(interactions)
        self.as_of_ = float(rows["t"].max()) if rows.height else 0.0  # type: ignore[arg-type]
        ratings = rows["rating"].drop_nans().drop_nulls()
        self.rating_scale_ = (
            (float(ratings.min()), float(ratings.max()))  # type: ignore[arg-type]
            if ratings.len()
            else (0.0, 0.0)
        )
        self._fit_users(users)
        self.ranker_: lgb.LGBMRanker | None = None
        self.train_groups_ = 0
        if self.method == "ranker":
            self._fit_ranker(rows)
        self._fit_state(rows, self.as_of_)
        return self

    def _fit_catalogue(self, items: pl.DataFrame, embedder: TextEmbedder) -> None:
        texts = items["text"].cast(pl.String).fill_null("").to_list()
        vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
        self.items_ = items["item"].to_list()
        self.index_ = {item: i for i, item in enumerate(self.items_)}
        names = (
            items["name"].cast(pl.String).fill_null("").to_list()
            if "name" in items.columns
            else [""] * items.height
        )
        self.names_ = [n or str(i) for n, i in zip(names, self.items_, strict=True)]
        self.categorical_: dict[str, np.ndarray] = {}
        self.levels_: dict[str, list[str]] = {}
        self.numeric_: dict[str, np.ndarray] = {}
        for column, dtype in items.schema.items():
            if column in RESERVED_ITEM_COLUMNS:
                continue
            if dtype.is_numeric() or dtype == pl.Boolean:
                self.numeric_[column] = items[column].cast(pl.Float64).fill_null(np.nan).to_numpy()
            elif dtype in (pl.String, pl.Categorical, pl.Enum):
                values = items[column].cast(pl.String).fill_null("").str.to_lowercase()
                levels = sorted({v for v in values.to_list() if v})
                lookup = {v: k for k, v in enumerate(levels)}
                self.levels_[column] = levels
                self.categorical_[column] = np.array(
                    [lookup.get(v, -1) for v in values.to_list()], dtype=np.int64
                )
        if self.diversity_by is not None and self.diversity_by not in self.categorical_:
            self.diversity_by = None  # no such attribute: nothing to spread across
        nan = np.full(items.height, np.nan)
        lat = items["latitude"].cast(pl.Float64).to_numpy() if "latitude" in items.columns else nan
        lon = (
            items["longitude"].cast(pl.Float64).to_numpy() if "longitude" in items.columns else nan
        )
        self.diets_: list[frozenset[str] | None] = (
            [frozenset(str(x).lower() for x in (d or ())) for d in items["dietary"].to_list()]
            if "dietary" in items.columns
            else [None] * items.height
        )
        self.catalogue_ = CatalogueView(
            vectors,
            self.categorical_,
            {c: len(v) for c, v in self.levels_.items()},
            self.numeric_,
            np.nan_to_num(lat, nan=np.nan),
            np.nan_to_num(lon, nan=np.nan),
        )

    def _interaction_rows(self, interactions: pl.DataFrame) -> pl.DataFrame:
        known = interactions.filter(pl.col("item").is_in(pl.Series(self.items_).implode()))
        rating = (
            known["rating"].cast(pl.Float64).fill_null(np.nan)
            if "rating" in known.columns
            else pl.Series("rating", np.full(known.height, np.nan))
        )
        return pl.DataFrame(
            {
                "user": known["user"],
                "pos": np.array([self.index_[i] for i in known["item"].to_list()], dtype=np.int64),
                "t": time_in_days(known["time"]) if known.height else np.zeros(0),
                "rating": rating.to_numpy(),
            }
        ).sort("t", maintain_order=True)

    def _fit_users(self, users: pl.DataFrame | None) -> None:
        self.users_: dict[Any, dict[str, Any]] = {}
        if users is None:
            return
        users = _require(users, "users", ("user",))
        for row in users.iter_rows(named=True):
            stated = str(row.get("preferences") or "")
            lat, lon = row.get("latitude"), row.get("longitude")
            diets = tuple(str(d).lower() for d in (row.get("dietary") or ()))
            self.users_[row["user"]] = {
                "preferences": stated,
                "location": (float(lat), float(lon))
                if lat is not None and lon is not None
                else None,
                "dietary": diets,
            }

    def _fit_state(self, rows: pl.DataFrame, as_of: float) -> None:
        """Popularity and profiles as of ``as_of`` (the serving state)."""
        past = rows.filter(pl.col("t") <= as_of)
        age = np.maximum(as_of - past["t"].to_numpy(), 0.0)
        self.popularity_ = np.bincount(
            past["pos"].to_numpy(),
            weights=0.5 ** (age / self.half_life_days),
            minlength=len(self.items_),
        )
        rated = past.filter(pl.col("rating").is_not_nan())
        sums = np.bincount(
            rated["pos"].to_numpy(), weights=rated["rating"].to_numpy(), minlength=len(self.items_)
        )
        counts = np.bincount(rated["pos"].to_numpy(), minlength=len(self.items_))
        self.mean_rating_ = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        self.popular_cut_ = float(np.quantile(self.popularity_, 0.8)) if len(rows) else 0.0
        self.profiles_ = build_profiles(
            rows,
            self.catalogue_,
            as_of=as_of,
            half_life_days=self.half_life_days,
            rating_scale=self.rating_scale_,
        )
        self._state_as_of = as_of
        for user, extra in self.users_.items():
            profile = self.profiles_.get(user) or TasteProfile(user=user)
            self._add_stated(profile, extra["preferences"], extra["location"], extra["dietary"])
            self.profiles_[user] = profile

    def _add_stated(
        self,
        profile: TasteProfile,
        preferences: str,
        location: tuple[float, float] | None,
        dietary: tuple[str, ...],
    ) -> None:
        if preferences.strip():
            vector = self._embed([preferences])[0]
            profile.stated = vector if np.any(vector) else None
            profile.stated_text = preferences.strip()
        if location is not None:
            profile.location = location
        if dietary:
            profile.dietary = dietary

    def _embed(self, texts: list[str]) -> np.ndarray:
        embedder = getattr(self, "_embedder", None) or shared_store()
        return np.asarray(embedder.embed(texts), dtype=np.float32)

    def _fit_ranker(self, rows: pl.DataFrame) -> None:
        """LambdaRank on a time split of the training interactions: profiles
        as of the cut, relevance from what each diner chose after it."""
        t = rows["t"].to_numpy()
        rng = np.random.default_rng(self.random_state)
        if rows.height and float(t.max() - t.min()) > 0:
            cut = float(np.quantile(t, 1.0 - self.holdout_share))
            before, after = rows.filter(pl.col("t") <= cut), rows.filter(pl.col("t") > cut)
        else:  # no time order to follow (e.g. the UCI ratings): a seeded random split
            mask = rng.random(rows.height) < self.holdout_share
            before, after = rows.filter(~pl.Series(mask)), rows.filter(pl.Series(mask))
            cut = float(t.max()) if rows.height else 0.0
            before = before.with_columns(pl.lit(cut).alias("t")) if before.height else before
        self._fit_state(before, cut)
        features, labels, groups = [], [], []
        for (user,), target in after.partition_by("user", as_dict=True).items():
            gains = self._gains(target)
            if not gains:
                continue
            profile = self.profiles_.get(user) or TasteProfile(user=user)
            positions = self._retrieve(profile, DiningContext(), self.candidates)
            if not any(p in gains for p in positions.tolist()):
                continue
            scored = self._features(profile, positions, None)
            features.append(np.column_stack([scored.features[n] for n in self._feature_names()]))
            labels.append(np.array([gains.get(int(p), 0) for p in positions], dtype=np.int32))
            groups.append(len(positions))
        self.train_groups_ = len(groups)
        if len(groups) < 5:
            return  # too little to learn from: the documented embedding fallback ranks
        self.ranker_ = lgb.LGBMRanker(
            objective="lambdarank",
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            random_state=self.random_state,
            n_jobs=1,
            verbose=-1,
        )
        self.ranker_.fit(np.vstack(features), np.concatenate(labels), group=groups)

    def _gains(self, target: pl.DataFrame) -> dict[int, int]:
        top = self.rating_scale_[1]
        gains: dict[int, int] = {}
        for pos, rating in zip(target["pos"].to_list(), target["rating"].to_list(), strict=True):
            if rating == rating and self.min_rating is not None and rating < self.min_rating:
                continue
            gain = 2 if rating == rating and top > self.rating_scale_[0] and rating >= top else 1
            gains[int(pos)] = max(gains.get(int(pos), 0), gain)
        return gains

    # ------------------------------------------------------------ retrieval and features

    def _feature_names(self) -> list[str]:
        names = [
            "similarity",
            "stated_similarity",
            "loved_similarity",
            "distance_km",
            "rating",
            "popularity",
            "novelty",
            "past_visits",
            "days_since_visit",
            "history_size",
        ]
        names += [f"share_{c}" for c in self.categorical_]
        names += [f"value_{c}" for c in self.numeric_]
        names += [f"gap_{c}" for c in self.numeric_]
        return names

    def _allowed(self, profile: TasteProfile, context: DiningContext) -> np.ndarray:
        n = len(self.items_)
        mask = np.ones(n, dtype=bool)
        origin = context.location or profile.location
        if context.max_km is not None:
            if origin is None:
                raise RecommenderError("max_km needs a location (context.location or the diner's)")
            near = haversine_km(*origin, self.catalogue_.latitude, self.catalogue_.longitude)
            mask &= near <= context.max_km  # NaN (no location) is never near
        diets = set(context.dietary or profile.dietary)
        if diets:
            mask &= np.array([d is None or diets <= d for d in self.diets_], dtype=bool)
        for item in context.exclude:
            if item in self.index_:
                mask[self.index_[item]] = False
        if context.exclude_seen and profile.visits:
            mask[list(profile.visits)] = False
        bookable = context.bookable
        if bookable is not None and not callable(bookable):
            only = np.zeros(n, dtype=bool)
            for item in bookable:
                if item in self.index_:
                    only[self.index_[item]] = True
            mask &= only
        return mask

    def _retrieve(self, profile: TasteProfile, context: DiningContext, limit: int) -> np.ndarray:
        mask = self._allowed(profile, context)
        allowed = np.flatnonzero(mask)
        if len(allowed) <= limit:
            return allowed
        picks: list[np.ndarray] = []
        query = profile.vector if profile.vector is not None else profile.stated
        if query is not None:
            sims = self.catalogue_.vectors[allowed] @ query
            picks.append(allowed[_top(sims, limit // 2)])
        pop = getattr(self, "popularity_", np.zeros(len(self.items_)))[allowed]
        picks.append(allowed[_top(pop, limit // 4)])
        origin = context.location or profile.location
        if origin is not None:
            dist = haversine_km(
                *origin, self.catalogue_.latitude[allowed], self.catalogue_.longitude[allowed]
            )
            picks.append(allowed[_top(-np.nan_to_num(dist, nan=np.inf), limit // 4)])
        seen = np.array([p for p in profile.visits if mask[p]], dtype=np.int64)
        picks.append(seen)
        return np.unique(np.concatenate(picks))

    def _features(
        self, profile: TasteProfile, positions: np.ndarray, context: DiningContext | None
    ) -> _Scored:
        V = self.catalogue_.vectors[positions]
        n = len(positions)
        nan = np.full(n, np.nan)
        f: dict[str, np.ndarray] = {}
        f["similarity"] = V @ profile.vector if profile.vector is not None else nan
        f["stated_similarity"] = V @ profile.stated if profile.stated is not None else nan
        loved_match = None
        if len(profile.loved):
            sims = V @ self.catalogue_.vectors[profile.loved].T
            # A restaurant is not "like" itself: its own row does not count.
            sims[positions[:, None] == profile.loved[None, :]] = -1.0
            best = sims.argmax(axis=1)
            f["loved_similarity"] = sims[np.arange(n), best]
            loved_match = profile.loved[best]
        else:
            f["loved_similarity"] = nan
        origin = (context.location if context else None) or profile.location
        f["distance_km"] = (
            haversine_km(
                *origin, self.catalogue_.latitude[positions], self.catalogue_.longitude[positions]
            )
            if origin is not None
            else nan
        )
        attr = self.numeric_.get("rating")
        f["rating"] = attr[positions] if attr is not None else self.mean_rating_[positions]
        f["popularity"] = np.log1p(self.popularity_[positions])
        visits = np.array([profile.visits.get(int(p), 0) for p in positions], dtype=float)
        f["past_visits"] = visits
        f["novelty"] = (visits == 0).astype(float)
        f["days_since_visit"] = np.array(
            [
                self._state_as_of - profile.last_visit[int(p)]
                if int(p) in profile.last_visit
                else np.nan
                for p in positions
            ]
        )
        f["history_size"] = np.full(n, math.log1p(profile.interactions))
        for column, codes in self.categorical_.items():
            share = profile.shares.get(column)
            c = codes[positions]
            f[f"share_{column}"] = (
                np.where(c >= 0, share[np.maximum(c, 0)], 0.0) if share is not None else nan
            )
        for column, values in self.numeric_.items():
            v = values[positions]
            f[f"value_{column}"] = v
            mean = profile.means.get(column)
            f[f"gap_{column}"] = np.abs(v - mean) if mean is not None else nan
        return _Scored(positions, np.zeros(n), f, loved_match)

    def _score(
        self, profile: TasteProfile, positions: np.ndarray, context: DiningContext
    ) -> _Scored:
        scored = self._features(profile, positions, context)
        f = scored.features
        pop = f["popularity"] / max(float(np.log1p(self.popularity_.max())), 1e-9)
        if self.method == "popularity":
            scored.scores = pop
        elif profile.cold:
            # The cold start: stated taste first, popularity to break near-ties;
            # with nothing stated, popularity (near the diner when bounded).
            stated = f["stated_similarity"]
            has_stated = not np.all(np.isnan(stated))
            scored.scores = np.nan_to_num(stated) + COLD_POPULARITY * pop if has_stated else pop
        elif self.method == "embedding" or self.ranker_ is None:
            # Ties (a catalogue without text) are broken by popularity, never by id.
            scored.scores = np.nan_to_num(f["similarity"], nan=-1.0) + 1e-3 * pop
        else:
            matrix = np.column_stack([f[n] for n in self._feature_names()])
            # The booster itself: the sklearn wrapper re-validates its
            # parameters on every call, a third of a request's time.
            scored.scores = np.asarray(
                self.ranker_.booster_.predict(matrix, num_threads=1), dtype=float
            )
        return scored

    # ------------------------------------------------------------ serving

    def _check_fitted(self) -> None:
        if not hasattr(self, "profiles_"):
            raise NotFitted("call fit(interactions, items) before asking for recommendations")

    def profile(self, user: Any, context: DiningContext | None = None) -> TasteProfile:
        """The diner's taste profile; a cold-start one for a diner we do not know."""
        self._check_fitted()
        context = context or DiningContext()
        known = self.profiles_.get(user)
        # A copy: the request's stated taste must not stick to the stored profile.
        profile = copy.copy(known) if known is not None else TasteProfile(user=user)
        if context.preferences.strip() or context.location or context.dietary:
            self._add_stated(profile, context.preferences, context.location, context.dietary)
        return profile

    def recommend(
        self, user: Any, k: int = 10, context: DiningContext | None = None
    ) -> list[Recommendation]:
        """Up to ``k`` restaurants for ``user``, best first, each bookable and
        within the hard constraints of ``context``; fewer (possibly none)
        when fewer qualify.

        A user never seen in ``fit`` (or ``None``, an anonymous visitor), or
        one with no history yet, is a cold start, not an error: ranked by
        similarity to stated preferences (``context.preferences`` or the
        ``users`` frame) plus a little popularity, else by popularity near
        ``context.location`` (with ``max_km``), else by popularity.
        """
        self._check_fitted()
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 100:
            raise RecommenderError(f"k must be an integer from 1 to 100, not {k!r}")
        context = context or DiningContext()
        if context.party_size is not None and context.party_size < 1:
            raise RecommenderError("party_size must be at least 1")
        profile = self.profile(user, context)
        with _one_thread():
            positions = self._retrieve(profile, context, self.candidates)
            if len(positions) == 0:
                return []
            scored = self._score(profile, positions, context)
        return self._pick(profile, scored, k, context)

    def _pick(
        self, profile: TasteProfile, scored: _Scored, k: int, context: DiningContext
    ) -> list[Recommendation]:
        order = np.argsort(-scored.scores, kind="stable")
        cap = max(1, math.ceil(k * self.max_share))
        codes = self.categorical_.get(self.diversity_by) if self.diversity_by else None
        check = context.bookable if callable(context.bookable) else None
        times = context.bookable if isinstance(context.bookable, Mapping) else None
        chosen: list[tuple[int, str | None]] = []
        deferred: list[tuple[int, str | None]] = []
        per_category: dict[int, int] = {}
        for j in order:
            if len(chosen) >= k:
                break
            pos = int(scored.positions[j])
            label: str | None = None
            if check is not None:
                answer = check(self.items_[pos])
                if not answer:
                    continue
                label = answer if isinstance(answer, str) else None
            elif times is not None:
                label = str(times.get(self.items_[pos]) or "") or None
            code = int(codes[pos]) if codes is not None else -1
            if code >= 0 and per_category.get(code, 0) >= cap:
                deferred.append((int(j), label))  # kept in case variety runs out
                continue
            per_category[code] = per_category.get(code, 0) + 1
            chosen.append((int(j), label))
        chosen += deferred[: k - len(chosen)]
        return [self._recommendation(profile, scored, j, label, context) for j, label in chosen]

    def _recommendation(
        self,
        profile: TasteProfile,
        scored: _Scored,
        j: int,
        label: str | None,
        context: DiningContext,
    ) -> Recommendation:
        pos = int(scored.positions[j])
        f = {name: float(values[j]) for name, values in scored.features.items()}
        category = None
        if self.diversity_by:
            code = int(self.categorical_[self.diversity_by][pos])
            category = self.levels_[self.diversity_by][code] if code >= 0 else None
        reasons = [self._taste_reason(profile, scored, j, f, category)]
        when = label or context.time
        if context.party_size and when:
            reasons.append(f"open at {when} for {context.party_size}")
        elif context.party_size and context.bookable is not None:
            reasons.append(f"has a table for {context.party_size}")
        elif when:
            reasons.append(f"open at {when}")
        distance = f["distance_km"] if f["distance_km"] == f["distance_km"] else None
        if distance is not None and distance < 10:
            reasons.append(f"{distance:.1f} km away")
        diets = context.dietary or profile.dietary
        if diets and self.diets_[pos] is not None:
            reasons.append(f"serves {', '.join(diets)}")
        return Recommendation(
            self.items_[pos],
            self.names_[pos],
            float(scored.scores[j]),
            tuple(reasons),
            category,
            distance,
        )

    def _taste_reason(
        self,
        profile: TasteProfile,
        scored: _Scored,
        j: int,
        f: dict[str, float],
        category: str | None,
    ) -> str:
        visits = int(f["past_visits"])
        if visits >= 2:
            return f"you have dined here {visits} times"
        if visits == 1:
            return "you have dined here before"
        if scored.loved_match is not None and f["loved_similarity"] >= 0.55:
            loved = int(scored.loved_match[j])
            rating = profile.best_rating.get(loved)
            word = (
                "loved"
                if profile.visits.get(loved, 0) >= 2
                or (rating is not None and rating >= self.rating_scale_[1])
                else "enjoyed"
            )
            return f"because you {word} {self.names_[loved]}"
        share_key = f"share_{self.diversity_by}"
        if category and f.get(share_key, 0.0) >= 0.25:
            return f"{_title(category)}, a favourite of yours"
        if profile.stated_text and f["stated_similarity"] >= 0.3:
            return f"matches what you like: {profile.stated_text[:60]}"
        if self.popularity_[int(scored.positions[j])] >= self.popular_cut_ > 0:
            return "popular with diners nearby" if profile.location else "popular with diners"
        if category:
            return f"{_title(category)} you have not tried yet"
        return "something new for you"

    def similar(
        self, item: Any, k: int = 10, context: DiningContext | None = None
    ) -> list[Recommendation]:
        """The ``k`` restaurants most like ``item`` in text (cuisine, menu,
        room, reviews), within ``context``'s constraints. ``UnknownItem`` if
        the catalogue has no such id."""
        self._check_fitted()
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 100:
            raise RecommenderError(f"k must be an integer from 1 to 100, not {k!r}")
        if item not in self.index_:
            raise UnknownItem(f"no restaurant {item!r} in the catalogue this model was fitted on")
        pos = self.index_[item]
        context = context or DiningContext()
        anchor = TasteProfile(
            user=None,
            location=(
                (float(self.catalogue_.latitude[pos]), float(self.catalogue_.longitude[pos]))
                if not np.isnan(self.catalogue_.latitude[pos])
                else None
            ),
        )
        mask = self._allowed(anchor, context)
        mask[pos] = False
        allowed = np.flatnonzero(mask)
        vector = self.catalogue_.vectors[pos]
        if not np.any(vector):
            return []  # an item without text is like nothing in particular
        sims = self.catalogue_.vectors[allowed] @ vector
        top = allowed[_top(sims, k)]
        top = top[np.argsort(-(self.catalogue_.vectors[top] @ vector), kind="stable")]
        out = []
        for p in top:
            sim = float(self.catalogue_.vectors[p] @ vector)
            out.append(
                Recommendation(
                    self.items_[p],
                    self.names_[p],
                    sim,
                    (f"similar to {self.names_[pos]}",),
                    self._category_of(int(p)),
                    None,
                )
            )
        return out

    def _category_of(self, pos: int) -> str | None:
        if not self.diversity_by:
            return None
        code = int(self.categorical_[self.diversity_by][pos])
        return self.levels_[self.diversity_by][code] if code >= 0 else None

    def recommend_frame(self, requests: pl.DataFrame) -> pl.DataFrame:
        """Batch form for MLflow serving: one row per request (``user``;
        optional ``k``, ``latitude``, ``longitude``, ``max_km``,
        ``party_size``, ``preferences``) in, one row per recommendation
        (``user``, ``rank``, ``item``, ``score``, ``reason``) out."""
        requests = _require(requests, "requests", ("user",))
        out: dict[str, list[Any]] = {"user": [], "rank": [], "item": [], "score": [], "reason": []}
        for row in requests.iter_rows(named=True):
            lat, lon = row.get("latitude"), row.get("longitude")
            context = DiningContext(
                party_size=int(row["party_size"]) if row.get("party_size") else None,
                location=(float(lat), float(lon)) if lat is not None and lon is not None else None,
                max_km=float(row["max_km"]) if row.get("max_km") else None,
                preferences=str(row.get("preferences") or ""),
            )
            recs = self.recommend(row["user"], int(row.get("k") or 10), context)
            for rank, rec in enumerate(recs, start=1):
                out["user"].append(row["user"])
                out["rank"].append(rank)
                out["item"].append(str(rec.item))
                out["score"].append(rec.score)
                out["reason"].append(rec.reason)
        return pl.DataFrame(
            out,
            schema={
                "user": requests.schema["user"],
                "rank": pl.Int64,
                "item": pl.String,
                "score": pl.Float64,
                "reason": pl.String,
            },
        )

    def __getstate__(self) -> dict[str, Any]:
        # The embedding model is reloaded where the recommender is unpickled.
        state = dict(self.__dict__)
        state.pop("_embedder", None)
        return state


_controller: ThreadpoolController | None = None


def _one_thread() -> Any:
    """BLAS on one thread for a request's small matrix products: waking a
    second thread costs more than the work, and far more on a busy machine."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def _top(values: np.ndarray, n: int) -> np.ndarray:
    """Indexes of the ``n`` largest values (unordered)."""
    if n <= 0 or len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    if n >= len(values):
        return np.arange(len(values))
    return np.argpartition(-values, n - 1)[:n]


__all__ = [
    "DiningContext",
    "Method",
    "NotFitted",
    "Recommendation",
    "Recommender",
    "RecommenderError",
    "UnknownItem",
    "haversine_km",
]
