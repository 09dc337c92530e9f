"""Accounting core: groups, cards, accounts, ledger, quotas, prices, devices, rules,
policy records, audit log, secrets, login throttles; decision and charge on jobs.

Revision ID: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NOW = sa.DateTime(timezone=True)


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("cost_center", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("pin_hash", sa.String(255), nullable=True))
        batch.add_column(sa.Column("password_hash", sa.String(255), nullable=True))
    op.add_column("queues", sa.Column("price_list_id", sa.Integer, nullable=True))
    op.add_column("queues", sa.Column("expire_minutes", sa.Integer, nullable=True))
    for column in (
        sa.Column("decision_id", sa.String(36), nullable=True),
        sa.Column("decision_action", sa.String(32), nullable=True),
        sa.Column("decision_rule", sa.String(127), nullable=True),
        sa.Column("decision_message", sa.String(1024), nullable=True),
        sa.Column("decision_changes", sa.Text, nullable=True),
        sa.Column("price_estimate", sa.BigInteger, nullable=True),
        sa.Column("account_id", sa.Integer, nullable=True),
        sa.Column("reserved_amount", sa.BigInteger, nullable=True),
        sa.Column("charged_amount", sa.BigInteger, nullable=True),
        sa.Column("release_device", sa.String(127), nullable=True),
    ):
        op.add_column("jobs", column)
    op.create_index("ix_jobs_state_updated_at", "jobs", ["state", "updated_at"])

    op.create_table(
        "groups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_groups"),
        sa.UniqueConstraint("name", name="uq_groups_name"),
    )
    op.create_table(
        "user_groups",
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("group_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "group_id", name="pk_user_groups"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_user_groups_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name="fk_user_groups_group_id_groups", ondelete="CASCADE"),
    )
    op.create_index("ix_user_groups_group_id", "user_groups", ["group_id"])
    op.create_table(
        "cards",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cards"),
        sa.UniqueConstraint("number", name="uq_cards_number"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_cards_user_id_users", ondelete="CASCADE"),
    )
    op.create_index("ix_cards_user_id", "cards", ["user_id"])
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("parent_id", sa.Integer, nullable=True),
        sa.Column("pin_hash", sa.String(255), nullable=True),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("reserved", sa.BigInteger, nullable=False),
        sa.Column("overdraft_limit", sa.BigInteger, nullable=False),
        sa.Column("restricted", sa.Boolean, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("name", name="uq_accounts_name"),
        sa.UniqueConstraint("user_id", name="uq_accounts_user_id"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_accounts_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["parent_id"], ["accounts.id"], name="fk_accounts_parent_id_accounts"),
    )
    op.create_table(
        "account_members",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("group_id", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_account_members"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_account_members_account_id_accounts",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_account_members_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name="fk_account_members_group_id_groups",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_account_members_account_id", "account_members", ["account_id"])
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.Column("job_id", sa.Integer, nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("created_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_entries"),
        sa.UniqueConstraint("idempotency_key", name="uq_ledger_entries_idempotency_key"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_ledger_entries_account_id_accounts"),
    )
    op.create_index("ix_ledger_entries_job_id", "ledger_entries", ["job_id"])
    op.create_index("ix_ledger_entries_account_id", "ledger_entries", ["account_id", "id"])
    op.create_table(
        "quotas",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("group_id", sa.Integer, nullable=True),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("period_days", sa.Integer, nullable=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("cap", sa.BigInteger, nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quotas"),
        sa.UniqueConstraint("name", name="uq_quotas_name"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_quotas_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name="fk_quotas_group_id_groups", ondelete="CASCADE"),
    )
    op.create_table(
        "quota_grants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("quota_id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("period_start", NOW, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("granted_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quota_grants"),
        sa.UniqueConstraint("quota_id", "account_id", "period_start", name="uq_quota_grants_period"),
        sa.ForeignKeyConstraint(["quota_id"], ["quotas.id"], name="fk_quota_grants_quota_id_quotas", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_quota_grants_account_id_accounts",
                                ondelete="CASCADE"),
    )
    op.create_table(
        "price_lists",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(127), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("job_fee", sa.BigInteger, nullable=False),
        sa.Column("sheet_fee", sa.BigInteger, nullable=False),
        sa.Column("duplex_discount_permille", sa.Integer, nullable=False),
        sa.Column("unknown_pages", sa.Integer, nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_price_lists"),
        sa.UniqueConstraint("name", name="uq_price_lists_name"),
    )
    op.create_table(
        "price_list_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("price_list_id", sa.Integer, nullable=False),
        sa.Column("media", sa.String(32), nullable=False),
        sa.Column("color", sa.Boolean, nullable=False),
        sa.Column("per_side_milli", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_price_list_items"),
        sa.UniqueConstraint("price_list_id", "media", "color", name="uq_price_list_items_entry"),
        sa.ForeignKeyConstraint(["price_list_id"], ["price_lists.id"], name="fk_price_list_items_price_list_id_price_lists",
                                ondelete="CASCADE"),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(127), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("serial", sa.String(127), nullable=False),
        sa.Column("mac", sa.String(32), nullable=False),
        sa.Column("location", sa.String(255), nullable=False),
        sa.Column("device_class", sa.String(64), nullable=False),
        sa.Column("color", sa.Boolean, nullable=False),
        sa.Column("duplex", sa.Boolean, nullable=False),
        sa.Column("media", sa.Text, nullable=False),
        sa.Column("protocol", sa.String(8), nullable=False),
        sa.Column("endpoint", sa.String(1024), nullable=False),
        sa.Column("price_list_id", sa.Integer, nullable=True),
        sa.Column("queue_id", sa.Integer, nullable=True),
        sa.Column("credential_secret", sa.String(127), nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_devices"),
        sa.UniqueConstraint("name", name="uq_devices_name"),
        sa.ForeignKeyConstraint(["price_list_id"], ["price_lists.id"], name="fk_devices_price_list_id_price_lists"),
        sa.ForeignKeyConstraint(["queue_id"], ["queues.id"], name="fk_devices_queue_id_queues"),
    )
    op.create_table(
        "rules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(127), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("conditions", sa.Text, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.Column("updated_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rules"),
        sa.UniqueConstraint("name", name="uq_rules_name"),
    )
    op.create_table(
        "policy_records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("at", NOW, nullable=False),
        sa.Column("workstation", sa.String(255), nullable=False),
        sa.Column("server", sa.String(255), nullable=False),
        sa.Column("queue", sa.String(127), nullable=False),
        sa.Column("document_name", sa.String(1024), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("duplex", sa.Boolean, nullable=True),
        sa.Column("color", sa.Boolean, nullable=True),
        sa.Column("impressions", sa.Integer, nullable=True),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
        sa.Column("notified", sa.Boolean, nullable=False),
        sa.Column("message", sa.String(1024), nullable=False),
        sa.Column("rule_name", sa.String(127), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_policy_records"),
        sa.UniqueConstraint("decision_id", name="uq_policy_records_decision_id"),
    )
    op.create_index("ix_policy_records_at", "policy_records", ["at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", NOW, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("old_value", sa.Text, nullable=True),
        sa.Column("new_value", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "secrets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(127), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_secrets"),
        sa.UniqueConstraint("name", name="uq_secrets_name"),
    )
    op.create_table(
        "login_throttles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", NOW, nullable=True),
        sa.Column("updated_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_throttles"),
        sa.UniqueConstraint("scope", "key", name="uq_login_throttles_scope"),
    )


def downgrade():
    for table in ("login_throttles", "secrets", "audit_log", "policy_records", "rules", "devices",
                  "price_list_items", "price_lists", "quota_grants", "quotas", "ledger_entries",
                  "account_members", "accounts", "cards", "user_groups", "groups"):
        op.drop_table(table)
    op.drop_index("ix_jobs_state_updated_at", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        for name in ("release_device", "charged_amount", "reserved_amount", "account_id", "price_estimate",
                     "decision_changes", "decision_rule", "decision_message", "decision_action", "decision_id"):
            batch.drop_column(name)
    with op.batch_alter_table("queues") as batch:
        batch.drop_column("expire_minutes")
        batch.drop_column("price_list_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_hash")
        batch.drop_column("pin_hash")
        batch.drop_column("cost_center")
