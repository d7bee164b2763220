"""What the portal notes about a session's device: a short label, the network, a handle."""

from __future__ import annotations

import pytest

from portal import device_info
from tests.support.user_agents import CHROME_WINDOWS
from tests.support.user_agents import SAFARI_IPHONE

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.mark.parametrize(
    ("header", "label"),
    [
        (CHROME_WINDOWS, "Chrome on Windows"),
        (SAFARI_IPHONE, "Mobile Safari on iOS"),
        (FIREFOX_LINUX, "Firefox on Linux"),
        ("curl/8.5.0", "curl"),
        ("", "Unknown browser"),
        ("x" * 10_000, "Unknown browser"),
    ],
)
def test_browser_label(header, label):
    assert device_info.browser_label(header) == label


def test_a_label_is_short_and_on_one_line_whatever_the_header():
    """A family can be a piece of the header (the client chooses it): no line breaks, and
    never longer than MAX_LABEL, so a record stays within its budget."""
    header = "Mozilla/5.0 (X11; Linux x86_64) " + "Firefox\t/" + "9" * 600
    label = device_info.browser_label(header)
    assert len(label) <= device_info.MAX_LABEL
    assert label.isprintable()


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("::ffff:198.51.100.9", "198.51.100.0/24"),  # a dual-stack socket's IPv4 client
        ("2001:db8:1234:5678::9", "2001:db8:1234::/48"),
        ("::1", "::/48"),
        ("unknown", ""),  # a unix socket without a trusted proxy
        ("", ""),
    ],
)
def test_only_the_network_is_kept(address, network):
    packed = device_info.network_of(address)
    assert len(packed) in (0, 3, 6)  # 3 bytes for IPv4, 6 for IPv6: the rest is never kept
    assert device_info.network_text(packed) == network


def test_a_handle_names_a_session_without_revealing_its_id():
    session_id = "0123456789abcdef.secret-random-part-of-the-cookie"
    handle = device_info.handle(session_id)
    assert device_info.is_handle(handle)
    assert handle not in session_id and "secret" not in handle
    assert handle == device_info.handle(session_id)  # stable across page views
    assert handle != device_info.handle(session_id + "x")


@pytest.mark.parametrize(
    "value", ["", "0" * 15, "0" * 17, "g" * 16, "ABCDEF0123456789", "0" * 15 + "\n"]
)
def test_not_a_handle(value):
    assert not device_info.is_handle(value)
