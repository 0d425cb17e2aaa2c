"""The PyAirtable demo app: sign in, browse workspaces, and edit a table's records live.

    pyairtable-demo            # backend on SQLite + this app; prints the URL

Built only on the public integration layer (``pyairtable_integration``, its web session
integration and its Solara bindings); nothing in the SDK imports this package.
"""

from ._app import create_app
from ._sessions import SessionEntryTokenStore, SharedSessionStore

__all__ = ["SessionEntryTokenStore", "SharedSessionStore", "create_app"]
