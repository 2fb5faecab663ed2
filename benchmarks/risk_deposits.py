"""Risk-based deposits: ask the riskiest bookings for a deposit, not the largest parties?

    python benchmarks/risk_deposits.py                # builds the demo world once (~1-2 min)
    python benchmarks/risk_deposits.py --world PATH   # where its SQLite file is kept

Writes ``results/risk_deposits.json`` and ``results/risk_deposits.png``. A
world kept from before a migration changed the schema is built again.

The demo world (seed 7, today 2026-06-01, as ``models.py`` builds it).
``AttendanceRisk(target="no_show")`` learns from the bookings (walk-ins never
carry a deposit and are not in the frame) that start before today - 14 days,
as ``models.py`` trains it. The holdout is the bookings that start in the 14
days before today: their day has come, so every one has its outcome.
Cancelled bookings stay in it, since a deposit is asked at booking time,
before anyone knows; ``models.py``'s holdout also holds bookings after today
that were already cancelled (the others have no label yet), which would leave
only cancelled bookings of those days, so they are left out here.

What a deposit would avoid on each holdout booking, from the generator's
truth (``booking_core/world/people.py``): ``world_reservation_truth.p_no_show``
is the unconditional chance of a no-show, (1 - P(cancel)) x P(no-show | not
cancelled), under the deposit the booking had. P(cancel) is recovered from
``p_late_cancel``, which is P(cancel) x the share of cancellations inside 24 h
(a function of the lead time); a deposit moves the logit of P(no-show | not
cancelled) by ``DEPOSIT_NO_SHOW_LOGIT`` (-1.1), which is undone on the rows
that had one. So, per booking, without a deposit p0 = (1 - P(cancel)) x
P0(no-show | not cancelled), and a deposit avoids (1 - P(cancel)) x [P0 -
sigmoid(logit(P0) - 1.1)] expected no-shows. Assumed: P(cancel) stays as it
was; in the generator a deposit also lowers the cancellation logit by 0.6,
which brings a few more parties to their day (and so a few more no-shows)
and is left out of "avoided".

Policies, each asking the same number K of deposits, K = the holdout bookings
the world's party-size rule asked one of: the rule itself; the top K by the
model's probability scored as if no deposit were asked (``deposit_required``
set to False on every row); the same within each restaurant (each asks as
many as its rule did: restaurants without the rule ask none); the oracle (the
top K by the true avoided no-shows: the most any K deposits can avoid; it
ranks as p0 does, but for the chance of cancelling); and random asking (the
expectation, K x the mean avoided). Then thresholds on the model's
probability, each with the oracle at its own number of deposits. For each:
deposits asked, expected no-shows avoided, avoided per 100 deposits, against
the rule and the oracle, the share of the holdout's observed no-shows among
the bookings asked (the rule's are observed under its deposits, so its share
is low by construction), and the share asked of diners with no prior booking
(and with fewer than three). The interval on model / rule is a bootstrap over
holdout bookings with the policies' choices held fixed (2,000 resamples).

Where the rule leaves a choice. A rule that asks every booking at a
restaurant (or none) leaves no policy anything to choose there, so the fair
per-restaurant comparison keeps the restaurants whose rule asks some of
their holdout bookings but not all: within each, the model's top K_r and the
oracle's (K_r = what its rule asked) against its rule, with the same
bootstrap over those restaurants' bookings; the model's probability at its
K_r-th booking, the threshold a manager would set there to ask about as many
as the rule did (its 1 - K_r / n_r quantile), and their spread; and what one
threshold asking all their K_r together would ask at each. Then, for every
restaurant, the share of its bookings each threshold above would ask.

The booking path. On a copy of the world's ledger in a temporary folder (the
kept file is only read), its clock at today noon UTC and one second on at
every reading (the restaurant's no-show rate, cached per minute of ledger
time, is counted again every 60 requests), at the restaurant among those
above with the most bookings: requests for parties of two at its times on
the 27 days after today (in part booked already by the world), each by a
diner with at least three bookings behind them who is free at that time.
``with_no_show_risk`` with the fitted model held as the serving layer holds a
champion (``serving.champions.Loaded`` around the estimator: scored through
its ``explain``) and with none (the baseline), alternating on the same
requests, 30 untimed then 300 each, nothing booked. Then the booking
route's work, ``with_no_show_risk`` then ``book``, without a threshold and
with 0.15: ten blocks of 30 each, alternating (without, with, with,
without, ...) so that the days filling up fall on both alike; after each
switch the floor and the days' books are read again, as a worker has them
soon after, and three bookings go untimed; refused bookings are not timed.

Final run (25-40 s with the world already built, 1-2 min more without; 2 cores):
7,936 holdout bookings (2026-05-18 to 05-31), 571 no-shows observed, 614
expected had no deposit been asked, 387 avoided had every booking paid one;
K = 332 (4.2 % of bookings). Expected no-shows avoided by K deposits:

    party-size rule        20.2   6.1 per 100 asked   0.49 of the oracle
    model, top K           36.2  10.9                 0.88   (1.80 x the rule,
                                                              95 % 1.54-2.10)
    model, per restaurant  21.3   6.4                 0.52   (1.06 x the rule)
    oracle, per restaurant 22.7   6.8                 0.55
    oracle, top K          41.3  12.4                 1.00
    random                 16.2   4.9                 0.39
    model p >= 0.10 / 0.15 / 0.20 / 0.30: 1,658 / 494 / 153 / 5 asked (20.9 /
    6.2 / 1.9 / 0.1 %), 140.1 / 51.7 / 18.2 / 0.6 avoided, 8.5 / 10.5 / 11.9
    / 12.2 per 100, 0.91 / 0.89 / 0.87 / 0.69 of the oracle at the same count

The model's top K holds 13 of the rule's 332 bookings; its own estimate of a
deposit's effect on the no-show logit is -0.85 (true -1.1); no-show AUC
0.652 (oracle 0.669). Diners with no prior booking: 5 of the holdout's
bookings, none asked by any policy (this world's 2,400 diners all have a
history by then), so the friction figure says nothing here. Measured once
with the deposit's -0.6 on the cancellation logit taken in: every policy
avoids about 14 % fewer no-shows (rule 17.2, model 31.3, oracle 35.7) and the
ratios move by 0.02 at most.

Where the rule leaves a choice: 4 of the 5 restaurants with a rule (1, 19,
20, 23, each asking parties from six; the fifth, 18, asks a party of one,
so every booking: 224 of the 332), 632 bookings, K = 108 (17 %):

    party-size rule     8.3 avoided   7.7 per 100 asked   0.77 of the oracle
    model, top K_r      9.5           8.8                 0.88   (1.14 x the rule,
                                                                  95 % 0.94-1.39;
                                                                  1.01-1.35 by restaurant)
    oracle, top K_r    10.9          10.1                 1.00
    random              5.6           5.1                 0.51
    the model's p at each one's K_r: 0.098 / 0.107 / 0.108 / 0.109 (min /
    median / max 0.098 / 0.108 / 0.109); one threshold for the 108 together,
    p >= 0.107, asks 30 / 12 / 25 / 41 where the rules asked 27 / 16 / 26 /
    39 and avoids 9.4
    share of its bookings each of the 24 restaurants asks at p >= 0.10: 8.5-
    26.3 % (median 20.3); at 0.15: 1.5-10.3 % (5.6); at 0.20: 0-3.8 % (2.1)

So the model's lead over the rule overall (1.80 x) comes from where it asks:
the rule spends 224 deposits on every booking of one restaurant (5.3 avoided
per 100, about random) and none at 19 of the 24. Where a rule on large
parties leaves a choice, large parties are good ones to ask in this world
(7.7 avoided per 100 against 4.5 for smaller parties) and the model adds
14 %, within the noise. The thresholds matching the four rules lie close
together because the four ask similar shares (12-22 %), and one threshold
serves them as well as four (9.4 against 9.5 avoided); but the share a
threshold asks differs several-fold between restaurants, so a deposit rate
is set by a restaurant's own quantile, not by a default threshold.

The booking path, at restaurant 23 (London), threshold 0.15, 300 requests
each (p50 / p99 ms; the 2 cores shared with other work, so the p99s are
noisy):

    with_no_show_risk, champion               2.37 / 5.55
    with_no_show_risk, baseline               1.25 / 3.45
    booking, no threshold                     1.58 / 6.88
    booking, threshold (scored, then booked)  4.35 / 10.70   2.76 x the p50
                                                             without one
    of which book() alone                     2.14 (1.57 without)

Over nine runs of this part the ratio was 2.2-3.0 x and the threshold added
2.6-3.8 ms to the p50 (the absolute figures moved by up to a factor of two
between runs). Of the added time, about 0.6 ms (0.4-1.0 in every run) is book()
itself running slower right after a scoring, not the deposits (5 of the 300
were asked one by risk, 2 bookings refused); the rest is the scoring: the
feature queries (about 1.2 ms, the baseline's cost) and the model's pass
(about 1.1 ms more).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and ``benchmarks/models.py``
# would shadow the ``models`` package; the repository root goes there.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from datetime import time as clock_time  # noqa: E402
from typing import TypedDict  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from scipy.special import expit, logit  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from booking_core.availability import get_day_book, get_floor  # noqa: E402
from booking_core.deposits import DepositReason  # noqa: E402
from booking_core.domain import DINER_SPACING_MINUTES, HOLDING_STATES  # noqa: E402
from booking_core.errors import BookingError  # noqa: E402
from booking_core.ledger import Ledger  # noqa: E402
from booking_core.profile import update_profile  # noqa: E402
from booking_core.reservations import BookingRequest, Reservation, book  # noqa: E402
from booking_core.schema import metadata as schema_metadata  # noqa: E402
from booking_core.schema import reservations  # noqa: E402
from booking_core.slots import service_slots  # noqa: E402
from booking_core.world.generate import generate_world  # noqa: E402
from booking_core.world.people import DEPOSIT_NO_SHOW_LOGIT  # noqa: E402
from models.attendance import AttendanceRisk  # noqa: E402
from models.extract import LedgerSnapshot  # noqa: E402
from models.features import attendance_frame, labelled  # noqa: E402
from serving.attendance import AttendanceScorer  # noqa: E402
from serving.champions import ATTENDANCE, Champions, Loaded  # noqa: E402
from serving.risk_deposits import BASELINE_LABEL, with_no_show_risk  # noqa: E402

RESULTS = _HERE / "results" / "risk_deposits.json"
PLOT = _HERE / "results" / "risk_deposits.png"
TODAY = date(2026, 6, 1)
SEED = 7
# Where the demo world is kept between runs (``risk_thresholds.py`` reads the same file).
WORLD_FILE = Path(tempfile.gettempdir()) / "servicesphere-risk-deposits" / "demo.db"
HOLDOUT_DAYS = 14
THRESHOLDS = (0.10, 0.15, 0.20, 0.30)
BOOTSTRAP = 2000
FEW_PRIOR = 3  # "few prior bookings": fewer than this many
SIZE_RULE = "party-size rule (the world's)"
MODEL = "model, top K"
MODEL_PER_RESTAURANT = "model, top K per restaurant"
ORACLE = "oracle, top K"
ORACLE_PER_RESTAURANT = "oracle, top K per restaurant"
# The booking path: per booking request of an existing diner at one restaurant.
PATH_REPETITIONS = 300  # timed per case
PATH_WARM_UP = 30  # untimed, before each case's first timed call
PATH_BLOCKS = 10  # the bookings with and without a threshold alternate in blocks
PATH_BLOCK_WARM_UP = 3  # untimed bookings after each switch of the threshold
PATH_THRESHOLD = 0.15
PATH_PARTY = 2
PATH_NOW = datetime.combine(TODAY, clock_time(12), UTC)  # the world's today, noon UTC
PATH_DAYS = 27  # the days after today booked into (the world's bookings reach 06-29)


class PolicyRow(TypedDict):
    policy: str
    threshold: float | None
    deposits: int
    share_asked: float
    avoided: float
    avoided_per_100: float
    vs_size_rule: float
    vs_oracle: float
    observed_no_show_share: float
    new_diner_share: float
    few_prior_share: float


class RestaurantRow(TypedDict):
    """One restaurant whose party-size rule asks some of its bookings, not all."""

    restaurant_id: int
    bookings: int
    asked: int  # by its rule: K_r, what the model and the oracle ask there too
    share_asked: float
    threshold: float  # the model's probability at which it asks its K_r
    avoided_size_rule: float
    avoided_model: float
    avoided_oracle: float
    model_vs_size_rule: float
    model_vs_oracle: float
    asked_at_common_threshold: int  # by the one threshold that asks all K_r together


class ShareSpread(TypedDict):
    """The share of its bookings each restaurant would ask at one threshold."""

    threshold: float
    min: float
    median: float
    max: float


class Results(TypedDict):
    holdout_rows: int
    holdout_from: str
    holdout_to: str
    train_rows: int
    k_deposits: int
    observed_no_shows: int
    expected_no_shows_without_deposits: float
    avoided_if_all_asked: float
    avoided_size_rule: float
    avoided_model: float
    avoided_model_per_restaurant: float
    avoided_oracle_per_restaurant: float
    avoided_oracle: float
    avoided_random: float
    model_vs_size_rule_ratio: float
    model_vs_size_rule_ratio_ci95: list[float]
    model_vs_oracle_ratio: float
    size_rule_vs_oracle_ratio: float
    model_per_restaurant_vs_size_rule_ratio: float
    model_topk_overlap_with_size_rule: int
    partial_restaurants: int
    partial_bookings: int
    partial_k_deposits: int
    avoided_size_rule_partial: float
    avoided_model_partial: float
    avoided_oracle_partial: float
    avoided_random_partial: float
    model_vs_size_rule_ratio_partial_restaurants: float
    model_vs_size_rule_ratio_partial_restaurants_ci95: list[float]
    model_vs_oracle_ratio_partial_restaurants: float
    size_rule_vs_oracle_ratio_partial_restaurants: float
    partial_threshold_min: float
    partial_threshold_median: float
    partial_threshold_max: float
    partial_common_threshold: float
    avoided_model_common_threshold_partial: float
    partial_restaurant_rows: list[RestaurantRow]
    share_asked_by_restaurant: list[ShareSpread]  # every restaurant, at each of THRESHOLDS
    model_deposit_logit_effect: float
    model_auc: float
    oracle_auc: float
    policies: list[PolicyRow]
    thresholds: list[PolicyRow]
    fit_s: float
    path_restaurant_id: int
    path_threshold: float
    path_repetitions: int
    score_champion_p50_ms: float
    score_champion_p99_ms: float
    score_baseline_p50_ms: float
    score_baseline_p99_ms: float
    booking_p50_ms: float
    booking_p99_ms: float
    booking_with_risk_p50_ms: float
    booking_with_risk_p99_ms: float
    booking_with_risk_ratio: float
    book_call_p50_ms: float
    book_call_with_risk_p50_ms: float
    path_bookings_refused: int
    path_risk_deposits_asked: int
    measured_at: str
    machine: dict[str, str | int | None]
    duration_s: float


@dataclass
class Holdout:
    """Per holdout booking: what the policies rank and what a deposit avoids."""

    frame: pl.DataFrame  # the attendance rows joined to the truth
    model_p0: np.ndarray  # the model's no-show probability with no deposit asked
    model_p: np.ndarray  # ... with the deposit the booking had (for its AUC)
    p0: np.ndarray  # true no-show probability with no deposit asked
    avoided: np.ndarray  # true expected no-shows a deposit avoids
    had_deposit: np.ndarray  # the party-size rule asked one
    no_show: np.ndarray  # observed
    prior: np.ndarray  # the diner's prior bookings at booking time (0 without a diner)
    restaurant: np.ndarray
    train_rows: int
    fit_s: float
    model: AttendanceRisk


def stale(path: Path) -> str | None:
    """What the world kept at ``path`` lacks of the ledger's schema (a
    migration changed since it was built), if anything; read without writing."""
    engine = sa.create_engine(f"sqlite:///file:{path}?mode=ro&immutable=1&uri=true")
    try:
        inspector = sa.inspect(engine)
        kept = set(inspector.get_table_names())
        for table in schema_metadata.sorted_tables:
            if table.name not in kept:
                return f"no table {table.name}"
            missing = set(table.c.keys()) - {c["name"] for c in inspector.get_columns(table.name)}
            if missing:
                return f"{table.name} lacks {', '.join(sorted(missing))}"
    finally:
        engine.dispose()
    return None


def world(path: Path, console: Console) -> str:
    """The demo world's SQLite URL, built at ``path`` unless already there
    with the ledger's current schema."""
    if path.exists():
        why = stale(path)
        if why is None:
            console.print(f"demo world: reusing {path}")
            return f"sqlite:///{path}"
        console.print(f"demo world: {path} is out of date ({why})")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    for leftover in path.parent.glob(partial.name + "*"):
        leftover.unlink()
    console.print(f"demo world: building it at {path} (seed {SEED}, today {TODAY}; 1-2 min) ...")
    began = time.perf_counter()
    ledger = Ledger.open(f"sqlite:///{partial}")
    summary = generate_world(ledger, size="demo", seed=SEED, today=TODAY)
    ledger.dispose()  # the last connection closed folds the write-ahead log into the file
    for leftover in path.parent.glob(partial.name + "-*"):
        leftover.unlink()
    partial.replace(path)
    console.print(f"  {summary.reservations:,} reservations in {time.perf_counter() - began:.0f} s")
    return f"sqlite:///{path}"


