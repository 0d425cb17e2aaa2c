"""The token the realtime connection authenticates with: the session's, or one given to
``connect``, and what to do when the backend refuses it."""

from __future__ import annotations

from ..auth import AuthManager


class SignedOut(Exception):
    """There is no session to connect with; the loop waits for a sign-in."""


class Credentials:
    """The access token for the next connection, renewed through ``auth``.

    ``override`` is a token the app gave ``connect`` (an app that manages tokens itself); while
    set it is used instead of the session's.
    """

    def __init__(self, auth: AuthManager) -> None:
        self.auth = auth
        self.override: str | None = None

    async def token(self) -> str:
        """The access token to connect with.

        Raises:
            SignedOut: there is no session (and no token was given to ``connect``).
        """
        if self.override is not None:
            return self.override
        authorization = await self.auth.authorization()
        if authorization is None:
            raise SignedOut("not signed in")
        return authorization.partition(" ")[2]

    async def rejected(self, token: str) -> None:
        """The backend refused ``token``: get a newer one.

        Raises:
            SignedOut: the session ended (or the token given to ``connect`` expired and there
                is no session).
            APIConnectionError: the refresh got no answer.
        """
        if self.override is not None:
            # The app's own token expired: go on with the session's, if there is one.
            self.override = None
            if self.auth.session is None:
                raise SignedOut("the access token given to connect() was refused")
            return
        if not await self.auth.recover(f"Bearer {token}"):
            raise SignedOut("the session ended")
