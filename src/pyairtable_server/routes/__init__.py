"""The API's routers, one per service, gathered under ``/api/v1``."""

from fastapi import APIRouter

from . import auth, health, users, workspaces

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(auth.router)
api_router.include_router(users.router)
api_router.include_router(workspaces.router)

__all__ = ["api_router"]
