"""The portal.testing fixtures: what they build and how a test changes it.

The module's ``claims`` marker and the tests' own show which one wins; the Redis test shows
a deployer's ``portal_redis_url`` fixture moving the sessions into a real Redis.
"""

from __future__ import annotations

import pytest
import redis

from portal.session_store import store_key
from portal.testing import claims_of

pytestmark = pytest.mark.claims(name="Module Name", email="module@example.com")


def test_signed_in_client_went_through_the_real_login(signed_in_client, mock_idp):
    assert mock_idp.calls("authorize") == 1
    [token_request] = [seen for seen in mock_idp.requests if seen.endpoint == "token"]
    assert token_request.form["grant_type"] == "authorization_code"
    assert "code_verifier" in token_request.form
    assert signed_in_client.get_cookie("portal_session") is not None
    assert signed_in_client.get("/account").status_code == 200


def test_the_module_marker_applies(signed_in_client):
    page = signed_in_client.get("/account").get_data(as_text=True)
    assert "Module Name" in page and "module@example.com" in page


@pytest.mark.claims(name="Test Name")
def test_the_closest_marker_wins_claim_by_claim(signed_in_client, request):
    assert claims_of(request.node) == {"name": "Test Name", "email": "module@example.com"}
    page = signed_in_client.get("/account").get_data(as_text=True)
    assert "Test Name" in page and "module@example.com" in page


@pytest.mark.claims({"https://example.com/tenant": "acme"}, name=None)
def test_a_claim_that_is_no_keyword_and_a_claim_left_out(signed_in_client, mock_idp):
    from joserfc import jwt
    from joserfc.jwk import KeySet

    claims = jwt.decode(mock_idp.id_tokens[0], KeySet([mock_idp.key])).claims
    assert claims["https://example.com/tenant"] == "acme"
    assert "name" not in claims


@pytest.mark.parametrize("portal_settings", [{"PORTAL_IDLE_TIMEOUT": "120"}])
def test_portal_settings_change_the_portal(signed_in_client, portal_clock):
    portal_clock.advance(121)
    assert signed_in_client.get("/account").status_code == 302


def test_the_portal_and_the_mock_share_one_clock(portal_app, mock_idp, portal_clock):
    portal_clock.advance(7 * 24 * 3600)  # a week ahead of the real time: tokens follow
    client = portal_app.test_client()
    mock_idp.sign_in(client)
    assert client.get("/account").status_code == 200


def test_by_default_sessions_are_files_in_a_temporary_folder(portal_app, tmp_path):
    settings = portal_app.extensions["portal.settings"]
    assert settings.session_backend == "filesystem"
    assert settings.session_dir.is_relative_to(tmp_path)


class TestWithRedis:
    @pytest.fixture
    def portal_redis_url(self, redis_url):
        return redis_url

    def test_sessions_are_in_the_redis_the_test_asked_for(self, signed_in_client, redis_url):
        key = store_key(signed_in_client.get_cookie("portal_session").value)
        with redis.Redis.from_url(redis_url) as store:
            assert store.exists(key)
