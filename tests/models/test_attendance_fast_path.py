"""A booking scored alone takes the plain-Python path (``prepared_rows``,
``matrix_of_rows``, ``calibrate``); a frame of many takes polars and
scikit-learn. Both must give the same numbers and the same reasons (up to
the last bit of ``log1p``, which Rust and C round differently)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.attendance import SMALL_FRAME_ROWS, AttendanceRisk

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REQUESTS = [
    None,
    "",
    "Birthday dinner!",
    "l'anniversaire de Marie",
    "ALLERGIC to nuts",
    "車椅子です",
    "high chair please, vegan options",
    "Table by the window",
]


def _frame(n: int, seed: int, *, with_local: bool = True) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    booked = [T0 + timedelta(hours=int(h)) for h in np.sort(rng.integers(0, 24 * 300, n))]
    start = [b + timedelta(hours=float(rng.exponential(200))) for b in booked]
    prior = rng.integers(0, 30, n)
    no_shows = np.minimum(rng.binomial(prior, 0.1), prior)
    cancels = np.minimum(rng.binomial(prior, 0.1), prior - no_shows)
    missing_history = rng.random(n) < 0.1
    p = 1 / (1 + np.exp(-(-2.5 + 3 * no_shows / (prior + 1) + 0.002 * rng.normal(size=n))))
    columns: dict[str, Any] = {
        "reservation_id": np.arange(n),
        "booked_at": booked,
        "start_at": start,
        "party_size": rng.integers(1, 9, n),
        "channel": rng.choice(["web", "phone", "widget", "affiliate"], n).tolist(),
        "deposit_required": (rng.random(n) < 0.2).tolist(),
        "special_requests": [REQUESTS[i] for i in rng.integers(0, len(REQUESTS), n)],
        "diner_prior_bookings": [
            None if m else int(v) for m, v in zip(missing_history, prior, strict=True)
        ],
        "diner_prior_no_shows": [
            None if m else int(v) for m, v in zip(missing_history, no_shows, strict=True)
        ],
        "diner_prior_cancellations": [
            None if m else int(v) for m, v in zip(missing_history, cancels, strict=True)
        ],
        "price_tier": rng.integers(1, 5, n),
        "cuisine": [
            None if r < 0.1 else c
            for r, c in zip(
                rng.random(n), rng.choice(["french", "thai", "sushi", "diner"], n), strict=True
            )
        ],
        "restaurant_prior_no_show_rate": rng.uniform(0.02, 0.2, n),
        "no_show": (rng.random(n) < p).tolist(),
    }
    if with_local:
        columns["local_hour"] = rng.integers(11, 23, n).astype(np.int8)
        columns["weekday"] = rng.integers(0, 7, n).astype(np.int8)
    return pl.DataFrame(columns)


@pytest.fixture(scope="module", params=["sigmoid", "isotonic"])
def model(request: pytest.FixtureRequest) -> AttendanceRisk:
    return AttendanceRisk(
        calibration=request.param, n_estimators=60, min_child_samples=20, num_leaves=3
    ).fit(_frame(1500, seed=1))


@pytest.fixture(scope="module")
def utc_model() -> AttendanceRisk:
    """Without local calendar columns: weekday and hour come from start_at in UTC."""
    return AttendanceRisk(n_estimators=40, min_child_samples=20).fit(
        _frame(1200, seed=2, with_local=False)
    )


def _slow(model: AttendanceRisk, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, list]:
    """The polars and scikit-learn path, whatever the frame's size."""
    design = model.design_
    prepared = design.prepare(frame)
    X = design.matrix(prepared)
    raw = model._raw(X)
    cal = model.calibrator_
    if hasattr(cal, "predict_proba"):
        p = cal.predict_proba(raw.reshape(-1, 1))[:, 1]
    else:
        p = cal.predict(raw) + 1e-6 * np.tanh(raw / 8.0)
    return X, np.clip(p, 1e-6, 1 - 1e-6), prepared.to_dicts()


