"""Server configuration: defaults as named constants, overridable by ``PYAIRTABLE_*`` variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".pyairtable")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
SECRET_KEY_FILE = "secret_key"
SQLITE_FILE = "pyairtable.db"
ACCESS_TOKEN_TTL_SECONDS = 15 * 60
REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 3600
REFRESH_GRACE_SECONDS = 10
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_FIELDS_PER_TABLE = 500
REGISTRATIONS_PER_IP = "20/hour"
EVENT_RETENTION_SECONDS = 7 * 24 * 3600
EVENT_RETENTION_COUNT = 1_000_000
MAINTENANCE_INTERVAL_SECONDS = 300.0
REALTIME_POLL_INTERVAL_SECONDS = 1.0
#: Frames queued per connection before it counts as too slow and is closed (1013). A batch
#: write dispatches up to 100 events at once, so the queue must hold more than that.
REALTIME_OUTBOX_SIZE = 1000
REALTIME_MIN_OUTBOX_SIZE = 128
REALTIME_MAX_CONNECTIONS = 10_000
REALTIME_MAX_CONNECTIONS_PER_USER = 100
REALTIME_MAX_CONNECTIONS_PER_IP = 1000
REALTIME_MAX_SUBSCRIPTIONS = 100
REALTIME_AUTH_TIMEOUT_SECONDS = 10.0
REALTIME_SSE_HEARTBEAT_SECONDS = 15.0
REALTIME_SEND_TIMEOUT_SECONDS = 30.0
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
FILE_URL_TTL_SECONDS = 3600
FILES_SUBDIR = "files"
#: Bytes of stored files one account may have uploaded, and one workspace may hold (0: no limit).
QUOTA_BYTES_PER_USER = 1024 * 1024 * 1024
QUOTA_BYTES_PER_WORKSPACE = 10 * 1024 * 1024 * 1024
#: How long a private file (uploaded without a table) may wait for a record to attach it.
PRIVATE_FILE_GRACE_SECONDS = 24 * 3600
# Webhooks: Svix's schedule (then 5s, 5min, 30min, 2h, 5h, 10h, 10h: 27.6 hours in all).
WEBHOOK_RETRY_SCHEDULE_SECONDS = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
WEBHOOK_RETRY_JITTER = 0.2
WEBHOOK_REQUEST_TIMEOUT_SECONDS = 10.0
WEBHOOK_LEASE_SECONDS = 60.0
WEBHOOK_POLL_INTERVAL_SECONDS = 1.0
#: Deliveries in flight per server process, per webhook and per workspace: a slow receiver
#: holds at most its webhook's share, a tenant at most its workspace's, never every slot.
WEBHOOK_MAX_CONCURRENT_SENDS = 32
WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK = 4
WEBHOOK_MAX_IN_FLIGHT_PER_WORKSPACE = 8
WEBHOOK_DISABLE_AFTER_SECONDS = 5 * 24 * 3600.0
WEBHOOK_DISABLE_AFTER_FAILURES = 10
WEBHOOK_DELIVERY_RETENTION_SECONDS = 30 * 24 * 3600


class Settings(BaseSettings):
    """Everything the server reads from its environment, validated once at start-up.

    Each field is also read from ``PYAIRTABLE_<FIELD>``; list fields accept comma-separated text.
    """

    model_config = SettingsConfigDict(env_prefix="PYAIRTABLE_", frozen=True, extra="ignore")

    database_url: str | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    secret_key: SecretStr | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For / X-Forwarded-Proto are
    # believed; empty: the TCP peer is the client, and forwarded headers are ignored.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_issuer: str = "pyairtable"
    jwt_audience: str = "pyairtable-api"
    access_token_ttl_seconds: int = Field(default=ACCESS_TOKEN_TTL_SECONDS, gt=0)
    refresh_token_ttl_seconds: int = Field(default=REFRESH_TOKEN_TTL_SECONDS, gt=0)
    refresh_grace_seconds: int = Field(default=REFRESH_GRACE_SECONDS, ge=0)

    # Argon2id cost; the defaults are argon2-cffi's RFC 9106 "low memory" profile.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    max_body_bytes: int = Field(default=MAX_BODY_BYTES, gt=0)
    # Limits in the `limits` notation ("N per period"); storage "memory://" or "redis://host:port".
    rate_limit_per_ip: str = "1200/minute"
    rate_limit_per_token: str = "600/minute"
    # Counted in the database, so they hold across every worker and instance; a login attempt
    # is counted before its password is checked (security.attempts).
    login_failures_per_account: str = "10/15 minutes"
    login_failures_per_ip: str = "50/15 minutes"
    # Every sign-up attempt counts, failed ones too (a 409 tells an address is registered).
    registrations_per_ip: str = REGISTRATIONS_PER_IP
    rate_limit_storage_url: str = "memory://"
    rate_limit_key_prefix: str = "pyairtable-limits"

    # The event log keeps 7 days or 1,000,000 events, whichever is less (contract §8); a
    # background task prunes it, and expired idempotent answers, every interval.
    event_retention_seconds: int = Field(default=EVENT_RETENTION_SECONDS, gt=0)
    event_retention_count: int = Field(default=EVENT_RETENTION_COUNT, gt=0)
    maintenance_interval_seconds: float = Field(default=MAINTENANCE_INTERVAL_SECONDS, gt=0)

    # Realtime (contract §8) ----------------------------------------------------------------
    # With several instances (or workers), set redis_url so changes reach every instance at
    # once; without it they still arrive, from the event log, within one poll interval.
    redis_url: str | None = None
    realtime_channel: str = "pyairtable:events"
    realtime_poll_interval_seconds: float = Field(default=REALTIME_POLL_INTERVAL_SECONDS, gt=0)
    realtime_outbox_size: int = Field(default=REALTIME_OUTBOX_SIZE, ge=REALTIME_MIN_OUTBOX_SIZE)
    # Caps per server process on WebSocket and SSE connections: in all, per client IP
    # (unauthenticated sockets too) and per user (see realtime.admission).
    realtime_max_connections: int = Field(default=REALTIME_MAX_CONNECTIONS, ge=1)
    realtime_max_connections_per_ip: int = Field(default=REALTIME_MAX_CONNECTIONS_PER_IP, ge=1)
    realtime_max_connections_per_user: int = Field(default=REALTIME_MAX_CONNECTIONS_PER_USER, ge=1)
    realtime_max_subscriptions: int = Field(default=REALTIME_MAX_SUBSCRIPTIONS, ge=1)
    realtime_auth_timeout_seconds: float = Field(default=REALTIME_AUTH_TIMEOUT_SECONDS, gt=0)
    realtime_sse_heartbeat_seconds: float = Field(default=REALTIME_SSE_HEARTBEAT_SECONDS, gt=0)
    realtime_send_timeout_seconds: float = Field(default=REALTIME_SEND_TIMEOUT_SECONDS, gt=0)

    # Schema (contract §5) ------------------------------------------------------------------
    # Fields per table, counted at table and field creation (422 past it). Each number, select,
    # date and date-time field has an index of its own (see data.indexes).
    max_fields_per_table: int = Field(default=MAX_FIELDS_PER_TABLE, ge=1)

    # Files (contract §7) -------------------------------------------------------------------
    # Uploaded bytes live in ``files_dir`` (default: ``data_dir/files``, see
    # ``resolved_files_dir``); one upload may be ``max_upload_bytes``, which replaces the general
    # body limit on the upload route; signed download URLs live ``file_url_ttl_seconds``.
    files_dir: Path | None = None
    # The address clients reach this server at (scheme, host, port and any path prefix a proxy
    # adds), e.g. "https://api.example.com": file and attachment URLs are built under it.
    # Unset, they use the address the connection came in on (never the client's Host header,
    # which would let a client plant its own host in attachments other members read); behind a
    # proxy that is the proxy's upstream address, so set this in production.
    public_url: str | None = None
    max_upload_bytes: int = Field(default=MAX_UPLOAD_BYTES, gt=0)
    file_url_ttl_seconds: int = Field(default=FILE_URL_TTL_SECONDS, gt=0)
    # Quotas on the bytes of stored files: all an account uploaded, all a workspace holds
    # (0: no limit). An upload past either is 413 QUOTA_EXCEEDED, refused while it streams.
    quota_bytes_per_user: int = Field(default=QUOTA_BYTES_PER_USER, ge=0)
    quota_bytes_per_workspace: int = Field(default=QUOTA_BYTES_PER_WORKSPACE, ge=0)
    # A private file no record attached within this long is deleted by the housekeeping round.
    private_file_grace_seconds: int = Field(default=PRIVATE_FILE_GRACE_SECONDS, gt=0)

    # Webhooks (contract §7) ----------------------------------------------------------------
    # Delays between attempts (the first is immediate); a delivery fails after the last one.
    # Jitter lengthens each delay by a random share up to this ratio: only ever longer, so the
    # whole schedule still covers more than 24 hours.
    webhook_retry_schedule_seconds: Annotated[list[Annotated[float, Field(gt=0)]], NoDecode] = (
        Field(default_factory=lambda: list(WEBHOOK_RETRY_SCHEDULE_SECONDS), min_length=1)
    )
    webhook_retry_jitter: float = Field(default=WEBHOOK_RETRY_JITTER, ge=0, le=1)
    webhook_request_timeout_seconds: float = Field(default=WEBHOOK_REQUEST_TIMEOUT_SECONDS, gt=0)
    # How long a sender owns a claimed delivery; a sender that died is replaced after it.
    webhook_lease_seconds: float = Field(default=WEBHOOK_LEASE_SECONDS, gt=0)
    webhook_poll_interval_seconds: float = Field(default=WEBHOOK_POLL_INTERVAL_SECONDS, gt=0)
    webhook_batch_size: int = Field(default=100, ge=1, le=1000)
    webhook_max_concurrent_sends: int = Field(default=WEBHOOK_MAX_CONCURRENT_SENDS, ge=1)
    webhook_max_in_flight_per_webhook: int = Field(default=WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK, ge=1)
    webhook_max_in_flight_per_workspace: int = Field(
        default=WEBHOOK_MAX_IN_FLIGHT_PER_WORKSPACE, ge=1
    )
    # Off: webhooks may only target public addresses (checked on create and update, and on every
    # address a name resolves to when connecting). On only for local development and tests,
    # where receivers listen on localhost: it lets any workspace admin reach this host's network.
    webhook_allow_private_targets: bool = False
    # A webhook failing for this long AND this many attempts in a row is disabled.
    webhook_disable_after_seconds: float = Field(default=WEBHOOK_DISABLE_AFTER_SECONDS, ge=0)
    webhook_disable_after_failures: int = Field(default=WEBHOOK_DISABLE_AFTER_FAILURES, ge=1)
    # Finished deliveries (succeeded or failed) are forgotten after this long.
    webhook_delivery_retention_seconds: int = Field(
        default=WEBHOOK_DELIVERY_RETENTION_SECONDS, gt=0
    )

    @field_validator("webhook_retry_schedule_seconds", mode="before")
    @classmethod
    def _split_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _lease_outlasts_a_request(self) -> Settings:
        # A lease shorter than a request would let a second sender start while the first waits.
        if self.webhook_lease_seconds <= self.webhook_request_timeout_seconds:
            raise ValueError("webhook_lease_seconds must exceed webhook_request_timeout_seconds")
        return self

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("public_url must be an http:// or https:// URL with a host")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("public_url takes no query, fragment or credentials")
        return value.strip().rstrip("/")

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL: the configured one on its async driver, or data_dir SQLite."""
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{(self.data_dir / SQLITE_FILE).resolve()}"
        return normalize_database_url(self.database_url)

    @property
    def uses_default_sqlite(self) -> bool:
        return self.database_url is None

    @property
    def resolved_files_dir(self) -> Path:
        """The absolute folder of uploaded files: ``files_dir``, else ``data_dir/files``."""
        return (self.files_dir or self.data_dir / FILES_SUBDIR).resolve()


def normalize_database_url(url: str) -> str:
    """Map plain ``postgresql://`` / ``sqlite://`` URLs onto the async drivers the server uses."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def load_secret_key(settings: Settings) -> str:
    """Return the configured secret key, or the one kept in ``data_dir``, creating it once.

    The generated key is written with mode 0600 and never printed.
    Raises ``OSError`` when the data dir cannot be written.
    """
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path = settings.data_dir / SECRET_KEY_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting together must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key
