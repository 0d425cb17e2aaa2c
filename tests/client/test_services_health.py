"""HealthService against the real backend: no token needed, one service or all of them."""

from __future__ import annotations

import pytest

from pyairtable_integration._errors import NotFoundError

from .conftest import IntegrationFactory

pytestmark = pytest.mark.anyio


async def test_health_answers_every_service_without_signing_in(
    make_integration: IntegrationFactory,
) -> None:
    pa = await make_integration()
    assert not pa.auth.is_authenticated

    health = await pa.services.health.get_health()

    assert health.status == "ok"
    assert {"auth", "record", "file", "realtime"} <= set(health.services)
    assert all(service.status == "ok" for service in health.services.values())


async def test_service_health_answers_one_service_and_404_for_an_unknown_one(
    make_integration: IntegrationFactory,
) -> None:
    pa = await make_integration()

    record = await pa.services.health.get_service_health("record")

    assert record.status == "ok"
    with pytest.raises(NotFoundError) as unknown:
        await pa.services.health.get_service_health("teleport")
    assert "record" in unknown.value.details["services"]
