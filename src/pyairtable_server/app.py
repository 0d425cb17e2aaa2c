"""The ASGI app: middleware stack, routers under ``/api/v1``, lifespan of shared services."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import anyio
from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from . import __version__, collector, data_dir, maintenance
from .changes import install_replay_handler
from .db.engine import Database
from .db.migrate import upgrade_to_head
from .errors import install_error_handlers
from .http import log_redaction
from .http.body_limit import BodyLimitMiddleware
from .http.cors import EnvelopeCORSMiddleware
from .http.head_limit import HeadLimitMiddleware
from .http.rate_limit import Limit, Limiter, RateLimitMiddleware
from .http.request_id import RequestIdMiddleware
from .http.security_headers import SecurityHeadersMiddleware
from .quotas import Quotas
from .realtime import sse, websocket
from .realtime.admission import Admission
from .realtime.broker import RedisBroker
from .realtime.hub import Hub
from .routes import api_router
from .routes.files import upload_body_limit
from .security.attempts import Attempts
from .security.passwords import Passwords
from .security.tokens import TokenService
from .services import AppServices, AuthLimits
from .settings import Settings, load_secret_key
from .signed_urls import derive_key
from .storage import storage_for
from .webhooks import WebhookWorker

API_PREFIX = "/api/v1"
logger = logging.getLogger("pyairtable_server")
_EXPOSED_HEADERS = ["X-Request-ID", "Retry-After", "ETag", "Idempotent-Replayed"]
_ALLOWED_HEADERS = [
    "Authorization",
    "Content-Type",
    "X-Request-ID",
    "Idempotency-Key",
    "If-Match",
    "Last-Event-ID",
]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. The database is opened and migrated when the lifespan starts.

    Raises ``OSError`` if the data dir cannot hold the generated secret key or the SQLite
    database file (both private to this account, see ``data_dir``). The lifespan raises
    it if the files folder cannot be created.
    """
    settings = settings or Settings()
    # Tokens and download signatures in query strings stay out of uvicorn's logs.
    log_redaction.install()
    data_dir.prepare(settings)
    secret_key = load_secret_key(settings)
    storage = storage_for(settings)
    limiter = Limiter.from_url(
        settings.rate_limit_storage_url, key_prefix=settings.rate_limit_key_prefix
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.resolved_database_url)
        try:
            storage.ensure_folder()
            await upgrade_to_head(db)
            if not await db.folds_unicode_case():
                logger.warning(
                    "the database folds case for ASCII only (LC_CTYPE 'C'?): text filters will "
                    "treat 'É' and 'é' as different letters; create it with a UTF-8 locale"
                )
            broker = (
                RedisBroker(settings.redis_url, settings.realtime_channel)
                if settings.redis_url
                else None
            )
            hub = Hub(
                db,
                poll_interval=settings.realtime_poll_interval_seconds,
                publish=broker.publish if broker is not None else None,
            )
            app.state.services = AppServices(
                settings=settings,
                db=db,
                tokens=TokenService(
                    key=secret_key,
                    algorithm=settings.jwt_algorithm,
                    issuer=settings.jwt_issuer,
                    audience=settings.jwt_audience,
                    access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
                ),
                passwords=Passwords(
                    time_cost=settings.argon2_time_cost,
                    memory_kib=settings.argon2_memory_kib,
                    parallelism=settings.argon2_parallelism,
                ),
                limiter=limiter,
                hub=hub,
                admission=Admission(
                    total=settings.realtime_max_connections,
                    per_ip=settings.realtime_max_connections_per_ip,
                    per_user=settings.realtime_max_connections_per_user,
                ),
                attempts=Attempts(
                    key=hashlib.sha256(b"pyairtable-attempts:" + secret_key.encode()).digest(),
                    is_sqlite=db.is_sqlite,
                ),
                auth_limits=AuthLimits(
                    login_per_account=Limit.parse(
                        "login-account", settings.login_failures_per_account
                    ),
                    login_per_ip=Limit.parse("login-ip", settings.login_failures_per_ip),
                    registrations_per_ip=Limit.parse("register-ip", settings.registrations_per_ip),
                ),
                offset_key=hashlib.sha256(b"pyairtable-offsets:" + secret_key.encode()).digest(),
                storage=storage,
                quotas=Quotas(
                    per_user=settings.quota_bytes_per_user,
                    per_workspace=settings.quota_bytes_per_workspace,
                    dialect="sqlite" if db.is_sqlite else "postgresql",
                ),
                file_url_key=derive_key(secret_key),
                webhooks=WebhookWorker(db, settings),
            )
            # A commit with events is news for the webhook dispatcher too.
            hub.on_commit.append(app.state.services.webhooks.committed)
            async with anyio.create_task_group() as background:
                await background.start(hub.run)
                if broker is not None:
                    await background.start(broker.run, hub)
                background.start_soon(maintenance.run_forever, db, settings, storage)
                background.start_soon(app.state.services.webhooks.run)
                collector.settle()
                yield
                background.cancel_scope.cancel()
        finally:
            await db.dispose()
            await limiter.aclose()

    app = FastAPI(
        title="PyAirtable API",
        version=__version__,
        description="The PyAirtable platform API (shared/CONTRACT.md, v1).",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_replay_handler(app)
    app.include_router(api_router, prefix=API_PREFIX)
    app.include_router(websocket.router)
    app.include_router(sse.router)

    # Added innermost first: the request id wraps everything, rate limits see only real requests.
    app.add_middleware(
        RateLimitMiddleware,
        limiter=limiter,
        per_ip=Limit.parse("ip", settings.rate_limit_per_ip),
        per_token=Limit.parse("token", settings.rate_limit_per_token),
    )
    app.add_middleware(HeadLimitMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        path_limits={f"{API_PREFIX}/files/upload": upload_body_limit(settings)},
    )
    app.add_middleware(
        EnvelopeCORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=_ALLOWED_HEADERS,
        expose_headers=_EXPOSED_HEADERS,
        max_age=600,
    )
    app.add_middleware(SecurityHeadersMiddleware, no_store_prefixes=(f"{API_PREFIX}/auth",))
    app.add_middleware(RequestIdMiddleware)
    if settings.trusted_proxies:
        # Outermost, so that every client-address reader (rate limits, login and sign-up limits,
        # realtime caps) sees the forwarded client; uvicorn's middleware takes the right-most
        # address not itself a trusted proxy, so a client cannot forge its way past the proxy.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app
