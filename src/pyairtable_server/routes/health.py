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

# The services implemented so far. Each is a router over the shared database, so each is as
# healthy as that database; services that do not exist yet are not listed as if they did.
SERVICES: tuple[str, ...] = (
    "auth",
    "user",
    "workspace",
    "base",
    "table",
    "field",
    "view",
    "record",
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


@router.get("", response_model=HealthOut)
async def health(services: Services) -> HealthOut:
    """Every service's status; ``degraded`` when any is down. Needs no token."""
    database = await _database_health(services)
    report = dict.fromkeys(SERVICES, database)
    status: Literal["ok", "degraded"] = "ok" if database.status == "ok" else "degraded"
    return HealthOut(status=status, version=__version__, services=report)


@router.get("/{service}", response_model=ServiceHealth, responses=error_responses(404))
async def service_health(service: str, services: Services) -> ServiceHealth:
    """One service's status. Raises ``NotFound`` for a service this server does not run."""
    if service not in SERVICES:
        raise NotFound(f"No service named {service[:64]!r}.", details={"services": list(SERVICES)})
    return await _database_health(services)
