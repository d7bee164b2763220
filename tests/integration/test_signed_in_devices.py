"""Signed-in devices and the previous sign-in, live: dev IdP, two portal processes, one Redis.

A customer is signed in on a laptop (through the first process) and a phone (through the
second). The devices page lists both on either process; End on the laptop signs the phone out
at its next request on the other process, while the phone's SSO session lives on, so Login
there gets back in without a password. The same on a Redis Cluster, where every command the
page sends must stay within the customer's slot.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.redis_topologies import Cluster
from tests.support.stack import Stack

LAPTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


@pytest.fixture(scope="module")
def pair(tmp_path_factory, redis_server) -> Iterator[Stack]:
    live = Stack(tmp_path_factory.mktemp("devices"), redis_url=redis_server.url, portals=2)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def on_cluster(tmp_path_factory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("devices-cluster")
    cluster = Cluster(workdir / "redis").start()
    try:
        live = Stack(workdir / "stack", redis_url=cluster.url, portals=2)
        try:
            yield live
        finally:
            live.stop()
    finally:
        cluster.stop()


def device(stack: Stack, portal: int, user_agent: str):
    journey = stack.journey(stack.portals[portal])
    journey.browser.session.headers["User-Agent"] = user_agent
    return journey


def rows(page) -> list[tuple[str, str]]:
    return [
        (
            " ".join(row.find("h2").get_text(" ").split()),
            row.select_one("dd.origin").get_text(strip=True),
        )
        for row in page.soup.select("li.device")
    ]


def signed_in(journey, portal) -> bool:
    return journey.browser.get(portal.url + "/account", follow=False).status == 200


@pytest.mark.parametrize("deployment", ["pair", "on_cluster"])
def test_end_signs_the_other_device_out_on_the_other_process(request, deployment):
    stack: Stack = request.getfixturevalue(deployment)
    user = stack.user()
    laptop = device(stack, 0, LAPTOP)
    phone = device(stack, 1, PHONE)
    laptop.first_login(user)
    phone.login(user)  # another browser: its own SSO session at the IdP

    # either process lists both, from the shared index
    for portal in stack.portals:
        page = laptop.browser.get(portal.url + "/account/sessions")
        assert rows(page) == [
            ("Chrome on Windows (This device)", "127.0.0.0/24"),
            ("Mobile Safari on iOS", "127.0.0.0/24"),
        ]
    page = phone.open("/account/sessions")
    assert rows(page)[0] == ("Mobile Safari on iOS (This device)", "127.0.0.0/24")

    # End, pressed on the laptop (first process): the phone is out at its next request on
    # the second process
    ended = laptop.open("/account/sessions").submit(button="End")
    assert ended.path == "/account/sessions"
    assert "Ended the portal session on Mobile Safari on iOS." in ended.text
    assert rows(ended) == [("Chrome on Windows (This device)", "127.0.0.0/24")]
    assert not signed_in(phone, stack.portals[1])
    assert signed_in(laptop, stack.portals[1])
    assert "device session ended by the customer" in stack.portals[0].log_text()
    assert "session.ended.device" in stack.portals[0].log_text()

    # as the page says: the phone is still signed in at the IdP, so Login needs no password
    assert phone.silent_login().path == "/account"


def test_the_account_page_shows_the_previous_sign_in(pair):
    user = pair.user()
    laptop = device(pair, 0, LAPTOP)
    laptop.first_login(user)
    account = laptop.open("/account")
    assert account.soup.find(id="previous-sign-in").get_text(" ", strip=True) == (
        "none in the last 90 days"
    )
    phone = device(pair, 1, PHONE)
    account = phone.login(user)  # through the other process
    assert account.path == "/account"
    previous = " ".join(account.soup.find(id="previous-sign-in").get_text(" ").split())
    assert previous.endswith(", Chrome on Windows"), previous
    assert account.click("Signed-in devices").path == "/account/sessions"