@pytest.mark.parametrize("seed", [3, 4])
def test_small_frames_score_like_large_ones(model: AttendanceRisk, seed: int) -> None:
    frame = _frame(8 * SMALL_FRAME_ROWS, seed=seed).drop("no_show")
    X, p, _ = _slow(model, frame)
    for lo in range(0, frame.height, SMALL_FRAME_ROWS):
        chunk = frame.slice(lo, SMALL_FRAME_ROWS)
        rows = model.design_.prepared_rows(chunk)
        assert rows is not None
        np.testing.assert_allclose(
            model.feature_matrix(chunk), X[lo : lo + chunk.height], rtol=1e-14
        )
        np.testing.assert_allclose(
            model.predict_proba(chunk)[:, 1], p[lo : lo + chunk.height], rtol=1e-12
        )
    # and the whole frame at once (the polars path) agrees with itself
    np.testing.assert_allclose(model.predict_proba(frame)[:, 1], p, rtol=1e-12)


def test_reasons_and_explain_agree_across_paths(model: AttendanceRisk) -> None:
    frame = _frame(3 * SMALL_FRAME_ROWS, seed=5).drop("no_show")
    whole = model.reasons(frame, top=None)  # polars path
    alone = [model.reasons(frame.slice(i, 1), top=None)[0] for i in range(frame.height)]
    assert [[t for t, _ in r] for r in alone] == [[t for t, _ in r] for r in whole]
    np.testing.assert_allclose(
        [[w for _, w in r] for r in alone], [[w for _, w in r] for r in whole], atol=1e-12
    )
    p, reasons = model.explain(frame.head(4), top=3)
    np.testing.assert_allclose(p, model.predict_proba(frame.head(4))[:, 1], atol=1e-9)
    assert reasons == model.reasons(frame.head(4), top=3)


def test_utc_calendar_columns_agree(utc_model: AttendanceRisk) -> None:
    frame = _frame(SMALL_FRAME_ROWS * 2, seed=6, with_local=False).drop("no_show")
    X, _, prepared = _slow(utc_model, frame)
    head = frame.head(SMALL_FRAME_ROWS)
    rows = utc_model.design_.prepared_rows(head)
    assert rows is not None
    assert [r["weekday_utc"] for r in rows] == [r["weekday_utc"] for r in prepared[:16]]
    np.testing.assert_allclose(utc_model.feature_matrix(head), X[:SMALL_FRAME_ROWS], rtol=1e-14)


def test_frames_without_history_take_the_polars_path(model: AttendanceRisk) -> None:
    frame = _frame(4, seed=7).drop("no_show", "diner_prior_cancellations")
    assert model.design_.prepared_rows(frame) is None
    with pytest.raises(ValueError, match="diner_prior_cancellations"):
        model.predict_proba(frame)


@settings(max_examples=60, deadline=None)
@given(
    party=st.integers(1, 40),
    lead_hours=st.floats(-5, 5000, allow_nan=False),
    request=st.one_of(st.none(), st.text(max_size=40), st.sampled_from(REQUESTS)),
    channel=st.one_of(st.none(), st.sampled_from(["web", "phone", "kiosk"])),
    history=st.one_of(st.none(), st.tuples(st.integers(0, 50), st.integers(0, 50))),
    deposit=st.one_of(st.none(), st.booleans()),
)
def test_any_single_booking_matches_the_polars_path(
    model: AttendanceRisk,
    party: int,
    lead_hours: float,
    request: str | None,
    channel: str | None,
    history: tuple[int, int] | None,
    deposit: bool | None,
) -> None:
    n, k = history if history else (None, None)
    booked = T0 + timedelta(days=400)
    frame = pl.DataFrame(
        {
            "booked_at": [booked],
            "start_at": [booked + timedelta(hours=lead_hours)],
            "party_size": [party],
            "channel": [channel],
            "deposit_required": [deposit],
            "special_requests": [request],
            "diner_prior_bookings": [None if n is None else n + (k or 0)],
            "diner_prior_no_shows": [n],
            "diner_prior_cancellations": [k],
            "price_tier": [2],
            "cuisine": ["thai"],
            "restaurant_prior_no_show_rate": [0.08],
            "local_hour": pl.Series([19], dtype=pl.Int8),
            "weekday": pl.Series([4], dtype=pl.Int8),
        },
        schema_overrides={
            "channel": pl.String,
            "special_requests": pl.String,
            "deposit_required": pl.Boolean,
            "diner_prior_bookings": pl.Int64,
            "diner_prior_no_shows": pl.Int64,
            "diner_prior_cancellations": pl.Int64,
        },
    )
    X, p, _ = _slow(model, frame)
    np.testing.assert_allclose(model.feature_matrix(frame), X, rtol=1e-14)
    np.testing.assert_allclose(model.predict_proba(frame)[:, 1], p, rtol=1e-12)
