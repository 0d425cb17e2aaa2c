"""Users (contract §4) and the account routes /auth/me (contract §3), through the API.

The module shares one running app (see ``module_backend``); each test signs up its own users,
who see nobody else's, so the other tests' users in the database must stay invisible to them.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

import httpx2
import pytest

from .backend import PASSWORD, Actor, Api

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def api(module_api: Api) -> Api:
    """One app for the module; every test signs up users of its own."""
    return module_api


#: ``User`` of contract §3, exactly.
USER_KEYS = {
    "id",
    "email",
    "first_name",
    "last_name",
    "role",
    "is_active",
    "email_verified",
    "created_at",
    "updated_at",
    "last_login_at",
}
PROFILE_KEYS = USER_KEYS | {"preferences", "settings"}
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def assert_error(response: httpx2.Response, status: int, error_type: str) -> dict[str, Any]:
    """Assert the error envelope of contract §2; return its ``details``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["type"] == error_type
    assert body["request_id"] == response.headers["X-Request-ID"]
    details: dict[str, Any] = body["error"]["details"]
    return details


async def person(api: Api, first: str, last: str, email: str | None = None) -> dict[str, Any]:
    """Register an account with these names (without signing in); answer its `User`."""
    # Digits only: searches in these tests must not match the address by chance.
    email = email or f"p{secrets.randbelow(10**12):012d}@example.com"
    response = await api.client.post(
        "/auth/register",
        json={"email": email, "password": PASSWORD, "first_name": first, "last_name": last},
    )
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    return user


async def join(api: Api, owner: Actor, workspace_id: str, user_id: str) -> None:
    response = await api.client.post(
        f"/workspaces/{workspace_id}/members",
        json={"user_id": user_id, "role": "viewer"},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text


async def visible(api: Api, actor: Actor, **params: Any) -> list[str]:
    """Ids of the users GET /users answers to ``actor``, in order."""
    response = await api.client.get("/users", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return [user["id"] for user in response.json()["data"]]


# --- the caller's profile: /users/me --------------------------------------------------------


async def test_profile_is_the_user_with_preferences_and_settings(api: Api) -> None:
    """GET /users/me answers the caller's `User` plus preferences and settings (empty at first)."""
    me = await api.actor()
    response = await api.client.get("/users/me", headers=me.headers)
    assert response.status_code == 200, response.text
    profile = response.json()
    assert set(profile) == PROFILE_KEYS
    assert profile["id"] == me.id
    assert profile["email"] == me.email
    assert profile["role"] == "user"
    assert profile["preferences"] == {}
    assert profile["settings"] == {}
    assert all(RFC3339_UTC.match(profile[key]) for key in ("created_at", "updated_at"))


async def test_profile_update_round_trips_names_preferences_and_settings(api: Api) -> None:
    """PUT /users/me stores names, preferences and settings; GET answers them back unchanged."""
    me = await api.actor()
    preferences = {
        "theme": "dark",
        "density": 2,
        "pinned": ["wspA", "wspB"],
        "nested": {"deep": {"deeper": [1, 2.5, None, True]}},
        "emoji": "🦄 ünïcödé",
        "multiline": "line one\nline two\ttabbed",
        "nested-deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": [[[[1]]]]}}}}}}}},
    }
    settings = {"notifications": {"email": False, "digest": "weekly"}, "timezone": "Europe/Oslo"}
    body = {"first_name": "Ada", "last_name": "Lovelace-Byron", "preferences": preferences}
    response = await api.client.put(
        "/users/me", json={**body, "settings": settings}, headers=me.headers
    )
    assert response.status_code == 200, response.text
    for answer in (response, await api.client.get("/users/me", headers=me.headers)):
        profile = answer.json()
        assert (profile["first_name"], profile["last_name"]) == ("Ada", "Lovelace-Byron")
        assert profile["preferences"] == preferences
        assert profile["settings"] == settings


async def test_profile_update_leaves_what_it_does_not_name(api: Api) -> None:
    """A PUT /users/me with only settings keeps the names and the preferences."""
    me = await api.actor()
    first = await api.client.put(
        "/users/me",
        json={"first_name": "Grace", "preferences": {"theme": "light"}},
        headers=me.headers,
    )
    assert first.status_code == 200, first.text
    second = await api.client.put("/users/me", json={"settings": {"a": 1}}, headers=me.headers)
    assert second.status_code == 200, second.text
    profile = (await api.client.get("/users/me", headers=me.headers)).json()
    assert (profile["first_name"], profile["last_name"]) == ("Grace", "User")
    assert profile["preferences"] == {"theme": "light"}
    assert profile["settings"] == {"a": 1}


