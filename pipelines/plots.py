"""Figures logged with each model: what a person checks before trusting it."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: the flow runs on servers

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.figure import Figure


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 15) -> Figure:
    order = np.argsort(p)
    chunks = np.array_split(order, bins)
    predicted = [float(p[c].mean()) for c in chunks if len(c)]
    observed = [float(y[c].mean()) for c in chunks if len(c)]
    fig, ax = plt.subplots(figsize=(5, 5))
    top = max(max(predicted, default=0.1), max(observed, default=0.1)) * 1.1
    ax.plot([0, top], [0, top], color="grey", linestyle="--", label="perfect")
    ax.plot(predicted, observed, marker="o", label="model")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed rate")
    ax.set_title("Calibration on the holdout (equal-count bins)")
    ax.legend()
    fig.tight_layout()
    plt.close(fig)
    return fig


def importance(model: Any, top: int = 20) -> Figure:
    booster = model.booster_
    gains = booster.feature_importance(importance_type="gain")
    names = booster.feature_name()
    order = np.argsort(gains)[-top:]
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.barh([names[i] for i in order], gains[order])
    ax.set_xlabel("total gain")
    ax.set_title("Feature importance")
    fig.tight_layout()
    plt.close(fig)
    return fig


def residuals(y: np.ndarray, p50: np.ndarray) -> Figure:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].scatter(p50, y - p50, s=4, alpha=0.3)
    axes[0].axhline(0, color="grey")
    axes[0].set_xlabel("predicted P50 minutes")
    axes[0].set_ylabel("actual - predicted")
    axes[1].hist(y - p50, bins=50)
    axes[1].set_xlabel("residual minutes")
    fig.suptitle("Dining duration residuals on the holdout")
    fig.tight_layout()
    plt.close(fig)
    return fig


def forecast(joined: pl.DataFrame, restaurants: int = 4) -> Figure:
    """Actual covers against P50 with the P10-P90 band, for a few restaurants."""
    ids = joined["restaurant_id"].unique().sort().head(restaurants).to_list()
    fig, axes = plt.subplots(len(ids) or 1, 1, figsize=(9, 2.4 * max(len(ids), 1)), squeeze=False)
    for ax, rid in zip(axes[:, 0], ids, strict=False):
        part = joined.filter(pl.col("restaurant_id") == rid).sort("date")
        dates = part["date"].to_list()
        ax.fill_between(
            dates, part["p10"].to_numpy(), part["p90"].to_numpy(), alpha=0.25, label="P10-P90"
        )
        ax.plot(dates, part["p50"].to_numpy(), label="P50")
        ax.plot(dates, part["covers"].to_numpy(), marker=".", linestyle="", label="actual")
        ax.set_title(f"restaurant {rid}")
        ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    plt.close(fig)
    return fig


def bars(values: dict[str, float], title: str, xlabel: str) -> Figure:
    """One horizontal bar per named score."""
    names = list(values)
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(names) + 1.5))
    ax.barh(names, [values[n] for n in names])
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)
    return fig
