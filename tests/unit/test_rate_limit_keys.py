"""The per-client rate limit cannot be escaped by rotating addresses within one IPv6 /64."""

from __future__ import annotations

import pytest

from portal import create_app
from tests.support.portal_env import idp_env


@pytest.fixture
def app(tmp_path, mock_idp):
    return create_app(idp_env(mock_idp, tmp_path, PORTAL_RATE_LIMIT="2 per minute"))


def login_statuses(app, addresses: list[str]) -> list[int]:
    client = app.test_client()
    return [
        client.get("/login", environ_base={"REMOTE_ADDR": address}).status_code
        for address in addresses
    ]


def test_addresses_of_one_ipv6_64_share_one_limit(app):
    same_64 = ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2:abcd::9"]
    assert login_statuses(app, same_64) == [302, 302, 429]


def test_other_ipv6_64s_have_their_own_limit(app):
    assert login_statuses(app, ["2001:db8:1:2::1", "2001:db8:1:2::2"]) == [302, 302]
    assert login_statuses(app, ["2001:db8:1:3::1", "2001:db8:1:4::1"]) == [302, 302]


def test_ipv4_mapped_address_counts_as_its_ipv4(app):
    assert login_statuses(app, ["192.0.2.7", "::ffff:192.0.2.7", "::ffff:c000:207"]) == [
        302,
        302,
        429,
    ]


def test_ipv4_addresses_are_keyed_one_by_one(app):
    assert login_statuses(app, ["192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.3"]) == [
        302,
        302,
        302,
        302,
    ]


def test_forwarded_ipv6_client_behind_a_trusted_proxy_is_keyed_by_its_64(tmp_path, mock_idp):
    app = create_app(
        idp_env(mock_idp, tmp_path, PORTAL_RATE_LIMIT="2 per minute", PORTAL_TRUSTED_PROXIES="1")
    )
    client = app.test_client()
    statuses = [
        client.get("/login", headers={"X-Forwarded-For": f"2001:db8:9:9::{i}"}).status_code
        for i in range(1, 4)
    ]
    assert statuses == [302, 302, 429]
