"""home monitoring: daily results per home day, wall-clock time of relay packets, the patient's home settings

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "home_days",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("queued", "running", "done", "failed", name="home_day_status", native_enum=False),
            nullable=False,
        ),
        sa.Column("n_packets", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "date", name="uq_home_day"),
    )
    with op.batch_alter_table("home_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_home_days_session_id"), ["session_id"], unique=False)
    with op.batch_alter_table("relay_packets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("t_wall_ns", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_relay_packets_session_wall", ["session_id", "t_wall_ns"], unique=False)
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("utc_offset_min", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("home_baseline_start", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("home_baseline_end", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("home_baseline_end")
        batch_op.drop_column("home_baseline_start")
        batch_op.drop_column("utc_offset_min")
    with op.batch_alter_table("relay_packets", schema=None) as batch_op:
        batch_op.drop_index("ix_relay_packets_session_wall")
        batch_op.drop_column("t_wall_ns")
    with op.batch_alter_table("home_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_home_days_session_id"))
    op.drop_table("home_days")
