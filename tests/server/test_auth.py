"""Auth service (contract §3): registration, login, token rotation, sessions, attacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from pyairtable_server.settings import Settings

from .backend import PASSWORD, Api, running_api
from .tokens import claims_of, expired, forge, unsigned

pytestmark = pytest.mark.anyio


async def _me(api: Api, token: str) -> Any:
    return await api.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})


async def _refresh(api: Api, refresh_token: str) -> Any:
    return await api.client.post("/auth/refresh", json={"refresh_token": refresh_token})


# --- registration and login -------------------------------------------------------------------


async def test_register_answers_the_user_with_contract_fields(api: Api) -> None:
    response = await api.client.post(
        "/auth/register",
        json={
            "email": "Ada@Example.COM",
            "password": PASSWORD,
            "first_name": "Ada",
            "last_name": "L",
        },
    )
    assert response.status_code == 201
    user = response.json()
    assert set(user) == {
        "id", "email", "first_name", "last_name", "role", "is_active", "email_verified",
        "created_at", "updated_at", "last_login_at",
    }  # fmt: skip
    assert user["id"].startswith("usr") and len(user["id"]) >= 17
    assert user["email"] == "ada@example.com"
    assert user["role"] == "user" and user["is_active"] is True
    assert user["created_at"].endswith("Z") and user["last_login_at"] is None
    assert "password" not in response.text


async def test_register_refuses_an_email_already_taken_in_any_case(api: Api) -> None:
    await api.register("taken@example.com")
    response = await api.client.post(
        "/auth/register",
        json={
            "email": "TAKEN@example.com",
            "password": PASSWORD,
            "first_name": "A",
            "last_name": "B",
        },
    )
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "CONFLICT"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"email": "a@example.com", "password": "short", "first_name": "A", "last_name": "B"},
            "password",
        ),
        (
            {"email": "not-an-email", "password": PASSWORD, "first_name": "A", "last_name": "B"},
            "email",
        ),
        (
            {"email": "a@example.com", "password": PASSWORD, "first_name": "", "last_name": "B"},
            "first_name",
        ),
        ({"email": "a@example.com", "password": PASSWORD, "last_name": "B"}, "first_name"),
    ],
)
async def test_register_names_the_invalid_field(api: Api, body: dict[str, Any], field: str) -> None:
    response = await api.client.post("/auth/register", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "VALIDATION_ERROR"
    assert field in error["details"]["fields"]


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password1234", "common"),
        ("Qwertyuiop", "common"),  # case does not hide it
        ("1q2w3e4r5t6y", "common"),
        ("ada.lovelace-rocks", "personal"),  # the email's local part
        ("my name is Lovelace!", "personal"),  # the last name
        ("augusta the great", "personal"),  # the first name
        ("my pyairtable login", "personal"),  # the product
    ],
)
async def test_register_refuses_common_and_personal_passwords(
    api: Api, password: str, reason: str
) -> None:
    response = await api.client.post(
        "/auth/register",
        json={
            "email": "ada.lovelace@example.com",
            "password": password,
            "first_name": "Augusta",
            "last_name": "Lovelace",
        },
    )
    assert response.status_code == 422
    fields = response.json()["error"]["details"]["fields"]
    assert list(fields) == ["password"]
    assert ("commonly used" if reason == "common" else "your name") in fields["password"]


async def test_change_password_refuses_a_common_or_personal_new_password(api: Api) -> None:
    actor = await api.actor()
    for weak in ("iloveyou123", actor.email.split("@")[0] + "-2024"):
        response = await api.client.post(
            "/auth/change-password",
            json={"current_password": PASSWORD, "new_password": weak},
            headers=actor.headers,
        )
        assert response.status_code == 422
        assert list(response.json()["error"]["details"]["fields"]) == ["new_password"]
    await api.login(actor.email)  # the password did not change


async def test_login_answers_a_bearer_pair_with_the_user(api: Api) -> None:
    user = await api.register("login@example.com")
    response = await api.client.post(
        "/auth/login", json={"email": "LOGIN@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 15 * 60
    assert body["user"]["id"] == user["id"]
    assert body["user"]["last_login_at"] is not None
    claims = claims_of(body["access_token"])
    assert {"sub", "sid", "exp", "iat", "jti", "type", "iss", "aud"} <= set(claims)
    assert claims["type"] == "access" and claims["sub"] == user["id"]
    assert body["refresh_token"] and "." not in body["refresh_token"]  # opaque, not a JWT


async def test_wrong_password_and_unknown_email_fail_alike(api: Api) -> None:
    await api.register("known@example.com")
    wrong = await api.client.post(
        "/auth/login", json={"email": "known@example.com", "password": "wrong password!"}
    )
    unknown = await api.client.post(
        "/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"] == unknown.json()["error"]
    assert wrong.json()["error"]["type"] == "AUTH_ERROR"
    assert wrong.headers["www-authenticate"] == "Bearer"


async def test_access_token_opens_me(api: Api) -> None:
    actor = await api.actor()
    response = await _me(api, actor.access_token)
    assert response.status_code == 200
    assert response.json()["id"] == actor.id


# --- attacks on access tokens -----------------------------------------------------------------


ATTACKS: dict[str, Callable[[dict[str, Any]], str]] = {
    "alg_none": unsigned,
    "alg_none_uppercase": lambda c: unsigned(c).replace("bm9uZQ", "Tk9ORQ"),
    "wrong_algorithm_hs512": lambda c: forge(c, algorithm="HS512"),
    "wrong_key": lambda c: forge(c, key="another-key-" + "y" * 48),
    "expired": expired,
    "wrong_type_refresh": lambda c: forge(c, type="refresh"),
    "missing_type": lambda c: forge(c, type=None),
    "missing_jti": lambda c: forge(c, jti=None),
    "missing_exp": lambda c: forge(c, exp=None),
    "missing_sid": lambda c: forge(c, sid=None),
    "wrong_audience": lambda c: forge(c, aud="someone-else"),
    "wrong_issuer": lambda c: forge(c, iss="evil"),
    "other_user_in_sub": lambda c: forge(c, sub="usrAAAAAAAAAAAAAAAA"),
    "unknown_session": lambda c: forge(c, sid="sesAAAAAAAAAAAAAAAA"),
    "numeric_sub": lambda c: forge(c, sub=12345),
    "garbage": lambda c: "not.a.jwt",
    "empty_segments": lambda c: "..",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_forged_access_tokens_are_refused(api: Api, attack: str) -> None:
    actor = await api.actor()
    token = ATTACKS[attack](claims_of(actor.access_token))
    response = await _me(api, token)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["type"] == "AUTH_ERROR"


async def test_a_correctly_forged_token_is_accepted_so_the_attacks_above_mean_something(
    api: Api,
) -> None:
    actor = await api.actor()
    response = await _me(api, forge(claims_of(actor.access_token), jti="fresh-jti"))
    assert response.status_code == 200


async def test_expired_token_says_it_expired(api: Api) -> None:
    actor = await api.actor()
    response = await _me(api, expired(claims_of(actor.access_token)))
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer  ", "Token abc"]
)
async def test_missing_or_malformed_authorization_is_401(api: Api, header: str) -> None:
    headers = {"Authorization": header} if header else {}
    response = await api.client.get("/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "AUTH_ERROR"


# --- refresh rotation -------------------------------------------------------------------------


async def test_refresh_rotates_to_a_new_working_pair(api: Api) -> None:
    actor = await api.actor()
    response = await _refresh(api, actor.refresh_token)
    assert response.status_code == 200
    pair = response.json()
    assert pair["refresh_token"] != actor.refresh_token
    assert pair["access_token"] != actor.access_token
    assert claims_of(pair["access_token"])["sid"] == claims_of(actor.access_token)["sid"]
    assert (await _me(api, pair["access_token"])).status_code == 200
    assert (await _refresh(api, pair["refresh_token"])).status_code == 200


async def test_unknown_refresh_token_is_refused(api: Api) -> None:
    response = await _refresh(api, "definitely-not-issued")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "AUTH_ERROR"


async def test_an_access_token_is_no_refresh_token(api: Api) -> None:
    actor = await api.actor()
    assert (await _refresh(api, actor.access_token)).status_code == 401


async def test_racing_refreshes_of_one_token_get_the_same_pair(api: Api) -> None:
    """Two tabs refreshing at once: neither is taken for a thief, both get one new pair."""
    actor = await api.actor()
    answers: list[Any] = []

    async def refresh_once() -> None:
        answers.append(await _refresh(api, actor.refresh_token))

    async with anyio.create_task_group() as group:
        for _ in range(2):
            group.start_soon(refresh_once)
    assert [answer.status_code for answer in answers] == [200, 200]
    first, second = (answer.json() for answer in answers)
    assert first["refresh_token"] == second["refresh_token"]
    assert first["access_token"] == second["access_token"]
    # The session lives on: the shared successor works, exactly once.
    assert (await _refresh(api, first["refresh_token"])).status_code == 200
    assert (await _me(api, first["access_token"])).status_code == 200


async def test_reuse_after_the_grace_window_revokes_the_whole_family(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_api(make_settings(refresh_grace_seconds=0)) as api:
        actor = await api.actor()
        rotated = (await _refresh(api, actor.refresh_token)).json()
        await anyio.sleep(1.05)  # grace 0 s: any later presentation is a reuse
        reuse = await _refresh(api, actor.refresh_token)
        assert reuse.status_code == 401
        assert "revoked" in reuse.json()["error"]["message"]
        # Everything the family issued is dead: the thief's copy and the victim's.
        assert (await _refresh(api, rotated["refresh_token"])).status_code == 401
        assert (await _me(api, rotated["access_token"])).status_code == 401
        assert (await _me(api, actor.access_token)).status_code == 401
        # Other sessions of the same account are untouched.
        other = await api.login(actor.email)
        assert (await _me(api, other.access_token)).status_code == 200


async def test_refresh_tokens_expire_absolutely(make_settings: Callable[..., Settings]) -> None:
    async with running_api(make_settings(refresh_token_ttl_seconds=1)) as api:
        actor = await api.actor()
        rotated = (await _refresh(api, actor.refresh_token)).json()
        await anyio.sleep(1.1)  # rotation does not extend the session's absolute expiry
        response = await _refresh(api, rotated["refresh_token"])
        assert response.status_code == 401
        assert "expired" in response.json()["error"]["message"]


# --- logout, password change, validate -------------------------------------------------------


async def test_logout_with_refresh_token_ends_that_session_only(api: Api) -> None:
    actor = await api.actor()
    other = await api.login(actor.email)
    response = await api.client.post("/auth/logout", json={"refresh_token": actor.refresh_token})
    assert response.status_code == 204
    assert (await _refresh(api, actor.refresh_token)).status_code == 401
    assert (await _me(api, actor.access_token)).status_code == 401
    assert (await _me(api, other.access_token)).status_code == 200


async def test_logout_without_body_ends_the_callers_session(api: Api) -> None:
    actor = await api.actor()
    response = await api.client.post("/auth/logout", headers=actor.headers)
    assert response.status_code == 204
    assert (await _me(api, actor.access_token)).status_code == 401
    assert (await _refresh(api, actor.refresh_token)).status_code == 401


async def test_logout_needs_some_credential(api: Api) -> None:
    response = await api.client.post("/auth/logout")
    assert response.status_code == 401


async def test_logout_cannot_end_someone_elses_session(api: Api) -> None:
    victim = await api.actor()
    attacker = await api.actor()
    response = await api.client.post(
        "/auth/logout", json={"refresh_token": victim.refresh_token}, headers=attacker.headers
    )
    assert response.status_code == 401
    assert (await _me(api, victim.access_token)).status_code == 200


async def test_change_password_revokes_every_other_session(api: Api) -> None:
    actor = await api.actor()
    other = await api.login(actor.email)
    new_password = "a brand new passphrase"
    response = await api.client.post(
        "/auth/change-password",
        json={"current_password": PASSWORD, "new_password": new_password},
        headers=actor.headers,
    )
    assert response.status_code == 204
    assert (await _me(api, actor.access_token)).status_code == 200
    assert (await _me(api, other.access_token)).status_code == 401
    assert (await _refresh(api, other.refresh_token)).status_code == 401
    old = await api.client.post("/auth/login", json={"email": actor.email, "password": PASSWORD})
    assert old.status_code == 401
    await api.login(actor.email, new_password)


async def test_change_password_checks_the_current_one(api: Api) -> None:
    actor = await api.actor()
    response = await api.client.post(
        "/auth/change-password",
        json={"current_password": "not my password", "new_password": "whatever long enough"},
        headers=actor.headers,
    )
    assert response.status_code == 422
    assert "current_password" in response.json()["error"]["details"]["fields"]
    await api.login(actor.email)  # unchanged


async def test_validate_tells_good_from_bad_tokens(api: Api) -> None:
    actor = await api.actor()
    good = await api.client.post("/auth/validate", json={"token": actor.access_token})
    assert good.status_code == 200
    assert good.json()["valid"] is True
    assert good.json()["claims"]["sub"] == actor.id
    bad = await api.client.post(
        "/auth/validate", json={"token": forge(claims_of(actor.access_token), key="k" * 40)}
    )
    assert bad.json() == {"valid": False, "claims": None}
    await api.client.post("/auth/logout", headers=actor.headers)
    revoked = await api.client.post("/auth/validate", json={"token": actor.access_token})
    assert revoked.json()["valid"] is False


async def test_permissions_reports_the_callers_role(api: Api) -> None:
    owner = await api.actor()
    viewer = await api.actor()
    workspace = await api.workspace(owner)
    await api.add_member(owner, workspace["id"], viewer, "viewer")
    response = await api.client.get(
        "/auth/permissions",
        params={"resource_type": "workspace", "resource_id": workspace["id"]},
        headers=viewer.headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "viewer"
    assert "record:read" in body["permissions"] and "record:write" not in body["permissions"]
    outsider = await api.actor()
    hidden = await api.client.get(
        "/auth/permissions",
        params={"resource_type": "workspace", "resource_id": workspace["id"]},
        headers=outsider.headers,
    )
    assert hidden.status_code == 404


# --- brute force ------------------------------------------------------------------------------


async def test_login_failures_are_limited_per_account(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_api(make_settings(login_failures_per_account="3/minute")) as api:
        await api.register("target@example.com")
        for _ in range(3):
            wrong = await api.client.post(
                "/auth/login", json={"email": "target@example.com", "password": "guess guess guess"}
            )
            assert wrong.status_code == 401
        # Locked now, even for the right password: a brute-forcer learns nothing more.
        locked = await api.client.post(
            "/auth/login", json={"email": "target@example.com", "password": PASSWORD}
        )
        assert locked.status_code == 429
        assert locked.json()["error"]["type"] == "RATE_LIMITED"
        assert 1 <= int(locked.headers["retry-after"]) <= 60
        # Another account from the same IP is unaffected.
        await api.register("bystander@example.com")
        await api.login("bystander@example.com")


async def test_login_failures_are_limited_per_ip(make_settings: Callable[..., Settings]) -> None:
    async with running_api(make_settings(login_failures_per_ip="4/minute")) as api:
        for index in range(4):
            wrong = await api.client.post(
                "/auth/login", json={"email": f"spray{index}@example.com", "password": PASSWORD}
            )
            assert wrong.status_code == 401
        blocked = await api.client.post(
            "/auth/login", json={"email": "spray-next@example.com", "password": PASSWORD}
        )
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) >= 1
