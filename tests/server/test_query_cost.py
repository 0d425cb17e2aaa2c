"""Query cost is bounded (issue 13, item 2): what a filter may ask is capped before SQL is built,
"has any of these" is one SQL term whatever the number of values, JSON nested without end is a
4xx, and database size errors are 422 whose log lines carry no SQL or bound parameters.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from pyairtable_server.app import create_app
from pyairtable_server.data.query import MAX_FILTER_VALUES

from .backend import Actor, Api, build_settings

pytestmark = pytest.mark.anyio

CHOICES = [f"c{i}" for i in range(100)]


@pytest.fixture(scope="module")
def api(module_api: Api) -> Api:
    """One app for the module; every test signs up users of its own."""
    return module_api


async def tagged_table(api: Api) -> tuple[Actor, dict[str, Any], dict[str, str]]:
    """A table with a multiselect ``Tags`` and a self-link ``Links``, and three records: ``a``
    tagged c1, ``b`` tagged c2 and linked to ``a``, ``c`` untagged. Answers labels → ids."""
    owner, table = await api.new_table(
        [
            {"name": "Name", "type": "text"},
            {"name": "Tags", "type": "multiselect", "options": {"choices": CHOICES}},
        ]
    )
    await api.post(
        owner,
        "/fields",
        {
            "table_id": table["id"],
            "name": "Links",
            "type": "reference",
            "options": {"referenced_table_id": table["id"]},
        },
    )
    made = await api.post(
        owner,
        "/records/batch",
        {
            "table_id": table["id"],
            "records": [
                {"fields": {"Name": "a", "Tags": ["c1"]}},
                {"fields": {"Name": "b", "Tags": ["c2"]}},
                {"fields": {"Name": "c"}},
            ],
        },
    )
    ids = {r["fields"]["Name"]: r["id"] for r in made["data"]}
    response = await api.client.patch(
        f"/records/{ids['b']}", json={"fields": {"Links": [ids["a"]]}}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    return owner, table, ids


def any_of(field: str, values: list[str], conditions: int) -> dict[str, Any]:
    return {
        "conjunction": "or",
        "conditions": [
            {"field": field, "operator": "in", "value": values} for _ in range(conditions)
        ],
    }


@contextmanager
def statements(api: Api) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement the app sends while the block runs, with its parameters."""
    engine = api.app.state.services.db.engine.sync_engine
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def query(api: Api, owner: Actor, table_id: str, group: dict[str, Any]) -> httpx2.Response:
    return await api.client.post(
        "/records/query", json={"table_id": table_id, "filter": group}, headers=owner.headers
    )


@pytest.mark.parametrize("field", ["Tags", "Links"])
async def test_two_hundred_in_conditions_of_a_hundred_values_are_refused_naming_filter(
    api: Api, field: str
) -> None:
    owner, table, ids = await tagged_table(api)
    values = CHOICES if field == "Tags" else [ids["a"]] * 100
    group = any_of(field, values, 200)
    with statements(api) as sent:
        answer = await query(api, owner, table["id"], group)
    assert answer.status_code == 422, answer.text
    assert "filter" in answer.json()["error"]["details"]["fields"]
    assert not [s for s, _ in sent if "records" in s.lower() and "exists" in s.lower()]


@pytest.mark.parametrize("field", ["Tags", "Links"])
async def test_has_any_is_one_sql_term_per_condition_with_its_values_bound_once(
    api: Api, field: str
) -> None:
    """At the limit (20 conditions of 100 values) the statement holds one term per condition
    and a handful of parameters, not one per value, and still finds the right records."""
    owner, table, ids = await tagged_table(api)
    if field == "Tags":
        values = CHOICES
    else:
        values = [ids["a"], *(f"rec{'x' * 14}{i:03d}" for i in range(99))]
    conditions = MAX_FILTER_VALUES // len(values)
    with statements(api) as sent:
        answer = await query(api, owner, table["id"], any_of(field, values, conditions))
    assert answer.status_code == 200, answer.text
    expected = {"b"} if field == "Links" else {"a"}
    if field == "Tags":
        expected = {"a", "b"}  # c1 and c2 are both among the values
    assert {r["fields"]["Name"] for r in answer.json()["data"]} == expected
    page = [(s, p) for s, p in sent if "order by" in s.lower() and "records" in s.lower()]
    assert page, [s for s, _ in sent]
    statement, parameters = page[0]
    assert len(parameters) < 4 * conditions
    assert len(statement) < 400 * conditions
    db = api.app.state.services.db
    term = "json_each(records.fields" if db.is_sqlite else "@> ANY"
    assert statement.count(term) == conditions


async def test_deleting_many_linked_records_unlinks_them_with_one_term(api: Api) -> None:
    owner, table, ids = await tagged_table(api)
    extra = await api.post(
        owner,
        "/records/batch",
        {"table_id": table["id"], "records": [{"fields": {"Name": f"x{i}"}} for i in range(50)]},
    )
    targets = [r["id"] for r in extra["data"]] + [ids["a"]]
    with statements(api) as sent:
        response = await api.client.post(
            "/records/batch-delete",
            json={"table_id": table["id"], "ids": targets},
            headers=owner.headers,
        )
    assert response.status_code == 200, response.text
    holder = await api.client.get(f"/records/{ids['b']}", headers=owner.headers)
    assert "Links" not in holder.json()["fields"]
    assert holder.json()["version"] == 3
    lookups = [p for s, p in sent if "json_each(records.fields" in s or "records.fields @>" in s]
    assert lookups and all(len(p) < 10 for p in lookups)


@pytest.mark.parametrize("name", ["filter", "sort"])
async def test_json_nested_without_end_in_the_query_string_is_422_naming_the_parameter(
    api: Api, name: str
) -> None:
    owner, table, _ = await tagged_table(api)
    depth = 3_900 if name == "filter" else 990
    response = await api.client.get(
        "/records",
        params={"table_id": table["id"], name: "[" * depth + "]" * depth},
        headers=owner.headers,
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert list(body["error"]["details"]["fields"]) == [name]
    assert body["request_id"] == response.headers["X-Request-ID"]
    nested = '{"conditions": [' * 40 + "]}" * 40
    response = await api.client.get(
        "/records", params={"table_id": table["id"], "filter": nested}, headers=owner.headers
    )
    assert response.status_code == 422, response.text


@pytest.fixture
async def failing_app(tmp_path: Path) -> Any:
    """A SQLite app with two extra routes that fail the way a database does."""
    app = create_app(build_settings(None, tmp_path / "data"))

    def failure(driver_message: str) -> OperationalError:
        return OperationalError(
            "SELECT * FROM records WHERE secret_statement",
            {"p1": "secret-parameter"},
            sqlite3.OperationalError(driver_message),
        )

    @app.get("/boom/too-large")
    async def too_large() -> None:
        raise failure("Expression tree is too large (maximum depth 1000)")

    @app.get("/boom/broken")
    async def broken() -> None:
        raise failure("disk I/O error")

    async with LifespanManager(app, startup_timeout=60):
        transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx2.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


async def test_database_size_errors_are_422_and_crashes_log_no_sql_or_parameters(
    failing_app: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    too_large = await failing_app.get("/boom/too-large")
    assert too_large.status_code == 422
    assert too_large.json()["error"]["details"]["fields"] == {
        "filter": "too complex for the database"
    }
    with caplog.at_level(logging.DEBUG):
        broken = await failing_app.get("/boom/broken")
    assert broken.status_code == 500
    assert "disk I/O error" in caplog.text
    assert "secret_statement" not in caplog.text
    assert "secret-parameter" not in caplog.text
    assert "secret" not in broken.text
