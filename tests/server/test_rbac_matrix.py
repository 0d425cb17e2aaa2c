"""The role matrix of contract §4, walked role by role and permission by permission.

Every (role, permission) pair is its own test. Permissions with a route today are exercised with
the real request: 2xx when the role holds the permission, 403 ``PERMISSION_DENIED`` when a member
lacks it, 404 ``NOT_FOUND`` for a non-member, and the write is visible (or not) afterwards.
Permissions whose routes arrive later are checked through ``GET /auth/permissions``.

The expected matrix below is copied from the contract's table, not imported from the server, so
these tests hold the code to the contract. The app and its users are set up once per module;
tests only read the shared workspace, and every test that writes gets a workspace of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, get_args

import httpx2
import pytest

from pyairtable_server import permissions
from pyairtable_server.permissions import allows, may_change_membership, permissions_of
from pyairtable_server.settings import Settings

from .backend import Actor, Api, running_api

pytestmark = pytest.mark.anyio

ROLES = ("owner", "admin", "editor", "viewer")
NON_MEMBER = "non-member"
CALLERS = (*ROLES, NON_MEMBER)

_ALL = frozenset({"owner", "admin", "editor", "viewer"})
_WRITERS = frozenset({"owner", "admin", "editor"})
_ADMINS = frozenset({"owner", "admin"})
_OWNERS = frozenset({"owner"})

#: Contract §4, row by row. "transfer ownership" travels as ``workspace:transfer``; §9 gives the
#: audit log to "owners and admins", which travels as ``audit:read``.
CONTRACT_MATRIX: dict[str, frozenset[str]] = {
    # | workspace:read, base:read, table:read, record:read, file:read | ✓ | ✓ | ✓ | ✓ |
    "workspace:read": _ALL,
    "base:read": _ALL,
    "table:read": _ALL,
    "record:read": _ALL,
    "file:read": _ALL,
    # | record:write, file:write | ✓ | ✓ | ✓ | |
    "record:write": _WRITERS,
    "file:write": _WRITERS,
    # | base:write, table:write, field:write, view:write, webhook:write | ✓ | ✓ | | |
    "base:write": _ADMINS,
    "table:write": _ADMINS,
    "field:write": _ADMINS,
    "view:write": _ADMINS,
    "webhook:write": _ADMINS,
    # | member:write, workspace:write | ✓ | ✓ (not owners) | | |
    "member:write": _ADMINS,
    "workspace:write": _ADMINS,
    # | workspace:delete, transfer ownership | ✓ | | | |
    "workspace:delete": _OWNERS,
    "workspace:transfer": _OWNERS,
    # §9: the audit log is for owners and admins.
    "audit:read": _ADMINS,
}

#: Permissions exercised below through a real route.
ROUTED = frozenset(
    {
        "workspace:read",
        "workspace:write",
        "workspace:delete",
        "member:write",
        "workspace:transfer",
        "audit:read",
    }
)
#: Permissions whose routes (bases, tables, records, files, fields, views, webhooks) come later.
NOT_YET_ROUTED = sorted(set(CONTRACT_MATRIX) - ROUTED)

_ERROR_TYPES = {403: "PERMISSION_DENIED", 404: "NOT_FOUND"}


def _pairs(permission_names: list[str] | tuple[str, ...]) -> list[Any]:
    return [
        pytest.param(caller, name, id=f"{caller}-{name}")
        for name in permission_names
        for caller in CALLERS
    ]


def expected_status(caller: str, permission: str, ok: int) -> int:
    """What the contract says ``caller`` gets for a request that needs ``permission``."""
    if caller == NON_MEMBER:
        return 404
    return ok if caller in CONTRACT_MATRIX[permission] else 403


def assert_outcome(response: httpx2.Response, caller: str, permission: str, ok: int) -> bool:
    """Assert the status (and error type) the contract prescribes; return whether it was allowed."""
    expected = expected_status(caller, permission, ok)
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.json()["error"]["type"] == _ERROR_TYPES[expected]
    return expected == ok


# --- the module's users and a read-only workspace -------------------------------------------


@dataclass
class World:
    """Users in every role, registered once, and a shared workspace no test writes to."""

    api: Api
    actors: dict[str, Actor]
    shared_id: str

    @property
    def client(self) -> httpx2.AsyncClient:
        return self.api.client

    @property
    def owner(self) -> Actor:
        return self.actors["owner"]

    @property
    def target(self) -> Actor:
        """A user who is only ever the object of membership changes."""
        return self.actors["target"]

    def headers(self, caller: str) -> dict[str, str]:
        return self.actors[caller].headers

    async def fresh_workspace(self, caller: str, *, target_role: str | None = None) -> str:
        """A new workspace of the owner's, with ``caller`` in their role and maybe the target."""
        workspace = await self.api.workspace(self.owner, name="Scratch")
        if caller in ROLES and caller != "owner":
            await self.api.add_member(self.owner, workspace["id"], self.actors[caller], caller)
        if target_role is not None:
            await self.api.add_member(self.owner, workspace["id"], self.target, target_role)
        return str(workspace["id"])

    async def roles(self, workspace_id: str) -> dict[str, str]:
        """The members of a workspace and their roles, as its owner sees them."""
        response = await self.client.get(
            f"/workspaces/{workspace_id}/members", headers=self.owner.headers
        )
        assert response.status_code == 200, response.text
        return {member["user_id"]: member["role"] for member in response.json()}


