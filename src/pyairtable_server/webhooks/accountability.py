"""Who answers for a webhook, and what happens when they no longer may manage webhooks.

A webhook sends a workspace's events to a URL one member chose. That member (``created_by``: its
creator, or whoever last re-enabled it or changed its URL) answers for it, and it delivers only
while they are an active user holding ``webhook:write`` in its workspace. An admin who is removed,
demoted or deactivated must not go on receiving the workspace's events at a URL of their choice.

The worker checks it against current membership wherever a delivery could move on:

- dispatching creates deliveries only for webhooks whose member may (``accountable()`` is part of
  the same query), so no event after the loss is queued for them;
- claiming takes only deliveries of such webhooks, so none already queued is sent after it;
- ``disable_unaccountable`` turns the others off with a ``disabled_reason`` the workspace's owners
  and admins can read. Their pending deliveries wait, as for any disabled webhook; re-enabling it
  makes the member who does it accountable, and sends them.

No membership route needs a hook of its own: removal, a role change, deactivation and account
deletion are all seen by the same query.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import exists, not_, select, update
from sqlalchemy.sql.elements import ColumnElement

from ..db.engine import Database
from ..db.models import User, Webhook, WorkspaceMember
from ..permissions import ROLES, allows

logger = logging.getLogger("pyairtable_server.webhooks")

#: The workspace roles that may manage (and so answer for) webhooks.
MANAGER_ROLES: tuple[str, ...] = tuple(role for role in ROLES if allows(role, "webhook:write"))
CREATOR_LOST_ACCESS = (
    "Disabled because the member who answers for it (its creator, or whoever last re-enabled it "
    "or changed its URL) no longer holds webhook:write in this workspace; re-enabling it "
    "(is_active: true) makes you that member."
)


def accountable() -> ColumnElement[bool]:
    """SQL, correlated to ``Webhook``: its member is an active user with ``webhook:write`` in its
    workspace."""
    return exists().where(
        WorkspaceMember.workspace_id == Webhook.workspace_id,
        WorkspaceMember.user_id == Webhook.created_by,
        WorkspaceMember.role.in_(MANAGER_ROLES),
        User.id == WorkspaceMember.user_id,
        User.is_active.is_(True),
    )


async def disable_unaccountable(db: Database, *, now: datetime) -> int:
    """Disable every active webhook whose member lost ``webhook:write``; return how many.

    A cheap read first: the write (and on SQLite the write turn) happens only when there is
    something to disable. Raises whatever the database raises.
    """
    async with db.reader() as session:
        found = list(
            await session.scalars(
                select(Webhook.id).where(Webhook.is_active.is_(True), not_(accountable()))
            )
        )
    if not found:
        return 0
    async with db.writer() as session:
        disabled = list(
            await session.scalars(
                update(Webhook)
                .where(Webhook.id.in_(found), Webhook.is_active.is_(True), not_(accountable()))
                .values(is_active=False, disabled_reason=CREATOR_LOST_ACCESS, updated_at=now)
                .returning(Webhook.id)
            )
        )
        await session.commit()
    for webhook_id in disabled:
        logger.info("webhook %s disabled: its member lost webhook:write", webhook_id)
    return len(disabled)
