"""Uploaded files (contract §7)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .common import Timestamp


class FileOut(BaseModel):
    """A ``FileRecord``. ``workspace_id`` and ``table_id`` are null while the file is private to
    its uploader (uploaded without a table and not attached to a record yet)."""

    id: str
    filename: str
    size: int
    type: str = Field(description="The media type, e.g. image/png.")
    checksum: str = Field(examples=["sha256:9f86d081884c7d65…"])
    uploaded_by: str | None
    uploaded_at: Timestamp
    url: str = Field(description="The content URL; needs a bearer token (see /files/{id}/url).")
    workspace_id: str | None
    table_id: str | None


class FileEnvelope(BaseModel):
    file: FileOut


class SignedUrlOut(BaseModel):
    url: str = Field(description="The content URL with a signature: works without a token.")
    expires_at: Timestamp


class QuotaUsageOut(BaseModel):
    """Bytes of stored files counted against one storage quota."""

    used_bytes: int
    quota_bytes: int | None = Field(description="The quota; null when there is no limit.")


class StorageUsageOut(BaseModel):
    """The caller's storage usage (every file they uploaded), and a workspace's when asked."""

    user: QuotaUsageOut
    workspace: QuotaUsageOut | None = Field(
        description="The workspace of the workspace_id parameter; null without it."
    )
