"""Predictive overbooking, opt-in per restaurant: take a booking beyond what
the tables can hold when the expected no-shows make room, as long as the
risk that a guest who comes has no table stays under a limit.

The risk is estimated by sampling who comes (each party with its predicted
show probability; a no-show still holds its table for the 20-minute grace
before the host gives it away) and asking whether everyone who comes still
fits the plan. Sampling uses the greedy plan, which may miss a fit the solver
would find, so the estimate errs on the side of the guest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from optimizer.plan import PlanSettings, greedy_plan
from optimizer.service import FloorPlan, Party

GRACE_MINUTES = 20


@dataclass(frozen=True)
class OverbookingPolicy:
    """A restaurant's opt-in: ``max_wait_risk`` bounds the chance that a guest
    who comes finds no table at their time; ``samples`` nights are drawn."""

    max_wait_risk: float = 0.02
    samples: int = 32

    def allows(self, floor: FloorPlan, parties: Sequence[Party], new: Party,
               settings: PlanSettings, *, seed: int = 0) -> bool:
        trial = [*parties, replace(new, must_seat=False)]
        return wait_risk(floor, trial, settings, samples=self.samples, seed=seed) <= (
            self.max_wait_risk
        )


def wait_risk(
    floor: FloorPlan,
    parties: Sequence[Party],
    settings: PlanSettings,
    *,
    samples: int = 32,
    seed: int = 0,
) -> float:
    """The chance that a party who comes finds no table when it is due (and
    so waits): parties without a table over parties who come, across samples."""
    rng = np.random.default_rng(seed)
    uncertain = [p for p in parties if not p.locked and p.show_probability < 1.0]
    if not uncertain:
        plan = greedy_plan(floor, [replace(p, must_seat=True) for p in parties], settings=settings)
        return 0.0 if plan.all_seated else 1.0
    draws = rng.random((samples, len(uncertain)))
    index = {p.id: i for i, p in enumerate(uncertain)}
    failures = coming_total = 0
    for row in draws:
        night, coming = [], []
        for p in parties:
            i = index.get(p.id)
            if i is not None and row[i] >= p.show_probability:
                # A no-show keeps the table through the grace period only.
                night.append(replace(p, duration=min(p.duration, GRACE_MINUTES), must_seat=True))
            else:
                night.append(replace(p, must_seat=True))
                coming.append(p.id)
        seated = greedy_plan(floor, night, settings=settings).assignments
        failures += sum(1 for pid in coming if pid not in seated)
        coming_total += len(coming)
    return failures / max(coming_total, 1)


__all__ = ["GRACE_MINUTES", "OverbookingPolicy", "wait_risk"]
