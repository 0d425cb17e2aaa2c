"""Authentication: sessions, token stores, single-flight refresh and permission checks."""

from ._manager import AuthManager, SessionEvent, SessionEventKind, SessionListener
from ._session import Session, Tokens
from ._store import FileTokenStore, MemoryTokenStore, TokenStore

__all__ = [
    "AuthManager",
    "FileTokenStore",
    "MemoryTokenStore",
    "Session",
    "SessionEvent",
    "SessionEventKind",
    "SessionListener",
    "TokenStore",
    "Tokens",
]
