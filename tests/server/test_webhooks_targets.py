"""Webhook targets and SSRF: which URLs and addresses the server refuses to send to.

The first half is pure (``webhooks.targets``, no I/O). The second half runs the server with the
default settings, where private targets are refused, and the sender's HTTP client against real
sockets on localhost; ``webhook_allow_private_targets`` is turned on only where a test must reach
its receiver there. A test resolver stands in for DNS where a name must answer a given address.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address, ip_address

import pytest
import trustme

from pyairtable_server.clock import utcnow
from pyairtable_server.settings import Settings
from pyairtable_server.webhooks import sender
from pyairtable_server.webhooks.targets import (
    TargetRefused,
    check_address,
    check_url,
    numeric_host,
)

from .backend import Actor, Api, running_api
from .webhook_kit import JSON, eventually
from .webhook_receiver import Receiver

NO_RESPONSE = "delivery failed: no response"

#: Every way of writing a non-public target that the issue reproduced, and their relatives.
REFUSED_URLS = [
    "http://127.0.0.1:8080/hook",
    "http://127.9.9.9/",
    "http://localhost:8080/hook",
    "http://LOCALHOST./hook",
    "http://api.localhost/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # CGNAT
    "http://100.127.255.254/",
    "http://0.0.0.0:8080/",
    "http://0/",
    "http://2130706433/",  # 127.0.0.1 in decimal
    "http://0x7f000001/",  # in hex
    "http://0x7F.1/",
    "http://127.1/",  # short form
    "http://127.0.1/",
    "http://0177.1/",  # octal first part
    "http://017700000001/",  # octal whole
    "http://127.0.0.1./",  # trailing dot
    "http://[::1]/",
    "http://[::]/",
    "http://[fd00::1]/",
    "http://[fc00::1]/",
    "http://[fe80::1]/",
    "http://[fec0::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::127.0.0.1]/",  # IPv4-compatible
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "http://[64:ff9b:1::1]/",  # local-use NAT64
    "http://[2002:7f00:1::1]/",  # 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    "http://[ff02::1]/",  # multicast
    "http://[ff0e::1]/",  # global-scope multicast: still not a receiver
    "http://224.0.0.1/",
    "http://239.255.255.250/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://192.0.2.1/",  # documentation
    "http://198.18.0.1/",  # benchmarking
    "http://[2001:db8::1]/",
    "http://[3fff::1]/",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_non_public_targets_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/in",
        "http://example.com:8080/x?y=1",
        "https://93.184.216.34/hook",
        "http://8.8.8.8/",
        "http://1.1/",  # 1.0.0.1, public
        "https://[2606:4700:4700::1111]/",
        "https://[::ffff:8.8.8.8]/",  # leads to a public address
        "https://[64:ff9b::808:808]/",  # NAT64 of 8.8.8.8
        "https://[2002:808:808::1]/",  # 6to4 of 8.8.8.8
        "https://localhost.example.com/",  # a name under a public domain
        "https://127.0.0.1.nip.example/",  # a name: judged when it resolves
        "https://1.2.3.4.5/",  # not an address in any form: a name
    ],
)
def test_public_targets_and_names_are_accepted(url: str) -> None:
    check_url(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/x", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("gopher://example.com/", "http or https"),
        ("https://user:pw@example.com/", "credentials"),
        ("https://user@example.com/", "credentials"),
        ("http:///nohost", "host"),
        ("http://exa mple.com/", "whitespace"),
        ("https://example.com:0/", "port"),
        ("http://[::1/", "valid URL"),
    ],
)
def test_malformed_urls_say_why(url: str, reason: str) -> None:
    with pytest.raises(TargetRefused, match=reason):
        check_url(url)


def test_the_allow_private_setting_lifts_only_the_address_rules() -> None:
    check_url("http://127.0.0.1:8080/hook", allow_private=True)
    check_url("http://localhost/hook", allow_private=True)
    with pytest.raises(TargetRefused, match="credentials"):
        check_url("http://user:pw@127.0.0.1/", allow_private=True)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("0x7f.0x0.0.1", "127.0.0.1"),
        ("10.0x10000", "10.1.0.0"),
        ("0", "0.0.0.0"),
        ("4294967295", "255.255.255.255"),
        ("::1", "::1"),
    ],
)
def test_numeric_hosts_read_as_the_resolver_reads_them(host: str, address: str) -> None:
    assert numeric_host(host) == ip_address(address)


@pytest.mark.parametrize(
    "host",
    ["example.com", "4294967296", "1.2.3.256", "256.1.1.1", "1..2", "08", "0x1g", "1_000", "a.1"],
)
def test_names_are_not_numbers(host: str) -> None:
    assert numeric_host(host) is None


def test_addresses_resolved_at_connect_time_are_judged_alike() -> None:
    for address in ("127.0.0.53", "169.254.169.254", "::1", "fd12::1", "::ffff:10.1.2.3"):
        with pytest.raises(TargetRefused):
            check_address(ip_address(address))
    check_address(IPv4Address("93.184.216.34"))
    check_address(ip_address("2a00:1450:4001:80b::200e"))


# The server refuses them ----------------------------------------------------------------------


@pytest.fixture
async def api(make_settings: Callable[..., Settings]) -> AsyncIterator[Api]:
    """The server as shipped: private targets refused."""
    settings = make_settings(webhook_poll_interval_seconds=0.05)
    assert settings.webhook_allow_private_targets is False
    async with running_api(settings) as running:
        yield running


async def _owner_and_workspace(api: Api) -> tuple[Actor, str]:
    owner = await api.actor()
    workspace = await api.workspace(owner)
    return owner, workspace["id"]


@pytest.mark.anyio
async def test_create_and_update_refuse_non_public_targets(api: Api) -> None:
    owner, workspace_id = await _owner_and_workspace(api)
    public = await api.post(
        owner,
        "/webhooks",
        {"workspace_id": workspace_id, "url": "https://hooks.example.com/in", "event_types": ["*"]},
    )
    for url in REFUSED_URLS:
        created = await api.client.post(
            "/webhooks",
            json={"workspace_id": workspace_id, "url": url, "event_types": ["*"]},
            headers=owner.headers,
        )
        updated = await api.client.put(
            f"/webhooks/{public['id']}", json={"url": url}, headers=owner.headers
        )
        for answer in (created, updated):
            assert answer.status_code == 422, (url, answer.text)
            error = answer.json()["error"]
            assert error["type"] == "VALIDATION_ERROR" and list(error["details"]["fields"]) == [
                "url"
            ]
    listed = await api.client.get("/webhooks", headers=owner.headers)
    assert [w["url"] for w in listed.json()["data"]] == ["https://hooks.example.com/in"]


def _local_name() -> str:
    """A name (not ``localhost``) that this machine resolves to a non-public address."""
    name = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    if not addresses or any(ip_address(a).is_global for a in addresses):
        pytest.skip(f"this machine's name {name!r} resolves to a public address: {addresses}")
    return name


@pytest.mark.anyio
async def test_a_name_that_resolves_to_this_host_is_refused_when_connecting(
    api: Api, receiver: Receiver
) -> None:
    """The name passes at create time (it is only a name); the sender resolves it, finds a
    non-public address and never connects: the receiver on that port hears nothing."""
    owner, workspace_id = await _owner_and_workspace(api)
    base = await api.base(owner, workspace_id)
    table = await api.table(owner, base["id"], [{"name": "Name", "type": "text"}])
    url = f"http://{_local_name()}:{receiver.port}/hook"
    webhook = await api.post(
        owner, "/webhooks", {"workspace_id": workspace_id, "url": url, "event_types": ["*"]}
    )

    tested = await api.client.post(f"/webhooks/{webhook['id']}/test", headers=owner.headers)
    assert tested.status_code == 200, tested.text
    delivery = tested.json()
    assert delivery["status"] == "failed" and delivery["last_status_code"] is None
    assert delivery["last_error"] == NO_RESPONSE and delivery["last_response_body"] is None

    await api.post(owner, "/records", {"table_id": table["id"], "fields": {"Name": "x"}})

    async def attempted() -> list[JSON]:
        response = await api.client.get(
            f"/webhooks/{webhook['id']}/deliveries", headers=owner.headers
        )
        data: list[JSON] = response.json()["data"]
        return [d for d in data if d["event_type"] == "record.created" and d["attempts"] >= 1]

    found = await eventually(attempted)
    assert found[0]["last_error"] == NO_RESPONSE and found[0]["last_status_code"] is None
    assert receiver.received == []


@pytest.mark.anyio
async def test_every_attempt_without_an_answer_reads_the_same(
    make_settings: Callable[..., Settings], receiver: Receiver
) -> None:
    """A closed port, a port that never answers and a name that does not resolve are told apart
    by nothing the webhook's admins can read, so they cannot map the network with it. The
    receiver's own answer, status aside, is never shown either."""
    settings = make_settings(
        webhook_allow_private_targets=True,  # the ports probed are on localhost
        webhook_request_timeout_seconds=0.5,
        webhook_poll_interval_seconds=3600,
    )
    with socket.socket() as closed, socket.socket() as silent:
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts, never answers
        urls = [
            f"http://127.0.0.1:{closed.getsockname()[1]}/hook",
            f"http://127.0.0.1:{silent.getsockname()[1]}/hook",
            "http://nowhere.invalid/hook",
        ]
        async with running_api(settings) as api:
            owner, workspace_id = await _owner_and_workspace(api)
            errors = []
            for url in [*urls, receiver.url]:
                webhook = await api.post(
                    owner,
                    "/webhooks",
                    {"workspace_id": workspace_id, "url": url, "event_types": ["*"]},
                )
                receiver.answer(then=500)
                tested = await api.client.post(
                    f"/webhooks/{webhook['id']}/test", headers=owner.headers
                )
                assert tested.status_code == 200, tested.text
                delivery = tested.json()
                assert delivery["status"] == "failed" and delivery["last_response_body"] is None
                errors.append((delivery["last_status_code"], delivery["last_error"]))
    assert errors == [
        (None, NO_RESPONSE),
        (None, NO_RESPONSE),
        (None, NO_RESPONSE),
        (500, "the receiver answered 500"),  # an answer: its status, never its body
    ]


