"""The event log as the API shows it (contract §8)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class EventOut(BaseModel):
    id: str
    seq: int
    type: str
    channel: str
    workspace_id: str | None
    base_id: str | None
    table_id: str | None
    aggregate_type: str
    aggregate_id: str
    version: int | None
    # Already RFC 3339 text (events.py formats it once for every transport).
    occurred_at: str = Field(json_schema_extra={"format": "date-time"})
    user_id: str | None
    payload: dict[str, Any]


class EventPageOut(BaseModel):
    data: list[EventOut]
    next_since: int
    reset: bool
