"""Diner taste profiles: what a diner's history and stated preferences say
about the restaurants they will love.

A profile is built from interactions up to a moment (``as_of``): each visit
counts ``0.5 ** (age / half_life)`` (recent visits say more about today's
taste) times a rating weight (a five-star evening counts three times a
one-star one). From the weighted visits come a taste vector in the
embedding space, the share of each cuisine (or any categorical attribute),
the mean of each numeric attribute (price tier...), and a home location.
A diner with no history starts from stated preferences (a text such as
"vegetarian, quiet, not too expensive") or location alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

# How many of a diner's most-loved restaurants the "because you loved ..." check looks at.
LOVED_KEPT = 20


@dataclass
class TasteProfile:
    """One diner's taste as of some moment; item positions index the catalogue."""

    user: Any
    vector: np.ndarray | None = None  # unit taste vector, None without history
    stated: np.ndarray | None = None  # unit vector of the stated preferences
    stated_text: str = ""
    visits: dict[int, int] = field(default_factory=dict)
    last_visit: dict[int, float] = field(default_factory=dict)  # in days
    best_rating: dict[int, float] = field(default_factory=dict)
    loved: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    shares: dict[str, np.ndarray] = field(default_factory=dict)  # column -> share per code
    means: dict[str, float] = field(default_factory=dict)  # numeric column -> weighted mean
    location: tuple[float, float] | None = None
    dietary: tuple[str, ...] = ()
    interactions: int = 0

    @property
    def cold(self) -> bool:
        return self.vector is None


@dataclass(frozen=True)
class CatalogueView:
    """What profiles need to know of the catalogue, by item position."""

    vectors: np.ndarray  # (n_items, d), unit rows
    categorical: Mapping[str, np.ndarray]  # column -> int codes (-1 unknown)
    n_codes: Mapping[str, int]
    numeric: Mapping[str, np.ndarray]  # column -> float values (nan unknown)
    latitude: np.ndarray
    longitude: np.ndarray


def rating_weight(rating: np.ndarray, low: float, high: float) -> np.ndarray:
    """0.5 for the lowest rating on the scale, 1.5 for the highest, 1 when unrated."""
    if high <= low:
        return np.where(np.isnan(rating), 1.0, 1.0)
    scaled = 0.5 + (rating - low) / (high - low)
    return np.where(np.isnan(rating), 1.0, scaled)


def build_profiles(
    interactions: pl.DataFrame,
    catalogue: CatalogueView,
    *,
    as_of: float,
    half_life_days: float,
    rating_scale: tuple[float, float],
) -> dict[Any, TasteProfile]:
    """Profiles of every user in ``interactions`` (columns ``user``, ``pos``
    (item position), ``t`` (days), ``rating`` (float, NaN when unrated)),
    counting only rows with ``t <= as_of``."""
    rows = interactions.filter(pl.col("t") <= as_of)
    if rows.is_empty():
        return {}
    age = np.maximum(as_of - rows["t"].to_numpy(), 0.0)
    weight = 0.5 ** (age / half_life_days) * rating_weight(
        rows["rating"].to_numpy().astype(float), *rating_scale
    )
    per_item = (
        rows.with_columns(pl.Series("w", weight))
        .group_by("user", "pos", maintain_order=True)
        .agg(
            pl.col("w").sum(),
            pl.len().alias("n"),
            pl.col("t").max().alias("last"),
            pl.col("rating").max().alias("best"),
        )
    )
    profiles: dict[Any, TasteProfile] = {}
    for (user,), group in per_item.partition_by("user", as_dict=True, maintain_order=True).items():
        profiles[user] = profile_from_history(
            user,
            group["pos"].to_numpy(),
            group["w"].to_numpy(),
            group["n"].to_numpy(),
            group["last"].to_numpy(),
            group["best"].to_numpy(),
            catalogue,
        )
    return profiles


def profile_from_history(
    user: Any,
    pos: np.ndarray,
    weight: np.ndarray,
    count: np.ndarray,
    last: np.ndarray,
    best: np.ndarray,
    catalogue: CatalogueView,
) -> TasteProfile:
    total = float(weight.sum()) or 1.0
    share = weight / total
    vector = share @ catalogue.vectors[pos]
    norm = float(np.linalg.norm(vector))
    profile = TasteProfile(
        user=user,
        vector=(vector / norm).astype(np.float32) if norm > 0 else None,
        visits={int(p): int(n) for p, n in zip(pos, count, strict=True)},
        last_visit={int(p): float(t) for p, t in zip(pos, last, strict=True)},
        best_rating={
            int(p): float(r) for p, r in zip(pos, best, strict=True) if r is not None and r == r
        },
        loved=pos[np.argsort(-weight, kind="stable")[:LOVED_KEPT]].astype(np.int64),
        interactions=int(count.sum()),
    )
    for column, codes in catalogue.categorical.items():
        c = codes[pos]
        known = c >= 0
        profile.shares[column] = np.bincount(
            c[known], weights=share[known], minlength=catalogue.n_codes[column]
        )
    for column, values in catalogue.numeric.items():
        v = values[pos]
        known = ~np.isnan(v)
        if known.any():
            profile.means[column] = float(np.average(v[known], weights=share[known]))
    lat, lon = catalogue.latitude[pos], catalogue.longitude[pos]
    placed = ~(np.isnan(lat) | np.isnan(lon))
    if placed.any():
        # The weighted median is robust to one trip far from home.
        profile.location = (
            _weighted_median(lat[placed], share[placed]),
            _weighted_median(lon[placed], share[placed]),
        )
    return profile


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2.0)])


__all__ = ["CatalogueView", "TasteProfile", "build_profiles", "rating_weight"]
