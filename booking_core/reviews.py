"""Reviews: a rating and text from a diner, held for moderation."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from booking_core import outbox
from booking_core.domain import ModerationStatus, ReservationState
from booking_core.errors import IllegalTransition, InvalidRequest, NotFound, UnknownReservation
from booking_core.ledger import Ledger
from booking_core.schema import reservations, reviews


def submit_review(
    ledger: Ledger,
    restaurant_id: int,
    rating: int,
    text: str = "",
    *,
    diner_id: int | None = None,
    reservation_id: int | None = None,
) -> int:
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise InvalidRequest("A rating is a whole number of stars from 1 to 5.")
    if len(text) > 5000:
        raise InvalidRequest("A review is limited to 5,000 characters.")
    now = ledger.clock()
    try:
        with ledger.write() as conn:
            if reservation_id is not None:
                row = conn.execute(
                    sa.select(reservations.c.restaurant_id, reservations.c.state).where(
                        reservations.c.id == reservation_id
                    )
                ).first()
                if row is None or row.restaurant_id != restaurant_id:
                    raise UnknownReservation(
                        f"Restaurant {restaurant_id} has no reservation {reservation_id}."
                    )
                if row.state != ReservationState.COMPLETED:
                    raise IllegalTransition("Only a completed visit can be reviewed.")
            review_id = int(
                conn.execute(
                    reviews.insert()
                    .values(
                        restaurant_id=restaurant_id,
                        diner_id=diner_id,
                        reservation_id=reservation_id,
                        rating=rating,
                        text=text.strip(),
                        moderation_status=ModerationStatus.PENDING,
                        created_at=now,
                    )
                    .returning(reviews.c.id)
                ).scalar_one()
            )
            outbox.append(
                conn,
                "review.submitted",
                "review",
                review_id,
                restaurant_id,
                {"rating": rating},
                now,
            )
            return review_id
    except IntegrityError:
        raise InvalidRequest(
            "This visit already has a review, or the restaurant or diner does not exist."
        ) from None


def moderate(ledger: Ledger, review_id: int, status: ModerationStatus | str) -> None:
    try:
        status = ModerationStatus(status)
    except ValueError:
        raise InvalidRequest("Moderation status is pending, approved or rejected.") from None
    now = ledger.clock()
    with ledger.write() as conn:
        row = conn.execute(
            sa.select(reviews.c.restaurant_id).where(reviews.c.id == review_id)
        ).first()
        if row is None:
            raise NotFound(f"There is no review with id {review_id}.")
        conn.execute(
            reviews.update().where(reviews.c.id == review_id).values(moderation_status=status.value)
        )
        outbox.append(
            conn,
            "review.moderated",
            "review",
            review_id,
            row.restaurant_id,
            {"status": status.value},
            now,
        )
