"""Opaque, prefixed identifiers (contract §2): a type prefix and 16 random base62 characters."""

from __future__ import annotations

import re
import secrets
import string
from typing import Literal

Prefix = Literal["usr", "wsp", "bas", "tbl", "fld", "viw", "rec", "fil", "whk", "dlv", "evt", "ses"]

_ALPHABET = string.ascii_letters + string.digits
_RANDOM_LENGTH = 16
_SHAPE = re.compile(r"^[a-z]{3}[0-9A-Za-z]{14,64}$")


def new_id(prefix: Prefix) -> str:
    """A fresh identifier such as ``usr3kT9bQ0vXa1LmPz7``."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))


def looks_like(value: str, prefix: Prefix) -> bool:
    """Whether ``value`` has the shape of an id of that type (no database lookup)."""
    return value.startswith(prefix) and _SHAPE.match(value) is not None
