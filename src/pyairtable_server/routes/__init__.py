"""The API's routers, one per service, gathered under ``/api/v1``."""

from fastapi import APIRouter

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
api_router.include_router(health.router)
api_router.include_router(auth.router)
api_router.include_router(users.router)
api_router.include_router(workspaces.router)
api_router.include_router(bases.router)
api_router.include_router(tables.router)
api_router.include_router(fields.router)
api_router.include_router(views.router)
api_router.include_router(records.router)
api_router.include_router(events.router)
api_router.include_router(files.router)
api_router.include_router(webhooks.router)

__all__ = ["api_router"]
