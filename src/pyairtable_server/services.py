"""The long-lived objects one server process shares between requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from .data.listing import TotalCache
from .db.engine import Database
from .http.rate_limit import Limit, Limiter
from .quotas import Quotas
from .realtime.admission import Admission
from .realtime.hub import Hub
from .security.attempts import Attempts
from .security.passwords import Passwords
from .security.tokens import TokenService
from .settings import Settings
from .storage import Storage
from .webhooks import WebhookWorker


@dataclass(frozen=True)
class AuthLimits:
    """The limits on attempts at the auth routes (counted by ``security.attempts``)."""

    login_per_account: Limit
    login_per_ip: Limit
    registrations_per_ip: Limit


@dataclass
class AppServices:
    """Built by the app's lifespan; reached from a request through ``deps``."""

    settings: Settings
    db: Database
    tokens: TokenService
    passwords: Passwords
    limiter: Limiter
    #: Login failures and sign-ups, counted in the database (shared by every process).
    attempts: Attempts
    auth_limits: AuthLimits
    #: The realtime feed of committed events (running in the lifespan's task group).
    hub: Hub
    #: The caps on realtime connections (in all, per IP, per user).
    admission: Admission
    #: Dispatches and sends webhook deliveries; ``wake()`` it after a commit to skip the poll.
    webhooks: WebhookWorker
    #: Where uploaded files' bytes live (contract §7).
    storage: Storage
    #: Storage quotas per account and per workspace (checked on upload and on attaching).
    quotas: Quotas
    #: Filtered record totals, valid until their table changes (see ``TotalCache``).
    totals: TotalCache = field(default_factory=TotalCache)
    #: Signs record-list offsets (derived from the server key, never the key itself).
    offset_key: bytes = field(default=b"", repr=False)
    #: Signs file download URLs (derived from the server key, never the key itself).
    file_url_key: bytes = field(default=b"", repr=False)

    @property
    def dialect(self) -> Literal["sqlite", "postgresql"]:
        return "sqlite" if self.db.is_sqlite else "postgresql"

    @property
    def refresh_ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.refresh_token_ttl_seconds)

    @property
    def refresh_grace(self) -> timedelta:
        return timedelta(seconds=self.settings.refresh_grace_seconds)
