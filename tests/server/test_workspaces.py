"""Workspaces, members and the audit log (contract §2, §4, §9), end to end through the API.

The module shares one running app (see ``module_backend``); each test signs up its own users and
creates its own workspaces, so other tests' workspaces in the database must stay out of sight.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import anyio
import httpx2
import pytest

from .backend import Actor, Api

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def api(module_api: Api) -> Api:
    """One app for the module; every test signs up users of its own."""
    return module_api


RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
ID_SHAPE = re.compile(r"^wsp[0-9A-Za-z]{14,}$")
WORKSPACE_KEYS = {
    "id",
    "name",
    "description",
    "owner_id",
    "is_active",
    "member_count",
    "base_count",
    "created_at",
    "updated_at",
}
MEMBER_KEYS = {"workspace_id", "user_id", "role", "added_at", "added_by", "user"}
PAGINATION_KEYS = {
    "page",
    "per_page",
    "total",
    "total_pages",
    "has_next",
    "has_prev",
    "event_position",
}


def page_meta(body: dict[str, Any]) -> dict[str, Any]:
    """The page numbers of a list answer; its ``event_position`` is checked and set aside."""
    meta = dict(body["pagination"])
    position = meta.pop("event_position")
    assert isinstance(position, int)
    assert position >= 0
    return meta


def instant(text: str) -> datetime:
    """Parse an RFC 3339 timestamp of the API."""
    return datetime.fromisoformat(text)


def assert_error(response: httpx2.Response, status: int, error_type: str) -> dict[str, Any]:
    """Assert the error envelope of contract §2; return its ``details``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["type"] == error_type
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    details: dict[str, Any] = body["error"]["details"]
    return details


async def members_of(api: Api, actor: Actor, workspace_id: str) -> dict[str, str]:
    """user_id → role, as ``actor`` sees the member list."""
    response = await api.client.get(f"/workspaces/{workspace_id}/members", headers=actor.headers)
    assert response.status_code == 200, response.text
    return {member["user_id"]: member["role"] for member in response.json()}


async def set_role(
    api: Api, actor: Actor, workspace_id: str, user_id: str, role: str | None
) -> httpx2.Response:
    return await api.client.patch(
        f"/workspaces/{workspace_id}/members/{user_id}", json={"role": role}, headers=actor.headers
    )


async def remove(api: Api, actor: Actor, workspace_id: str, user_id: str) -> httpx2.Response:
    return await api.client.delete(
        f"/workspaces/{workspace_id}/members/{user_id}", headers=actor.headers
    )


# --- create, get, list, update, delete ------------------------------------------------------


async def pair_in_workspace(api: Api, role: str) -> tuple[Actor, Actor, str]:
    """Alice owns a new workspace and Bob is in it with ``role``; answers both and its id."""
    alice, bob = await api.actor(), await api.actor()
    workspace = await api.workspace(alice)
    await api.add_member(alice, workspace["id"], bob, role)
    return alice, bob, workspace["id"]


