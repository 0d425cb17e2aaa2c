"""The event log as the API shows it (contract §8)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


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
    occurred_at: str
    user_id: str | None
    payload: dict[str, Any]


class EventPageOut(BaseModel):
    data: list[EventOut]
    next_since: int
    reset: bool
