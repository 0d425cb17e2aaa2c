"""Requests made as one given session, on an integration's shared connections."""

from __future__ import annotations

from ._clock import Clock
from .auth import AuthManager, MemoryTokenStore, Session
from .services import Services
from .transport import Transport


class SessionClient:
    """The services and auth of one session, apart from the integration's own signed-in user.

    A server that acts for many users (a web app, one session per browser) makes one of these
    per request with ``PyAirtableIntegration.for_session``: it is cheap, shares the pooled
    connections, breakers and metrics, and its ``auth`` refreshes and checks permissions for
    this session only. Listen with ``auth.on_session_change`` to keep a refreshed session.
    """

    def __init__(
        self,
        transport: Transport,
        session: Session | None,
        *,
        clock: Clock,
        refresh_margin: float,
        permissions_ttl: float,
    ) -> None:
        view = transport.with_authenticator(None)
        self.auth = AuthManager(
            view,
            store=MemoryTokenStore(session),
            clock=clock,
            refresh_margin=refresh_margin,
            permissions_ttl=permissions_ttl,
        )
        view.authenticator = self.auth
        self.services = Services(view)

    @property
    def session(self) -> Session | None:
        """The session as it is now (refreshed, or None once it ended or signed out)."""
        return self.auth.session

    def __repr__(self) -> str:
        return f"SessionClient(auth={self.auth!r})"
