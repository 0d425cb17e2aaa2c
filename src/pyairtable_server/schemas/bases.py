"""Bases (contract §5)."""

from __future__ import annotations

from pydantic import BaseModel, field_validator

from .common import Description, Name, PositionedPageMeta, RequestModel, ResponseModel, Timestamp


def refuse_null(value: object) -> object:
    """For partial updates: a key left out keeps its value, an explicit ``null`` is an error."""
    if value is None:
        raise ValueError("must not be null; leave the key out to keep the current value")
    return value


class BaseIn(RequestModel):
    workspace_id: str
    name: Name
    description: Description = ""


class BaseUpdate(RequestModel):
    name: Name | None = None
    description: Description | None = None

    _not_null = field_validator("name", "description", mode="before")(refuse_null)


class BaseOut(ResponseModel):
    id: str
    workspace_id: str
    name: str
    description: str
    table_count: int
    created_at: Timestamp
    updated_at: Timestamp


class BaseList(BaseModel):
    data: list[BaseOut]
    pagination: PositionedPageMeta
