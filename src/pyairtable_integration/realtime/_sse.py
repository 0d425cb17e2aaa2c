"""Server-Sent Events decoding: text in, messages out, no I/O (the WHATWG parsing rules).

Written here rather than taken from a library because the stream arrives in arbitrary chunks
through the integration's own httpx2 client, and the rules are short: lines end in LF, CRLF or
CR; a blank line dispatches; ``:`` starts a comment (the server's heartbeat); ``data`` lines
join with LF; ``id`` sets the last event id (kept across messages); ``retry`` is a number.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SseMessage:
    """One dispatched message, or a comment (``comment`` set, the rest empty)."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None
    comment: str | None = None


class SseDecoder:
    """Turns chunks of an event stream into messages; keeps partial lines between chunks.

    ``last_event_id`` is the id of the last message (what ``Last-Event-ID`` resends).
    """

    def __init__(self) -> None:
        self.last_event_id: str | None = None
        self._buffer = ""
        self._pending_cr = False
        self._event = ""
        self._data: list[str] = []
        self._retry: int | None = None
        self._seen_field = False

    def feed(self, chunk: str) -> list[SseMessage]:
        """Decode ``chunk`` (any split of the stream) and return the messages it completes."""
        if self._pending_cr and chunk.startswith("\n"):
            # The LF of a CRLF split across two chunks.
            chunk = chunk[1:]
        self._pending_cr = False
        text = self._buffer + chunk
        messages: list[SseMessage] = []
        start = 0
        length = len(text)
        index = 0
        while index < length:
            char = text[index]
            if char == "\r" or char == "\n":
                line = text[start:index]
                if char == "\r":
                    if index + 1 < length:
                        if text[index + 1] == "\n":
                            index += 1
                    else:
                        self._pending_cr = True
                index += 1
                start = index
                message = self._line(line)
                if message is not None:
                    messages.append(message)
                continue
            index += 1
        self._buffer = text[start:]
        return messages

    def _line(self, line: str) -> SseMessage | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return SseMessage(comment=line[1:].removeprefix(" "))
        name, colon, value = line.partition(":")
        if colon:
            value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
            self._seen_field = True
        elif name == "event":
            self._event = value
            self._seen_field = True
        elif name == "id":
            # An id containing NUL is ignored, as the specification says.
            if "\0" not in value:
                self.last_event_id = value
            self._seen_field = True
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SseMessage | None:
        if not self._seen_field:
            self._event, self._data = "", []
            return None
        message = SseMessage(
            event=self._event or "message",
            data="\n".join(self._data),
            id=self.last_event_id,
            retry=self._retry,
        )
        self._event, self._data, self._retry, self._seen_field = "", [], None, False
        return message
