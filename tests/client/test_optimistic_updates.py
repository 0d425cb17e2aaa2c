"""Optimistic updates against the real backend: shown at once, confirmed or rolled back exactly.

A second user, acting through the raw client, changes records concurrently to cause real 409s;
``FaultTransport`` gates hold requests in flight so a test decides the order of the answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from pyairtable_integration import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PyAirtableIntegration,
)
from pyairtable_integration.cache import RecordCache
from pyairtable_integration.optimistic import (
    MAX_CONFLICT_ROUNDS,
    MutationResult,
    Mutations,
    OptimisticManager,
    UpdateEvent,
    is_temporary_id,
)
from pyairtable_integration.testing import Actor, FaultTransport, Gate, reset, status
from pyairtable_integration.types import Record

from .conftest import Backend, RigFactory

pytestmark = pytest.mark.anyio


@dataclass
class Setup:
    """A signed-in integration with a table, one cached record, and a second editor."""

    pa: PyAirtableIntegration
    faults: FaultTransport
    cache: RecordCache
    optimistic: OptimisticManager
    mutate: Mutations
    table_id: str
    record: Record
    other: Actor
    events: list[UpdateEvent]
    backend: Backend


async def _setup(faulty: RigFactory, backend: Backend, **options: Any) -> Setup:
    rig = await faulty(**options)
    pa = rig.pa
    workspace = await pa.services.workspace.create_workspace(name="Optimistic")
    base = await pa.services.base.create_base(workspace_id=workspace.id, name="B")
    table = await pa.services.table.create_table(
        base_id=base.id,
        name="People",
        fields=[
            {"name": "Name", "type": "text"},
            {"name": "Age", "type": "number"},
            {"name": "Team", "type": "text"},
        ],
    )
    record = await pa.services.record.create_record(
        table.id, {"Name": "Ada", "Age": 36, "Team": "math"}
    )
    other = await backend.user()
    await pa.services.workspace.add_workspace_member(workspace.id, user_id=other.id, role="editor")
    pa.cache.records.put_server(record)  # as if the app had read it
    events: list[UpdateEvent] = []
    pa.optimistic.on_update(events.append)
    return Setup(
        pa,
        rig.faults,
        pa.cache.records,
        pa.optimistic,
        pa.mutate,
        table.id,
        record,
        other,
        events,
        backend,
    )


async def _their_change(
    backend: Backend, other: Actor, record_id: str, fields: dict[str, Any]
) -> Record:
    response = await backend.api.client.patch(
        f"/records/{record_id}", json={"fields": fields}, headers=other.headers
    )
    assert response.status_code == 200, response.text
    return Record.model_validate(response.json())


async def _server(s: Setup, record_id: str) -> dict[str, Any]:
    """The record's fields as the backend holds them (read past every client-side cache)."""
    response = await s.backend.api.client.get(f"/records/{record_id}", headers=s.other.headers)
    assert response.status_code == 200, response.text
    fields: dict[str, Any] = response.json()["fields"]
    return fields


def _gates(
    faults: FaultTransport, count: int, *, method: str = "PATCH", path: str = "/records/*"
) -> list[Gate]:
    """``count`` gates, each holding one of the next matching requests, in arrival order."""
    gates = [Gate() for _ in range(count)]
    for gate in gates:
        faults.add(gate, method=method, path=path)
    return gates


# -- create, update, delete: at once, then confirmed --------------------------------------------