async def test_profile_update_replaces_preferences_as_a_whole(api: Api) -> None:
    """Preferences given to PUT replace the stored ones (PUT semantics, no deep merge)."""
    me = await api.actor()
    await api.client.put("/users/me", json={"preferences": {"a": 1, "b": 2}}, headers=me.headers)
    response = await api.client.put("/users/me", json={"preferences": {"c": 3}}, headers=me.headers)
    assert response.status_code == 200, response.text
    profile = (await api.client.get("/users/me", headers=me.headers)).json()
    assert profile["preferences"] == {"c": 3}


async def test_profile_update_moves_updated_at(api: Api) -> None:
    """A profile update moves updated_at forward and leaves created_at."""
    me = await api.actor()
    before = (await api.client.get("/users/me", headers=me.headers)).json()
    after = (await api.client.put("/users/me", json={"last_name": "X"}, headers=me.headers)).json()
    assert after["created_at"] == before["created_at"]
    assert datetime.fromisoformat(after["updated_at"]) > datetime.fromisoformat(
        before["updated_at"]
    )


@pytest.mark.parametrize(
    "body",
    [
        {"role": "admin"},
        {"email": "someone-else@example.com"},
        {"is_active": False},
        {"email_verified": True},
        {"id": "usr" + "A" * 16},
        {"first_name": "Ok", "password": "a new password!"},
    ],
    ids=["role", "email", "is_active", "email_verified", "id", "password"],
)
async def test_profile_update_refuses_fields_it_does_not_own(
    api: Api, body: dict[str, Any]
) -> None:
    """PUT /users/me with any other key is 422 naming it, and changes nothing (no escalation)."""
    me = await api.actor()
    before = (await api.client.get("/users/me", headers=me.headers)).json()
    response = await api.client.put("/users/me", json=body, headers=me.headers)
    details = assert_error(response, 422, "VALIDATION_ERROR")
    assert set(body) - {"first_name"} <= set(details["fields"])
    assert (await api.client.get("/users/me", headers=me.headers)).json() == before


@pytest.mark.parametrize(
    "body",
    [
        {"first_name": ""},
        {"first_name": "   "},
        {"last_name": "x" * 101},
        {"first_name": "Ada\x00"},
        {"last_name": "Love\nlace"},
        {"preferences": ["not", "an", "object"]},
        {"settings": "dark"},
    ],
    ids=["empty", "blank", "too-long", "nul", "newline", "preferences-list", "settings-string"],
)
async def test_profile_update_with_invalid_values_is_422(api: Api, body: dict[str, Any]) -> None:
    """Empty, over-long or control-character names, or non-object preferences, are 422."""
    me = await api.actor()
    before = (await api.client.get("/users/me", headers=me.headers)).json()
    response = await api.client.put("/users/me", json=body, headers=me.headers)
    assert set(body) <= set(assert_error(response, 422, "VALIDATION_ERROR")["fields"])
    assert (await api.client.get("/users/me", headers=me.headers)).json() == before


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"preferences": {"note": "a\\u0000b"}}', "preferences"),
        (b'{"preferences": {"k\\u0000": 1}}', "preferences"),
        (b'{"settings": {"list": ["ok", "\\ud800"]}}', "settings"),
        (b'{"settings": {"deep": ' + b"[" * 300 + b"]" * 300 + b"}}", "settings"),
    ],
    ids=["nul-in-value", "nul-in-key", "lone-surrogate", "nested-300-deep"],
)
async def test_profile_json_the_databases_cannot_keep_is_422(
    api: Api, raw: bytes, field: str
) -> None:
    """Preferences or settings with NUL, lone surrogates or runaway nesting are 422, not stored.

    PostgreSQL's JSONB refuses NUL, neither database nor JSON encoder keeps a lone surrogate, and
    JSON nested hundreds deep cannot be serialised back: storing any of these would 500 or leave
    a profile that can no longer be read.
    """
    me = await api.actor()
    response = await api.client.put(
        "/users/me", content=raw, headers={**me.headers, "Content-Type": "application/json"}
    )
    assert field in assert_error(response, 422, "VALIDATION_ERROR")["fields"]
    profile = await api.client.get("/users/me", headers=me.headers)
    assert profile.status_code == 200, profile.text
    assert (profile.json()["preferences"], profile.json()["settings"]) == ({}, {})