# The sender's connections: resolved once, checked, pinned -----------------------------------


class _Resolver:
    """DNS as a test sets it: each name answers the given addresses; every question is noted."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "not known")
        return self.answers[host]


async def _post(
    url: str,
    resolver: _Resolver,
    *,
    allow_private: bool,
    ssl_context: ssl.SSLContext | None = None,
) -> sender.Outcome:
    settings = Settings(webhook_allow_private_targets=allow_private)
    async with sender.new_client(settings, resolver=resolver, ssl_context=ssl_context) as client:
        return await sender.attempt(
            client,
            url=url,
            secret="whsec_" + "A" * 44,
            delivery_id="dlv" + "x" * 16,
            body="{}",
            time_limit=10,
            now=utcnow(),
        )


@pytest.mark.anyio
@pytest.mark.parametrize(
    "answer",
    [["127.0.0.1"], ["93.184.216.34", "127.0.0.1"], ["::1"], ["::ffff:127.0.0.1"], ["10.0.0.1"]],
)
async def test_a_name_answering_any_non_public_address_is_never_connected_to(
    receiver: Receiver, answer: list[str]
) -> None:
    """DNS rebinding: whatever the name answered before, the answer given when connecting is
    the one checked; one non-public address in it refuses the whole answer."""
    resolver = _Resolver({"hooks.test": answer})
    outcome = await _post(f"http://hooks.test:{receiver.port}/hook", resolver, allow_private=False)
    assert (outcome.status_code, outcome.error) == (None, NO_RESPONSE)
    assert resolver.asked == ["hooks.test"] and receiver.received == []


@pytest.mark.anyio
async def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
    receiver: Receiver,
) -> None:
    """The system cannot resolve ``hooks.test``: reaching the receiver proves the connection
    went to the address the check saw, while the request still names the host of the URL."""
    resolver = _Resolver({"hooks.test": ["127.0.0.1"]})
    outcome = await _post(f"http://hooks.test:{receiver.port}/hook", resolver, allow_private=True)
    assert outcome.status_code == 200 and outcome.error is None
    [request] = receiver.received
    assert request.headers["host"] == f"hooks.test:{receiver.port}"
    assert resolver.asked == ["hooks.test"]


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@contextmanager
def _tls_receiver(authority: trustme.CA, name: str) -> Iterator[Receiver]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert(name).configure_cert(context)
    with Receiver(ssl_context=context) as running:
        yield running


@pytest.mark.anyio
async def test_tls_verifies_the_name_of_the_url_on_the_pinned_connection(
    authority: trustme.CA,
) -> None:
    """SNI and certificate verification use the URL's name, not the address connected to."""
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    resolver = _Resolver({"hooks.test": ["127.0.0.1"]})
    with _tls_receiver(authority, "hooks.test") as receiver:
        url = f"https://hooks.test:{receiver.port}/hook"
        outcome = await _post(url, resolver, allow_private=True, ssl_context=trusting)
        assert outcome.status_code == 200
        assert len(receiver.received) == 1
    with _tls_receiver(authority, "other.test") as impostor:
        url = f"https://hooks.test:{impostor.port}/hook"
        outcome = await _post(url, resolver, allow_private=True, ssl_context=trusting)
        assert (outcome.status_code, outcome.error) == (None, NO_RESPONSE)
        assert impostor.received == []
