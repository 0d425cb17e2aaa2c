"""Webhooks (contract §7): events of the log, signed and POSTed to workspace admins' URLs.

The pipeline is durable and safe with several server processes on one database:

    events (log) ──dispatch──> webhook_deliveries ──claim (lease)──> POST ──> record outcome
                   exactly once                      one sender at a time    retry / fail /
                   (locked cursor)                                            disable webhook

- ``signing``: Standard Webhooks headers and signatures (pure).
- ``policy``: event-type patterns, the retry schedule with jitter, the disable rule (pure).
- ``dispatch``: new events into one delivery per matching active webhook, exactly once.
- ``sender``: claiming due deliveries under a lease, one HTTP attempt, recording its outcome.
- ``worker``: the background loop of each server process.

Delivery is at-least-once: receivers de-duplicate by ``webhook-id`` (the delivery id).
"""

from .worker import WebhookWorker

__all__ = ["WebhookWorker"]
