"""Property-based fuzzing of the API from its own OpenAPI document, with schemathesis.

Per database (SQLite, then PostgreSQL), against one running server:

- ``test_operation``: one item per operation of the document. schemathesis' coverage phase
  (boundary and invalid values, missing or garbled credentials, unsupported methods), then its
  fuzzing phase (``FUZZ_EXAMPLES`` generated requests, valid and invalid).
- ``test_workflows``: schemathesis' stateful phase: ``WORKFLOW_SCENARIOS`` chains of calls along the
  links it infers from the document (``POST /workspaces`` -> ``GET|PUT|DELETE
  /workspaces/{workspace_id}``, a user id from ``GET /auth/me`` -> ``POST .../members``, ...).

Every answer must pass schemathesis' own checks (``CHECKS``): no 5xx, a documented status code,
content type and headers, a body matching the documented schema, invalid input refused,
authentication enforced where the document requires it; in workflows also that a created
resource can be read and a deleted one cannot. (``positive_data_acceptance`` is left out: the
server refuses valid-looking input the document cannot describe, such as control characters in
names, ``user_id`` and ``email`` together, or a wrong current password.)

The server is a real uvicorn on a free port, in a thread. schemathesis can drive the ASGI app
in-process, but it then runs the app's lifespan in a process-wide portal that stays open until the
interpreter exits, so the database pool would outlive the test (and the throwaway PostgreSQL
database it points at). The fuzzed document is built from the app at import time, so that pytest
can collect one item per operation; the fixture checks that the server serves exactly that.

Authentication: a ``requests`` auth object puts the current actor's bearer token on every request
schemathesis generates, except where it removed or garbled the credentials on purpose (those
probe the 401 paths). In ``test_operation`` the actor is one registered user for the whole run,
and a hook swaps generated identifiers for real ones part of the time, so workspace- and
member-scoped routes get past the lookup: a workspace the fuzzer owns, one where it is a viewer,
one it is not a member of, the ids and emails of those users, its own access token for
``/auth/validate``, its password for ``/auth/change-password``.

Operations that pull the ground from under the run are fuzzed like any other; ``Target.observe``
restores the fixture state after them:

- ``POST /auth/logout`` answering 204 may have ended the actor's session: log in again.
- ``POST /auth/change-password`` answering 204 (the hook sends the real current password part of
  the time): remember the new password for those logins.
- ``DELETE /workspaces/{id}`` and member changes that succeed may have deleted the real workspaces
  or changed the fuzzer's role in them: set up a fresh pair and swap in their ids from then on.
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
from schemathesis.checks import not_a_server_error
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
FUZZ_EXAMPLES = 100
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

# The document the server serves, built without touching disk or database.
DOCUMENT: dict[str, Any] = create_app(
    Settings(**{**FAST_SETTINGS, "database_url": "sqlite+aiosqlite:///:memory:"})
).openapi()

schema = schemathesis.openapi.from_dict(
    copy.deepcopy(DOCUMENT),  # schemathesis edits the dict it loads
    config=schemathesis.Config.from_dict(
        {
            "generation": {
                "max-examples": FUZZ_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"stateful": {"max-steps": WORKFLOW_MAX_STEPS}},
        }
    ),
)


Case: TypeAlias = schemathesis.Case[Any]


@dataclass
class Identity:
    """A registered user and the credentials the fuzzer holds for them."""

    user_id: str
    email: str
    password: str
    token: str


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
        self.mine = self.shared = ""
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

    def real_values(self) -> dict[str, list[str]]:
        """Real values for parameters and body fields, by name."""
        workspaces = [self.mine, self.shared, self.foreign]
        return {
            "workspace_id": workspaces,
            "resource_id": workspaces,
            "user_id": [self.me.user_id, self.peer.user_id, self.stranger.user_id],
            "email": [self.me.email, self.peer.email, self.stranger.email],
            "token": [self.me.token],
            "refresh_token": [self.spare_refresh_token],
            "current_password": [self.me.password],
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
        response = self.client.post(
            f"/workspaces/{workspace_id}/members",
            json={"user_id": member.user_id, "role": role},
            headers=_bearer(owner),
        )
        assert response.status_code == 201, response.text


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


def _phase(case: Case) -> str | None:
    return case.meta.phase.name.value if case.meta is not None else None


@schema.hook
def map_case(context: schemathesis.HookContext, case: Case) -> Case:
    for name in [name for name in case.headers if name.lower() in _TRANSPORT_HEADERS]:
        del case.headers[name]
    body = case.body
    if (
        _phase(case) == "stateful"
        and case.operation.path == f"{API_PREFIX}/auth/register"
        and isinstance(body, dict)
        and isinstance(body.get("email"), str)
    ):
        # Unique to the scenario: a repeat from an earlier scenario would answer 409, not 201.
        case.body = {**body, "email": f"s{current_target().scenario}.{body['email']}"}
    return case


def _with_real_values(values: Any, real: Mapping[str, list[str]]) -> st.SearchStrategy[Any]:
    """Keep each generated string, or swap it for a real value of the same name."""
    if not isinstance(values, Mapping):
        return st.just(values)
    return st.fixed_dictionaries(
        {
            key: st.one_of(st.just(value), st.sampled_from(real[key]))
            if isinstance(value, str) and key in real
            else st.just(value)
            for key, value in values.items()
        }
    )


# The parts of a case the hook looks into, by schemathesis' name for their location.
_SWAPPED = {"path": "path_parameters", "query": "query", "body": "body"}


@schema.hook
def flatmap_case(context: schemathesis.HookContext, case: Case) -> st.SearchStrategy[Case]:
    """Swap generated ids (and a few credentials) for real ones, part of the time.

    Only in the fuzzing phase (workflows get real ids from the links they follow), and only in
    the parts schemathesis generated as valid: a real value in place of a deliberately invalid
    one would turn a negative case into a positive one behind its back.
    """
    if case.meta is None or _phase(case) != "fuzzing":
        return st.just(case)
    real = current_target().real_values()
    modes = {location.value: info.mode for location, info in case.meta.components.items()}
    parts = {
        attribute: _with_real_values(getattr(case, attribute), real)
        if location not in modes or modes[location].is_positive
        else st.just(getattr(case, attribute))
        for location, attribute in _SWAPPED.items()
    }

    def swap(values: dict[str, Any]) -> Case:
        for attribute, value in values.items():
            # Only real changes: assigning even an equal value makes schemathesis revalidate.
            if value != getattr(case, attribute):
                setattr(case, attribute, value)
        return case

    return st.fixed_dictionaries(parts).map(swap)


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
    response = case.call(base_url=target.base_url, session=target.session)
    target.observe(case, response.status_code)
    case.validate_response(
        response,
        checks=CHECKS,
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
