"""Cached record lists against the real backend: patched in place by local writes and remote
events, they stay equal to a fresh fetch; an older fetch never overwrites newer data."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from pyairtable_integration import PyAirtableIntegration
from pyairtable_integration.testing import Actor, FaultTransport, Gate

from .conftest import BASE_URL, Backend, IntegrationFactory

pytestmark = pytest.mark.anyio

FIELDS: list[dict[str, Any]] = [
    {"name": "Name", "type": "text"},
    {"name": "Score", "type": "number"},
    {"name": "Status", "type": "select", "options": {"choices": ["Open", "Closed", "Later"]}},
    {"name": "Done", "type": "checkbox"},
]
QUERIES: list[dict[str, Any]] = [
    {},
    {"sort": [{"field": "Name", "direction": "asc"}]},
    {
        "filter": {
            "conjunction": "and",
            "conditions": [{"field": "Score", "operator": "greater_than", "value": 50}],
        },
        "sort": [{"field": "Score", "direction": "desc"}],
    },
    {
        "filter": {
            "conjunction": "or",
            "conditions": [
                {"field": "Status", "operator": "equals", "value": "Open"},
                {"field": "Name", "operator": "contains", "value": "X"},
            ],
        },
        "sort": [
            {"field": "Status", "direction": "asc"},
            {"field": "Score", "direction": "asc"},
        ],
    },
    {
        "filter": {
            "conjunction": "and",
            "conditions": [
                {"field": "Done", "operator": "equals", "value": True},
                {"field": "Name", "operator": "not_contains", "value": "q"},
            ],
        },
        "sort": [{"field": "Done", "direction": "desc"}, {"field": "Name", "direction": "desc"}],
    },
    {
        "filter": {
            "conjunction": "and",
            "conditions": [{"field": "Score", "operator": "is_empty"}],
        },
        "fields": ["Name", "Status"],
    },
]


def _values(rng: random.Random) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if rng.random() < 0.8:
        fields["Name"] = rng.choice(["alpha", "Beta", "xray", "gamma", "Qux", "delta", "EXIT"])
    if rng.random() < 0.7:
        fields["Score"] = rng.choice([None, 10, 49.5, 50, 51, 75, 100])
    if rng.random() < 0.6:
        fields["Status"] = rng.choice([None, "Open", "Closed", "Later"])
    if rng.random() < 0.5:
        fields["Done"] = rng.random() < 0.5
    return fields


def _shape(answer: Any) -> list[tuple[str, int, dict[str, Any]]]:
    return [(record.id, record.version, record.fields) for record in answer.data]


async def _setup(
    backend: Backend, make_integration: IntegrationFactory
) -> tuple[PyAirtableIntegration, Actor, str]:
    owner, table = await backend.api.new_table(FIELDS)
    other = await backend.user()
    workspace_id = (
        await backend.api.client.get(f"/bases/{table['base_id']}", headers=owner.headers)
    ).json()["workspace_id"]
    await backend.api.add_member(owner, workspace_id, other, "editor")
    pa = await make_integration(enable_caching=True)
    await pa.auth.login(owner.email, owner.password)
    return pa, other, str(table["id"])


async def test_cached_lists_equal_a_fresh_fetch_after_a_random_mix_of_local_and_remote_writes(
    backend: Backend, make_integration: IntegrationFactory
) -> None:
    pa, other, table_id = await _setup(backend, make_integration)
    rng = random.Random(6)
    records = pa.services.record
    position = (await pa.services.event.get_events(table_id=table_id, limit=1000)).next_since
    live: list[str] = []
    reads = hits_before = 0
    hits_before = pa.cache.manager.get_stats().hits
    for step in range(200):
        remote = rng.random() < 0.5
        action = (
            rng.choice(["create", "create", "update", "update", "delete"]) if live else "create"
        )
        if action == "create":
            fields = _values(rng)
            if remote:
                body = await backend.api.post(
                    other, "/records", {"table_id": table_id, "fields": fields}
                )
                live.append(body["id"])
            else:
                live.append((await records.create_record(table_id, fields)).id)
        elif action == "update":
            target = rng.choice(live)
            fields = _values(rng)
            if remote:
                response = await backend.api.client.patch(
                    f"/records/{target}", json={"fields": fields}, headers=other.headers
                )
                assert response.status_code == 200, response.text
            else:
                await records.update_record(target, fields)
        else:
            target = live.pop(rng.randrange(len(live)))
            if remote:
                response = await backend.api.client.delete(
                    f"/records/{target}", headers=other.headers
                )
                assert response.status_code == 204, response.text
            else:
                await records.delete_record(target)
        # Remote changes (and the echoes of local ones) reach the cache through the event log.
        page = await pa.services.event.get_events(since=position, table_id=table_id, limit=1000)
        for event in page.data:
            pa.cache.invalidation.apply_event(event)
        position = page.next_since
        if step % 5 == 0 or step == 199:
            for query in QUERIES:
                cached = await records.get_records(table_id, **query)
                with pa.cache.bypass():
                    fresh = await records.get_records(table_id, **query)
                reads += 1
                assert _shape(cached) == _shape(fresh), (step, query)
                assert cached.pagination.total == fresh.pagination.total
    # Lists were patched in place, not refetched: most cached reads sent no request.
    hits = pa.cache.manager.get_stats().hits - hits_before
    assert hits >= reads // 2, (hits, reads)


async def test_a_fetch_started_before_a_write_never_overwrites_it(backend: Backend) -> None:
    from pyairtable_integration import create_integration

    owner, table = await backend.api.new_table(FIELDS)
    table_id = str(table["id"])
    faults = FaultTransport(backend.transport())
    pa = create_integration(base_url=BASE_URL, http_transport=faults, environ={}, retry_delay=0)
    try:
        await pa.auth.login(owner.email, owner.password)
        record = await pa.services.record.create_record(table_id, {"Name": "before"})
        gate = Gate()
        faults.add(gate, method="GET", path="/api/v1/records", times=1)
        slow = asyncio.create_task(pa.services.record.get_records(table_id))
        await gate.arrived.wait()
        # The list is read now... but its answer is held while a newer write lands.
        updated = await pa.services.record.update_record(record.id, {"Name": "after"})
        gate.release()
        stale = await slow
        assert stale.data[0].fields["Name"] in ("before", "after")
        again = await pa.services.record.get_records(table_id)
        assert again.data[0].fields["Name"] == "after"
        assert again.data[0].version == updated.version
        assert pa.cache.records.get(record.id) == updated
    finally:
        await pa.aclose()
