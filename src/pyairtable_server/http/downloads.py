"""What a download answer needs from its request headers (RFC 9110 §13-14, RFC 6266). Pure.

parse_range          ``Range`` → the one byte range to send, None (send it all), or
                     ``RangeNotSatisfiable`` (416)
etag_matches         ``If-None-Match`` / ``If-Range`` against the file's ETag
content_disposition  ``attachment; filename="…"; filename*=UTF-8''…``
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

_RANGE_SPEC = re.compile(r"^(\d*)-(\d*)$")
# Digits beyond this many are not a position in any file we keep (and int() of them is slow).
_MAX_DIGITS = 19


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` to ``end``, both inclusive, of a representation of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


class RangeNotSatisfiable(Exception):
    """No byte of the requested range exists; answer 416 with ``Content-Range: bytes */size``."""

    def __init__(self, size: int) -> None:
        super().__init__(f"The requested range is outside the file's {size} bytes.")
        self.size = size

    @property
    def content_range(self) -> str:
        return f"bytes */{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range a ``Range`` header asks for in a file of ``size`` bytes.

    ``bytes=a-b`` (``b`` past the end is cut to the end), ``bytes=a-`` (from ``a`` on) and
    ``bytes=-n`` (the last ``n`` bytes, all of them if the file is shorter). Returns None, meaning
    "answer with the whole file", when there is no header, when it is malformed or names another
    unit (RFC 9110 §14.2: ignore it), and when it asks for several ranges: a multipart/byteranges
    answer is allowed to be replaced by the full 200 answer, and clients handle that.

    Raises ``RangeNotSatisfiable`` when the one range starts past the end, or is a suffix of
    zero bytes, or the file is empty.
    """
    if header is None:
        return None
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = [part.strip() for part in specs.split(",")]
    if len(parts) != 1:
        return None
    match = _RANGE_SPEC.match(parts[0])
    if match is None:
        return None
    first, last = match.groups()
    if len(first) > _MAX_DIGITS or len(last) > _MAX_DIGITS:
        return None
    if not first:
        if not last:
            return None  # "bytes=-" is not a range at all
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(start=max(0, size - suffix), end=size - 1, size=size)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid syntax (RFC 9110 §14.1.1): ignored like any malformed header
    if start >= size:
        raise RangeNotSatisfiable(size)
    return ByteRange(start=start, end=min(end, size - 1), size=size)


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def etag_matches(header: str | None, etag: str, *, weak: bool) -> bool:
    """Whether a list of entity tags (``If-None-Match``, ``If-Range``) names ``etag``.

    ``weak=True`` is the weak comparison of ``If-None-Match`` (a ``W/`` prefix is ignored, ``*``
    matches); ``weak=False`` the strong one ``If-Range`` demands (a weak tag never matches).
    """
    if header is None:
        return False
    for tag in _tags(header):
        if weak and tag == "*":
            return True
        if tag.startswith("W/"):
            if weak and tag[2:] == etag:
                return True
            continue
        if tag == etag:
            return True
    return False


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """A ``Content-Disposition`` value carrying ``filename`` for every client (RFC 6266).

    ``filename=`` holds an ASCII stand-in (other characters, quotes and backslashes become
    ``_``) for old clients; ``filename*=`` the exact name, UTF-8 and percent-encoded.
    """
    fallback = "".join(
        char if " " <= char <= "~" and char not in '"\\' else "_" for char in filename
    )
    encoded = quote(filename, safe="")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
