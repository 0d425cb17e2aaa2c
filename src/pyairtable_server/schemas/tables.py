"""Tables and fields (contract §5)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from ..fieldtypes import FieldType
from ..settings import MAX_FIELDS_PER_TABLE
from .bases import refuse_null
from .common import Description, Name, PositionedPageMeta, RequestModel, ResponseModel, Timestamp


class FieldCreate(RequestModel):
    name: Name
    type: FieldType
    required: bool = False
    options: dict[str, Any] | None = None


class FieldIn(FieldCreate):
    table_id: str


class FieldUpdate(RequestModel):
    """A partial update. A new ``type`` converts every value or fails naming the records."""

    name: Name | None = None
    type: FieldType | None = None
    required: bool | None = None
    options: dict[str, Any] | None = None

    _not_null = field_validator("name", "type", "required", "options", mode="before")(refuse_null)


class FieldOut(ResponseModel):
    id: str
    table_id: str
    name: str
    type: FieldType
    is_primary: bool
    required: bool
    order: int
    options: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp


class FieldList(BaseModel):
    data: list[FieldOut]
    pagination: PositionedPageMeta


class TableIn(RequestModel):
    base_id: str
    name: Name
    description: Description = ""
    fields: list[FieldCreate] | None = Field(
        default=None, min_length=1, max_length=MAX_FIELDS_PER_TABLE
    )


class TableUpdate(RequestModel):
    name: Name | None = None
    description: Description | None = None
    primary_field_id: str | None = None

    _not_null = field_validator("name", "description", "primary_field_id", mode="before")(
        refuse_null
    )


class TableOut(ResponseModel):
    id: str
    base_id: str
    name: str
    description: str
    primary_field_id: str | None
    record_count: int
    field_count: int
    fields: list[FieldOut]
    created_at: Timestamp
    updated_at: Timestamp


class TableList(BaseModel):
    data: list[TableOut]
    pagination: PositionedPageMeta
