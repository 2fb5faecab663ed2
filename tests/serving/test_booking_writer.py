"""The worker's booking writer: concurrent bookings are committed in
batches, and every caller gets its own booking or its own refusal."""

from __future__ import annotations

import asyncio

import pytest

from booking_core.errors import BookingError, PartyTooLarge
from booking_core.reservations import BookingRequest, Reservation
from serving.booking_writer import BookingWriter
from tests.booking_core.test_properties import (  # noqa: F401 - the module fixture
    DAYS,
    SLOT_MINUTES,
    Template,
    assert_invariants,
    fresh_ledger,
    hhmm,
    template,
)


def test_concurrent_bookings_are_batched_and_answered_one_by_one(
    template: Template,  # noqa: F811
) -> None:
    requests = [
        BookingRequest(template.restaurant_id, DAYS[i % 2], hhmm(SLOT_MINUTES[i % 8]), 2)
        for i in range(40)
    ]
    requests[7] = BookingRequest(template.restaurant_id, DAYS[0], "19:00", 30)  # no such table

    with fresh_ledger(template) as ledger:
        writer = BookingWriter(ledger, max_batch=8)
        writer.start()

        async def all_at_once() -> list[Reservation | BaseException]:
            return await asyncio.gather(*(writer.book(r) for r in requests), return_exceptions=True)

        try:
            results = asyncio.run(all_at_once())
        finally:
            writer.stop()
        assert isinstance(results[7], PartyTooLarge)
        booked = [r for r in results if isinstance(r, Reservation)]
        refused = [r for r in results if isinstance(r, BookingError)]
        assert len(booked) + len(refused) == len(requests)
        for request, result in zip(requests, results, strict=True):
            if isinstance(result, Reservation):
                assert result.service_date.isoformat() == str(request.local_date)
                assert result.start_at.astimezone().minute % 15 == 0
        # Queued together, written together: fewer transactions than bookings.
        assert writer.batches < len(requests)
        assert writer.written == len(booked)
        assert len({r.id for r in booked}) == len(booked)
        assert_invariants(ledger)


def test_booking_without_a_running_writer_is_an_error(template: Template) -> None:  # noqa: F811
    with fresh_ledger(template) as ledger:
        writer = BookingWriter(ledger)
        request = BookingRequest(template.restaurant_id, DAYS[0], "19:00", 2)
        with pytest.raises(RuntimeError, match="not running"):
            asyncio.run(writer.book(request))
