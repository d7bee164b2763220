"""Redis fails over under a signed-in customer: Sentinel promotes the replica and the portal
follows it by itself.

The master's process is killed while a browser keeps loading /account. Until the promotion,
pages answer 503 (never 500) and /readyz says why; after it, the same session works again
(it was replicated before the kill), a new login works, the rate-limit counters go on in
the new master, and a back-channel logout ends a session.
"""

from __future__ import annotations

import time

import pytest
import redis
import requests

from portal.session_store import RATE_LIMIT_PREFIX
from tests.support.idp_key import logout_token_claims
from tests.support.idp_key import sign_with_idp_key
from tests.support.redis_sessions import sub_of
from tests.support.redis_topologies import SentinelSet
from tests.support.stack import Stack

#: How long the portal may take to find the new master once the sentinels name it.
RECOVERY_DEADLINE_S = 10


@pytest.fixture
def sentinel_stack(tmp_path):
    sentinels = SentinelSet(tmp_path / "redis").start()
    try:
        stack = Stack(tmp_path / "stack", redis_url=sentinels.url)
        try:
            yield sentinels, stack
        finally:
            stack.stop()
    finally:
        sentinels.stop()


def _counters(node: redis.Redis) -> dict[bytes, bytes]:
    return {key: node.get(key) for key in node.scan_iter(match=RATE_LIMIT_PREFIX + "*")}


def test_failover_keeps_sessions_and_the_portal_recovers_by_itself(sentinel_stack):
    sentinels, stack = sentinel_stack
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    requests.get(stack.portal.url + "/login", allow_redirects=False, timeout=10)
    old = sentinels.master_name()
    with sentinels.node_client(old) as master:
        assert _counters(master), "rate-limit counters are not in the sessions' Redis"
    sentinels.wait_replicated()  # the session is on the replica before the master dies

    sentinels.kill_master()
    statuses = [journey.browser.get(stack.portal.url + "/account", follow=False).status]
    ready = requests.get(stack.portal.url + "/readyz", timeout=10)
    assert ready.status_code == 503
    assert "session store" in ready.json()["reason"]

    new = sentinels.wait_failover(old)
    promoted_at = time.monotonic()
    while time.monotonic() - promoted_at < RECOVERY_DEADLINE_S:
        status = journey.browser.get(stack.portal.url + "/account", follow=False).status
        statuses.append(status)
        if status == 200:
            break
        time.sleep(0.1)  # polling the portal while it reconnects, not a test delay
    assert statuses[-1] == 200, statuses
    assert set(statuses) <= {200, 503}, statuses  # never a 500, never a lost session (302)
    assert 503 in statuses
    assert user.name in journey.open("/account").text
    assert requests.get(stack.portal.url + "/readyz", timeout=10).status_code == 200

    with sentinels.node_client(new) as master:
        before = _counters(master)
        requests.get(stack.portal.url + "/login", allow_redirects=False, timeout=10)
        after = _counters(master)
    assert after != before, "rate-limit counters did not reach the new master"

    newcomer = stack.journey()
    assert newcomer.first_login(stack.user()).path == "/account"

    claims = logout_token_claims(stack.idp.url, sid=None, sub=sub_of(stack.idp.db_path, user))
    token = sign_with_idp_key(stack.idp.db_path, claims, typ="logout+jwt")
    response = requests.post(
        stack.portal.url + "/auth/backchannel-logout", data={"logout_token": token}, timeout=10
    )
    assert response.status_code == 200
    assert journey.browser.get(stack.portal.url + "/account", follow=False).status == 302
    assert newcomer.open("/account").path == "/account"
