"""A background loop that fails reaches the user: ``pa.on_background_error`` hears it at once
and ``aclose()`` (leaving ``async with``) raises it, instead of a log line only (issue 15)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from pyairtable_integration import ConflictError, MemoryTokenStore, OutboxEntry, Session
from pyairtable_integration.offline import ConflictResolution

from .conftest import Backend, IntegrationFactory, sign_in
from .realtime_timing import HANG
from .test_offline_outbox import _table

pytestmark = pytest.mark.anyio


class _DiskFullStore(MemoryTokenStore):
    """Saves the session once (the login), then fails as a full disk would."""

    def __init__(self) -> None:
        super().__init__()
        self.saves = 0

    def save(self, session: Session) -> None:
        self.saves += 1
        if self.saves > 1:
            raise OSError(28, "No space left on device")
        super().save(session)


class _Heard:
    """A background-error listener a test can wait on."""

    def __init__(self) -> None:
        self.errors: list[Exception] = []
        self._event = anyio.Event()

    def __call__(self, error: Exception) -> None:
        self.errors.append(error)
        self._event.set()

    async def first(self) -> Exception:
        with anyio.fail_after(HANG):
            await self._event.wait()
        return self.errors[0]


async def test_a_crashed_token_refresher_is_reported_and_raised_on_close(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    # A margin longer than the token's life: the refresher refreshes at once after login.
    pa = await make_integration(token_store=_DiskFullStore(), refresh_margin=10**6)
    heard = _Heard()
    pa.on_background_error(heard)
    await sign_in(pa, backend)
    error = await heard.first()
    assert isinstance(error, OSError) and error.errno == 28
    assert any("token refresher" in note for note in getattr(error, "__notes__", []))
    with pytest.raises(ExceptionGroup) as raised:
        await pa.aclose()
    assert raised.value.exceptions == (error,)
    await pa.aclose()  # raised once; closing again is quiet


async def test_a_crashing_outbox_replay_is_reported_and_raised_on_close(
    make_integration: IntegrationFactory, backend: Backend, tmp_path: Path
) -> None:
    pa = await make_integration(
        features={"enable_offline_support": True, "enable_realtime": False},
        offline_path=str(tmp_path / "outbox.sqlite3"),
    )
    heard = _Heard()
    pa.on_background_error(heard)

    def broken_strategy(entry: OutboxEntry, error: ConflictError) -> ConflictResolution:
        raise RuntimeError("the app's conflict strategy has a bug")

    pa.offline.on_conflict = broken_strategy
    await sign_in(pa, backend)
    table_id = await _table(pa)
    record = await pa.services.record.create_record(table_id, {"Name": "r", "Count": 0})
    await pa.services.record.update_record(record.id, {"Count": 5})  # now at version 2
    await pa.offline.enqueue(
        "update_record", {"record_id": record.id, "fields": {"Count": 1}, "expected_version": 1}
    )
    error = await heard.first()  # the background replay met the conflict
    assert isinstance(error, RuntimeError) and "conflict strategy" in str(error)
    with pytest.raises(ExceptionGroup) as raised:
        await pa.aclose()
    assert error in raised.value.exceptions


async def test_closing_without_failures_raises_nothing(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    pa = await make_integration()
    await sign_in(pa, backend)
    assert pa.background.running
    await pa.aclose()
    assert not pa.background.running
