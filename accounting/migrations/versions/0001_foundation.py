"""Foundation: users, queues, jobs and their state history.

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("full_name", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "queues",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(127), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_queues"),
        sa.UniqueConstraint("name", name="uq_queues_name"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("queue_id", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("source_host", sa.String(255), nullable=False),
        sa.Column("protocol", sa.String(8), nullable=False),
        sa.Column("client_job_ref", sa.String(64), nullable=False),
        sa.Column("title", sa.String(1024), nullable=False),
        sa.Column("document_format", sa.String(127), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("spool_name", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_reason", sa.String(255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("copies_requested", sa.Integer, nullable=False),
        sa.Column("sides", sa.String(32), nullable=False),
        sa.Column("color_mode", sa.String(32), nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("pdl", sa.String(32), nullable=True),
        sa.Column("pages", sa.Integer, nullable=True),
        sa.Column("copies", sa.Integer, nullable=True),
        sa.Column("impressions", sa.Integer, nullable=True),
        sa.Column("sheets", sa.Integer, nullable=True),
        sa.Column("duplex", sa.Boolean, nullable=True),
        sa.Column("color_pages", sa.Integer, nullable=True),
        sa.Column("mono_pages", sa.Integer, nullable=True),
        sa.Column("analyzer_method", sa.String(16), nullable=True),
        sa.Column("facts", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.ForeignKeyConstraint(["queue_id"], ["queues.id"], name="fk_jobs_queue_id_queues"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_jobs_user_id_users"),
    )
    op.create_index("ix_jobs_state_owner", "jobs", ["state", "owner"])
    op.create_index("ix_jobs_queue_state", "jobs", ["queue_id", "state"])
    op.create_index("ix_jobs_received_at", "jobs", ["received_at"])
    op.create_table(
        "job_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("old_state", sa.String(16), nullable=True),
        sa.Column("new_state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_job_events"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_job_events_job_id_jobs", ondelete="CASCADE"),
    )
    op.create_index("ix_job_events_job_id", "job_events", ["job_id"])


def downgrade():
    op.drop_table("job_events")
    op.drop_table("jobs")
    op.drop_table("queues")
    op.drop_table("users")
