"""Records and record queries (contract §6)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .common import RequestModel, ResponseModel, Timestamp
from .views import FilterGroup, SortSpec

MAX_BATCH = 100
MAX_PAGE_SIZE = 100

RecordFieldsIn = dict[str, Any]


class RecordOut(ResponseModel):
    id: str
    table_id: str
    fields: dict[str, Any]
    version: int
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str | None
    updated_by: str | None


class CursorMeta(BaseModel):
    page_size: int
    total: int
    has_next: bool
    next_offset: str | None
    event_position: int


class RecordList(BaseModel):
    data: list[RecordOut]
    pagination: CursorMeta


class RecordQuery(RequestModel):
    """``GET /records`` parameters as a body, for queries too long for a URL."""

    table_id: str
    view_id: str | None = None
    fields: list[str] | None = Field(default=None, max_length=500)
    sort: list[SortSpec] | None = Field(default=None, max_length=20)
    filter: FilterGroup | None = None
    page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    offset: str | None = Field(default=None, max_length=4096)


class RecordIn(RequestModel):
    table_id: str
    fields: RecordFieldsIn = Field(default_factory=dict)
    typecast: bool = False


class RecordWrite(RequestModel):
    fields: RecordFieldsIn
    typecast: bool = False


class BatchCreateItem(RequestModel):
    fields: RecordFieldsIn = Field(default_factory=dict)


class BatchCreate(RequestModel):
    table_id: str
    records: list[BatchCreateItem] = Field(min_length=1, max_length=MAX_BATCH)
    typecast: bool = False


class BatchUpdateItem(RequestModel):
    id: str
    fields: RecordFieldsIn


class BatchUpdate(RequestModel):
    table_id: str
    records: list[BatchUpdateItem] = Field(min_length=1, max_length=MAX_BATCH)
    typecast: bool = False


class BatchDelete(RequestModel):
    table_id: str
    ids: list[str] = Field(min_length=1, max_length=MAX_BATCH)


class RecordBatch(BaseModel):
    data: list[RecordOut]


class DeletedRecord(BaseModel):
    id: str
    deleted: bool = True


class DeletedBatch(BaseModel):
    data: list[DeletedRecord]
