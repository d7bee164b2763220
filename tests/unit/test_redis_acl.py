"""The portal works with the Redis ACL user that the README's security model recommends.

Whoever can write to the portal's Redis can forge a signed-in session record, so production
Redis needs authentication; a user limited to the portal's keys and to non-admin commands
keeps a leaked password from becoming FLUSHALL, CONFIG or a look at other applications' keys.
"""

from __future__ import annotations

import pytest
import redis

from tests.support.session_app import backchannel
from tests.support.session_app import login
from tests.support.session_app import session_app
from tests.support.session_app import signed_in

#: The rule the README gives (every key the portal writes is under portal:, rate limits included).
README_ACL = ["on", ">portal-test-password", "~portal:*", "+@all", "-@dangerous"]


@pytest.fixture
def acl_url(redis_server, redis_url):
    with redis_server.client() as admin:
        admin.acl_setuser("portal", reset=True)
        admin.execute_command("ACL", "SETUSER", "portal", *README_ACL)
    try:
        yield f"redis://portal:portal-test-password@127.0.0.1:{redis_server.port}/0"
    finally:
        with redis_server.client() as admin:
            admin.acl_deluser("portal")


def test_login_and_backchannel_logout_work_as_the_acl_user(
    redis_server, tmp_path, mock_idp, acl_url
):
    idp = mock_idp
    app = session_app(idp, tmp_path, "redis", acl_url)
    client = app.test_client()
    login(client, idp, sid="sid-acl")
    assert signed_in(client)
    assert backchannel(app.test_client(), idp, sid="sid-acl").status_code == 200
    assert not signed_in(client)
    with redis_server.client() as admin:  # the rate limiter counted too (its errors are quiet)
        assert list(admin.scan_iter("portal:ratelimit*"))


def test_the_acl_user_cannot_administer_or_read_other_keys(redis_server, acl_url):
    with redis_server.client() as admin:
        admin.set("other-app:secret", "x")
    with redis.Redis.from_url(acl_url) as portal_user:
        for command in (("FLUSHALL",), ("CONFIG", "GET", "*"), ("KEYS", "*")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                portal_user.execute_command(*command)
        with pytest.raises(redis.exceptions.NoPermissionError):
            portal_user.get("other-app:secret")


def test_a_wrong_password_is_a_clean_503(tmp_path, mock_idp, acl_url):
    app = session_app(mock_idp, tmp_path, "redis", acl_url.replace("portal-test-password", "wrong"))
    response = app.test_client().get("/login")
    assert response.status_code == 503
