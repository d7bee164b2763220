"""While discovery or the JWKS cannot be loaded, requests neither refetch nor queue for them.

``POST /auth/backchannel-logout`` is open to anyone. Before, during an IdP outage each such
POST started a fetch of its own and queued on one lock for up to PORTAL_HTTP_TIMEOUT, so a
handful of them held every server thread and signed-in pages stalled. Now a failed fetch is
remembered for a short while (on the portal's clock) and, while the IdP is failing, a request
that finds a fetch under way answers 503 at once instead of waiting for it.
"""

from __future__ import annotations

import threading

import pytest
from werkzeug.wrappers import Response

from portal import create_app
from portal.clock import FixedClock
from portal.fetch_gate import FAILURE_MEMORY
from portal.fetch_gate import Busy
from portal.fetch_gate import FetchGate
from tests.support.portal_env import idp_env


@pytest.fixture
def idp(mock_idp):
    return mock_idp


@pytest.fixture
def clock(portal_clock):
    return portal_clock


@pytest.fixture
def app(tmp_path, idp, clock):
    return create_app(idp_env(idp, tmp_path), clock=clock)


def logout(app, idp, clock):
    return idp.backchannel_logout(app.test_client(), sid="sid-1")


def test_failed_discovery_is_remembered_not_refetched_per_request(app, idp, clock):
    idp.down("discovery")
    statuses = [logout(app, idp, clock).status_code for _ in range(10)]
    assert statuses == [503] * 10
    assert idp.calls("discovery") == 1
    clock.advance(FAILURE_MEMORY - 1)
    assert logout(app, idp, clock).status_code == 503
    assert idp.calls("discovery") == 1
    clock.advance(1)  # remembered no longer: one new try, which works
    idp.up("discovery")
    assert logout(app, idp, clock).status_code == 200
    assert idp.calls("discovery") == 2


def test_failed_jwks_is_remembered_not_refetched_per_request(app, idp, clock):
    idp.down("jwks")
    statuses = [logout(app, idp, clock).status_code for _ in range(10)]
    assert statuses == [503] * 10
    assert idp.calls("jwks") == 1
    clock.advance(FAILURE_MEMORY)
    assert logout(app, idp, clock).status_code == 503
    assert idp.calls("jwks") == 2


@pytest.mark.parametrize("junk", ["x", "a.b.c", "e30.e30.", "eyJhbGciOiJIUzI1NiJ9.e30.sig"])
def test_junk_tokens_are_refused_without_asking_the_idp(app, idp, junk):
    """Anyone can post to the endpoint: during an outage, junk must not make a 503, an error
    line and an ``idp_unreachable`` count each, nor start a fetch (the last one has a
    shared-secret algorithm, refused before any key is needed)."""
    idp.down()
    response = app.test_client().post("/auth/backchannel-logout", data={"logout_token": junk})
    assert response.status_code == 400
    assert idp.calls("discovery") == 0 and idp.calls("jwks") == 0


def test_login_during_a_remembered_failure_gets_the_page_without_calling_the_idp(app, idp, clock):
    idp.down("discovery")
    assert logout(app, idp, clock).status_code == 503
    page = app.test_client().get("/login")
    assert page.status_code == 503
    assert "not reachable" in page.get_data(as_text=True)
    assert idp.calls("discovery") == 1


class HangingDiscovery:
    """A discovery endpoint that hangs until released, like an IdP that accepts but never answers."""

    def __init__(self, idp) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        idp.up("discovery")
        idp.respond("discovery", handler=self._answer)

    def _answer(self, request) -> Response:
        self.started.set()
        self.release.wait(timeout=30)
        return Response("gave up", status=504)


def test_while_the_idp_is_failing_a_fetch_under_way_is_not_waited_for(app, idp, clock):
    idp.down("discovery")
    assert logout(app, idp, clock).status_code == 503  # the IdP is known to be failing
    clock.advance(FAILURE_MEMORY)
    hanging = HangingDiscovery(idp)
    first = threading.Thread(target=logout, args=(app, idp, clock))
    first.start()
    try:
        assert hanging.started.wait(timeout=10)  # the first request is now stuck in its fetch
        answers: list[int] = []
        second = threading.Thread(
            target=lambda: answers.append(logout(app, idp, clock).status_code)
        )
        second.start()
        second.join(timeout=5)  # returns at once when fixed; blocks on the lock when not
        assert not second.is_alive(), "the second request waited for the first one's fetch"
        assert answers == [503]
        page = app.test_client().get("/login")  # logins are not held up either
        assert page.status_code == 503
    finally:
        hanging.release.set()
        first.join(timeout=10)
    assert idp.calls("discovery") == 2  # the remembered failure, then the hanging one


def test_cold_start_waits_briefly_for_a_healthy_fetch_and_shares_its_result():
    gate = FetchGate(FixedClock(0), healthy_wait=30)
    started, release = threading.Event(), threading.Event()
    fetched: list[str] = []
    result: dict[str, str] = {}

    def slow_fetch() -> dict[str, str]:
        started.set()
        release.wait(timeout=30)
        fetched.append("fetch")
        result["doc"] = "metadata"
        return result

    first = threading.Thread(target=lambda: gate.run(slow_fetch, done=lambda: result or None))
    first.start()
    assert started.wait(timeout=10)
    answers: list[object] = []
    second = threading.Thread(
        target=lambda: answers.append(gate.run(slow_fetch, done=lambda: result or None))
    )
    second.start()
    release.set()
    first.join(timeout=10)
    second.join(timeout=10)
    assert answers == [{"doc": "metadata"}]
    assert fetched == ["fetch"]  # one fetch for both callers


def test_gate_refuses_at_once_while_failing_and_a_fetch_is_under_way():
    clock = FixedClock(0)
    gate = FetchGate(clock, healthy_wait=30)
    with pytest.raises(ConnectionError):
        gate.run(_raise_connection_error, done=lambda: None)
    assert gate.failing()
    clock.advance(FAILURE_MEMORY)
    started, release = threading.Event(), threading.Event()

    def hanging() -> str:
        started.set()
        release.wait(timeout=30)
        return "late"

    first = threading.Thread(target=lambda: gate.run(hanging, done=lambda: None))
    first.start()
    try:
        assert started.wait(timeout=10)
        with pytest.raises(Busy):
            gate.run(hanging, done=lambda: None)
    finally:
        release.set()
        first.join(timeout=10)
    assert not gate.failing()


def _raise_connection_error() -> str:
    raise ConnectionError("down")
