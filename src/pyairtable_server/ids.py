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


_SPACE = len(_ALPHABET) ** _RANDOM_LENGTH  # about 2**95.3
_RANDOM_BYTES = (_SPACE.bit_length() + 7) // 8


def new_id(prefix: Prefix) -> str:
    """A fresh identifier such as ``usr3kT9bQ0vXa1LmPz7``: every one of the 62**16 tails equally
    likely.

    One draw of random bytes per id (``secrets.choice`` per character asked the system 16 times,
    a measurable share of a write): a number below 62**16, taken by rejection so that the digits
    stay uniform, written in base 62.
    """
    while True:
        number = int.from_bytes(secrets.token_bytes(_RANDOM_BYTES))
        if number < _SPACE:
            break
    digits = []
    for _ in range(_RANDOM_LENGTH):
        number, digit = divmod(number, 62)
        digits.append(_ALPHABET[digit])
    return prefix + "".join(digits)


def looks_like(value: str, prefix: Prefix) -> bool:
    """Whether ``value`` has the shape of an id of that type (no database lookup)."""
    return value.startswith(prefix) and _SHAPE.match(value) is not None
