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
    MetaData,
    String,
    Table,
    Text,
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
#: gateway forwards it; released once the device accepted it; aborted if it could not be.
JOB_STATES = ("held", "releasing", "released", "canceled", "aborted", "expired", "deleted")

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
