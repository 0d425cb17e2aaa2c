"""The webhook service: webhooks of a workspace, their deliveries, retries and test sends."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

from .._ids import id_segment
from ..types import (
    DeliveryList,
    DeliveryStatus,
    Webhook,
    WebhookCreated,
    WebhookDelivery,
    WebhookList,
)
from ._base import DEFAULT_PER_PAGE, Service, compact, iterate_pages


class Keep(enum.Enum):
    """The type of ``KEEP``: a value that means "leave it as it is"."""

    KEEP = "keep"


_Keep = Keep  # its former name


#: ``update_webhook(table_id=KEEP)`` (the default) leaves the table filter as it is; ``None``
#: is a real value there (the whole workspace), so it cannot mean "left out".
KEEP: Final = Keep.KEEP


class WebhookService(Service):
    """``/webhooks``: HTTP callbacks for a workspace's events (owners and admins)."""

    name = "webhook"

    async def get_webhooks(
        self,
        *,
        workspace_id: str | None = None,
        page: int | None = None,
        per_page: int | None = None,
    ) -> WebhookList:
        """One page of webhooks, oldest first: of ``workspace_id``, or of every workspace the
        caller manages when it is left out.

        Raises:
            NotFoundError: the workspace does not exist or the caller is not a member.
            PermissionDeniedError: the caller is not an owner or admin of ``workspace_id``.
        """
        return await self._call(
            WebhookList,
            "GET",
            "/webhooks",
            params={"workspace_id": workspace_id, "page": page, "per_page": per_page},
        )

    async def iter_webhooks(
        self, *, workspace_id: str | None = None, per_page: int = DEFAULT_PER_PAGE
    ) -> AsyncIterator[Webhook]:
        """Every webhook ``get_webhooks`` selects, fetched a page at a time."""
        async for webhook in iterate_pages(
            lambda page: self.get_webhooks(workspace_id=workspace_id, page=page, per_page=per_page)
        ):
            yield webhook

    async def get_webhook(self, webhook_id: str) -> Webhook:
        """One webhook (its secret is never shown again after create).

        Raises:
            NotFoundError: it does not exist or the caller may not see it.
        """
        return await self._call(Webhook, "GET", f"/webhooks/{id_segment(webhook_id, 'whk')}")

    async def create_webhook(
        self,
        *,
        url: str,
        event_types: Sequence[str],
        workspace_id: str,
        table_id: str | None = None,
        is_active: bool | None = None,
    ) -> WebhookCreated:
        """Create a webhook; the answer's ``secret`` (``whsec_…``) is shown this once: keep it.

        ``event_types`` are event types (``record.created``), ``<channel>.*`` or ``*``;
        ``table_id`` limits it to one table's events.

        Raises:
            PermissionDeniedError: the caller is not an owner or admin of the workspace.
            InvalidRequestError: a bad URL or event type, or ``table_id`` is not in the workspace.
        """
        return await self._call(
            WebhookCreated,
            "POST",
            "/webhooks",
            json=compact(
                {
                    "url": url,
                    "event_types": list(event_types),
                    "workspace_id": workspace_id,
                    "table_id": table_id,
                    "is_active": is_active,
                }
            ),
        )

    async def update_webhook(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        table_id: str | Keep | None = KEEP,
        is_active: bool | None = None,
    ) -> Webhook:
        """Change a webhook (left-out values are kept); ``table_id=None`` widens it to the
        whole workspace; ``is_active=True`` re-enables a disabled one.

        Raises:
            PermissionDeniedError: the caller is not an owner or admin of the workspace.
            InvalidRequestError: a bad URL or event type, or ``table_id`` is not in the workspace.
        """
        body: dict[str, Any] = compact(
            {
                "url": url,
                "event_types": None if event_types is None else list(event_types),
                "is_active": is_active,
            }
        )
        if table_id is not KEEP:
            body["table_id"] = table_id
        return await self._call(
            Webhook, "PUT", f"/webhooks/{id_segment(webhook_id, 'whk')}", json=body
        )

    async def delete_webhook(self, webhook_id: str) -> None:
        """Delete a webhook; deliveries still pending are dropped.

        Raises:
            NotFoundError: it does not exist or the caller may not see it.
        """
        await self._send("DELETE", f"/webhooks/{id_segment(webhook_id, 'whk')}")

    async def get_deliveries(
        self,
        webhook_id: str,
        *,
        status: DeliveryStatus | None = None,
        page: int | None = None,
        per_page: int | None = None,
    ) -> DeliveryList:
        """One page of a webhook's deliveries, newest first, optionally only of ``status``.

        Raises:
            NotFoundError: the webhook does not exist or the caller may not see it.
        """
        return await self._call(
            DeliveryList,
            "GET",
            f"/webhooks/{id_segment(webhook_id, 'whk')}/deliveries",
            params={"status": status, "page": page, "per_page": per_page},
        )

    async def iter_deliveries(
        self,
        webhook_id: str,
        *,
        status: DeliveryStatus | None = None,
        per_page: int = DEFAULT_PER_PAGE,
    ) -> AsyncIterator[WebhookDelivery]:
        """Every delivery ``get_deliveries`` selects, newest first, a page at a time."""
        async for delivery in iterate_pages(
            lambda page: self.get_deliveries(
                webhook_id, status=status, page=page, per_page=per_page
            )
        ):
            yield delivery

    async def retry_delivery(self, webhook_id: str, delivery_id: str) -> WebhookDelivery:
        """Schedule one more attempt of a delivery, as soon as possible, whatever its status.

        Raises:
            NotFoundError: no such delivery of this webhook.
            ConflictError: the webhook is disabled (re-enable it first).
        """
        return await self._call(
            WebhookDelivery,
            "POST",
            f"/webhooks/{id_segment(webhook_id, 'whk')}"
            f"/deliveries/{id_segment(delivery_id, 'dlv')}/retry",
        )

    async def test_webhook(self, webhook_id: str) -> WebhookDelivery:
        """Send a synthetic ``webhook.test`` event now and answer the delivery's outcome.

        The answer's ``status`` says whether the receiver accepted it; a receiver's failure is
        not an error here.

        Raises:
            NotFoundError: the webhook does not exist or the caller may not see it.
        """
        return await self._call(
            WebhookDelivery, "POST", f"/webhooks/{id_segment(webhook_id, 'whk')}/test"
        )
