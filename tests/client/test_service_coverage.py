"""Every operation of the backend's OpenAPI document has a client method.

A new backend route fails this test until a method for it exists (and is listed here).
"""

from __future__ import annotations

import inspect
import json
from importlib import resources
from typing import Any

from pyairtable_integration.auth import AuthManager
from pyairtable_integration.services import (
    AuthService,
    BaseService,
    EventService,
    FieldService,
    FileService,
    HealthService,
    RecordService,
    TableService,
    UserService,
    ViewService,
    WebhookService,
    WorkspaceService,
)

API = "/api/v1"

# Sign-in, refresh and sign-out change the session, so the session's owner makes them.
CLIENT_METHODS: dict[tuple[str, str], tuple[type[Any], str]] = {
    ("POST", "/auth/register"): (AuthService, "register"),
    ("POST", "/auth/login"): (AuthManager, "login"),
    ("POST", "/auth/refresh"): (AuthManager, "refresh"),
    ("POST", "/auth/logout"): (AuthManager, "logout"),
    ("GET", "/auth/me"): (AuthService, "get_me"),
    ("PUT", "/auth/me"): (AuthService, "update_me"),
    ("POST", "/auth/change-password"): (AuthService, "change_password"),
    ("POST", "/auth/validate"): (AuthService, "validate_token"),
    ("GET", "/auth/permissions"): (AuthService, "get_permissions"),
    ("GET", "/users/me"): (UserService, "get_current_user"),
    ("PUT", "/users/me"): (UserService, "update_current_user"),
    ("GET", "/users"): (UserService, "get_users"),
    ("GET", "/users/{user_id}"): (UserService, "get_user"),
    ("GET", "/workspaces"): (WorkspaceService, "get_workspaces"),
    ("POST", "/workspaces"): (WorkspaceService, "create_workspace"),
    ("GET", "/workspaces/{workspace_id}"): (WorkspaceService, "get_workspace"),
    ("PUT", "/workspaces/{workspace_id}"): (WorkspaceService, "update_workspace"),
    ("DELETE", "/workspaces/{workspace_id}"): (WorkspaceService, "delete_workspace"),
    ("GET", "/workspaces/{workspace_id}/members"): (WorkspaceService, "get_workspace_members"),
    ("POST", "/workspaces/{workspace_id}/members"): (WorkspaceService, "add_workspace_member"),
    ("PATCH", "/workspaces/{workspace_id}/members/{user_id}"): (
        WorkspaceService,
        "update_workspace_member",
    ),
    ("DELETE", "/workspaces/{workspace_id}/members/{user_id}"): (
        WorkspaceService,
        "remove_workspace_member",
    ),
    ("GET", "/workspaces/{workspace_id}/audit-log"): (WorkspaceService, "get_audit_log"),
    ("GET", "/bases"): (BaseService, "get_bases"),
    ("POST", "/bases"): (BaseService, "create_base"),
    ("GET", "/bases/{base_id}"): (BaseService, "get_base"),
    ("PUT", "/bases/{base_id}"): (BaseService, "update_base"),
    ("DELETE", "/bases/{base_id}"): (BaseService, "delete_base"),
    ("GET", "/tables"): (TableService, "get_tables"),
    ("POST", "/tables"): (TableService, "create_table"),
    ("GET", "/tables/{table_id}"): (TableService, "get_table"),
    ("PUT", "/tables/{table_id}"): (TableService, "update_table"),
    ("DELETE", "/tables/{table_id}"): (TableService, "delete_table"),
    ("GET", "/fields"): (FieldService, "get_fields"),
    ("POST", "/fields"): (FieldService, "create_field"),
    ("GET", "/fields/{field_id}"): (FieldService, "get_field"),
    ("PUT", "/fields/{field_id}"): (FieldService, "update_field"),
    ("DELETE", "/fields/{field_id}"): (FieldService, "delete_field"),
    ("GET", "/views"): (ViewService, "get_views"),
    ("POST", "/views"): (ViewService, "create_view"),
    ("GET", "/views/{view_id}"): (ViewService, "get_view"),
    ("PUT", "/views/{view_id}"): (ViewService, "update_view"),
    ("DELETE", "/views/{view_id}"): (ViewService, "delete_view"),
    ("GET", "/records"): (RecordService, "get_records"),
    ("POST", "/records/query"): (RecordService, "query_records"),
    ("GET", "/records/{record_id}"): (RecordService, "get_record"),
    ("POST", "/records"): (RecordService, "create_record"),
    ("PATCH", "/records/{record_id}"): (RecordService, "update_record"),
    ("PUT", "/records/{record_id}"): (RecordService, "replace_record"),
    ("DELETE", "/records/{record_id}"): (RecordService, "delete_record"),
    ("POST", "/records/batch"): (RecordService, "create_records"),
    ("PATCH", "/records/batch"): (RecordService, "update_records"),
    ("POST", "/records/batch-delete"): (RecordService, "delete_records"),
    ("POST", "/files/upload"): (FileService, "upload_file"),
    ("GET", "/files/{file_id}"): (FileService, "get_file"),
    ("GET", "/files/{file_id}/content"): (FileService, "get_file_content"),
    ("GET", "/files/{file_id}/url"): (FileService, "get_file_url"),
    ("GET", "/files/usage"): (FileService, "get_storage_usage"),
    ("DELETE", "/files/{file_id}"): (FileService, "delete_file"),
    ("GET", "/webhooks"): (WebhookService, "get_webhooks"),
    ("POST", "/webhooks"): (WebhookService, "create_webhook"),
    ("GET", "/webhooks/{webhook_id}"): (WebhookService, "get_webhook"),
    ("PUT", "/webhooks/{webhook_id}"): (WebhookService, "update_webhook"),
    ("DELETE", "/webhooks/{webhook_id}"): (WebhookService, "delete_webhook"),
    ("GET", "/webhooks/{webhook_id}/deliveries"): (WebhookService, "get_deliveries"),
    ("POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"): (
        WebhookService,
        "retry_delivery",
    ),
    ("POST", "/webhooks/{webhook_id}/test"): (WebhookService, "test_webhook"),
    ("GET", "/events"): (EventService, "get_events"),
    ("GET", "/health"): (HealthService, "get_health"),
    ("GET", "/health/{service}"): (HealthService, "get_service_health"),
}

