"""Every error the integration raises, as one small tree::

    ServiceError                      .code .type .request_id .details .service
    ├── APIConnectionError            no answer was obtained (code None)
    │   ├── NetworkError              NETWORK_ERROR: refused, reset, DNS, a broken answer
    │   ├── RequestTimeoutError       TIMEOUT
    │   ├── CircuitOpenError          CIRCUIT_OPEN: the service's breaker is open, nothing was sent
    │   └── OfflineError              OFFLINE: queued for later by the offline outbox
    ├── InvalidIdError                INVALID_ID: an id of the wrong kind or shape; nothing was sent
    ├── ResponseValidationError       RESPONSE_VALIDATION_ERROR: an answer of the wrong shape
    ├── EventsResetError              EVENTS_RESET: missed events are past retention; refetch
    └── APIStatusError                the backend answered with an error status (code = status)
        ├── InvalidRequestError       400/422 VALIDATION_ERROR (details.fields)
        │   ├── InvalidOffsetError    INVALID_OFFSET
        │   └── IdempotencyKeyReusedError
        ├── AuthenticationError       401 AUTH_ERROR
        ├── PermissionDeniedError     403
        ├── NotFoundError             404
        ├── ConflictError             409 (.current: the resource as it is now)
        ├── PayloadTooLargeError      413
        ├── RateLimitedError          429 (.retry_after)
        └── ServerError               5xx SERVER_ERROR
            └── ServiceUnavailableError   503 (.retry_after)

``error_from_response`` turns an error answer into the matching class; foreign exceptions are
translated where they happen, with ``raise ... from``. ``ErrorHandler`` words errors for people.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Final

NETWORK_ERROR: Final = "NETWORK_ERROR"
TIMEOUT: Final = "TIMEOUT"
CIRCUIT_OPEN: Final = "CIRCUIT_OPEN"
OFFLINE: Final = "OFFLINE"
RESPONSE_VALIDATION_ERROR: Final = "RESPONSE_VALIDATION_ERROR"
INVALID_ID: Final = "INVALID_ID"


class ServiceError(Exception):
    """The root of every error the integration raises.

    Attributes:
        message: a sentence from the backend, or from the integration for client-side errors.
        code: the HTTP status, or None when no answer was obtained.
        type: the contract's error type (``NOT_FOUND``...) or a client-side one (``TIMEOUT``...).
        request_id: the ``X-Request-ID`` of the request, when one was sent or answered.
        details: the error's ``details`` object (``{}`` when there is none).
        service: the backend service the request was for (``record``, ``auth``...), if known.
    """

    default_type: ClassVar[str] = "SERVER_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        type: str | None = None,
        request_id: str | None = None,
        details: dict[str, Any] | None = None,
        service: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.type = type or self.default_type
        self.request_id = request_id
        self.details = details or {}
        self.service = service

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(type={self.type!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class APIConnectionError(ServiceError):
    """No answer was obtained from the backend."""

    default_type: ClassVar[str] = NETWORK_ERROR


class NetworkError(APIConnectionError):
    """The connection failed: refused, reset, unreachable, or the answer was cut or garbled."""


class RequestTimeoutError(APIConnectionError):
    """The backend did not answer within the timeout."""

    default_type: ClassVar[str] = TIMEOUT


class CircuitOpenError(APIConnectionError):
    """The service's circuit breaker is open: the request was not sent.

    ``retry_in`` is how many seconds remain until the breaker lets a probe request through.
    """

    default_type: ClassVar[str] = CIRCUIT_OPEN

    def __init__(self, message: str, *, retry_in: float, service: str | None = None) -> None:
        super().__init__(message, service=service)
        self.retry_in = retry_in


class OfflineError(APIConnectionError):
    """The integration is offline; the write was queued to be sent later.

    ``entry_id`` names the outbox entry that holds the write (``pa.offline.pending()``).
    """

    default_type: ClassVar[str] = OFFLINE

    def __init__(self, message: str, *, entry_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.entry_id = entry_id


class InvalidIdError(ServiceError, ValueError):
    """An id given to the SDK is not an id of the kind the call needs; no request was sent.

    Every id is checked by its type prefix and shape (contract §2) before a request is built, so
    a value such as ``"../workspaces/wsp…"`` never becomes part of a URL. ``details`` holds
    ``parameter`` (the argument's name) and ``expected`` (the id prefix it needs). Also a
    ``ValueError``: it is a bad argument, found without asking the backend.
    """

    default_type: ClassVar[str] = INVALID_ID


class ResponseValidationError(ServiceError):
    """The backend answered, but not in the documented shape (the SDK and backend disagree)."""

    default_type: ClassVar[str] = RESPONSE_VALIDATION_ERROR


class EventsResetError(ServiceError):
    """The events after the asked position are gone (retention), so the caller must refetch.

    ``next_since`` is the position to read from once the data is fetched again.
    """

    default_type: ClassVar[str] = "EVENTS_RESET"

    def __init__(self, message: str, *, next_since: int, service: str | None = None) -> None:
        super().__init__(message, service=service)
        self.next_since = next_since


class APIStatusError(ServiceError):
    """The backend answered with an error status; ``code`` is that status."""


class InvalidRequestError(APIStatusError):
    """The request was refused as invalid; ``details["fields"]`` names the bad fields."""

    default_type: ClassVar[str] = "VALIDATION_ERROR"

    @property
    def fields(self) -> dict[str, str]:
        """Field name to reason, as the backend gave them."""
        fields = self.details.get("fields")
        return {str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) else {}


class InvalidOffsetError(InvalidRequestError):
    """A pagination offset was malformed or expired: start the listing again."""

    default_type: ClassVar[str] = "INVALID_OFFSET"


class IdempotencyKeyReusedError(InvalidRequestError):
    """An ``Idempotency-Key`` was sent again with a different request body."""

    default_type: ClassVar[str] = "IDEMPOTENCY_KEY_REUSED"


class AuthenticationError(APIStatusError):
    """The token is missing, invalid or expired, or the credentials are wrong (401)."""

    default_type: ClassVar[str] = "AUTH_ERROR"


class PermissionDeniedError(APIStatusError):
    """The caller's role does not allow this (403)."""

    default_type: ClassVar[str] = "PERMISSION_DENIED"


class NotFoundError(APIStatusError):
    """The resource does not exist, or the caller may not see it (404)."""

    default_type: ClassVar[str] = "NOT_FOUND"


class ConflictError(APIStatusError):
    """The write conflicts with the current state (409); ``current`` is the resource as it is."""

    default_type: ClassVar[str] = "CONFLICT"

    @property
    def current(self) -> dict[str, Any] | None:
        """The resource as the backend holds it now, when the answer carried it."""
        current = self.details.get("current")
        return current if isinstance(current, dict) else None


class PayloadTooLargeError(APIStatusError):
    """The request body or upload is over the backend's limit (413)."""

    default_type: ClassVar[str] = "PAYLOAD_TOO_LARGE"


class RateLimitedError(APIStatusError):
    """Too many requests (429); ``retry_after`` is the wait the backend asked for, in seconds."""

    default_type: ClassVar[str] = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """The backend failed (5xx)."""

    default_type: ClassVar[str] = "SERVER_ERROR"


class ServiceUnavailableError(ServerError):
    """The backend is temporarily unable to answer (503); ``retry_after`` in seconds if given."""

    default_type: ClassVar[str] = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


_BY_TYPE: dict[str, type[APIStatusError]] = {
    "VALIDATION_ERROR": InvalidRequestError,
    "INVALID_OFFSET": InvalidOffsetError,
    "IDEMPOTENCY_KEY_REUSED": IdempotencyKeyReusedError,
    "AUTH_ERROR": AuthenticationError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "NOT_FOUND": NotFoundError,
    "CONFLICT": ConflictError,
    "PAYLOAD_TOO_LARGE": PayloadTooLargeError,
    "RATE_LIMITED": RateLimitedError,
    "SERVER_ERROR": ServerError,
    "SERVICE_UNAVAILABLE": ServiceUnavailableError,
}
_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: InvalidRequestError,
    429: RateLimitedError,
    503: ServiceUnavailableError,
}


