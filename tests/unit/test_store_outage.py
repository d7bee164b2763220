"""Redis goes away and comes back: 503 pages, /readyz says why, then everything works again."""

from __future__ import annotations

import pytest

from portal import create_app
from tests.support.portal_env import idp_env
from tests.support.redis_server import RedisServer


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def test_redis_outage_and_recovery(tmp_path, own_redis, mock_idp):
    idp = mock_idp
    env = idp_env(
        idp,
        tmp_path,
        PORTAL_SESSION_BACKEND="redis",
        PORTAL_REDIS_URL=own_redis.url,
        PORTAL_HTTP_TIMEOUT="1",
    )
    app = create_app(env)
    client = app.test_client()
    idp.callback(client, idp.begin(client))
    assert client.get("/account").status_code == 200
    assert client.get("/readyz").status_code == 200

    own_redis.process.stop()

    account = client.get("/account")
    assert account.status_code == 503
    assert "The portal is temporarily unavailable" in account.get_data(as_text=True)
    assert "Traceback" not in account.get_data(as_text=True)
    login = app.test_client().get("/login")
    assert login.status_code == 503
    assert "temporarily unavailable" in login.get_data(as_text=True)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "session store unreachable" in ready.json["reason"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 200

    own_redis.process.start()
    own_redis.process.wait_tcp(own_redis.port)

    # Redis came back empty (no persistence): the old session is gone, Login works again.
    assert client.get("/readyz").status_code == 200
    assert client.get("/account").status_code == 302
    fresh = app.test_client()
    idp.callback(fresh, idp.begin(fresh))
    assert fresh.get("/account").status_code == 200
