"""Users and the caller's own profile."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from .common import PageMeta, PersonName, RequestModel, ResponseModel, Timestamp, _clean_text


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


#: Deeper JSON could be stored but not serialised back (pydantic, json) without recursion errors.
MAX_JSON_DEPTH = 32


def _clean_json(value: Any, depth: int = 0) -> Any:
    """Hold every key and string inside a JSON value to the text rules, and bound its nesting."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"must not nest deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        _clean_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _clean_text(key)
            _clean_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _clean_json(item, depth + 1)
    return value


JSONObject = Annotated[dict[str, Any], AfterValidator(_clean_json)]


class ProfileUpdate(NameUpdate):
    preferences: JSONObject | None = Field(default=None, max_length=200)
    settings: JSONObject | None = Field(default=None, max_length=200)
