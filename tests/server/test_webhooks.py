"""Webhooks (contract §7): CRUD and roles, signed deliveries to a real receiver, retries with
backoff, restarts, auto-disable, manual retry, the test endpoint, and two workers on one database.

The receiver is a real HTTP server on a local port (``webhook_receiver``). Signatures are checked
with ``standardwebhooks``, the reference implementation. The retry schedule is shrunk to fractions
of a second; waits poll for an outcome and only bound how long a failing test takes.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from pyairtable_server.clock import utcnow
from pyairtable_server.db.engine import Database
from pyairtable_server.db.models import WebhookDelivery
from pyairtable_server.settings import Settings
from pyairtable_server.webhooks import WebhookWorker, sender
from pyairtable_server.webhooks.dispatch import dispatch_once
from pyairtable_server.webhooks.slots import SendSlots

from .backend import Api, running_api
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

pytestmark = pytest.mark.anyio

WEBHOOK_KEYS = {
    "id",
    "workspace_id",
    "table_id",
    "url",
    "event_types",
    "is_active",
    "disabled_reason",
    "failure_count",
    "failing_since",
    "created_by",
    "created_at",
    "updated_at",
}


@pytest.fixture
async def api(make_settings: Callable[..., Settings]) -> AsyncIterator[Api]:
    async with running_api(make_settings(**FAST_WEBHOOKS)) as running:
        yield running


def _verified(secret: str, request: Any) -> JSON:
    payload: JSON = Verifier(secret).verify(request.body, request.headers)
    return payload


# CRUD, validation, roles ------------------------------------------------------------------------


async def test_crud_shows_the_secret_once_and_validates_input(api: Api, receiver: Receiver) -> None:
    owner, workspace, table = await workspace_with_table(api)
    created = await add_webhook(
        api, owner, workspace["id"], receiver.url, event_types=["record.*"], table_id=table["id"]
    )
    assert set(created) == WEBHOOK_KEYS | {"secret"}
    assert created["id"].startswith("whk") and created["secret"].startswith("whsec_")
    assert created["event_types"] == ["record.*"] and created["table_id"] == table["id"]
    assert created["is_active"] is True and created["failure_count"] == 0

    fetched = await api.client.get(f"/webhooks/{created['id']}", headers=owner.headers)
    assert fetched.status_code == 200 and set(fetched.json()) == WEBHOOK_KEYS
    listed = await api.client.get("/webhooks", headers=owner.headers)
    in_workspace = await api.client.get(
        "/webhooks", params={"workspace_id": workspace["id"]}, headers=owner.headers
    )
    for answer in (listed, in_workspace):
        assert [w["id"] for w in answer.json()["data"]] == [created["id"]]
        assert "secret" not in answer.json()["data"][0]
        assert answer.json()["pagination"]["total"] == 1

    updated = await api.client.put(
        f"/webhooks/{created['id']}",
        json={"event_types": ["record.created", "table.*"], "table_id": None, "is_active": False},
        headers=owner.headers,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["event_types"] == ["record.created", "table.*"]
    assert updated.json()["table_id"] is None and updated.json()["is_active"] is False
    assert "secret" not in updated.json()

    other_owner, other_workspace, other_table = await workspace_with_table(api)
    bad: list[tuple[JSON, str]] = [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "https://user:pw@example.com/x"}, "url"),
        ({"url": "https://example.com/" + "a" * 2048}, "url"),
        ({"url": "not a url"}, "url"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["record.exploded"]}, "event_types"),
        ({"event_types": ["nothing.*"]}, "event_types"),
        ({"table_id": other_table["id"]}, "table_id"),
    ]
    for change, field in bad:
        body = {"workspace_id": workspace["id"], "url": receiver.url, "event_types": ["*"]}
        response = await api.client.post(
            "/webhooks", json={**body, **change}, headers=owner.headers
        )
        assert response.status_code == 422, (change, response.text)
        assert any(name.startswith(field) for name in response.json()["error"]["details"]["fields"])
    put_foreign_table = await api.client.put(
        f"/webhooks/{created['id']}", json={"table_id": other_table["id"]}, headers=owner.headers
    )
    assert put_foreign_table.status_code == 422
    assert other_workspace["id"] != workspace["id"] and other_owner.id != owner.id

    deleted = await api.client.delete(f"/webhooks/{created['id']}", headers=owner.headers)
    assert deleted.status_code == 204
    gone = await api.client.get(f"/webhooks/{created['id']}", headers=owner.headers)
    assert gone.status_code == 404
    assert (await api.client.get("/webhooks", headers=owner.headers)).json()["data"] == []


async def test_editors_and_viewers_get_403_and_non_members_404(
    api: Api, receiver: Receiver
) -> None:
    owner, workspace, _ = await workspace_with_table(api)
    webhook = await add_webhook(api, owner, workspace["id"], receiver.url)
    admin, editor, viewer, stranger = [await api.actor() for _ in range(4)]
    await api.add_member(owner, workspace["id"], admin, "admin")
    await api.add_member(owner, workspace["id"], editor, "editor")
    await api.add_member(owner, workspace["id"], viewer, "viewer")
    hook = f"/webhooks/{webhook['id']}"
    calls: list[tuple[str, str, JSON | None]] = [
        ("GET", hook, None),
        ("PUT", hook, {"is_active": True}),
        ("GET", f"{hook}/deliveries", None),
        ("POST", f"{hook}/test", None),
        ("GET", f"/webhooks?workspace_id={workspace['id']}", None),
        (
            "POST",
            "/webhooks",
            {"workspace_id": workspace["id"], "url": receiver.url, "event_types": ["*"]},
        ),
        ("DELETE", hook, None),
    ]
    for actor, expected in ((editor, 403), (viewer, 403), (stranger, 404)):
        for method, path, body in calls:
            response = await api.client.request(method, path, json=body, headers=actor.headers)
            assert response.status_code == expected, (actor.id, method, path, response.text)
    # Without a workspace filter, the list shows only workspaces the caller manages.
    for actor, ids in ((editor, []), (stranger, []), (admin, [webhook["id"]])):
        listed = await api.client.get("/webhooks", headers=actor.headers)
        assert [w["id"] for w in listed.json()["data"]] == ids
    assert (await api.client.get(hook, headers=admin.headers)).status_code == 200
    assert (await api.client.delete(hook, headers=admin.headers)).status_code == 204


# Delivery ---------------------------------------------------------------------------------------


async def test_a_record_created_afterwards_is_delivered_signed_as_its_event(
    api: Api, receiver: Receiver
) -> None:
    owner, workspace, table = await workspace_with_table(api)
    await add_record(api, owner, table["id"], "before the webhook")
    webhook = await add_webhook(api, owner, workspace["id"], receiver.url)
    record = await add_record(api, owner, table["id"], "after")

    [delivery] = await finished(api, owner, webhook["id"], 1)
    [request] = receiver.received
    event = _verified(webhook["secret"], request)
    log = await api.client.get("/events", params={"since": 0, "limit": 1000}, headers=owner.headers)
    [logged] = [e for e in log.json()["data"] if e["aggregate_id"] == record["id"]]
    assert event == logged  # the §8 event, exactly
    assert event["type"] == "record.created" and event["payload"]["record"]["id"] == record["id"]
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("pyairtable-webhooks/")
    assert request.webhook_id == delivery["id"] and delivery["id"].startswith("dlv")
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 1
    assert delivery["event_id"] == event["id"] and delivery["event_type"] == "record.created"
    assert delivery["last_status_code"] == 200 and delivery["last_error"] is None
    assert delivery["next_attempt_at"] is None
    with pytest.raises(WebhookVerificationError):
        Verifier(webhook["secret"]).verify(request.body + b" ", request.headers)


async def test_event_types_and_table_filters_pick_the_events(api: Api, receiver: Receiver) -> None:
    owner, workspace, table = await workspace_with_table(api)
    other_table = await api.table(owner, table["base_id"], [{"name": "Name", "type": "text"}])
    created_in_table = await add_webhook(
        api,
        owner,
        workspace["id"],
        receiver.url,
        event_types=["record.created"],
        table_id=table["id"],
    )
    tables = await add_webhook(api, owner, workspace["id"], receiver.url, event_types=["table.*"])
    everything = await add_webhook(api, owner, workspace["id"], receiver.url, event_types=["*"])

    first = await add_record(api, owner, table["id"], "one")
    await add_record(api, owner, other_table["id"], "elsewhere")
    patched = await api.client.patch(
        f"/records/{first['id']}", json={"fields": {"Name": "uno"}}, headers=owner.headers
    )
    assert patched.status_code == 200
    renamed = await api.client.put(
        f"/tables/{other_table['id']}", json={"name": "Renamed"}, headers=owner.headers
    )
    assert renamed.status_code == 200

    await finished(api, owner, everything["id"], 4)
    await finished(api, owner, created_in_table["id"], 1)
    await finished(api, owner, tables["id"], 1)
    by_webhook: dict[str, list[str]] = {}
    for hook in (created_in_table, tables, everything):
        by_webhook[hook["id"]] = [
            d["event_type"] for d in reversed(await deliveries_of(api, owner, hook["id"]))
        ]
    assert by_webhook[created_in_table["id"]] == ["record.created"]
    assert by_webhook[tables["id"]] == ["table.updated"]
    assert by_webhook[everything["id"]] == [
        "record.created",
        "record.created",
        "record.updated",
        "table.updated",
    ]
    assert len(receiver.received) == 6


async def test_a_failing_receiver_gets_the_delivery_on_the_third_attempt(
    api: Api, receiver: Receiver
) -> None:
    owner, workspace, table = await workspace_with_table(api)
    receiver.answer(500, 500, then=200)
    webhook = await add_webhook(api, owner, workspace["id"], receiver.url)
    await add_record(api, owner, table["id"], "x")

    [delivery] = await finished(api, owner, webhook["id"], 1)
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 3
    assert [r.status for r in receiver.received] == [500, 500, 200]
    assert {r.webhook_id for r in receiver.received} == {delivery["id"]}
    bodies = {_verified(webhook["secret"], r)["id"] for r in receiver.received}
    assert bodies == {delivery["event_id"]}  # the same event, signed anew each attempt
    # The success ended the failure run.
    fetched = (await api.client.get(f"/webhooks/{webhook['id']}", headers=owner.headers)).json()
    assert fetched["failure_count"] == 0 and fetched["failing_since"] is None


async def test_a_delivery_fails_when_the_schedule_is_exhausted(
    api: Api, receiver: Receiver
) -> None:
    owner, workspace, table = await workspace_with_table(api)
    receiver.answer(then=503)
    webhook = await add_webhook(api, owner, workspace["id"], receiver.url)
    await add_record(api, owner, table["id"], "x")

    [delivery] = await finished(api, owner, webhook["id"], 1)
    assert delivery["status"] == "failed" and delivery["attempts"] == 4  # first + 3 retries
    assert delivery["last_status_code"] == 503 and "503" in delivery["last_error"]
    # Contract 1.2: the receiver's answer ("receiver says no") is never kept nor shown.
    assert delivery["last_response_body"] is None
    fetched = (await api.client.get(f"/webhooks/{webhook['id']}", headers=owner.headers)).json()
    assert fetched["failure_count"] == 4 and fetched["failing_since"] is not None
    failed = await deliveries_of(api, owner, webhook["id"], status="failed")
    assert [d["id"] for d in failed] == [delivery["id"]]
    assert await deliveries_of(api, owner, webhook["id"], status="succeeded") == []


async def test_delivery_resumes_after_a_restart_and_arrives_once(
    make_settings: Callable[..., Settings], receiver: Receiver
) -> None:
    # Long enough between attempts that the first app stops while the delivery is pending.
    settings = make_settings(**{**FAST_WEBHOOKS, "webhook_retry_schedule_seconds": [0.5] * 20})
    receiver.answer(then=500)
    async with running_api(settings) as api:
        owner, workspace, table = await workspace_with_table(api)
        webhook = await add_webhook(api, owner, workspace["id"], receiver.url)
        await add_record(api, owner, table["id"], "x")

        async def attempted() -> list[JSON]:
            data = await deliveries_of(api, owner, webhook["id"])
            return data if data and data[0]["attempts"] >= 1 else []

        [before] = await eventually(attempted)
        assert before["status"] == "pending"

    receiver.answer(then=200)
    async with running_api(settings) as api:
        owner = await api.login(owner.email)
        [after] = await finished(api, owner, webhook["id"], 1)
        assert after["status"] == "succeeded"
        # A further round finds nothing to send.
        worker: WebhookWorker = api.app.state.services.webhooks
        assert await worker.run_once() is False

    answered = Counter(r.status for r in receiver.received if r.webhook_id == before["id"])
    assert answered[200] == 1
    assert answered[500] == after["attempts"] - 1


async def test_a_long_run_of_failures_disables_theadd_webhook(
    make_settings: Callable[..., Settings], receiver: Receiver
) -> None:
    settings = make_settings(
        **FAST_WEBHOOKS,
        webhook_disable_after_failures=3,
        webhook_disable_after_seconds=0,
    )
    receiver.answer(then=500)
    async with running_api(settings) as api:
        owner, workspace, table = await workspace_with_table(api)
        webhook = await add_webhook(api, owner, workspace["id"], receiver.url)
        await add_record(api, owner, table["id"], "x")
        hook = f"/webhooks/{webhook['id']}"

        async def disabled() -> JSON:
            body: JSON = (await api.client.get(hook, headers=owner.headers)).json()
            return body if not body["is_active"] else {}

        state = await eventually(disabled)
        assert state["failure_count"] == 3 and "3 failed attempts" in state["disabled_reason"]
        [delivery] = await deliveries_of(api, owner, webhook["id"])
        assert delivery["status"] == "pending" and delivery["attempts"] == 3  # held back
        attempts_when_disabled = len(receiver.received)

        # A disabled webhook gets no new deliveries and sends nothing.
        await add_record(api, owner, table["id"], "y")
        worker: WebhookWorker = api.app.state.services.webhooks
        await worker.run_once()
        assert len(await deliveries_of(api, owner, webhook["id"])) == 1
        assert len(receiver.received) == attempts_when_disabled

        # Re-enabling starts afresh; the held-back delivery goes out.
        receiver.answer(then=200)
        enabled = await api.client.put(hook, json={"is_active": True}, headers=owner.headers)
        assert enabled.status_code == 200
        assert enabled.json()["failure_count"] == 0
        assert enabled.json()["disabled_reason"] is None
        [done] = await finished(api, owner, webhook["id"], 1)
        assert done["status"] == "succeeded" and done["attempts"] == 4


async def test_manual_retry_sends_a_failed_delivery_again(
    make_settings: Callable[..., Settings], receiver: Receiver
) -> None:
    settings = make_settings(**{**FAST_WEBHOOKS, "webhook_retry_schedule_seconds": [0.05]})
    receiver.answer(then=500)
    async with running_api(settings) as api:
        owner, workspace, table = await workspace_with_table(api)
        webhook = await add_webhook(api, owner, workspace["id"], receiver.url)
        await add_record(api, owner, table["id"], "x")
        [failed] = await finished(api, owner, webhook["id"], 1)
        assert failed["status"] == "failed" and failed["attempts"] == 2

        receiver.answer(then=200)
        path = f"/webhooks/{webhook['id']}/deliveries/{failed['id']}/retry"
        retried = await api.client.post(path, headers=owner.headers)
        assert retried.status_code == 202, retried.text
        assert retried.json()["status"] == "pending" and retried.json()["id"] == failed["id"]
        [done] = await finished(api, owner, webhook["id"], 1)
        assert done["status"] == "succeeded" and done["attempts"] == 3
        assert receiver.received[-1].webhook_id == failed["id"]

        unknown = await api.client.post(
            f"/webhooks/{webhook['id']}/deliveries/dlv{'x' * 16}/retry", headers=owner.headers
        )
        assert unknown.status_code == 404
        off = await api.client.put(
            f"/webhooks/{webhook['id']}", json={"is_active": False}, headers=owner.headers
        )
        assert off.status_code == 200
        refused = await api.client.post(path, headers=owner.headers)
        assert refused.status_code == 409
        assert refused.json()["error"]["details"]["current"]["is_active"] is False


async def test_the_test_endpoint_sends_now_and_answers_the_outcome(
    api: Api, receiver: Receiver
) -> None:
    owner, workspace, _ = await workspace_with_table(api)
    webhook = await add_webhook(api, owner, workspace["id"], receiver.url)
    path = f"/webhooks/{webhook['id']}/test"

    ok = await api.client.post(path, headers=owner.headers)
    assert ok.status_code == 200, ok.text
    delivery = ok.json()
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 1
    assert delivery["event_type"] == "webhook.test" and delivery["last_status_code"] == 200
    [request] = receiver.received
    event = _verified(webhook["secret"], request)
    assert request.webhook_id == delivery["id"]
    assert event["type"] == "webhook.test" and event["id"] == delivery["event_id"]
    assert event["workspace_id"] == workspace["id"] and event["seq"] == 0
    assert set(event) == {
        "id",
        "seq",
        "type",
        "channel",
        "workspace_id",
        "base_id",
        "table_id",
        "aggregate_type",
        "aggregate_id",
        "version",
        "occurred_at",
        "user_id",
        "payload",
    }

    receiver.answer(then=500)
    failed = await api.client.post(path, headers=owner.headers)
    assert failed.status_code == 200
    assert failed.json()["status"] == "failed" and failed.json()["last_status_code"] == 500
    # Not retried, not counted against the webhook.
    fetched = (await api.client.get(f"/webhooks/{webhook['id']}", headers=owner.headers)).json()
    assert fetched["failure_count"] == 0 and fetched["is_active"] is True
    listed = await deliveries_of(api, owner, webhook["id"])
    assert [d["id"] for d in listed] == [failed.json()["id"], delivery["id"]]  # newest first
    assert len(receiver.received) == 2


async def test_an_unreachable_receiver_is_an_error_outcome(api: Api, receiver: Receiver) -> None:
    owner, workspace, _ = await workspace_with_table(api)
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    webhook = await add_webhook(api, owner, workspace["id"], url)
    answer = await api.client.post(f"/webhooks/{webhook['id']}/test", headers=owner.headers)
    assert answer.status_code == 200
    assert answer.json()["status"] == "failed" and answer.json()["last_status_code"] is None
    assert answer.json()["last_error"]
    assert receiver.received == []


async def test_finished_deliveries_are_forgotten_after_retention(
    make_settings: Callable[..., Settings], receiver: Receiver
) -> None:
    settings = make_settings(**{**FAST_WEBHOOKS, "webhook_retry_schedule_seconds": [3600]})
    receiver.answer(then=500)
    async with running_api(settings) as api:
        owner, workspace, table = await workspace_with_table(api)
        webhook = await add_webhook(api, owner, workspace["id"], receiver.url)
        tested = await api.client.post(f"/webhooks/{webhook['id']}/test", headers=owner.headers)
        assert tested.json()["status"] == "failed"
        await add_record(api, owner, table["id"], "x")

        async def retrying() -> list[JSON]:
            data = await deliveries_of(api, owner, webhook["id"], status="pending")
            return data if data and data[0]["attempts"] == 1 else []

        await eventually(retrying)  # failed once, next attempt in an hour
        worker: WebhookWorker = api.app.state.services.webhooks

        assert await worker.forget_finished(now=utcnow()) == 0
        later = utcnow() + timedelta(seconds=settings.webhook_delivery_retention_seconds + 1)
        assert await worker.forget_finished(now=later) == 1
        [kept] = await deliveries_of(api, owner, webhook["id"])
    assert kept["status"] == "pending" and kept["event_type"] == "record.created"


# Several senders --------------------------------------------------------------------------------


async def test_two_workers_on_one_database_send_each_delivery_once(
    make_settings: Callable[..., Settings], receiver: Receiver
) -> None:
    # The app's own worker sleeps (long poll); two more, each with its own engine as a separate
    # process would have, race over the same deliveries.
    settings = make_settings(
        **{
            **FAST_WEBHOOKS,
            "webhook_poll_interval_seconds": 3600,
            "webhook_max_concurrent_sends": 4,
        }
    )
    receiver.answer(delay=0.02)
    records = 24
    async with running_api(settings) as api:
        owner, workspace, table = await workspace_with_table(api)
        webhook = await add_webhook(api, owner, workspace["id"], receiver.url)
        response = await api.client.post(
            "/records/batch",
            json={
                "table_id": table["id"],
                "records": [{"fields": {"Name": str(i)}} for i in range(records)],
            },
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
        databases = [Database(settings.resolved_database_url) for _ in range(2)]
        workers = [WebhookWorker(db, settings) for db in databases]
        try:
            async with anyio.create_task_group() as group:
                for worker in workers:
                    group.start_soon(worker.run)

                async def all_delivered() -> bool:
                    # Received *and* recorded: a worker cancelled between the receiver's 200 and
                    # its bookkeeping would leave the delivery to be sent again (at least once).
                    ids = {r.webhook_id for r in receiver.received}
                    logged = await deliveries_of(api, owner, webhook["id"], per_page=100)
                    done = all(d["status"] == "succeeded" for d in logged)
                    return len(ids) == records and len(logged) == records and done

                await eventually(all_delivered)
                group.cancel_scope.cancel()
        finally:
            for db in databases:
                await db.dispose()
        data = await deliveries_of(api, owner, webhook["id"], per_page=100)

    sent = Counter(r.webhook_id for r in receiver.received)
    assert len(sent) == records and set(sent.values()) == {1}
    assert set(receiver.max_in_flight.values()) == {1}
    assert len(data) == records and {d["status"] for d in data} == {"succeeded"}
    assert len({d["event_id"] for d in data}) == records


async def test_a_lease_keeps_a_delivery_from_a_second_sender_until_it_expires(
    make_settings: Callable[..., Settings], receiver: Receiver
) -> None:
    """A sender that died mid-send holds its delivery only until the lease runs out."""
    settings = make_settings(**{**FAST_WEBHOOKS, "webhook_poll_interval_seconds": 3600})
    async with running_api(settings) as api:
        # Keep the app's own worker asleep: a commit or the webhook's creation would otherwise
        # wake it to race this test for the delivery.
        worker = rounds_on_demand(api)
        owner, workspace, table = await workspace_with_table(api)
        webhook = await add_webhook(api, owner, workspace["id"], receiver.url)
        await add_record(api, owner, table["id"], "x")
        db: Database = api.app.state.services.db
        await dispatch_once(db, batch_size=10, now=utcnow())
        lease = timedelta(seconds=settings.webhook_lease_seconds)
        now = utcnow()
        slots = SendSlots(total=10, per_webhook=10, per_workspace=10)
        [first] = await sender.claim(db, slots=slots, lease=lease, now=now)
        assert await sender.claim(db, slots=slots, lease=lease, now=now) == []
        # The first sender "dies"; after its lease another one takes over.
        later = now + lease + timedelta(seconds=1)
        [second] = await sender.claim(db, slots=slots, lease=lease, now=later)
        assert second.delivery_id == first.delivery_id
        assert second.lease_token != first.lease_token
        outcome = await sender.attempt(
            worker.client,
            url=second.url,
            secret=second.secret,
            delivery_id=second.delivery_id,
            body=second.body,
            time_limit=3,
            now=utcnow(),
        )
        assert await sender.record(db, first, outcome, settings) is False  # lease lost
        assert await sender.record(db, second, outcome, settings) is True
        async with db.reader() as session:
            count = await session.scalar(
                select(func.count()).where(WebhookDelivery.webhook_id == webhook["id"])
            )
        [delivery] = await deliveries_of(api, owner, webhook["id"])
    assert count == 1
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 1
