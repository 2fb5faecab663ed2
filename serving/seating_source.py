"""Where seating suggestions come from: the optimizer when it is installed,
else the best-fit baseline of the booking core (labelled as such)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends

from booking_core.ledger import Ledger
from booking_core.seating_log import BASELINE, TableSuggestion, walk_in_suggestions


class SeatingSource:
    planner = BASELINE

    def suggest(
        self, ledger: Ledger, restaurant_id: int, party_size: int, now: datetime
    ) -> list[TableSuggestion]:
        return walk_in_suggestions(ledger, restaurant_id, party_size, now=now)


_source = SeatingSource()


def get_seating_source() -> SeatingSource:
    return _source


SeatingSourceDep = Annotated[SeatingSource, Depends(get_seating_source)]