async def test_other_users_objects_omit_preferences_and_settings(api: Api) -> None:
    """Another user's `User` (GET /users/{id}, GET /users, member lists) has no private fields."""
    owner, colleague = await api.actor(), await api.actor()
    secret = {"preferences": {"private": "mine"}, "settings": {"token": "s3cret"}}
    assert (await api.client.put("/users/me", json=secret, headers=owner.headers)).is_success
    workspace = await api.workspace(owner)
    await api.add_member(owner, workspace["id"], colleague, "viewer")

    one = await api.client.get(f"/users/{owner.id}", headers=colleague.headers)
    listed = await api.client.get("/users", headers=colleague.headers)
    members = await api.client.get(
        f"/workspaces/{workspace['id']}/members", headers=colleague.headers
    )
    seen = [
        one.json(),
        next(u for u in listed.json()["data"] if u["id"] == owner.id),
        next(m["user"] for m in members.json() if m["user_id"] == owner.id),
    ]
    for user in seen:
        assert set(user) == USER_KEYS
        assert "mine" not in str(user)
        assert "s3cret" not in str(user)


async def test_users_me_needs_a_token(api: Api) -> None:
    """The user routes answer 401 AUTH_ERROR without an access token."""
    for method, path in [("GET", "/users/me"), ("PUT", "/users/me"), ("GET", "/users")]:
        response = await api.client.request(method, path, json={} if method == "PUT" else None)
        assert_error(response, 401, "AUTH_ERROR")


# --- who sees whom: GET /users and GET /users/{id} -----------------------------------------


async def test_list_holds_only_users_sharing_a_workspace(api: Api) -> None:
    """GET /users lists the caller and the members of their workspaces, nobody else."""
    me, colleague, far = await api.actor(), await api.actor(), await api.actor()
    stranger = await person(api, "No", "Workspace")
    mine = await api.workspace(me)
    await api.add_member(me, mine["id"], colleague, "editor")
    # `far` shares a workspace with `colleague` but not with `me`: not visible to `me`.
    theirs = await api.workspace(far)
    await api.add_member(far, theirs["id"], colleague, "viewer")

    assert await visible(api, me) == [me.id, colleague.id]
    assert set(await visible(api, colleague)) == {me.id, colleague.id, far.id}
    assert stranger["id"] not in await visible(api, far)


async def test_list_for_a_user_without_workspaces_is_only_themselves(api: Api) -> None:
    """A user in no workspace sees only themselves in GET /users."""
    loner = await api.actor()
    await person(api, "Some", "Body")
    response = await api.client.get("/users", headers=loner.headers)
    assert response.status_code == 200, response.text
    assert [u["id"] for u in response.json()["data"]] == [loner.id]
    assert response.json()["pagination"]["total"] == 1


async def test_list_stops_showing_a_user_who_left(api: Api) -> None:
    """Once the only shared workspace is left, the other user drops out of GET /users."""
    me, colleague = await api.actor(), await api.actor()
    workspace = await api.workspace(me)
    await api.add_member(me, workspace["id"], colleague, "viewer")
    assert colleague.id in await visible(api, me)
    left = await api.client.delete(
        f"/workspaces/{workspace['id']}/members/{colleague.id}", headers=colleague.headers
    )
    assert left.status_code == 204
    assert await visible(api, me) == [me.id]
    assert_error(
        await api.client.get(f"/users/{colleague.id}", headers=me.headers), 404, "NOT_FOUND"
    )


async def _team(api: Api, me: Actor, *people: tuple[str, str, str | None]) -> dict[str, str]:
    """Register ``people`` (first, last, email) into a workspace of ``me``; map name → id."""
    workspace = await api.workspace(me)
    ids = {}
    for first, last, email in people:
        user = await person(api, first, last, email)
        await join(api, me, workspace["id"], user["id"])
        ids[f"{first} {last}"] = user["id"]
    return ids


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("ada", ["Ada Lovelace"]),
        ("LOVELACE", ["Ada Lovelace"]),
        ("gRaCe", ["Grace Hopper"]),
        ("hop", ["Grace Hopper"]),
        ("ACE", ["Ada Lovelace", "Grace Hopper"]),
        ("zzz", []),
    ],
)
async def test_search_matches_names_case_insensitively(
    api: Api, search: str, expected: list[str]
) -> None:
    """GET /users?search= matches first or last name, ignoring letter case."""
    me = await api.login((await person(api, "Main", "Caller"))["email"])
    ids = await _team(api, me, ("Ada", "Lovelace", None), ("Grace", "Hopper", None))
    assert await visible(api, me, search=search) == [ids[name] for name in expected]


