"""A ``multipart/form-data`` body read part by part as it streams in, and upload filenames.

Why not Starlette's ``request.form()``: it parses the whole body before the handler sees any
of it, spooling each file part into a ``SpooledTemporaryFile`` (memory up to 1 MiB, then a temp
file) with no limit on a file part's size. An upload would be written to disk twice (spool, then
storage), the size limit could only be checked after the last byte, and the spool file would
be a second place for partial data to linger. Here python-multipart's push parser is fed the
request stream directly, and a file part's bytes are handed on (to storage, through a hash and
a byte counter) as they arrive: memory stays at one network chunk, an over-large upload stops
at the first byte past the limit.
"""

from __future__ import annotations

import unicodedata
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..errors import ValidationFailed

MAX_HEADER_BYTES = 8 * 1024
MAX_FILENAME_LENGTH = 255


@dataclass(frozen=True)
class PartHeaders:
    """A part's name, its filename (file parts only) and its declared ``Content-Type``."""

    name: str
    filename: str | None
    content_type: str | None


class MultipartReader:
    """The parts of one ``multipart/form-data`` body, in order, each read before the next.

    Raises ``ValidationFailed`` (naming ``body``) for a body that is not well-formed multipart
    or ends early.
    """

    def __init__(self, stream: AsyncIterator[bytes], boundary: bytes) -> None:
        self._stream = stream
        self._events: deque[tuple[str, Any]] = deque()
        self._field = bytearray()
        self._value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._done = False
        self._in_part = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": lambda: self._events.append(("end", None)),
                "on_end": lambda: self._events.append(("done", None)),
            },
            max_header_size=MAX_HEADER_BYTES,
        )

    # -- parser callbacks (synchronous, called from ``parser.write``) -------------------------

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[bytes(self._field).decode("latin-1").strip().lower()] = bytes(self._value)
        self._field.clear()
        self._value.clear()

    def _on_headers_finished(self) -> None:
        self._events.append(("part", self._headers))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._events.append(("data", bytes(data[start:end])))

    # -- reading ------------------------------------------------------------------------------

    async def _next_event(self) -> tuple[str, Any]:
        while not self._events:
            if self._done:
                return ("done", None)
            try:
                chunk = await anext(self._stream)
            except StopAsyncIteration:
                raise _malformed("the multipart body ended before its closing boundary") from None
            try:
                self._parser.write(chunk)
            except MultipartParseError as exc:
                raise _malformed(f"not valid multipart/form-data ({exc})") from None
        event = self._events.popleft()
        if event[0] == "done":
            self._done = True
        return event

    async def next_part(self) -> PartHeaders | None:
        """The headers of the next part, skipping what is left of the current one; None at the
        end of the body. Raises ``ValidationFailed`` for a part without a form-data name."""
        while True:
            kind, value = await self._next_event()
            if kind == "done":
                return None
            if kind == "part":
                self._in_part = True
                return _part_headers(value)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The current part's bytes as they arrive (nothing after the first call)."""
        while self._in_part:
            kind, value = await self._next_event()
            if kind == "data":
                yield value
            elif kind in ("end", "done"):
                self._in_part = False

    async def read_text(self, name: str, limit: int) -> str:
        """The current part as UTF-8 text of at most ``limit`` characters, without surrounding
        space. Raises ``ValidationFailed`` naming ``name`` when it is longer or not UTF-8.
        """
        data = bytearray()
        async for chunk in self.chunks():
            data += chunk
            if len(data) > 4 * limit:  # more bytes than ``limit`` characters can take
                raise ValidationFailed.field(name, f"must be at most {limit} characters")
        try:
            text = data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise ValidationFailed.field(name, "must be UTF-8 text") from None
        if len(text) > limit:
            raise ValidationFailed.field(name, f"must be at most {limit} characters")
        return text


def _malformed(reason: str) -> ValidationFailed:
    return ValidationFailed.field("body", reason, f"Invalid upload: {reason}.")


def _part_headers(headers: dict[str, bytes]) -> PartHeaders:
    kind, options = parse_options_header(headers.get("content-disposition", b"").decode("latin-1"))
    name = options.get(b"name")
    if kind != b"form-data" or name is None:
        raise _malformed("a part has no Content-Disposition: form-data name")
    raw_filename = options.get(b"filename")
    filename = None
    if raw_filename is not None:
        try:
            filename = raw_filename.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed.field("file", "has a filename that is not UTF-8") from None
    content_type = headers.get("content-type")
    return PartHeaders(
        name=name.decode("latin-1"),
        filename=filename,
        content_type=content_type.decode("latin-1").strip() if content_type else None,
    )


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` request body.

    Raises ``ValidationFailed`` (naming ``Content-Type``) for any other content type.
    """
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary or len(boundary) > 200:
        raise ValidationFailed.field(
            "Content-Type",
            "must be multipart/form-data with a boundary",
            "An upload is sent as multipart/form-data with the bytes in a part named 'file'.",
        )
    return boundary


def safe_filename(raw: str) -> str:
    """The name to keep for an uploaded file: its last path segment, normalised (NFC), trimmed.

    Directory parts (``/`` and ``\\``) are dropped, so a name is never a path. Raises
    ``ValidationFailed`` (naming ``file``) for control characters, lone surrogates, a name that
    is empty, ``.`` or ``..`` once reduced, or longer than 255 characters.
    """
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    for char in name:
        category = unicodedata.category(char)
        if category == "Cc":
            raise ValidationFailed.field("file", "has a filename with control characters")
        if category == "Cs":
            raise ValidationFailed.field("file", "has a filename that is not valid unicode")
    if name in ("", ".", ".."):
        raise ValidationFailed.field("file", "has no filename")
    if len(name) > MAX_FILENAME_LENGTH:
        raise ValidationFailed.field(
            "file", f"has a filename longer than {MAX_FILENAME_LENGTH} characters"
        )
    return name
