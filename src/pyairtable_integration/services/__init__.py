"""Typed clients, one per backend service, with the same verbs everywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..transport import Transport
from ._base import compact
from .auth import AuthService
from .bases import BaseService
from .events import EventService
from .fields import FieldService
from .files import FileService
from .health import HealthService
from .records import RecordService
from .tables import TableService
from .users import UserService
from .views import ViewService
from .webhooks import WebhookService
from .workspaces import WorkspaceService

if TYPE_CHECKING:
    from ..store import Cache


class Services:
    """Every service client of one integration, sharing its transport."""

    def __init__(self, transport: Transport, *, cache: Cache | None = None) -> None:
        self.auth = AuthService(transport)
        self.user = UserService(transport, cache=cache)
        self.workspace = WorkspaceService(transport, cache=cache)
        self.base = BaseService(transport, cache=cache)
        self.table = TableService(transport, cache=cache)
        self.field = FieldService(transport, cache=cache)
        self.view = ViewService(transport, cache=cache)
        self.record = RecordService(transport, cache=cache)
        self.file = FileService(transport)
        self.webhook = WebhookService(transport)
        self.event = EventService(transport)
        self.health = HealthService(transport)

    def __repr__(self) -> str:
        return (
            "Services(auth, user, workspace, base, table, field, view, record, file, webhook, "
            "event, health)"
        )


__all__ = [
    "AuthService",
    "BaseService",
    "EventService",
    "FieldService",
    "FileService",
    "HealthService",
    "RecordService",
    "Services",
    "TableService",
    "UserService",
    "ViewService",
    "WebhookService",
    "WorkspaceService",
    "compact",
]
