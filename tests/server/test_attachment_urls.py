"""File and attachment URLs are built under the configured public URL, else the address the
connection came in on: never from the client's ``Host`` header, which would plant the client's
host in attachments and events that other members read. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pyairtable_server.settings import Settings

from .backend import Api, running_api
from .test_files import ATTACHMENT_FIELDS, events_since, head_seq, new_table, upload

pytestmark = pytest.mark.anyio

FORGED = {"Host": "evil.example"}


async def _attach_with_a_forged_host(api: Api) -> tuple[dict[str, Any], list[str]]:
    """An editor uploads and attaches files sending a forged Host; what the owner then reads:
    the record, and every URL of the upload answers and events."""
    owner, workspace_id, table = await new_table(api, ATTACHMENT_FIELDS)
    editor = await api.actor()
    await api.add_member(owner, workspace_id, editor, "editor")
    since = await head_seq(api, owner)
    private = (await upload(api, editor, headers=FORGED))["file"]
    created = await api.client.post(
        "/records",
        json={"table_id": table["id"], "fields": {"Files": [{"id": private["id"]}]}},
        headers={**editor.headers, **FORGED},
    )
    assert created.status_code == 201, created.text
    uploaded = await upload(
        api, editor, headers=FORGED, record_id=created.json()["id"], field="Files"
    )
    signed = await api.client.get(f"/files/{private['id']}/url", headers=FORGED | editor.headers)
    read = await api.client.get(f"/records/{created.json()['id']}", headers=owner.headers)
    events = await events_since(api, owner, since)
    urls = [private["url"], uploaded["file"]["url"], signed.json()["url"]]
    urls += [item["url"] for item in read.json()["fields"]["Files"]]
    for event in events:
        record = event["payload"].get("record") or {}
        urls += [item["url"] for item in record.get("fields", {}).get("Files", [])]
    return read.json(), urls


async def test_a_forged_host_never_reaches_stored_urls(api: Api) -> None:
    record, urls = await _attach_with_a_forged_host(api)
    assert len(record["fields"]["Files"]) == 2
    assert len(urls) >= 7
    for url in urls:
        assert url.startswith("http://testserver/api/v1/files/fil"), url


async def test_urls_are_built_under_the_configured_public_url(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(public_url="https://files.example.com/pyairtable/")
    async with running_api(settings) as api:
        _, urls = await _attach_with_a_forged_host(api)
    for url in urls:
        assert url.startswith("https://files.example.com/pyairtable/api/v1/files/fil"), url


@pytest.mark.parametrize(
    "value", ["ftp://example.com", "example.com", "https://example.com/?a=1", "https://u:p@h"]
)
def test_a_public_url_must_be_a_plain_http_url(value: str) -> None:
    with pytest.raises(ValueError, match="public_url"):
        Settings(public_url=value)
