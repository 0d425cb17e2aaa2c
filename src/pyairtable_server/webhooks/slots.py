"""Which webhooks get this process's free send slots: fair shares, in turn (pure, no I/O).

A slot is taken again as soon as its delivery ends; no delivery waits for a batch's slowest. Caps
bound what any one receiver can hold: at most ``per_webhook`` deliveries of one webhook and
``per_workspace`` of one workspace are in flight at once, out of ``total``. Free slots go round:
to the webhook whose workspace has the fewest in flight, then whose own count is lowest, and among
equals to the one served least long ago. So ten slow receivers of one tenant hold at most that
tenant's share, and another tenant's delivery goes out while they are still busy.

The counts are this process's own: with several processes on one database, a webhook may have up
to ``per_webhook`` deliveries in flight in each.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Ready:
    """A webhook with deliveries due, and the workspace it belongs to."""

    webhook_id: str
    workspace_id: str


class SendSlots:
    """This process's deliveries in flight, and how free slots are shared out among webhooks."""

    def __init__(self, *, total: int, per_webhook: int, per_workspace: int) -> None:
        """Raises ``ValueError`` unless every limit is at least 1."""
        if min(total, per_webhook, per_workspace) < 1:
            raise ValueError("send slot limits must be at least 1")
        self.total = total
        self.per_webhook = per_webhook
        self.per_workspace = per_workspace
        self._webhooks: Counter[str] = Counter()
        self._workspaces: Counter[str] = Counter()
        # When each webhook and workspace (their ids differ by prefix) last got a slot: a
        # counter, not a clock.
        self._served: dict[str, int] = {}
        self._tick = 0

    @property
    def in_flight(self) -> int:
        return self._webhooks.total()

    @property
    def free(self) -> int:
        return max(self.total - self.in_flight, 0)

    def shares(self, ready: Sequence[Ready]) -> dict[str, int]:
        """How many deliveries to claim for each of the ``ready`` webhooks now (only those
        given at least one), filling the free slots one at a time as described above."""
        webhooks, workspaces = Counter(self._webhooks), Counter(self._workspaces)
        served, tick = dict(self._served), self._tick

        def turn(webhook: Ready) -> tuple[int, int, int, int]:
            workspace = webhook.workspace_id
            return (
                workspaces[workspace],
                served.get(workspace, 0),
                webhooks[webhook.webhook_id],
                served.get(webhook.webhook_id, 0),
            )

        # A heap of turns, brought up to date lazily: granting a slot moves its workspace back,
        # which changes the turn of every webhook of that workspace still in the heap.
        queue = [(turn(webhook), position, webhook) for position, webhook in enumerate(ready)]
        heapq.heapify(queue)
        granted: Counter[str] = Counter()
        free = self.free
        while queue and free:
            key, position, webhook = heapq.heappop(queue)
            if not self._has_room(webhook, webhooks, workspaces):
                continue  # counts only grow during one call: it stays full
            if key != turn(webhook):
                heapq.heappush(queue, (turn(webhook), position, webhook))
                continue
            granted[webhook.webhook_id] += 1
            webhooks[webhook.webhook_id] += 1
            workspaces[webhook.workspace_id] += 1
            tick += 1
            served[webhook.webhook_id] = served[webhook.workspace_id] = tick
            free -= 1
            heapq.heappush(queue, (turn(webhook), position, webhook))
        return dict(granted)

    def started(self, webhook: Ready) -> None:
        """Count a delivery of ``webhook`` as in flight."""
        self._tick += 1
        self._served[webhook.webhook_id] = self._served[webhook.workspace_id] = self._tick
        self._webhooks[webhook.webhook_id] += 1
        self._workspaces[webhook.workspace_id] += 1

    def finished(self, webhook: Ready) -> None:
        """Free the slot of a delivery of ``webhook`` that ``started``."""
        for counts, key in (
            (self._webhooks, webhook.webhook_id),
            (self._workspaces, webhook.workspace_id),
        ):
            counts[key] -= 1
            if counts[key] <= 0:
                del counts[key]

    def _has_room(self, webhook: Ready, webhooks: Counter[str], workspaces: Counter[str]) -> bool:
        return (
            webhooks[webhook.webhook_id] < self.per_webhook
            and workspaces[webhook.workspace_id] < self.per_workspace
        )
