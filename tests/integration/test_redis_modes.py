"""The customer journey on each kind of Redis a deployer runs: a standalone Redis with an ACL
user, Sentinel (one master, one replica, three sentinels) and a three-master Cluster.

Each mode runs the same journey against the live dev IdP: first login, silent re-login, log
out everywhere, and back-channel logout by sid and by sub with one customer signed in on
three browsers. The rate-limit counters are checked to land in the same Redis.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from portal.session_store import RATE_LIMIT_PREFIX
from tests.support.idp_key import logout_token_claims
from tests.support.idp_key import sign_with_idp_key
from tests.support.redis_sessions import redis_client
from tests.support.redis_sessions import session_key
from tests.support.redis_sessions import signed_in_state
from tests.support.redis_sessions import sub_of
from tests.support.redis_topologies import AclRedis
from tests.support.redis_topologies import Cluster
from tests.support.redis_topologies import SentinelSet
from tests.support.stack import Stack

DEPLOYMENTS = {"acl": AclRedis, "sentinel": SentinelSet, "cluster": Cluster}


@pytest.fixture(scope="module", params=list(DEPLOYMENTS))
def deployed(request, tmp_path_factory) -> Iterator[tuple[str, object, Stack]]:
    workdir = tmp_path_factory.mktemp(f"redis-{request.param}")
    deployment = DEPLOYMENTS[request.param](workdir / "redis").start()
    try:
        stack = Stack(workdir / "stack", redis_url=deployment.url)
        try:
            yield request.param, deployment, stack
        finally:
            stack.stop()
    finally:
        deployment.stop()


def _post_logout_token(stack: Stack, *, sid: str | None, sub: str | None) -> None:
    claims = logout_token_claims(stack.idp.url, sid=sid, sub=sub)
    token = sign_with_idp_key(stack.idp.db_path, claims, typ="logout+jwt")
    response = requests.post(
        stack.portal.url + "/auth/backchannel-logout", data={"logout_token": token}, timeout=10
    )
    assert response.status_code == 200, response.text


def _signed_in(journey) -> bool:
    return journey.browser.get(journey.portal.url + "/account", follow=False).status == 200


def test_first_login_silent_login_and_log_out_everywhere(deployed):
    _, _, stack = deployed
    user = stack.user()
    journey = stack.journey()
    assert journey.first_login(user).path == "/account"
    journey.logout()
    assert journey.silent_login().path == "/account"
    page = journey.logout_everywhere()
    assert "You are logged out everywhere" in page.text
    journey.login(user)
    assert journey.seen_idp_screens == ["username", "password", "totp-code"]


def test_backchannel_logout_by_sid_then_by_sub_across_three_browsers(deployed):
    mode, deployment, stack = deployed
    user = stack.user()
    browsers = [stack.journey() for _ in range(3)]
    for journey in browsers:
        journey.login(user)  # each browser has its own SSO session, so its own sid
    client = redis_client(deployment.url)
    try:
        states = [signed_in_state(client, journey) for journey in browsers]
        assert all(states)
        sids = [state["sid"] for state in states]
        assert len(set(sids)) == 3
        if mode == "cluster":
            # one customer's sessions share one slot by design (see the key layout in
            # portal/session_store.py); another customer's are elsewhere
            slots = {client.keyslot(session_key(j)) for j in browsers}
            assert len(slots) == 1

        _post_logout_token(stack, sid=sids[0], sub=sub_of(stack.idp.db_path, user))
        assert [_signed_in(j) for j in browsers] == [False, True, True]
        assert signed_in_state(client, browsers[0]) is None

        _post_logout_token(stack, sid=None, sub=sub_of(stack.idp.db_path, user))
        assert [_signed_in(j) for j in browsers] == [False, False, False]
        assert all(signed_in_state(client, j) is None for j in browsers)
    finally:
        client.close()


def test_logout_token_with_only_a_sid_finds_the_session(deployed):
    _, deployment, stack = deployed
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    client = redis_client(deployment.url)
    try:
        sid = signed_in_state(client, journey)["sid"]
        _post_logout_token(stack, sid=sid, sub=None)
        assert not _signed_in(journey)
    finally:
        client.close()


def test_each_logout_ends_exactly_its_customers_sessions(deployed):
    """Eight customers: a sub logout ends exactly that customer's sessions. On the Cluster,
    the customers' sessions land on different nodes, so the load is really shared."""
    mode, deployment, stack = deployed
    customers = [(stack.user(), stack.journey()) for _ in range(8)]
    for user, journey in customers:
        journey.login(user)
    if mode == "cluster":
        nodes = {deployment.node_of(session_key(journey)) for _, journey in customers}
        assert len(nodes) >= 2, nodes
    for user, _ in customers[:4]:
        _post_logout_token(stack, sid=None, sub=sub_of(stack.idp.db_path, user))
    assert [_signed_in(j) for _, j in customers] == [False] * 4 + [True] * 4


def test_rate_limit_counters_land_in_the_sessions_redis(deployed):
    _, deployment, stack = deployed
    client = redis_client(deployment.url)
    try:
        requests.get(stack.portal.url + "/login", allow_redirects=False, timeout=10)
        deadline = time.monotonic() + 5
        keys = []
        while not keys and time.monotonic() < deadline:
            keys = list(client.scan_iter(match=RATE_LIMIT_PREFIX + "*"))
        assert keys, "no rate-limit counter in the sessions' Redis"
    finally:
        client.close()
