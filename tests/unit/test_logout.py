"""Local logout and "Log out everywhere" (RP-initiated logout) against the mock IdP."""

from __future__ import annotations

from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup

from portal import create_app
from tests.support.portal_env import idp_env


def csrf(client, path="/account"):
    page = client.get(path).get_data(as_text=True)
    return BeautifulSoup(page, "html.parser").find("input", attrs={"name": "csrf_token"})["value"]


def client_signed_in(tmp_path, idp):
    env = idp_env(idp, tmp_path, PORTAL_SSO_NAME="Example Business Auth")
    client = create_app(env).test_client()
    idp.sign_in(client)
    return client


@pytest.fixture
def idp(mock_idp):
    return mock_idp


def test_logout_everywhere_sends_client_uri_and_state_and_no_token(tmp_path, idp):
    client = client_signed_in(tmp_path, idp)
    response = client.post("/logout/everywhere", data={"csrf_token": csrf(client)})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (
        f"{location.scheme}://{location.netloc}{location.path}"
        == idp.metadata["end_session_endpoint"]
    )
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert params["post_logout_redirect_uri"] == "http://127.0.0.1:8888/logged-out"
    assert set(params) == {"client_id", "post_logout_redirect_uri", "state"}
    assert params["client_id"] == "portal"
    for token in idp.id_tokens:  # not even its signature
        assert token.rsplit(".", 1)[1] not in response.headers["Location"]
    assert len(params["state"]) >= 16
    assert client.get("/account").status_code == 302  # portal session already ended

    back = client.get("/logged-out", query_string={"state": params["state"]})
    assert "You are logged out everywhere" in back.get_data(as_text=True)
    # the state works once
    again = client.get("/logged-out", query_string={"state": params["state"]})
    assert "could not confirm" in again.get_data(as_text=True)


def test_logged_out_with_forged_state_does_not_claim_sso_ended(tmp_path, idp):
    client = client_signed_in(tmp_path, idp)
    client.post("/logout/everywhere", data={"csrf_token": csrf(client)})
    page = client.get("/logged-out", query_string={"state": "forged"}).get_data(as_text=True)
    assert "logged out everywhere" not in page
    assert "could not confirm" in page


def test_provider_without_end_session_endpoint_says_so(tmp_path, idp):
    idp.metadata["end_session_endpoint"] = None
    client = client_signed_in(tmp_path, idp)
    response = client.post("/logout/everywhere", data={"csrf_token": csrf(client)})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "does not let the portal end your single sign-on session" in text
    assert client.get("/account").status_code == 302


def test_local_logout_page_offers_log_out_everywhere(tmp_path, idp):
    client = client_signed_in(tmp_path, idp)
    response = client.post("/logout", data={"csrf_token": csrf(client)}, follow_redirects=True)
    text = response.get_data(as_text=True)
    assert (
        "You are logged out of the Customer Portal. "
        "You are still signed in to Example Business Auth" in text
    )
    assert 'action="/logged-out/everywhere"' in text


def test_log_out_everywhere_with_provider_unreachable_says_so_and_can_retry(
    tmp_path, idp, portal_clock
):
    from portal.fetch_gate import FAILURE_MEMORY

    clock = portal_clock
    client = create_app(idp_env(idp, tmp_path), clock=clock).test_client()
    idp.sign_in(client)
    app_provider = client.application.extensions["portal.provider"]
    app_provider.client.server_metadata.clear()  # discovery must be fetched again ...
    idp.down()  # ... and the IdP is down
    response = client.post("/logout/everywhere", data={"csrf_token": csrf(client)})
    assert response.status_code == 503
    assert "not reachable" in response.get_data(as_text=True)
    idp.up()
    clock.advance(FAILURE_MEMORY)  # a failed discovery is not retried at once
    # the portal session is over: the logged-out page's button retries, without any token
    assert 'action="/logged-out/everywhere"' in client.get("/logged-out").get_data(as_text=True)
    retry = client.get("/logged-out/everywhere")
    assert retry.status_code == 302
    assert retry.headers["Location"].startswith(idp.metadata["end_session_endpoint"])
    assert "id_token_hint=" not in retry.headers["Location"]
