"""The web console: payments' failure reasons, who closed an alert and why, telemetry over time, the audit log.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("reason", sa.String(length=64), nullable=True))
    op.create_index("payments_time", "payments", ["updated_at"])
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("closed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    op.create_table(
        "telemetry_history",
        sa.Column("n", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("kiosk", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("n"),
    )
    op.create_index("telemetry_kiosk_time", "telemetry_history", ["store", "kiosk", "at"])
    op.create_table(
        "audit_log",
        sa.Column("n", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("user", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("command_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("n"),
    )
    op.create_index("audit_time", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("telemetry_history")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("note")
        batch.drop_column("closed_by")
    op.drop_index("payments_time", "payments")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("reason")
