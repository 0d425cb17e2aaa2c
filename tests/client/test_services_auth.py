"""AuthService against the real backend: accounts, identity, password, tokens, permissions."""

from __future__ import annotations

import secrets

import pytest

from pyairtable_integration import PyAirtableIntegration
from pyairtable_integration._errors import AuthenticationError, InvalidRequestError, NotFoundError
from pyairtable_integration.testing import PASSWORD

from .conftest import Backend, IntegrationFactory

pytestmark = pytest.mark.anyio


async def test_register_creates_an_account_that_can_sign_in(
    make_integration: IntegrationFactory,
) -> None:
    pa = await make_integration()
    email = f"reg-{secrets.token_hex(4)}@example.com"

    user = await pa.services.auth.register(
        email=email, password=PASSWORD, first_name="Ada", last_name="Lovelace"
    )

    assert (user.email, user.first_name, user.last_name) == (email, "Ada", "Lovelace")
    session = await pa.auth.login(email, PASSWORD)
    assert session.user.id == user.id


async def test_get_me_and_update_me_round_trip_the_names(pa: PyAirtableIntegration) -> None:
    me = await pa.services.auth.get_me()
    assert pa.auth.user is not None and me.id == pa.auth.user.id

    updated = await pa.services.auth.update_me(first_name="Grace")

    assert (updated.first_name, updated.last_name) == ("Grace", me.last_name)
    assert (await pa.services.auth.get_me()).first_name == "Grace"


async def test_change_password_refuses_a_wrong_current_one_and_applies_a_right_one(
    make_integration: IntegrationFactory, backend: Backend
) -> None:
    pa = await make_integration()
    email = f"pw-{secrets.token_hex(4)}@example.com"
    await backend.api.register(email)
    await pa.auth.login(email, PASSWORD)

    with pytest.raises(InvalidRequestError) as refused:
        await pa.services.auth.change_password(
            current_password="not-the-password", new_password="another-long-password"
        )
    assert "current_password" in refused.value.details["fields"]

    await pa.services.auth.change_password(
        current_password=PASSWORD, new_password="another-long-password"
    )

    other = await make_integration()
    with pytest.raises(AuthenticationError):
        await other.auth.login(email, PASSWORD)
    await other.auth.login(email, "another-long-password")
    # The session that changed the password stays valid.
    assert (await pa.services.auth.get_me()).email == email


async def test_validate_token_says_valid_with_claims_or_invalid(
    pa: PyAirtableIntegration,
) -> None:
    assert pa.auth.session is not None
    token = pa.auth.session.tokens.access_token

    good = await pa.services.auth.validate_token(token)
    bad = await pa.services.auth.validate_token(token[:-4] + "AAAA")

    assert good.valid and good.claims is not None
    assert good.claims["sub"] == pa.auth.session.user_id
    assert not bad.valid and bad.claims is None


async def test_get_permissions_gives_the_role_in_a_workspace_and_404_elsewhere(
    pa: PyAirtableIntegration, backend: Backend
) -> None:
    mine = await pa.services.workspace.create_workspace(name="Mine")
    stranger = await backend.user()
    theirs = await backend.api.workspace(stranger)

    permissions = await pa.services.auth.get_permissions(mine.id)

    assert (permissions.role, permissions.resource_id) == ("owner", mine.id)
    assert {"workspace:delete", "record:write"} <= set(permissions.permissions)
    with pytest.raises(NotFoundError):
        await pa.services.auth.get_permissions(theirs["id"])
