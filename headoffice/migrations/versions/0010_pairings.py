"""Pairing new kiosks: the kiosks' requests, the technicians' approvals and what each kiosk collects.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    name = sa.String(length=64)
    op.create_table(
        "pairings",
        sa.Column("id", name, nullable=False),
        sa.Column("code_hash", name, nullable=False),
        sa.Column("poll_hash", name, nullable=False),
        sa.Column("serial", name, nullable=False),
        sa.Column("firmware", name, nullable=False),
        sa.Column("csr", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("store", name, nullable=True),
        sa.Column("kiosk", name, nullable=True),
        sa.Column("order_prefix", sa.String(length=8), nullable=True),
        sa.Column("approved_by", name, nullable=True),
        sa.Column("approved_at", sa.Float(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("collected_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("pairings_code", "pairings", ["code_hash"])
    op.create_index("pairings_kiosk", "pairings", ["store", "kiosk"], unique=True)
    op.create_index("pairings_prefix", "pairings", ["order_prefix"], unique=True)


def downgrade() -> None:
    op.drop_table("pairings")
