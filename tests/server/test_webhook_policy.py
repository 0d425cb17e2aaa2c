"""Pure parts of webhooks: signatures (checked against ``standardwebhooks``, the reference),
the retry schedule with jitter, the disable rule, and event-type patterns. No event loop."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from pyairtable_server.settings import WEBHOOK_RETRY_SCHEDULE_SECONDS, Settings
from pyairtable_server.webhooks.policy import is_event_pattern, retry_delay, should_disable, wants
from pyairtable_server.webhooks.signing import (
    new_secret,
    secret_key,
    sign,
    signature_headers,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_signatures_verify_with_the_reference_implementation() -> None:
    secret = new_secret()
    body = '{"id":"evt1","type":"record.created","payload":{"name":"Zoë ✓"}}'.encode()
    timestamp = int(datetime.now(UTC).timestamp())
    headers = signature_headers(secret, msg_id="dlv123", timestamp=timestamp, body=body)

    assert Verifier(secret).verify(body, headers)["payload"] == {"name": "Zoë ✓"}
    assert headers["webhook-signature"] == Verifier(secret).sign(
        "dlv123", datetime.fromtimestamp(timestamp, UTC), body.decode()
    )
    for tampered in (
        {**headers, "webhook-id": "dlv124"},
        {**headers, "webhook-timestamp": str(timestamp + 1)},
    ):
        with pytest.raises(WebhookVerificationError):
            Verifier(secret).verify(body, tampered)
    with pytest.raises(WebhookVerificationError):
        Verifier(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Verifier(secret).verify(body + b" ", headers)


def test_secrets_are_whsec_and_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(secret_key(first)) == 32
    assert secret_key("whsec_" + base64.b64encode(b"key").decode()) == b"key"
    for bad in ("key", "whsec_", "whsec_not base64!"):
        with pytest.raises(ValueError, match="webhook secret"):
            sign(bad, msg_id="dlv1", timestamp=1, body=b"{}")


def test_the_schedule_gives_each_delay_then_gives_up() -> None:
    schedule = [5.0, 300.0, 1800.0]
    assert [retry_delay(n, schedule, jitter=0) for n in (1, 2, 3, 4)] == [5.0, 300.0, 1800.0, None]
    with pytest.raises(ValueError, match="counts from 1"):
        retry_delay(0, schedule, jitter=0)


def test_jitter_only_lengthens_a_delay_up_to_its_ratio() -> None:
    assert retry_delay(2, [100.0, 300.0], jitter=0.2, rand=lambda: 0.0) == 300.0
    assert retry_delay(2, [100.0, 300.0], jitter=0.2, rand=lambda: 0.5) == pytest.approx(330.0)
    longest = retry_delay(2, [100.0, 300.0], jitter=0.2, rand=lambda: 0.999)
    assert longest is not None and 300.0 < longest < 360.0


def test_the_default_schedule_retries_for_more_than_a_day() -> None:
    settings = Settings()
    assert settings.webhook_retry_schedule_seconds == list(WEBHOOK_RETRY_SCHEDULE_SECONDS)
    assert sum(settings.webhook_retry_schedule_seconds) > 24 * 3600
    assert settings.webhook_retry_schedule_seconds == sorted(
        settings.webhook_retry_schedule_seconds
    )


def test_settings_refuse_a_lease_shorter_than_a_request() -> None:
    with pytest.raises(ValueError, match="webhook_lease_seconds"):
        Settings(webhook_request_timeout_seconds=10, webhook_lease_seconds=10)
    assert Settings(webhook_retry_schedule_seconds="0.5, 2").webhook_retry_schedule_seconds == [
        0.5,
        2.0,
    ]


def test_a_webhook_is_disabled_only_by_many_failures_over_a_long_time() -> None:
    def rule(count: int, since: datetime | None) -> bool:
        return should_disable(count, since, NOW, min_failures=10, min_duration=timedelta(days=5))

    long_ago = NOW - timedelta(days=5)
    assert rule(10, long_ago)
    assert not rule(9, long_ago)  # long, but few attempts
    assert not rule(500, NOW - timedelta(days=4))  # many, but recent
    assert not rule(10, None)  # not failing


def test_event_type_patterns() -> None:
    for good in ("*", "record.created", "record.*", "workspace.member_added", "view.*"):
        assert is_event_pattern(good), good
    for bad in ("", "record", "record.exploded", "nothing.*", "*.created", "webhook.test", "**"):
        assert not is_event_pattern(bad), bad
    assert wants(["*"], "table.deleted")
    assert wants(["record.*"], "record.updated")
    assert wants(["record.created", "table.*"], "table.created")
    assert not wants(["record.created"], "record.updated")
    assert not wants(["record.*"], "table.created")
