"""The whole chain's pairs of products by local week, and partial indexes on the pairs bought together often, so a
long period's pairs read a few weeks' frequent pairs instead of every day's (headoffice/stats.py).  The weeks are
filled from the day rows already rolled up.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

DAY_OFTEN, WEEK_OFTEN = 3, 2  # as headoffice/db.py has them when this revision was written


def upgrade() -> None:
    name = sa.String(length=64)
    op.create_table(
        "stats_pair_weeks",
        sa.Column("store", name, nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("sku_a", name, nullable=False),
        sa.Column("sku_b", name, nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("store", "week", "sku_a", "sku_b"),
    )
    for table, block, often in (("stats_pairs", "day", DAY_OFTEN), ("stats_pair_weeks", "week", WEEK_OFTEN)):
        where = sa.text(f"orders >= {often}")
        op.create_index(
            f"{table}_often",
            table,
            ["store", block, "sku_a", "sku_b", "orders"],
            postgresql_where=where,
            sqlite_where=where,
        )
    if op.get_bind().dialect.name == "postgresql":
        monday = "to_char(date_trunc('week', day::date), 'YYYY-MM-DD')"
    else:
        monday = "date(day, '-6 days', 'weekday 1')"
    op.execute(
        f"INSERT INTO stats_pair_weeks (store, week, sku_a, sku_b, orders) SELECT store, {monday}, sku_a, sku_b,"
        f" sum(orders) FROM stats_pairs WHERE store = '*' GROUP BY store, {monday}, sku_a, sku_b"
    )


def downgrade() -> None:
    op.drop_index("stats_pairs_often", "stats_pairs")
    op.drop_table("stats_pair_weeks")