async def test_create_answers_the_workspace_with_the_caller_as_owner(api: Api) -> None:
    """POST /workspaces answers 201 and a `Workspace` whose owner is the caller."""
    owner = await api.actor()
    response = await api.client.post(
        "/workspaces", json={"name": "Ops", "description": "Day to day"}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    workspace = response.json()
    assert set(workspace) == WORKSPACE_KEYS
    assert ID_SHAPE.match(workspace["id"])
    assert workspace["name"] == "Ops"
    assert workspace["description"] == "Day to day"
    assert workspace["owner_id"] == owner.id
    assert workspace["is_active"] is True
    assert workspace["member_count"] == 1
    assert workspace["base_count"] == 0
    assert RFC3339_UTC.match(workspace["created_at"])
    assert RFC3339_UTC.match(workspace["updated_at"])
    assert await members_of(api, owner, workspace["id"]) == {owner.id: "owner"}


async def test_create_without_description_defaults_to_empty(api: Api) -> None:
    """The description is optional and defaults to an empty string."""
    owner = await api.actor()
    workspace = await api.workspace(owner, name="Bare")
    assert workspace["description"] == ""


async def test_get_answers_the_same_workspace(api: Api) -> None:
    """GET /workspaces/{id} answers what the creation answered."""
    owner = await api.actor()
    created = await api.workspace(owner)
    response = await api.client.get(f"/workspaces/{created['id']}", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json() == created


async def test_list_holds_only_the_callers_workspaces_oldest_first(api: Api) -> None:
    """GET /workspaces lists the workspaces the caller is a member of, and no others."""
    alice, bob = await api.actor(), await api.actor()
    first = await api.workspace(alice, name="First")
    second = await api.workspace(alice, name="Second")
    bobs = await api.workspace(bob, name="Bob's")
    await api.add_member(bob, bobs["id"], alice, "viewer")
    await api.workspace(bob, name="Bob only")

    response = await api.client.get("/workspaces", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert [w["id"] for w in response.json()["data"]] == [first["id"], second["id"], bobs["id"]]
    assert response.json()["pagination"]["total"] == 3


async def test_list_is_paginated_by_page_number(api: Api) -> None:
    """page/per_page slice the list; pagination reports total, total_pages, has_next, has_prev."""
    owner = await api.actor()
    ids = [(await api.workspace(owner, name=f"W{n}"))["id"] for n in range(3)]

    pages = []
    for page in (1, 2, 3):
        response = await api.client.get(
            "/workspaces", params={"page": page, "per_page": 2}, headers=owner.headers
        )
        assert response.status_code == 200, response.text
        pages.append(response.json())

    assert [page_meta(p) for p in pages] == [
        {
            "page": 1,
            "per_page": 2,
            "total": 3,
            "total_pages": 2,
            "has_next": True,
            "has_prev": False,
        },
        {
            "page": 2,
            "per_page": 2,
            "total": 3,
            "total_pages": 2,
            "has_next": False,
            "has_prev": True,
        },
        {
            "page": 3,
            "per_page": 2,
            "total": 3,
            "total_pages": 2,
            "has_next": False,
            "has_prev": True,
        },
    ]
    assert [[w["id"] for w in p["data"]] for p in pages] == [ids[:2], ids[2:], []]


async def test_list_defaults_to_page_one_of_twenty(api: Api) -> None:
    """Without paging parameters the list is page 1 with per_page 20."""
    owner = await api.actor()
    await api.workspace(owner)
    response = await api.client.get("/workspaces", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert page_meta(response.json()) == {
        "page": 1,
        "per_page": 20,
        "total": 1,
        "total_pages": 1,
        "has_next": False,
        "has_prev": False,
    }


async def test_empty_list_has_no_pages(api: Api) -> None:
    """A user without workspaces gets an empty page: total 0, total_pages 0, no next or prev."""
    loner = await api.actor()
    response = await api.client.get("/workspaces", headers=loner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []
    assert page_meta(response.json()) == {
        "page": 1,
        "per_page": 20,
        "total": 0,
        "total_pages": 0,
        "has_next": False,
        "has_prev": False,
    }


async def test_per_page_of_100_is_allowed(api: Api) -> None:
    """per_page may be as large as 100."""
    owner = await api.actor()
    response = await api.client.get("/workspaces?per_page=100", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["pagination"]["per_page"] == 100


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("per_page=101", "per_page"),
        ("per_page=0", "per_page"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("per_page=ten", "per_page"),
    ],
)
async def test_out_of_range_paging_is_422(api: Api, query: str, field: str) -> None:
    """per_page outside 1..100 or page below 1 is 422 VALIDATION_ERROR naming the parameter."""
    owner = await api.actor()
    response = await api.client.get(f"/workspaces?{query}", headers=owner.headers)
    details = assert_error(response, 422, "VALIDATION_ERROR")
    assert any(name.endswith(field) for name in details["fields"]), details


async def test_member_count_follows_membership(api: Api) -> None:
    """member_count counts the members, in GET and in the list, as they join and leave."""
    owner, editor, viewer = await api.actor(), await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    await api.add_member(owner, workspace["id"], editor, "editor")
    await api.add_member(owner, workspace["id"], viewer, "viewer")

    async def counts() -> tuple[int, int]:
        one = await api.client.get(f"/workspaces/{workspace['id']}", headers=owner.headers)
        listed = await api.client.get("/workspaces", headers=owner.headers)
        return one.json()["member_count"], listed.json()["data"][0]["member_count"]

    assert await counts() == (3, 3)
    assert (await remove(api, owner, workspace["id"], viewer.id)).status_code == 204
    assert await counts() == (2, 2)


async def test_update_changes_name_and_description(api: Api) -> None:
    """PUT /workspaces/{id} changes the given fields, moves updated_at, keeps created_at."""
    owner = await api.actor()
    before = await api.workspace(owner, name="Old")
    response = await api.client.put(
        f"/workspaces/{before['id']}",
        json={"name": "New", "description": "Now described"},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["name"] == "New"
    assert after["description"] == "Now described"
    assert after["created_at"] == before["created_at"]
    assert instant(after["updated_at"]) > instant(before["updated_at"])
    again = await api.client.get(f"/workspaces/{before['id']}", headers=owner.headers)
    assert again.json() == after


async def test_update_leaves_fields_it_does_not_name(api: Api) -> None:
    """A PUT with only a description keeps the name, and the other way round."""
    owner = await api.actor()
    workspace = await api.workspace(owner, name="Keep me")
    url = f"/workspaces/{workspace['id']}"
    response = await api.client.put(url, json={"description": "Added"}, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["description"]) == ("Keep me", "Added")
    response = await api.client.put(url, json={"name": "Renamed"}, headers=owner.headers)
    assert (response.json()["name"], response.json()["description"]) == ("Renamed", "Added")


@pytest.mark.parametrize("field", ["name", "description"])
async def test_update_refuses_null_instead_of_ignoring_it(api: Api, field: str) -> None:
    """An explicit null is an error naming the field; the workspace is unchanged."""
    owner = await api.actor()
    workspace = await api.workspace(owner, name="Stays")
    url = f"/workspaces/{workspace['id']}"
    response = await api.client.put(url, json={field: None}, headers=owner.headers)
    assert field in assert_error(response, 422, "VALIDATION_ERROR")["fields"]
    again = await api.client.get(url, headers=owner.headers)
    assert again.json() == workspace


@pytest.mark.parametrize("name", ["", "   ", "x" * 256])
async def test_blank_or_overlong_name_is_422(api: Api, name: str) -> None:
    """A name must be 1 to 255 characters after trimming, on create and on update."""
    owner = await api.actor()
    created = await api.client.post("/workspaces", json={"name": name}, headers=owner.headers)
    assert "name" in assert_error(created, 422, "VALIDATION_ERROR")["fields"]
    workspace = await api.workspace(owner, name="Fine")
    updated = await api.client.put(
        f"/workspaces/{workspace['id']}", json={"name": name}, headers=owner.headers
    )
    assert "name" in assert_error(updated, 422, "VALIDATION_ERROR")["fields"]
    listed = await api.client.get("/workspaces", headers=owner.headers)
    assert [w["name"] for w in listed.json()["data"]] == ["Fine"]


async def test_delete_answers_204_and_the_workspace_is_gone(api: Api) -> None:
    """DELETE /workspaces/{id} answers 204; afterwards GET is 404 and the list is empty."""
    owner = await api.actor()
    workspace = await api.workspace(owner)
    response = await api.client.delete(f"/workspaces/{workspace['id']}", headers=owner.headers)
    assert response.status_code == 204
    assert response.content == b""
    gone = await api.client.get(f"/workspaces/{workspace['id']}", headers=owner.headers)
    assert_error(gone, 404, "NOT_FOUND")
    listed = await api.client.get("/workspaces", headers=owner.headers)
    assert listed.json()["data"] == []


async def test_delete_removes_access_for_every_member(api: Api) -> None:
    """After a workspace is deleted none of its former members can reach it."""
    owner, admin, viewer = await api.actor(), await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    await api.add_member(owner, workspace["id"], admin, "admin")
    await api.add_member(owner, workspace["id"], viewer, "viewer")
    response = await api.client.delete(f"/workspaces/{workspace['id']}", headers=owner.headers)
    assert response.status_code == 204
    for member in (owner, admin, viewer):
        got = await api.client.get(f"/workspaces/{workspace['id']}", headers=member.headers)
        assert_error(got, 404, "NOT_FOUND")
        members = await api.client.get(
            f"/workspaces/{workspace['id']}/members", headers=member.headers
        )
        assert_error(members, 404, "NOT_FOUND")
        listed = await api.client.get("/workspaces", headers=member.headers)
        assert listed.json()["pagination"]["total"] == 0


# --- members --------------------------------------------------------------------------------


async def test_add_member_by_user_id(api: Api) -> None:
    """POST members with user_id answers 201 and the `WorkspaceMember` with its nested user."""
    owner, editor = await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    response = await api.client.post(
        f"/workspaces/{workspace['id']}/members",
        json={"user_id": editor.id, "role": "editor"},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    member = response.json()
    assert set(member) == MEMBER_KEYS
    assert member["workspace_id"] == workspace["id"]
    assert member["user_id"] == editor.id
    assert member["role"] == "editor"
    assert member["added_by"] == owner.id
    assert RFC3339_UTC.match(member["added_at"])
    assert member["user"]["id"] == editor.id
    assert member["user"]["email"] == editor.email
    assert await members_of(api, owner, workspace["id"]) == {owner.id: "owner", editor.id: "editor"}


async def test_add_member_by_email(api: Api) -> None:
    """POST members with email finds the account by its address, in any letter case."""
    owner, viewer = await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    response = await api.client.post(
        f"/workspaces/{workspace['id']}/members",
        json={"email": viewer.email.upper(), "role": "viewer"},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["user_id"] == viewer.id
    assert response.json()["role"] == "viewer"
    seen = await api.client.get(f"/workspaces/{workspace['id']}", headers=viewer.headers)
    assert seen.status_code == 200


async def test_member_list_is_a_plain_list_with_nested_users_in_join_order(api: Api) -> None:
    """GET members answers a JSON array of `WorkspaceMember`, each with its `User`."""
    owner, admin, viewer = await api.actor(), await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    await api.add_member(owner, workspace["id"], admin, "admin")
    await api.add_member(admin, workspace["id"], viewer, "viewer")
    response = await api.client.get(
        f"/workspaces/{workspace['id']}/members", headers=viewer.headers
    )
    assert response.status_code == 200, response.text
    members = response.json()
    assert isinstance(members, list)
    assert [(m["user_id"], m["role"], m["added_by"]) for m in members] == [
        (owner.id, "owner", None),
        (admin.id, "admin", owner.id),
        (viewer.id, "viewer", admin.id),
    ]
    for member in members:
        assert set(member) == MEMBER_KEYS
        assert member["user"]["id"] == member["user_id"]
        assert {"email", "first_name", "last_name"} <= set(member["user"])
        assert "password_hash" not in member["user"]


async def test_patch_member_changes_the_role(api: Api) -> None:
    """PATCH members/{user_id} answers the member with the new role, and it sticks."""
    owner, member = await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    await api.add_member(owner, workspace["id"], member, "viewer")
    response = await set_role(api, owner, workspace["id"], member.id, "admin")
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "admin"
    assert response.json()["user"]["id"] == member.id
    assert (await members_of(api, owner, workspace["id"]))[member.id] == "admin"


async def test_remove_member_answers_204_and_drops_them_from_the_list(api: Api) -> None:
    """DELETE members/{user_id} answers 204 and the user is no longer listed."""
    owner, member = await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    await api.add_member(owner, workspace["id"], member, "editor")
    response = await remove(api, owner, workspace["id"], member.id)
    assert response.status_code == 204
    assert await members_of(api, owner, workspace["id"]) == {owner.id: "owner"}


async def test_removed_member_loses_access(api: Api) -> None:
    """A removed member gets 404 for the workspace and no longer lists it."""
    owner, member = await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    await api.add_member(owner, workspace["id"], member, "admin")
    assert (await remove(api, owner, workspace["id"], member.id)).status_code == 204
    got = await api.client.get(f"/workspaces/{workspace['id']}", headers=member.headers)
    assert_error(got, 404, "NOT_FOUND")
    rename = await api.client.put(
        f"/workspaces/{workspace['id']}", json={"name": "Mine now"}, headers=member.headers
    )
    assert_error(rename, 404, "NOT_FOUND")
    listed = await api.client.get("/workspaces", headers=member.headers)
    assert listed.json()["data"] == []


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_changing_a_non_member_is_404(api: Api, method: str) -> None:
    """PATCH or DELETE of a user who is not a member answers 404 NOT_FOUND."""
    owner, stranger = await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    response = await api.client.request(
        method,
        f"/workspaces/{workspace['id']}/members/{stranger.id}",
        json={"role": "viewer"} if method == "PATCH" else None,
        headers=owner.headers,
    )
    assert_error(response, 404, "NOT_FOUND")
    assert await members_of(api, owner, workspace["id"]) == {owner.id: "owner"}


async def test_adding_an_existing_member_is_409_with_the_current_member(api: Api) -> None:
    """Adding someone already in the workspace is 409 CONFLICT; details.current is their row."""
    owner, member = await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    await api.add_member(owner, workspace["id"], member, "editor")
    response = await api.client.post(
        f"/workspaces/{workspace['id']}/members",
        json={"email": member.email, "role": "admin"},
        headers=owner.headers,
    )
    details = assert_error(response, 409, "CONFLICT")
    current = details["current"]
    assert set(current) == MEMBER_KEYS
    assert (current["workspace_id"], current["user_id"], current["role"]) == (
        workspace["id"],
        member.id,
        "editor",
    )
    assert (await members_of(api, owner, workspace["id"]))[member.id] == "editor"


@pytest.mark.parametrize(
    ("identity", "field"),
    [
        ({"user_id": "usr" + "Q" * 16}, "user_id"),
        ({"user_id": "not-a-user-id"}, "user_id"),
        ({"email": "nobody-here@example.com"}, "email"),
    ],
    ids=["unknown-user-id", "malformed-user-id", "unknown-email"],
)
async def test_adding_an_unknown_user_is_422(
    api: Api, identity: dict[str, str], field: str
) -> None:
    """Adding a user who does not exist is 422 VALIDATION_ERROR naming user_id or email."""
    owner = await api.actor()
    workspace = await api.workspace(owner)
    response = await api.client.post(
        f"/workspaces/{workspace['id']}/members",
        json={**identity, "role": "viewer"},
        headers=owner.headers,
    )
    details = assert_error(response, 422, "VALIDATION_ERROR")
    assert field in details["fields"]
    assert await members_of(api, owner, workspace["id"]) == {owner.id: "owner"}


@pytest.mark.parametrize(
    "body",
    [{"role": "viewer"}, {"user_id": "IDENTITY", "email": "EMAIL", "role": "viewer"}],
    ids=["neither", "both"],
)
async def test_member_needs_exactly_one_of_user_id_and_email(
    api: Api, body: dict[str, str]
) -> None:
    """A member body with neither or both of user_id and email is 422."""
    owner, other = await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    filled = {k: {"IDENTITY": other.id, "EMAIL": other.email}.get(v, v) for k, v in body.items()}
    response = await api.client.post(
        f"/workspaces/{workspace['id']}/members", json=filled, headers=owner.headers
    )
    assert_error(response, 422, "VALIDATION_ERROR")
    assert await members_of(api, owner, workspace["id"]) == {owner.id: "owner"}


@pytest.mark.parametrize("role", ["superuser", "Owner", "", None])
async def test_unknown_role_is_422(api: Api, role: str | None) -> None:
    """Only owner, admin, editor and viewer are roles."""
    owner, other = await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    added = await api.client.post(
        f"/workspaces/{workspace['id']}/members",
        json={"user_id": other.id, "role": role},
        headers=owner.headers,
    )
    assert "role" in assert_error(added, 422, "VALIDATION_ERROR")["fields"]
    patched = await set_role(api, owner, workspace["id"], owner.id, role)
    assert "role" in assert_error(patched, 422, "VALIDATION_ERROR")["fields"]
    assert await members_of(api, owner, workspace["id"]) == {owner.id: "owner"}


# --- owners: admins cannot touch them, a workspace keeps one -------------------------------


@pytest.mark.parametrize("attempt", ["add-owner", "grant-owner", "demote-owner", "remove-owner"])
async def test_admin_cannot_touch_owners(api: Api, attempt: str) -> None:
    """An admin may not add an owner, grant the owner role, demote or remove an owner (403)."""
    owner, admin, editor, newcomer = [await api.actor() for _ in range(4)]
    workspace = await api.workspace(owner)
    wid = workspace["id"]
    await api.add_member(owner, wid, admin, "admin")
    await api.add_member(owner, wid, editor, "editor")
    before = await members_of(api, owner, wid)

    if attempt == "add-owner":
        response = await api.client.post(
            f"/workspaces/{wid}/members",
            json={"user_id": newcomer.id, "role": "owner"},
            headers=admin.headers,
        )
    elif attempt == "grant-owner":
        response = await set_role(api, admin, wid, editor.id, "owner")
    elif attempt == "demote-owner":
        response = await set_role(api, admin, wid, owner.id, "admin")
    else:
        response = await remove(api, admin, wid, owner.id)

    assert_error(response, 403, "PERMISSION_DENIED")
    assert await members_of(api, owner, wid) == before


@pytest.mark.parametrize(
    ("role", "wanted"), [("admin", "owner"), ("editor", "admin"), ("viewer", "editor")]
)
async def test_members_cannot_promote_themselves(api: Api, role: str, wanted: str) -> None:
    """Raising one's own role is refused (403) like any change the role may not make."""
    owner, member = await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    await api.add_member(owner, workspace["id"], member, role)
    response = await set_role(api, member, workspace["id"], member.id, wanted)
    assert_error(response, 403, "PERMISSION_DENIED")
    assert (await members_of(api, owner, workspace["id"]))[member.id] == role


async def test_owner_can_transfer_ownership(api: Api) -> None:
    """An owner makes another member owner, then steps down; owner_id follows the new owner."""
    alice, bob, wid = await pair_in_workspace(api, "admin")

    granted = await set_role(api, alice, wid, bob.id, "owner")
    assert granted.status_code == 200, granted.text
    assert granted.json()["role"] == "owner"
    stepped_down = await set_role(api, alice, wid, alice.id, "admin")
    assert stepped_down.status_code == 200, stepped_down.text

    assert await members_of(api, bob, wid) == {alice.id: "admin", bob.id: "owner"}
    now = await api.client.get(f"/workspaces/{wid}", headers=bob.headers)
    assert now.json()["owner_id"] == bob.id
    # Bob holds the owner-only permissions now, Alice no longer does.
    assert_error(
        await api.client.delete(f"/workspaces/{wid}", headers=alice.headers),
        403,
        "PERMISSION_DENIED",
    )
    assert (await api.client.delete(f"/workspaces/{wid}", headers=bob.headers)).status_code == 204


async def test_demoting_the_last_owner_is_409(api: Api) -> None:
    """The only owner cannot demote themselves: 409 CONFLICT with their member row as current."""
    owner = await api.actor()
    workspace = await api.workspace(owner)
    response = await set_role(api, owner, workspace["id"], owner.id, "admin")
    details = assert_error(response, 409, "CONFLICT")
    assert details["current"]["user_id"] == owner.id
    assert details["current"]["role"] == "owner"
    assert await members_of(api, owner, workspace["id"]) == {owner.id: "owner"}


async def test_removing_the_last_owner_is_409(api: Api) -> None:
    """The only owner cannot leave (remove themselves) while others stay: 409 CONFLICT."""
    owner, admin = await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    await api.add_member(owner, workspace["id"], admin, "admin")
    response = await remove(api, owner, workspace["id"], owner.id)
    details = assert_error(response, 409, "CONFLICT")
    assert details["current"]["role"] == "owner"
    assert await members_of(api, owner, workspace["id"]) == {owner.id: "owner", admin.id: "admin"}


async def test_sole_member_owner_cannot_leave_either(api: Api) -> None:
    """Alone in the workspace, the owner still cannot leave: it would be left ownerless."""
    owner = await api.actor()
    workspace = await api.workspace(owner)
    response = await remove(api, owner, workspace["id"], owner.id)
    assert_error(response, 409, "CONFLICT")
    got = await api.client.get(f"/workspaces/{workspace['id']}", headers=owner.headers)
    assert got.json()["member_count"] == 1


async def test_two_owners_demoting_each_other_the_second_is_refused(api: Api) -> None:
    """Of two owners demoting each other in turn, the second is refused; one owner remains."""
    alice, bob, wid = await pair_in_workspace(api, "owner")

    first = await set_role(api, alice, wid, bob.id, "admin")
    assert first.status_code == 200, first.text
    second = await set_role(api, bob, wid, alice.id, "admin")
    assert_error(second, 403, "PERMISSION_DENIED")
    assert await members_of(api, alice, wid) == {alice.id: "owner", bob.id: "admin"}


async def test_two_owners_stepping_down_in_turn_the_second_is_409(api: Api) -> None:
    """Of two owners demoting themselves in turn, the second is the last owner: 409."""
    alice, bob, wid = await pair_in_workspace(api, "owner")

    first = await set_role(api, alice, wid, alice.id, "admin")
    assert first.status_code == 200, first.text
    second = await set_role(api, bob, wid, bob.id, "editor")
    assert_error(second, 409, "CONFLICT")
    assert await members_of(api, bob, wid) == {alice.id: "admin", bob.id: "owner"}


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(api: Api) -> None:
    """Concurrent mutual demotions: exactly one succeeds and the workspace keeps an owner."""
    alice, bob, wid = await pair_in_workspace(api, "owner")

    statuses: list[int] = []

    async def demote(actor: Actor, target: Actor) -> None:
        statuses.append((await set_role(api, actor, wid, target.id, "admin")).status_code)

    async with anyio.create_task_group() as group:
        group.start_soon(demote, alice, bob)
        group.start_soon(demote, bob, alice)

    assert sorted(statuses)[0] == 200
    assert sorted(statuses)[1] in (403, 409)
    roles = await members_of(api, alice, wid)
    assert sorted(roles.values()) == ["admin", "owner"]


# --- leaving ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "editor", "admin", "owner"])
async def test_any_member_may_leave(api: Api, role: str) -> None:
    """Every member, whatever their role, may remove themselves while an owner remains."""
    founder, leaver = await api.actor(), await api.actor()
    workspace = await api.workspace(founder)
    await api.add_member(founder, workspace["id"], leaver, role)
    response = await remove(api, leaver, workspace["id"], leaver.id)
    assert response.status_code == 204, response.text
    assert await members_of(api, founder, workspace["id"]) == {founder.id: "owner"}
    gone = await api.client.get(f"/workspaces/{workspace['id']}", headers=leaver.headers)
    assert_error(gone, 404, "NOT_FOUND")


async def test_viewer_cannot_remove_someone_else(api: Api) -> None:
    """Leaving is for oneself: a viewer removing another member is 403."""
    owner, viewer, editor = await api.actor(), await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    await api.add_member(owner, workspace["id"], viewer, "viewer")
    await api.add_member(owner, workspace["id"], editor, "editor")
    response = await remove(api, viewer, workspace["id"], editor.id)
    assert_error(response, 403, "PERMISSION_DENIED")
    assert editor.id in await members_of(api, owner, workspace["id"])


async def test_owner_id_moves_to_the_remaining_owner_when_the_primary_owner_leaves(
    api: Api,
) -> None:
    """When owner_id's holder leaves, owner_id becomes the owner who remains."""
    founder, heir, viewer = await api.actor(), await api.actor(), await api.actor()
    workspace = await api.workspace(founder)
    wid = workspace["id"]
    await api.add_member(founder, wid, viewer, "viewer")
    await api.add_member(founder, wid, heir, "owner")
    assert workspace["owner_id"] == founder.id

    assert (await remove(api, founder, wid, founder.id)).status_code == 204
    after = await api.client.get(f"/workspaces/{wid}", headers=viewer.headers)
    assert after.status_code == 200, after.text
    assert after.json()["owner_id"] == heir.id
    assert after.json()["member_count"] == 2


# --- the audit log ---------------------------------------------------------------------------


async def test_audit_log_records_each_write_newest_first(api: Api) -> None:
    """Each workspace write adds an audit entry; the log lists them newest first."""
    owner, member = await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    wid = workspace["id"]
    await api.client.put(f"/workspaces/{wid}", json={"name": "Renamed"}, headers=owner.headers)
    await api.add_member(owner, wid, member, "viewer")
    await set_role(api, owner, wid, member.id, "editor")
    await remove(api, owner, wid, member.id)

    response = await api.client.get(f"/workspaces/{wid}/audit-log", headers=owner.headers)
    assert response.status_code == 200, response.text
    entries = response.json()["data"]
    assert [(e["action"], e["resource_id"]) for e in entries] == [
        ("workspace.member_removed", member.id),
        ("workspace.member_updated", member.id),
        ("workspace.member_added", member.id),
        ("workspace.updated", wid),
        ("workspace.created", wid),
    ]
    assert all(e["workspace_id"] == wid and e["user_id"] == owner.id for e in entries)
    assert all(RFC3339_UTC.match(e["occurred_at"]) for e in entries)
    assert entries[1]["details"] == {"from": "viewer", "to": "editor"}
    # The audit log is history, not data a client keeps in sync: no event position.
    assert set(response.json()["pagination"]) == PAGINATION_KEYS - {"event_position"}
    assert response.json()["pagination"]["total"] == 5


async def test_audit_log_names_the_actor_and_request(api: Api) -> None:
    """An audit entry records who wrote and the request id the write came with."""
    owner, admin = await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    await api.add_member(owner, workspace["id"], admin, "admin")
    await api.client.put(
        f"/workspaces/{workspace['id']}",
        json={"description": "by the admin"},
        headers={**admin.headers, "X-Request-ID": "req-audit-42"},
    )
    response = await api.client.get(
        f"/workspaces/{workspace['id']}/audit-log", headers=owner.headers
    )
    newest = response.json()["data"][0]
    assert newest["action"] == "workspace.updated"
    assert newest["user_id"] == admin.id
    assert newest["request_id"] == "req-audit-42"
    assert newest["details"] == {"fields": ["description"]}


async def test_audit_log_leaves_out_refused_writes(api: Api) -> None:
    """A write that was refused leaves no audit entry."""
    owner, viewer = await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    await api.add_member(owner, workspace["id"], viewer, "viewer")
    refused = await api.client.put(
        f"/workspaces/{workspace['id']}", json={"name": "Nope"}, headers=viewer.headers
    )
    assert refused.status_code == 403
    response = await api.client.get(
        f"/workspaces/{workspace['id']}/audit-log", headers=owner.headers
    )
    assert [e["action"] for e in response.json()["data"]] == [
        "workspace.member_added",
        "workspace.created",
    ]


@pytest.mark.parametrize("role", ["editor", "viewer"])
async def test_audit_log_is_refused_to_editors_and_viewers(api: Api, role: str) -> None:
    """Only owners and admins read the audit log (§9): editors and viewers get 403."""
    owner, member = await api.actor(), await api.actor()
    workspace = await api.workspace(owner)
    await api.add_member(owner, workspace["id"], member, role)
    response = await api.client.get(
        f"/workspaces/{workspace['id']}/audit-log", headers=member.headers
    )
    assert_error(response, 403, "PERMISSION_DENIED")
    assert "data" not in response.json()


async def test_audit_log_is_paginated(api: Api) -> None:
    """The audit log pages like every page-numbered list."""
    owner = await api.actor()
    workspace = await api.workspace(owner)
    for n in range(2):
        await api.client.put(
            f"/workspaces/{workspace['id']}", json={"name": f"N{n}"}, headers=owner.headers
        )
    url = f"/workspaces/{workspace['id']}/audit-log"
    second = await api.client.get(url, params={"page": 2, "per_page": 2}, headers=owner.headers)
    assert second.status_code == 200, second.text
    assert [e["action"] for e in second.json()["data"]] == ["workspace.created"]
    assert second.json()["pagination"] == {
        "page": 2,
        "per_page": 2,
        "total": 3,
        "total_pages": 2,
        "has_next": False,
        "has_prev": True,
    }
    too_big = await api.client.get(url, params={"per_page": 101}, headers=owner.headers)
    assert_error(too_big, 422, "VALIDATION_ERROR")


# --- text: unicode round-trips, control characters and unknown keys are refused -------------


UNICODE_NAMES = {
    "emoji": "🚀 Launch 👩🏽‍💻 team 🇫🇷",
    "family-zwj": "👨‍👩‍👧‍👦",
    "arabic-rtl": "مساحة العمل",
    "hebrew-mixed": "צוות Ops 2024",
    "combining-nfd": "Cafe\u0301 Mu\u0308nchen",
    "stacked-marks": "Z\u0351\u0364a\u0306\u0317l\u0300g\u0315o",
    "cjk": "数据团队",
    "astral": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
}


@pytest.mark.parametrize("name", list(UNICODE_NAMES.values()), ids=list(UNICODE_NAMES))
async def test_unicode_names_round_trip_exactly(api: Api, name: str) -> None:
    """Names with emoji, right-to-left text or combining marks come back unchanged."""
    owner = await api.actor()
    created = await api.client.post(
        "/workspaces", json={"name": name, "description": name}, headers=owner.headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == name
    got = await api.client.get(f"/workspaces/{created.json()['id']}", headers=owner.headers)
    assert (got.json()["name"], got.json()["description"]) == (name, name)
    renamed = await api.client.put(
        f"/workspaces/{created.json()['id']}", json={"name": name[::-1]}, headers=owner.headers
    )
    assert renamed.status_code == 200, renamed.text
    listed = await api.client.get("/workspaces", headers=owner.headers)
    assert [w["name"] for w in listed.json()["data"]] == [name[::-1]]


CONTROL_NAMES = {
    "nul": "Ops\x00",
    "nul-inside": "O\x00ps",
    "soh": "\x01Ops",
    "escape": "\x1b[31mOps",
    "delete": "Ops\x7f",
    "c1-nel": "Ops\x85Team",
    "newline": "Ops\nTeam",
    "carriage-return": "Ops\rTeam",
}


@pytest.mark.parametrize("name", list(CONTROL_NAMES.values()), ids=list(CONTROL_NAMES))
async def test_names_with_control_characters_are_422(api: Api, name: str) -> None:
    """A name with NUL, another control character or a line break is 422, on create and update."""
    owner = await api.actor()
    created = await api.client.post("/workspaces", json={"name": name}, headers=owner.headers)
    assert "name" in assert_error(created, 422, "VALIDATION_ERROR")["fields"]
    workspace = await api.workspace(owner, name="Clean")
    updated = await api.client.put(
        f"/workspaces/{workspace['id']}", json={"name": name}, headers=owner.headers
    )
    assert "name" in assert_error(updated, 422, "VALIDATION_ERROR")["fields"]
    got = await api.client.get(f"/workspaces/{workspace['id']}", headers=owner.headers)
    assert got.json()["name"] == "Clean"


async def test_names_with_lone_surrogates_are_422(api: Api) -> None:
    """A name holding half of a surrogate pair (not valid Unicode) is 422, not stored."""
    owner = await api.actor()
    response = await api.client.post(
        "/workspaces",
        content=b'{"name": "Ops \\ud83d"}',
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert "name" in assert_error(response, 422, "VALIDATION_ERROR")["fields"]
    listed = await api.client.get("/workspaces", headers=owner.headers)
    assert listed.json()["data"] == []


async def test_description_with_nul_is_422_but_line_breaks_are_kept(api: Api) -> None:
    """A description may span lines but may not hold NUL."""
    owner = await api.actor()
    bad = await api.client.post(
        "/workspaces", json={"name": "Ops", "description": "a\x00b"}, headers=owner.headers
    )
    assert "description" in assert_error(bad, 422, "VALIDATION_ERROR")["fields"]
    good = await api.client.post(
        "/workspaces",
        json={"name": "Ops", "description": "line one\nline two\ttabbed"},
        headers=owner.headers,
    )
    assert good.status_code == 201, good.text
    assert good.json()["description"] == "line one\nline two\ttabbed"


@pytest.mark.parametrize(
    ("method", "path", "body", "key"),
    [
        ("POST", "/workspaces", {"name": "Ops", "owner_id": "usrX"}, "owner_id"),
        ("PUT", "/workspaces/{w}", {"nmae": "Typo"}, "nmae"),
        ("PUT", "/workspaces/{w}", {"name": "Ops", "is_active": False}, "is_active"),
        (
            "POST",
            "/workspaces/{w}/members",
            {"email": "x@example.com", "role": "viewer", "x": 1},
            "x",
        ),
        ("PATCH", "/workspaces/{w}/members/{me}", {"role": "owner", "is_admin": True}, "is_admin"),
    ],
    ids=["create", "update-typo", "update-readonly", "add-member", "patch-member"],
)
async def test_unknown_body_keys_are_422(
    api: Api, method: str, path: str, body: dict[str, Any], key: str
) -> None:
    """A body with a key the route does not know is 422 naming that key, and changes nothing."""
    owner = await api.actor()
    workspace = await api.workspace(owner)
    url = path.replace("{w}", workspace["id"]).replace("{me}", owner.id)
    response = await api.client.request(method, url, json=body, headers=owner.headers)
    assert key in assert_error(response, 422, "VALIDATION_ERROR")["fields"]
    got = await api.client.get(f"/workspaces/{workspace['id']}", headers=owner.headers)
    assert got.json() == workspace
    listed = await api.client.get("/workspaces", headers=owner.headers)
    assert listed.json()["pagination"]["total"] == 1


async def test_workspace_routes_need_a_token(api: Api) -> None:
    """Without an access token the workspace routes answer 401 AUTH_ERROR."""
    for method, path in [("GET", "/workspaces"), ("POST", "/workspaces")]:
        response = await api.client.request(method, path, json={"name": "Anon"})
        assert_error(response, 401, "AUTH_ERROR")