def true_effect(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(p0, avoided) per row from the generator's truth; see the module docstring."""
    lead = frame["lead_hours"].to_numpy()
    late_share = np.where(lead <= 24, 1.0, 1.0 - (1.0 - 24.0 / np.maximum(lead, 24.0)) ** 2)
    p_cancel = np.clip(frame["p_late_cancel"].to_numpy() / late_share, 0.0, 1.0 - 1e-9)
    reach = 1.0 - p_cancel
    p_ns = np.clip(frame["p_no_show"].to_numpy() / reach, 1e-12, 1.0 - 1e-12)
    had = frame["deposit_required"].to_numpy().astype(float)
    z0 = logit(p_ns) - DEPOSIT_NO_SHOW_LOGIT * had
    p0_given_reach = expit(z0)
    avoided = reach * (p0_given_reach - expit(z0 + DEPOSIT_NO_SHOW_LOGIT))
    return reach * p0_given_reach, avoided


def holdout(url: str, console: Console) -> Holdout:
    console.print("reading the ledger and building the attendance frame ...")
    with LedgerSnapshot.from_url(url) as snapshot:
        frames = snapshot.frames()
        truth = snapshot.truth()
    start = datetime.combine(TODAY - timedelta(days=HOLDOUT_DAYS), datetime.min.time(), UTC)
    end = datetime.combine(TODAY, datetime.min.time(), UTC)
    attendance = labelled(attendance_frame(frames, "booking"))
    train = attendance.filter(pl.col("start_at") < start)
    rows = attendance.filter((pl.col("start_at") >= start) & (pl.col("start_at") < end))
    rows = rows.join(truth, on="reservation_id").sort("reservation_id")
    console.print(
        f"training AttendanceRisk(no_show) on {train.height:,} bookings "
        f"(holdout {rows.height:,}) ..."
    )
    began = time.perf_counter()
    model = AttendanceRisk(target="no_show").fit(train)
    fit_s = time.perf_counter() - began
    console.print(f"  fitted in {fit_s:.0f} s; scoring the holdout with and without deposits")
    features = rows.drop(truth.columns[1:])
    model_p = model.predict_proba(features)[:, 1]
    model_p0 = model.predict_proba(features.with_columns(pl.lit(False).alias("deposit_required")))[
        :, 1
    ]
    p0, avoided = true_effect(rows)
    return Holdout(
        frame=rows,
        model_p0=model_p0,
        model_p=model_p,
        p0=p0,
        avoided=avoided,
        had_deposit=rows["deposit_required"].to_numpy().astype(bool),
        no_show=rows["no_show"].to_numpy().astype(bool),
        prior=rows["diner_prior_bookings"].fill_null(0).to_numpy(),
        restaurant=rows["restaurant_id"].to_numpy(),
        train_rows=train.height,
        fit_s=fit_s,
        model=model,
    )


def top(score: np.ndarray, k: int) -> np.ndarray:
    """Mask of the ``k`` highest scores (ties by row order)."""
    mask = np.zeros(len(score), dtype=bool)
    mask[np.argsort(-score, kind="stable")[:k]] = True
    return mask


def top_per_restaurant(h: Holdout, score: np.ndarray) -> np.ndarray:
    """Within each restaurant, the top by ``score``, as many as its rule asked."""
    mask = np.zeros(len(score), dtype=bool)
    for rid in np.unique(h.restaurant):
        rows = np.flatnonzero(h.restaurant == rid)
        k = int(h.had_deposit[rows].sum())
        if k:
            mask[rows[np.argsort(-score[rows], kind="stable")[:k]]] = True
    return mask


def bootstrap_ratio(on_a: np.ndarray, on_b: np.ndarray, rng: np.random.Generator) -> list[float]:
    """95 % interval of sum(on_a) / sum(on_b) over rows resampled with replacement."""
    n = len(on_a)
    ratios = []
    for _ in range(BOOTSTRAP // 100):
        idx = rng.integers(0, n, size=(100, n))
        ratios.append(on_a[idx].sum(axis=1) / on_b[idx].sum(axis=1))
    low, high = np.percentile(np.concatenate(ratios), [2.5, 97.5])
    return [float(low), float(high)]


@dataclass
class Partial:
    """The restaurants whose rule asks some of their bookings but not all,
    where a policy has a choice to make at the rule's count."""

    rows: list[RestaurantRow]
    mask: np.ndarray  # holdout rows at those restaurants
    model: np.ndarray  # each restaurant's top K_r by the model's probability
    oracle: np.ndarray  # ... by the true avoided no-shows
    common: np.ndarray  # the top K (their K_r together) by the model over all of them
    common_threshold: float


def partial_restaurants(h: Holdout) -> Partial:
    n = len(h.avoided)
    mask, model, oracle = (np.zeros(n, dtype=bool) for _ in range(3))
    chosen: list[tuple[int, np.ndarray, int]] = []
    for rid in np.unique(h.restaurant):
        rows = np.flatnonzero(h.restaurant == rid)
        k = int(h.had_deposit[rows].sum())
        if 0 < k < len(rows):
            chosen.append((int(rid), rows, k))
            mask[rows] = True
            model[rows[np.argsort(-h.model_p0[rows], kind="stable")[:k]]] = True
            oracle[rows[np.argsort(-h.avoided[rows], kind="stable")[:k]]] = True
    inside = np.flatnonzero(mask)
    k_all = int(h.had_deposit[inside].sum())
    common = np.zeros(n, dtype=bool)
    common[inside[np.argsort(-h.model_p0[inside], kind="stable")[:k_all]]] = True
    common_threshold = float(h.model_p0[common].min())
    out: list[RestaurantRow] = []
    for rid, rows, k in chosen:
        rule = float(h.avoided[rows][h.had_deposit[rows]].sum())
        mine = float(h.avoided[rows][model[rows]].sum())
        best = float(h.avoided[rows][oracle[rows]].sum())
        out.append(
            {
                "restaurant_id": rid,
                "bookings": len(rows),
                "asked": k,
                "share_asked": k / len(rows),
                "threshold": float(h.model_p0[rows][model[rows]].min()),
                "avoided_size_rule": rule,
                "avoided_model": mine,
                "avoided_oracle": best,
                "model_vs_size_rule": mine / rule,
                "model_vs_oracle": mine / best,
                "asked_at_common_threshold": int((h.model_p0[rows] >= common_threshold).sum()),
            }
        )
    return Partial(out, mask, model, oracle, common, common_threshold)


def share_spread(h: Holdout, threshold: float) -> ShareSpread:
    shares = [
        float((h.model_p0[h.restaurant == rid] >= threshold).mean())
        for rid in np.unique(h.restaurant)
    ]
    return {
        "threshold": threshold,
        "min": min(shares),
        "median": float(np.median(shares)),
        "max": max(shares),
    }


def evaluate(h: Holdout) -> Results:
    n = len(h.avoided)
    k = int(h.had_deposit.sum())
    oracle_curve = np.concatenate([[0.0], np.cumsum(np.sort(h.avoided)[::-1])])
    size_avoided = float(h.avoided[h.had_deposit].sum())
    new = h.prior == 0
    few = h.prior < FEW_PRIOR
    observed = int(h.no_show.sum())

    def row(name: str, mask: np.ndarray, threshold: float | None = None) -> PolicyRow:
        asked = int(mask.sum())
        avoided = float(h.avoided[mask].sum())
        return {
            "policy": name,
            "threshold": threshold,
            "deposits": asked,
            "share_asked": asked / n,
            "avoided": avoided,
            "avoided_per_100": 100 * avoided / asked if asked else 0.0,
            "vs_size_rule": avoided / size_avoided,
            "vs_oracle": avoided / oracle_curve[asked] if asked else 0.0,
            "observed_no_show_share": float(h.no_show[mask].sum()) / observed,
            "new_diner_share": float(new[mask].mean()) if asked else 0.0,
            "few_prior_share": float(few[mask].mean()) if asked else 0.0,
        }

    model_mask = top(h.model_p0, k)
    per_restaurant = top_per_restaurant(h, h.model_p0)
    oracle_mask = top(h.avoided, k)
    random_avoided = k * float(h.avoided.mean())
    random: PolicyRow = {
        "policy": "random (expected)",
        "threshold": None,
        "deposits": k,
        "share_asked": k / n,
        "avoided": random_avoided,
        "avoided_per_100": 100 * float(h.avoided.mean()),
        "vs_size_rule": random_avoided / size_avoided,
        "vs_oracle": random_avoided / oracle_curve[k],
        "observed_no_show_share": k / n,
        "new_diner_share": float(new.mean()),
        "few_prior_share": float(few.mean()),
    }
    policies = [
        row(SIZE_RULE, h.had_deposit),
        row(MODEL, model_mask),
        row(MODEL_PER_RESTAURANT, per_restaurant),
        row(ORACLE, oracle_mask),
        row(ORACLE_PER_RESTAURANT, top_per_restaurant(h, h.avoided)),
        random,
    ]
    thresholds = [row(f"model p >= {t:.2f}", h.model_p0 >= t, t) for t in THRESHOLDS]

    # How much the holdout's make-up moves model / rule (the choices held fixed).
    rng = np.random.default_rng(SEED)
    on_rule = h.avoided * h.had_deposit
    interval = bootstrap_ratio(h.avoided * model_mask, on_rule, rng)
    part = partial_restaurants(h)
    inside = part.mask
    rule_partial = float(on_rule[inside].sum())
    model_partial = float(h.avoided[part.model].sum())
    oracle_partial = float(h.avoided[part.oracle].sum())
    thresholds_needed = [r["threshold"] for r in part.rows]

    by_name = {p["policy"]: p for p in policies}
    model_row = by_name[MODEL]
    return {
        "holdout_rows": n,
        "holdout_from": str(TODAY - timedelta(days=HOLDOUT_DAYS)),
        "holdout_to": str(TODAY - timedelta(days=1)),
        "train_rows": h.train_rows,
        "k_deposits": k,
        "observed_no_shows": observed,
        "expected_no_shows_without_deposits": float(h.p0.sum()),
        "avoided_if_all_asked": float(h.avoided.sum()),
        "avoided_size_rule": size_avoided,
        "avoided_model": model_row["avoided"],
        "avoided_model_per_restaurant": by_name[MODEL_PER_RESTAURANT]["avoided"],
        "avoided_oracle_per_restaurant": by_name[ORACLE_PER_RESTAURANT]["avoided"],
        "avoided_oracle": float(oracle_curve[k]),
        "avoided_random": random_avoided,
        "model_vs_size_rule_ratio": model_row["vs_size_rule"],
        "model_vs_size_rule_ratio_ci95": interval,
        "model_vs_oracle_ratio": model_row["vs_oracle"],
        "size_rule_vs_oracle_ratio": size_avoided / float(oracle_curve[k]),
        "model_per_restaurant_vs_size_rule_ratio": by_name[MODEL_PER_RESTAURANT]["vs_size_rule"],
        "model_topk_overlap_with_size_rule": int((model_mask & h.had_deposit).sum()),
        "partial_restaurants": len(part.rows),
        "partial_bookings": int(inside.sum()),
        "partial_k_deposits": int(h.had_deposit[inside].sum()),
        "avoided_size_rule_partial": rule_partial,
        "avoided_model_partial": model_partial,
        "avoided_oracle_partial": oracle_partial,
        "avoided_random_partial": float(
            sum(
                r["asked"] * h.avoided[h.restaurant == r["restaurant_id"]].mean() for r in part.rows
            )
        ),
        "model_vs_size_rule_ratio_partial_restaurants": model_partial / rule_partial,
        "model_vs_size_rule_ratio_partial_restaurants_ci95": bootstrap_ratio(
            (h.avoided * part.model)[inside], on_rule[inside], rng
        ),
        "model_vs_oracle_ratio_partial_restaurants": model_partial / oracle_partial,
        "size_rule_vs_oracle_ratio_partial_restaurants": rule_partial / oracle_partial,
        "partial_threshold_min": float(np.min(thresholds_needed)),
        "partial_threshold_median": float(np.median(thresholds_needed)),
        "partial_threshold_max": float(np.max(thresholds_needed)),
        "partial_common_threshold": part.common_threshold,
        "avoided_model_common_threshold_partial": float(h.avoided[part.common].sum()),
        "partial_restaurant_rows": part.rows,
        "share_asked_by_restaurant": [share_spread(h, t) for t in THRESHOLDS],
        "model_deposit_logit_effect": float(
            np.mean(logit(h.model_p[h.had_deposit]) - logit(h.model_p0[h.had_deposit]))
        ),
        "model_auc": float(roc_auc_score(h.no_show, h.model_p)),
        "oracle_auc": float(roc_auc_score(h.no_show, h.frame["p_no_show"].to_numpy())),
        "policies": policies,
        "thresholds": thresholds,
        "fit_s": h.fit_s,
        "path_restaurant_id": 0,
        "path_threshold": PATH_THRESHOLD,
        "path_repetitions": PATH_REPETITIONS,
        "score_champion_p50_ms": 0.0,
        "score_champion_p99_ms": 0.0,
        "score_baseline_p50_ms": 0.0,
        "score_baseline_p99_ms": 0.0,
        "booking_p50_ms": 0.0,
        "booking_p99_ms": 0.0,
        "booking_with_risk_p50_ms": 0.0,
        "booking_with_risk_p99_ms": 0.0,
        "booking_with_risk_ratio": 0.0,
        "book_call_p50_ms": 0.0,
        "book_call_with_risk_p50_ms": 0.0,
        "path_bookings_refused": 0,
        "path_risk_deposits_asked": 0,
        "measured_at": "",
        "machine": {},
        "duration_s": 0.0,
    }


class _Clock:
    """World time for the path's ledger, one second on at every reading: the
    restaurant's no-show rate, cached for a minute of ledger time, is then
    counted again every 60 requests, as in a busy worker."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


class _Held(Champions):
    """The serving layer's champions with the attendance model given held
    (``None``: none, so the baseline answers)."""

    def __init__(self, loaded: Loaded | None) -> None:
        super().__init__(None, names=(ATTENDANCE,))
        self.held = loaded

    def get(self, name: str) -> Loaded | None:
        return self.held if name == ATTENDANCE else None


@dataclass
class PathCost:
    """Milliseconds per request on the booking path (see ``booking_path``)."""

    restaurant_id: int
    score_champion: list[float]
    score_baseline: list[float]
    booking: list[float]
    booking_with_risk: list[float]
    book_only: list[float]  # the ``book`` call alone, without a threshold
    book_only_with_risk: list[float]  # ... with one (a deposit asked by risk now and then)
    refused: int
    risk_deposits: int


Slot = tuple[date, str, datetime]  # local date, local time, start (UTC)


def _path_days() -> list[date]:
    return [TODAY + timedelta(days=d) for d in range(1, PATH_DAYS + 1)]


def _slots(ledger: Ledger, restaurant_id: int) -> list[Slot]:
    """Every time the restaurant takes a party of ``PATH_PARTY`` on the
    ``PATH_DAYS`` days after today, in a seeded random order."""
    with ledger.read() as conn:
        floor = get_floor(ledger, conn, restaurant_id)
    slots = [
        (day, s.local_time, s.start_at)
        for day in _path_days()
        for s in service_slots(floor, day, PATH_PARTY)
        if s.local_minute < 1440  # after midnight is the next calendar day's clock
    ]
    order = np.random.default_rng(SEED).permutation(len(slots))
    return [slots[i] for i in order]


def _diners(ledger: Ledger, now: datetime) -> tuple[list[int], dict[int, list[datetime]]]:
    """Diners with at least ``FEW_PRIOR`` bookings come and gone by ``now``,
    and when each holds a table from ``now`` on (a diner may not hold two
    bookings within ``DINER_SPACING_MINUTES``)."""
    r = reservations.c
    with ledger.read() as conn:
        diners = list(
            conn.execute(
                sa.select(r.diner_id)
                .where(
                    r.diner_id.is_not(None),
                    r.channel != "walk_in",
                    sa.or_(r.no_show_at <= now, r.completed_at <= now),
                )
                .group_by(r.diner_id)
                .having(sa.func.count() >= FEW_PRIOR)
                .order_by(r.diner_id)
            ).scalars()
        )
        held: dict[int, list[datetime]] = {d: [] for d in diners}
        for diner_id, start in conn.execute(
            sa.select(r.diner_id, r.start_at).where(
                r.diner_id.in_(diners),
                r.state.in_([s.value for s in HOLDING_STATES]),
                r.start_at > now - timedelta(minutes=DINER_SPACING_MINUTES),
            )
        ):
            held[diner_id].append(start)
    return diners, held


class _Requests:
    """Booking requests at one restaurant, each by a diner free at its time."""

    def __init__(self, ledger: Ledger, restaurant_id: int, now: datetime) -> None:
        self.restaurant_id = restaurant_id
        self.slots = _slots(ledger, restaurant_id)
        self.diners, self.held = _diners(ledger, now)
        self.next_slot = 0
        self.next_diner = 0

    def __call__(self) -> BookingRequest:
        day, at, start = self.slots[self.next_slot % len(self.slots)]
        self.next_slot += 1
        spacing = timedelta(minutes=DINER_SPACING_MINUTES)
        for _ in range(len(self.diners)):
            diner = self.diners[self.next_diner % len(self.diners)]
            self.next_diner += 1
            if all(abs(start - other) >= spacing for other in self.held[diner]):
                self.held[diner].append(start)
                return BookingRequest(
                    restaurant_id=self.restaurant_id,
                    local_date=day,
                    local_time=at,
                    party_size=PATH_PARTY,
                    diner_id=diner,
                )
        raise RuntimeError(f"no diner is free at {start:%Y-%m-%d %H:%M} UTC")


def _set_threshold(ledger: Ledger, restaurant_id: int, threshold: float | None) -> None:
    """As a manager would, then the floor and the days booked read again, as
    a worker would have them soon after: the scoring reads the floor the
    worker has cached (a booking refreshes it), and the new floor's version
    sends every day book to be read again at its next booking."""
    update_profile(ledger, restaurant_id, {"deposit_risk_threshold": threshold})
    with ledger.read() as conn:
        floor = get_floor(ledger, conn, restaurant_id)
        for day in _path_days():
            get_day_book(ledger, conn, floor, day)


def booking_path(
    cache: Path, restaurant_id: int, model: AttendanceRisk, console: Console
) -> PathCost:
    """The cost of the risk on the booking path, on a copy of the world's
    ledger, its clock at the world's today (``_Clock``): ``with_no_show_risk``
    with the trained model held as the serving layer holds a champion, and
    with the baseline; and the route's booking (``with_no_show_risk``, then
    ``book``) without a threshold and with ``PATH_THRESHOLD``, alternating in
    blocks so that a drift in the machine or the ledger falls on both."""
    with tempfile.TemporaryDirectory(prefix="risk-deposits-path-") as folder:
        copy = Path(folder) / "ledger.db"
        console.print(f"booking path: copying the world's ledger to {copy} ...")
        shutil.copyfile(cache, copy)
        ledger = Ledger.open(f"sqlite:///{copy}")
        try:
            return _measure_path(ledger, restaurant_id, model, console)
        finally:
            ledger.dispose()


def _measure_path(
    ledger: Ledger, restaurant_id: int, model: AttendanceRisk, console: Console
) -> PathCost:
    clock = _Clock(PATH_NOW)
    ledger.clock = clock
    scorer = AttendanceScorer(ledger)
    loaded = Loaded(ATTENDANCE, "benchmark", None, model, PATH_NOW)
    champion, baseline = _Held(loaded), _Held(None)
    requests = _Requests(ledger, restaurant_id, PATH_NOW)
    console.print(
        f"  restaurant {restaurant_id}: {len(requests.slots):,} times in {PATH_DAYS} days, "
        f"{len(requests.diners):,} diners with {FEW_PRIOR}+ bookings behind them"
    )

    def score(champions: Champions, request: BookingRequest, label: str) -> float:
        began = time.perf_counter()
        scored = with_no_show_risk(ledger, scorer, champions, request, clock())
        spent = (time.perf_counter() - began) * 1000
        if scored.no_show_risk is None or scored.no_show_risk.model != label:
            raise RuntimeError(f"scored by {scored.no_show_risk}, not {label}")
        return spent

    _set_threshold(ledger, restaurant_id, PATH_THRESHOLD)
    timed: dict[str, list[float]] = {"champion": [], "baseline": []}
    for i in range(PATH_WARM_UP + PATH_REPETITIONS):
        request = requests()  # not booked: only its slot and diner matter here
        pair = [("champion", champion, loaded.label), ("baseline", baseline, BASELINE_LABEL)]
        for name, champions, label in pair if i % 2 else pair[::-1]:
            spent = score(champions, request, label)
            if i >= PATH_WARM_UP:
                timed[name].append(spent)

    booked: dict[float | None, list[float]] = {None: [], PATH_THRESHOLD: []}
    in_book: dict[float | None, list[float]] = {None: [], PATH_THRESHOLD: []}
    refused = risk_deposits = 0

    def route(threshold: float | None) -> tuple[float, float, Reservation] | None:
        """The booking route's work: scored (when the restaurant asks by risk),
        then booked. Milliseconds in all and in ``book``; None when refused."""
        nonlocal refused
        request = requests()
        began = time.perf_counter()
        now = clock()
        request = with_no_show_risk(ledger, scorer, champion, request, now)
        scored = time.perf_counter()
        try:
            reservation = book(ledger, request, now=now)
        except BookingError:
            refused += 1
            return None
        ended = time.perf_counter()
        if (threshold is not None) != (request.no_show_risk is not None):
            raise RuntimeError(f"threshold {threshold}, scored {request.no_show_risk}")
        return (ended - began) * 1000, (ended - scored) * 1000, reservation

    _set_threshold(ledger, restaurant_id, None)
    for _ in range(PATH_WARM_UP):
        route(None)
    per_block = PATH_REPETITIONS // PATH_BLOCKS
    for block in range(PATH_BLOCKS):
        # Without, with, with, without, ...: a drift (the days filling up)
        # falls on both alike.
        for threshold in (None, PATH_THRESHOLD)[:: 1 if block % 2 == 0 else -1]:
            _set_threshold(ledger, restaurant_id, threshold)
            for _ in range(PATH_BLOCK_WARM_UP):
                route(threshold)
            goal = len(booked[threshold]) + per_block
            while len(booked[threshold]) < goal:
                if refused > PATH_REPETITIONS:
                    raise RuntimeError(f"{refused} bookings refused: the restaurant is full")
                done = route(threshold)
                if done is not None:
                    booked[threshold].append(done[0])
                    in_book[threshold].append(done[1])
                    risk_deposits += done[2].deposit_reason is DepositReason.RISK
    return PathCost(
        restaurant_id=restaurant_id,
        score_champion=timed["champion"],
        score_baseline=timed["baseline"],
        booking=booked[None],
        booking_with_risk=booked[PATH_THRESHOLD],
        book_only=in_book[None],
        book_only_with_risk=in_book[PATH_THRESHOLD],
        refused=refused,
        risk_deposits=risk_deposits,
    )


def plot(h: Holdout, r: Results, path: Path) -> None:
    n = len(h.avoided)
    share = np.arange(n + 1) / n * 100
    model_curve = np.concatenate(
        [[0.0], np.cumsum(h.avoided[np.argsort(-h.model_p0, kind="stable")])]
    )
    oracle_curve = np.concatenate([[0.0], np.cumsum(np.sort(h.avoided)[::-1])])
    total = float(h.avoided.sum())
    by_name = {p["policy"]: p for p in r["policies"]}
    rule, per_restaurant = by_name[SIZE_RULE], by_name[MODEL_PER_RESTAURANT]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    zoom = max(t["share_asked"] for t in r["thresholds"]) * 100 * 1.15
    for ax, right in zip(axes, (100.0, zoom), strict=True):
        ax.plot(share, oracle_curve, color="tab:green", label="oracle (true avoided, best first)")
        ax.plot(
            share, model_curve, color="tab:blue", label="model risk (no deposit asked), top first"
        )
        ax.plot([0, 100], [0, total], color="grey", linestyle="--", label="random")
        ax.scatter(
            [rule["share_asked"] * 100],
            [rule["avoided"]],
            color="tab:red",
            marker="D",
            s=60,
            zorder=5,
            label="party-size rule (the world's)",
        )
        ax.scatter(
            [per_restaurant["share_asked"] * 100],
            [per_restaurant["avoided"]],
            color="tab:purple",
            marker="s",
            s=45,
            zorder=5,
            label="model, same count per restaurant",
        )
        ax.axvline(rule["share_asked"] * 100, color="tab:red", linewidth=0.8, linestyle=":")
        ax.scatter(
            [t["share_asked"] * 100 for t in r["thresholds"]],
            [t["avoided"] for t in r["thresholds"]],
            color="tab:blue",
            s=22,
            zorder=6,
            label="model p >= a threshold",
        )
        ax.set_xlim(0, right)
        top_y = oracle_curve[min(n, int(np.ceil(right / 100 * n)))] * 1.08
        ax.set_ylim(0, top_y)
        ax.set_xlabel("share of holdout bookings asked a deposit (%)")
        ax.set_ylabel("expected no-shows avoided")
        ax.grid(alpha=0.3)
    # On the zoomed panel, the thresholds by name; those near the origin get
    # their label below the random line, with a tick to their point.
    crowded = 0
    for t in sorted(r["thresholds"], key=lambda t: t["share_asked"]):
        x, y = t["share_asked"] * 100, t["avoided"]
        text = f"p >= {t['threshold']:.2f}: {t['deposits']:,} asked"
        if x > 0.2 * zoom:
            axes[1].annotate(text, (x, y), textcoords="offset points", xytext=(7, -12), fontsize=8)
        else:
            crowded += 1
            axes[1].annotate(
                text,
                (x, y),
                xytext=(0.35 * zoom, axes[1].get_ylim()[1] * (0.05 * crowded - 0.02)),
                fontsize=8,
                arrowprops={"arrowstyle": "-", "color": "tab:blue", "linewidth": 0.6},
            )
    axes[0].set_title("All bookings")
    axes[1].set_title(f"The first {zoom:.0f} % (K = {r['k_deposits']} at the dotted line)")
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle(
        f"Risk-based deposits on the demo world's last {HOLDOUT_DAYS} days "
        f"({n:,} bookings, {r['observed_no_shows']} no-shows observed)"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _table(r: Results) -> Table:
    table = Table(
        title=(
            f"Risk-based deposits: {r['holdout_rows']:,} holdout bookings, "
            f"K = {r['k_deposits']} deposits"
        )
    )
    table.add_column("policy")
    for col in (
        "asked",
        "share",
        "avoided",
        "/100 asked",
        "vs rule",
        "vs oracle",
        "obs. no-shows",
        "new / <3 prior",
    ):
        table.add_column(col, justify="right")
    for i, p in enumerate([*r["policies"], *r["thresholds"]]):
        table.add_row(
            p["policy"],
            f"{p['deposits']:,}",
            f"{p['share_asked']:.1%}",
            f"{p['avoided']:.1f}",
            f"{p['avoided_per_100']:.1f}",
            f"{p['vs_size_rule']:.2f}",
            f"{p['vs_oracle']:.2f}",
            f"{p['observed_no_show_share']:.1%}",
            f"{p['new_diner_share']:.1%} / {p['few_prior_share']:.1%}",
            end_section=i == len(r["policies"]) - 1,
        )
    return table


def _partial_table(r: Results) -> Table:
    table = Table(
        title=(
            f"Restaurants whose rule asks some bookings, not all: {r['partial_restaurants']}, "
            f"{r['partial_bookings']:,} bookings, K = {r['partial_k_deposits']}"
        )
    )
    table.add_column("restaurant")
    for col in (
        "bookings",
        "K_r asked",
        "share",
        "model p for K_r",
        "rule",
        "model",
        "oracle",
        "model / rule",
        "model / oracle",
        "at one threshold",
    ):
        table.add_column(col, justify="right")
    for row in r["partial_restaurant_rows"]:
        table.add_row(
            str(row["restaurant_id"]),
            f"{row['bookings']:,}",
            str(row["asked"]),
            f"{row['share_asked']:.1%}",
            f">= {row['threshold']:.3f}",
            f"{row['avoided_size_rule']:.1f}",
            f"{row['avoided_model']:.1f}",
            f"{row['avoided_oracle']:.1f}",
            f"{row['model_vs_size_rule']:.2f}",
            f"{row['model_vs_oracle']:.2f}",
            str(row["asked_at_common_threshold"]),
        )
    low, high = r["model_vs_size_rule_ratio_partial_restaurants_ci95"]
    table.add_row(
        "together",
        f"{r['partial_bookings']:,}",
        str(r["partial_k_deposits"]),
        f"{r['partial_k_deposits'] / r['partial_bookings']:.1%}",
        f"{r['partial_threshold_min']:.3f}-{r['partial_threshold_max']:.3f}",
        f"{r['avoided_size_rule_partial']:.1f}",
        f"{r['avoided_model_partial']:.1f}",
        f"{r['avoided_oracle_partial']:.1f}",
        f"{r['model_vs_size_rule_ratio_partial_restaurants']:.2f} ({low:.2f}-{high:.2f})",
        f"{r['model_vs_oracle_ratio_partial_restaurants']:.2f}",
        f"p >= {r['partial_common_threshold']:.3f}",
        end_section=True,
    )
    return table


def _path_table(r: Results) -> Table:
    table = Table(
        title=(
            f"The booking path at restaurant {r['path_restaurant_id']} "
            f"(threshold {r['path_threshold']:.2f}; {r['path_repetitions']} requests each)"
        )
    )
    table.add_column("per request")
    for col in ("p50 ms", "p99 ms"):
        table.add_column(col, justify="right")
    rows = (
        ("with_no_show_risk, champion", "score_champion"),
        ("with_no_show_risk, baseline", "score_baseline"),
        ("booking, no threshold", "booking"),
        ("booking, threshold (scoring + booking)", "booking_with_risk"),
    )
    for name, key in rows:
        p50 = r[f"{key}_p50_ms"]  # type: ignore[literal-required]
        p99 = r[f"{key}_p99_ms"]  # type: ignore[literal-required]
        table.add_row(name, f"{p50:.2f}", f"{p99:.2f}")
    table.add_row("with / without a threshold (p50)", f"{r['booking_with_risk_ratio']:.2f} x", "")
    table.add_row(
        "  of which book() alone, without / with",
        f"{r['book_call_p50_ms']:.2f} / {r['book_call_with_risk_p50_ms']:.2f}",
        "",
    )
    return table


def _with_path(r: Results, cost: PathCost) -> None:
    def ms(samples: list[float], q: float) -> float:
        return round(float(np.percentile(samples, q)), 3)

    r["path_restaurant_id"] = cost.restaurant_id
    r["score_champion_p50_ms"] = ms(cost.score_champion, 50)
    r["score_champion_p99_ms"] = ms(cost.score_champion, 99)
    r["score_baseline_p50_ms"] = ms(cost.score_baseline, 50)
    r["score_baseline_p99_ms"] = ms(cost.score_baseline, 99)
    r["booking_p50_ms"] = ms(cost.booking, 50)
    r["booking_p99_ms"] = ms(cost.booking, 99)
    r["booking_with_risk_p50_ms"] = ms(cost.booking_with_risk, 50)
    r["booking_with_risk_p99_ms"] = ms(cost.booking_with_risk, 99)
    r["booking_with_risk_ratio"] = round(r["booking_with_risk_p50_ms"] / r["booking_p50_ms"], 3)
    r["book_call_p50_ms"] = ms(cost.book_only, 50)
    r["book_call_with_risk_p50_ms"] = ms(cost.book_only_with_risk, 50)
    r["path_bookings_refused"] = cost.refused
    r["path_risk_deposits_asked"] = cost.risk_deposits


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--world",
        type=Path,
        default=WORLD_FILE,
        help="the demo world's SQLite file (built there when missing)",
    )
    args = parser.parse_args(argv)
    began = time.perf_counter()
    console = Console(width=max(Console().width, 132))
    h = holdout(world(args.world, console), console)
    console.print("comparing the policies ...")
    r = evaluate(h)
    busiest = max(r["partial_restaurant_rows"], key=lambda row: row["bookings"])
    _with_path(r, booking_path(args.world, busiest["restaurant_id"], h.model, console))
    r["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    r["machine"] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    plot(h, r, PLOT)
    r["duration_s"] = round(time.perf_counter() - began, 1)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(r, indent=2) + "\n")
    console.print(_table(r))
    console.print(_partial_table(r))
    console.print(
        "share of its bookings each restaurant asks at one threshold (min / median / max of "
        f"{len(np.unique(h.restaurant))}): "
        + "; ".join(
            f"p >= {s['threshold']:.2f}: {s['min']:.1%} / {s['median']:.1%} / {s['max']:.1%}"
            for s in r["share_asked_by_restaurant"]
        )
    )
    console.print(_path_table(r))
    low, high = r["model_vs_size_rule_ratio_ci95"]
    console.print(
        f"model / rule {r['model_vs_size_rule_ratio']:.2f} (95 % {low:.2f}-{high:.2f}, "
        f"bootstrap over bookings); model / oracle {r['model_vs_oracle_ratio']:.2f}; "
        f"rule / oracle {r['size_rule_vs_oracle_ratio']:.2f}; the model's top K holds "
        f"{r['model_topk_overlap_with_size_rule']} of the rule's {r['k_deposits']}; "
        f"the model's deposit effect on the logit {r['model_deposit_logit_effect']:+.2f} "
        f"(true {DEPOSIT_NO_SHOW_LOGIT:+.2f})"
    )
    console.print(
        f"no-show AUC {r['model_auc']:.3f} (oracle {r['oracle_auc']:.3f}); "
        f"{r['observed_no_shows']} no-shows observed, "
        f"{r['expected_no_shows_without_deposits']:.1f} expected without any deposit, "
        f"{r['avoided_if_all_asked']:.1f} avoided if every booking paid one"
    )
    console.print(f"written to {RESULTS} and {PLOT} in {r['duration_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
