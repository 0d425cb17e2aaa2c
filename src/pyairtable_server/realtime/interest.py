"""What a subscription asks for, and whether an event matches it (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

Channel = Literal["record", "table", "field", "view", "base", "workspace"]
CHANNELS: frozenset[str] = frozenset(get_args(Channel))
FilterKey = Literal["workspace_id", "base_id", "table_id", "aggregate_id"]
FILTER_KEYS: tuple[FilterKey, ...] = get_args(FilterKey)


@dataclass(frozen=True, slots=True)
class Interest:
    """Channels (empty: all of them) and exact-match filters on an event's top-level fields."""

    channels: frozenset[str] = frozenset()
    filters: tuple[tuple[FilterKey, str], ...] = ()

    @classmethod
    def of(cls, channels: Iterable[str], filters: Mapping[FilterKey, str | None]) -> Interest:
        """Build from a channel list and a filter mapping; ``None`` filter values are dropped."""
        return cls(
            channels=frozenset(channels),
            filters=tuple((key, value) for key, value in filters.items() if value is not None),
        )

    def get(self, key: FilterKey) -> str | None:
        for name, value in self.filters:
            if name == key:
                return value
        return None

    def matches(self, event: Mapping[str, Any]) -> bool:
        """True when the event is on one of the channels and equals every filter."""
        if self.channels and event.get("channel") not in self.channels:
            return False
        return all(event.get(key) == value for key, value in self.filters)