async def test_manual_create_update_delete_are_shown_at_once_then_confirmed(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)

    update_id, shown = await s.optimistic.optimistic_create_record(s.table_id, {"Name": "New"})
    assert shown is not None and is_temporary_id(shown.id)
    assert s.cache.get(shown.id) == shown
    assert [u.update_id for u in s.optimistic.get_pending_updates()] == [update_id]
    created = await s.pa.services.record.create_record(s.table_id, {"Name": "New"})
    s.optimistic.confirm_update(update_id, created)
    assert s.cache.get(shown.id) is None
    assert s.cache.get(created.id) == created

    update_id, shown = await s.optimistic.optimistic_update_record(created.id, {"Age": 3})
    assert shown is not None and shown.fields == {"Name": "New", "Age": 3}
    updated = await s.pa.services.record.update_record(
        created.id, {"Age": 3}, expected_version=created.version
    )
    s.optimistic.confirm_update(update_id, updated)
    assert s.cache.get(created.id) == updated

    update_id = await s.optimistic.optimistic_delete_record(created.id)
    assert s.cache.get(created.id) is None
    await s.pa.services.record.delete_record(created.id, expected_version=updated.version)
    s.optimistic.confirm_update(update_id)
    assert s.cache.get(created.id) is None
    assert s.optimistic.get_pending_updates() == []
    assert [event.outcome for event in s.events] == ["confirmed"] * 3


async def test_mutate_shows_each_write_while_it_is_in_flight_then_the_server_answer(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)
    record_id = s.record.id

    (gate,) = _gates(s.faults, 1)
    update = asyncio.create_task(s.mutate.update_record(record_id, {"Name": "Ada L."}))
    await gate.arrived.wait()
    shown = s.cache.get(record_id)
    assert shown is not None and shown.fields["Name"] == "Ada L."
    assert shown.version == s.record.version  # nothing confirmed yet
    gate.release()
    result = await update
    assert result.applied and result.record is not None
    assert result.record.version == s.record.version + 1
    assert s.cache.get(record_id) == result.record

    (gate,) = _gates(s.faults, 1, method="POST", path="/records")
    create = asyncio.create_task(s.mutate.create_record(s.table_id, {"Name": "Grace"}))
    await gate.arrived.wait()
    (pending,) = s.optimistic.get_pending_updates()
    assert is_temporary_id(pending.record_id)
    assert s.cache.get(pending.record_id) is not None
    gate.release()
    created = (await create).record
    assert created is not None and s.cache.get(created.id) == created
    assert s.cache.get(pending.record_id) is None

    (gate,) = _gates(s.faults, 1, method="DELETE")
    delete = asyncio.create_task(s.mutate.delete_record(created.id))
    await gate.arrived.wait()
    assert s.cache.get(created.id) is None
    assert [u.kind for u in s.optimistic.get_pending_updates()] == ["delete"]
    gate.release()
    assert (await delete).applied
    assert s.optimistic.get_pending_updates() == []
    response = await backend.api.client.get(f"/records/{created.id}", headers=s.other.headers)
    assert response.status_code == 404


# -- rollback --------------------------------------------------------------------------------


async def test_a_rejected_update_rolls_back_to_exactly_the_state_before(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)
    before = s.cache.get(s.record.id)

    with pytest.raises(InvalidRequestError) as caught:
        await s.mutate.update_record(s.record.id, {"Age": "not a number"})

    assert caught.value.code == 422
    assert s.cache.get(s.record.id) == before
    assert s.optimistic.get_pending_updates() == []
    assert [(e.outcome, e.error) for e in s.events] == [("rolled_back", caught.value)]
    assert await _server(s, s.record.id) == {"Name": "Ada", "Age": 36, "Team": "math"}


async def test_a_rejected_create_and_delete_leave_nothing_behind(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)
    with pytest.raises(InvalidRequestError):
        await s.mutate.create_record(s.table_id, {"Nope": 1})
    assert s.optimistic.get_pending_updates() == []
    assert s.cache.pending_updates(s.record.id) == []

    await _their_change(backend, s.other, s.record.id, {"Team": "navy"})
    gone = await backend.api.client.delete(f"/records/{s.record.id}", headers=s.other.headers)
    assert gone.status_code == 204
    before = s.cache.get(s.record.id)
    with pytest.raises(NotFoundError):
        await s.mutate.delete_record(s.record.id)
    assert s.cache.get(s.record.id) == before


