"""Judging recommendations: a time-based split, NDCG@k, Recall@k and
catalogue coverage, the same for every method.

NDCG uses binary relevance (a restaurant the diner chose in the holdout is
relevant, whatever the rank of their other choices); Recall@k is the share of
a diner's holdout restaurants found in the top k; coverage is the share of
the catalogue recommended to at least one diner. Diners with no relevant
restaurant in the holdout are not scored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from models.recommend import DiningContext, Recommender


@dataclass(frozen=True)
class RankingScores:
    ndcg10: float
    recall10: float
    coverage: float
    users: int

    def as_dict(self) -> dict[str, float]:
        return {
            "ndcg10": self.ndcg10,
            "recall10": self.recall10,
            "coverage": self.coverage,
            "users": self.users,
        }


def ndcg_at(ranked: list[Any], relevant: set[Any], k: int = 10) -> float:
    gains = sum(1.0 / math.log2(i + 2) for i, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return gains / ideal if ideal else 0.0


def recall_at(ranked: list[Any], relevant: set[Any], k: int = 10) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0


def time_split(interactions: pl.DataFrame, cut: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Everything before ``cut`` to learn from; what diners chose after it to judge."""
    return interactions.filter(pl.col("time") < cut), interactions.filter(pl.col("time") >= cut)


def user_holdout(
    interactions: pl.DataFrame, share: float = 0.25, seed: int = 0, min_kept: int = 2
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """For data with no time order: a seeded share of each user's rows held
    out, keeping at least ``min_kept`` rows per user to learn from."""
    rng = np.random.default_rng(seed)
    keep, hold = [], []
    for _, group in interactions.partition_by("user", as_dict=True, maintain_order=True).items():
        order = rng.permutation(group.height)
        n_hold = min(max(1, round(share * group.height)), max(group.height - min_kept, 0))
        hold.append(group[order[:n_hold].tolist()])
        keep.append(group[order[n_hold:].tolist()])
    return pl.concat(keep), pl.concat(hold)


def relevant_sets(holdout: pl.DataFrame, min_rating: float | None = None) -> dict[Any, set[Any]]:
    rows = holdout
    if min_rating is not None and "rating" in rows.columns:
        rows = rows.filter(pl.col("rating").is_null() | (pl.col("rating") >= min_rating))
    grouped = rows.group_by("user").agg(pl.col("item").unique())
    return {u: set(items) for u, items in zip(grouped["user"], grouped["item"], strict=True)}


def evaluate(
    model: Recommender,
    relevant: dict[Any, set[Any]],
    *,
    k: int = 10,
    context_for: Callable[[Any], DiningContext] | None = None,
    users: Iterable[Any] | None = None,
) -> RankingScores:
    """Score ``model`` on each user's ``relevant`` holdout restaurants."""
    ndcg, recall, shown = [], [], set()
    for user in users if users is not None else relevant:
        truth = relevant.get(user)
        if not truth:
            continue
        context = context_for(user) if context_for else None
        ranked = [r.item for r in model.recommend(user, k, context)]
        shown.update(ranked)
        ndcg.append(ndcg_at(ranked, truth, k))
        recall.append(recall_at(ranked, truth, k))
    n = len(ndcg)
    return RankingScores(
        float(np.mean(ndcg)) if n else 0.0,
        float(np.mean(recall)) if n else 0.0,
        len(shown) / max(len(model.items_), 1),
        n,
    )


def local_context(
    model: Recommender, max_km: float | None, *, exclude_seen: bool = False
) -> Callable[[Any], DiningContext]:
    """The same hard constraints for every method: restaurants within
    ``max_km`` of where the diner is known to be (no bound when unknown),
    and with ``exclude_seen`` none they have already been to (for data where
    each diner rates a restaurant once, so a seen one can never be a hit)."""

    def context(user: Any) -> DiningContext:
        profile = model.profiles_.get(user)
        if max_km is None or profile is None or profile.location is None:
            return DiningContext(exclude_seen=exclude_seen)
        return DiningContext(location=profile.location, max_km=max_km, exclude_seen=exclude_seen)

    return context


__all__ = [
    "RankingScores",
    "evaluate",
    "local_context",
    "ndcg_at",
    "recall_at",
    "relevant_sets",
    "time_split",
    "user_holdout",
]
