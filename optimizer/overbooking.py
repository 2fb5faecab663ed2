"""Predictive overbooking, opt-in per restaurant: take a booking beyond what
the tables can hold when the expected no-shows make room, as long as the
risk that a guest who comes has no table stays under a limit.

The risk is estimated by sampling who comes (each party independently, with
its predicted show probability; a no-show still holds its table for the
20-minute grace before the host gives it away) and seating the night as the
host would: a guest who comes finds a table when any table that fits frees
within 15 minutes of their time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from optimizer.plan import PlanSettings, _Occupancy
from optimizer.service import FloorPlan, Interval, Party, intervals

GRACE_MINUTES = 20


@dataclass(frozen=True)
class OverbookingPolicy:
    """A restaurant's opt-in: ``max_wait_risk`` bounds the chance that a guest
    who comes finds no table at their time; ``samples`` nights are drawn."""

    max_wait_risk: float = 0.02
    samples: int = 32

    def allows(
        self,
        floor: FloorPlan,
        parties: Sequence[Party],
        new: Party,
        settings: PlanSettings,
        *,
        seed: int = 0,
    ) -> bool:
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
    patience: int = 15,
) -> float:
    """The chance that a party who comes waits more than ``patience``
    minutes for a table: parties who would, over parties who come, across
    sampled nights.

    Each sample draws who comes (no-shows independent, each with its own
    show probability; a no-show still holds a table through the grace
    period) and seats the parties in the order they are due, each at the
    best-fitting table that is free at its time or frees within
    ``patience`` minutes (it then stays its predicted time from when it
    sits). That is what the host does, so the estimate neither counts a
    party that a table freeing five minutes later would seat nor assumes
    a re-pack the host would not make."""
    rng = np.random.default_rng(seed)
    uncertain = [p for p in parties if not p.locked and p.show_probability < 1.0]
    index = {p.id: i for i, p in enumerate(uncertain)}
    draws = rng.random((max(samples, 1) if uncertain else 1, len(uncertain)))
    spans = intervals(floor, parties, reset_minutes=settings.reset_minutes)
    order = sorted((s for s in spans if not s.party.locked), key=lambda s: (s.start, s.party.id))
    failures = coming_total = 0
    for row in draws:
        comes = [
            (i := index.get(s.party.id)) is None or row[i] < s.party.show_probability for s in order
        ]
        lengths = [
            s.end - s.start if c else min(s.end - s.start, GRACE_MINUTES)
            for s, c in zip(order, comes, strict=True)
        ]
        came, waited = _seat_night(spans, order, comes, lengths, patience)
        coming_total += came
        failures += waited
    return failures / max(coming_total, 1)


def added_long_waits(
    floor: FloorPlan,
    parties: Sequence[Party],
    new: Party,
    settings: PlanSettings,
    *,
    samples: int = 32,
    seed: int = 0,
    patience: int = 15,
) -> float:
    """How many more guests are expected to wait over ``patience`` minutes
    if ``new`` is booked: the wait-aware half of pooled acceptance.

    Each sample draws who comes and how long every party stays (log-normal
    around its predicted median, sigma ``duration_spread``) and seats the
    night as a host would (``wait_risk``), with and without the new party;
    both use the same draws for the same parties, so the difference is the
    new booking's doing and not sampling noise."""
    rng = np.random.default_rng(seed)
    everyone = [*parties, new]
    shows = rng.random((samples, len(everyone)))
    stays = np.exp(
        rng.standard_normal((samples, len(everyone)))
        * np.array([p.duration_spread for p in everyone])
    )
    with_new = _long_waits(floor, everyone, settings, shows, stays, patience)
    without = _long_waits(floor, everyone[:-1], settings, shows[:, :-1], stays[:, :-1], patience)
    return with_new - without


def _long_waits(
    floor: FloorPlan,
    parties: Sequence[Party],
    settings: PlanSettings,
    shows: np.ndarray,
    stays: np.ndarray,
    patience: int,
) -> float:
    """Guests per sample who find no table within ``patience`` minutes."""
    spans = intervals(floor, parties, reset_minutes=settings.reset_minutes, check=False)
    column = {s.party.id: i for i, s in enumerate(spans)}
    order = sorted((s for s in spans if not s.party.locked), key=lambda s: (s.start, s.party.id))
    failures = 0
    for show_row, stay_row in zip(shows, stays, strict=True):
        comes = [show_row[column[s.party.id]] < s.party.show_probability for s in order]
        lengths = [
            max(5, round(s.party.duration * stay_row[column[s.party.id]])) + settings.reset_minutes
            if c
            else min(s.end - s.start, GRACE_MINUTES)
            for s, c in zip(order, comes, strict=True)
        ]
        failures += _seat_night(spans, order, comes, lengths, patience)[1]
    return failures / max(len(shows), 1)


def _seat_night(
    spans: Sequence[Interval],
    order: Sequence[Interval],
    comes: Sequence[bool],
    lengths: Sequence[int],
    patience: int,
) -> tuple[int, int]:
    """One sampled night seated as the host would: the parties in ``order``
    (who ``comes``, each staying ``lengths``) each take the best-fitting
    table free at their time or within ``patience`` minutes; a no-show only
    holds a table at its time. Returns (parties who came, those of them who
    waited longer)."""
    busy = _Occupancy()
    for s in spans:
        if s.party.locked:
            busy.take(s.party.tables, s.start, s.end)
    came = waited = 0
    for s, shows, length in zip(order, comes, lengths, strict=True):
        for delay in range(0, patience + 1, 5) if shows else (0,):
            a, b = s.start + delay, s.start + delay + length
            pick = next((o.table_ids for o in s.options if busy.free(o.table_ids, a, b)), None)
            if pick is not None:
                busy.take(pick, a, b)
                break
        else:
            waited += 1 if shows else 0
        came += 1 if shows else 0
    return came, waited


__all__ = ["GRACE_MINUTES", "OverbookingPolicy", "added_long_waits", "wait_risk"]
