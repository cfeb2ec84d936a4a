"""relay packet buckets: IMU packets per session and 15 min of the relay's wall clock, kept at ingest

The service looks for home days with new uploads every few minutes; counting them from ``relay_packets`` read every
packet of every home session each time. The buckets are filled here from the packets already stored.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Frozen copies of server.db.WALL_BUCKET_NS and server.ingest.COMMAND_TYPE_BASE as they were when this ran.
_BUCKET_NS = 15 * 60 * 10**9
_COMMAND_TYPE_BASE = 0x100


def upgrade() -> None:
    op.create_table(
        "relay_packet_buckets",
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("bucket", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("n_packets", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"]),
        sa.PrimaryKeyConstraint("session_id", "bucket"),
    )
    op.execute(
        "INSERT INTO relay_packet_buckets (session_id, bucket, n_packets) "
        f"SELECT session_id, t_wall_ns / {_BUCKET_NS}, count(*) FROM relay_packets "
        f"WHERE ver_type < {_COMMAND_TYPE_BASE} AND t_wall_ns IS NOT NULL "
        f"GROUP BY session_id, t_wall_ns / {_BUCKET_NS}"
    )


def downgrade() -> None:
    op.drop_table("relay_packet_buckets")
