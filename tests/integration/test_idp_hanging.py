"""An IdP that accepts connections and never answers cannot tie up the portal's threads.

The portal runs under gunicorn (one worker, eight threads, as the test stack starts it) with an
issuer whose server hangs. Unauthenticated back-channel logout POSTs, which need discovery,
must not queue behind one another's fetches: while they pour in, a page that needs no IdP
is still served at once.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from portal.fetch_gate import FAILURE_MEMORY
from tests.support.portal_server import LivePortal
from tests.support.processes import free_port

HTTP_TIMEOUT = 3
FLOOD = 24


class HangingServer:
    """Accepts TCP connections on loopback and never answers; stopped by the test."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.accepted = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(128)
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._held.append(conn)
            self.accepted.set()

    def stop(self) -> None:
        self._sock.close()
        for conn in self._held:
            conn.close()
        self._thread.join(timeout=5)


@pytest.fixture
def hanging_idp():
    server = HangingServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def portal(tmp_path, hanging_idp, redis_server):
    live = LivePortal(
        tmp_path,
        issuer=hanging_idp.url,
        redis_url=redis_server.url,
        env={"PORTAL_HTTP_TIMEOUT": str(HTTP_TIMEOUT)},
    )
    live.start()
    try:
        yield live
    finally:
        live.stop()


#: A token of the right form and algorithm (RS256, a key id), so that checking it needs the
#: IdP's keys: junk of another form is refused with 400 before the IdP is asked anything.
NEEDS_THE_KEYS = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.e30.c2lnbmF0dXJl"


def backchannel_post(portal: LivePortal) -> int:
    response = requests.post(
        portal.url + "/auth/backchannel-logout",
        data={"logout_token": NEEDS_THE_KEYS},
        timeout=60,
    )
    return response.status_code


def test_backchannel_flood_during_an_idp_hang_leaves_threads_free(portal, hanging_idp):
    # The first fetch hangs until PORTAL_HTTP_TIMEOUT: the IdP is now known to be failing.
    assert backchannel_post(portal) == 503
    assert hanging_idp.accepted.is_set()
    # Once the failure is no longer remembered, one request tries again (and hangs again)...
    portal.advance_clock(FAILURE_MEMORY + 1)
    hanging_idp.accepted.clear()
    with ThreadPoolExecutor(max_workers=FLOOD) as pool:
        flood = [pool.submit(backchannel_post, portal) for _ in range(FLOOD)]
        assert hanging_idp.accepted.wait(timeout=10)
        # ... while the others answer at once, so a thread is free for everyone else.
        started = time.monotonic()
        health = requests.get(portal.url + "/healthz", timeout=10)
        elapsed = time.monotonic() - started
        statuses = [f.result(timeout=60) for f in flood]
    assert health.status_code == 200
    assert elapsed < 1.5, f"/healthz waited {elapsed:.1f} s for a free thread"
    assert statuses == [503] * FLOOD
    log = portal.log_text()
    assert log.count("discovery failed: ReadTimeout") >= 1
    assert "Traceback" not in log
