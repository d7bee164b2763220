"""The portal over TLS to a Redis Cluster (``rediss+cluster://``): sessions, their index and
the rate-limit counters all go through the TLS client, and a back-channel logout still ends a
customer's sessions in one step."""

from __future__ import annotations

import pytest

from tests.support.redis_topologies import Cluster
from tests.support.redis_topologies import TlsFiles
from tests.support.session_app import backchannel
from tests.support.session_app import login
from tests.support.session_app import session_app
from tests.support.session_app import signed_in


@pytest.fixture
def tls_cluster(tmp_path):
    cluster = Cluster(tmp_path / "redis", tls=TlsFiles(tmp_path / "tls")).start()
    yield cluster
    cluster.stop()


def test_login_and_backchannel_logout_over_tls(tls_cluster, tmp_path, mock_idp):
    app = session_app(mock_idp, tmp_path, "redis", tls_cluster.url)
    browsers = [app.test_client() for _ in range(3)]
    for browser in browsers:
        login(browser, mock_idp, sid="sid-tls")
    assert all(signed_in(b) for b in browsers)
    stored = []
    for port in tls_cluster.ports:
        with tls_cluster.node_client(port) as node:
            stored += [k.decode() for k in node.scan_iter("portal:*")]
    assert len([k for k in stored if k.startswith("portal:session:{")]) == 3
    assert [k for k in stored if k.startswith("portal:ratelimit")]  # the limiter's too
    assert backchannel(app.test_client(), mock_idp, sid="sid-tls").status_code == 200
    assert not any(signed_in(b) for b in browsers)
