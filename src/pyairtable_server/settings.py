"""Server configuration: defaults as named constants, overridable by ``PYAIRTABLE_*`` variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
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
EVENT_RETENTION_SECONDS = 7 * 24 * 3600
EVENT_RETENTION_COUNT = 1_000_000
MAINTENANCE_INTERVAL_SECONDS = 300.0


class Settings(BaseSettings):
    """Everything the server reads from its environment, validated once at start-up.

    Each field is also read from ``PYAIRTABLE_<FIELD>``; list fields accept comma-separated text.
    """

    model_config = SettingsConfigDict(env_prefix="PYAIRTABLE_", frozen=True, extra="ignore")

    database_url: str | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    secret_key: SecretStr | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

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
    login_failures_per_account: str = "10/15 minutes"
    login_failures_per_ip: str = "50/15 minutes"
    rate_limit_storage_url: str = "memory://"
    rate_limit_key_prefix: str = "pyairtable-limits"

    # The event log keeps 7 days or 1,000,000 events, whichever is less (contract §8); a
    # background task prunes it, and expired idempotent answers, every interval.
    event_retention_seconds: int = Field(default=EVENT_RETENTION_SECONDS, gt=0)
    event_retention_count: int = Field(default=EVENT_RETENTION_COUNT, gt=0)
    maintenance_interval_seconds: float = Field(default=MAINTENANCE_INTERVAL_SECONDS, gt=0)

    # Realtime (contract §8) ----------------------------------------------------------------

    # Files (contract §7) -------------------------------------------------------------------

    # Webhooks (contract §7) ----------------------------------------------------------------

    @field_validator("cors_origins", mode="before")
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
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting together must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key
