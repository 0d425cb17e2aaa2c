"""Record writes (contract §6): create, read, merge, replace, delete; typecast; versions and
If-Match; Idempotency-Key; batches that apply all or nothing; what a write may not contain.

"Nothing written" is checked three ways: the table's ``record_count``, the record list, and the
table's events in the log. The module shares one running app (see ``module_backend``); each test
signs up its own owner and builds its own tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest

from .backend import Actor, Api

pytestmark = pytest.mark.anyio

JSON = dict[str, Any]
RECORD_KEYS = {
    "id",
    "table_id",
    "fields",
    "version",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
}
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
FIELDS: list[JSON] = [
    {"name": "Name", "type": "text"},
    {"name": "N", "type": "number"},
    {"name": "Done", "type": "checkbox"},
    {"name": "Color", "type": "select", "options": {"choices": ["Red", "Green"]}},
    {"name": "Tags", "type": "multiselect", "options": {"choices": ["a", "b"]}},
    {"name": "Day", "type": "date"},
    {"name": "No", "type": "autonumber"},
    {"name": "Created", "type": "created_time"},
]


@pytest.fixture(scope="module")
def api(module_api: Api) -> Api:
    """One app for the module; every test signs up users of its own."""
    return module_api


# --- helpers ---------------------------------------------------------------------------------


@dataclass
class Table:
    api: Api
    owner: Actor
    table: JSON
    workspace_id: str

    @property
    def id(self) -> str:
        return str(self.table["id"])

    async def create(self, fields: JSON, **extra: Any) -> JSON:
        record: JSON = await self.api.post(
            self.owner, "/records", {"table_id": self.id, "fields": fields, **extra}
        )
        return record

    async def get(self, record_id: str) -> JSON:
        response = await self.api.client.get(f"/records/{record_id}", headers=self.owner.headers)
        assert response.status_code == 200, response.text
        body: JSON = response.json()
        return body

    async def write(
        self,
        method: str,
        path: str,
        body: JSON | None = None,
        *,
        actor: Actor | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx2.Response:
        return await self.api.client.request(
            method,
            path,
            json=body,
            headers={**(actor or self.owner).headers, **(headers or {})},
        )

    async def patch(self, record_id: str, fields: JSON, **headers: str) -> httpx2.Response:
        return await self.write(
            "PATCH", f"/records/{record_id}", {"fields": fields}, headers=_headers(headers)
        )

    async def snapshot(self) -> JSON:
        """What a write could change: the record count, the records, the table's events."""
        table = await self.api.client.get(f"/tables/{self.id}", headers=self.owner.headers)
        assert table.status_code == 200, table.text
        records = await self.api.client.get(
            "/records", params={"table_id": self.id}, headers=self.owner.headers
        )
        assert records.status_code == 200, records.text
        return {
            "record_count": table.json()["record_count"],
            "records": records.json()["data"],
            "events": [e["id"] for e in await events_of(self.api, self.owner, table_id=self.id)],
        }


def _headers(given: dict[str, str]) -> dict[str, str]:
    """Keyword headers (if_match=…) as HTTP header names."""
    names = {"if_match": "If-Match", "idempotency_key": "Idempotency-Key"}
    return {names[key]: value for key, value in given.items()}


async def new_table(api: Api, fields: list[JSON] | None = None) -> Table:
    """A new owner's workspace, base and table of ``fields`` (default: ``FIELDS``)."""
    owner = await api.actor()
    workspace = await api.workspace(owner)
    base = await api.base(owner, workspace["id"])
    table = await api.table(owner, base["id"], fields if fields is not None else FIELDS)
    return Table(api, owner, table, workspace["id"])


