"""Typed clients, one per backend service, with the same verbs everywhere."""

from __future__ import annotations

from ..transport import Transport
from ._base import compact
from ._parking import plain
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


class Services:
    """Every service client of one integration, sharing its transport (stateless; the store's
    ``CachedServices`` is the same with reads through the cache)."""

    def __init__(self, transport: Transport) -> None:
        self.auth = AuthService(transport)
        self.user = UserService(transport)
        self.workspace = WorkspaceService(transport)
        self.base = BaseService(transport)
        self.table = TableService(transport)
        self.field = FieldService(transport)
        self.view = ViewService(transport)
        self.record = RecordService(transport)
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
    "plain",
]
