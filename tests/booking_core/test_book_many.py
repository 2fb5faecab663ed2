"""``book_many``, the group commit the API's booking writer uses: a batch
must come out exactly as the same requests booked one by one, in order, and
a refusal inside a batch must leave the batch's other bookings standing."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from booking_core.errors import BookingError, UnknownRestaurant
from booking_core.reservations import BookingRequest, Reservation, book, book_many
from tests.booking_core.test_properties import (  # noqa: F401 - the module fixture
    DAYS,
    PROPERTY_SETTINGS,
    SLOT_MINUTES,
    Template,
    assert_invariants,
    fresh_ledger,
    hhmm,
    outbox_events,
    snapshot,
    template,
)

requests_st = st.lists(
    st.tuples(
        st.sampled_from(DAYS),
        st.sampled_from((*SLOT_MINUTES, 16 * 60, 23 * 60 + 45)),  # some outside service
        st.integers(1, 9),  # 9 fits no table nor combination
        st.sampled_from([None, None, 0, 1]),  # a diner, twice sometimes
        st.sampled_from([None, None, None, "k1", "k2"]),  # idempotency keys, reused
        st.booleans(),  # an unknown restaurant instead
    ),
    min_size=1,
    max_size=25,
)


def _requests(t: Template, drawn: list[tuple[Any, ...]]) -> list[BookingRequest]:
    return [
        BookingRequest(
            restaurant_id=t.restaurant_id if not unknown else 999_999,
            local_date=day,
            local_time=hhmm(minute),
            party_size=size,
            diner_id=t.diner_ids[diner] if diner is not None else None,
            idempotency_key=key,
        )
        for day, minute, size, diner, key, unknown in drawn
    ]


def _outcome(result: Reservation | BookingError) -> tuple[Any, ...]:
    if isinstance(result, BookingError):
        return ("refused", type(result).__name__)
    return ("booked", result.id, result.start_at, result.table_ids, result.party_size)


@PROPERTY_SETTINGS
@given(drawn=requests_st)
def test_a_batch_is_the_same_requests_one_by_one(
    template: Template,  # noqa: F811
    drawn: list[tuple[Any, ...]],
) -> None:
    requests = _requests(template, drawn)
    with fresh_ledger(template) as one_by_one:
        expected = []
        for request in requests:
            try:
                expected.append(_outcome(book(one_by_one, request)))
            except BookingError as exc:
                expected.append(_outcome(exc))
        state = snapshot(one_by_one)
    with fresh_ledger(template) as batched:
        got = [_outcome(r) for r in book_many(batched, requests)]
        assert got == expected
        assert snapshot(batched) == state
        assert_invariants(batched)


def test_a_refusal_in_a_batch_leaves_the_others_booked(template: Template) -> None:  # noqa: F811
    day = DAYS[0]
    good = BookingRequest(template.restaurant_id, day, "19:00", 2)
    with fresh_ledger(template) as ledger:
        results = book_many(
            ledger,
            [
                good,
                BookingRequest(999_999, day, "19:00", 2),
                BookingRequest(template.restaurant_id, day, "19:30", 4),
            ],
        )
        assert isinstance(results[0], Reservation)
        assert isinstance(results[1], UnknownRestaurant)
        assert isinstance(results[2], Reservation)
        booked = [e for e in outbox_events(ledger) if e[0] == "reservation.booked"]
        assert len(booked) == 2
        # The batch's day book was kept after commit: the next booking uses it
        # and still cannot take a table the batch holds.
        after = book(ledger, BookingRequest(template.restaurant_id, day, "19:00", 2))
        assert not set(after.table_ids) & set(results[0].table_ids)
        assert_invariants(ledger)


def test_an_empty_batch_writes_nothing(template: Template) -> None:  # noqa: F811
    with fresh_ledger(template) as ledger:
        before = snapshot(ledger)
        assert book_many(ledger, []) == []
        assert snapshot(ledger) == before