@pytest.fixture(scope="module")
async def world(module_database: Settings) -> AsyncIterator[World]:
    async with running_api(module_database) as api:
        actors = {name: await api.actor() for name in (*ROLES, NON_MEMBER, "target")}
        shared = await api.workspace(actors["owner"], name="Shared")
        for role in ("admin", "editor", "viewer"):
            await api.add_member(actors["owner"], shared["id"], actors[role], role)
        yield World(api=api, actors=actors, shared_id=str(shared["id"]))


# --- permissions without routes yet: what /auth/permissions reports ---------------------------


async def _reported(world: World, caller: str, workspace_id: str) -> httpx2.Response:
    return await world.client.get(
        "/auth/permissions",
        params={"resource_type": "workspace", "resource_id": workspace_id},
        headers=world.headers(caller),
    )


@pytest.mark.parametrize(("caller", "permission"), _pairs(NOT_YET_ROUTED))
async def test_reported_permission_matches_contract(
    world: World, caller: str, permission: str
) -> None:
    """/auth/permissions grants a permission without a route yet exactly when the contract does."""
    response = await _reported(world, caller, world.shared_id)
    if caller == NON_MEMBER:
        assert response.status_code == 404, response.text
        assert response.json()["error"]["type"] == "NOT_FOUND"
        return
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == caller
    assert (permission in body["permissions"]) == (caller in CONTRACT_MATRIX[permission])


