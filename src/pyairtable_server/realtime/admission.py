"""Who may hold a realtime connection: caps on all of them, per client IP, and per user.

Every WebSocket and SSE stream takes a ticket for its whole life. A WebSocket takes it as soon
as it is accepted, before it authenticates (so unauthenticated sockets count too) and binds it
to its user once authenticated; an SSE stream authenticates in its request and takes a bound
ticket at once. Without the caps one account, or one address, could hold every slot of the
server and lock everybody else out of realtime.

The counts are this process's (each instance and worker enforces the caps on its own): holding
a slot is a property of the process that holds the socket, and nothing has to be shared or
cleaned up when a process dies.
"""

from __future__ import annotations

from collections import Counter


class Refused(Exception):
    """No slot: ``overloaded`` when the whole server is full, else the client's own cap."""

    def __init__(self, message: str, *, overloaded: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.overloaded = overloaded


class Admission:
    """Hands out tickets within the caps (``total``, ``per_ip``, ``per_user``)."""

    def __init__(self, *, total: int, per_ip: int, per_user: int) -> None:
        self.total = total
        self.per_ip = per_ip
        self.per_user = per_user
        self.held = 0
        self._by_ip: Counter[str] = Counter()
        self._by_user: Counter[str] = Counter()

    def admit(self, ip: str) -> Ticket:
        """A ticket for a new connection from ``ip``. Raises ``Refused`` past a cap."""
        if self.held >= self.total:
            raise Refused("the server has too many realtime connections", overloaded=True)
        if self._by_ip[ip] >= self.per_ip:
            raise Refused("too many realtime connections from this address")
        self.held += 1
        self._by_ip[ip] += 1
        return Ticket(self, ip)

    def connections_of(self, user_id: str) -> int:
        return self._by_user[user_id]

    def _bind(self, user_id: str) -> None:
        if self._by_user[user_id] >= self.per_user:
            raise Refused("too many realtime connections for this account")
        self._by_user[user_id] += 1

    def _release(self, ip: str, user_id: str | None) -> None:
        self.held -= 1
        _decrement(self._by_ip, ip)
        if user_id is not None:
            _decrement(self._by_user, user_id)


class Ticket:
    """One connection's slot; ``release`` it (idempotent) when the connection ends."""

    def __init__(self, admission: Admission, ip: str) -> None:
        self._admission = admission
        self._ip = ip
        self.user_id: str | None = None
        self._released = False

    def bind(self, user_id: str) -> None:
        """Count the connection against ``user_id`` too (once). Raises ``Refused`` past the
        user's cap; the ticket still holds its IP slot until released."""
        if self.user_id is None and not self._released:
            self._admission._bind(user_id)
            self.user_id = user_id

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._admission._release(self._ip, self.user_id)


def _decrement(counts: Counter[str], key: str) -> None:
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]
