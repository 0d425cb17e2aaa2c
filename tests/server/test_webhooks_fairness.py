"""Webhook fairness: free send slots are refilled as they free, capped per webhook and per
workspace, and shared out in turn, so slow receivers never delay anyone else's deliveries.

The pure share-out (``slots.SendSlots``) is tested without an event loop. The server tests use
receivers that hold requests until the test releases them: what must happen while a receiver is
still busy is checked while it is provably busy, never against a clock. Their time limits only
bound how long a failing test takes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from pyairtable_server.clock import utcnow
from pyairtable_server.db.engine import Database
from pyairtable_server.settings import Settings
from pyairtable_server.webhooks import WebhookWorker
from pyairtable_server.webhooks.dispatch import dispatch_once
from pyairtable_server.webhooks.slots import Ready, SendSlots

from .backend import running_api
from .webhook_kit import (
    FAST_WEBHOOKS,
    JSON,
    add_record,
    add_webhook,
    deliveries_of,
    eventually,
    finished,
    rounds_on_demand,
    workspace_with_table,
)
from .webhook_receiver import Receiver

# A held request must stay in flight for the whole test: no timeout may end it early.
HELD: JSON = {
    **FAST_WEBHOOKS,
    "webhook_request_timeout_seconds": 120.0,
    "webhook_lease_seconds": 240.0,
}


# Sharing out (pure) -----------------------------------------------------------------------------


def _ready(*pairs: str) -> list[Ready]:
    """``"w1@a"`` is webhook w1 of workspace a."""
    return [Ready(*pair.split("@")) for pair in pairs]


def test_shares_stay_within_every_cap() -> None:
    slots = SendSlots(total=5, per_webhook=2, per_workspace=3)
    assert slots.shares(_ready("w1@a", "w2@a", "w3@b")) == {"w1": 2, "w2": 1, "w3": 2}
    assert SendSlots(total=3, per_webhook=9, per_workspace=9).shares(_ready("w1@a")) == {"w1": 3}
    assert slots.shares([]) == {}


def test_a_busy_tenant_gets_no_more_than_its_share() -> None:
    slots = SendSlots(total=10, per_webhook=4, per_workspace=3)
    slow = _ready(*(f"s{i}@slow" for i in range(10)))
    for webhook in slow[:3]:
        slots.started(webhook)
    other = _ready("f1@fast")
    shares = slots.shares([*slow, *other])
    assert shares == {"f1": 3}  # the slow workspace is full; the other one gets its own share
    slots.finished(slow[0])
    assert slots.shares(slow) == {"s3": 1}  # its freed slot goes to its next webhook in turn


def test_free_slots_go_to_the_least_busy_workspace_then_webhook() -> None:
    slots = SendSlots(total=4, per_webhook=4, per_workspace=8)
    # Workspace x has ten webhooks, y one: y still gets every other slot.
    ready = _ready(*(f"x{i}@x" for i in range(10)), "y0@y")
    assert slots.shares(ready) == {"x0": 1, "y0": 2, "x1": 1}


def test_one_slot_goes_round_between_workspaces_then_their_webhooks() -> None:
    slots = SendSlots(total=1, per_webhook=1, per_workspace=1)
    ready = _ready("a@w", "b@w", "c@v")
    order = []
    for _ in range(6):
        [(webhook_id, count)] = slots.shares(ready).items()
        assert count == 1
        [webhook] = [r for r in ready if r.webhook_id == webhook_id]
        slots.started(webhook)
        assert slots.shares(ready) == {} and slots.free == 0
        slots.finished(webhook)
        order.append(webhook_id)
    # Workspaces w and v take turns; within w, webhooks a and b do.
    assert order == ["a", "c", "b", "c", "a", "c"]


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SendSlots(total=0, per_webhook=1, per_workspace=1)


# The server ------------------------------------------------------------------------------------


@pytest.fixture
def slow() -> Iterator[Receiver]:
    with Receiver() as running:
        running.hold()
        yield running


@pytest.fixture
def fast() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def _statuses(deliveries: list[JSON]) -> list[str]:
    return [d["status"] for d in deliveries]


@pytest.mark.anyio
async def test_ten_slow_receivers_of_one_tenant_do_not_delay_another_tenant(
    make_settings: Callable[..., Settings], slow: Receiver, fast: Receiver
) -> None:
    settings = make_settings(**HELD)  # the shipped share-out: 32 slots, 8 per workspace
    async with running_api(settings) as api:
        busy_owner, busy_workspace, busy_table = await workspace_with_table(api)
        hooks = [
            await add_webhook(api, busy_owner, busy_workspace["id"], f"{slow.url}/{i}")
            for i in range(10)
        ]
        await add_record(api, busy_owner, busy_table["id"], "slow")

        async def held_by_the_slow_tenant() -> bool:
            return slow.held == settings.webhook_max_in_flight_per_workspace

        await eventually(held_by_the_slow_tenant)

        owner, workspace, table = await workspace_with_table(api)
        webhook = await add_webhook(api, owner, workspace["id"], fast.url)
        await add_record(api, owner, table["id"], "fast")
        [delivered] = await finished(api, owner, webhook["id"], 1)
        assert delivered["status"] == "succeeded"

        # All that while, the slow tenant's receivers held their requests unanswered.
        assert slow.held == settings.webhook_max_in_flight_per_workspace
        assert slow.max_held == settings.webhook_max_in_flight_per_workspace
        assert slow.received == []
        slow.release()
        for hook in hooks:
            assert _statuses(await finished(api, busy_owner, hook["id"], 1)) == ["succeeded"]
        assert len(slow.received) == 10


@pytest.mark.anyio
async def test_a_held_delivery_does_not_hold_back_the_next_ones(
    make_settings: Callable[..., Settings], slow: Receiver, fast: Receiver
) -> None:
    """With two slots and one held, the other slot serves delivery after delivery."""
    settings = make_settings(
        **HELD, webhook_max_concurrent_sends=2, webhook_max_in_flight_per_webhook=1
    )
    async with running_api(settings) as api:
        owner, workspace, table = await workspace_with_table(api)
        held = await add_webhook(api, owner, workspace["id"], slow.url, event_types=["table.*"])
        renamed = await api.client.put(
            f"/tables/{table['id']}", json={"name": "Renamed"}, headers=owner.headers
        )
        assert renamed.status_code == 200

        async def holding() -> bool:
            return slow.held == 1

        await eventually(holding)
        webhook = await add_webhook(api, owner, workspace["id"], fast.url, event_types=["record.*"])
        for name in ("a", "b", "c"):
            await add_record(api, owner, table["id"], name)
        delivered = await finished(api, owner, webhook["id"], 3)
        assert _statuses(delivered) == ["succeeded"] * 3
        assert slow.held == 1 and slow.received == []
        slow.release()
        assert _statuses(await finished(api, owner, held["id"], 1)) == ["succeeded"]


@pytest.mark.anyio
async def test_a_webhook_has_no_more_than_its_cap_in_flight(
    make_settings: Callable[..., Settings], slow: Receiver
) -> None:
    settings = make_settings(**HELD, webhook_max_in_flight_per_webhook=2)
    async with running_api(settings) as api:
        owner, workspace, table = await workspace_with_table(api)
        webhook = await add_webhook(api, owner, workspace["id"], slow.url, event_types=["record.*"])
        for name in "abcde":
            await add_record(api, owner, table["id"], name)

        async def two_held() -> bool:
            return slow.held == 2

        await eventually(two_held)
        worker: WebhookWorker = api.app.state.services.webhooks
        assert await worker.fill_slots() == 0  # three are due; none may start
        assert worker.slots.in_flight == 2 and slow.max_held == 2
        slow.release()
        assert _statuses(await finished(api, owner, webhook["id"], 5)) == ["succeeded"] * 5
    assert slow.max_held == 2 and len(slow.received) == 5


@pytest.mark.anyio
async def test_one_slot_alternates_between_webhooks_whatever_their_queues(
    make_settings: Callable[..., Settings], fast: Receiver
) -> None:
    """Webhook a's three deliveries are all due before b's; one slot still serves a, b, a, b."""
    settings = make_settings(
        **{**FAST_WEBHOOKS, "webhook_poll_interval_seconds": 3600},
        webhook_max_concurrent_sends=1,
    )
    async with running_api(settings) as api:
        worker = rounds_on_demand(api)  # the test says when rounds run (the creates' wakes too)
        db: Database = api.app.state.services.db
        owner, workspace, first = await workspace_with_table(api)
        second = await api.table(owner, first["base_id"], [{"name": "Name", "type": "text"}])
        hooks: dict[str, Any] = {}
        for path, table in (("a", first), ("b", second)):
            hooks[path] = await add_webhook(
                api,
                owner,
                workspace["id"],
                f"{fast.url}/{path}",
                event_types=["record.created"],
                table_id=table["id"],
            )
        start = utcnow() - timedelta(seconds=10)
        for offset, table in enumerate((first, second)):
            for name in ("1", "2", "3"):
                await add_record(api, owner, table["id"], name)
            await dispatch_once(db, batch_size=100, now=start + timedelta(seconds=offset))
        for path in ("a", "b"):
            assert len(await deliveries_of(api, owner, hooks[path]["id"])) == 3

        WebhookWorker.wake(worker)  # the worker's own wake, which rounds_on_demand set aside
        for path in ("a", "b"):
            assert _statuses(await finished(api, owner, hooks[path]["id"], 3)) == ["succeeded"] * 3
    paths = "".join(request.path[-1] for request in fast.received)
    assert paths in ("ababab", "bababa")
