"""The API's routers, one per service, gathered under ``/api/v1``."""

from fastapi import APIRouter

from ..errors import error_responses
from . import (
    auth,
    bases,
    events,
    fields,
    files,
    health,
    records,
    tables,
    users,
    views,
    webhooks,
    workspaces,
)

api_router = APIRouter()
# Every path answers 405 (with ``Allow``) to a method it lacks; every route that reads or writes
# the database may answer 503 (a transient conflict, ``Retry-After``). Health never fails.
# A request is matched against the routes in this order, one by one, at a measurable cost per
# route passed over: the busiest services come first (no two services share a path prefix, so
# the order changes nothing else; the OpenAPI document sorts its paths).
for service in (records, events):
    api_router.include_router(service.router, responses=error_responses(405, 503))
api_router.include_router(health.router, responses=error_responses(405))
for service in (
    auth,
    users,
    workspaces,
    bases,
    tables,
    fields,
    views,
    files,
    webhooks,
):
    api_router.include_router(service.router, responses=error_responses(405, 503))

__all__ = ["api_router"]
