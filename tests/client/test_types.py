"""The generated wire models are current, forward-compatible and match real backend answers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx2
import pytest
from asgi_lifespan import LifespanManager
from tools.generate_types import FIX_COMMAND, expected_files, stale_diff

import pyairtable_integration.types as types
from pyairtable_integration.testing import PASSWORD, backend_settings
from pyairtable_integration.types import Record, TokenPair, User, Workspace, WorkspaceList
from pyairtable_server.app import create_app


def test_committed_models_and_document_equal_a_fresh_generation() -> None:
    diff = stale_diff(expected_files())
    assert not diff, f"the generated types are out of date; run: {FIX_COMMAND}\n{diff}"


def test_the_public_types_are_a_sorted_re_export_of_generated_models() -> None:
    assert types.__all__ == sorted(types.__all__)
    assert all(getattr(types, name).__module__.endswith("._generated") for name in types.__all__)


def test_a_record_keeps_fields_the_sdk_does_not_know_yet() -> None:
    record = Record.model_validate(
        {
            "id": "recABCDEFGHIJKLMN",
            "table_id": "tblABCDEFGHIJKLMN",
            "fields": {"Name": "a", "Count": 2},
            "version": 1,
            "created_at": "2025-01-02T03:04:05Z",
            "updated_at": "2025-01-02T03:04:05Z",
            "created_by": None,
            "updated_by": None,
            "comment_count": 3,
        }
    )
    assert record.model_extra == {"comment_count": 3}
    assert record.model_dump(mode="json")["comment_count"] == 3
    assert record.fields == {"Name": "a", "Count": 2}
    assert record.created_at.utcoffset() == timedelta(0)


def test_a_closed_set_refuses_a_value_outside_it() -> None:
    with pytest.raises(ValueError, match="role"):
        User.model_validate(
            {
                "id": "usrABCDEFGHIJKLMN",
                "email": "a@example.com",
                "first_name": "A",
                "last_name": "B",
                "role": "superuser",
                "is_active": True,
                "email_verified": False,
                "created_at": "2025-01-02T03:04:05Z",
                "updated_at": "2025-01-02T03:04:05Z",
                "last_login_at": None,
            }
        )


@pytest.mark.anyio
async def test_real_backend_answers_validate_against_the_generated_models(tmp_path: Path) -> None:
    app = create_app(backend_settings(tmp_path / "data"))
    async with LifespanManager(app, startup_timeout=60):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(
            transport=transport, base_url="http://testserver/api/v1"
        ) as client:
            registered = await client.post(
                "/auth/register",
                json={
                    "email": "types@example.com",
                    "password": PASSWORD,
                    "first_name": "Type",
                    "last_name": "Checker",
                },
            )
            assert registered.status_code == 201, registered.text
            User.model_validate(registered.json())

            login = await client.post(
                "/auth/login", json={"email": "types@example.com", "password": PASSWORD}
            )
            assert login.status_code == 200, login.text
            pair = TokenPair.model_validate(login.json())
            headers = {"Authorization": f"Bearer {pair.access_token}"}

            created = await client.post("/workspaces", json={"name": "Ops"}, headers=headers)
            assert created.status_code == 201, created.text
            workspace = Workspace.model_validate(created.json())

            listed = await client.get("/workspaces", headers=headers)
            assert listed.status_code == 200, listed.text
            page = WorkspaceList.model_validate(listed.json())

    assert pair.user.email == "types@example.com"
    assert workspace.owner_id == pair.user.id
    assert [item.id for item in page.data] == [workspace.id]
    assert page.pagination.total == 1
