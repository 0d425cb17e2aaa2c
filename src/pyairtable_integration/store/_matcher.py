"""Filters and sorts evaluated on cached records, with the reference backend's semantics.

The backend (``pyairtable_server/data/query.py``) compares text ignoring case, except a select's
choice names under ``equals``/``not_equals``/``in``; negative operators (``not_equals``,
``not_contains``) match empty cells and comparisons never do; array fields (multiselect,
reference, attachment) read ``equals``/``contains`` as "has this element" and ``in`` as "has any".
Sorting puts empty cells first ascending and last descending, orders text by its lower-cased
code points and ends with creation order (reversed when the last sort is descending).

Where the client cannot reproduce the server exactly (dates compared through typecasts, computed
times and autonumbers it never sees, an unknown field), the matcher raises ``Undecidable`` and the
caller invalidates the list instead of guessing. Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ARRAY_TYPES = frozenset({"multiselect", "attachment", "reference"})
TEXT_TYPES = frozenset({"text", "long_text", "email", "url", "phone"})
# Types whose filter or sort the client reproduces exactly; anything else is Undecidable.
_DECIDABLE = TEXT_TYPES | ARRAY_TYPES | {"number", "checkbox", "select"}
_NEGATIVE = frozenset({"not_equals", "not_contains"})
_EXACT = frozenset({"equals", "not_equals", "in"})


class Undecidable(Exception):
    """The client cannot tell how the server would filter or sort this record."""


@dataclass(frozen=True)
class FieldInfo:
    """What the matcher needs of a field: its id, its name (the record's key) and its type."""

    id: str
    name: str
    type: str


class Schema:
    """A table's fields, looked up by name or by id as filters and sorts may name them."""

    def __init__(self, fields: Sequence[FieldInfo]) -> None:
        self._by_key: dict[str, FieldInfo] = {}
        for info in fields:
            self._by_key[info.id] = info
            self._by_key[info.name] = info

    def resolve(self, name_or_id: str) -> FieldInfo:
        """The field named ``name_or_id``.

        Raises:
            Undecidable: no such field is known (the server would refuse the query).
        """
        info = self._by_key.get(name_or_id)
        if info is None:
            raise Undecidable(f"unknown field {name_or_id!r}")
        return info


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _elements(info: FieldInfo, value: Any) -> list[str]:
    if _empty(value):
        return []
    items = value if isinstance(value, list) else [value]
    if info.type == "attachment":
        return [str(item.get("id")) if isinstance(item, Mapping) else str(item) for item in items]
    return [str(item) for item in items]


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise Undecidable("a boolean compared as a number")
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError as exc:
        raise Undecidable(f"{value!r} is not a number") from exc


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "1", "yes", "on", "checked"}:
            return True
        if lowered in {"false", "0", "no", "off", ""}:
            return False
        raise Undecidable(f"{value!r} is not a checkbox value")
    return bool(value)


def matches(fields: Mapping[str, Any], group: Mapping[str, Any] | None, schema: Schema) -> bool:
    """Whether a record with ``fields`` (keyed by field name) passes the filter ``group``.

    ``group`` has the view filters shape ``{"conjunction", "conditions"}``, conditions nesting
    groups; None or no conditions passes everything.

    Raises:
        Undecidable: a field is unknown or of a type the client cannot compare like the server.
    """
    if not group:
        return True
    conditions = group.get("conditions") or []
    if not conditions:
        return True
    results = (
        matches(fields, item, schema) if "conditions" in item else _condition(fields, item, schema)
        for item in conditions
    )
    return all(results) if group.get("conjunction", "and") == "and" else any(results)


def _condition(fields: Mapping[str, Any], condition: Mapping[str, Any], schema: Schema) -> bool:
    info = schema.resolve(str(condition.get("field")))
    if info.type not in _DECIDABLE:
        raise Undecidable(f"{info.name} is a {info.type} field")
    operator = condition.get("operator")
    wanted = condition.get("value")
    value = fields.get(info.name)
    if operator in ("is_empty", "is_not_empty"):
        empty = (not _truthy(value)) if info.type == "checkbox" else _empty(value)
        return empty if operator == "is_empty" else not empty
    if info.type in ARRAY_TYPES:
        elements = _elements(info, value)
        if operator == "in":
            return any(str(item) in elements for item in wanted or [])
        has = str(wanted) in elements
        return not has if operator in _NEGATIVE else has
    if info.type == "checkbox":
        same = _truthy(value) == _truthy(wanted)
        return same if operator == "equals" else not same
    if _empty(value):
        return operator in _NEGATIVE
    result = _compare(info, str(operator), value, wanted)
    return not result if operator in _NEGATIVE else result


