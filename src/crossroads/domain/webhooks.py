"""Where the hub may send the pushes it signs: webhook addresses and the network ranges they reach.

A member writes its subscription's `webhook_url`; the hub then POSTs signed messages there. So the
address must be one the operator registered for that member (under its `webhook_bases`, or its
provider `base_url`), and it must not reach the hub's own network (loopback, link-local, private
ranges, the hub itself) unless the operator allowed that explicitly. The rules are pure; the HTTP
client applies the range check again to the addresses a name resolves to when it connects.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

from .errors import Refusal
from .registry import Institution

_DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2000


def _split(url: object, field: str) -> SplitResult:
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise Refusal(
            "malformed_request",
            f"{field} must be an http(s) URL of at most {MAX_URL_LENGTH} characters.",
            field,
        )
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a port that is not a number in range
    except ValueError:
        raise Refusal("malformed_request", f"{field} is not a valid URL.", field) from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise Refusal("malformed_request", f"{field} must be an http(s) URL with a host.", field)
    if parts.username is not None or parts.password is not None:
        raise Refusal(
            "malformed_request", f"{field} must not carry a user name or password.", field
        )
    if any(ord(c) < 0x21 or c == "\\" for c in url):
        raise Refusal(
            "malformed_request",
            f"{field} must not contain spaces, control characters or backslashes.",
            field,
        )
    if _has_dot_segment(parts.path):
        raise Refusal(
            "malformed_request",
            f"{field} must not hold '.' or '..' path segments or an encoded slash.",
            field,
        )
    return parts


def _has_dot_segment(path: str) -> bool:
    """A path an HTTP client or server would resolve to another one: `/hooks/a/../b` is sent
    as `/hooks/b` (httpx removes dot segments), so it would escape the prefix it was checked
    under; an encoded dot or slash may be decoded by the server before it resolves them."""
    lowered = path.lower()
    if "%2f" in lowered or "%5c" in lowered:
        return True
    return any(segment in (".", "..") for segment in unquote(path).split("/"))


def _origin_and_path(parts: SplitResult) -> tuple[str, str, int, str]:
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    return parts.scheme, (parts.hostname or "").lower().rstrip("."), port, parts.path or "/"


def check_webhook_base(base: object, field: str = "webhook_bases") -> str:
    """An address prefix the operator registers for an institution's webhooks."""
    parts = _split(base, field)
    if parts.query or parts.fragment:
        raise Refusal("malformed_request", f"{field} is a prefix: no query or fragment.", field)
    return base  # type: ignore[return-value]


def is_under(url: str, base: str) -> bool:
    """Same scheme, host and port, and a path at or below the base's (on a segment boundary:
    `https://a.example/hooks` covers `/hooks/x` but not `/hooksx`)."""
    u_scheme, u_host, u_port, u_path = _origin_and_path(urlsplit(url))
    b_scheme, b_host, b_port, b_path = _origin_and_path(urlsplit(base))
    if (u_scheme, u_host, u_port) != (b_scheme, b_host, b_port):
        return False
    prefix = b_path if b_path.endswith("/") else b_path + "/"
    return u_path == b_path or u_path.startswith(prefix)


# IPv6 prefixes whose addresses carry an IPv4 address that a gateway (NAT64: the well-known
# prefix, as DNS64 networks and AWS use, and the local-use one; 6to4) or the host forwards to.
# Python judges 64:ff9b::a9fe:a9fe global, yet a NAT64 gateway sends it to 169.254.169.254.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("::ffff:0:0:0/96"))


def is_internal_address(host: str) -> bool:
    """Loopback, link-local, private, unique-local, unspecified, multicast or reserved: any
    address that is not a public unicast one. An IPv6 address that carries an IPv4 one (mapped,
    translated, compatible, NAT64, 6to4) is judged by the IPv4 address as well."""
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return False  # a name: judged by the addresses it resolves to
    judged: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        judged.extend(_carried(address))
    return any(not a.is_global or a.is_multicast for a in judged)


def _carried(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses `address` may reach: its last 32 bits (mapped, translated, compatible,
    NAT64), or bits 16-48 (6to4)."""
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if any(address in network for network in (*_NAT64, *_IPV4_COMPATIBLE)):
        return [low]
    if address.sixtofour is not None:
        return [address.sixtofour]
    return []


def check_webhook_url(
    url: object, bases: tuple[str, ...], hub_base: str, allow_internal: bool
) -> str:
    """Refuse a webhook address the subscribing institution may not use.

    `bases` are the address prefixes registered for the institution (its webhook_bases and its
    base_url); `hub_base` is the hub's own public address, never a webhook target (its mounted
    sources would receive the hub's own signature). With `allow_internal` false, a host written
    as an internal IP address, or named `localhost`, is refused here; names are checked again
    against what they resolve to when the hub connects.
    """
    parts = _split(url, "webhook_url")
    if parts.fragment:
        raise Refusal("malformed_request", "webhook_url must not carry a fragment.", "webhook_url")
    if is_under(url, hub_base):  # type: ignore[arg-type]
        raise Refusal("webhook_not_allowed", "webhook_url points at the hub itself.", "webhook_url")
    if not any(is_under(url, base) for base in bases):  # type: ignore[arg-type]
        registered = ", ".join(bases) if bases else "none"
        raise Refusal(
            "webhook_not_allowed",
            "webhook_url is not under an address the operator registered for this institution "
            f"({registered}).",
            "webhook_url",
        )
    host = (parts.hostname or "").lower().rstrip(".")
    if not allow_internal and (
        is_internal_address(host) or host == "localhost" or host.endswith(".localhost")
    ):
        raise Refusal(
            "webhook_not_allowed",
            "webhook_url reaches a loopback, link-local or private address.",
            "webhook_url",
        )
    return url  # type: ignore[return-value]


@dataclass(frozen=True)
class WebhookPolicy:
    """The deployment's side of the rule: the hub's own address, and whether internal targets
    are allowed (`CROSSROADS_ALLOW_INTERNAL_WEBHOOKS`, for a demo or a closed test network)."""

    hub_base: str
    allow_internal: bool = False

    def check(self, url: object, institution: Institution) -> str:
        bases = institution.webhook_bases + (
            (institution.base_url,) if institution.base_url else ()
        )
        return check_webhook_url(url, bases, self.hub_base, self.allow_internal)
