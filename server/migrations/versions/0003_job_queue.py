"""job queue: background jobs claimable by any service process, with leases

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum("queued", "running", "done", "failed", name="job_status", native_enum=False),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("requeued", sa.Boolean(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "target_id", name="uq_job_target"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_claim", ["status", "created_at"], unique=False)
    # Jobs a service left unfinished before this migration: queue them, so any process picks them up.
    op.execute(
        "INSERT INTO jobs (id, kind, target_id, status, attempts, requeued, error, created_at, updated_at) "
        "SELECT id, 'analysis', id, 'queued', 0, false, '', created_at, created_at FROM analyses "
        "WHERE status IN ('queued', 'running')"
    )
    op.execute(
        "INSERT INTO jobs (id, kind, target_id, status, attempts, requeued, error, created_at, updated_at) "
        "SELECT id, 'home_day', id, 'queued', 0, false, '', updated_at, updated_at FROM home_days "
        "WHERE status IN ('queued', 'running')"
    )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_claim")
    op.drop_table("jobs")
