"""Risk-based deposits: ask the riskiest bookings for a deposit, not the largest parties?

    python benchmarks/risk_deposits.py                # builds the demo world once (~1-2 min)
    python benchmarks/risk_deposits.py --world PATH   # where its SQLite file is kept

Writes ``results/risk_deposits.json`` and ``results/risk_deposits.png``.

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

Final run (20-40 s with the world already built, 1-2 min more without; 2 cores):
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
0.652 (oracle 0.669). Asking per restaurant gains little because one
restaurant's rule (deposit from a party of one) asks every booking: 224 of
the 332. Diners with no prior booking: 5 of the holdout's bookings, none asked
by any policy (this world's 2,400 diners all have a history by then), so the
friction figure says nothing here. Measured once with the deposit's -0.6 on
the cancellation logit taken in: every policy avoids about 14 % fewer
no-shows (rule 17.2, model 31.3, oracle 35.7) and the ratios move by 0.02 at
most.
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
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from typing import TypedDict  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from scipy.special import expit, logit  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from booking_core.ledger import Ledger  # noqa: E402
from booking_core.world.generate import generate_world  # noqa: E402
from booking_core.world.people import DEPOSIT_NO_SHOW_LOGIT  # noqa: E402
from models.attendance import AttendanceRisk  # noqa: E402
from models.extract import LedgerSnapshot  # noqa: E402
from models.features import attendance_frame, labelled  # noqa: E402

RESULTS = _HERE / "results" / "risk_deposits.json"
PLOT = _HERE / "results" / "risk_deposits.png"
TODAY = date(2026, 6, 1)
SEED = 7
HOLDOUT_DAYS = 14
THRESHOLDS = (0.10, 0.15, 0.20, 0.30)
BOOTSTRAP = 2000
FEW_PRIOR = 3  # "few prior bookings": fewer than this many
SIZE_RULE = "party-size rule (the world's)"
MODEL = "model, top K"
MODEL_PER_RESTAURANT = "model, top K per restaurant"
ORACLE = "oracle, top K"
ORACLE_PER_RESTAURANT = "oracle, top K per restaurant"


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
    model_deposit_logit_effect: float
    model_auc: float
    oracle_auc: float
    policies: list[PolicyRow]
    thresholds: list[PolicyRow]
    fit_s: float
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


def world(path: Path, console: Console) -> str:
    """The demo world's SQLite URL, built at ``path`` unless already there."""
    if path.exists():
        console.print(f"demo world: reusing {path}")
        return f"sqlite:///{path}"
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
    on_model, on_rule = h.avoided * model_mask, h.avoided * h.had_deposit
    ratios = []
    for _ in range(BOOTSTRAP // 100):
        idx = rng.integers(0, n, size=(100, n))
        ratios.append(on_model[idx].sum(axis=1) / on_rule[idx].sum(axis=1))
    low, high = np.percentile(np.concatenate(ratios), [2.5, 97.5])

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
        "model_vs_size_rule_ratio_ci95": [float(low), float(high)],
        "model_vs_oracle_ratio": model_row["vs_oracle"],
        "size_rule_vs_oracle_ratio": size_avoided / float(oracle_curve[k]),
        "model_per_restaurant_vs_size_rule_ratio": by_name[MODEL_PER_RESTAURANT]["vs_size_rule"],
        "model_topk_overlap_with_size_rule": int((model_mask & h.had_deposit).sum()),
        "model_deposit_logit_effect": float(
            np.mean(logit(h.model_p[h.had_deposit]) - logit(h.model_p0[h.had_deposit]))
        ),
        "model_auc": float(roc_auc_score(h.no_show, h.model_p)),
        "oracle_auc": float(roc_auc_score(h.no_show, h.frame["p_no_show"].to_numpy())),
        "policies": policies,
        "thresholds": thresholds,
        "fit_s": h.fit_s,
        "measured_at": "",
        "machine": {},
        "duration_s": 0.0,
    }


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--world",
        type=Path,
        default=Path(tempfile.gettempdir()) / "servicesphere-risk-deposits" / "demo.db",
        help="the demo world's SQLite file (built there when missing)",
    )
    args = parser.parse_args(argv)
    began = time.perf_counter()
    console = Console(width=max(Console().width, 132))
    h = holdout(world(args.world, console), console)
    console.print("comparing the policies ...")
    r = evaluate(h)
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
