"""Which URLs and addresses a webhook may be sent to: public ones only (pure, no I/O).

A webhook URL is typed by a workspace admin, and the server POSTs to it: without a check, any
account could make the server call its own loopback services, the cloud metadata endpoint
(169.254.169.254) or the private network around it (server-side request forgery). Two checks:

- ``check_url`` when a webhook is created or changed: the scheme, no credentials, and a host
  that is not a literal non-public address nor ``localhost``. Hosts are read the way the system
  resolver reads them, so ``2130706433``, ``0x7f000001`` and ``127.1`` are all 127.0.0.1.
- ``check_address`` on every address a name resolves to, when a connection is made
  (``webhooks.network``): names are only resolved there, and may change their answer at any time.

An address is public when it is globally reachable and not multicast. IPv6 addresses that carry
an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged by the IPv4 address they lead to.
``ipaddress``'s ``is_global`` does most of it; the explicit list below covers the ranges it
misses in some Python versions (multicast, deprecated site-local and IPv4-compatible forms,
documentation, local-use NAT64, Teredo), after the IANA special-purpose address registries.
"""

from __future__ import annotations

import string
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

import httpx2

IPAddress = IPv4Address | IPv6Address

SCHEMES = frozenset({"http", "https"})
#: Names that always mean this machine (RFC 6761 §6.3): refused without asking a resolver.
_LOCAL_NAME = "localhost"
_NOT_PUBLIC: tuple[IPv4Network | IPv6Network, ...] = tuple(
    ip_network(network)
    for network in (
        # IPv4
        "0.0.0.0/8",  # "this network", incl. 0.0.0.0
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. 255.255.255.255
        # IPv6
        "::/96",  # unspecified, loopback, IPv4-compatible (deprecated)
        "::ffff:0:0:0/96",  # IPv4-translated
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, incl. Teredo (2001::/32)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_NAT64 = IPv6Network("64:ff9b::/96")
_DECIMAL = frozenset(string.digits)
_OCTAL = frozenset(string.octdigits)
_HEX = frozenset(string.hexdigits)


class TargetRefused(ValueError):
    """A webhook target the server will not send to; the message says why, for the admin."""


def check_url(url: str, *, allow_private: bool = False) -> None:
    """Accept a webhook URL whose host may be public; names are checked when resolved.

    Raises ``TargetRefused`` for a URL the HTTP client cannot parse (or with whitespace), a
    scheme other than http(s), a port out of range, credentials in the URL, or, unless
    ``allow_private``, a host that is ``localhost`` (or under it) or a non-public address in any
    notation the system resolver accepts.
    """
    if any(char.isspace() for char in url):
        raise TargetRefused("must not contain whitespace")
    try:
        parsed = httpx2.URL(url)
    except Exception as exc:  # the client's own parser decides what it can send to
        raise TargetRefused("is not a valid URL") from exc
    if parsed.scheme not in SCHEMES:
        raise TargetRefused("must be an http or https URL")
    if parsed.userinfo:
        raise TargetRefused("must not contain credentials; authenticate with the signature")
    # The client resolves the ASCII (IDNA) form: judge that one.
    host = parsed.raw_host.decode("ascii").lower()
    if not host:
        raise TargetRefused("must name a host")
    if parsed.port is not None and not 0 < parsed.port < 1 << 16:
        raise TargetRefused("must name a port between 1 and 65535")
    if allow_private:
        return
    name = host.removesuffix(".")
    if name == _LOCAL_NAME or name.endswith("." + _LOCAL_NAME):
        raise TargetRefused(f"must point at a public host; {name!r} is this server")
    address = numeric_host(name)
    if address is not None:
        check_address(address)


def check_address(address: IPAddress) -> None:
    """Accept a public address.

    Raises ``TargetRefused`` for a loopback, private, shared (CGNAT), link-local, multicast,
    reserved, documentation or unspecified address, or an IPv6 address that leads to one.
    """
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            try:
                check_address(embedded)
            except TargetRefused:
                raise TargetRefused(
                    f"must point at a public address; {address} leads to {embedded}"
                ) from None
            return
    if not address.is_global or any(address in network for network in _NOT_PUBLIC):
        raise TargetRefused(f"must point at a public address; {address} is not one")


def numeric_host(host: str) -> IPAddress | None:
    """The address a host names by number, read as the system resolver reads it; None for a name.

    Besides dotted quads and IPv6, that is every ``inet_aton`` form: one to four parts, each
    decimal, octal (leading ``0``) or hex (``0x``), the last filling the remaining bytes, so
    ``2130706433``, ``0x7f000001``, ``0177.1`` and ``127.1`` all mean 127.0.0.1.
    """
    try:
        return ip_address(host)
    except ValueError:
        return _inet_aton(host)


def _inet_aton(host: str) -> IPv4Address | None:
    # Hand-written: ``socket.inet_aton`` is the C function, which also accepts trailing garbage
    # after a space on glibc, and the address must be read exactly as getaddrinfo would.
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values: list[int] = []
    for part in parts:
        if part[:2].lower() == "0x":
            digits, base, allowed = part[2:], 16, _HEX
        elif len(part) > 1 and part[0] == "0":
            digits, base, allowed = part[1:], 8, _OCTAL
        else:
            digits, base, allowed = part, 10, _DECIMAL
        if not part or not set(digits) <= allowed or (not digits and base == 10):
            return None
        values.append(int(digits or "0", base))
    *head, last = values
    if any(value > 0xFF for value in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    number = last
    for index, value in enumerate(head):
        number |= value << (8 * (3 - index))
    return IPv4Address(number)


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one carries and leads to (mapped, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour
