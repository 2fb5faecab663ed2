"""deposits are paid, by a deadline: the payments received and what is held

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 02:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_RESERVATION_COLUMNS = (
    ("deposit_due_at", "DATETIME", sa.DateTime(timezone=True), None),
    ("deposit_paid_minor", "INTEGER DEFAULT '0' NOT NULL", sa.Integer, "0"),
    ("deposit_refunded_minor", "INTEGER DEFAULT '0' NOT NULL", sa.Integer, "0"),
    ("deposit_paid_at", "DATETIME", sa.DateTime(timezone=True), None),
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # In place, as 0003 to 0010 (a batch rebuild would cascade).
        op.execute(
            "ALTER TABLE restaurants ADD COLUMN deposit_pay_within_minutes INTEGER "
            "DEFAULT '60' NOT NULL"
        )
        for name, ddl, _, _ in _RESERVATION_COLUMNS:
            op.execute(f"ALTER TABLE reservations ADD COLUMN {name} {ddl}")
    else:
        op.add_column(
            "restaurants",
            sa.Column(
                "deposit_pay_within_minutes", sa.Integer, server_default="60", nullable=False
            ),
        )
        for name, _, kind, default in _RESERVATION_COLUMNS:
            op.add_column(
                "reservations",
                sa.Column(name, kind, server_default=default, nullable=default is None),
            )
    op.create_table(
        "deposit_payments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("reservation_id", sa.Integer, nullable=False),
        sa.Column("payment_ref", sa.String(100), nullable=False),
        sa.Column("ref_key", sa.String(140), nullable=False),
        sa.Column("amount_minor", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_deposit_payments_amount")),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_deposit_payments_reservation_id_reservations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit_payments")),
        sa.UniqueConstraint("ref_key", name=op.f("uq_deposit_payments_ref_key")),
    )
    op.create_index(
        op.f("ix_deposit_payments_reservation_id"), "deposit_payments", ["reservation_id"]
    )
    # As schema.DEPOSIT_SWEEP (a migration keeps its own words).
    pending = sa.text("deposit_due_at IS NOT NULL AND state IN ('booked', 'confirmed')")
    op.create_index(
        "ix_reservations_deposit_due",
        "reservations",
        ["deposit_due_at"],
        sqlite_where=pending,
        postgresql_where=pending,
    )
    # Until now a booking's deposit was taken as held from the moment it was
    # booked: record it so, one payment per booking, paid when booked.
    op.execute(
        "INSERT INTO deposit_payments (reservation_id, payment_ref, ref_key, amount_minor, "
        "currency, source, paid_at) SELECT id, 'booked-' || id, 'migration:booked-' || id, "
        "deposit_minor, currency, 'migration', booked_at FROM reservations WHERE deposit_minor > 0"
    )
    op.execute(
        "UPDATE reservations SET deposit_paid_minor = deposit_minor, deposit_paid_at = booked_at "
        "WHERE deposit_minor > 0"
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index("ix_reservations_deposit_due", table_name="reservations")
    op.drop_index(op.f("ix_deposit_payments_reservation_id"), table_name="deposit_payments")
    op.drop_table("deposit_payments")
    for name, *_ in reversed(_RESERVATION_COLUMNS):
        if sqlite:
            op.execute(f"ALTER TABLE reservations DROP COLUMN {name}")
        else:
            op.drop_column("reservations", name)
    if sqlite:
        op.execute("ALTER TABLE restaurants DROP COLUMN deposit_pay_within_minutes")
    else:
        op.drop_column("restaurants", "deposit_pay_within_minutes")
