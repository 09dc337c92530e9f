"""Directory sync and notices (issue 18): where users, cards and groups came from; the
directory entry of each directory user and group; sync runs; per-user notice choices;
notices already sent; a low-balance threshold per account.

Revision ID: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NOW = sa.DateTime(timezone=True)


def upgrade():
    op.add_column("cards", sa.Column("source", sa.String(16), nullable=False, server_default="local"))
    op.add_column("groups", sa.Column("source", sa.String(16), nullable=False, server_default="local"))
    op.add_column("accounts", sa.Column("low_balance_threshold", sa.BigInteger, nullable=True))
    op.create_table(
        "directory_users",
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("dn", sa.String(1024), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("disabled_by_sync", sa.Boolean, nullable=False),
        sa.Column("seen_at", NOW, nullable=False),
        sa.Column("entry_digest", sa.BigInteger, nullable=True),
        sa.Column("cards", sa.Text, nullable=False, server_default=""),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_directory_users_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name="pk_directory_users"),
    )
    op.create_table(
        "directory_groups",
        sa.Column("group_id", sa.Integer, nullable=False),
        sa.Column("dn", sa.String(1024), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("seen_at", NOW, nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name="fk_directory_groups_group_id_groups",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", name="pk_directory_groups"),
    )
    op.create_table(
        "directory_syncs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("started_at", NOW, nullable=False),
        sa.Column("finished_at", NOW, nullable=True),
        sa.Column("server", sa.String(255), nullable=False),
        sa.Column("watermark", sa.String(32), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("added", sa.Integer, nullable=False),
        sa.Column("changed", sa.Integer, nullable=False),
        sa.Column("disabled", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Integer, nullable=False),
        sa.Column("unchanged", sa.Integer, nullable=False),
        sa.Column("problem_count", sa.Integer, nullable=False),
        sa.Column("problems", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_directory_syncs"),
    )
    op.create_table(
        "notice_preferences",
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("notice", sa.String(32), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_notice_preferences_user_id_users",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "notice", name="pk_notice_preferences"),
    )
    op.create_table(
        "notices_sent",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("notice", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("sent_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notices_sent"),
        sa.UniqueConstraint("notice", "subject", name="uq_notices_sent_subject"),
    )


def downgrade():
    for table in ("notices_sent", "notice_preferences", "directory_syncs", "directory_groups", "directory_users"):
        op.drop_table(table)
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("low_balance_threshold")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("source")
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("source")
