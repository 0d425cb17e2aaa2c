"""Property-based fuzzing of the API from its own OpenAPI document, with schemathesis.

Per database (SQLite, then PostgreSQL), against one running server:

- ``test_operation``: one item per operation of the document. schemathesis' coverage phase
  (boundary and invalid values, missing or garbled credentials, unsupported methods), then its
  fuzzing phase (``FUZZ_EXAMPLES`` generated requests, valid and invalid).
- ``test_workflows``: schemathesis' stateful phase: ``WORKFLOW_SCENARIOS`` chains of calls along the
  links it infers from the document (``POST /workspaces`` -> ``GET|PUT|DELETE
  /workspaces/{workspace_id}``, a user id from ``GET /auth/me`` -> ``POST .../members``, ...).

Every answer must pass schemathesis' own checks (``CHECKS``): no 5xx, a documented status code,
content type and headers, a body matching the documented schema, invalid input refused (413,
the contract's answer to a body over the size limit, counts as refused too), authentication
enforced where the document requires it; in workflows also that a created resource can be read
and a deleted one cannot. (``positive_data_acceptance`` is left out: the server refuses
valid-looking input the document cannot describe, such as control characters in names,
``user_id`` and ``email`` together, a wrong current password, or an unknown field name.)

What schemathesis generates from differs from the served document in two ways: the recursive
filter group is spelled out two levels deep (``_with_bounded_recursion``), and the Server-Sent
Events stream ``GET /events`` is left out (an accepted stream never ends, so there is no answer
to check; ``test_realtime_sse.py`` covers it with real sockets). And query values that
are "invalid" only by their generated type are handed to schemathesis as the server reads them
(``read_as_sent``): the query string has no types.

The server is a real uvicorn on a free port, in a thread. schemathesis can drive the ASGI app
in-process, but it then runs the app's lifespan in a process-wide portal that stays open until the
interpreter exits, so the database pool would outlive the test (and the throwaway PostgreSQL
database it points at). The fuzzed document is built from the app at import time, so that pytest
can collect one item per operation; the fixture checks that the server serves exactly that.

Authentication: a ``requests`` auth object puts the current actor's bearer token on every request
schemathesis generates, except where it removed or garbled the credentials on purpose (those
probe the 401 paths). In ``test_operation`` the actor is one registered user for the whole run,
and a hook swaps generated values for real ones part of the time, so workspace-, member- and
data-scoped routes get past the lookup: a workspace the fuzzer owns (``mine``), one where it is
a viewer (``shared``: 403 for writes), one it is not a member of (``foreign``: 404), the ids and
emails of those users, its own access token for ``/auth/validate``, its password for
``/auth/change-password``. Each of the three workspaces holds a data set (``create_data``): a
base with a table of text, number, select, multiselect, checkbox, date and self-reference
fields, three records (one linking to another), a view and a file. Per case the hook picks one
data set and draws the ids (base, table, field, view, record, file, batch ``ids``) from it, so that
they belong together, plus field names and values, sorts, filters, field options, batch items,
``If-Match`` versions and an ``Idempotency-Key`` shared by all writes (replays and
``IDEMPOTENCY_KEY_REUSED``).

Operations that pull the ground from under the run are fuzzed like any other; ``Target.observe``
restores the fixture state after them:

- ``POST /auth/logout`` answering 204 may have ended the actor's session: log in again.
- ``POST /auth/change-password`` answering 204 (the hook sends the real current password part of
  the time): remember the new password for those logins.
- ``DELETE /workspaces/{id}`` and member changes that succeed may have deleted the real workspaces
  or changed the fuzzer's role in them: set up a fresh pair (with their data sets) and swap in
  their ids from then on.
- A successful delete of a base, table, field, view or record(s), or a field change (a rename
  or new type makes the real names and values stale), by the fuzzer: a fresh data set in
  ``mine``.
- ``/auth/refresh`` and ``/auth/logout`` get the refresh token of a spare session of the fuzzer,
  so rotating it, replaying it (which revokes that session) or ending it never touches the session
  whose access token the run uses.

Workflows start every scenario as a fresh user, and make the emails they register unique to the
scenario, so that each scenario sees the same answers whenever Hypothesis draws the same steps;
state carried over from earlier scenarios would make the drawn steps depend on it, which
Hypothesis refuses (``FlakyStrategyDefinition``).

Runs are deterministic (``derandomize``) and keep no example database (``database=None``).
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias

import httpx2
import hypothesis
import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from requests.structures import CaseInsensitiveDict
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
    use_after_free,
)

from pyairtable_server.app import API_PREFIX, create_app
from pyairtable_server.settings import Settings

from .backend import FAST_SETTINGS, PASSWORD, PostgresDatabase, build_settings

pytestmark = pytest.mark.fuzz

# Generated requests per operation in the fuzzing phase (the coverage phase adds its own).
FUZZ_EXAMPLES = 50
# Stateful scenarios per database, each a chain of at most WORKFLOW_MAX_STEPS calls.
WORKFLOW_SCENARIOS = 100
WORKFLOW_MAX_STEPS = 10

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    ignored_auth,
]
WORKFLOW_CHECKS = [*CHECKS, use_after_free, ensure_resource_availability]

# The statuses schemathesis takes as "refused" for invalid input, unless told otherwise.
REFUSALS: list[str] = schemathesis.Config.from_dict(
    {}
).projects.default.checks.negative_data_rejection.expected_statuses

# The document the server serves, built without touching disk or database.
DOCUMENT: dict[str, Any] = create_app(
    Settings(**{**FAST_SETTINGS, "database_url": "sqlite+aiosqlite:///:memory:"})
).openapi()


def _with_bounded_recursion(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of the document whose self-referencing schemas nest only one level deep.

    ``FilterGroup`` holds conditions or further groups. When schemathesis breaks its
    ``maxItems`` (200) to make invalid input, the broken schema applies at every level of the
    recursion: 201 groups of 201 groups of ..., millions of objects that take minutes to
    generate, validate and send, only to be refused with 413. So the fuzzed copy spells the
    schema out twice: the outer group's groups are a copy of it whose own groups are only
    "an object" (of the schema's type). That accepts everything the real schema does, so
    what it calls invalid is invalid for the server too; only deeper valid nesting is not
    generated (the server refuses nesting deeper than a few levels anyway). Answers are checked
    against these schemas too, so none may use them (asserted).
    """
    document = copy.deepcopy(document)
    schemas: dict[str, Any] = document["components"]["schemas"]
    answered = _refs(
        [op.get("responses") for item in document["paths"].values() for op in item.values()],
        schemas,
    )
    for name, definition in list(schemas.items()):
        ref = f"#/components/schemas/{name}"
        if _replace_ref(definition, ref, {}) == definition:
            continue  # not recursive
        assert name not in answered, f"{name} is in an answer: its checks would be weakened"
        nested_ref = f"{ref}Nested"
        shallow = {"type": definition["type"]} if "type" in definition else {}
        schemas[f"{name}Nested"] = _replace_ref(definition, ref, shallow)
        schemas[name] = _replace_ref(definition, ref, {"$ref": nested_ref})
    return document


