"""The error tree: answers mapped to classes, messages for people, what may be retried."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pyairtable_integration import (
    APIStatusError,
    AuthenticationError,
    CircuitOpenError,
    ConflictError,
    ErrorHandler,
    IdempotencyKeyReusedError,
    InvalidOffsetError,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseValidationError,
    ServerError,
    ServiceError,
    ServiceUnavailableError,
)
from pyairtable_integration._errors import OfflineError, error_from_response


def envelope(error_type: str, message: str = "Nope.", **details: Any) -> bytes:
    return json.dumps(
        {"error": {"type": error_type, "message": message, "details": details}, "request_id": "r"}
    ).encode()


@pytest.mark.parametrize(
    ("status", "error_type", "cls"),
    [
        (422, "VALIDATION_ERROR", InvalidRequestError),
        (422, "INVALID_OFFSET", InvalidOffsetError),
        (422, "IDEMPOTENCY_KEY_REUSED", IdempotencyKeyReusedError),
        (401, "AUTH_ERROR", AuthenticationError),
        (403, "PERMISSION_DENIED", PermissionDeniedError),
        (404, "NOT_FOUND", NotFoundError),
        (409, "CONFLICT", ConflictError),
        (413, "PAYLOAD_TOO_LARGE", PayloadTooLargeError),
        (429, "RATE_LIMITED", RateLimitedError),
        (500, "SERVER_ERROR", ServerError),
        (503, "SERVICE_UNAVAILABLE", ServiceUnavailableError),
    ],
)
def test_the_envelope_type_picks_the_class(status: int, error_type: str, cls: type) -> None:
    error = error_from_response(status, envelope(error_type), request_id="req-1", service="record")
    assert type(error) is cls
    assert (error.code, error.type, error.message) == (status, error_type, "Nope.")
    assert (error.request_id, error.service) == ("req-1", "record")


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (413, PayloadTooLargeError),
        (422, InvalidRequestError),
        (429, RateLimitedError),
        (500, ServerError),
        (502, ServerError),
        (503, ServiceUnavailableError),
        (418, APIStatusError),
    ],
)
def test_without_an_envelope_the_status_picks_the_class(status: int, cls: type) -> None:
    error = error_from_response(status, b"<html>Bad gateway</html>")
    assert type(error) is cls
    assert error.code == status
    assert error.message == f"The backend answered {status} without an error description."
    assert error.details == {}


def test_an_unknown_envelope_type_falls_back_to_the_status() -> None:
    error = error_from_response(404, envelope("SOMETHING_NEW"))
    assert type(error) is NotFoundError
    assert error.type == "SOMETHING_NEW"


def test_details_are_exposed_as_fields_and_current() -> None:
    invalid = error_from_response(422, envelope("VALIDATION_ERROR", fields={"name": "required"}))
    assert isinstance(invalid, InvalidRequestError)
    assert invalid.fields == {"name": "required"}
    conflict = error_from_response(409, envelope("CONFLICT", current={"id": "rec1", "version": 3}))
    assert isinstance(conflict, ConflictError)
    assert conflict.current == {"id": "rec1", "version": 3}
    assert error_from_response(409, envelope("CONFLICT")).current is None  # type: ignore[attr-defined]


def test_retry_after_is_carried_by_rate_limit_and_unavailable_errors() -> None:
    limited = error_from_response(429, envelope("RATE_LIMITED"), retry_after=12.0)
    assert isinstance(limited, RateLimitedError)
    assert limited.retry_after == 12.0
    down = error_from_response(503, b"", retry_after=3.0)
    assert isinstance(down, ServiceUnavailableError)
    assert down.retry_after == 3.0


def message(error: BaseException) -> str:
    return ErrorHandler.get_error_message(error)


def test_every_error_type_has_a_sentence_for_people() -> None:
    cases: list[ServiceError] = [
        NetworkError("x"),
        RequestTimeoutError("x"),
        CircuitOpenError("x", retry_in=1.0),
        OfflineError("x"),
        ResponseValidationError("x"),
        *(
            error_from_response(status, envelope(kind, message="raw backend text"))
            for status, kind in [
                (401, "AUTH_ERROR"),
                (403, "PERMISSION_DENIED"),
                (404, "NOT_FOUND"),
                (409, "CONFLICT"),
                (413, "PAYLOAD_TOO_LARGE"),
                (429, "RATE_LIMITED"),
                (422, "INVALID_OFFSET"),
                (422, "IDEMPOTENCY_KEY_REUSED"),
                (500, "SERVER_ERROR"),
                (503, "SERVICE_UNAVAILABLE"),
            ]
        ),
    ]
    sentences = [message(error) for error in cases]
    assert len(set(sentences)) == len(cases)
    for sentence in sentences:
        assert sentence.endswith(".")
        assert "raw backend text" not in sentence


def test_validation_messages_name_the_fields_at_fault() -> None:
    error = error_from_response(
        422, envelope("VALIDATION_ERROR", fields={"email": "not an e-mail address"})
    )
    assert message(error) == "Please check the highlighted fields (email: not an e-mail address)."
    bare = error_from_response(422, envelope("VALIDATION_ERROR", message="Bad input."))
    assert message(bare) == "Bad input."


def test_rate_limit_messages_say_how_long_to_wait() -> None:
    error = error_from_response(429, envelope("RATE_LIMITED"), retry_after=30.0)
    assert message(error) == "Too many requests. Please try again in 30 seconds."


def test_foreign_exceptions_get_a_generic_sentence() -> None:
    assert message(KeyError("x")) == "Something unexpected went wrong. Please try again."


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (NetworkError("x"), True),
        (RequestTimeoutError("x"), True),
        (CircuitOpenError("x", retry_in=1.0), True),
        (OfflineError("x"), False),
        (ResponseValidationError("x"), False),
        (error_from_response(408, b""), True),
        (error_from_response(429, b""), True),
        (error_from_response(500, b""), True),
        (error_from_response(503, b""), True),
        (error_from_response(400, b""), False),
        (error_from_response(401, b""), False),
        (error_from_response(404, b""), False),
        (error_from_response(409, b""), False),
        (ValueError("x"), False),
    ],
)
def test_is_retryable(error: BaseException, retryable: bool) -> None:
    assert ErrorHandler.is_retryable(error) is retryable


def test_repr_names_the_type_code_and_request() -> None:
    error = error_from_response(404, envelope("NOT_FOUND"), request_id="abc")
    assert repr(error) == (
        "NotFoundError(type='NOT_FOUND', code=404, message='Nope.', request_id='abc')"
    )