def _compare(info: FieldInfo, operator: str, value: Any, wanted: Any) -> bool:
    if info.type == "number":
        if operator in ("contains", "not_contains", "starts_with", "ends_with"):
            raise Undecidable("text operators on a number field")
        left = _number(value)
        if operator == "in":
            return any(left == _number(item) for item in wanted)
        return _ordered(operator, left, _number(wanted))
    if info.type == "select" and operator in _EXACT:
        if operator == "in":
            return any(_text(value) == _text(item) for item in wanted)
        return _text(value) == _text(wanted)
    left_text = _text(value).lower()
    if operator == "in":
        return any(left_text == _text(item).lower() for item in wanted)
    right = _text(wanted).lower()
    if operator in ("contains", "not_contains"):
        return right in left_text
    if operator == "starts_with":
        return left_text.startswith(right)
    if operator == "ends_with":
        return left_text.endswith(right)
    return _ordered(operator, left_text, right)


def _ordered(operator: str, left: Any, right: Any) -> bool:
    if operator in ("equals", "not_equals"):
        return bool(left == right)
    if operator == "greater_than":
        return bool(left > right)
    if operator == "less_than":
        return bool(left < right)
    if operator == "greater_equal":
        return bool(left >= right)
    if operator == "less_equal":
        return bool(left <= right)
    raise Undecidable(f"unsupported operator {operator!r}")


def sort_key(
    fields: Mapping[str, Any],
    creation: tuple[Any, ...],
    sorts: Sequence[Mapping[str, Any]] | None,
    schema: Schema,
) -> tuple[Any, ...]:
    """A key that orders records as the server sorts ``sorts``, ties by ``creation`` order.

    Compare keys with ``<``: descending parts are already inverted. ``creation`` is the record's
    place in creation order (earlier sorts first ascending).

    Raises:
        Undecidable: a sort names an unknown field or one the client cannot order like the server.
    """
    parts: list[Any] = []
    seen: set[str] = set()
    last_descending = False
    for spec in sorts or []:
        info = schema.resolve(str(spec.get("field")))
        if info.id in seen:
            continue
        seen.add(info.id)
        if info.type not in _DECIDABLE:
            raise Undecidable(f"cannot sort a {info.type} field like the server")
        descending = spec.get("direction", "asc") == "desc"
        last_descending = descending
        parts.append(_Directed(_sort_value(info, fields.get(info.name)), descending))
    parts.append(_Directed(creation, last_descending))
    return tuple(parts)


def _sort_value(info: FieldInfo, value: Any) -> tuple[int, Any]:
    if info.type == "number":
        # Empty first ascending (and so last descending), as NULLs in the backend's index.
        return (0, 0.0) if _empty(value) else (1, _number(value))
    if info.type == "checkbox":
        return (1, _truthy(value))
    if info.type in ARRAY_TYPES:
        items = value if isinstance(value, list) else []
        first = items[0] if items else None
        if isinstance(first, Mapping):
            first = first.get("filename")
        return (1, "" if first is None else _text(first).lower())
    return (1, "" if _empty(value) else _text(value).lower())


class _Directed:
    """One sort part, compared in its direction."""

    __slots__ = ("descending", "value")

    def __init__(self, value: Any, descending: bool) -> None:
        self.value = value
        self.descending = descending

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Directed) and bool(self.value == other.value)

    def __hash__(self) -> int:
        return hash(self.value)

    def __lt__(self, other: _Directed) -> bool:
        if self.descending:
            return bool(other.value < self.value)
        return bool(self.value < other.value)

    def __repr__(self) -> str:
        return f"{'-' if self.descending else '+'}{self.value!r}"
