"""Health of the services this server runs (contract §1)."""

from __future__ import annotations

from typing import Literal

import anyio
from fastapi import APIRouter
from pydantic import BaseModel

from .. import __version__
from ..deps import Services
from ..errors import NotFound, error_responses
from ..services import AppServices
from ..storage import StorageUnavailable

# The services implemented so far. Each is a router over the shared database, so each is as
# healthy as that database (the file service also needs its storage to take writes); services
# that do not exist yet are not listed as if they did.
SERVICES: tuple[str, ...] = (
    "auth",
    "user",
    "workspace",
    "base",
    "table",
    "field",
    "view",
    "record",
    "file",
    "webhook",
    "realtime",
)
CHECK_TIMEOUT_SECONDS = 2.0

router = APIRouter(prefix="/health", tags=["health"], responses=error_responses(429, 500))


class ServiceHealth(BaseModel):
    status: Literal["ok", "down"]
    latency_ms: float | None = None
    error: str | None = None


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    services: dict[str, ServiceHealth]


async def _database_health(services: AppServices) -> ServiceHealth:
    try:
        with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
            latency = await services.db.ping()
    except TimeoutError:
        return ServiceHealth(status="down", error="database did not answer in time")
    except Exception as exc:  # any driver failure means "down", reported not raised
        return ServiceHealth(status="down", error=f"database error: {type(exc).__name__}")
    return ServiceHealth(status="ok", latency_ms=round(latency, 3))


async def _file_health(services: AppServices, database: ServiceHealth) -> ServiceHealth:
    """The file service needs the database and a storage that takes writes."""
    if database.status != "ok":
        return database
    try:
        await services.storage.check()
    except StorageUnavailable as exc:
        return ServiceHealth(status="down", error=str(exc))
    return database


def _realtime_health(services: AppServices, database: ServiceHealth) -> ServiceHealth:
    """Realtime needs the database and its running feed. Without Redis it still delivers every
    event (from the log, one poll later), so a broker outage is reported but is not "down"."""
    if database.status != "ok":
        return database
    hub = services.hub
    if not hub.running:
        return ServiceHealth(status="down", error="the realtime feed is not running")
    if hub.broker_error is not None:
        return database.model_copy(
            update={"error": f"{hub.broker_error}: other instances' events arrive by polling"}
        )
    return database


@router.get("", response_model=HealthOut)
async def health(services: Services) -> HealthOut:
    """Every service's status; ``degraded`` when any is down. Needs no token."""
    database = await _database_health(services)
    report = dict.fromkeys(SERVICES, database)
    report["file"] = await _file_health(services, database)
    report["realtime"] = _realtime_health(services, database)
    healthy = all(service.status == "ok" for service in report.values())
    status: Literal["ok", "degraded"] = "ok" if healthy else "degraded"
    return HealthOut(status=status, version=__version__, services=report)


@router.get("/{service}", response_model=ServiceHealth, responses=error_responses(404, 422))
async def service_health(service: str, services: Services) -> ServiceHealth:
    """One service's status. Raises ``NotFound`` for a service this server does not run."""
    if service not in SERVICES:
        raise NotFound(f"No service named {service[:64]!r}.", details={"services": list(SERVICES)})
    database = await _database_health(services)
    if service == "file":
        return await _file_health(services, database)
    if service == "realtime":
        return _realtime_health(services, database)
    return database
