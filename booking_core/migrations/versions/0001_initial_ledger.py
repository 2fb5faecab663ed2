"""initial ledger

Revision ID: 0001
Revises:
Create Date: 2026-11-21 00:57:13.237364
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "diners",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("locale", sa.String(length=16), server_default="en-US", nullable=False),
        sa.Column("dietary", sa.JSON(), nullable=False),
        sa.Column("allergies", sa.JSON(), nullable=False),
        sa.Column("seating_preferences", sa.JSON(), nullable=False),
        sa.Column("marketing_consent", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("home_latitude", sa.Float(), nullable=True),
        sa.Column("home_longitude", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diners")),
        sa.UniqueConstraint("email", name=op.f("uq_diners_email")),
    )
    op.create_table(
        "holidays",
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("country", "local_date", name=op.f("pk_holidays")),
    )
    op.create_table(
        "outbox",
        sa.Column(
            "event_offset",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_type", sa.String(length=60), nullable=False),
        sa.Column("entity", sa.String(length=30), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("event_offset", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_entity", ["entity", "entity_id"], unique=False)

    op.create_table(
        "restaurants",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("cuisines", sa.JSON(), nullable=False),
        sa.Column("menu_highlights", sa.JSON(), nullable=False),
        sa.Column("ambience", sa.String(length=40), server_default="casual", nullable=False),
        sa.Column("price_tier", sa.SmallInteger(), nullable=False),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("address", sa.String(length=300), server_default="", nullable=False),
        sa.Column("city", sa.String(length=100), server_default="", nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("deposit_min_party", sa.SmallInteger(), nullable=True),
        sa.Column("deposit_per_cover_minor", sa.Integer(), server_default="0", nullable=False),
        sa.Column("card_hold_minor", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cancellation_fee_minor", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "cancellation_window_hours", sa.SmallInteger(), server_default="24", nullable=False
        ),
        sa.Column("source", sa.String(length=20), server_default="manual", nullable=False),
        sa.Column("external_ref", sa.String(length=64), nullable=True),
        sa.Column("floor_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180",
            name=op.f("ck_restaurants_geo"),
        ),
        sa.CheckConstraint("price_tier BETWEEN 1 AND 4", name=op.f("ck_restaurants_price_tier")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurants")),
        sa.UniqueConstraint(
            "source", "external_ref", name=op.f("uq_restaurants_source_external_ref")
        ),
    )
    op.create_table(
        "dining_areas",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_dining_areas_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dining_areas")),
        sa.UniqueConstraint(
            "restaurant_id", "name", name=op.f("uq_dining_areas_restaurant_id_name")
        ),
    )
    op.create_table(
        "guest_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("diner_id", sa.Integer(), nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["diner_id"],
            ["diners.id"],
            name=op.f("fk_guest_notes_diner_id_diners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_guest_notes_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guest_notes")),
    )
    with op.batch_alter_table("guest_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guest_notes_diner_id"), ["diner_id"], unique=False)

    op.create_table(
        "guest_tags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("diner_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=60), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("confidence", sa.Float(), server_default="1.0", nullable=False),
        sa.Column("set_by", sa.String(length=100), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("source IN ('host', 'machine')", name=op.f("ck_guest_tags_source")),
        sa.CheckConstraint("confidence BETWEEN 0 AND 1", name=op.f("ck_guest_tags_confidence")),
        sa.ForeignKeyConstraint(
            ["diner_id"],
            ["diners.id"],
            name=op.f("fk_guest_tags_diner_id_diners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guest_tags")),
        sa.UniqueConstraint("diner_id", "tag", name=op.f("uq_guest_tags_diner_id_tag")),
    )
    op.create_table(
        "observed_covers",
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("covers", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_observed_covers_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("restaurant_id", "local_date", name=op.f("pk_observed_covers")),
    )
    op.create_table(
        "service_days",
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("bookings_version", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_service_days_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("restaurant_id", "local_date", name=op.f("pk_service_days")),
    )
    op.create_table(
        "service_periods",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("opens_min", sa.SmallInteger(), nullable=False),
        sa.Column("closes_min", sa.SmallInteger(), nullable=False),
        sa.Column("last_seating_min", sa.SmallInteger(), nullable=False),
        sa.Column("slot_interval_min", sa.SmallInteger(), server_default="15", nullable=False),
        sa.Column("turn_times", sa.JSON(), nullable=False),
        sa.Column("max_covers_per_slot", sa.SmallInteger(), nullable=True),
        sa.Column("max_parties_per_slot", sa.SmallInteger(), nullable=True),
        sa.CheckConstraint(
            "opens_min >= 0 AND opens_min <= last_seating_min AND last_seating_min < closes_min AND closes_min <= 2880",
            name=op.f("ck_service_periods_hours"),
        ),
        sa.CheckConstraint("slot_interval_min > 0", name=op.f("ck_service_periods_slot_interval")),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_service_periods_weekday")),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_service_periods_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_periods")),
    )
    with op.batch_alter_table("service_periods", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_periods_restaurant_id"), ["restaurant_id"], unique=False
        )

    op.create_table(
        "special_dates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("closed", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("note", sa.String(length=200), server_default="", nullable=False),
        sa.Column("opens_min", sa.SmallInteger(), nullable=True),
        sa.Column("closes_min", sa.SmallInteger(), nullable=True),
        sa.Column("last_seating_min", sa.SmallInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_special_dates_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_special_dates")),
        sa.UniqueConstraint(
            "restaurant_id", "local_date", name=op.f("uq_special_dates_restaurant_id_local_date")
        ),
    )
    op.create_table(
        "table_combinations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("min_covers", sa.SmallInteger(), nullable=False),
        sa.Column("max_covers", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint(
            "min_covers >= 1 AND max_covers >= min_covers",
            name=op.f("ck_table_combinations_covers"),
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_table_combinations_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_table_combinations")),
        sa.UniqueConstraint(
            "restaurant_id", "name", name=op.f("uq_table_combinations_restaurant_id_name")
        ),
    )
    with op.batch_alter_table("table_combinations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_table_combinations_restaurant_id"), ["restaurant_id"], unique=False
        )

    op.create_table(
        "turnaways",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("requested_start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("party_size", sa.SmallInteger(), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_turnaways_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turnaways")),
    )
    with op.batch_alter_table("turnaways", schema=None) as batch_op:
        batch_op.create_index(
            "ix_turnaways_restaurant_day", ["restaurant_id", "service_date"], unique=False
        )

    op.create_table(
        "world_diner_truth",
        sa.Column("diner_id", sa.Integer(), nullable=False),
        sa.Column("cuisine_affinity", sa.JSON(), nullable=False),
        sa.Column("price_preference", sa.Float(), nullable=False),
        sa.Column("ambience_affinity", sa.JSON(), nullable=False),
        sa.Column("reliability", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["diner_id"],
            ["diners.id"],
            name=op.f("fk_world_diner_truth_diner_id_diners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("diner_id", name=op.f("pk_world_diner_truth")),
    )
    op.create_table(
        "dining_tables",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("min_covers", sa.SmallInteger(), nullable=False),
        sa.Column("max_covers", sa.SmallInteger(), nullable=False),
        sa.Column("accessible", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.CheckConstraint(
            "min_covers >= 1 AND max_covers >= min_covers", name=op.f("ck_dining_tables_covers")
        ),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["dining_areas.id"],
            name=op.f("fk_dining_tables_area_id_dining_areas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_dining_tables_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dining_tables")),
        sa.UniqueConstraint(
            "restaurant_id", "name", name=op.f("uq_dining_tables_restaurant_id_name")
        ),
    )
    with op.batch_alter_table("dining_tables", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dining_tables_restaurant_id"), ["restaurant_id"], unique=False
        )

    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("diner_id", sa.Integer(), nullable=True),
        sa.Column("guest_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("party_size", sa.SmallInteger(), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("special_requests", sa.Text(), server_default="", nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("accessible_required", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("combination_id", sa.Integer(), nullable=True),
        sa.Column("deposit_required", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("deposit_minor", sa.Integer(), server_default="0", nullable=False),
        sa.Column("card_hold_minor", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cancellation_fee_minor", sa.Integer(), server_default="0", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=20), server_default="live", nullable=False),
        sa.Column("external_ref", sa.String(length=64), nullable=True),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=12), nullable=True),
        sa.Column("no_show_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "cancelled_by IS NULL OR cancelled_by IN ('diner','restaurant')",
            name=op.f("ck_reservations_cby"),
        ),
        sa.CheckConstraint(
            "channel IN ('web','widget','affiliate','phone','walk_in')",
            name=op.f("ck_reservations_channel"),
        ),
        sa.CheckConstraint(
            "state IN ('booked','confirmed','arrived','seated','completed','cancelled','no_show')",
            name=op.f("ck_reservations_state"),
        ),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_reservations_times")),
        sa.CheckConstraint("party_size BETWEEN 1 AND 40", name=op.f("ck_reservations_party_size")),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["dining_areas.id"],
            name=op.f("fk_reservations_area_id_dining_areas"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["combination_id"],
            ["table_combinations.id"],
            name=op.f("fk_reservations_combination_id_table_combinations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["diner_id"],
            ["diners.id"],
            name=op.f("fk_reservations_diner_id_diners"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_reservations_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_reservations_idempotency_key")),
    )
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index("ix_reservations_diner_start", ["diner_id", "start_at"], unique=False)
        batch_op.create_index(
            "ix_reservations_restaurant_day", ["restaurant_id", "service_date"], unique=False
        )

    op.create_table(
        "pos_checks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("table_id", sa.Integer(), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("covers", sa.SmallInteger(), nullable=False),
        sa.Column("subtotal_minor", sa.Integer(), server_default="0", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.CheckConstraint(
            "closed_at IS NULL OR closed_at >= opened_at", name=op.f("ck_pos_checks_times")
        ),
        sa.CheckConstraint("covers >= 1", name=op.f("ck_pos_checks_covers")),
        sa.CheckConstraint("subtotal_minor >= 0", name=op.f("ck_pos_checks_subtotal")),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_pos_checks_reservation_id_reservations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_pos_checks_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["dining_tables.id"],
            name=op.f("fk_pos_checks_table_id_dining_tables"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pos_checks")),
        sa.UniqueConstraint(
            "restaurant_id", "external_id", name=op.f("uq_pos_checks_restaurant_id_external_id")
        ),
    )
    with op.batch_alter_table("pos_checks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pos_checks_reservation_id"), ["reservation_id"], unique=False
        )

    op.create_table(
        "reservation_tables",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reservation_id", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_reservation_tables_reservation_id_reservations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["dining_tables.id"],
            name=op.f("fk_reservation_tables_table_id_dining_tables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservation_tables")),
    )
    with op.batch_alter_table("reservation_tables", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reservation_tables_reservation_id"), ["reservation_id"], unique=False
        )
        batch_op.create_index(
            "ix_reservation_tables_table_start", ["table_id", "start_at"], unique=False
        )

    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("diner_id", sa.Integer(), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "moderation_status", sa.String(length=10), server_default="pending", nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "moderation_status IN ('pending','approved','rejected')",
            name=op.f("ck_reviews_moderation"),
        ),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_reviews_rating")),
        sa.ForeignKeyConstraint(
            ["diner_id"],
            ["diners.id"],
            name=op.f("fk_reviews_diner_id_diners"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_reviews_reservation_id_reservations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_reviews_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("reservation_id", name=op.f("uq_reviews_reservation_id")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reviews_restaurant_id"), ["restaurant_id"], unique=False
        )

    op.create_table(
        "table_claims",
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("granule", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("reservation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_table_claims_reservation_id_reservations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["dining_tables.id"],
            name=op.f("fk_table_claims_table_id_dining_tables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("table_id", "granule", name=op.f("pk_table_claims")),
    )
    with op.batch_alter_table("table_claims", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_table_claims_reservation_id"), ["reservation_id"], unique=False
        )

    op.create_table(
        "table_combination_members",
        sa.Column("combination_id", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["combination_id"],
            ["table_combinations.id"],
            name=op.f("fk_table_combination_members_combination_id_table_combinations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["dining_tables.id"],
            name=op.f("fk_table_combination_members_table_id_dining_tables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "combination_id", "table_id", name=op.f("pk_table_combination_members")
        ),
    )
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("diner_id", sa.Integer(), nullable=True),
        sa.Column("guest_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("party_size", sa.SmallInteger(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quoted_wait_min", sa.SmallInteger(), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "state IN ('waiting','notified','seated','left')",
            name=op.f("ck_waitlist_entries_state"),
        ),
        sa.CheckConstraint(
            "party_size BETWEEN 1 AND 40", name=op.f("ck_waitlist_entries_party_size")
        ),
        sa.ForeignKeyConstraint(
            ["diner_id"],
            ["diners.id"],
            name=op.f("fk_waitlist_entries_diner_id_diners"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_waitlist_entries_reservation_id_reservations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_waitlist_entries_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
    )
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_waitlist_restaurant_day", ["restaurant_id", "service_date"], unique=False
        )

    op.create_table(
        "world_reservation_truth",
        sa.Column("reservation_id", sa.Integer(), nullable=False),
        sa.Column("p_no_show", sa.Float(), nullable=False),
        sa.Column("p_late_cancel", sa.Float(), nullable=False),
        sa.Column("expected_duration_min", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_world_reservation_truth_reservation_id_reservations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("reservation_id", name=op.f("pk_world_reservation_truth")),
    )

    if op.get_bind().dialect.name == "postgresql":
        # Belt and braces on PostgreSQL: besides the granule claims, no two
        # unreleased assignments of one table may overlap in time at all.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE reservation_tables ADD CONSTRAINT ex_reservation_tables_no_overlap "
            "EXCLUDE USING gist (table_id WITH =, tstzrange(start_at, end_at) WITH &&) "
            "WHERE (released_at IS NULL)"
        )


def downgrade() -> None:
    op.drop_table("world_reservation_truth")
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_waitlist_restaurant_day")

    op.drop_table("waitlist_entries")
    op.drop_table("table_combination_members")
    with op.batch_alter_table("table_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_table_claims_reservation_id"))

    op.drop_table("table_claims")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviews_restaurant_id"))

    op.drop_table("reviews")
    with op.batch_alter_table("reservation_tables", schema=None) as batch_op:
        batch_op.drop_index("ix_reservation_tables_table_start")
        batch_op.drop_index(batch_op.f("ix_reservation_tables_reservation_id"))

    op.drop_table("reservation_tables")
    with op.batch_alter_table("pos_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pos_checks_reservation_id"))

    op.drop_table("pos_checks")
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_reservations_restaurant_day")
        batch_op.drop_index("ix_reservations_diner_start")

    op.drop_table("reservations")
    with op.batch_alter_table("dining_tables", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dining_tables_restaurant_id"))

    op.drop_table("dining_tables")
    op.drop_table("world_diner_truth")
    with op.batch_alter_table("turnaways", schema=None) as batch_op:
        batch_op.drop_index("ix_turnaways_restaurant_day")

    op.drop_table("turnaways")
    with op.batch_alter_table("table_combinations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_table_combinations_restaurant_id"))

    op.drop_table("table_combinations")
    op.drop_table("special_dates")
    with op.batch_alter_table("service_periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_periods_restaurant_id"))

    op.drop_table("service_periods")
    op.drop_table("service_days")
    op.drop_table("observed_covers")
    op.drop_table("guest_tags")
    with op.batch_alter_table("guest_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guest_notes_diner_id"))

    op.drop_table("guest_notes")
    op.drop_table("dining_areas")
    op.drop_table("restaurants")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_entity")

    op.drop_table("outbox")
    op.drop_table("holidays")
    op.drop_table("diners")
