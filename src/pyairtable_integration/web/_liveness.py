"""What this worker knows about whether browser sessions are still live.

A signed-out browser's cookie must stop working, copies included. In cookie mode the session
travels in the cookie itself, so a copy made before sign-out (a stolen cookie, another tab's
saved request) would keep passing ``require_auth()`` and the CSRF check on every worker until
its access token expired. Two remedies were possible: a generation or denylist that every
worker reads on load (it needs storage every worker shares, which cookie mode has none of by
design), or asking the backend, which every worker already shares and which is the authority on
whether a session ended (logout here, a password change or revocation elsewhere, refresh-token
reuse, a deactivated account). We ask the backend, at most every ``revalidate_after`` seconds per
session per worker, so an ended session is refused everywhere within that bounded staleness;
and the worker that signs a browser out remembers it, so copies fail there at once. In server
mode signing out also deletes the stored session, which every worker sharing the store sees at
once.
"""

from __future__ import annotations

from .._clock import Clock

#: Past this many entries a map sweeps out what no longer matters.
SWEEP_ABOVE = 1024


class Liveness:
    """Web session ids this worker ended, and when the backend last confirmed each live one."""

    def __init__(self, clock: Clock, *, revalidate_after: int, remember_ended: int) -> None:
        self._clock = clock
        self._revalidate_after = revalidate_after
        self._remember_ended = remember_ended
        self._ended: dict[str, float] = {}
        self._confirmed: dict[str, float] = {}

    def ended(self, session_id: str) -> bool:
        """Whether this worker signed the session out (its cookie may still be in use)."""
        until = self._ended.get(session_id)
        return until is not None and until > self._clock.monotonic()

    def end(self, session_id: str) -> None:
        """Remember that the session ended, for as long as a cookie of it could still open."""
        now = self._clock.monotonic()
        self._confirmed.pop(session_id, None)
        if len(self._ended) > SWEEP_ABOVE:
            self._ended = {key: until for key, until in self._ended.items() if until > now}
        self._ended[session_id] = now + self._remember_ended

    def due(self, session_id: str) -> bool:
        """Whether the backend should be asked again if the session is live."""
        confirmed = self._confirmed.get(session_id)
        return (
            confirmed is None
            or self._revalidate_after == 0
            or self._clock.monotonic() - confirmed >= self._revalidate_after
        )

    def confirmed(self, session_id: str) -> None:
        """The backend just accepted the session (an answered request or refresh)."""
        now = self._clock.monotonic()
        if len(self._confirmed) > SWEEP_ABOVE:
            cutoff = now - self._revalidate_after
            self._confirmed = {key: at for key, at in self._confirmed.items() if at > cutoff}
        self._confirmed[session_id] = now