async def test_search_matches_email_case_insensitively(api: Api) -> None:
    """GET /users?search= matches the email address, ignoring letter case."""
    me = await api.actor()
    ids = await _team(
        api, me, ("Ada", "L", "ada@analytical-engine.com"), ("Grace", "H", "grace@navy.mil")
    )
    assert await visible(api, me, search="ANALYTICAL-ENGINE.COM") == [ids["Ada L"]]
    assert await visible(api, me, search="@Navy.") == [ids["Grace H"]]


async def test_search_folds_case_beyond_ascii(api: Api) -> None:
    """Case-insensitive search also folds accented and non-Latin letters, on every database."""
    me = await api.actor()
    ids = await _team(api, me, ("Émile", "Zola", None), ("Ørjan", "Ødegård", None))
    assert await visible(api, me, search="émile") == [ids["Émile Zola"]]
    assert await visible(api, me, search="ÉMILE") == [ids["Émile Zola"]]
    assert await visible(api, me, search="ødegÅrd") == [ids["Ørjan Ødegård"]]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("%", ["100% Sure"]),
        ("0%", ["100% Sure"]),
        ("_", ["snake_case Dev"]),
        ("e_c", ["snake_case Dev"]),
        ("\\", ["back\\slash Dev"]),
    ],
    ids=["percent", "digit-percent", "underscore", "e-underscore-c", "backslash"],
)
async def test_search_wildcards_are_literal(api: Api, search: str, expected: list[str]) -> None:
    """`%`, `_` and `\\` in a search match themselves, not any text or any character."""
    me = await api.actor()
    ids = await _team(
        api,
        me,
        ("100%", "Sure", None),
        ("1000", "Sure", None),
        ("snake_case", "Dev", None),
        ("snakeXcase", "Dev", None),
        ("back\\slash", "Dev", None),
    )
    assert await visible(api, me, search=search) == [ids[name] for name in expected]


async def test_search_never_reveals_users_outside_the_callers_workspaces(api: Api) -> None:
    """A search that matches only a stranger answers an empty page."""
    me = await api.actor()
    await person(api, "Hidden", "Person")
    response = await api.client.get("/users", params={"search": "hidden"}, headers=me.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []
    assert response.json()["pagination"]["total"] == 0


async def test_list_is_paginated_by_page_number(api: Api) -> None:
    """GET /users pages through the visible users; pagination reports the totals."""
    me = await api.actor()
    await _team(api, me, *((f"P{n}", "Member", None) for n in range(4)))
    pages = []
    for page in (1, 2, 3):
        response = await api.client.get(
            "/users", params={"page": page, "per_page": 2}, headers=me.headers
        )
        assert response.status_code == 200, response.text
        pages.append(response.json())
    assert [len(p["data"]) for p in pages] == [2, 2, 1]
    assert [p["pagination"] for p in pages] == [
        {
            "page": n,
            "per_page": 2,
            "total": 5,
            "total_pages": 3,
            "has_next": n < 3,
            "has_prev": n > 1,
        }
        for n in (1, 2, 3)
    ]
    ids = [user["id"] for p in pages for user in p["data"]]
    assert len(set(ids)) == 5
    assert ids == await visible(api, me, per_page=100)


async def test_search_pagination_counts_only_matches(api: Api) -> None:
    """With a search, total counts the matching users, not all visible ones."""
    me = await api.actor()
    await _team(api, me, ("Match", "One", None), ("Match", "Two", None), ("Other", "Three", None))
    response = await api.client.get(
        "/users", params={"search": "match", "per_page": 1}, headers=me.headers
    )
    assert response.json()["pagination"]["total"] == 2
    assert response.json()["pagination"]["total_pages"] == 2


@pytest.mark.parametrize("query", ["per_page=101", "per_page=0", "page=0"])
async def test_list_with_out_of_range_paging_is_422(api: Api, query: str) -> None:
    """per_page outside 1..100 or page below 1 is 422 VALIDATION_ERROR."""
    me = await api.actor()
    assert_error(
        await api.client.get(f"/users?{query}", headers=me.headers), 422, "VALIDATION_ERROR"
    )


async def test_get_user_sharing_a_workspace_is_200(api: Api) -> None:
    """GET /users/{id} answers the `User` of someone the caller shares a workspace with."""
    me, colleague = await api.actor(), await api.actor()
    workspace = await api.workspace(me)
    await api.add_member(me, workspace["id"], colleague, "viewer")
    response = await api.client.get(f"/users/{colleague.id}", headers=me.headers)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == colleague.id
    assert response.json()["email"] == colleague.email
    assert set(response.json()) == USER_KEYS


async def test_get_self_is_200(api: Api) -> None:
    """GET /users/{own id} answers the caller's own `User`, even without workspaces."""
    me = await api.actor()
    response = await api.client.get(f"/users/{me.id}", headers=me.headers)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == me.id


async def test_get_user_sharing_no_workspace_is_404(api: Api) -> None:
    """GET /users/{id} of an existing user who shares no workspace is 404, as if absent."""
    me = await api.actor()
    stranger = await person(api, "Far", "Away")
    response = await api.client.get(f"/users/{stranger['id']}", headers=me.headers)
    assert_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "user_id",
    ["usr" + "N" * 16, "not-an-id", "usr!", "wsp" + "N" * 16],
    ids=["unknown", "malformed", "too-short", "other-type"],
)
async def test_get_user_with_unknown_or_malformed_id_is_404(api: Api, user_id: str) -> None:
    """GET /users/{id} with an id no user has, or that is not a user id at all, is 404."""
    me = await api.actor()
    assert_error(await api.client.get(f"/users/{user_id}", headers=me.headers), 404, "NOT_FOUND")


