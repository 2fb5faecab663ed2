"""The ledger's tables (SQLAlchemy Core). Alembic migrations are the source of
truth for the database; this module mirrors them for queries, and a test checks
the two never drift apart.

Conventions: timestamps are UTC (``UtcDateTime``), local dates are ``Date``,
times of day are minutes after local midnight (a close after midnight is > 1440),
money is integer minor units next to an ISO 4217 currency.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every engine."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the ledger stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _fk(name: str, target: str, *, nullable: bool = False, index: bool = False) -> sa.Column[int]:
    return sa.Column(
        name, sa.Integer, sa.ForeignKey(target, ondelete="CASCADE"), nullable=nullable, index=index
    )


restaurants = sa.Table(
    "restaurants",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("cuisines", sa.JSON, nullable=False),
    sa.Column("menu_highlights", sa.JSON, nullable=False),
    sa.Column("ambience", sa.String(40), nullable=False, server_default="casual"),
    sa.Column("price_tier", sa.SmallInteger, nullable=False),
    sa.Column("rating", sa.Float, nullable=True),
    sa.Column("latitude", sa.Float, nullable=False),
    sa.Column("longitude", sa.Float, nullable=False),
    sa.Column("address", sa.String(300), nullable=False, server_default=""),
    sa.Column("city", sa.String(100), nullable=False, server_default=""),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("locale", sa.String(16), nullable=False),
    # Booking policy: a deposit per cover from this party size up, a card hold,
    # and the fee charged for a cancellation inside the window (money moves later).
    sa.Column("deposit_min_party", sa.SmallInteger, nullable=True),
    sa.Column("deposit_per_cover_minor", sa.Integer, nullable=False, server_default="0"),
    sa.Column("card_hold_minor", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cancellation_fee_minor", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cancellation_window_hours", sa.SmallInteger, nullable=False, server_default="24"),
    # How long a diner has to pay a deposit once booked (booking_core.deposits).
    sa.Column("deposit_pay_within_minutes", sa.Integer, nullable=False, server_default="60"),
    # Risk-based deposits: ask one (per cover) of any booking whose no-show
    # risk, scored at booking as if none were asked, is at least this; NULL = off.
    sa.Column("deposit_risk_threshold", sa.Float, nullable=True),
    # The share of the bookings at or over it left without a deposit, drawn at
    # random: the control group that measures what the deposit does.
    sa.Column("deposit_risk_control_share", sa.Float, nullable=False, server_default="0"),
    sa.Column("source", sa.String(20), nullable=False, server_default="manual"),
    sa.Column("external_ref", sa.String(64), nullable=True),
    # How tables are chosen (booking_core.restaurants.TABLE_POLICIES): lock
    # the best free table at booking, or pool them with admission control.
    sa.Column("table_policy", sa.String(20), nullable=False, server_default="lock_at_booking"),
    # Predictive overbooking (pooled restaurants only): the most risk, per
    # guest who comes, of waiting over 15 minutes; NULL = off, the default.
    sa.Column("overbooking_max_wait_risk", sa.Float, nullable=True),
    # Bid-price admission control for a restaurant that locks at booking
    # (a pooled one always has it): false, the default, takes every fit.
    sa.Column("admission_control", sa.Boolean, nullable=False, server_default=sa.false()),
    # How long a booking holds its table (booking_core.stays.BookedStays):
    # the turn time per party size, the default, or the predicted stay.
    sa.Column("booked_stays", sa.String(20), nullable=False, server_default="turn_times"),
    # Bumped by every change to tables, hours or policy: caches key on it.
    sa.Column("floor_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("price_tier BETWEEN 1 AND 4", name="price_tier"),
    sa.CheckConstraint(
        "latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180", name="geo"
    ),
    sa.CheckConstraint("table_policy IN ('lock_at_booking', 'pooled')", name="table_policy"),
    sa.CheckConstraint(
        "overbooking_max_wait_risk IS NULL OR "
        "(overbooking_max_wait_risk > 0 AND overbooking_max_wait_risk <= 0.2)",
        name="overbooking_max_wait_risk",
    ),
    sa.UniqueConstraint("source", "external_ref"),
)

dining_areas = sa.Table(
    "dining_areas",
    metadata,
    _id(),
    _fk("restaurant_id", "restaurants.id"),
    sa.Column("name", sa.String(100), nullable=False),
    sa.UniqueConstraint("restaurant_id", "name"),
)

dining_tables = sa.Table(
    "dining_tables",
    metadata,
    _id(),
    _fk("restaurant_id", "restaurants.id", index=True),
    _fk("area_id", "dining_areas.id"),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("min_covers", sa.SmallInteger, nullable=False),
    sa.Column("max_covers", sa.SmallInteger, nullable=False),
    sa.Column("accessible", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.CheckConstraint("min_covers >= 1 AND max_covers >= min_covers", name="covers"),
    sa.UniqueConstraint("restaurant_id", "name"),
)

table_combinations = sa.Table(
    "table_combinations",
    metadata,
    _id(),
    _fk("restaurant_id", "restaurants.id", index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("min_covers", sa.SmallInteger, nullable=False),
    sa.Column("max_covers", sa.SmallInteger, nullable=False),
    sa.CheckConstraint("min_covers >= 1 AND max_covers >= min_covers", name="covers"),
    sa.UniqueConstraint("restaurant_id", "name"),
)

table_combination_members = sa.Table(
    "table_combination_members",
    metadata,
    sa.Column(
        "combination_id",
        sa.Integer,
        sa.ForeignKey("table_combinations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "table_id",
        sa.Integer,
        sa.ForeignKey("dining_tables.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)

service_periods = sa.Table(
    "service_periods",
    metadata,
    _id(),
    _fk("restaurant_id", "restaurants.id", index=True),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("weekday", sa.SmallInteger, nullable=False),  # Monday = 0
    sa.Column("opens_min", sa.SmallInteger, nullable=False),
    sa.Column("closes_min", sa.SmallInteger, nullable=False),
    sa.Column("last_seating_min", sa.SmallInteger, nullable=False),
    sa.Column("slot_interval_min", sa.SmallInteger, nullable=False, server_default="15"),
    # {"2": 90, "4": 120, ...}: minutes a party of that size holds its table;
    # sizes in between use the next size up, larger ones the largest entry.
    sa.Column("turn_times", sa.JSON, nullable=False),
    sa.Column("max_covers_per_slot", sa.SmallInteger, nullable=True),
    sa.Column("max_parties_per_slot", sa.SmallInteger, nullable=True),
    # The local date this timetable starts (NULL: since the restaurant
    # opened). A new timetable adds rows; the old ones stay, so a past date
    # keeps the hours it had (``Floor.timetable_on``).
    sa.Column("effective_from", sa.Date, nullable=True),
    sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
    sa.CheckConstraint(
        "opens_min >= 0 AND opens_min <= last_seating_min AND last_seating_min < closes_min "
        "AND closes_min <= 2880",
        name="hours",
    ),
    sa.CheckConstraint("slot_interval_min > 0", name="slot_interval"),
)

special_dates = sa.Table(
    "special_dates",
    metadata,
    _id(),
    _fk("restaurant_id", "restaurants.id"),
    sa.Column("local_date", sa.Date, nullable=False),
    sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("note", sa.String(200), nullable=False, server_default=""),
    # When not closed: the day's hours replace the weekday's (one period).
    sa.Column("opens_min", sa.SmallInteger, nullable=True),
    sa.Column("closes_min", sa.SmallInteger, nullable=True),
    sa.Column("last_seating_min", sa.SmallInteger, nullable=True),
    sa.UniqueConstraint("restaurant_id", "local_date"),
)

# One row per restaurant and local service date: the row every booking for that
# day locks first, so acceptance is serialised per service day.
service_days = sa.Table(
    "service_days",
    metadata,
    sa.Column(
        "restaurant_id",
        sa.Integer,
        sa.ForeignKey("restaurants.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("local_date", sa.Date, primary_key=True),
    sa.Column("bookings_version", sa.Integer, nullable=False, server_default="0"),
)

diners = sa.Table(
    "diners",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=True, unique=True),
    sa.Column("phone", sa.String(40), nullable=True),
    sa.Column("locale", sa.String(16), nullable=False, server_default="en-US"),
    sa.Column("dietary", sa.JSON, nullable=False),
    sa.Column("allergies", sa.JSON, nullable=False),
    sa.Column("seating_preferences", sa.JSON, nullable=False),
    sa.Column("marketing_consent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("home_latitude", sa.Float, nullable=True),
    sa.Column("home_longitude", sa.Float, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("erased_at", UtcDateTime, nullable=True),
)

guest_notes = sa.Table(
    "guest_notes",
    metadata,
    _id(),
    _fk("diner_id", "diners.id", index=True),
    _fk("restaurant_id", "restaurants.id", nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("author", sa.String(100), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

guest_tags = sa.Table(
    "guest_tags",
    metadata,
    _id(),
    _fk("diner_id", "diners.id"),
    sa.Column("tag", sa.String(60), nullable=False),
    sa.Column("source", sa.String(10), nullable=False),
    sa.Column("confidence", sa.Float, nullable=False, server_default="1.0"),
    sa.Column("set_by", sa.String(100), nullable=False),
    sa.Column("set_at", UtcDateTime, nullable=False),
    # A host's removal is kept, so the machine never puts the tag back.
    sa.Column("removed_at", UtcDateTime, nullable=True),
    sa.CheckConstraint("source IN ('host', 'machine')", name="source"),
    sa.CheckConstraint("confidence BETWEEN 0 AND 1", name="confidence"),
    sa.UniqueConstraint("diner_id", "tag"),
)

_STATES = "'booked','confirmed','arrived','seated','completed','cancelled','no_show'"
_CHANNELS = "'web','widget','affiliate','phone','walk_in'"

# Bookings the unpaid-deposit sweep looks at (``booking_core.deposits.overdue``
# repeats it word for word: SQLite uses a partial index only for a query
# that names its condition in literals).
DEPOSIT_SWEEP = "deposit_due_at IS NOT NULL AND state IN ('booked', 'confirmed')"

reservations = sa.Table(
    "reservations",
    metadata,
    _id(),
    _fk("restaurant_id", "restaurants.id"),
    sa.Column(
        "diner_id", sa.Integer, sa.ForeignKey("diners.id", ondelete="SET NULL"), nullable=True
    ),
    sa.Column("guest_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("service_date", sa.Date, nullable=False),
    sa.Column("start_at", UtcDateTime, nullable=False),
    sa.Column("end_at", UtcDateTime, nullable=False),  # planned: start + turn time
    sa.Column("party_size", sa.SmallInteger, nullable=False),
    sa.Column("channel", sa.String(12), nullable=False),
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("special_requests", sa.Text, nullable=False, server_default=""),
    sa.Column(
        "area_id", sa.Integer, sa.ForeignKey("dining_areas.id", ondelete="SET NULL"), nullable=True
    ),
    sa.Column("accessible_required", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column(
        "combination_id",
        sa.Integer,
        sa.ForeignKey("table_combinations.id", ondelete="SET NULL"),
        nullable=True,
    ),
    sa.Column("deposit_required", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("deposit_minor", sa.Integer, nullable=False, server_default="0"),
    sa.Column("card_hold_minor", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cancellation_fee_minor", sa.Integer, nullable=False, server_default="0"),
    # The cancellation terms kept at booking (booking_core.cancellation_terms):
    # the window, and the deadline for a free cancellation, which a change
    # made inside the window does not move.
    sa.Column("cancellation_window_hours", sa.SmallInteger, nullable=False, server_default="24"),
    # The deposit policy kept at booking, by which a change of party size is priced.
    sa.Column("deposit_min_party", sa.SmallInteger, nullable=True),
    sa.Column("deposit_per_cover_minor", sa.Integer, nullable=False, server_default="0"),
    sa.Column("free_cancellation_until", UtcDateTime, nullable=True),
    # The deposit's payment (booking_core.deposits): pay by the deadline or
    # the booking is released; paid counts every payment received (the rows
    # of deposit_payments), refunded what went back before the visit ended,
    # so held = paid - refunded, never above deposit_minor.
    sa.Column("deposit_due_at", UtcDateTime, nullable=True),
    sa.Column("deposit_paid_minor", sa.Integer, nullable=False, server_default="0"),
    sa.Column("deposit_refunded_minor", sa.Integer, nullable=False, server_default="0"),
    sa.Column("deposit_paid_at", UtcDateTime, nullable=True),
    # Why a deposit was asked (booking_core.deposits.DepositReason: the party
    # size, or the no-show risk), and the risk the booking was scored at when
    # the restaurant asks by risk, with the model that scored it: what the
    # decision rested on, and what production calibration is measured against.
    sa.Column("deposit_reason", sa.String(16), nullable=True),
    sa.Column("no_show_risk", sa.Float, nullable=True),
    sa.Column("no_show_risk_model", sa.String(100), nullable=True),
    # At or over the threshold but drawn into the control group: no deposit.
    sa.Column("deposit_risk_control", sa.Boolean, nullable=False, server_default=sa.false()),
    # The fee those terms made due (a diner's late cancellation, a no-show),
    # and when the restaurant waived it. Charging it is the payments side's.
    sa.Column("fee_minor", sa.Integer, nullable=False, server_default="0"),
    sa.Column("fee_reason", sa.String(20), nullable=True),
    sa.Column("fee_waived_at", UtcDateTime, nullable=True),
    sa.Column("currency", sa.String(3), nullable=False),
    # Taken beyond the tables by predictive overbooking: it holds no table
    # until the host seats it (pacing still counts it).
    sa.Column("overbooked", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("idempotency_key", sa.String(128), nullable=True, unique=True),
    sa.Column("request_fingerprint", sa.String(64), nullable=True),
    sa.Column("source", sa.String(20), nullable=False, server_default="live"),
    sa.Column("external_ref", sa.String(64), nullable=True),
    sa.Column("booked_at", UtcDateTime, nullable=False),
    sa.Column("confirmed_at", UtcDateTime, nullable=True),
    sa.Column("arrived_at", UtcDateTime, nullable=True),
    sa.Column("seated_at", UtcDateTime, nullable=True),
    sa.Column("completed_at", UtcDateTime, nullable=True),
    sa.Column("cancelled_at", UtcDateTime, nullable=True),
    sa.Column("cancelled_by", sa.String(12), nullable=True),
    sa.Column("no_show_at", UtcDateTime, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("party_size BETWEEN 1 AND 40", name="party_size"),
    sa.CheckConstraint("end_at > start_at", name="times"),
    sa.CheckConstraint(f"state IN ({_STATES})", name="state"),
    sa.CheckConstraint(f"channel IN ({_CHANNELS})", name="channel"),
    sa.CheckConstraint("cancelled_by IS NULL OR cancelled_by IN ('diner','restaurant')", "cby"),
    sa.Index("ix_reservations_restaurant_day", "restaurant_id", "service_date"),
    sa.Index("ix_reservations_diner_start", "diner_id", "start_at"),
    # The release job's sweep: only bookings not yet arrived that ask a
    # deposit are in it, so it stays small however long the history.
    sa.Index(
        "ix_reservations_deposit_due",
        "deposit_due_at",
        sqlite_where=sa.text(DEPOSIT_SWEEP),
        postgresql_where=sa.text(DEPOSIT_SWEEP),
    ),
)

# Every deposit payment received, by the payment's own reference: the same
# payment reported twice is recorded once (``ref_key``).
deposit_payments = sa.Table(
    "deposit_payments",
    metadata,
    _id(),
    _fk("reservation_id", "reservations.id", index=True),
    sa.Column("payment_ref", sa.String(100), nullable=False),
    # What makes it one payment (``deposits.payment_key``): the source, the
    # restaurant for its own receipts, and the reference.
    sa.Column("ref_key", sa.String(140), nullable=False, unique=True),
    sa.Column("amount_minor", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    # provider (the payments webhook), restaurant (taken at the restaurant),
    # migration (held before payments were recorded), world (generated).
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("paid_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("amount_minor > 0", name="amount"),
)

# Which tables a reservation holds, and for which planned interval. Rows are
# kept after release (cancel, no-show, completion, move) as the seating history.
reservation_tables = sa.Table(
    "reservation_tables",
    metadata,
    _id(),
    _fk("reservation_id", "reservations.id", index=True),
    _fk("table_id", "dining_tables.id"),
    sa.Column("start_at", UtcDateTime, nullable=False),
    sa.Column("end_at", UtcDateTime, nullable=False),
    sa.Column("assigned_at", UtcDateTime, nullable=False),
    sa.Column("released_at", UtcDateTime, nullable=True),
    sa.Index("ix_reservation_tables_table_start", "table_id", "start_at"),
)

# The discrete form of "no two parties on one table at once": a held table
# claims every granule (GRANULE_MINUTES, counted from the Unix epoch) of its
# interval, and the primary key refuses a second claim on any engine.
table_claims = sa.Table(
    "table_claims",
    metadata,
    sa.Column(
        "table_id",
        sa.Integer,
        sa.ForeignKey("dining_tables.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("granule", sa.Integer, primary_key=True, autoincrement=False),
    _fk("reservation_id", "reservations.id", index=True),
)

waitlist_entries = sa.Table(
    "waitlist_entries",
    metadata,
    _id(),
    _fk("restaurant_id", "restaurants.id"),
    sa.Column(
        "diner_id", sa.Integer, sa.ForeignKey("diners.id", ondelete="SET NULL"), nullable=True
    ),
    sa.Column("guest_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("phone", sa.String(40), nullable=True),
    sa.Column("party_size", sa.SmallInteger, nullable=False),
    sa.Column("service_date", sa.Date, nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("joined_at", UtcDateTime, nullable=False),
    sa.Column("quoted_wait_min", sa.SmallInteger, nullable=True),
    sa.Column("notified_at", UtcDateTime, nullable=True),
    sa.Column("seated_at", UtcDateTime, nullable=True),
    sa.Column("left_at", UtcDateTime, nullable=True),
    sa.Column(
        "reservation_id",
        sa.Integer,
        sa.ForeignKey("reservations.id", ondelete="SET NULL"),
        nullable=True,
    ),
    sa.CheckConstraint("party_size BETWEEN 1 AND 40", name="party_size"),
    sa.CheckConstraint("state IN ('waiting','notified','seated','left')", name="state"),
    sa.Index("ix_waitlist_restaurant_day", "restaurant_id", "service_date"),
)

pos_checks = sa.Table(
    "pos_checks",
    metadata,
    _id(),
    _fk("restaurant_id", "restaurants.id"),
    sa.Column("external_id", sa.String(64), nullable=False),
    sa.Column(
        "table_id",
        sa.Integer,
        sa.ForeignKey("dining_tables.id", ondelete="SET NULL"),
        nullable=True,
    ),
    sa.Column(
        "reservation_id",
        sa.Integer,
        sa.ForeignKey("reservations.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("closed_at", UtcDateTime, nullable=True),
    sa.Column("covers", sa.SmallInteger, nullable=False),
    sa.Column("subtotal_minor", sa.Integer, nullable=False, server_default="0"),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.CheckConstraint("covers >= 1", name="covers"),
    sa.CheckConstraint("subtotal_minor >= 0", name="subtotal"),
    sa.CheckConstraint("closed_at IS NULL OR closed_at >= opened_at", name="times"),
    sa.UniqueConstraint("restaurant_id", "external_id"),
)

reviews = sa.Table(
    "reviews",
    metadata,
    _id(),
    _fk("restaurant_id", "restaurants.id", index=True),
    sa.Column(
        "diner_id", sa.Integer, sa.ForeignKey("diners.id", ondelete="SET NULL"), nullable=True
    ),
    sa.Column(
        "reservation_id",
        sa.Integer,
        sa.ForeignKey("reservations.id", ondelete="SET NULL"),
        nullable=True,
        unique=True,
    ),
    sa.Column("rating", sa.SmallInteger, nullable=False),
    sa.Column("text", sa.Text, nullable=False, server_default=""),
    sa.Column("moderation_status", sa.String(10), nullable=False, server_default="pending"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
    sa.CheckConstraint("moderation_status IN ('pending','approved','rejected')", name="moderation"),
)

# Every state change appends one event here, in the same transaction.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column(
        "event_offset",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("event_type", sa.String(60), nullable=False),
    sa.Column("entity", sa.String(30), nullable=False),
    sa.Column("entity_id", sa.Integer, nullable=False),
    sa.Column("restaurant_id", sa.Integer, nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    # PostgreSQL only: the writing transaction's id, so readers never skip an
    # offset that commits after a higher one (see outbox.read_events).
    sa.Column("txid", sa.BigInteger, nullable=True),
    sa.Index("ix_outbox_entity", "entity", "entity_id"),
)

# Real data: covers observed per restaurant and day (e.g. Recruit's visits),
# from which walk-ins are derived as observed minus reserved covers.
observed_covers = sa.Table(
    "observed_covers",
    metadata,
    sa.Column(
        "restaurant_id",
        sa.Integer,
        sa.ForeignKey("restaurants.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("local_date", sa.Date, primary_key=True),
    sa.Column("covers", sa.Integer, nullable=False),
    sa.Column("source", sa.String(20), nullable=False),
)

holidays = sa.Table(
    "holidays",
    metadata,
    sa.Column("country", sa.String(2), primary_key=True),
    sa.Column("local_date", sa.Date, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
)

# Requests the restaurant could not take: the demand a ledger of accepted
# bookings alone would hide.
turnaways = sa.Table(
    "turnaways",
    metadata,
    _id(),
    _fk("restaurant_id", "restaurants.id"),
    sa.Column("service_date", sa.Date, nullable=False),
    sa.Column("requested_start_at", UtcDateTime, nullable=False),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("party_size", sa.SmallInteger, nullable=False),
    sa.Column("channel", sa.String(12), nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    # Who was refused, when known: a retry by the same diner is recorded once.
    sa.Column(
        "diner_id", sa.Integer, sa.ForeignKey("diners.id", ondelete="SET NULL"), nullable=True
    ),
    sa.Index("ix_turnaways_restaurant_day", "restaurant_id", "service_date"),
)

# What the synthetic generator knew: the best achievable scores are judged
# against these, never used as features.
world_reservation_truth = sa.Table(
    "world_reservation_truth",
    metadata,
    sa.Column(
        "reservation_id",
        sa.Integer,
        sa.ForeignKey("reservations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("p_no_show", sa.Float, nullable=False),
    sa.Column("p_late_cancel", sa.Float, nullable=False),
    sa.Column("expected_duration_min", sa.Float, nullable=False),
)

world_diner_truth = sa.Table(
    "world_diner_truth",
    metadata,
    sa.Column(
        "diner_id", sa.Integer, sa.ForeignKey("diners.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("cuisine_affinity", sa.JSON, nullable=False),
    sa.Column("price_preference", sa.Float, nullable=False),
    sa.Column("ambience_affinity", sa.JSON, nullable=False),
    sa.Column("reliability", sa.Float, nullable=False),
)

# ---------------------------------------------------------------- accounts (migration 0002)

# People who sign in: diners (linked to their guest profile), hosts and
# managers (scoped to their restaurants through ``user_restaurants``), admins.
users = sa.Table(
    "users",
    metadata,
    _id(),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(10), nullable=False),
    sa.Column(
        "diner_id", sa.Integer, sa.ForeignKey("diners.id", ondelete="SET NULL"), nullable=True
    ),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("disabled_at", UtcDateTime, nullable=True),
    sa.CheckConstraint("role IN ('diner','host','manager','admin')", name="role"),
)

user_restaurants = sa.Table(
    "user_restaurants",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "restaurant_id",
        sa.Integer,
        sa.ForeignKey("restaurants.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)

# Keys for machines: a POS system (scoped to one restaurant, signs webhooks)
# or an affiliate (books on diners' behalf). Only a hash of the secret is kept.
api_keys = sa.Table(
    "api_keys",
    metadata,
    _id(),
    sa.Column("key_id", sa.String(32), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    _fk("restaurant_id", "restaurants.id", nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.CheckConstraint("kind IN ('pos','affiliate')", name="kind"),
)

# Every POS webhook delivery accepted, by the sender's delivery id: a second
# delivery with the same id is a replay and is refused.
pos_deliveries = sa.Table(
    "pos_deliveries",
    metadata,
    sa.Column(
        "api_key_id", sa.Integer, sa.ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("delivery_id", sa.String(64), primary_key=True),
    sa.Column("event_type", sa.String(30), nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
)

# What hosts did with seating suggestions: accepted as offered or overridden
# with a reason. Kept for good: overrides are training data for the optimizer.
seating_decisions = sa.Table(
    "seating_decisions",
    metadata,
    _id(),
    _fk("restaurant_id", "restaurants.id", index=True),
    sa.Column(
        "reservation_id",
        sa.Integer,
        sa.ForeignKey("reservations.id", ondelete="SET NULL"),
        nullable=True,
    ),
    sa.Column("party_size", sa.SmallInteger, nullable=False),
    sa.Column("decision", sa.String(10), nullable=False),
    sa.Column("suggested_table_ids", sa.JSON, nullable=False),
    sa.Column("chosen_table_ids", sa.JSON, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("suggested_by", sa.String(60), nullable=False),
    sa.Column("decided_by", sa.String(100), nullable=False),
    sa.Column("decided_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("decision IN ('accepted','overridden')", name="decision"),
)
