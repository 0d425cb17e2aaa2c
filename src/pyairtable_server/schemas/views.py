"""Views and the filter/sort shapes they share with record queries (contract §5, §6)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from ..fieldtypes import Operator
from .common import Name, PositionedPageMeta, RequestModel, ResponseModel, Timestamp

ViewType = Literal["grid", "form", "calendar", "gallery", "kanban"]
FieldRef = Field(min_length=1, max_length=255)


class SortSpec(RequestModel):
    field: str = FieldRef
    direction: Literal["asc", "desc"] = "asc"


class FilterCondition(RequestModel):
    field: str = FieldRef
    operator: Operator
    value: Any = None


class FilterGroup(RequestModel):
    """Conditions joined by ``conjunction``; a condition may itself be a group."""

    conjunction: Literal["and", "or"] = "and"
    conditions: list[FilterCondition | FilterGroup] = Field(default_factory=list, max_length=200)


class ViewConfiguration(RequestModel):
    visible_fields: list[str] | None = Field(default=None, max_length=500)
    field_order: list[str] | None = Field(default=None, max_length=500)
    sorts: list[SortSpec] | None = Field(default=None, max_length=20)
    filters: FilterGroup | None = None


class ViewIn(RequestModel):
    table_id: str
    name: Name
    type: ViewType = "grid"
    configuration: ViewConfiguration = Field(default_factory=ViewConfiguration)


class ViewUpdate(RequestModel):
    """A partial update; ``configuration`` replaces the whole configuration."""

    name: Name | None = None
    type: ViewType | None = None
    configuration: ViewConfiguration | None = None

    @field_validator("name", "type", "configuration", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null; leave the key out to keep the current value")
        return value


class ViewOut(ResponseModel):
    id: str
    table_id: str
    name: str
    type: ViewType
    order: int
    configuration: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp


class ViewList(BaseModel):
    data: list[ViewOut]
    pagination: PositionedPageMeta
