"""Pure cache logic, without an event loop: LRU/TTL/tags, keys, filter matching, sort placement,
and the optimistic overlay of the record layer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pyairtable_integration.cache import (
    FieldInfo,
    ListQuery,
    MemoryCache,
    RecordCache,
    Schema,
    Strategies,
    Undecidable,
)
from pyairtable_integration.store._matcher import matches, sort_key
from pyairtable_integration.types import Record, RecordList

SCHEMA = Schema(
    [
        FieldInfo("fld1", "Name", "text"),
        FieldInfo("fld2", "Score", "number"),
        FieldInfo("fld3", "Status", "select"),
        FieldInfo("fld4", "Done", "checkbox"),
        FieldInfo("fld5", "Due", "date"),
    ]
)
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def test_lru_evicts_the_least_recently_used_and_counts_it() -> None:
    cache = MemoryCache(2)
    cache.put("a", 1, 0, ttl=10)
    cache.put("b", 2, 0, ttl=10)
    assert cache.lookup("a", 1) is not None  # a is now the most recent
    cache.put("c", 3, 1, ttl=10)
    assert cache.keys() == ["a", "c"]
    stats = cache.stats
    assert (stats.evictions, stats.size, stats.hits) == (1, 2, 1)


def test_ttl_then_swr_then_expired() -> None:
    cache = MemoryCache(10)
    cache.put("k", "v", 0, ttl=10, swr=5)
    assert cache.peek("k") is not None
    assert cache.peek("k").freshness(9.9) == "fresh"  # type: ignore[union-attr]
    assert cache.lookup("k", 12) is not None
    assert cache.stats.stale_hits == 1
    assert cache.lookup("k", 15) is None
    assert cache.stats.misses == 1 and cache.stats.hit_ratio == 0.5
    assert len(cache) == 0


def test_prefix_pattern_and_tag_invalidation() -> None:
    cache = MemoryCache(10)
    cache.put("records:tbl1:list:a", 1, 0, ttl=10, tags=["t1"])
    cache.put("records:tbl2:list:b", 2, 0, ttl=10)
    cache.put("schema:tbl1:table", 3, 0, ttl=10, tags=["t1"])
    assert cache.invalidate_prefix("records:tbl1:") == ["records:tbl1:list:a"]
    assert cache.invalidate_pattern("records:*:list:*") == ["records:tbl2:list:b"]
    assert cache.invalidate_tag("t1") == ["schema:tbl1:table"]
    assert len(cache) == 0


def test_keys_are_stable_whatever_the_order_of_the_query() -> None:
    keys = Strategies()
    one = keys.record_list(
        table_id="tbl1",
        fields=["B", "A"],
        filter={"conjunction": "and", "conditions": []},
    )
    two = keys.record_list(
        table_id="tbl1",
        filter={"conditions": [], "conjunction": "and"},
        fields=["A", "B"],
    )
    assert one == two and one.startswith("records:tbl1:list:")
    assert keys.record_list(table_id="tbl1", view_id="viw1") != one


def test_each_key_falls_under_the_prefix_that_invalidates_it() -> None:
    keys = Strategies()
    assert keys.record_list(table_id="tbl1").startswith(keys.table_records(table_id="tbl1"))
    assert not keys.record_list(table_id="tbl10").startswith(keys.table_records(table_id="tbl1"))
    assert keys.table_schema(table_id="tbl1").startswith(keys.table_schemas(table_id="tbl1"))
    assert keys.workspace_list(page=2).startswith(keys.workspaces())
    assert keys.user_profile().startswith(keys.users())


def _cond(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {
        "conjunction": "and",
        "conditions": [{"field": field, "operator": operator, "value": value}],
    }


@pytest.mark.parametrize(
    ("fields", "condition", "expected"),
    [
        ({"Name": "Alpha"}, _cond("Name", "equals", "alpha"), True),  # text ignores case
        ({"Status": "Open"}, _cond("Status", "equals", "open"), False),  # select names are exact
        ({"Status": "Open"}, _cond("Status", "contains", "pe"), True),
        ({}, _cond("Name", "not_equals", "x"), True),  # negatives match empty cells
        ({}, _cond("Score", "less_than", 5), False),  # comparisons never do
        ({"Score": 7}, _cond("fld2", "greater_equal", "7"), True),  # by id; numeric strings
        ({"Done": False}, _cond("Done", "is_empty"), True),  # an unticked box is empty
        ({"Name": "xYz"}, _cond("Name", "in", ["XYZ", "b"]), True),
    ],
)
def test_filter_matcher_follows_the_server(
    fields: dict[str, Any], condition: dict[str, Any], expected: bool
) -> None:
    assert matches(fields, condition, SCHEMA) is expected


def test_the_matcher_refuses_what_it_cannot_decide() -> None:
    with pytest.raises(Undecidable):
        matches({"Due": "2030-01-01"}, _cond("Due", "greater_than", "2029-01-01"), SCHEMA)
    with pytest.raises(Undecidable):
        matches({}, _cond("Nope", "equals", "x"), SCHEMA)


def test_sort_puts_empty_first_ascending_and_ties_by_creation() -> None:
    rows = [({"Score": 5}, 2), ({}, 3), ({"Score": 5}, 1), ({"Score": 1}, 4)]
    asc = sorted(rows, key=lambda r: sort_key(r[0], (r[1],), [{"field": "Score"}], SCHEMA))
    assert [r[1] for r in asc] == [3, 4, 1, 2]
    desc = sorted(
        rows,
        key=lambda r: sort_key(r[0], (r[1],), [{"field": "Score", "direction": "desc"}], SCHEMA),
    )
    assert [r[1] for r in desc] == [2, 1, 4, 3]  # the exact reverse


def _record(record_id: str, version: int, n: int, **fields: Any) -> Record:
    at = T0 + timedelta(seconds=n)
    return Record(
        id=record_id,
        table_id="tbl1",
        fields=fields,
        version=version,
        created_at=at,
        updated_at=at,
        created_by=None,
        updated_by=None,
    )


def _page(*records: Record, position: int = 0) -> RecordList:
    return RecordList.model_validate(
        {
            "data": [r.model_dump() for r in records],
            "pagination": {
                "page_size": 100,
                "total": len(records),
                "has_next": False,
                "next_offset": None,
                "event_position": position,
            },
        }
    )


def _layer() -> tuple[RecordCache, ListQuery]:
    cache = RecordCache(lambda: T0, lambda: 0.0)
    cache.set_schema("tbl1", SCHEMA)
    query = ListQuery(
        table_id="tbl1",
        filter=_cond("Score", "greater_than", 10),
        sort=({"field": "Score", "direction": "asc"},),
    )
    page = _page(_record("rec1", 1, 1, Score=20), _record("rec2", 1, 2, Score=30))
    assert cache.store_list("k", query, page, started_generation=0)
    return cache, query


def _ids(cache: RecordCache) -> list[str]:
    return [record.id for record in cache.list_view("k") or []]


def test_an_update_moves_a_record_within_a_list_and_out_of_it() -> None:
    cache, _ = _layer()
    cache.put_server(_record("rec1", 2, 1, Score=40))
    assert _ids(cache) == ["rec2", "rec1"]
    cache.put_server(_record("rec1", 3, 1, Score=1))
    assert _ids(cache) == ["rec2"]
    cache.put_server(_record("rec1", 2, 1, Score=99))  # older news: ignored
    assert _ids(cache) == ["rec2"]


def test_a_list_read_before_the_last_event_is_not_kept() -> None:
    cache, query = _layer()
    cache.apply_event(
        {"seq": 10, "type": "record.deleted", "table_id": "tbl1", "payload": {"record_id": "rec2"}}
    )
    assert not cache.store_list(
        "k", query, _page(position=9), started_generation=cache.generation("tbl1")
    )
    assert _ids(cache) == ["rec1"]


def test_overlapping_optimistic_layers_drop_in_any_order() -> None:
    cache, _ = _layer()
    cache.apply_optimistic("u1", "tbl1", "rec1", "update", {"Score": 50, "Name": "one"})
    cache.apply_optimistic("u2", "tbl1", "rec1", "update", {"Score": 5})
    cache.apply_optimistic("u3", "tbl1", "tmp_1", "create", {"Score": 25})
    assert _ids(cache) == ["tmp_1", "rec2"]  # rec1 now scores 5: out of the list
    assert cache.pending_updates("rec1") == ["u1", "u2"]
    cache.drop_optimistic("u2")
    assert cache.get("rec1").fields == {"Score": 50, "Name": "one"}  # type: ignore[union-attr]
    assert _ids(cache) == ["tmp_1", "rec2", "rec1"]
    cache.apply_optimistic("u4", "tbl1", "rec2", "delete", None)
    cache.drop_optimistic("u1")
    assert cache.get("rec1") == cache.server("rec1")
    assert _ids(cache) == ["rec1", "tmp_1"]
    cache.replace_id("tmp_1", _record("rec3", 1, 3, Score=25))
    cache.drop_optimistic("u4")
    assert _ids(cache) == ["rec1", "rec3", "rec2"]
    assert cache.pending_updates("tmp_1") == []
