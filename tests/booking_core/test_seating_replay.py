"""One tiny simulated night replayed through the booking core and through the
seating simulator (``benchmarks/seating_product.py``): lock-at-booking with
turn times is the policy both must implement identically, so every request
must get the same answer, time and tables; with bid-price admission control
on top, the same past demand must price every request alike."""

from __future__ import annotations

import pytest

from benchmarks.seating_product import (
    LOCK,
    LOCK_ADMITTING,
    Variant,
    booking_phase,
    replay_product,
    replay_sim,
)
from booking_core.ledger import Ledger
from optimizer.nights import generated_history, make_night, standard_floor
from optimizer.simulation import Night


@pytest.fixture(scope="module")
def night() -> Night:
    # Six tables asked for 1.5 times what they hold: refusals, flexible
    # guests given another time, refusals on price. (On this night, when the
    # booking core left the request being decided out of the requests
    # received, its admission control decided five requests otherwise.)
    return make_night(
        "Replay", standard_floor(6, seed=3), generated_history(120, seed=5), load=1.5, seed=104
    )


@pytest.mark.parametrize("variant", [LOCK, LOCK_ADMITTING], ids=lambda v: v.name)
def test_the_product_decides_every_request_as_the_simulator(
    ledger: Ledger, night: Night, variant: Variant
) -> None:
    requests = booking_phase(night).requests
    product = replay_product(ledger, night, variant).outcomes
    sim = replay_sim(night, variant.sim)
    assert [product[r.id].decision for r in requests] == [sim[r.id].decision for r in requests]
    # The night tests something: refusals, and guests given another time.
    refused = [r for r in requests if not sim[r.id].accepted]
    moved = [r for r in requests if sim[r.id].accepted and sim[r.id].start != r.start]
    assert refused and moved
    if variant.admission_control:
        assert any(sim[r.id].reason == "price" for r in refused)