@pytest.mark.parametrize("role", ROLES)
async def test_reported_permissions_are_exactly_the_contracts(world: World, role: str) -> None:
    """/auth/permissions lists each permission of the role once, and nothing the contract lacks."""
    response = await _reported(world, role, world.shared_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == role
    assert body["resource_type"] == "workspace"
    assert body["resource_id"] == world.shared_id
    listed = body["permissions"]
    assert len(listed) == len(set(listed))
    assert set(listed) == {name for name, roles in CONTRACT_MATRIX.items() if role in roles}


# --- permissions with routes: the real request --------------------------------------------


@pytest.mark.parametrize("caller", CALLERS)
async def test_get_workspace_needs_workspace_read(world: World, caller: str) -> None:
    """GET /workspaces/{id} answers the workspace to every member, 404 to a non-member."""
    response = await world.client.get(
        f"/workspaces/{world.shared_id}", headers=world.headers(caller)
    )
    if assert_outcome(response, caller, "workspace:read", 200):
        assert response.json()["id"] == world.shared_id
        assert response.json()["member_count"] == 4


@pytest.mark.parametrize("caller", CALLERS)
async def test_list_members_needs_workspace_read(world: World, caller: str) -> None:
    """GET /workspaces/{id}/members lists the members to every member, 404 to a non-member."""
    response = await world.client.get(
        f"/workspaces/{world.shared_id}/members", headers=world.headers(caller)
    )
    if assert_outcome(response, caller, "workspace:read", 200):
        seen = {member["user_id"]: member["role"] for member in response.json()}
        assert seen == {world.actors[role].id: role for role in ROLES}


@pytest.mark.parametrize("caller", CALLERS)
async def test_audit_log_needs_audit_read(world: World, caller: str) -> None:
    """GET /workspaces/{id}/audit-log is for owners and admins (§9)."""
    response = await world.client.get(
        f"/workspaces/{world.shared_id}/audit-log", headers=world.headers(caller)
    )
    if assert_outcome(response, caller, "audit:read", 200):
        actions = [entry["action"] for entry in response.json()["data"]]
        assert actions[-1] == "workspace.created"
        assert all(e["workspace_id"] == world.shared_id for e in response.json()["data"])


@pytest.mark.parametrize("caller", CALLERS)
async def test_put_workspace_needs_workspace_write(world: World, caller: str) -> None:
    """PUT /workspaces/{id} renames for owners and admins only; a refused rename changes nothing."""
    workspace_id = await world.fresh_workspace(caller)
    response = await world.client.put(
        f"/workspaces/{workspace_id}", json={"name": "Renamed"}, headers=world.headers(caller)
    )
    allowed = assert_outcome(response, caller, "workspace:write", 200)
    after = await world.client.get(f"/workspaces/{workspace_id}", headers=world.owner.headers)
    assert after.json()["name"] == ("Renamed" if allowed else "Scratch")


@pytest.mark.parametrize("caller", CALLERS)
async def test_delete_workspace_needs_workspace_delete(world: World, caller: str) -> None:
    """DELETE /workspaces/{id} is for the owner only; a refused delete leaves the workspace."""
    workspace_id = await world.fresh_workspace(caller)
    response = await world.client.delete(
        f"/workspaces/{workspace_id}", headers=world.headers(caller)
    )
    allowed = assert_outcome(response, caller, "workspace:delete", 204)
    after = await world.client.get(f"/workspaces/{workspace_id}", headers=world.owner.headers)
    assert after.status_code == (404 if allowed else 200)


@pytest.mark.parametrize("caller", CALLERS)
async def test_add_member_needs_member_write(world: World, caller: str) -> None:
    """POST /workspaces/{id}/members (a non-owner role) is for owners and admins."""
    workspace_id = await world.fresh_workspace(caller)
    response = await world.client.post(
        f"/workspaces/{workspace_id}/members",
        json={"user_id": world.target.id, "role": "editor"},
        headers=world.headers(caller),
    )
    allowed = assert_outcome(response, caller, "member:write", 201)
    roles = await world.roles(workspace_id)
    assert roles.get(world.target.id) == ("editor" if allowed else None)


@pytest.mark.parametrize("caller", CALLERS)
async def test_patch_member_needs_member_write(world: World, caller: str) -> None:
    """PATCH /workspaces/{id}/members/{user} (between non-owner roles) is for owners and admins."""
    workspace_id = await world.fresh_workspace(caller, target_role="viewer")
    response = await world.client.patch(
        f"/workspaces/{workspace_id}/members/{world.target.id}",
        json={"role": "editor"},
        headers=world.headers(caller),
    )
    allowed = assert_outcome(response, caller, "member:write", 200)
    roles = await world.roles(workspace_id)
    assert roles[world.target.id] == ("editor" if allowed else "viewer")


@pytest.mark.parametrize("caller", CALLERS)
async def test_remove_member_needs_member_write(world: World, caller: str) -> None:
    """DELETE /workspaces/{id}/members/{user} (a non-owner) is for owners and admins."""
    workspace_id = await world.fresh_workspace(caller, target_role="viewer")
    response = await world.client.delete(
        f"/workspaces/{workspace_id}/members/{world.target.id}", headers=world.headers(caller)
    )
    allowed = assert_outcome(response, caller, "member:write", 204)
    roles = await world.roles(workspace_id)
    assert (world.target.id in roles) == (not allowed)


@pytest.mark.parametrize("caller", CALLERS)
async def test_granting_owner_needs_transfer(world: World, caller: str) -> None:
    """Making a member an owner (transfer ownership) is for owners only."""
    workspace_id = await world.fresh_workspace(caller, target_role="editor")
    response = await world.client.patch(
        f"/workspaces/{workspace_id}/members/{world.target.id}",
        json={"role": "owner"},
        headers=world.headers(caller),
    )
    allowed = assert_outcome(response, caller, "workspace:transfer", 200)
    roles = await world.roles(workspace_id)
    assert roles[world.target.id] == ("owner" if allowed else "editor")


@pytest.mark.parametrize("caller", CALLERS)
async def test_demoting_an_owner_needs_transfer(world: World, caller: str) -> None:
    """Taking the owner role away from one of two owners is for owners only."""
    workspace_id = await world.fresh_workspace(caller, target_role="owner")
    response = await world.client.patch(
        f"/workspaces/{workspace_id}/members/{world.target.id}",
        json={"role": "admin"},
        headers=world.headers(caller),
    )
    allowed = assert_outcome(response, caller, "workspace:transfer", 200)
    roles = await world.roles(workspace_id)
    assert roles[world.target.id] == ("admin" if allowed else "owner")


# --- a non-member sees 404 everywhere inside a workspace ----------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {w} is the workspace id, {owner} the owner's user id, {me} the caller's
    body: dict[str, Any] | None = None


SCOPED_ROUTES = {
    "get-workspace": Route("GET", "/workspaces/{w}"),
    "put-workspace": Route("PUT", "/workspaces/{w}", {"name": "Taken over"}),
    "delete-workspace": Route("DELETE", "/workspaces/{w}"),
    "list-members": Route("GET", "/workspaces/{w}/members"),
    "add-member": Route("POST", "/workspaces/{w}/members", {"user_id": "{me}", "role": "owner"}),
    "patch-member": Route("PATCH", "/workspaces/{w}/members/{owner}", {"role": "viewer"}),
    "remove-member": Route("DELETE", "/workspaces/{w}/members/{owner}"),
    "leave": Route("DELETE", "/workspaces/{w}/members/{me}"),
    "audit-log": Route("GET", "/workspaces/{w}/audit-log"),
    "permissions": Route("GET", "/auth/permissions?resource_type=workspace&resource_id={w}"),
}
TARGETS = ("not-a-member", "no-such-workspace", "malformed-id", "id-of-another-type")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("route_name", list(SCOPED_ROUTES))
async def test_non_member_gets_404_never_403(world: World, route_name: str, target: str) -> None:
    """A non-member gets 404 NOT_FOUND on every workspace-scoped route, whatever the id."""
    route = SCOPED_ROUTES[route_name]
    outsider = world.actors[NON_MEMBER]
    if target == "not-a-member":
        workspace_id = await world.fresh_workspace(NON_MEMBER)
    else:
        workspace_id = {
            "no-such-workspace": "wsp" + "Z" * 16,
            "malformed-id": "wsp-not-an-id",
            "id-of-another-type": world.owner.id,
        }[target]

    def fill(text: str) -> str:
        return (
            text.replace("{w}", workspace_id)
            .replace("{owner}", world.owner.id)
            .replace("{me}", outsider.id)
        )

    body = {key: fill(value) for key, value in route.body.items()} if route.body else None
    response = await world.client.request(
        route.method, fill(route.path), json=body, headers=outsider.headers
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"]["type"] == "NOT_FOUND"
    if target == "not-a-member":
        after = await world.client.get(f"/workspaces/{workspace_id}", headers=world.owner.headers)
        assert after.status_code == 200
        assert after.json()["name"] == "Scratch"
        assert await world.roles(workspace_id) == {world.owner.id: "owner"}


# --- the pure functions of permissions.py (no event loop) ---------------------------------


def test_role_and_permission_vocabulary_matches_the_contract() -> None:
    """permissions.py knows exactly the contract's roles and permissions."""
    assert set(permissions.ROLES) == set(ROLES)
    assert set(get_args(permissions.Permission)) == set(CONTRACT_MATRIX)
    assert set(permissions.PERMISSIONS) == set(CONTRACT_MATRIX)


@pytest.mark.parametrize(
    ("role", "permission"),
    [pytest.param(role, name, id=f"{role}-{name}") for name in CONTRACT_MATRIX for role in ROLES],
)
def test_allows_matches_contract(role: Any, permission: Any) -> None:
    """allows(role, permission) is the contract's table cell."""
    assert allows(role, permission) is (role in CONTRACT_MATRIX[permission])


@pytest.mark.parametrize("role", ROLES)
def test_permissions_of_lists_the_roles_grants_in_canonical_order(role: Any) -> None:
    """permissions_of(role) is the role's column of the table, in the order of PERMISSIONS."""
    granted = permissions_of(role)
    assert set(granted) == {name for name, roles in CONTRACT_MATRIX.items() if role in roles}
    order = list(permissions.PERMISSIONS)
    assert granted == sorted(granted, key=order.index)


def test_roles_are_nested() -> None:
    """Each role holds everything the role below it holds (viewer ⊂ editor ⊂ admin ⊂ owner)."""
    chain = [set(permissions_of(role)) for role in ("viewer", "editor", "admin", "owner")]
    assert all(lower < higher for lower, higher in pairwise(chain))


_NOBODY = None


@pytest.mark.parametrize(
    ("actor", "current", "wanted", "expected"),
    [
        # owners manage everyone, owners included
        ("owner", _NOBODY, "viewer", True),
        ("owner", _NOBODY, "owner", True),
        ("owner", "viewer", "admin", True),
        ("owner", "editor", "owner", True),
        ("owner", "owner", "admin", True),
        ("owner", "owner", _NOBODY, True),
        ("owner", "admin", _NOBODY, True),
        # admins manage everyone but owners, and never grant the owner role
        ("admin", _NOBODY, "admin", True),
        ("admin", _NOBODY, "viewer", True),
        ("admin", "viewer", "editor", True),
        ("admin", "admin", "viewer", True),
        ("admin", "editor", _NOBODY, True),
        ("admin", _NOBODY, "owner", False),
        ("admin", "editor", "owner", False),
        ("admin", "owner", "admin", False),
        ("admin", "owner", _NOBODY, False),
        # editors and viewers manage nobody
        ("editor", _NOBODY, "viewer", False),
        ("editor", "viewer", "editor", False),
        ("editor", "viewer", _NOBODY, False),
        ("viewer", _NOBODY, "viewer", False),
        ("viewer", "editor", "viewer", False),
        ("viewer", "editor", _NOBODY, False),
    ],
    ids=lambda value: "none" if value is None else str(value),
)
def test_may_change_membership(actor: Any, current: Any, wanted: Any, expected: bool) -> None:
    """may_change_membership follows "admins: not owners" and "transfer ownership: owners"."""
    assert may_change_membership(actor, current, wanted) is expected