async def events_of(api: Api, actor: Actor, **filters: str) -> list[JSON]:
    """Every event ``actor`` may read that matches ``filters``, oldest first."""
    events: list[JSON] = []
    since = 0
    while True:
        response = await api.client.get(
            "/events", params={"since": since, "limit": 1000, **filters}, headers=actor.headers
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["reset"] is False
        events += page["data"]
        if len(page["data"]) < 1000:
            return events
        since = page["next_since"]


def assert_error(response: httpx2.Response, status: int, error_type: str) -> JSON:
    """The error envelope of contract §2; answers its ``details``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["type"] == error_type, body
    assert body["request_id"] == response.headers["X-Request-ID"]
    details: JSON = body["error"]["details"]
    return details


def bad_fields(response: httpx2.Response) -> dict[str, str]:
    """The ``details.fields`` of a 422 VALIDATION_ERROR."""
    fields: dict[str, str] = assert_error(response, 422, "VALIDATION_ERROR")["fields"]
    return fields


# --- create, read, update, delete ------------------------------------------------------------


async def test_create_answers_201_and_the_record(api: Api) -> None:
    """POST /records answers the `Record`: values by field name, computed ones filled in."""
    t = await new_table(api)
    response = await t.write(
        "POST",
        "/records",
        {"table_id": t.id, "fields": {"Name": "Ada", "N": 3, "Done": True, "Tags": ["a"]}},
    )
    assert response.status_code == 201, response.text
    record = response.json()
    assert set(record) == RECORD_KEYS
    assert record["id"].startswith("rec")
    assert record["table_id"] == t.id
    assert record["version"] == 1
    assert record["created_by"] == record["updated_by"] == t.owner.id
    assert RFC3339_UTC.match(record["created_at"])
    assert record["updated_at"] == record["created_at"]
    assert record["fields"] == {
        "Name": "Ada",
        "N": 3,
        "Done": True,
        "Tags": ["a"],
        "No": 1,
        "Created": record["created_at"],
    }
    assert await t.get(record["id"]) == record


async def test_create_counts_the_record_in_its_table(api: Api) -> None:
    """Each created record raises the table's record_count by one."""
    t = await new_table(api)
    await t.create({"Name": "a"})
    await t.create({})
    assert (await t.snapshot())["record_count"] == 2


async def test_patch_merges_the_given_fields(api: Api) -> None:
    """PATCH changes the given fields, keeps the others, and clears those set to null or ""."""
    t = await new_table(api)
    record = await t.create({"Name": "Ada", "N": 1, "Day": "2024-01-01"})
    response = await t.patch(record["id"], {"N": 2, "Day": None, "Color": "Red"})
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["fields"] == {
        "Name": "Ada",
        "N": 2,
        "Color": "Red",
        "No": 1,
        "Created": record["created_at"],
    }
    assert patched["version"] == 2
    assert patched["created_at"] == record["created_at"]
    assert patched["updated_at"] >= record["updated_at"]
    assert await t.get(record["id"]) == patched
    cleared = (await t.patch(record["id"], {"Name": ""})).json()
    assert "Name" not in cleared["fields"]


async def test_put_replaces_all_fields(api: Api) -> None:
    """PUT keeps only the given fields: the others are cleared."""
    t = await new_table(api)
    record = await t.create({"Name": "Ada", "N": 1, "Tags": ["a", "b"]})
    response = await t.write("PUT", f"/records/{record['id']}", {"fields": {"N": 5}})
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["fields"] == {"N": 5, "No": 1, "Created": record["created_at"]}
    assert replaced["version"] == 2
    assert await t.get(record["id"]) == replaced


async def test_delete_answers_204_then_the_record_is_gone(api: Api) -> None:
    """DELETE is 204 with no body; afterwards GET, PATCH and DELETE are 404."""
    t = await new_table(api)
    record = await t.create({"Name": "Ada"})
    response = await t.write("DELETE", f"/records/{record['id']}")
    assert response.status_code == 204, response.text
    assert response.content == b""
    path = f"/records/{record['id']}"
    assert_error(await api.client.get(path, headers=t.owner.headers), 404, "NOT_FOUND")
    assert_error(await t.patch(record["id"], {"N": 1}), 404, "NOT_FOUND")
    assert_error(await t.write("DELETE", path), 404, "NOT_FOUND")
    assert (await t.snapshot())["record_count"] == 0


async def test_records_are_invisible_to_non_members(api: Api) -> None:
    """Someone outside the workspace gets 404 for reading or writing its records."""
    t = await new_table(api)
    record = await t.create({"Name": "Ada"})
    stranger = await api.actor()
    path = f"/records/{record['id']}"
    assert_error(await api.client.get(path, headers=stranger.headers), 404, "NOT_FOUND")
    assert_error(
        await t.write("PATCH", path, {"fields": {"N": 1}}, actor=stranger), 404, "NOT_FOUND"
    )
    assert_error(await t.write("DELETE", path, actor=stranger), 404, "NOT_FOUND")
    assert_error(
        await t.write("POST", "/records", {"table_id": t.id, "fields": {}}, actor=stranger),
        404,
        "NOT_FOUND",
    )
    assert (await t.get(record["id"])) == record


# --- typecast --------------------------------------------------------------------------------


async def test_typecast_converts_loose_values_and_adds_choices(api: Api) -> None:
    """With typecast, "42" is a number, "yes" a checkbox, "2024/3/1" a date, and a new select
    choice is added to the field."""
    t = await new_table(api)
    response = await t.write(
        "POST",
        "/records",
        {
            "table_id": t.id,
            "typecast": True,
            "fields": {
                "Name": 7,
                "N": " 42 ",
                "Done": "yes",
                "Day": "2024/3/1",
                "Color": "Blue",
                "Tags": "a, c",
            },
        },
    )
    assert response.status_code == 201, response.text
    fields = response.json()["fields"]
    assert fields["Name"] == "7"
    assert fields["N"] == 42
    assert fields["Done"] is True
    assert fields["Day"] == "2024-03-01"
    assert fields["Color"] == "Blue"
    assert fields["Tags"] == ["a", "c"]
    table = (await api.client.get(f"/tables/{t.id}", headers=t.owner.headers)).json()
    options = {f["name"]: f["options"] for f in table["fields"]}
    assert [c["name"] for c in options["Color"]["choices"]] == ["Red", "Green", "Blue"]
    assert [c["name"] for c in options["Tags"]["choices"]] == ["a", "b", "c"]


async def test_without_typecast_loose_values_are_422_naming_the_field(api: Api) -> None:
    """Without typecast the value must have the field's JSON type; nothing is written."""
    t = await new_table(api)
    before = await t.snapshot()
    for fields, bad in [
        ({"N": "42"}, "N"),
        ({"Done": "yes"}, "Done"),
        ({"Color": "Blue"}, "Color"),
        ({"Day": "2024/3/1"}, "Day"),
        ({"Name": 7}, "Name"),
    ]:
        response = await t.write("POST", "/records", {"table_id": t.id, "fields": fields})
        assert bad in bad_fields(response), fields
    assert await t.snapshot() == before


async def test_typecast_on_patch_converts_too(api: Api) -> None:
    """PATCH takes typecast as well."""
    t = await new_table(api)
    record = await t.create({"N": 1})
    response = await t.write(
        "PATCH", f"/records/{record['id']}", {"fields": {"N": "2.5"}, "typecast": True}
    )
    assert response.status_code == 200, response.text
    assert response.json()["fields"]["N"] == 2.5


# --- versions and If-Match -------------------------------------------------------------------


async def test_version_starts_at_one_and_grows_by_one_per_change(api: Api) -> None:
    """Every change adds one to the version; a PATCH that changes nothing keeps it (and the
    record's updated_at)."""
    t = await new_table(api)
    record = await t.create({"Name": "Ada", "N": 1})
    assert record["version"] == 1
    rid = record["id"]
    versions = [record["version"]]
    for fields in ({"N": 2}, {"Name": "Bea"}, {"N": None}, {"Tags": ["a"]}):
        versions.append((await t.patch(rid, fields)).json()["version"])
    put = await t.write("PUT", f"/records/{rid}", {"fields": {"Name": "Cy"}})
    versions.append(put.json()["version"])
    assert versions == [1, 2, 3, 4, 5, 6]
    current = await t.get(rid)
    same = await t.patch(rid, {"Name": "Cy"})
    assert same.status_code == 200, same.text
    assert same.json() == current
    assert (await t.patch(rid, {})).json() == current
    assert (await t.patch(rid, {"N": None})).json() == current
    assert (await t.write("PUT", f"/records/{rid}", {"fields": {"Name": "Cy"}})).json() == current


async def test_if_match_with_the_current_version_applies(api: Api) -> None:
    """If-Match naming the record's version lets the write through, in any usual spelling."""
    t = await new_table(api)
    record = await t.create({"N": 0})
    for n, header in enumerate(['"1"', "2", 'W/"3"', "*"], start=1):
        response = await t.patch(record["id"], {"N": n}, if_match=header)
        assert response.status_code == 200, (header, response.text)
    assert (await t.get(record["id"]))["version"] == 5


async def test_if_match_with_another_version_is_409_with_the_current_record(api: Api) -> None:
    """A stale If-Match is 409 CONFLICT; details.current is the record as it is now, unchanged."""
    t = await new_table(api)
    record = await t.create({"N": 0})
    current = (await t.patch(record["id"], {"N": 1})).json()
    for stale in ('"1"', '"3"', "99"):
        for method, body in (("PATCH", {"fields": {"N": 5}}), ("PUT", {"fields": {}})):
            response = await t.write(
                method, f"/records/{record['id']}", body, headers={"If-Match": stale}
            )
            details = assert_error(response, 409, "CONFLICT")
            assert details["current"] == current
    assert await t.get(record["id"]) == current


async def test_a_malformed_if_match_is_422(api: Api) -> None:
    """If-Match must name a version such as "7"."""
    t = await new_table(api)
    record = await t.create({"N": 0})
    for header in ("abc", '"x"', "1, 2", '"-1"'):
        response = await t.patch(record["id"], {"N": 1}, if_match=header)
        assert "If-Match" in bad_fields(response), header
        response = await t.write("DELETE", f"/records/{record['id']}", headers={"If-Match": header})
        assert_error(response, 422, "VALIDATION_ERROR")
    assert (await t.get(record["id"]))["version"] == 1


async def test_delete_with_a_stale_if_match_is_409_and_keeps_the_record(api: Api) -> None:
    """DELETE honours If-Match: a stale version is 409 and the record stays."""
    t = await new_table(api)
    record = await t.create({"N": 0})
    current = (await t.patch(record["id"], {"N": 1})).json()
    response = await t.write("DELETE", f"/records/{record['id']}", headers={"If-Match": '"1"'})
    assert assert_error(response, 409, "CONFLICT")["current"] == current
    assert await t.get(record["id"]) == current
    response = await t.write("DELETE", f"/records/{record['id']}", headers={"If-Match": '"2"'})
    assert response.status_code == 204, response.text


async def test_two_concurrent_patches_with_one_if_match_let_exactly_one_through(
    api: Api,
) -> None:
    """Round after round, two PATCHes sent at once with the same If-Match: one 200, one 409
    whose details.current is the winner's answer; the version grows by exactly one."""
    t = await new_table(api)
    record = await t.create({"N": 0})
    rid = record["id"]

    async def patch(answers: dict[int, httpx2.Response], value: int, version: int) -> None:
        answers[value] = await t.patch(rid, {"N": value}, if_match=f'"{version}"')

    for round_number in range(6):
        version = round_number + 1
        answers: dict[int, httpx2.Response] = {}
        async with anyio.create_task_group() as group:
            group.start_soon(patch, answers, 100 + round_number, version)
            group.start_soon(patch, answers, 200 + round_number, version)

        statuses = sorted(response.status_code for response in answers.values())
        assert statuses == [200, 409], [r.text for r in answers.values()]
        (winner,) = [r.json() for r in answers.values() if r.status_code == 200]
        (loser,) = [r for r in answers.values() if r.status_code == 409]
        assert assert_error(loser, 409, "CONFLICT")["current"] == winner
        assert winner["version"] == version + 1
        assert await t.get(rid) == winner


# --- idempotency -----------------------------------------------------------------------------


async def test_an_idempotent_create_replays_its_answer_and_creates_nothing_more(
    api: Api,
) -> None:
    """The same POST with the same key answers the same status and body, marked replayed; the
    record count and the event log stay as after the first."""
    t = await new_table(api)
    body = {"table_id": t.id, "fields": {"Name": "once"}}
    first = await t.write("POST", "/records", body, headers={"Idempotency-Key": "create-1"})
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    after_first = await t.snapshot()
    for _ in range(2):
        again = await t.write("POST", "/records", body, headers={"Idempotency-Key": "create-1"})
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
    assert await t.snapshot() == after_first
    assert after_first["record_count"] == 1


async def test_an_idempotent_patch_replay_changes_nothing_even_after_later_writes(
    api: Api,
) -> None:
    """Replaying a PATCH answers the stored answer (the old version) and leaves the record as
    later writes made it."""
    t = await new_table(api)
    record = await t.create({"N": 0})
    first = await t.patch(record["id"], {"N": 1}, idempotency_key="patch-1")
    assert first.json()["version"] == 2
    later = (await t.patch(record["id"], {"N": 7})).json()
    before = await t.snapshot()
    again = await t.patch(record["id"], {"N": 1}, idempotency_key="patch-1")
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await t.get(record["id"]) == later
    assert await t.snapshot() == before


async def test_an_idempotent_delete_replays_204(api: Api) -> None:
    """A repeated DELETE with its key is 204 again (replayed), not 404."""
    t = await new_table(api)
    record = await t.create({"N": 0})
    path = f"/records/{record['id']}"
    first = await t.write("DELETE", path, headers={"Idempotency-Key": "delete-1"})
    assert first.status_code == 204
    again = await t.write("DELETE", path, headers={"Idempotency-Key": "delete-1"})
    assert again.status_code == 204
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == b""


async def test_reusing_a_key_with_another_body_is_422_idempotency_key_reused(api: Api) -> None:
    """The same key with another body (or another route) is 422 IDEMPOTENCY_KEY_REUSED and
    writes nothing."""
    t = await new_table(api)
    key = {"Idempotency-Key": "reused"}
    first = await t.write("POST", "/records", {"table_id": t.id, "fields": {"N": 1}}, headers=key)
    assert first.status_code == 201
    before = await t.snapshot()
    other_body = await t.write(
        "POST", "/records", {"table_id": t.id, "fields": {"N": 2}}, headers=key
    )
    assert_error(other_body, 422, "IDEMPOTENCY_KEY_REUSED")
    other_route = await t.write(
        "PATCH", f"/records/{first.json()['id']}", {"fields": {"N": 1}}, headers=key
    )
    assert_error(other_route, 422, "IDEMPOTENCY_KEY_REUSED")
    assert await t.snapshot() == before


async def test_idempotency_keys_are_per_user(api: Api) -> None:
    """Another user's request with the same key and body is their own write, not a replay."""
    t = await new_table(api)
    editor = await api.actor()
    await api.add_member(t.owner, t.workspace_id, editor, "editor")
    body = {"table_id": t.id, "fields": {"Name": "same"}}
    key = {"Idempotency-Key": "shared-key"}
    mine = await t.write("POST", "/records", body, headers=key)
    theirs = await t.write("POST", "/records", body, actor=editor, headers=key)
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["id"] != mine.json()["id"]
    assert theirs.json()["created_by"] == editor.id
    assert (await t.snapshot())["record_count"] == 2


async def test_an_idempotency_key_longer_than_255_characters_is_422(api: Api) -> None:
    """Keys are 1 to 255 characters; others are refused before anything is written."""
    t = await new_table(api)
    body = {"table_id": t.id, "fields": {}}
    too_long = await t.write("POST", "/records", body, headers={"Idempotency-Key": "k" * 256})
    assert_error(too_long, 422, "VALIDATION_ERROR")
    empty = await t.write("POST", "/records", body, headers={"Idempotency-Key": ""})
    assert_error(empty, 422, "VALIDATION_ERROR")
    assert (await t.snapshot())["record_count"] == 0
    longest = await t.write("POST", "/records", body, headers={"Idempotency-Key": "k" * 255})
    assert longest.status_code == 201, longest.text


async def test_a_failed_write_is_not_stored_under_its_key(api: Api) -> None:
    """Only successes are remembered: after a 422, the same key with a fixed body succeeds."""
    t = await new_table(api)
    key = {"Idempotency-Key": "retry-me"}
    bad = await t.write("POST", "/records", {"table_id": t.id, "fields": {"N": "x"}}, headers=key)
    assert_error(bad, 422, "VALIDATION_ERROR")
    again = await t.write("POST", "/records", {"table_id": t.id, "fields": {"N": "x"}}, headers=key)
    assert_error(again, 422, "VALIDATION_ERROR")
    assert "Idempotent-Replayed" not in again.headers
    good = await t.write("POST", "/records", {"table_id": t.id, "fields": {"N": 1}}, headers=key)
    assert good.status_code == 201, good.text


async def test_concurrent_requests_with_one_key_create_exactly_one_record(api: Api) -> None:
    """Five identical POSTs sent at once with one key: one record, one event, five equal
    answers of which all but one are marked replayed."""
    t = await new_table(api)
    body = {"table_id": t.id, "fields": {"Name": "racy"}}
    answers: list[httpx2.Response] = []

    async def send() -> None:
        answers.append(await t.write("POST", "/records", body, headers={"Idempotency-Key": "race"}))

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(send)

    assert [r.status_code for r in answers] == [201] * 5, [r.text for r in answers]
    assert len({r.text for r in answers}) == 1
    assert sum("Idempotent-Replayed" not in r.headers for r in answers) == 1
    after = await t.snapshot()
    assert after["record_count"] == 1
    assert [r["id"] for r in after["records"]] == [answers[0].json()["id"]]
    created = await events_of(api, t.owner, table_id=t.id, channel="record")
    assert [e["type"] for e in created] == ["record.created"]


# --- batches ---------------------------------------------------------------------------------


async def test_batch_create_answers_201_and_the_records_in_order(api: Api) -> None:
    """POST /records/batch creates every record, numbered in order, with one event each."""
    t = await new_table(api)
    before = await t.snapshot()
    response = await t.write(
        "POST",
        "/records/batch",
        {"table_id": t.id, "records": [{"fields": {"Name": f"r{n}"}} for n in range(3)]},
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert set(response.json()) == {"data"}
    assert [r["fields"]["Name"] for r in data] == ["r0", "r1", "r2"]
    assert [r["fields"]["No"] for r in data] == [1, 2, 3]
    assert all(set(r) == RECORD_KEYS and r["version"] == 1 for r in data)
    after = await t.snapshot()
    assert after["record_count"] == 3
    assert after["records"] == data
    assert len(after["events"]) == len(before["events"]) + 3


async def test_batch_update_merges_each_record_and_answers_them_in_request_order(
    api: Api,
) -> None:
    """PATCH /records/batch merges fields per record; unchanged records keep their version."""
    t = await new_table(api)
    a, b, c = [await t.create({"Name": name, "N": 1}) for name in "abc"]
    response = await t.write(
        "PATCH",
        "/records/batch",
        {
            "table_id": t.id,
            "records": [
                {"id": c["id"], "fields": {"N": 3}},
                {"id": a["id"], "fields": {"N": 1}},
                {"id": b["id"], "fields": {"Name": "bee"}},
            ],
        },
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [r["id"] for r in data] == [c["id"], a["id"], b["id"]]
    assert [r["version"] for r in data] == [2, 1, 2]
    assert [r["fields"]["Name"] for r in data] == ["c", "a", "bee"]
    assert [r["fields"]["N"] for r in data] == [3, 1, 1]
    for record in data:
        assert await t.get(record["id"]) == record


async def test_batch_delete_answers_the_deleted_ids(api: Api) -> None:
    """POST /records/batch-delete removes every record and answers {id, deleted: true} each."""
    t = await new_table(api)
    a, b, c = [await t.create({"Name": name}) for name in "abc"]
    response = await t.write(
        "POST", "/records/batch-delete", {"table_id": t.id, "ids": [b["id"], a["id"]]}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "data": [{"id": b["id"], "deleted": True}, {"id": a["id"], "deleted": True}]
    }
    after = await t.snapshot()
    assert after["record_count"] == 1
    assert [r["id"] for r in after["records"]] == [c["id"]]


async def test_batches_hold_at_most_100_records(api: Api) -> None:
    """101 items in any batch is 422 and writes nothing; 100 is fine; an empty batch is 422."""
    t = await new_table(api)
    created = await t.write(
        "POST",
        "/records/batch",
        {"table_id": t.id, "records": [{"fields": {"N": n}} for n in range(100)]},
    )
    assert created.status_code == 201, created.text
    ids = [r["id"] for r in created.json()["data"]]
    before = await t.snapshot()
    too_many: list[tuple[str, str, JSON]] = [
        ("POST", "/records/batch", {"table_id": t.id, "records": [{"fields": {}}] * 101}),
        (
            "PATCH",
            "/records/batch",
            {
                "table_id": t.id,
                "records": [{"id": rid, "fields": {"N": -1}} for rid in ids]
                + [{"id": ids[0], "fields": {}}],
            },
        ),
        ("POST", "/records/batch-delete", {"table_id": t.id, "ids": [*ids, ids[0]]}),
        ("POST", "/records/batch", {"table_id": t.id, "records": []}),
        ("PATCH", "/records/batch", {"table_id": t.id, "records": []}),
        ("POST", "/records/batch-delete", {"table_id": t.id, "ids": []}),
    ]
    for method, path, body in too_many:
        assert_error(await t.write(method, path, body), 422, "VALIDATION_ERROR")
    assert await t.snapshot() == before
    deleted = await t.write("POST", "/records/batch-delete", {"table_id": t.id, "ids": ids})
    assert deleted.status_code == 200, deleted.text


async def test_one_bad_record_fails_the_whole_batch_create(api: Api) -> None:
    """A batch with one invalid record writes nothing; the error names records.N.<field>."""
    t = await new_table(api)
    before = await t.snapshot()
    response = await t.write(
        "POST",
        "/records/batch",
        {
            "table_id": t.id,
            "records": [
                {"fields": {"N": 1}},
                {"fields": {"N": 2}},
                {"fields": {"N": "three"}},
                {"fields": {"Nope": 1}},
            ],
        },
    )
    # Every bad record is named, not only the first.
    assert bad_fields(response) == {
        "records.2.N": "must be a number",
        "records.3.Nope": "unknown field",
    }
    assert await t.snapshot() == before
    unknown = await t.write(
        "POST",
        "/records/batch",
        {"table_id": t.id, "records": [{"fields": {"N": 1}}, {"fields": {"Nope": 1}}]},
    )
    assert bad_fields(unknown) == {"records.1.Nope": "unknown field"}
    assert await t.snapshot() == before


async def test_one_bad_record_fails_the_whole_batch_update(api: Api) -> None:
    """A batch update with one invalid value changes no record."""
    t = await new_table(api)
    a, b = [await t.create({"N": n}) for n in (1, 2)]
    before = await t.snapshot()
    response = await t.write(
        "PATCH",
        "/records/batch",
        {
            "table_id": t.id,
            "records": [
                {"id": a["id"], "fields": {"N": 10}},
                {"id": b["id"], "fields": {"N": "x"}},
            ],
        },
    )
    assert set(bad_fields(response)) == {"records.1.N"}
    assert await t.snapshot() == before


async def test_batch_update_or_delete_with_a_foreign_or_unknown_id_changes_nothing(
    api: Api,
) -> None:
    """An id that is no record of this table (unknown, or another table's) fails the batch."""
    t = await new_table(api)
    mine = await t.create({"N": 1})
    other_table = await api.table(t.owner, t.table["base_id"], FIELDS)
    other = Table(api, t.owner, other_table, t.workspace_id)
    theirs = await other.create({"N": 1})
    before, other_before = await t.snapshot(), await other.snapshot()
    for stranger in (theirs["id"], "recDoesNotExist00000", "not-an-id", "rec\x00"):
        update = await t.write(
            "PATCH",
            "/records/batch",
            {
                "table_id": t.id,
                "records": [
                    {"id": mine["id"], "fields": {"N": 5}},
                    {"id": stranger, "fields": {"N": 5}},
                ],
            },
        )
        assert_error(update, 422, "VALIDATION_ERROR")
        assert set(bad_fields(update)) == {"records"}  # the key the body used
        delete = await t.write(
            "POST", "/records/batch-delete", {"table_id": t.id, "ids": [mine["id"], stranger]}
        )
        assert_error(delete, 422, "VALIDATION_ERROR")
        assert set(bad_fields(delete)) == {"ids"}
    assert await t.snapshot() == before
    assert await other.snapshot() == other_before


async def test_duplicate_ids_in_a_batch_are_422(api: Api) -> None:
    """The same record twice in a batch update or delete is 422 and changes nothing."""
    t = await new_table(api)
    record = await t.create({"N": 1})
    before = await t.snapshot()
    update = await t.write(
        "PATCH",
        "/records/batch",
        {
            "table_id": t.id,
            "records": [
                {"id": record["id"], "fields": {"N": 2}},
                {"id": record["id"], "fields": {"N": 3}},
            ],
        },
    )
    assert_error(update, 422, "VALIDATION_ERROR")
    delete = await t.write(
        "POST", "/records/batch-delete", {"table_id": t.id, "ids": [record["id"], record["id"]]}
    )
    assert_error(delete, 422, "VALIDATION_ERROR")
    assert await t.snapshot() == before


# --- what a write may not contain ------------------------------------------------------------


async def test_unknown_fields_are_422(api: Api) -> None:
    """A field the table lacks is 422 naming it, on create, PATCH and PUT."""
    t = await new_table(api)
    record = await t.create({"N": 1})
    before = await t.snapshot()
    path = f"/records/{record['id']}"
    writes: list[tuple[str, str, JSON]] = [
        ("POST", "/records", {"table_id": t.id, "fields": {"Nope": 1}}),
        ("PATCH", path, {"fields": {"N": 2, "Nope": 1}}),
        ("PUT", path, {"fields": {"Nope": 1}}),
    ]
    for method, route, body in writes:
        assert bad_fields(await t.write(method, route, body)) == {"Nope": "unknown field"}
    assert await t.snapshot() == before


async def test_computed_fields_are_read_only(api: Api) -> None:
    """Writing an autonumber or created_time value is 422 naming the field."""
    t = await new_table(api)
    record = await t.create({"N": 1})
    before = await t.snapshot()
    for fields in ({"No": 5}, {"Created": "2024-01-01T00:00:00Z"}):
        assert set(fields) == set(
            bad_fields(await t.write("POST", "/records", {"table_id": t.id, "fields": fields}))
        )
        assert set(fields) == set(bad_fields(await t.patch(record["id"], fields)))
    assert await t.snapshot() == before


async def test_links_must_point_at_records_of_the_linked_table(api: Api) -> None:
    """A reference to a missing record, or to a record of another table, is 422 naming the
    field; links to real records of the linked table are kept."""
    people = await new_table(api, [{"name": "Name", "type": "text"}])
    owner = people.owner
    person = await people.create({"Name": "A"})
    linking = await api.table(
        owner,
        people.table["base_id"],
        [
            {"name": "Title", "type": "text"},
            {"name": "Who", "type": "reference", "options": {"referenced_table_id": people.id}},
        ],
    )
    t = Table(api, owner, linking, people.workspace_id)
    own = await t.create({"Title": "self"})
    record = await t.create({"Title": "ok", "Who": [person["id"]]})
    assert record["fields"]["Who"] == [person["id"]]
    before = await t.snapshot()
    for links in (["recDoesNotExist00000"], [person["id"], "recDoesNotExist00000"], [own["id"]]):
        response = await t.write("POST", "/records", {"table_id": t.id, "fields": {"Who": links}})
        assert set(bad_fields(response)) == {"Who"}
        assert set(bad_fields(await t.patch(record["id"], {"Who": links}))) == {"Who"}
        batch = await t.write(
            "POST",
            "/records/batch",
            {"table_id": t.id, "records": [{"fields": {}}, {"fields": {"Who": links}}]},
        )
        assert_error(batch, 422, "VALIDATION_ERROR")
    assert await t.snapshot() == before
