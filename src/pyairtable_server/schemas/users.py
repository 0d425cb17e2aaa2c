"""Users and the caller's own profile."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .common import PageMeta, PersonName, RequestModel, ResponseModel, Timestamp


class UserOut(ResponseModel):
    """``User`` of contract §3."""

    id: str
    email: str
    first_name: str
    last_name: str
    role: Literal["user", "admin"]
    is_active: bool
    email_verified: bool
    created_at: Timestamp
    updated_at: Timestamp
    last_login_at: Timestamp | None


class UserProfileOut(UserOut):
    """The caller's own user, with the preferences and settings only they may see."""

    preferences: dict[str, Any]
    settings: dict[str, Any]


class UserList(BaseModel):
    data: list[UserOut]
    pagination: PageMeta


class NameUpdate(RequestModel):
    first_name: PersonName | None = None
    last_name: PersonName | None = None


class ProfileUpdate(NameUpdate):
    preferences: dict[str, Any] | None = Field(default=None, max_length=200)
    settings: dict[str, Any] | None = Field(default=None, max_length=200)