# --- /auth/me -------------------------------------------------------------------------------


async def test_auth_me_answers_the_callers_user(api: Api) -> None:
    """GET /auth/me answers exactly the contract's `User` of the caller."""
    me = await api.actor()
    response = await api.client.get("/auth/me", headers=me.headers)
    assert response.status_code == 200, response.text
    user = response.json()
    assert set(user) == USER_KEYS
    assert user["id"] == me.id
    assert user["email"] == me.email
    assert (user["first_name"], user["last_name"]) == ("Test", "User")
    assert user["role"] == "user"
    assert user["is_active"] is True
    assert RFC3339_UTC.match(user["last_login_at"])


async def test_auth_me_update_changes_names(api: Api) -> None:
    """PUT /auth/me changes the names given and keeps the other; /users/me agrees."""
    me = await api.actor()
    response = await api.client.put("/auth/me", json={"first_name": "  Ada  "}, headers=me.headers)
    assert response.status_code == 200, response.text
    assert set(response.json()) == USER_KEYS
    assert (response.json()["first_name"], response.json()["last_name"]) == ("Ada", "User")
    profile = (await api.client.get("/users/me", headers=me.headers)).json()
    assert (profile["first_name"], profile["last_name"]) == ("Ada", "User")
    again = (await api.client.get("/auth/me", headers=me.headers)).json()
    assert again["first_name"] == "Ada"


@pytest.mark.parametrize(
    "body",
    [{"preferences": {"a": 1}}, {"email": "new@example.com"}, {"role": "admin"}],
    ids=["preferences", "email", "role"],
)
async def test_auth_me_update_accepts_only_names(api: Api, body: dict[str, Any]) -> None:
    """PUT /auth/me with anything but first_name/last_name is 422 and changes nothing."""
    me = await api.actor()
    response = await api.client.put("/auth/me", json=body, headers=me.headers)
    assert set(body) <= set(assert_error(response, 422, "VALIDATION_ERROR")["fields"])
    profile = (await api.client.get("/users/me", headers=me.headers)).json()
    assert profile["preferences"] == {}
    assert profile["email"] == me.email
    assert profile["role"] == "user"


async def test_auth_me_needs_a_token(api: Api) -> None:
    """GET and PUT /auth/me answer 401 AUTH_ERROR without a valid access token."""
    assert_error(await api.client.get("/auth/me"), 401, "AUTH_ERROR")
    bad = {"Authorization": "Bearer not-a-jwt"}
    assert_error(await api.client.get("/auth/me", headers=bad), 401, "AUTH_ERROR")
    assert_error(await api.client.put("/auth/me", json={"first_name": "X"}), 401, "AUTH_ERROR")
