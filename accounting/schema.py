"""Every table of Printgate, in one metadata (the Buildbot habit).

Timestamps are UTC. Money, when it arrives, is integer minor units. JSON documents
(analyzer facts, protocol attributes) are stored as text so both SQLite and PostgreSQL
hold them the same way.
"""
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(255), nullable=False, unique=True),
    Column("full_name", String(255), nullable=False, default=""),
    Column("email", String(320), nullable=False, default=""),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("source", String(16), nullable=False, default="local"),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

queues = Table(
    "queues",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(127), nullable=False, unique=True),
    Column("description", String(255), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: A job's life: held until released (or canceled/expired/deleted); releasing while the
#: gateway forwards it; released once the device accepted it and it was charged;
#: charge_pending when the device accepted it but the charge could not be written yet
#: (never offered for release again; charged by the gateway's retries); aborted if it
#: could not be sent; refused (never held: a rule or the balance refused it at intake; the
#: row records the refusal, with no bytes).
JOB_STATES = ("held", "releasing", "released", "charge_pending", "canceled", "aborted", "expired", "deleted",
              "refused")

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("queue_id", Integer, ForeignKey("queues.id"), nullable=False),
    Column("owner", String(255), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("source_host", String(255), nullable=False),
    Column("protocol", String(8), nullable=False),
    Column("client_job_ref", String(64), nullable=False, default=""),
    Column("title", String(1024), nullable=False, default=""),
    Column("document_format", String(127), nullable=False, default="application/octet-stream"),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("spool_name", String(64), nullable=True),
    Column("state", String(16), nullable=False),
    Column("state_reason", String(255), nullable=False, default=""),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("copies_requested", Integer, nullable=False, default=1),
    Column("sides", String(32), nullable=False, default=""),
    Column("color_mode", String(32), nullable=False, default=""),
    Column("attributes", Text, nullable=False, default="{}"),
    # What the page analyzer found (issue "Page analyzer"); NULL while unknown.
    Column("pdl", String(32), nullable=True),
    Column("pages", Integer, nullable=True),
    Column("copies", Integer, nullable=True),
    Column("impressions", Integer, nullable=True),
    Column("sheets", Integer, nullable=True),
    Column("duplex", Boolean, nullable=True),
    Column("color_pages", Integer, nullable=True),
    Column("mono_pages", Integer, nullable=True),
    Column("analyzer_method", String(16), nullable=True),
    Column("facts", Text, nullable=True),
    Index("ix_jobs_state_owner", "state", "owner"),
    Index("ix_jobs_queue_state", "queue_id", "state"),
    Index("ix_jobs_received_at", "received_at"),
)

#: The encrypted spool bytes of small live jobs (``spooler.spool``), written in the same
#: transaction as the job row so that one commit makes a small job durable, and deleted in
#: the transaction that ends the job. ``node`` names the spool key they are encrypted
#: with: only that node can read them, as only it can read its spool files.
spool_blobs = Table(
    "spool_blobs",
    metadata,
    Column("spool_name", String(64), primary_key=True),
    Column("node", String(32), nullable=False),
    Column("data", LargeBinary, nullable=False),
)

job_events = Table(
    "job_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("old_state", String(16), nullable=True),
    Column("new_state", String(16), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("reason", String(255), nullable=False, default=""),
)


# -- 0002: accounting core -------------------------------------------------------------
# Money columns are BigInteger minor units of the configured currency. Ledger rows are
# never updated or deleted: a balance is always the sum of its account's ledger.

groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("description", String(255), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

user_groups = Table(
    "user_groups",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_user_groups_group_id", "group_id"),
)

#: Extra columns on ``users`` (added by 0002).
users.append_column(Column("cost_center", String(64), nullable=False, default="", server_default=""))
users.append_column(Column("pin_hash", String(255), nullable=True))
users.append_column(Column("password_hash", String(255), nullable=True))

cards = Table(
    "cards",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("number", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: ``kind`` is "personal" (one per user) or "shared" (cost centers, client codes).
#: ``reserved`` is money set aside by releases in progress; it is not in the ledger.
accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True, unique=True),
    Column("parent_id", Integer, ForeignKey("accounts.id"), nullable=True),
    Column("pin_hash", String(255), nullable=True),
    Column("balance", BigInteger, nullable=False, default=0),
    Column("reserved", BigInteger, nullable=False, default=0),
    Column("overdraft_limit", BigInteger, nullable=False, default=0),
    Column("restricted", Boolean, nullable=False, default=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: Who may charge a shared account: a user or a whole group.
account_members = Table(
    "account_members",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), nullable=True),
)

LEDGER_KINDS = ("charge", "refund", "topup", "quota-grant", "adjustment")

#: ``job_id`` is deliberately not a foreign key: the ledger outlives job retention.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("job_id", Integer, nullable=True, index=True),
    Column("actor", String(255), nullable=False),
    Column("reason", String(255), nullable=False, default=""),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_ledger_entries_account_id", "account_id", "id"),
)

#: A scheduled allowance granted to a user's personal account, or to every member of
#: a group. ``period`` is daily / weekly / monthly / custom (``period_days``).
quotas = Table(
    "quotas",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), nullable=True),
    Column("period", String(16), nullable=False),
    Column("period_days", Integer, nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("cap", BigInteger, nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: One row per quota, account and period: granting twice in a period is impossible.
quota_grants = Table(
    "quota_grants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("quota_id", Integer, ForeignKey("quotas.id", ondelete="CASCADE"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("quota_id", "account_id", "period_start", name="uq_quota_grants_period"),
)

price_lists = Table(
    "price_lists",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(127), nullable=False, unique=True),
    Column("currency", String(3), nullable=False, default="EUR"),
    Column("job_fee", BigInteger, nullable=False, default=0),
    Column("sheet_fee", BigInteger, nullable=False, default=0),
    Column("duplex_discount_permille", Integer, nullable=False, default=0),
    Column("unknown_pages", Integer, nullable=False, default=1),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: Price per printed side, in thousandths of a minor unit, by media size and color.
#: ``media`` "*" is the fallback for sizes without their own row.
price_list_items = Table(
    "price_list_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("price_list_id", Integer, ForeignKey("price_lists.id", ondelete="CASCADE"), nullable=False),
    Column("media", String(32), nullable=False),
    Column("color", Boolean, nullable=False),
    Column("per_side_milli", BigInteger, nullable=False),
    UniqueConstraint("price_list_id", "media", "color", name="uq_price_list_items_entry"),
)

# No foreign key here: adding one to an existing SQLite table means rebuilding it.
queues.append_column(Column("price_list_id", Integer, nullable=True))
queues.append_column(Column("expire_minutes", Integer, nullable=True))

devices = Table(
    "devices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(127), nullable=False, unique=True),
    Column("model", String(255), nullable=False, default=""),
    Column("serial", String(127), nullable=False, default=""),
    Column("mac", String(32), nullable=False, default=""),
    Column("location", String(255), nullable=False, default=""),
    Column("device_class", String(64), nullable=False, default=""),
    Column("color", Boolean, nullable=False, default=False),
    Column("duplex", Boolean, nullable=False, default=False),
    Column("media", Text, nullable=False, default="[]"),
    Column("protocol", String(8), nullable=False, default="ipp"),
    Column("endpoint", String(1024), nullable=False, default=""),
    Column("price_list_id", Integer, ForeignKey("price_lists.id"), nullable=True),
    Column("queue_id", Integer, ForeignKey("queues.id"), nullable=True),
    Column("credential_secret", String(127), nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: Ordered rules: ``conditions`` and ``params`` are JSON documents (see accounting.rules).
rules = Table(
    "rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(127), nullable=False, unique=True),
    Column("position", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("conditions", Text, nullable=False, default="{}"),
    Column("action", String(32), nullable=False),
    Column("params", Text, nullable=False, default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Every refused or changed job, as the policy report shows it.
policy_records = Table(
    "policy_records",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("decision_id", String(36), nullable=False, unique=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("workstation", String(255), nullable=False),
    Column("server", String(255), nullable=False),
    Column("queue", String(127), nullable=False),
    Column("document_name", String(1024), nullable=False),
    Column("username", String(255), nullable=False),
    Column("duplex", Boolean, nullable=True),
    Column("color", Boolean, nullable=True),
    Column("impressions", Integer, nullable=True),
    Column("price", BigInteger, nullable=False),
    Column("action", String(32), nullable=False),
    Column("changes", Text, nullable=False, default="{}"),
    Column("notified", Boolean, nullable=False, default=False),
    Column("message", String(1024), nullable=False),
    Column("rule_name", String(127), nullable=False),
)

#: Extra columns on ``jobs``: the intake decision, price and charge.
jobs.append_column(Column("decision_id", String(36), nullable=True))
jobs.append_column(Column("decision_action", String(32), nullable=True))
jobs.append_column(Column("decision_rule", String(127), nullable=True))
jobs.append_column(Column("decision_message", String(1024), nullable=True))
jobs.append_column(Column("decision_changes", Text, nullable=True))
jobs.append_column(Column("price_estimate", BigInteger, nullable=True))
jobs.append_column(Column("account_id", Integer, nullable=True))
jobs.append_column(Column("reserved_amount", BigInteger, nullable=True))
jobs.append_column(Column("charged_amount", BigInteger, nullable=True))
jobs.append_column(Column("release_device", String(127), nullable=True))
Index("ix_jobs_state_updated_at", jobs.c.state, jobs.c.updated_at)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor", String(255), nullable=False),
    Column("source", String(255), nullable=False, default=""),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False, default=""),
    Column("old_value", Text, nullable=True),
    Column("new_value", Text, nullable=True),
)

#: Values encrypted with a key kept outside the database (accounting.secrets).
secrets = Table(
    "secrets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(127), nullable=False, unique=True),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Failed-login counters per user and per device (``scope`` "user" or "device").
login_throttles = Table(
    "login_throttles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scope", String(16), nullable=False),
    Column("key", String(255), nullable=False),
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("scope", "key", name="uq_login_throttles_scope"),
)


# -- 0010: issue 14, the admin's day one ---------------------------------------------
#: When ``printgate users delete`` removed the person (NULL: not deleted). The row stays
#: so that their jobs, ledger and audit keep referring to someone.
users.append_column(Column("deleted_at", DateTime(timezone=True), nullable=True))
# -- 0006: fleet over SNMP (issue 17) --------------------------------------------------
# Credentials are listed here in the order they are tried; their community or keys are
# secrets (``snmp/<name>`` in ``secrets``). A fleet device is a printer found by
# discovery: "discovered" until an admin approves it, which registers it in ``devices``
# (``device_name``). JSON documents (information, alerts, supplies) are text.

snmp_credentials = Table(
    "snmp_credentials",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("position", Integer, nullable=False),
    Column("version", String(2), nullable=False),
    Column("username", String(255), nullable=False, default=""),
    Column("auth_protocol", String(16), nullable=False, default=""),
    Column("priv_protocol", String(16), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

fleet_devices = Table(
    "fleet_devices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("address", String(64), nullable=False),
    Column("port", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("device_name", String(127), nullable=True, unique=True),
    Column("credential", String(64), nullable=True),
    Column("vendor_oid", String(255), nullable=False, default=""),
    Column("vendor", String(64), nullable=False, default=""),
    Column("model", String(255), nullable=False, default=""),
    Column("serial", String(255), nullable=False, default=""),
    Column("mac", String(32), nullable=False, default=""),
    Column("location", String(255), nullable=False, default=""),
    Column("info", Text, nullable=False, default="{}"),
    Column("health", String(16), nullable=False, default="unknown"),
    Column("health_reason", String(255), nullable=False, default=""),
    Column("printer_status", String(16), nullable=False, default="unknown"),
    Column("errors", Text, nullable=False, default="[]"),
    Column("alerts", Text, nullable=False, default="[]"),
    Column("supplies", Text, nullable=False, default="[]"),
    Column("life_count", BigInteger, nullable=True),
    Column("counter_unit", String(32), nullable=False, default="impressions"),
    Column("color_count", BigInteger, nullable=True),
    Column("mono_count", BigInteger, nullable=True),
    Column("discovered_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=True),
    Column("status_at", DateTime(timezone=True), nullable=True),
    Column("counters_at", DateTime(timezone=True), nullable=True),
    Column("info_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("address", "port", name="uq_fleet_devices_address"),
)

#: Alerts (polled or trapped), health changes and flagged counters, per device.
fleet_events = Table(
    "fleet_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fleet_device_id", Integer, ForeignKey("fleet_devices.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("severity", String(32), nullable=False, default=""),
    Column("code", Integer, nullable=True),
    Column("description", String(255), nullable=False, default=""),
    Column("source", String(64), nullable=False, default=""),
    Index("ix_fleet_events_device", "fleet_device_id", "id"),
)

fleet_status_history = Table(
    "fleet_status_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fleet_device_id", Integer, ForeignKey("fleet_devices.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("health", String(16), nullable=False),
    Column("printer_status", String(16), nullable=False),
    Column("errors", Text, nullable=False, default="[]"),
    Column("alerts", Text, nullable=False, default="[]"),
    Column("supplies", Text, nullable=False, default="[]"),
    Index("ix_fleet_status_history_device", "fleet_device_id", "id"),
)

#: Page counter reads: "poll" (every few hours), "release" (after a job), "period"
#: (the automated meter read for billing; one per device and period). ``flag`` marks a
#: counter that went backwards, jumped or wrapped: such a read is never trusted.
meter_reads = Table(
    "meter_reads",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fleet_device_id", Integer, ForeignKey("fleet_devices.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("life_count", BigInteger, nullable=True),
    Column("color_count", BigInteger, nullable=True),
    Column("mono_count", BigInteger, nullable=True),
    Column("reason", String(16), nullable=False),
    Column("flag", String(32), nullable=True),
    Column("period_start", DateTime(timezone=True), nullable=True),
    UniqueConstraint("fleet_device_id", "period_start", name="uq_meter_reads_period"),
)

#: Expected against counted impressions per released job. ``job_id`` is not a foreign
#: key: like the ledger, it outlives the job's row.
job_meter_checks = Table(
    "job_meter_checks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, nullable=False, unique=True),
    Column("device_name", String(127), nullable=False),
    Column("expected", Integer, nullable=True),
    Column("counted", Integer, nullable=True),
    Column("before_count", BigInteger, nullable=True),
    Column("after_count", BigInteger, nullable=True),
    Column("outcome", String(24), nullable=False),
    Column("refunded", BigInteger, nullable=False, default=0),
    Column("note", String(255), nullable=False, default=""),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
)


# -- 0007 (issue 18): directory sync, notices ------------------------------------------
# Where a user, card or group came from: "local" (typed in, linked at a panel), "auto"
# (users first seen on a job) or "directory" (kept in step by the directory sync).
cards.append_column(Column("source", String(16), nullable=False, default="local", server_default="local"))
groups.append_column(Column("source", String(16), nullable=False, default="local", server_default="local"))
#: Below this balance (minor units) the owner is told their balance is low; NULL: the
#: configured default.
accounts.append_column(Column("low_balance_threshold", BigInteger, nullable=True))

#: The directory entry each directory user was imported from, and a digest of what was
#: imported (an unchanged entry needs no write). ``disabled_by_sync``: the sync disabled
#: the user (gone from the directory, or disabled there) and may enable them again; a
#: user an admin disabled stays disabled. ``entry_digest``: a keyed 64-bit digest of the
#: entry's bytes as the server sent them (an entry sent the same again is known without
#: reading it); ``cards``: the card numbers the directory gives the user, one a line,
#: including any withheld for now (held by two users, or by someone else locally).
directory_users = Table(
    "directory_users",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("dn", String(1024), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("disabled_by_sync", Boolean, nullable=False, default=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Column("entry_digest", BigInteger, nullable=True),
    Column("cards", Text, nullable=False, default="", server_default=""),
)

directory_groups = Table(
    "directory_groups",
    metadata,
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("dn", String(1024), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

#: One row per sync run. ``watermark``: the server's clock when the run started (what
#: the next incremental run asks "changed since"); ``problems``: a JSON list, the first
#: few hundred.
directory_syncs = Table(
    "directory_syncs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("server", String(255), nullable=False, default=""),
    Column("watermark", String(32), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("added", Integer, nullable=False, default=0),
    Column("changed", Integer, nullable=False, default=0),
    Column("disabled", Integer, nullable=False, default=0),
    Column("enabled", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("problem_count", Integer, nullable=False, default=0),
    Column("problems", Text, nullable=False, default="[]"),
    Column("error", Text, nullable=False, default=""),
)

#: A user's choice about one kind of notice (absent: the configured default).
notice_preferences = Table(
    "notice_preferences",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("notice", String(32), primary_key=True),
    Column("enabled", Boolean, nullable=False),
)

#: Notices that must go once per occasion (a job about to expire, a balance that fell
#: below its threshold, a quota nearly used up): the row is the "already told".
notices_sent = Table(
    "notices_sent",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("notice", String(32), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("notice", "subject", name="uq_notices_sent_subject"),
)

# -- 0009: issue 20 (intake) ------------------------------------------------------------
#: The job's page analysis needs Ghostscript and runs after the job was stored and
#: acknowledged; until it has, the job's facts are not final and it is not releasable.
jobs.append_column(Column("analysis_pending", Boolean, nullable=False, default=False, server_default=false()))


# -- 0005: finance (issue 15): chargeback facts on the ledger, closed periods, schedules ----
# A ledger row keeps what it was charged for as it was when it was posted — the cost
# center, the person, their group, the device, queue and price list, and the printed
# counts — so a report of any period never changes when people move, jobs are purged by
# retention, or prices change. NULL on rows that are no charge (top-ups, grants) and on
# rows posted before 0005.
for _column in (
    Column("cost_center", String(64), nullable=True),
    Column("username", String(255), nullable=True),
    Column("group_name", String(255), nullable=True),
    Column("device", String(127), nullable=True),
    Column("queue", String(127), nullable=True),
    Column("price_list", String(127), nullable=True),
    Column("pages", Integer, nullable=True),
    Column("copies", Integer, nullable=True),
    Column("impressions", Integer, nullable=True),
    Column("sheets", Integer, nullable=True),
    Column("color_impressions", Integer, nullable=True),
    Column("mono_impressions", Integer, nullable=True),
    Column("duplex", Boolean, nullable=True),
    # The entry an adjustment corrects (an entry of a closed period, typically).
    Column("corrects_entry_id", Integer, nullable=True),
):
    ledger_entries.append_column(_column)
Index("ix_ledger_entries_created_at", ledger_entries.c.created_at)

#: The cost center a shared account's charges go to (empty: the account's own name).
accounts.append_column(Column("cost_center", String(64), nullable=False, default="", server_default=""))

#: A month whose figures are frozen: no ledger row may be dated inside [starts_at,
#: ends_at) once it is here (checked by ``accounting.periods`` and by a trigger).
closed_periods = Table(
    "closed_periods",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("period", String(7), nullable=False, unique=True),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=False),
    Column("closed_by", String(255), nullable=False),
)

#: Calendar schedules (``printgate schedule``): what to run (``kind`` and ``params``, a
#: JSON document), when (``cadence``, a cron expression in the configured zone) and where
#: the result goes (``destinations``, a JSON list of URLs).
schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(127), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("cadence", String(127), nullable=False),
    Column("params", Text, nullable=False, default="{}"),
    Column("destinations", Text, nullable=False, default="[]"),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("next_run_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: One run of a schedule: its output, the destinations still to deliver to, and the
#: retries (``next_attempt_at``) of those that failed.
schedule_runs = Table(
    "schedule_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("schedule_id", Integer, ForeignKey("schedules.id", ondelete="CASCADE"), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("pending", Text, nullable=False, default="[]"),
    Column("output", String(1024), nullable=True),
    Column("error", String(1024), nullable=False, default=""),
    Index("ix_schedule_runs_schedule_id", "schedule_id", "id"),
    Index("ix_schedule_runs_status", "status", "next_attempt_at"),
)


# -- issue 14 and 20, panel and release (migration 0008) --------------------------------
#: Locks in a row of a login throttle key: each lasts twice as long as the one before
#: (``accounting.logins``); a success sets it back to 0.
login_throttles.append_column(Column("lockouts", Integer, nullable=False, default=0, server_default="0"))
#: A job held by a ``hold-confirm`` rule is released only once its owner confirmed it.
jobs.append_column(Column("confirmed_at", DateTime(timezone=True), nullable=True))
jobs.append_column(Column("confirmed_by", String(255), nullable=True))


# -- 0011: issue 16, web pages: roles, second factors, the access log ----------------
#: Who may do more than print: "admin" or "finance" (``printgate users grant``).
ROLES = ("admin", "finance")

user_roles = Table(
    "user_roles",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), primary_key=True),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("granted_by", String(255), nullable=False, default=""),
)

#: A user's TOTP enrolment (the shared secret itself is in ``secrets`` as ``totp/<user id>``).
#: ``last_step`` is the newest time step accepted: a code is good once.
totp_factors = Table(
    "totp_factors",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
    Column("last_step", BigInteger, nullable=False, default=0),
)

#: One-time recovery codes, kept as SHA-256 hashes (each has 50 random bits).
recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
)

#: Web logins, logouts, failed logins and uses of a privilege, with where from.
access_log = Table(
    "access_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("username", String(255), nullable=False),
    Column("event", String(32), nullable=False),
    Column("address", String(64), nullable=False, default=""),
    Column("user_agent", String(255), nullable=False, default=""),
    Column("detail", String(255), nullable=False, default=""),
)

#: A person's history page and the admin's job list filtered by owner, newest first.
Index("ix_jobs_owner_received_at", jobs.c.owner, jobs.c.received_at)