# Operations outside the REST API that no request/answer method serves, with the reason.
EXCLUDED: dict[tuple[str, str], str] = {
    ("GET", "/events"): (
        "the Server-Sent Events stream (outside /api/v1): a long-lived push channel that the "
        "realtime client consumes, not a request/answer call"
    ),
}

HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}


def _operations() -> set[tuple[str, str]]:
    """Every (METHOD, path) of the OpenAPI document the types were generated from."""
    text = resources.files("pyairtable_integration.types").joinpath("openapi.json").read_text()
    document: dict[str, Any] = json.loads(text)
    operations: set[tuple[str, str]] = set()
    for path, item in document["paths"].items():
        for method in item:
            if method in HTTP_METHODS:
                operations.add((method.upper(), path))
    return operations


def _client_key(operation: tuple[str, str]) -> tuple[str, str] | None:
    method, path = operation
    if path.startswith(API + "/") or path == API:
        return method, path.removeprefix(API)
    return None


def test_every_api_operation_names_an_existing_async_client_method() -> None:
    missing: list[str] = []
    for operation in sorted(_operations()):
        if operation in EXCLUDED:
            continue
        key = _client_key(operation)
        target = CLIENT_METHODS.get(key) if key is not None else None
        if target is None:
            missing.append(f"{operation[0]} {operation[1]}: no client method listed")
            continue
        owner, name = target
        method = getattr(owner, name, None)
        if method is None or not inspect.iscoroutinefunction(method):
            missing.append(f"{operation[0]} {operation[1]}: {owner.__name__}.{name} is missing")
    assert missing == []


def test_the_mapping_and_exclusions_name_only_operations_that_exist() -> None:
    operations = _operations()
    api_operations = {_client_key(operation) for operation in operations}

    assert set(CLIENT_METHODS) - api_operations == set()
    assert set(EXCLUDED) - operations == set()
