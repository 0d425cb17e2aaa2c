"""How the grid shows, edits and reads back a cell of each field type; pure."""

from __future__ import annotations

import json
import re
from typing import Any

READ_ONLY_TYPES = frozenset(
    {"created_time", "last_modified_time", "autonumber", "attachment", "reference"}
)
LIST_TYPES = frozenset({"multiselect"})
TRUE_WORDS = frozenset({"true", "yes", "1", "on", "x"})


def cell_css(field_name: str) -> str:
    """``pa-field-<name>`` with every character that is not a letter or digit made ``_``."""
    return "pa-field-" + re.sub(r"[^A-Za-z0-9]", "_", field_name)


def read_only(field_type: str) -> bool:
    """Whether the grid offers no editor for the type (computed or linked values)."""
    return field_type in READ_ONLY_TYPES


def display(field_type: str, value: Any) -> str:
    """The text a cell shows for ``value``."""
    if value is None or value == "" or value == []:
        return ""
    if field_type == "checkbox":
        return "yes" if value else "no"
    if field_type == "number" and isinstance(value, float) and value.is_integer():
        return str(int(value))
    if field_type == "attachment" and isinstance(value, list):
        return ", ".join(
            str(item.get("filename", "file")) for item in value if isinstance(item, dict)
        )
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def editable_text(field_type: str, value: Any) -> str:
    """The text the cell editor starts with."""
    if field_type == "checkbox":
        return "true" if value else ""
    return display(field_type, value)


def parse_input(field_type: str, text: str) -> Any:
    """The value to write for what was typed: numbers as numbers, lists split at commas,
    booleans for checkboxes, and nothing typed as ``None`` (clears the cell) except for text.

    Text that does not fit the type is sent as typed: the backend refuses it (422) and the grid
    rolls the cell back and says why, as for any other rejected write.
    """
    stripped = text.strip()
    if field_type == "checkbox":
        return stripped.lower() in TRUE_WORDS
    if field_type in ("text", "long_text"):
        return text
    if stripped == "":
        return None
    if field_type == "number":
        try:
            number = float(stripped)
        except ValueError:
            return stripped
        return int(number) if number.is_integer() and "." not in stripped else number
    if field_type in LIST_TYPES:
        return [part.strip() for part in stripped.split(",") if part.strip()]
    return stripped


NEW_ROW_TEXT = "New row"


def new_row_fields(fields: list[dict[str, Any]]) -> dict[str, Any]:
    """Values for a row added from the grid: the primary field named, every required field
    given a value of its type (the backend refuses a record without them)."""
    values: dict[str, Any] = {}
    for field in fields:
        if not (field.get("is_primary") or field.get("required")):
            continue
        kind = field.get("type")
        options = field.get("options") or {}
        if kind in {"number"}:
            values[field["name"]] = 0
        elif kind == "checkbox":
            values[field["name"]] = False
        elif kind in {"select", "multiselect"} and options.get("choices"):
            first = options["choices"][0]
            choice = first.get("name") if isinstance(first, dict) else first
            values[field["name"]] = choice if kind == "select" else [choice]
        elif kind in {"text", "long_text"}:
            values[field["name"]] = NEW_ROW_TEXT
    return values
