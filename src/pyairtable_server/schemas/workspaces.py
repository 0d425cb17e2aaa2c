"""Workspaces, members and the audit log (contract §4, §9)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, field_validator, model_validator

from ..permissions import Role
from .auth import Email
from .common import (
    Description,
    Name,
    PageMeta,
    PositionedPageMeta,
    RequestModel,
    ResponseModel,
    Timestamp,
)
from .users import UserOut


class WorkspaceIn(RequestModel):
    name: Name
    description: Description = ""


class WorkspaceUpdate(RequestModel):
    """A partial update: keys left out keep their value; ``null`` is refused, not ignored."""

    name: Name | None = None
    description: Description | None = None

    @field_validator("name", "description", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null; leave the key out to keep the current value")
        return value


class WorkspaceOut(ResponseModel):
    id: str
    name: str
    description: str
    owner_id: str
    is_active: bool
    member_count: int
    base_count: int
    created_at: Timestamp
    updated_at: Timestamp


class WorkspaceList(BaseModel):
    data: list[WorkspaceOut]
    pagination: PositionedPageMeta


class MemberIn(RequestModel):
    user_id: str | None = None
    email: Email | None = None
    role: Role

    @model_validator(mode="after")
    def _one_identity(self) -> MemberIn:
        if (self.user_id is None) == (self.email is None):
            raise ValueError("give exactly one of user_id or email")
        return self


class MemberUpdate(RequestModel):
    role: Role


class MemberOut(ResponseModel):
    workspace_id: str
    user_id: str
    role: Role
    added_at: Timestamp
    added_by: str | None
    user: UserOut


class AuditEntryOut(ResponseModel):
    id: int
    occurred_at: Timestamp
    workspace_id: str | None
    user_id: str | None
    action: str
    resource_type: str
    resource_id: str | None
    request_id: str | None
    ip: str | None
    details: dict[str, Any]


class AuditLog(BaseModel):
    data: list[AuditEntryOut]
    pagination: PageMeta