async def test_overlapping_updates_with_one_failing_in_the_middle_keep_the_others(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)
    record_id = s.record.id
    first, bad, third = _gates(s.faults, 3)

    names = asyncio.create_task(s.mutate.update_record(record_id, {"Name": "Ada L."}))
    await first.arrived.wait()
    ages = asyncio.create_task(s.mutate.update_record(record_id, {"Age": "old"}))
    await bad.arrived.wait()
    teams = asyncio.create_task(s.mutate.update_record(record_id, {"Team": "navy"}))
    await third.arrived.wait()
    shown = s.cache.get(record_id)
    assert shown is not None
    assert shown.fields == {"Name": "Ada L.", "Age": "old", "Team": "navy"}
    assert len(s.cache.pending_updates(record_id)) == 3

    bad.release()  # the middle one is refused first: 422
    with pytest.raises(InvalidRequestError):
        await ages
    shown = s.cache.get(record_id)
    assert shown is not None
    assert shown.fields == {"Name": "Ada L.", "Age": 36, "Team": "navy"}

    third.release()  # answered before the first: applied at version + 1
    team_result = await teams
    assert team_result.applied and team_result.resolution is None
    shown = s.cache.get(record_id)
    assert shown is not None
    assert shown.fields == {"Name": "Ada L.", "Age": 36, "Team": "navy"}

    first.release()  # its If-Match is now stale: a real 409, merged (different fields), resent
    name_result = await names
    assert name_result.applied
    assert name_result.resolution is not None and name_result.resolution.decided_by == "merge"
    final = {"Name": "Ada L.", "Age": 36, "Team": "navy"}
    assert await _server(s, record_id) == final
    shown = s.cache.get(record_id)
    assert shown is not None and shown.fields == final
    assert shown.version == s.record.version + 2
    assert s.optimistic.get_pending_updates() == []
    assert [e.outcome for e in s.events] == ["rolled_back", "confirmed", "conflict", "confirmed"]


async def test_rolling_back_stacked_updates_in_any_order_never_loses_another(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)
    record_id = s.record.id
    a, _ = await s.optimistic.optimistic_update_record(record_id, {"Name": "A"})
    b, _ = await s.optimistic.optimistic_update_record(record_id, {"Name": "B", "Age": 1})
    c, _ = await s.optimistic.optimistic_update_record(record_id, {"Team": "C"})

    s.optimistic.rollback_update(b)
    view = s.cache.get(record_id)
    assert view is not None and view.fields == {"Name": "A", "Age": 36, "Team": "C"}
    s.optimistic.rollback_update(a)
    view = s.cache.get(record_id)
    assert view is not None and view.fields == {"Name": "Ada", "Age": 36, "Team": "C"}
    s.optimistic.rollback_update(c)
    assert s.cache.get(record_id) == s.record
    with pytest.raises(KeyError):
        s.optimistic.rollback_update(c)


# -- conflicts: each strategy against a real 409 --------------------------------------------------


async def _conflicted_update(
    s: Setup,
    backend: Backend,
    theirs: dict[str, Any],
    mine: dict[str, Any],
    **options: Any,
) -> tuple[Record, MutationResult]:
    current = await _their_change(backend, s.other, s.record.id, theirs)
    result = await s.mutate.update_record(s.record.id, mine, **options)
    conflicts = [e for e in s.events if e.outcome == "conflict"]
    assert len(conflicts) == 1 and isinstance(conflicts[0].error, ConflictError)
    assert conflicts[0].error.code == 409
    return current, result


def _if_matches(faults: FaultTransport) -> list[str | None]:
    return [seen.headers.get("If-Match") for seen in faults.seen("PATCH", "/records/*")]


async def test_server_wins_drops_the_local_change_and_adopts_the_server_record(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)
    current, result = await _conflicted_update(
        s, backend, {"Age": 40}, {"Name": "Mine"}, strategy="server_wins"
    )
    assert not result.applied and result.record == current
    assert s.cache.get(s.record.id) == current
    assert await _server(s, s.record.id) == {"Name": "Ada", "Age": 40, "Team": "math"}
    assert _if_matches(s.faults) == [f'"{s.record.version}"']
    assert s.optimistic.get_pending_updates() == []


