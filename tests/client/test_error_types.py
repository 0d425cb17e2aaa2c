"""Every error of the tree, raised for the cause it names, by the real backend or a fault.

Answers from the backend carry the ``X-Request-ID`` the client sent; the error keeps it.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyairtable_integration import (
    AuthenticationError,
    ConflictError,
    IdempotencyKeyReusedError,
    InvalidOffsetError,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PyAirtableIntegration,
    RateLimitedError,
    RequestTimeoutError,
    ResponseValidationError,
    ServerError,
    ServiceError,
    ServiceUnavailableError,
    create_integration,
)
from pyairtable_integration.testing import (
    PASSWORD,
    connect_error,
    connect_timeout,
    garbage,
    read_timeout,
    status,
    wrong_shape,
)
from pyairtable_integration.types import Table

from .conftest import BASE_URL, Backend, Rig, RigFactory, running_backend, sign_in

pytestmark = pytest.mark.anyio

MISSING_WORKSPACE = "wsp" + "0" * 16


def answered_by_backend(rig: Rig, error: ServiceError) -> None:
    """The error carries the request id the client sent and the backend echoed."""
    last = rig.faults.requests[-1]
    assert error.request_id is not None
    assert error.request_id == last.request_id == last.response_headers["X-Request-ID"]


async def new_table(pa: PyAirtableIntegration) -> Table:
    workspace = await pa.services.workspace.create_workspace(name="Errors")
    base = await pa.services.base.create_base(workspace_id=workspace.id, name="B")
    return await pa.services.table.create_table(base_id=base.id, name="T")


async def test_an_invalid_body_is_invalid_request_naming_the_field(faulty: RigFactory) -> None:
    rig = await faulty()
    with pytest.raises(InvalidRequestError) as caught:
        await rig.pa.services.workspace.create_workspace(name="")
    assert type(caught.value) is InvalidRequestError
    assert caught.value.code == 422
    assert "name" in caught.value.fields
    answered_by_backend(rig, caught.value)


async def test_an_unknown_offset_is_invalid_offset(faulty: RigFactory) -> None:
    rig = await faulty()
    table = await new_table(rig.pa)
    with pytest.raises(InvalidOffsetError) as caught:
        await rig.pa.services.record.get_records(table.id, offset="not-an-offset")
    assert (caught.value.code, caught.value.type) == (422, "INVALID_OFFSET")
    answered_by_backend(rig, caught.value)


async def test_a_key_sent_again_with_another_body_is_idempotency_key_reused(
    faulty: RigFactory,
) -> None:
    rig = await faulty()
    table = await new_table(rig.pa)
    key = "key-" + secrets.token_hex(8)
    await rig.pa.services.record.create_record(table.id, {"Name": "first"}, idempotency_key=key)
    with pytest.raises(IdempotencyKeyReusedError) as caught:
        await rig.pa.services.record.create_record(
            table.id, {"Name": "second"}, idempotency_key=key
        )
    assert caught.value.type == "IDEMPOTENCY_KEY_REUSED"
    answered_by_backend(rig, caught.value)
    page = await rig.pa.services.record.get_records(table.id)
    assert [record.fields["Name"] for record in page.data] == ["first"]


async def test_no_token_and_a_wrong_password_are_authentication_errors(
    faulty: RigFactory,
) -> None:
    rig = await faulty(signed_in=False)
    with pytest.raises(AuthenticationError) as caught:
        await rig.pa.services.workspace.get_workspaces()
    assert (caught.value.code, caught.value.type) == (401, "AUTH_ERROR")
    answered_by_backend(rig, caught.value)
    with pytest.raises(AuthenticationError):
        await rig.pa.auth.login("nobody-" + secrets.token_hex(4) + "@example.com", PASSWORD)


async def test_a_viewer_writing_gets_permission_denied(
    faulty: RigFactory, backend: Backend
) -> None:
    rig = await faulty()
    owner = await backend.api.actor()
    workspace = await backend.api.workspace(owner)
    assert rig.pa.auth.user is not None
    response = await backend.api.client.post(
        f"/workspaces/{workspace['id']}/members",
        json={"user_id": rig.pa.auth.user.id, "role": "viewer"},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    with pytest.raises(PermissionDeniedError) as caught:
        await rig.pa.services.base.create_base(workspace_id=workspace["id"], name="Nope")
    assert (caught.value.code, caught.value.type) == (403, "PERMISSION_DENIED")
    answered_by_backend(rig, caught.value)


async def test_a_missing_resource_is_not_found(faulty: RigFactory) -> None:
    rig = await faulty()
    with pytest.raises(NotFoundError) as caught:
        await rig.pa.services.workspace.get_workspace(MISSING_WORKSPACE)
    assert (caught.value.code, caught.value.type) == (404, "NOT_FOUND")
    answered_by_backend(rig, caught.value)


async def test_a_stale_version_is_a_conflict_carrying_the_current_record(
    faulty: RigFactory,
) -> None:
    rig = await faulty()
    table = await new_table(rig.pa)
    record = await rig.pa.services.record.create_record(table.id, {"Name": "v1"})
    await rig.pa.services.record.update_record(record.id, {"Name": "v2"})
    with pytest.raises(ConflictError) as caught:
        await rig.pa.services.record.update_record(
            record.id, {"Name": "mine"}, expected_version=record.version
        )
    current = caught.value.current
    assert current is not None
    assert (current["id"], current["version"], current["fields"]["Name"]) == (
        record.id,
        2,
        "v2",
    )
    answered_by_backend(rig, caught.value)


async def test_injected_server_failures_are_server_errors(faulty: RigFactory) -> None:
    rig = await faulty(retry_attempts=0)
    rig.faults.add(status(500), method="GET", path="/workspaces")
    with pytest.raises(ServerError) as failed:
        await rig.pa.services.workspace.get_workspaces()
    assert type(failed.value) is ServerError
    assert (failed.value.code, failed.value.type) == (500, "SERVER_ERROR")
    rig.faults.add(status(503, retry_after=4), method="GET", path="/workspaces")
    with pytest.raises(ServiceUnavailableError) as down:
        await rig.pa.services.workspace.get_workspaces()
    assert (down.value.code, down.value.retry_after) == (503, 4.0)
    assert down.value.request_id == rig.faults.requests[-1].request_id


async def test_an_injected_429_is_rate_limited_with_retry_after(faulty: RigFactory) -> None:
    rig = await faulty(retry_attempts=0)
    rig.faults.add(status(429, retry_after=9), method="GET", path="/workspaces")
    with pytest.raises(RateLimitedError) as caught:
        await rig.pa.services.workspace.get_workspaces()
    assert (caught.value.code, caught.value.retry_after) == (429, 9.0)


@pytest.mark.parametrize("fault", [connect_error, connect_timeout, read_timeout])
async def test_no_answer_is_a_network_or_timeout_error(faulty: RigFactory, fault: Any) -> None:
    rig = await faulty(retry_attempts=0)
    rig.faults.add(fault(), method="GET", path="/workspaces")
    expected = NetworkError if fault is connect_error else RequestTimeoutError
    with pytest.raises(expected) as caught:
        await rig.pa.services.workspace.get_workspaces()
    assert caught.value.code is None
    assert caught.value.service == "workspace"
    assert caught.value.request_id == rig.faults.requests[-1].request_id


async def test_a_body_that_is_not_json_is_a_response_validation_error(
    faulty: RigFactory,
) -> None:
    rig = await faulty()
    rig.faults.add(garbage(), method="GET", path="/workspaces")
    with pytest.raises(ResponseValidationError) as caught:
        await rig.pa.services.workspace.get_workspaces()
    assert caught.value.code == 200
    assert caught.value.type == "RESPONSE_VALIDATION_ERROR"
    assert caught.value.details["expected"] == "WorkspaceList"
    assert caught.value.request_id == rig.faults.requests[-1].request_id


async def test_json_of_the_wrong_shape_is_a_response_validation_error(
    faulty: RigFactory,
) -> None:
    rig = await faulty()
    workspace = await rig.pa.services.workspace.create_workspace(name="Shape")
    rig.faults.add(wrong_shape({"id": 7, "name": None}), method="GET", path="/workspaces/*")
    with pytest.raises(ResponseValidationError) as caught:
        await rig.pa.services.workspace.get_workspace(workspace.id)
    locations = {problem["location"] for problem in caught.value.details["errors"]}
    assert {"id", "name"} <= locations


async def test_a_garbled_error_answer_is_still_typed_by_its_status(faulty: RigFactory) -> None:
    rig = await faulty(retry_attempts=0)
    rig.faults.add(garbage(code=502), method="GET", path="/workspaces")
    with pytest.raises(ServerError) as caught:
        await rig.pa.services.workspace.get_workspaces()
    assert caught.value.code == 502


@pytest.fixture(scope="module")
async def strict(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Backend]:
    """A backend with small body limits and a low limit of failed sign-ins."""
    async with running_backend(
        tmp_path_factory.mktemp("strict") / "data",
        max_body_bytes=4096,
        max_upload_bytes=1024,
        login_failures_per_account="2/hour",
    ) as running:
        yield running


@pytest.fixture
async def strict_pa(strict: Backend) -> AsyncIterator[PyAirtableIntegration]:
    integration = create_integration(
        base_url=BASE_URL, retry_delay=0, environ={}, http_transport=strict.transport()
    )
    try:
        await sign_in(integration, strict)
        yield integration
    finally:
        await integration.aclose()


async def test_a_body_over_the_limit_is_payload_too_large(
    strict_pa: PyAirtableIntegration,
) -> None:
    with pytest.raises(PayloadTooLargeError) as caught:
        await strict_pa.services.workspace.create_workspace(name="Big", description="x" * 8000)
    assert (caught.value.code, caught.value.type) == (413, "PAYLOAD_TOO_LARGE")
    assert caught.value.request_id is not None


async def test_an_upload_over_the_limit_is_payload_too_large(
    strict_pa: PyAirtableIntegration,
) -> None:
    with pytest.raises(PayloadTooLargeError):
        await strict_pa.services.file.upload_file(b"x" * 2048, filename="big.bin")


async def test_repeated_failed_sign_ins_are_rate_limited_with_retry_after(
    strict: Backend, strict_pa: PyAirtableIntegration
) -> None:
    email = "limited-" + secrets.token_hex(4) + "@example.com"
    await strict.api.register(email)
    failures: list[ServiceError] = []
    # Up to a few more tries than the limit, as the backend's sliding window may let one more
    # through when a window boundary falls between them.
    for _ in range(6):
        with pytest.raises(ServiceError) as caught:
            await strict_pa.auth.login(email, "wrong password!")
        failures.append(caught.value)
        if isinstance(caught.value, RateLimitedError):
            break
    assert all(isinstance(failure, AuthenticationError) for failure in failures[:2])
    limited = failures[-1]
    assert isinstance(limited, RateLimitedError)
    assert limited.retry_after is not None and limited.retry_after > 0
    assert limited.request_id is not None
