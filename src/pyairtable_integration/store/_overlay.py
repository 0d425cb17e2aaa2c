"""The optimistic overlay: pending creates, updates and deletes laid over the server's records.

Each layer names the write it shows (``update_id``); the layers on one record apply in the order
they were added, over the record as the server last said it was, until each is dropped
(confirmed or rolled back). A create shows under a temporary id until its record is known.
Pure: no I/O, time from the clock passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ..types import Record

OptimisticKind = Literal["create", "update", "delete"]


@dataclass(frozen=True)
class Layer:
    """One pending write over one record."""

    update_id: str
    table_id: str
    record_id: str
    kind: OptimisticKind
    fields: Mapping[str, Any] | None


class Overlay:
    """The pending layers, in the order they were added.

    ``now`` gives the time for records created optimistically (their ``created_at``).
    """

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._layers: dict[str, Layer] = {}

    def __len__(self) -> int:
        return len(self._layers)

    def add(
        self,
        update_id: str,
        table_id: str,
        record_id: str,
        kind: OptimisticKind,
        fields: Mapping[str, Any] | None,
    ) -> None:
        """Lay a pending write over ``record_id``.

        Raises:
            ValueError: ``update_id`` is already pending.
        """
        if update_id in self._layers:
            raise ValueError(f"update {update_id!r} is already pending")
        self._layers[update_id] = Layer(
            update_id, table_id, record_id, kind, None if fields is None else dict(fields)
        )

    def drop(self, update_id: str) -> Layer | None:
        """Remove one layer; the layer removed (None when it was not pending)."""
        return self._layers.pop(update_id, None)

    def pending_updates(self, record_id: str) -> list[str]:
        """The ids of the layers over ``record_id``, oldest first."""
        return [layer.update_id for layer in self._layers.values() if layer.record_id == record_id]

    def pending_records(self, table_id: str) -> set[str]:
        """The ids of the records of ``table_id`` with layers (creates under temporary ids)."""
        return {layer.record_id for layer in self._layers.values() if layer.table_id == table_id}

    def touched(self, table_id: str) -> list[str]:
        """The records of ``table_id`` with layers, in the order their first layer was added."""
        return list(
            dict.fromkeys(
                layer.record_id for layer in self._layers.values() if layer.table_id == table_id
            )
        )

    def table_of(self, record_id: str) -> str | None:
        """The table of a record with a layer, if any."""
        for layer in self._layers.values():
            if layer.record_id == record_id:
                return layer.table_id
        return None

    def follow(self, temp_id: str, real_id: str) -> None:
        """A create under ``temp_id`` is confirmed as ``real_id``: its layer goes, later layers on
        the temporary id move to the real one."""
        for update_id, layer in list(self._layers.items()):
            if layer.record_id != temp_id:
                continue
            if layer.kind == "create":
                del self._layers[update_id]
            else:
                self._layers[update_id] = Layer(
                    update_id, layer.table_id, real_id, layer.kind, layer.fields
                )

    def view(self, record_id: str, below: Record | None) -> Record | None:
        """``below`` (the server's record, or None) with the layers over ``record_id`` applied."""
        view = below
        for layer in self._layers.values():
            if layer.record_id != record_id:
                continue
            if layer.kind == "delete":
                view = None
            elif layer.kind == "create":
                now = self._now()
                view = Record(
                    id=record_id,
                    table_id=layer.table_id,
                    fields=dict(layer.fields or {}),
                    version=0,
                    created_at=now,
                    updated_at=now,
                    created_by=None,
                    updated_by=None,
                )
            elif view is not None:
                view = view.model_copy(update={"fields": {**view.fields, **(layer.fields or {})}})
        return view
