"""Ids checked by their type prefix and shape, and URL path segments that cannot escape.

Contract §2: an id is a three-letter type prefix followed by 14 or more base62 characters. Every
id the SDK puts into a request (a path segment, a query parameter, a body) is checked here first,
so a value such as ``"../workspaces/wsp…"`` raises ``InvalidIdError`` before any request is
built, instead of being resolved by the URL parser into another resource's path. Path segments
are also percent-escaped, so even a text that is not an id (a service name) stays one segment.

Pure functions; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Literal
from urllib.parse import quote

from ._errors import InvalidIdError

IdPrefix = Literal["usr", "wsp", "bas", "tbl", "fld", "viw", "rec", "fil", "whk", "dlv", "evt"]

#: What each prefix names, for messages and for the argument's name (``record`` → ``record_id``).
KINDS: Final[dict[IdPrefix, str]] = {
    "usr": "user",
    "wsp": "workspace",
    "bas": "base",
    "tbl": "table",
    "fld": "field",
    "viw": "view",
    "rec": "record",
    "fil": "file",
    "whk": "webhook",
    "dlv": "delivery",
    "evt": "event",
}
# The backend's own shape check (``pyairtable_server.ids``): bounded, so a pasted blob is refused.
_SHAPE: Final = re.compile(r"[a-z]{3}[0-9A-Za-z]{14,64}")
_SHORTEST: Final = 3 + 14
_LONGEST: Final = 3 + 64


#: Query and body keys that carry an id, and the prefix each needs (``Service`` checks them all).
ID_KEYS: Final[dict[str, IdPrefix]] = {
    "workspace_id": "wsp",
    "base_id": "bas",
    "table_id": "tbl",
    "field_id": "fld",
    "primary_field_id": "fld",
    "view_id": "viw",
    "record_id": "rec",
    "user_id": "usr",
    "file_id": "fil",
    "webhook_id": "whk",
}


def is_id(value: object, prefix: IdPrefix) -> bool:
    """Whether ``value`` is a string with the shape of an id of that type."""
    # The same test as ``_SHAPE`` without the regex engine: this runs on every request.
    return (
        isinstance(value, str)
        and _SHORTEST <= len(value) <= _LONGEST
        and value.startswith(prefix)
        and value.isascii()
        and value[3:].isalnum()
    )


def check_id(value: object, prefix: IdPrefix, *, parameter: str | None = None) -> str:
    """``value`` when it is an id of that type.

    Raises:
        InvalidIdError: it is not a string of the prefix followed by 14-64 letters or digits;
            ``details`` names the ``parameter`` (``record_id`` by default for ``rec``) and the
            ``expected`` prefix.
    """
    if is_id(value, prefix):
        return str(value)
    kind = KINDS[prefix]
    name = parameter or f"{kind}_id"
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    raise InvalidIdError(
        f"{name} must be a {kind} id ({prefix!r} then 14-64 letters or digits), not {shown}; "
        "nothing was sent.",
        details={"parameter": name, "expected": prefix},
    )


def check_any_id(value: object, *, parameter: str) -> str:
    """``value`` when it is an id of any type (an event's ``aggregate_id``).

    Raises:
        InvalidIdError: it is not an id of any of the types of ``KINDS``.
    """
    if any(is_id(value, prefix) for prefix in KINDS):
        return str(value)
    raise InvalidIdError(
        f"{parameter} must be an id ({', '.join(KINDS)} then 14-64 letters or digits); "
        "nothing was sent.",
        details={"parameter": parameter, "expected": "any"},
    )


def check_ids(values: object, prefix: IdPrefix, *, parameter: str) -> list[str]:
    """Every item of ``values`` checked as an id of that type.

    Raises:
        InvalidIdError: ``values`` is a string (not a list of ids) or one item is not such an id.
    """
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        raise InvalidIdError(
            f"{parameter} must be a list of {KINDS[prefix]} ids; nothing was sent.",
            details={"parameter": parameter, "expected": prefix},
        )
    return [
        check_id(value, prefix, parameter=f"{parameter}[{index}]")
        for index, value in enumerate(values)
    ]


def check_optional_id(
    value: object, prefix: IdPrefix, *, parameter: str | None = None
) -> str | None:
    """``check_id`` for an argument that may be left out (None passes through).

    Raises:
        InvalidIdError: as ``check_id``, for a value that is not None.
    """
    return None if value is None else check_id(value, prefix, parameter=parameter)


def check_request_ids(values: Mapping[str, Any] | None) -> None:
    """Check every id a request's query or body names by a key of ``ID_KEYS``.

    Only the top level is read: record fields are the caller's data, never ids to check.

    Raises:
        InvalidIdError: one of them is present (not None) and not an id of its type.
    """
    if values is None:
        return
    for key, prefix in ID_KEYS.items():
        value = values.get(key)
        if value is not None:
            check_id(value, prefix, parameter=key)


def id_segment(value: object, prefix: IdPrefix, *, parameter: str | None = None) -> str:
    """An id checked by ``check_id`` and escaped as one URL path segment.

    Raises:
        InvalidIdError: as ``check_id``.
    """
    # A checked id is letters and digits only: escaping it would change nothing, so it is not
    # escaped again (this runs on every request, cached reads included).
    return check_id(value, prefix, parameter=parameter)


def segment(text: str) -> str:
    """``text`` percent-escaped as exactly one URL path segment (``/``, ``?``, ``#`` included).

    Raises:
        ValueError: ``text`` is empty, ``.`` or ``..``, which a URL parser would not keep as a
            segment of their own.
    """
    if text in {"", ".", ".."}:
        raise ValueError(f"{text!r} cannot be a URL path segment.")
    return quote(text, safe="")


def is_plain_path(path: str) -> bool:
    """Whether ``path`` has no empty, ``.`` or ``..`` segment the URL parser would resolve away.

    The transport checks every path with this, a second line behind the services' id checks.
    """
    parts = path.strip("/").split("/")
    return all(part not in {"", ".", ".."} for part in parts) and not any(
        part.lower() in {"%2e", "%2e%2e", ".%2e", "%2e."} for part in parts
    )
