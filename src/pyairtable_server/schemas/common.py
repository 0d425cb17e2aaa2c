"""Shapes shared by every service: text types, timestamps, page-numbered lists."""

from __future__ import annotations

import math
import unicodedata
from datetime import datetime
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

from ..clock import rfc3339

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20


def _clean_text(value: str) -> str:
    """Refuse text a database cannot keep faithfully: NUL, other controls, lone surrogates."""
    for char in value:
        if char in "\n\r\t":
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            raise ValueError("must not contain control characters")
        if category == "Cs":
            raise ValueError("must be valid unicode (no lone surrogates)")
    return value


def _single_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("must be a single line")
    return value


Text = Annotated[str, AfterValidator(_clean_text)]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(_clean_text),
    AfterValidator(_single_line),
]
PersonName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_clean_text),
    AfterValidator(_single_line),
]
Description = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(_clean_text)]
# The serializer returns text, so the schema must say which text: RFC 3339 (contract §2).
Timestamp = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class RequestModel(BaseModel):
    """Request bodies refuse unknown keys, so a misspelt field is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid", str_max_length=100_000)


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageMeta(BaseModel):
    page: int
    per_page: int
    total: int
    total_pages: int
    has_next: bool
    has_prev: bool

    @classmethod
    def of(cls, *, page: int, per_page: int, total: int, **extra: int) -> Self:
        pages = math.ceil(total / per_page) if total else 0
        return cls(
            **extra,
            page=page,
            per_page=per_page,
            total=total,
            total_pages=pages,
            has_next=page < pages,
            has_prev=page > 1,
        )


class PositionedPageMeta(PageMeta):
    """Page metadata plus the event position read before the rows (contract §8)."""

    event_position: int


class PageParams(BaseModel):
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page
