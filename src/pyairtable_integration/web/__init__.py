"""Browser sessions for Starlette and FastAPI apps: sign-in routes, encrypted cookies, CSRF.

    from pyairtable_integration.web import PyAirtableAuth, get_server_auth_session, require_auth

    auth = PyAirtableAuth(integration, secret_key=SECRET)   # mode="server" keeps tokens server-side
    auth.install(app)                                       # /auth/login, /auth/logout, ...

Needs the ``web`` extra (``starlette``, ``cryptography``).
"""

from ._app import PyAirtableAuth, WebSessionMiddleware
from ._config import WebAuthConfig
from ._dependencies import RequireAuth, get_server_auth_session, require_auth
from ._responses import WebAuthError
from ._session import WebSession
from ._store import MemorySessionStore, SessionStore

__all__ = [
    "MemorySessionStore",
    "PyAirtableAuth",
    "RequireAuth",
    "SessionStore",
    "WebAuthConfig",
    "WebAuthError",
    "WebSession",
    "WebSessionMiddleware",
    "get_server_auth_session",
    "require_auth",
]
