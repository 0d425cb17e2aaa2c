"""The tables of the reference backend: auth, workspaces, the data API, the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..clock import utcnow
from .types import JSONType, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Model(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


def table_of(model: type[Model]) -> Table:
    """The Core ``Table`` of a mapped class. Statements on it and run on a connection skip the
    ORM's statement machinery, which costs more than a small statement on the write path."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class User(Model):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), default="user")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    preferences: Mapped[dict[str, Any]] = mapped_column(default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuthSession(Model):
    """One login: the family of refresh tokens rotated from it, revoked as a whole."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(512), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)

    user: Mapped[User] = relationship(lazy="raise")


class RefreshToken(Model):
    """A single-use refresh token, stored only as its SHA-256 digest."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class Workspace(Model):
    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkspaceMember(Model):
    __tablename__ = "workspace_members"

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    #: The ``seq`` of the event that made them a member (set by ``events.append``): they see
    #: the workspace's events from there on, none from before they joined. 0 for memberships
    #: older than this column, which keep seeing what retention kept.
    joined_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="raise")


class AttemptCounter(Model):
    """One fixed window of a limit on attempts (login failures, sign-ups): see
    ``security.attempts``. ``key`` is a digest of what is counted (an email, an IP)."""

    __tablename__ = "attempt_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    #: Unix seconds after which the window no longer counts (housekeeping deletes it).
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


class AuditEntry(Model):
    """One write, kept after the workspace it touched is gone (no foreign keys on purpose)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_workspace_id_id", "workspace_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    workspace_id: Mapped[str | None] = mapped_column(String(32), default=None)
    user_id: Mapped[str | None] = mapped_column(String(32), default=None)
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(64), default=None)
    request_id: Mapped[str | None] = mapped_column(String(128), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DataBase(Model):
    """A base: the container of tables inside a workspace (contract §5)."""

    __tablename__ = "bases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DataTable(Model):
    """A table. ``workspace_id`` is denormalised so that access checks need no extra join.

    ``next_autonumber`` and ``record_count`` change with every record insert and delete, in the
    same transaction; the row is the lock that orders concurrent inserts into one table.
    """

    __tablename__ = "data_tables"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    base_id: Mapped[str] = mapped_column(ForeignKey("bases.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    primary_field_id: Mapped[str | None] = mapped_column(String(32), default=None)
    next_autonumber: Mapped[int] = mapped_column(BigInteger, default=1)
    record_count: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DataField(Model):
    """A column of a table. Records key their values by field id, so renames touch no record."""

    __tablename__ = "fields"
    __table_args__ = (UniqueConstraint("table_id", "name", name="uq_fields_table_id_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    table_id: Mapped[str] = mapped_column(
        ForeignKey("data_tables.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DataView(Model):
    """A saved way to look at a table; its configuration names fields by id."""

    __tablename__ = "views"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    table_id: Mapped[str] = mapped_column(
        ForeignKey("data_tables.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer, default=0)
    configuration: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DataRecord(Model):
    """A row. ``fields`` maps field id to stored value; computed fields come from the columns."""

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("table_id", "autonumber", name="uq_records_table_id_autonumber"),
        # Containment (``@>``) filters on select, multiselect and links use it on PostgreSQL.
        Index(
            "ix_records_fields_gin",
            "fields",
            postgresql_using="gin",
            postgresql_ops={"fields": "jsonb_path_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    table_id: Mapped[str] = mapped_column(ForeignKey("data_tables.id", ondelete="CASCADE"))
    autonumber: Mapped[int] = mapped_column(BigInteger)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(32), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(32), default=None)


class Event(Model):
    """One change, at its gap-free global position ``seq`` (contract §8). No foreign keys: an
    event outlives what it describes."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_workspace_id_seq", "workspace_id", "seq"),
        Index("ix_events_table_id_seq", "table_id", "seq"),
        Index("ix_events_aggregate_id_seq", "aggregate_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    workspace_id: Mapped[str | None] = mapped_column(String(32), default=None)
    base_id: Mapped[str | None] = mapped_column(String(32), default=None)
    table_id: Mapped[str | None] = mapped_column(String(32), default=None)
    aggregate_type: Mapped[str] = mapped_column(String(32))
    aggregate_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(Integer, default=None)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[str | None] = mapped_column(String(32), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)


class EventRecipient(Model):
    """Who else may read an event: members of a workspace that was deleted, a removed member.

    Events are visible to the members of their workspace; once a workspace or a membership is
    gone, these rows keep the deletion or removal visible to the people it concerns.
    """

    __tablename__ = "event_recipients"

    seq: Mapped[int] = mapped_column(ForeignKey("events.seq", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class EventLogState(Model):
    """The single row that hands out ``seq``: updating it is the lock that keeps ``seq`` gap-free
    and in commit order. ``pruned_through`` is the newest ``seq`` retention has deleted."""

    __tablename__ = "event_log_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    head_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    pruned_through: Mapped[int] = mapped_column(BigInteger, default=0)


class IdempotentAnswer(Model):
    """The stored answer to a write sent with ``Idempotency-Key`` (contract §6), kept 24 hours."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# Files (contract §7) ---------------------------------------------------------------------------


class StoredFile(Model):
    """An uploaded file (contract §7): its metadata here, its bytes in storage under its id.

    Access follows ``workspace_id``: set, the workspace's members may read it (``file:read``) and
    editors and up may delete it (``file:write``); unset, the file is private to its uploader until
    a record write attaches it, which binds it to that record's table and workspace for good.
    ``table_id`` records the table it was bound to and is cleared if that table is deleted.
    """

    __tablename__ = "files"
    # Storage quotas sum sizes per uploader and per workspace (quotas.py): from the index alone.
    __table_args__ = (
        Index("ix_files_uploaded_by_size", "uploaded_by", "size"),
        Index("ix_files_workspace_id_size", "workspace_id", "size"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), default=None
    )
    table_id: Mapped[str | None] = mapped_column(
        ForeignKey("data_tables.id", ondelete="SET NULL"), default=None
    )
    uploaded_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


# Webhooks (contract §7) ------------------------------------------------------------------------


class Webhook(Model):
    """A workspace's subscription: matching events are signed and POSTed to ``url``.

    ``created_after_seq`` is the event-log position when it was created; it receives only later
    events. ``failure_count`` and ``failing_since`` describe the current run of failed attempts,
    which disables it when long enough (``webhooks.sender``). ``table_id`` has no foreign key on
    purpose: the webhook still receives the ``table.deleted`` event of its table, then nothing.
    """

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    table_id: Mapped[str | None] = mapped_column(String(32), default=None)
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    secret: Mapped[str] = mapped_column(String(128))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_after_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Model):
    """One event on its way to one webhook, with the outcome of its latest attempt.

    ``body`` is the event JSON exactly as signed, kept here so that retries outlive event-log
    retention. The receiver's answer is not kept, only its status. A sender owns the delivery
    while ``locked_until`` is in the future and ``lease_token`` is its own (``webhooks.sender``).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_webhook_id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_id_created_at", "webhook_id", "created_at"),
        Index(
            "ix_webhook_deliveries_webhook_id_status_next_attempt_at",
            "webhook_id",
            "status",
            "next_attempt_at",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(32))
    event_seq: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    lease_token: Mapped[str | None] = mapped_column(String(32), default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_duration_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDispatchState(Model):
    """The single row holding the last event ``seq`` turned into deliveries.

    Dispatching locks it, so each event becomes each delivery exactly once across processes.
    """

    __tablename__ = "webhook_dispatch_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    dispatched_seq: Mapped[int] = mapped_column(BigInteger, default=0)
