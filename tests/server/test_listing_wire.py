"""A listed record is written straight from its row (``Projection.wire``), and it must be the very
JSON the record's model gives (``Projection.out`` dumped), timestamps included (``wire_time``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from pyairtable_server.clock import rfc3339
from pyairtable_server.data.schema import TableSchema
from pyairtable_server.data.values import Projection, wire_time
from pyairtable_server.db.models import DataField, DataTable
from pyairtable_server.json_codec import encode

MOMENTS = [
    datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # no fraction: isoformat leaves it out
    datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
    datetime(2026, 6, 30, 0, 0, 0, 500000, tzinfo=UTC),
]


def _sqlite_text(moment: datetime) -> str:
    """The text SQLAlchemy stores for a (naive UTC) datetime on SQLite."""
    return moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_a_stored_timestamp_reads_as_rfc3339_on_both_databases(moment: datetime) -> None:
    expected = rfc3339(moment)
    assert wire_time(_sqlite_text(moment)) == expected  # SQLite's text
    assert wire_time(moment.replace(tzinfo=None)) == expected  # PostgreSQL's naive datetime
    assert wire_time(moment) == expected  # an aware one
    # Text in another shape SQLite may hold (written without a fraction) is parsed.
    assert wire_time(moment.replace(tzinfo=None, microsecond=0).isoformat(" ")) == rfc3339(
        moment.replace(microsecond=0)
    )


def test_text_that_is_no_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="isoformat"):
        wire_time("not a time")


def _field(field_id: str, name: str, kind: str, position: int) -> DataField:
    return DataField(id=field_id, name=name, type=kind, options={}, position=position)


def test_a_listed_record_is_the_json_of_its_model() -> None:
    fields = [
        _field("fldName", "Name", "text", 0),
        _field("fldTags", "Tags", "multiselect", 1),
        _field("fldScore", "Score", "number", 2),
        _field("fldMade", "Made", "created_time", 3),
        _field("fldChanged", "Changed", "last_modified_time", 4),
        _field("fldNumber", "Number", "autonumber", 5),
        _field("fldEmpty", "Empty", "text", 6),
    ]
    schema = TableSchema(table=DataTable(id="tblT"), fields=fields, role="owner")
    created = MOMENTS[1]
    updated = created + timedelta(microseconds=250)
    columns: dict[str, Any] = {
        "id": "recA",
        "table_id": "tblT",
        "autonumber": 7,
        "fields": {"fldName": "Zoë ✓", "fldTags": ["a", "b"], "fldScore": 0.1, "gone": 1},
        "version": 3,
        "created_by": "usrA",
        "updated_by": None,
    }
    as_stored = SimpleNamespace(
        **columns, created_at=_sqlite_text(created), updated_at=_sqlite_text(updated)
    )
    as_model = SimpleNamespace(**columns, created_at=created, updated_at=updated)
    for only in (None, [fields[5], fields[0]], []):
        shown = Projection(schema, only)
        wired = shown.wire(as_stored)  # type: ignore[arg-type]
        assert wired == json.loads(shown.out(as_model).model_dump_json())  # type: ignore[arg-type]
        assert json.loads(encode(wired)) == wired


def test_integers_beyond_64_bits_still_encode() -> None:
    assert json.loads(encode({"n": 2**70})) == {"n": 2**70}
