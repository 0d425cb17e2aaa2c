"""What optimistic updates need from the place that holds records: a layered overlay.

The record cache (``pa.cache.records``) implements it: the view of a record is the server's
version with every pending layer applied in order on top, so dropping one layer (a rollback or a
confirm) never loses another's change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol, TypeAlias

from ..types import Record

UpdateKind: TypeAlias = Literal["create", "update", "delete"]


class OptimisticTarget(Protocol):
    """A record store with pending optimistic layers over the server's versions."""

    def apply_optimistic(
        self,
        update_id: str,
        table_id: str,
        record_id: str,
        kind: UpdateKind,
        fields: Mapping[str, Any] | None,
    ) -> Record | None:
        """Add a pending layer; the record's view after it (None once deleted or unknown)."""
        ...

    def drop_optimistic(self, update_id: str) -> None:
        """Remove that layer only; other layers on the record stay."""
        ...

    def put_server(self, record: Record) -> None:
        """Store the server's version of a record (an older version never replaces a newer)."""
        ...

    def remove_server(self, table_id: str, record_id: str) -> None:
        """Forget the server's version of a record: it was deleted."""
        ...

    def get(self, record_id: str) -> Record | None:
        """The view of a record: the server's version with the pending layers applied."""
        ...

    def pending_updates(self, record_id: str) -> list[str]:
        """The ids of the layers pending on a record, oldest first."""
        ...

    def replace_id(self, temp_id: str, real_record: Record) -> None:
        """Swap a record created optimistically under ``temp_id`` for the server's record."""
        ...
