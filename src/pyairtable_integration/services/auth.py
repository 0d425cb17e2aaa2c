"""The auth service: accounts, the caller's identity, token checks and workspace permissions."""

from __future__ import annotations

from .._ids import check_id
from ..types import Permissions, TokenValidation, User
from ._base import Service, compact


class AuthService(Service):
    """``/auth``: register, the caller's account, password changes, token and role checks.

    Signing in, refreshing and signing out change the integration's session, so they belong to
    the session's owner, ``integration.auth`` (the ``AuthManager``): ``login``, ``logout`` and its
    single-flight refresh. This client holds the calls that do not touch the session.
    """

    name = "auth"

    async def register(self, *, email: str, password: str, first_name: str, last_name: str) -> User:
        """Create an account (no token needed); sign in with ``integration.auth.login`` after.

        Raises:
            ConflictError: an account with this email exists.
            InvalidRequestError: the password is shorter than 10 characters or a name is empty.
        """
        return await self._call(
            User,
            "POST",
            "/auth/register",
            json={
                "email": email,
                "password": password,
                "first_name": first_name,
                "last_name": last_name,
            },
            authenticated=False,
        )

    async def get_me(self) -> User:
        """The signed-in user.

        Raises:
            AuthenticationError: nobody is signed in or the session ended.
        """
        return await self._call(User, "GET", "/auth/me")

    async def update_me(
        self, *, first_name: str | None = None, last_name: str | None = None
    ) -> User:
        """Change the signed-in user's names (left-out values are kept).

        Raises:
            InvalidRequestError: a name is empty or too long.
        """
        return await self._call(
            User,
            "PUT",
            "/auth/me",
            json=compact({"first_name": first_name, "last_name": last_name}),
        )

    async def change_password(self, *, current_password: str, new_password: str) -> None:
        """Change the password; every other session of the user is revoked, this one stays.

        Raises:
            InvalidRequestError: ``current_password`` is wrong, or ``new_password`` is shorter
                than 10 characters or the same as the current one.
            RateLimitedError: too many wrong passwords for the account.
        """
        await self._send(
            "POST",
            "/auth/change-password",
            json={"current_password": current_password, "new_password": new_password},
        )

    async def validate_token(self, token: str) -> TokenValidation:
        """Whether ``token`` is a valid access token now, with its claims when it is.

        An invalid token is an answer (``valid`` False), not an error.
        """
        return await self._call(
            TokenValidation, "POST", "/auth/validate", json={"token": token}, authenticated=False
        )

    async def get_permissions(self, workspace_id: str) -> Permissions:
        """The caller's role in a workspace and the permissions it grants.

        Raises:
            NotFoundError: the workspace does not exist or the caller is not a member.
        """
        return await self._call(
            Permissions,
            "GET",
            "/auth/permissions",
            params={"resource_type": "workspace", "resource_id": check_id(workspace_id, "wsp")},
        )
