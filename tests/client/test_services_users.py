"""UserService against the real backend: the caller's profile and the users they share with."""

from __future__ import annotations

import pytest

from pyairtable_integration import PyAirtableIntegration
from pyairtable_integration._errors import NotFoundError

from .conftest import Backend

pytestmark = pytest.mark.anyio


async def test_current_user_profile_round_trips_names_preferences_and_settings(
    pa: PyAirtableIntegration,
) -> None:
    before = await pa.services.user.get_current_user()
    assert pa.auth.user is not None and before.id == pa.auth.user.id

    updated = await pa.services.user.update_current_user(
        last_name="Hopper", preferences={"theme": "dark"}, settings={"tz": "UTC"}
    )
    # Left-out values are kept.
    names_only = await pa.services.user.update_current_user(first_name="Grace")

    assert (updated.last_name, updated.preferences, updated.settings) == (
        "Hopper",
        {"theme": "dark"},
        {"tz": "UTC"},
    )
    assert (names_only.first_name, names_only.last_name) == ("Grace", "Hopper")
    assert names_only.preferences == {"theme": "dark"}
    assert (await pa.services.user.get_current_user()).settings == {"tz": "UTC"}


async def test_users_lists_pages_searches_and_reads_workspace_mates(
    pa: PyAirtableIntegration, backend: Backend
) -> None:
    workspace = await pa.services.workspace.create_workspace(name="Team")
    mates = [await backend.user() for _ in range(2)]
    for mate in mates:
        await pa.services.workspace.add_workspace_member(
            workspace.id, user_id=mate.id, role="viewer"
        )
    stranger = await backend.user()

    first = await pa.services.user.get_users(page=1, per_page=2)
    second = await pa.services.user.get_users(page=2, per_page=2)
    found = await pa.services.user.get_users(search=mates[1].email.upper())

    assert (first.pagination.total, first.pagination.total_pages) == (3, 2)
    assert first.pagination.has_next and not second.pagination.has_next
    seen = {user.id for user in first.data + second.data}
    assert pa.auth.user is not None
    assert seen == {pa.auth.user.id, mates[0].id, mates[1].id}
    assert [user.id for user in found.data] == [mates[1].id]
    assert (await pa.services.user.get_user(mates[0].id)).email == mates[0].email
    with pytest.raises(NotFoundError):
        await pa.services.user.get_user(stranger.id)


async def test_iter_users_fetches_the_next_page_only_when_the_loop_needs_it(
    pa: PyAirtableIntegration, backend: Backend
) -> None:
    workspace = await pa.services.workspace.create_workspace(name="Team")
    for _ in range(2):
        mate = await backend.user()
        await pa.services.workspace.add_workspace_member(
            workspace.id, user_id=mate.id, role="viewer"
        )
    before = backend.count("GET", "/api/v1/users")

    users = pa.services.user.iter_users(per_page=2)
    first = await anext(users)
    after_first = backend.count("GET", "/api/v1/users") - before
    second = await anext(users)
    after_second = backend.count("GET", "/api/v1/users") - before
    third = await anext(users)
    after_third = backend.count("GET", "/api/v1/users") - before
    with pytest.raises(StopAsyncIteration):
        await anext(users)

    assert (after_first, after_second, after_third) == (1, 1, 2)
    assert len({first.id, second.id, third.id}) == 3