def _refs(value: Any, schemas: Mapping[str, Any]) -> set[str]:
    """The names of the component schemas that ``value`` uses, directly or through others."""
    found: set[str] = set()
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            name = ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None
            if name is not None and name not in found:
                found.add(name)
                pending.append(schemas.get(name))
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


def _replace_ref(value: Any, ref: str, replacement: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        if value.get("$ref") == ref:
            return copy.deepcopy(replacement)
        return {key: _replace_ref(item, ref, replacement) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_ref(item, ref, replacement) for item in value]
    return value


schema = schemathesis.openapi.from_dict(
    _with_bounded_recursion(DOCUMENT),  # a copy: schemathesis also edits the dict it loads
    config=schemathesis.Config.from_dict(
        {
            "generation": {
                "max-examples": FUZZ_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"stateful": {"max-steps": WORKFLOW_MAX_STEPS}},
            # Invalid input is refused with any of schemathesis' usual statuses or with 413: a
            # negative body can be far beyond the 10 MiB limit (a string over ``maxLength`` of
            # 100,000 characters in each of hundreds of list items), and the contract answers
            # that, like any body over the limit, with 413 PAYLOAD_TOO_LARGE.
            "checks": {"negative_data_rejection": {"expected-statuses": [*REFUSALS, "413"]}},
        }
    ),
    # An accepted event stream never ends, so there is no response to check; the stream's
    # refusals and frames are tested with real sockets in test_realtime_sse.py.
).exclude(method="GET", path="/events")


Case: TypeAlias = schemathesis.Case[Any]


@dataclass
class Identity:
    """A registered user and the credentials the fuzzer holds for them."""

    user_id: str
    email: str
    password: str
    token: str


# The fuzzed table's fields: every kind of value a record write validates differently. The first
# is the primary field; "Parent" (a link to the table itself) is added once the table exists.
TABLE_FIELDS: list[dict[str, Any]] = [
    {"name": "Name", "type": "text"},
    {"name": "Score", "type": "number", "options": {"precision": 2}},
    {"name": "Status", "type": "select", "options": {"choices": ["Open", "Done"]}},
    {"name": "Tags", "type": "multiselect", "options": {"choices": ["red", "blue"]}},
    {"name": "Active", "type": "checkbox"},
    {"name": "Due", "type": "date"},
]
RECORD_FIELDS: list[dict[str, Any]] = [
    {"Name": "Alpha", "Score": 1.5, "Status": "Open", "Tags": ["red"], "Active": True},
    {"Name": "Beta", "Score": 7, "Status": "Done", "Tags": ["red", "blue"], "Due": "2024-01-31"},
    {"Name": "Gamma", "Active": False},
]
SORT = [{"field": "Score", "direction": "desc"}, {"field": "Name", "direction": "asc"}]
FILTER = {
    "conjunction": "or",
    "conditions": [
        {"field": "Status", "operator": "equals", "value": "Open"},
        {
            "conjunction": "and",
            "conditions": [
                {"field": "Score", "operator": "greater_than", "value": 2},
                {"field": "Tags", "operator": "contains", "value": "blue"},
            ],
        },
    ],
}


@dataclass
class DataSet:
    """A base in a workspace with one table (``TABLE_FIELDS`` and "Parent"), records, a view."""

    workspace_id: str
    base_id: str
    table_id: str
    field_ids: dict[str, str]  # by name
    record_ids: list[str]
    view_id: str
    file_id: str


class Target:
    """The running server, its users and workspaces, and the real values the hooks draw from."""

    def __init__(self, base_url: str, client: httpx2.Client) -> None:
        self.base_url = base_url
        self.client = client
        self.session = requests.Session()
        self.me = self.register("fuzzer")
        self.peer = self.register("peer")
        self.stranger = self.register("stranger")
        # Whose token the requests carry: ``me``, or a fresh user per workflow scenario.
        self.actor = self.me
        self.scenarios = itertools.count(1)
        self.scenario = 0
        # A second session of the fuzzer's, for /auth/refresh and /auth/logout to use up.
        self.spare_refresh_token = self._login(self.me.email, self.me.password)["refresh_token"]
        self.foreign = self.create_workspace(self.stranger, "Foreign")
        self.foreign_data = self.create_data(self.stranger, self.foreign)
        self.mine = self.shared = ""
        self.mine_data = self.shared_data = self.foreign_data
        self.reset_workspaces()

    def register(self, name: str) -> Identity:
        """A new user, logged in."""
        email = f"{name}-{secrets.token_hex(4)}@example.com"
        response = self.client.post(
            "/auth/register",
            json={"email": email, "password": PASSWORD, "first_name": name, "last_name": "Fuzz"},
        )
        assert response.status_code == 201, response.text
        token = self._login(email, PASSWORD)["access_token"]
        return Identity(str(response.json()["id"]), email, PASSWORD, token)

    def reset_workspaces(self) -> None:
        """Fresh workspaces: ``mine`` (fuzzer owner, peer editor), ``shared`` (fuzzer viewer)."""
        self.mine = self.create_workspace(self.me, "Mine")
        self.add_member(self.me, self.mine, self.peer, "editor")
        self.shared = self.create_workspace(self.peer, "Shared")
        self.add_member(self.peer, self.shared, self.me, "viewer")
        self.shared_data = self.create_data(self.peer, self.shared)
        self.reset_data()

    def reset_data(self) -> None:
        """A fresh data set in ``mine``; whatever the fuzzer left of the old one stays there."""
        self.mine_data = self.create_data(self.me, self.mine)

    def data_sets(self) -> list[DataSet]:
        """The data sets a case draws its ids from: ``mine`` (where the fuzzer may change
        anything: twice, so that half the cases reach past the access checks), ``shared`` (it
        may only read: 403 for writes), ``foreign`` (404)."""
        return [self.mine_data, self.mine_data, self.shared_data, self.foreign_data]

    def real_values(self, data: DataSet) -> dict[str, list[Any]]:
        """Real values for parameters, headers and body fields, by name; the ids from ``data``.

        One data set per case, so that a table id and the record ids of a batch, say, belong
        together. Besides ids: field names and values, sorts and filters on them (as JSON text
        for the query string, as JSON for bodies), field options, batch items. The hook only
        uses a value of the generated one's JSON shape.
        """
        first, second, *_ = data.record_ids
        values = [*RECORD_FIELDS, {"Parent": [first]}, {"Score": None, "Tags": []}]
        return {
            "workspace_id": [data.workspace_id],
            "resource_id": [data.workspace_id],
            "user_id": [self.me.user_id, self.peer.user_id, self.stranger.user_id],
            "email": [self.me.email, self.peer.email, self.stranger.email],
            "token": [self.me.token],
            "refresh_token": [self.spare_refresh_token],
            "current_password": [self.me.password],
            "base_id": [data.base_id],
            "table_id": [data.table_id],
            "field_id": list(data.field_ids.values()),
            "primary_field_id": list(data.field_ids.values()),
            "view_id": [data.view_id],
            "record_id": data.record_ids,
            "file_id": [data.file_id],
            "ids": [[first], [first, second], data.record_ids],
            # GET /records and POST /records/query take field names or ids; writes take values.
            "fields": [["Name", "Score"], list(data.field_ids.values()), *values],
            "sort": [json.dumps(SORT), SORT],
            "filter": [json.dumps(FILTER), FILTER],
            "configuration": [{"visible_fields": ["Name", "Status"], "sorts": SORT[:1]}],
            "options": [
                {"choices": ["Open", "Done", "Later"]},
                {"precision": 0},
                {"referenced_table_id": data.table_id},
            ],
            "records": [
                [{"fields": fields} for fields in RECORD_FIELDS],
                [{"id": first, "fields": {"Score": 3}}, {"id": second, "fields": {"Tags": []}}],
            ],
            "channel": [["record"], ["record", "field", "view"]],
            # The records start at version 1, the second one is at 2 (it links to the first).
            "If-Match": ['"1"', '"2"', "*"],
            # One key for every write: the same request again replays, another one is refused.
            "Idempotency-Key": ["fuzz-replay"],
        }

    def observe(self, case: Case, status: int) -> None:
        """Restore what a successful call may have taken away (see the module docstring)."""
        if not 200 <= status < 300:
            return
        actor = self.actor
        method, path = case.method.upper(), case.operation.path.removeprefix(API_PREFIX)
        if (method, path) == ("POST", "/auth/logout"):
            actor.token = self._login(actor.email, actor.password)["access_token"]
        elif (method, path) == ("POST", "/auth/change-password"):
            assert isinstance(case.body, dict)
            actor.password = str(case.body["new_password"])
        elif actor is self.me and (method, path) in {
            ("DELETE", "/workspaces/{workspace_id}"),
            ("PATCH", "/workspaces/{workspace_id}/members/{user_id}"),
            ("DELETE", "/workspaces/{workspace_id}/members/{user_id}"),
        }:
            self.reset_workspaces()
        elif actor is self.me and (method, path) in _DATA_CHANGES:
            self.reset_data()

    def _login(self, email: str, password: str) -> dict[str, Any]:
        response = self.client.post("/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def create_workspace(self, owner: Identity, name: str) -> str:
        response = self.client.post("/workspaces", json={"name": name}, headers=_bearer(owner))
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def add_member(self, owner: Identity, workspace_id: str, member: Identity, role: str) -> None:
        self.call(
            owner,
            "POST",
            f"/workspaces/{workspace_id}/members",
            {"user_id": member.user_id, "role": role},
        )

    def create_data(self, owner: Identity, workspace_id: str) -> DataSet:
        """A base, a table with ``TABLE_FIELDS`` and a link to itself, records, a view."""
        base = self.call(owner, "POST", "/bases", {"workspace_id": workspace_id, "name": "Data"})
        table = self.call(
            owner,
            "POST",
            "/tables",
            {"base_id": base["id"], "name": "Items", "fields": TABLE_FIELDS},
        )
        link = {"table_id": table["id"], "name": "Parent", "type": "reference"}
        self.call(
            owner, "POST", "/fields", {**link, "options": {"referenced_table_id": table["id"]}}
        )
        records = self.call(
            owner,
            "POST",
            "/records/batch",
            {"table_id": table["id"], "records": [{"fields": f} for f in RECORD_FIELDS]},
        )
        record_ids = [str(record["id"]) for record in records["data"]]
        # Deleting the first record then unlinks it from the second.
        self.call(
            owner, "PATCH", f"/records/{record_ids[1]}", {"fields": {"Parent": record_ids[:1]}}
        )
        view = self.call(
            owner,
            "POST",
            "/views",
            {
                "table_id": table["id"],
                "name": "Open first",
                "configuration": {"visible_fields": ["Name", "Score", "Status"], "sorts": SORT},
            },
        )
        fields = self.call(owner, "GET", f"/tables/{table['id']}", None)["fields"]
        uploaded = self.client.post(
            "/files/upload",
            files={"file": ("notes.txt", b"0123456789", "text/plain")},
            data={"table_id": table["id"]},
            headers=_bearer(owner),
        )
        assert uploaded.status_code == 201, uploaded.text
        return DataSet(
            workspace_id=workspace_id,
            base_id=str(base["id"]),
            table_id=str(table["id"]),
            field_ids={str(f["name"]): str(f["id"]) for f in fields},
            record_ids=record_ids,
            view_id=str(view["id"]),
            file_id=str(uploaded.json()["file"]["id"]),
        )

    def call(self, identity: Identity, method: str, path: str, body: Any) -> dict[str, Any]:
        """A set-up request as ``identity``, which must succeed; its JSON answer, if any."""
        response = self.client.request(method, path, json=body, headers=_bearer(identity))
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        answer: dict[str, Any] = response.json() if response.content else {}
        return answer


# Successful calls that take away (or rename) what ``real_values`` hands out from ``mine``.
_DATA_CHANGES = frozenset(
    {
        ("DELETE", "/bases/{base_id}"),
        ("DELETE", "/tables/{table_id}"),
        ("DELETE", "/fields/{field_id}"),
        ("PUT", "/fields/{field_id}"),
        ("DELETE", "/views/{view_id}"),
        ("DELETE", "/records/{record_id}"),
        ("POST", "/records/batch-delete"),
        ("DELETE", "/files/{file_id}"),
    }
)


def _bearer(identity: Identity) -> dict[str, str]:
    return {"Authorization": f"Bearer {identity.token}"}


# The target of the items now running. The auth object and the hooks are bound to the
# module-level schema at import time, so they reach the per-database target through this slot.
_current: list[Target] = []


def current_target() -> Target:
    assert _current, "the fuzz target fixture is not active"
    return _current[-1]


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """Run the app under uvicorn on a free local port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    config = uvicorn.Config(
        create_app(settings), log_config=None, access_log=False, ws="none", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="module")
def target(
    backend: PostgresDatabase | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """One server per database for all fuzz items (``make_settings`` would start one per item)."""
    if backend is not None:
        backend.truncate()
    settings = build_settings(
        backend.url if backend is not None else None, tmp_path_factory.mktemp("fuzz")
    )
    with serving(settings) as base_url, httpx2.Client(base_url=base_url + API_PREFIX) as client:
        served = client.get("/openapi.json")
        assert served.status_code == 200
        assert served.json() == DOCUMENT, "the fuzzed document differs from the served one"
        fuzz_target = Target(base_url, client)
        _current.append(fuzz_target)
        try:
            yield fuzz_target
        finally:
            _current.pop()
            fuzz_target.session.close()


class ActorAuth(requests.auth.AuthBase):
    """The actor's bearer token, read as each request is sent: logging out replaces it."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {current_target().actor.token}"
        return request


schema.auth.set_from_requests(ActorAuth())

# Headers that frame the HTTP message or steer the connection. Generated values for them (a
# Content-Length that lies, a bogus Transfer-Encoding) make the request malformed HTTP, which
# uvicorn refuses with a plain-text 400 before the app sees it, or waits on for bytes that never
# come: that would fuzz the HTTP server, not this API. Every other generated header is sent.
_TRANSPORT_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "expect"}
    | {"te", "trailer", "host"}
)


