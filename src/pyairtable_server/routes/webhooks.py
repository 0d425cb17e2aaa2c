"""Webhook service (contract §7): webhooks of a workspace, their delivery log, retries, tests.

Every route needs ``webhook:write`` (owners and admins), reading included: webhooks hold URLs and
delivery logs, admin material. Editors and viewers get 403, non-members 404. Webhook changes go
through ``Change`` (idempotency keys, audit log) but emit no §8 events: the contract lists none.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from ..access import require_workspace
from ..changes import Write
from ..clock import rfc3339, utcnow
from ..db.models import DataTable, Webhook, WebhookDelivery, WorkspaceMember
from ..db.paging import fetch_page
from ..deps import DB, CurrentUser, Services
from ..errors import Conflict, NotFound, ValidationFailed, error_responses, missing_as
from ..events import position
from ..ids import looks_like, new_id
from ..schemas.common import DEFAULT_PER_PAGE, PageMeta, Text
from ..schemas.webhooks import (
    DeliveryList,
    DeliveryOut,
    DeliveryStatus,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookOut,
    WebhookUpdate,
)
from ..settings import Settings
from ..webhooks import sender
from ..webhooks.accountability import MANAGER_ROLES
from ..webhooks.dispatch import event_body
from ..webhooks.policy import TEST_EVENT_TYPE
from ..webhooks.signing import new_secret
from ..webhooks.targets import TargetRefused, check_url
from .common import BODY, CONFLICT, SCOPED, PageNumber, PerPage

router = APIRouter(
    prefix="/webhooks", tags=["webhook"], responses=error_responses(401, 422, 429, 500)
)


def webhook_out(webhook: Webhook) -> WebhookOut:
    return WebhookOut.model_validate(webhook)


async def require_webhook(db: AsyncSession, user_id: str, webhook_id: str) -> Webhook:
    """The webhook, if the caller may manage webhooks of its workspace.

    Raises ``NotFound`` for an unknown webhook or a non-member, ``PermissionDenied`` for a member
    without ``webhook:write``.
    """
    webhook = await db.get(Webhook, webhook_id) if looks_like(webhook_id, "whk") else None
    if webhook is None:
        raise NotFound("No such webhook.")
    with missing_as("webhook"):
        await require_workspace(db, user_id, webhook.workspace_id, "webhook:write")
    return webhook


def _require_public(url: str, settings: Settings) -> None:
    """Raises ``ValidationFailed`` (on ``url``) for a target the server will not send to."""
    try:
        check_url(url, allow_private=settings.webhook_allow_private_targets)
    except TargetRefused as exc:
        raise ValidationFailed.field("url", str(exc)) from None


async def _require_table_in(db: AsyncSession, table_id: str, workspace_id: str) -> None:
    """Raises ``ValidationFailed`` unless the table exists in that workspace."""
    found = looks_like(table_id, "tbl") and await db.scalar(
        select(DataTable.id).where(DataTable.id == table_id, DataTable.workspace_id == workspace_id)
    )
    if not found:
        raise ValidationFailed.field("table_id", "no such table in this webhook's workspace")


@router.get("", response_model=WebhookList, responses=SCOPED)
async def list_webhooks(
    caller: CurrentUser,
    db: DB,
    workspace_id: Annotated[Text | None, Query(max_length=64)] = None,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
) -> WebhookList:
    """Webhooks of one workspace, or of every workspace where the caller is owner or admin;
    oldest first."""
    query = select(Webhook).order_by(Webhook.created_at, Webhook.id)
    if workspace_id is not None:
        await require_workspace(db, caller.id, workspace_id, "webhook:write")
        query = query.where(Webhook.workspace_id == workspace_id)
    else:
        query = query.where(
            Webhook.workspace_id.in_(
                select(WorkspaceMember.workspace_id).where(
                    WorkspaceMember.user_id == caller.id, WorkspaceMember.role.in_(MANAGER_ROLES)
                )
            )
        )
    rows, total = await fetch_page(db, query, page=page, per_page=per_page)
    return WebhookList(
        data=[webhook_out(webhook) for (webhook,) in rows],
        pagination=PageMeta.of(page=page, per_page=per_page, total=total),
    )


@router.post("", status_code=201, response_model=WebhookCreated, responses={**SCOPED, **BODY})
async def create_webhook(body: WebhookIn, change: Write, services: Services) -> Response:
    """Create a webhook; the answer shows its signing secret, this once.

    It receives the matching events that happen after it was created. Raises
    ``ValidationFailed`` when ``url`` points at a non-public address (unless private targets
    are allowed) or ``table_id`` is not a table of the workspace.
    """
    db, caller = change.db, change.caller
    workspace, _ = await require_workspace(db, caller.id, body.workspace_id, "webhook:write")
    _require_public(body.url, services.settings)
    if body.table_id is not None:
        await _require_table_in(db, body.table_id, workspace.id)
    now = utcnow()
    webhook = Webhook(
        id=new_id("whk"),
        workspace_id=workspace.id,
        table_id=body.table_id,
        url=body.url,
        event_types=body.event_types,
        secret=new_secret(),
        is_active=body.is_active,
        created_after_seq=await position(db),
        failure_count=0,
        created_by=caller.id,
        created_at=now,
        updated_at=now,
    )
    db.add(webhook)
    change.audit(
        "webhook.created",
        resource_type="webhook",
        resource_id=webhook.id,
        workspace_id=workspace.id,
        details={"url": body.url, "event_types": body.event_types},
    )
    out = WebhookCreated.model_validate(
        {**webhook_out(webhook).model_dump(), "secret": webhook.secret}
    )
    answer = await change.commit(out, status_code=201)
    if webhook.is_active:
        services.webhooks.wake()  # from now on, commits are news for the dispatcher
    return answer


@router.get("/{webhook_id}", response_model=WebhookOut, responses=SCOPED)
async def get_webhook(webhook_id: str, caller: CurrentUser, db: DB) -> WebhookOut:
    """One webhook (without its secret)."""
    return webhook_out(await require_webhook(db, caller.id, webhook_id))


@router.put("/{webhook_id}", response_model=WebhookOut, responses={**SCOPED, **BODY})
async def update_webhook(
    webhook_id: str, body: WebhookUpdate, change: Write, services: Services
) -> Response:
    """Change a webhook; keys left out keep their value.

    Turning ``is_active`` back on, or pointing it at a new URL, starts its failure run afresh,
    clears ``disabled_reason`` and makes the caller the member accountable for it
    (``created_by``): it delivers only while they hold ``webhook:write`` here. Raises
    ``ValidationFailed`` when ``url`` points at a non-public address (unless private targets
    are allowed) or ``table_id`` is not a table of the workspace.
    """
    db = change.db
    webhook = await require_webhook(db, change.caller.id, webhook_id)
    updates = body.model_dump(exclude_unset=True)
    if "url" in updates:
        _require_public(updates["url"], services.settings)
    if updates.get("table_id") is not None:
        await _require_table_in(db, updates["table_id"], webhook.workspace_id)
    reactivated = updates.get("is_active") is True and not webhook.is_active
    fresh_start = reactivated or ("url" in updates and updates["url"] != webhook.url)
    if reactivated:
        # Events of the time it was off are never delivered: it starts again from now, as if
        # created now (the dispatcher does not move its cursor while no webhook is active).
        webhook.created_after_seq = await position(db)
    for key, value in updates.items():
        setattr(webhook, key, value)
    if fresh_start or updates.get("is_active") is False:
        webhook.disabled_reason = None
    if fresh_start:
        webhook.failure_count = 0
        webhook.failing_since = None
        # Whoever turns it back on or sends it somewhere new answers for it from now on.
        webhook.created_by = change.caller.id
    webhook.updated_at = utcnow()
    change.audit(
        "webhook.updated",
        resource_type="webhook",
        resource_id=webhook.id,
        workspace_id=webhook.workspace_id,
        details={"fields": sorted(updates)},
    )
    await db.flush()
    answer = await change.commit(webhook_out(webhook))
    if webhook.is_active:
        services.webhooks.wake()  # deliveries it held back while disabled are due
    return answer


@router.delete("/{webhook_id}", status_code=204, responses=SCOPED)
async def delete_webhook(webhook_id: str, change: Write) -> Response:
    """Delete a webhook with its delivery log; pending deliveries are never sent."""
    db = change.db
    webhook = await require_webhook(db, change.caller.id, webhook_id)
    await db.delete(webhook)
    change.audit(
        "webhook.deleted",
        resource_type="webhook",
        resource_id=webhook.id,
        workspace_id=webhook.workspace_id,
        details={"url": webhook.url},
    )
    return await change.commit(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList, responses=SCOPED)
async def list_deliveries(
    webhook_id: str,
    caller: CurrentUser,
    db: DB,
    status: DeliveryStatus | None = None,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
) -> DeliveryList:
    """The webhook's deliveries, newest first, optionally only those of one ``status``."""
    webhook = await require_webhook(db, caller.id, webhook_id)
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook.id)
        .order_by(
            WebhookDelivery.created_at.desc(),
            WebhookDelivery.event_seq.desc(),
            WebhookDelivery.id.desc(),
        )
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    rows, total = await fetch_page(db, query, page=page, per_page=per_page)
    return DeliveryList(
        data=[DeliveryOut.model_validate(delivery) for (delivery,) in rows],
        pagination=PageMeta.of(page=page, per_page=per_page, total=total),
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    status_code=202,
    response_model=DeliveryOut,
    responses={**SCOPED, **CONFLICT},
)
async def retry_delivery(
    webhook_id: str, delivery_id: str, change: Write, services: Services
) -> Response:
    """Send a delivery again as soon as possible (one more attempt, whatever its status).

    Raises ``NotFound`` for a delivery of another webhook, ``Conflict`` while the webhook is
    disabled (re-enable it first: a disabled webhook sends nothing).
    """
    db = change.db
    webhook = await require_webhook(db, change.caller.id, webhook_id)
    if not looks_like(delivery_id, "dlv"):
        raise NotFound("No such delivery.")
    delivery = await db.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.webhook_id == webhook.id
        )
    )
    if delivery is None:
        raise NotFound("No such delivery.")
    if not webhook.is_active:
        raise Conflict(
            "The webhook is disabled; re-enable it (is_active: true) before retrying.",
            details={"current": webhook_out(webhook).model_dump(mode="json")},
        )
    now = utcnow()
    # The lease stays as it is: an attempt in flight finishes before the next one starts.
    await db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id)
        .values(status="pending", next_attempt_at=now, updated_at=now)
    )
    await db.refresh(delivery)
    change.audit(
        "webhook.delivery_retried",
        resource_type="webhook",
        resource_id=webhook.id,
        workspace_id=webhook.workspace_id,
        details={"delivery_id": delivery.id},
    )
    answer = await change.commit(DeliveryOut.model_validate(delivery), status_code=202)
    services.webhooks.wake()
    return answer