async def test_client_wins_resends_over_the_server_change_with_its_version(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)
    current, result = await _conflicted_update(
        s, backend, {"Name": "Theirs"}, {"Name": "Mine"}, strategy="client_wins"
    )
    assert result.applied and result.record is not None
    assert await _server(s, s.record.id) == {"Name": "Mine", "Age": 36, "Team": "math"}
    assert _if_matches(s.faults) == [f'"{s.record.version}"', f'"{current.version}"']
    assert s.cache.get(s.record.id) == result.record


async def test_merge_keeps_both_changes_when_they_touch_different_fields(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)
    _, result = await _conflicted_update(s, backend, {"Age": 40}, {"Name": "Mine"})
    assert result.applied
    assert await _server(s, s.record.id) == {"Name": "Mine", "Age": 40, "Team": "math"}
    view = s.cache.get(s.record.id)
    assert view is not None and view.fields == {"Name": "Mine", "Age": 40, "Team": "math"}


async def test_merge_on_the_same_field_asks_the_resolver(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)

    def both(
        local: Mapping[str, Any], base: Mapping[str, Any] | None, current: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        assert base is not None and base["Name"] == "Ada"
        return {"Name": f"{current['Name']} & {local['Name']}"}

    _, result = await _conflicted_update(
        s, backend, {"Name": "Theirs"}, {"Name": "Mine"}, resolver=both
    )
    assert result.applied and result.resolution is not None
    assert result.resolution.decided_by == "resolver"
    assert await _server(s, s.record.id) == {"Name": "Theirs & Mine", "Age": 36, "Team": "math"}
    assert s.cache.get(s.record.id) == result.record


async def test_merge_on_the_same_field_without_a_resolver_lets_the_server_win_and_reports_it(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)
    current, result = await _conflicted_update(
        s, backend, {"Name": "Theirs"}, {"Name": "Mine", "Team": "navy"}
    )
    assert not result.applied and result.record == current
    assert result.resolution is not None and result.resolution.conflicting == {"Name"}
    assert await _server(s, s.record.id) == {"Name": "Theirs", "Age": 36, "Team": "math"}
    assert s.cache.get(s.record.id) == current


async def test_a_custom_strategy_chooses_the_fields_to_resend(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)

    def oldest(
        local: Mapping[str, Any], base: Mapping[str, Any] | None, current: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        return {"Age": max(local["Age"], current["Age"])}

    _, result = await _conflicted_update(s, backend, {"Age": 50}, {"Age": 45}, strategy=oldest)
    assert result.applied and result.resolution is not None
    assert result.resolution.decided_by == "custom"
    assert await _server(s, s.record.id) == {"Name": "Ada", "Age": 50, "Team": "math"}


@pytest.mark.parametrize(("strategy", "deleted"), [("merge", False), ("client_wins", True)])
async def test_deleting_a_record_changed_meanwhile_keeps_it_unless_client_wins(
    faulty: RigFactory, backend: Backend, strategy: str, deleted: bool
) -> None:
    s = await _setup(faulty, backend)
    current = await _their_change(backend, s.other, s.record.id, {"Team": "navy"})
    result = await s.mutate.delete_record(s.record.id, strategy=strategy)  # type: ignore[arg-type]
    assert result.applied is deleted
    response = await backend.api.client.get(f"/records/{s.record.id}", headers=s.other.headers)
    assert response.status_code == (404 if deleted else 200)
    assert s.cache.get(s.record.id) == (None if deleted else current)


# -- retries and switches ----------------------------------------------------------------------


async def test_a_retried_write_is_applied_once_under_one_idempotency_key(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)
    s.faults.add(reset(), method="PATCH", path="/records/*")  # applied, then the answer is lost

    result = await s.mutate.update_record(s.record.id, {"Name": "Once"})

    sent = s.faults.seen("PATCH", "/records/*")
    assert len(sent) == 2
    assert sent[0].idempotency_key is not None
    assert sent[0].idempotency_key == sent[1].idempotency_key
    assert sent[1].response_headers.get("Idempotent-Replayed") == "true"
    assert result.record is not None and result.record.version == s.record.version + 1
    response = await backend.api.client.get(f"/records/{s.record.id}", headers=s.other.headers)
    assert response.json()["version"] == s.record.version + 1


@pytest.mark.parametrize(
    "switch",
    [
        {"enable_optimistic_updates": False},
        {"features": {"enable_optimistic_updates": False}},
    ],
)
async def test_with_optimistic_updates_off_mutate_only_sends(
    faulty: RigFactory, backend: Backend, switch: dict[str, Any]
) -> None:
    s = await _setup(faulty, backend, **switch)
    assert not s.mutate.optimistic_enabled
    (gate,) = _gates(s.faults, 1)
    update = asyncio.create_task(s.mutate.update_record(s.record.id, {"Name": "Later"}))
    await gate.arrived.wait()
    assert s.cache.get(s.record.id) == s.record
    assert s.optimistic.get_pending_updates() == []
    gate.release()
    result = await update
    assert result.update_id is None and result.applied
    assert await _server(s, s.record.id) == {"Name": "Later", "Age": 36, "Team": "math"}


# -- creates with updates stacked on their temporary record -----------------------------------


async def test_confirming_a_create_moves_updates_stacked_on_it_to_the_real_id(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)
    create_id, shown = await s.optimistic.optimistic_create_record(s.table_id, {"Name": "New"})
    assert shown is not None
    update_id, _ = await s.optimistic.optimistic_update_record(shown.id, {"Age": 7})
    with pytest.raises(ValueError, match="temporary id"):
        await s.mutate.update_record(shown.id, {"Age": 8})

    created = await s.pa.services.record.create_record(s.table_id, {"Name": "New"})
    s.optimistic.confirm_update(create_id, created)

    assert s.optimistic.get_pending_update(update_id).record_id == created.id
    view = s.cache.get(created.id)
    assert view is not None and view.fields == {"Name": "New", "Age": 7}
    s.optimistic.rollback_update(update_id)
    assert s.cache.get(created.id) == created


async def test_rolling_back_a_create_rolls_back_the_updates_stacked_on_it(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)
    create_id, shown = await s.optimistic.optimistic_create_record(s.table_id, {"Name": "New"})
    assert shown is not None
    await s.optimistic.optimistic_update_record(shown.id, {"Age": 7})
    unsubscribe = s.optimistic.on_update(lambda event: None)
    unsubscribe()

    s.optimistic.rollback_update(create_id)

    assert s.optimistic.get_pending_updates() == []
    assert s.cache.get(shown.id) is None
    assert s.cache.pending_updates(shown.id) == []
    assert [(e.outcome, e.update.kind) for e in s.events] == [
        ("rolled_back", "create"),
        ("rolled_back", "update"),
    ]


async def test_a_record_that_keeps_conflicting_gives_up_and_rolls_back(
    faulty: RigFactory, backend: Backend
) -> None:
    s = await _setup(faulty, backend)
    current = await _their_change(backend, s.other, s.record.id, {"Age": 40})
    conflict = status(409, details={"current": current.model_dump(mode="json")})
    s.faults.add(conflict, method="PATCH", path="/records/*", times=MAX_CONFLICT_ROUNDS + 1)
    before = s.cache.get(s.record.id)

    with pytest.raises(ConflictError):
        await s.mutate.update_record(s.record.id, {"Name": "Mine"})

    assert len(s.faults.seen("PATCH", "/records/*")) == MAX_CONFLICT_ROUNDS + 1
    assert s.optimistic.get_pending_updates() == []
    view = s.cache.get(s.record.id)
    assert before is not None and before.fields != current.fields
    assert view is not None and view.fields == current.fields  # the server's, not the change
    assert s.events[-1].outcome == "rolled_back"
    assert await _server(s, s.record.id) == {"Name": "Ada", "Age": 40, "Team": "math"}