def error_from_response(
    status: int,
    body: bytes,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
    service: str | None = None,
) -> APIStatusError:
    """The error for an error answer: by the envelope's ``type``, else by the status.

    An answer that is not the contract's envelope (a proxy's HTML page, say) still gives the class
    its status implies, with a message that says what came back.
    """
    message, type_, details = _envelope(status, body)
    cls = _BY_TYPE.get(type_ or "") or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else APIStatusError
    kwargs: dict[str, Any] = {
        "code": status,
        "type": type_ or cls.default_type,
        "request_id": request_id,
        "details": details,
        "service": service,
    }
    if issubclass(cls, RateLimitedError | ServiceUnavailableError):
        return cls(message, retry_after=retry_after, **kwargs)
    return cls(message, **kwargs)


def _envelope(status: int, body: bytes) -> tuple[str, str | None, dict[str, Any]]:
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    error = decoded.get("error") if isinstance(decoded, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        details = error.get("details")
        type_ = error.get("type")
        return (
            error["message"],
            type_ if isinstance(type_, str) else None,
            details if isinstance(details, dict) else {},
        )
    return f"The backend answered {status} without an error description.", None, {}


_MESSAGES: dict[str, str] = {
    NETWORK_ERROR: "The server could not be reached. Check your connection and try again.",
    TIMEOUT: "The server took too long to answer. Please try again.",
    CIRCUIT_OPEN: "This service is failing right now; requests are paused for a moment.",
    OFFLINE: "You are offline. The change is saved and will be sent when you are back online.",
    RESPONSE_VALIDATION_ERROR: "The server sent an answer this app does not understand.",
    "AUTH_ERROR": "Your session has expired or is not valid. Please sign in again.",
    "PERMISSION_DENIED": "You do not have permission to do this.",
    "NOT_FOUND": "This item does not exist or is not shared with you.",
    "CONFLICT": "Someone else changed this item at the same time. Review it and try again.",
    "PAYLOAD_TOO_LARGE": "This is too large to upload.",
    "RATE_LIMITED": "Too many requests. Please wait a moment and try again.",
    "INVALID_OFFSET": "The list changed or expired while paging. Please reload it.",
    "IDEMPOTENCY_KEY_REUSED": "This request was already sent with different content.",
    "SERVICE_UNAVAILABLE": "The service is temporarily unavailable. Please try again shortly.",
    "SERVER_ERROR": "Something went wrong on the server. Please try again.",
}


class ErrorHandler:
    """Turns errors into what an app shows a person and decides about them."""

    @staticmethod
    def get_error_message(error: BaseException) -> str:
        """A sentence fit to show a person; validation errors name the fields at fault."""
        if isinstance(error, InvalidRequestError) and type(error) is InvalidRequestError:
            if error.fields:
                reasons = "; ".join(f"{name}: {reason}" for name, reason in error.fields.items())
                return f"Please check the highlighted fields ({reasons})."
            return error.message
        if isinstance(error, RateLimitedError) and error.retry_after:
            return f"Too many requests. Please try again in {error.retry_after:.0f} seconds."
        if isinstance(error, ServiceError):
            return _MESSAGES.get(error.type, error.message)
        return "Something unexpected went wrong. Please try again."

    @staticmethod
    def is_retryable(error: BaseException) -> bool:
        """Whether trying the same request again later may succeed."""
        if isinstance(error, CircuitOpenError):
            return True
        if isinstance(error, APIConnectionError):
            return not isinstance(error, OfflineError)
        if isinstance(error, APIStatusError) and error.code is not None:
            return error.code in {408, 429} or error.code >= 500
        return False