@router.post("/{webhook_id}/test", response_model=DeliveryOut, responses=SCOPED)
async def test_webhook(webhook_id: str, change: Write, services: Services) -> Response:
    """Send a synthetic ``webhook.test`` event right away; answer the delivery with the outcome.

    The event has the shape of a §8 event with ``seq`` 0 (no real event has it). The attempt is
    made whether or not the webhook is active, is not retried, and does not count towards
    disabling the webhook. The answer is 200 whatever the receiver said: see ``status``.
    """
    db, caller = change.db, change.caller
    webhook = await require_webhook(db, caller.id, webhook_id)
    caller_id, target, secret = caller.id, webhook.url, webhook.secret
    # Nothing is written yet: end the transaction so the database is not held during the POST.
    await db.commit()
    now = utcnow()
    delivery_id, event_id = new_id("dlv"), new_id("evt")
    event: dict[str, Any] = {
        "id": event_id,
        "seq": 0,
        "type": TEST_EVENT_TYPE,
        "channel": "webhook",
        "workspace_id": webhook.workspace_id,
        "base_id": None,
        "table_id": webhook.table_id,
        "aggregate_type": "webhook",
        "aggregate_id": webhook.id,
        "version": None,
        "occurred_at": rfc3339(now),
        "user_id": caller_id,
        "payload": {"webhook_id": webhook.id, "message": "A test delivery from PyAirtable."},
    }
    body = event_body(event)
    outcome = await sender.attempt(
        services.webhooks.client,
        url=target,
        secret=secret,
        delivery_id=delivery_id,
        body=body,
        time_limit=services.settings.webhook_request_timeout_seconds,
        now=now,
    )
    delivery = WebhookDelivery(
        id=delivery_id,
        webhook_id=webhook.id,
        event_id=event_id,
        event_seq=0,
        event_type=TEST_EVENT_TYPE,
        body=body,
        created_at=now,
        **sender.outcome_values(outcome, attempts=1, is_test=True, settings=services.settings),
    )
    db.add(delivery)
    change.audit(
        "webhook.tested",
        resource_type="webhook",
        resource_id=webhook.id,
        workspace_id=webhook.workspace_id,
        details={"delivery_id": delivery_id, "status_code": outcome.status_code},
    )
    await db.flush()
    return await change.commit(DeliveryOut.model_validate(delivery))
