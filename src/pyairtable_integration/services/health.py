"""The health service: whether the backend and each of its services are up."""

from __future__ import annotations

from .._ids import segment
from ..types import Health, ServiceHealth
from ._base import Service


class HealthService(Service):
    """``/health``: needs no token, so it answers whether or not anyone is signed in."""

    name = "health"

    async def get_health(self) -> Health:
        """Every service's status; ``status`` is ``degraded`` when any of them is down.

        Raises:
            APIConnectionError: the backend could not be reached.
        """
        return await self._call(Health, "GET", "/health", authenticated=False)

    async def get_service_health(self, service: str) -> ServiceHealth:
        """One service's status (``auth``, ``record``, ``file``, ``realtime``…).

        Raises:
            NotFoundError: the backend runs no service of that name.
            ValueError: ``service`` is empty, ``.`` or ``..`` (it is sent as one path segment).
        """
        return await self._call(
            ServiceHealth, "GET", f"/health/{segment(service)}", authenticated=False
        )
