"""A Redis Cluster none of whose nodes answers is a store outage (503), not an unexpected error.

redis-py raises RedisClusterException there ("Redis Cluster cannot be connected"), which is not
a RedisError; with one master down it raises ConnectionError or ClusterDownError instead, which
tests/integration covers with the journey.
"""

from __future__ import annotations

import logging

from tests.support.redis_topologies import Cluster
from tests.support.session_app import session_app
from tests.support.session_app import signed_in


def test_a_cluster_that_is_all_down_answers_503_everywhere(tmp_path, mock_idp, caplog):
    cluster = Cluster(tmp_path / "cluster").start()
    try:
        app = session_app(mock_idp, tmp_path, "redis", cluster.url, PORTAL_HTTP_TIMEOUT="0.5")
        client = app.test_client()
        mock_idp.sign_in(client)
        assert signed_in(client)
    finally:
        cluster.stop()
    with caplog.at_level(logging.ERROR):
        assert client.get("/account").status_code == 503
        assert app.test_client().get("/login").status_code == 503
        assert app.test_client().get("/readyz").status_code == 503
        logout = mock_idp.backchannel_logout(app.test_client(), sid=None)
    assert logout.status_code == 503
    assert logout.get_json()["error"] == "temporarily_unavailable"
    assert "unexpected error" not in caplog.text
