"""What the portal notes about the device a session was started on, for the devices page.

Two small values, computed once at login and kept inside the session record (so the devices
page reads nothing else, and a signed-in session stays within its 2 KB in Redis):

* a short label of the browser and system, such as "Firefox on Windows", from the
  User-Agent header through ua-parser (the maintained port of the uap-core rules). Never the
  header itself: it is long, and detailed enough to fingerprint the customer. Versions are
  left out too: browsers freeze or fake them (Windows 11 says "Windows NT 10.0"), and they
  do not help anyone recognise their own device;
* the client's network, not its address: the first 24 bits of an IPv4 address, the first 48
  of an IPv6 one (3 or 6 bytes). Enough for a customer to tell "my home provider" from "a
  country I have never been to"; not enough to locate a household or a single machine, which
  the portal has no need to know (data minimisation). The address is the one the rate limits
  see (:func:`portal.security.client_address`, after PORTAL_TRUSTED_PROXIES).

And the opaque handle by which the devices page names a session in its End forms: the
session id is the cookie, a credential, and must never appear in a page.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress

from flask import request
from ua_parser import parse_os
from ua_parser import parse_user_agent

from portal.security import client_address

#: Longest User-Agent header looked at (the regexes' cost grows with it).
MAX_USER_AGENT = 512
#: Longest label kept; a family comes from the header, which the client chooses.
MAX_LABEL = 48
IPV4_PREFIX = 24
IPV6_PREFIX = 48
UNKNOWN_BROWSER = "Unknown browser"
HANDLE_LENGTH = 16


@functools.lru_cache(maxsize=512)
def browser_label(user_agent: str) -> str:
    """ "Firefox on Windows", "Mobile Safari on iOS", "curl", or "Unknown browser"."""
    header = user_agent[:MAX_USER_AGENT]
    agent = parse_user_agent(header) if header else None
    system = parse_os(header) if header else None
    browser = agent.family if agent is not None and agent.family != "Other" else UNKNOWN_BROWSER
    label = browser
    if system is not None and system.family != "Other":
        label = f"{browser} on {system.family}"
    label = " ".join(label.split())  # no control characters or line breaks from the header
    return label[:MAX_LABEL]


def network_of(address: str) -> bytes:
    """The packed network of an address: 3 bytes for IPv4 (/24), 6 for IPv6 (/48); b"" when
    there is no address (a unix socket without a trusted proxy)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return b""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return ip.packed[: prefix // 8]


def network_text(packed: bytes) -> str:
    """``b"\\xcb\\x00\\x71"`` -> "203.0.113.0/24"; 6 bytes -> "2001:db8:1::/48"; else ""."""
    if len(packed) == IPV4_PREFIX // 8:
        return str(ipaddress.IPv4Network((packed + bytes(4 - len(packed)), IPV4_PREFIX)))
    if len(packed) == IPV6_PREFIX // 8:
        return str(ipaddress.IPv6Network((packed + bytes(16 - len(packed)), IPV6_PREFIX)))
    return ""


def of_this_request() -> tuple[str, bytes]:
    """The label and network of the device making this request."""
    return browser_label(request.headers.get("User-Agent", "")), network_of(client_address())


def handle(session_id: str) -> str:
    """How a page names a session: a digest of its id, which does not reveal the id."""
    return hashlib.sha256(b"portal.device:" + session_id.encode()).hexdigest()[:HANDLE_LENGTH]


def is_handle(value: str) -> bool:
    return len(value) == HANDLE_LENGTH and all(c in "0123456789abcdef" for c in value)
