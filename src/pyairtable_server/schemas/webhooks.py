"""Webhooks and their delivery log (contract §7)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from ..webhooks.policy import is_event_pattern
from ..webhooks.targets import TargetRefused, check_url
from .bases import refuse_null
from .common import PageMeta, RequestModel, ResponseModel, Text, Timestamp

MAX_URL_LENGTH = 2048
MAX_EVENT_TYPES = 50
DeliveryStatus = Literal["pending", "succeeded", "failed"]


def _check_url(value: str) -> str:
    """An absolute http(s) URL the sender can use, without credentials in it.

    Where it points is checked by the route (``targets.check_url``), which knows whether private
    targets are allowed.
    """
    try:
        check_url(value, allow_private=True)
    except TargetRefused as exc:
        raise ValueError(str(exc)) from None
    return value


def _check_patterns(value: list[str]) -> list[str]:
    unknown = [pattern for pattern in value if not is_event_pattern(pattern)]
    if unknown:
        raise ValueError(
            f"unknown event types {unknown[:5]}: use a type such as 'record.created', "
            "'<channel>.*' or '*'"
        )
    return list(dict.fromkeys(value))


WebhookUrl = Annotated[
    Text,
    StringConstraints(min_length=1, max_length=MAX_URL_LENGTH),
    AfterValidator(_check_url),
]
EventPatterns = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=64)]],
    Field(min_length=1, max_length=MAX_EVENT_TYPES),
    AfterValidator(_check_patterns),
]
ResourceId = Annotated[Text, StringConstraints(min_length=1, max_length=64)]


class WebhookIn(RequestModel):
    workspace_id: ResourceId
    url: WebhookUrl
    event_types: EventPatterns = Field(
        description="Event types of contract §8, '<channel>.*', or '*'."
    )
    table_id: ResourceId | None = Field(
        default=None, description="Only events of this table (of the same workspace)."
    )
    is_active: bool = True


class WebhookUpdate(RequestModel):
    """A partial update: keys left out keep their value; ``table_id: null`` widens the webhook
    to the whole workspace, ``null`` elsewhere is refused."""

    url: WebhookUrl | None = None
    event_types: EventPatterns | None = None
    table_id: ResourceId | None = None
    is_active: bool | None = None

    _not_null = field_validator("url", "event_types", "is_active", mode="before")(refuse_null)


class WebhookOut(ResponseModel):
    id: str
    workspace_id: str
    table_id: str | None
    url: str
    event_types: list[str]
    is_active: bool
    #: Why the server disabled it: a long run of failures, or the member who answers for it
    #: losing webhook:write in the workspace.
    disabled_reason: str | None = Field(
        description="Why the server disabled it; null if active or disabled by hand."
    )
    #: Failed attempts in a row, and since when; both reset by a success.
    failure_count: int
    failing_since: Timestamp | None
    #: Its creator, or whoever last re-enabled it or changed its URL.
    created_by: str | None = Field(
        description="The member who answers for it; it stops if they lose webhook:write."
    )
    created_at: Timestamp
    updated_at: Timestamp


class WebhookCreated(WebhookOut):
    """The answer to create: the only time the signing secret is shown."""

    secret: str = Field(description="The Standard Webhooks signing secret (whsec_…).")


class WebhookList(BaseModel):
    data: list[WebhookOut]
    pagination: PageMeta


class DeliveryOut(ResponseModel):
    # Every key is always there, ``last_response_body`` (default null) included.
    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )

    id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: Timestamp | None
    last_attempt_at: Timestamp | None
    last_status_code: int | None
    #: Every attempt without an answer (refused, timed out, name not resolving, target not
    #: public) reads the same, so the log cannot map a network.
    last_error: str | None = Field(
        description="'the receiver answered <status>' or 'delivery failed: no response'."
    )
    # Still typed as it was, so clients built for contract 1.1 read it unchanged.
    last_response_body: str | None = Field(
        default=None, description="Always null: receivers' answers are not kept."
    )
    last_duration_ms: int | None
    created_at: Timestamp
    updated_at: Timestamp


class DeliveryList(BaseModel):
    data: list[DeliveryOut]
    pagination: PageMeta