def _query_parameter_types(document: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, str]]:
    """The JSON type of each query parameter (null aside), by (method, path) and name; "array"
    only for arrays of strings."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                options = [o for o in schema.get("anyOf", [schema]) if o.get("type") != "null"]
                if parameter["in"] != "query" or len(options) != 1:
                    continue
                kind = options[0].get("type")
                if kind == "array" and options[0].get("items", {}).get("type") != "string":
                    continue
                found.setdefault((method.upper(), path), {})[parameter["name"]] = kind
    return found


_QUERY_PARAMETER_TYPES = _query_parameter_types(DOCUMENT)
# How the server (FastAPI, with pydantic in lax mode) reads a scalar query parameter's text.
_READERS: dict[str, TypeAdapter[Any]] = {
    "string": TypeAdapter(str),
    "integer": TypeAdapter(int),
    "number": TypeAdapter(float),
    "boolean": TypeAdapter(bool),
}


def _sent(value: Any) -> list[str]:
    """The strings that ``requests`` puts in the query string for a value (not None)."""
    if isinstance(value, Mapping):
        items = list(value) or [""]
    elif isinstance(value, list):
        items = [item for item in value if item is not None]
    else:
        items = [value]
    return [item if isinstance(item, str) else str(item) for item in items]


def read_as_sent(case: Case) -> None:
    """Put the query values of a case about to be sent in the form the server reads them.

    The query string has no types: ``?since=&since=0.0`` is what ``since: ["", "0.0"]`` and
    ``channel=5`` what ``channel: 5`` turn into, and the server reads the last value of a
    repeated scalar parameter (``0.0``, an integer to pydantic) and a lone value of an array
    parameter as a list of one (``["5"]``). schemathesis judges a case by its generated values,
    allowing for the wire only in some combinations, and fails a "negative" case that the
    server rightly accepts. So each value is replaced by what the server reads, when the server
    reads it as valid for its type; anything else stays as generated. schemathesis revalidates
    the case and judges it by those values, which are all the server can see.
    """
    query = case.query
    if not isinstance(query, dict):
        return
    types = _QUERY_PARAMETER_TYPES.get((case.method.upper(), case.operation.path), {})
    for name, kind in types.items():
        value = query.get(name)
        sent = _sent(value) if value is not None else []
        if not sent:
            continue  # nothing is sent
        if kind == "array":
            read: Any = sent
        else:
            try:
                read = _READERS[kind].validate_python(sent[-1])
            except (KeyError, ValidationError):
                continue
        if read != value or type(read) is not type(value):
            query[name] = read


def _checks_for(case: Case) -> list[Any]:
    """``CHECKS``, less negative-data rejection for a multipart body generated as invalid.

    A multipart form has no types and no "additional properties": schemathesis serialises a
    body it made invalid (a renamed or extra part, a non-string field) into parts the server
    reads as a valid form, so the request it sends is not the invalid one it judges.
    """
    meta = case.meta
    if case.media_type != "multipart/form-data" or meta is None:
        return CHECKS
    body = meta.components.get(ParameterLocation.BODY)
    if body is None or body.mode.is_positive:
        return CHECKS
    return [check for check in CHECKS if check is not negative_data_rejection]


def _phase(case: Case) -> str | None:
    return case.meta.phase.name.value if case.meta is not None else None


@schema.hook
def map_case(context: schemathesis.HookContext, case: Case) -> Case:
    for name in [name for name in case.headers if name.lower() in _TRANSPORT_HEADERS]:
        del case.headers[name]
    body = case.body
    if (
        case.operation.path == f"{API_PREFIX}/auth/register"
        and isinstance(body, dict)
        and isinstance(body.get("email"), str)
        # Last: reading ``meta`` rehashes the case (the body may be megabytes).
        and _phase(case) == "stateful"
    ):
        # Unique to the scenario: a repeat from an earlier scenario would answer 409, not 201.
        case.body = {**body, "email": f"s{current_target().scenario}.{body['email']}"}
    return case


def _shape(value: Any, *, item: bool = False) -> Any:
    """A value's JSON type; for an array also its first item's, for an object in an array its keys.

    A real value stands in for a generated one only with the same shape: a name can mean a string
    in the query and a list or object in a body (``fields``, ``sort``, ``filter``), and a batch
    item's keys tell ``POST /records/batch`` from ``PATCH`` (``records``).
    """
    if isinstance(value, list):
        return ("array", _shape(value[0], item=True) if value else None)
    if isinstance(value, Mapping):
        return ("object", tuple(sorted(value)) if item else None)
    return type(value)


def _with_real_values(values: Any, real: Mapping[str, list[Any]]) -> st.SearchStrategy[Any]:
    """Keep each generated value, or swap it for a real value of the same name and shape."""
    if not isinstance(values, Mapping):
        return st.just(values)
    parts: dict[str, st.SearchStrategy[Any]] = {}
    for key, value in values.items():
        shape = _shape(value)
        like = [candidate for candidate in real.get(key, []) if _shape(candidate) == shape]
        parts[key] = st.one_of(st.just(value), st.sampled_from(like)) if like else st.just(value)
    return st.fixed_dictionaries(parts)


# The parts of a case the hook looks into, by schemathesis' name for their location.
_SWAPPED = {"path": "path_parameters", "query": "query", "header": "headers", "body": "body"}


@schema.hook
def flatmap_case(context: schemathesis.HookContext, case: Case) -> st.SearchStrategy[Case]:
    """Swap generated ids (and a few credentials) for real ones, part of the time.

    Only in the fuzzing phase (workflows get real ids from the links they follow), and only in
    the parts schemathesis generated as valid: a real value in place of a deliberately invalid
    one would turn a negative case into a positive one behind its back.
    """
    meta = case.meta  # reading it rehashes the case: once
    if meta is None or meta.phase.name.value != "fuzzing":
        return st.just(case)
    fuzz_target = current_target()
    modes = {location.value: info.mode for location, info in meta.components.items()}

    def parts(data: DataSet) -> st.SearchStrategy[dict[str, Any]]:
        real = fuzz_target.real_values(data)
        return st.fixed_dictionaries(
            {
                attribute: _with_real_values(getattr(case, attribute), real)
                if location not in modes or modes[location].is_positive
                else st.just(getattr(case, attribute))
                for location, attribute in _SWAPPED.items()
            }
        )

    def swap(values: dict[str, Any]) -> Case:
        for attribute, value in values.items():
            # Only real changes: assigning even an equal value makes schemathesis revalidate.
            if value != getattr(case, attribute):
                if attribute == "headers":
                    value = CaseInsensitiveDict(value)
                setattr(case, attribute, value)
        return case

    return st.sampled_from(fuzz_target.data_sets()).flatmap(parts).map(swap)


@schema.parametrize()
@hypothesis.settings(
    database=None,
    derandomize=True,
    deadline=None,
    # About the effort of generating inputs, not about the server: not worth a red CI run.
    suppress_health_check=[
        hypothesis.HealthCheck.too_slow,
        hypothesis.HealthCheck.filter_too_much,
        hypothesis.HealthCheck.data_too_large,
    ],
)
def test_operation(case: Case, target: Target) -> None:
    read_as_sent(case)
    response = case.call(base_url=target.base_url, session=target.session)
    target.observe(case, response.status_code)
    case.validate_response(
        response,
        checks=_checks_for(case),
        transport_kwargs={"base_url": target.base_url, "session": target.session},
    )


class Workflow(schema.as_state_machine()):  # type: ignore[misc]
    """Chains of linked calls, each scenario as a fresh user (see the module docstring)."""

    def setup(self) -> None:
        fuzz_target = current_target()
        fuzz_target.scenario = next(fuzz_target.scenarios)
        actor = fuzz_target.actor = fuzz_target.register(f"workflow{fuzz_target.scenario}")
        # Something to follow links into: GET /workspaces lists it, GET /users lists the peer.
        workspace_id = fuzz_target.create_workspace(actor, "Scenario")
        fuzz_target.add_member(actor, workspace_id, fuzz_target.peer, "editor")

    def before_call(self, case: Case) -> None:
        super().before_call(case)
        read_as_sent(case)

    def get_call_kwargs(self, case: Case) -> dict[str, Any]:
        fuzz_target = current_target()
        return {"base_url": fuzz_target.base_url, "session": fuzz_target.session}

    def after_call(self, response: schemathesis.Response, case: Case) -> None:
        super().after_call(response, case)
        current_target().observe(case, response.status_code)

    def validate_response(
        self,
        response: schemathesis.Response,
        case: Case,
        additional_checks: Any = None,
        **kwargs: Any,
    ) -> None:
        case.validate_response(
            response, checks=WORKFLOW_CHECKS, transport_kwargs=kwargs, recorder=self.recorder
        )


def test_workflows(target: Target) -> None:
    try:
        Workflow.run(
            settings=hypothesis.settings(
                max_examples=WORKFLOW_SCENARIOS,
                stateful_step_count=WORKFLOW_MAX_STEPS,
                # Only generation: a replay to shrink a failure meets a server that has moved on.
                phases=[hypothesis.Phase.generate],
                database=None,
                derandomize=True,
                deadline=None,
                suppress_health_check=list(hypothesis.HealthCheck),
            )
        )
    finally:
        target.actor = target.me
