"""Webhook targets: which URLs and addresses the server refuses to send to (SSRF). Pure; no I/O."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address

import pytest

from pyairtable_server.webhooks.targets import (
    TargetRefused,
    check_address,
    check_url,
    numeric_host,
)

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
