"""Sessions: sign-out revokes, the file store is private and durable, tokens never leak,
and permission checks come from the backend once per TTL."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from pyairtable_integration import (
    AuthenticationError,
    PermissionDeniedError,
    PyAirtableIntegration,
    create_integration,
)
from pyairtable_integration.auth import FileTokenStore, SessionEvent
from pyairtable_integration.testing import PASSWORD, connect_error

from .conftest import BASE_URL, Backend, IntegrationFactory, RigFactory, sign_in

pytestmark = pytest.mark.anyio

PERMISSIONS = ("GET", "/api/v1/auth/permissions")


async def test_logout_revokes_the_session_on_the_backend(
    faulty: RigFactory, backend: Backend
) -> None:
    rig = await faulty()
    session = rig.pa.auth.session
    assert session is not None
    events: list[SessionEvent] = []
    rig.pa.auth.on_session_change(events.append)
    await rig.pa.auth.logout()
    assert rig.pa.auth.session is None
    assert [event.kind for event in events] == ["signed_out"]
    other = await faulty(signed_in=False)
    await other.pa.auth.set_session(session)
    with pytest.raises(AuthenticationError):
        await other.pa.auth.refresh()


async def test_logout_without_a_backend_still_signs_out_locally(faulty: RigFactory) -> None:
    rig = await faulty(retry_attempts=0)
    rig.faults.add(connect_error(), method="POST", path="/auth/logout")
    await rig.pa.auth.logout()
    assert not rig.pa.auth.is_authenticated


async def test_the_file_store_is_private_and_survives_a_round_trip(
    tmp_path: Path, backend: Backend
) -> None:
    path = tmp_path / "state" / "session.json"

    def integration() -> PyAirtableIntegration:
        return create_integration(
            base_url=BASE_URL,
            environ={},
            token_store=FileTokenStore(path),
            http_transport=backend.transport(),
        )

    first = integration()
    try:
        await sign_in(first, backend)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert FileTokenStore(path).load() == first.auth.session
        await first.auth.refresh()
        assert FileTokenStore(path).load() == first.auth.session  # saved again on refresh
        restored = integration()
        try:
            assert restored.auth.session == first.auth.session
            await restored.services.workspace.get_workspaces()
            await first.auth.logout()
            assert not path.exists()
            with pytest.raises(AuthenticationError):
                await restored.auth.refresh()  # the session was revoked on the backend
        finally:
            await restored.aclose()
    finally:
        await first.aclose()


@pytest.mark.parametrize("content", ["not json", '{"user": {}}', ""])
async def test_an_unreadable_token_file_means_signed_out(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "session.json"
    path.write_text(content)
    pa = create_integration(base_url=BASE_URL, environ={}, token_store=FileTokenStore(path))
    try:
        assert pa.auth.session is None
        assert not pa.auth.is_authenticated
    finally:
        await pa.aclose()
    assert "unreadable token file" in caplog.text


async def test_tokens_never_show_in_reprs_errors_or_debug_logs(
    make_integration: IntegrationFactory, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pyairtable_integration")
    pa = await make_integration(debug=True)
    email = await sign_in(pa, backend)
    session = pa.auth.session
    assert session is not None
    await pa.services.workspace.get_workspaces()
    await pa.auth.refresh()
    refreshed = pa.auth.session
    assert refreshed is not None
    with pytest.raises(AuthenticationError) as caught:
        await pa.auth.login(email, "wrong password!")
    secrets = {
        session.tokens.access_token,
        session.tokens.refresh_token,
        refreshed.tokens.access_token,
        refreshed.tokens.refresh_token,
        PASSWORD,
    }
    shown = "\n".join(
        [
            repr(session),
            repr(session.tokens),
            str(session),
            repr(pa),
            repr(pa.auth),
            repr(pa.services),
            str(caught.value),
            repr(caught.value),
            caplog.text,
        ]
    )
    assert "→ POST" in caplog.text and "/auth/login" in caplog.text  # debug logging was on
    for secret in secrets:
        assert secret not in shown


async def test_can_answers_per_role_and_is_cached(faulty: RigFactory, backend: Backend) -> None:
    rig = await faulty(permissions_ttl=60)
    owner = await backend.api.actor()
    workspace = await backend.api.workspace(owner)
    assert rig.pa.auth.user is not None
    response = await backend.api.client.post(
        f"/workspaces/{workspace['id']}/members",
        json={"user_id": rig.pa.auth.user.id, "role": "viewer"},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    before = backend.count(*PERMISSIONS)
    assert await rig.pa.auth.can("record:read", workspace_id=workspace["id"])
    assert not await rig.pa.auth.can("record:write", workspace_id=workspace["id"])
    assert backend.count(*PERMISSIONS) - before == 1
    with pytest.raises(PermissionDeniedError):
        await rig.pa.auth.require("record:write", workspace_id=workspace["id"])
    assert backend.count(*PERMISSIONS) - before == 1
    rig.clock.advance(61)
    assert await rig.pa.auth.can("record:read", workspace_id=workspace["id"])
    assert backend.count(*PERMISSIONS) - before == 2


async def test_can_is_true_for_an_owner_and_false_for_a_stranger(faulty: RigFactory) -> None:
    rig = await faulty()
    mine = await rig.pa.services.workspace.create_workspace(name="Mine")
    assert await rig.pa.auth.can("workspace:delete", workspace_id=mine.id)
    stranger = await faulty()
    assert not await stranger.pa.auth.can("record:read", workspace_id=mine.id)
