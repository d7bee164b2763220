"""GET /metrics: who may read it, and what the portal counts (against the mock IdP).

Under gunicorn with several workers: tests/integration/test_metrics_under_gunicorn.py.
"""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from prometheus_client.parser import text_string_to_metric_families

from portal import create_app
from tests.support.metrics_text import value

OTHER_HOST = {"REMOTE_ADDR": "192.0.2.7"}


def scrape(client, **kwargs) -> str:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return response.get_data(as_text=True)


def csrf(client) -> str:
    page = client.get("/account").get_data(as_text=True)
    return BeautifulSoup(page, "html.parser").find("input", attrs={"name": "csrf_token"})["value"]


@pytest.fixture
def client(portal_app):
    return portal_app.test_client()


def test_metrics_are_served_to_the_host_itself_in_the_text_format(client):
    text = scrape(client)
    assert "# TYPE portal_logins_total counter" in text
    assert value(text, "portal_logins_total", result="ok") == 0


@pytest.mark.parametrize("address", ["192.0.2.7", "10.1.2.3", "::ffff:192.0.2.7", "2001:db8::1"])
def test_other_clients_get_the_ordinary_404(client, address):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 404
    assert "portal_logins" not in response.get_data(as_text=True)
    assert "There is no page at this address." in response.get_data(as_text=True)


def test_ipv6_loopback_is_allowed_by_default(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


@pytest.mark.parametrize(
    "portal_settings", [{"PORTAL_METRICS_ALLOW": "192.0.2.0/24, 2001:db8::/32"}]
)
def test_metrics_allow_names_the_networks_that_may_read(client):
    assert client.get("/metrics", environ_base=OTHER_HOST).status_code == 200
    v6 = client.get("/metrics", environ_base={"REMOTE_ADDR": "2001:db8::9"})
    assert v6.status_code == 200
    assert client.get("/metrics").status_code == 404  # loopback is no longer listed


@pytest.mark.parametrize("portal_settings", [{"PORTAL_TRUSTED_PROXIES": "1"}])
def test_behind_a_proxy_the_forwarded_client_decides(client):
    # the proxy on this host relays a request from elsewhere: that client is not the host
    relayed = client.get("/metrics", headers={"X-Forwarded-For": "192.0.2.7"})
    assert relayed.status_code == 404
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200


def test_a_client_cannot_claim_loopback_without_a_trusted_proxy(client):
    spoofed = client.get(
        "/metrics", headers={"X-Forwarded-For": "127.0.0.1"}, environ_base=OTHER_HOST
    )
    assert spoofed.status_code == 404


def test_logins_by_result_and_no_customer_in_any_label(client, mock_idp, portal_app):
    mock_idp.sign_in(client, sub="subject-7f3a", email="someone@example.com")
    refused = mock_idp.login(portal_app.test_client(), amr=["pwd"])  # asks to confirm first
    assert refused.status_code == 200
    browser = portal_app.test_client()
    forged = mock_idp.callback(browser, mock_idp.begin(browser), state="forged")
    assert forged.status_code == 400
    text = scrape(client)
    assert value(text, "portal_logins_total", result="ok") == 1
    assert value(text, "portal_logins_total", result="state") == 1
    for secret in ("subject-7f3a", "someone@example.com", mock_idp.last_sid):
        assert secret not in text


def test_idp_requests_are_timed_by_endpoint(client, mock_idp):
    mock_idp.sign_in(client)
    text = scrape(client)
    for endpoint in ("discovery", "jwks", "token"):
        count = value(text, "portal_idp_request_duration_seconds_count", endpoint=endpoint)
        assert count == 1, endpoint
    assert value(text, "portal_idp_request_duration_seconds_count", endpoint="userinfo") == 0


def test_an_unreachable_idp_is_a_refused_login_and_a_failed_request(client, mock_idp):
    mock_idp.sign_in(client)  # discovery and keys loaded
    browser = client.application.test_client()
    params = mock_idp.begin(browser)
    mock_idp.down("token")
    assert mock_idp.callback(browser, params).status_code == 503
    text = scrape(client)
    assert value(text, "portal_logins_total", result="idp_unreachable") == 1
    assert value(text, "portal_idp_request_failures_total", endpoint="token") == 1


def test_logouts_by_kind(client, mock_idp, portal_app):
    mock_idp.sign_in(client)
    assert client.post("/logout", data={"csrf_token": csrf(client)}).status_code == 302
    other = portal_app.test_client()
    mock_idp.sign_in(other)
    assert other.post("/logout/everywhere", data={"csrf_token": csrf(other)}).status_code == 302
    text = scrape(client)
    assert value(text, "portal_logouts_total", kind="portal") == 1
    assert value(text, "portal_logouts_total", kind="everywhere") == 1


def test_back_channel_logouts_by_result_and_the_sessions_they_end(client, mock_idp, portal_app):
    mock_idp.sign_in(client)
    token = mock_idp.logout_token()
    assert client.post("/auth/backchannel-logout", data={"logout_token": token}).status_code == 200
    replay = client.post("/auth/backchannel-logout", data={"logout_token": token})
    assert replay.status_code == 400
    assert (
        client.post("/auth/backchannel-logout", data={"logout_token": "x.y.z"}).status_code == 400
    )
    text = scrape(client)
    assert value(text, "portal_backchannel_logouts_total", result="ok") == 1
    assert value(text, "portal_backchannel_logouts_total", result="replayed") == 1
    assert value(text, "portal_backchannel_logouts_total", result="refused") == 1
    assert value(text, "portal_sessions_ended_total", reason="backchannel") == 1


def test_readyz_failures_by_check(client, mock_idp):
    mock_idp.down("discovery")
    assert client.get("/readyz").status_code == 503
    assert value(scrape(client), "portal_readyz_failures_total", check="idp") == 1


def test_session_store_errors_are_counted_once_per_request(tmp_path, mock_idp):
    from tests.support.processes import free_port

    env = mock_idp.portal_env(
        tmp_path / "sessions",
        PORTAL_SESSION_BACKEND="redis",
        PORTAL_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        PORTAL_HTTP_TIMEOUT="0.5",
    )
    client = create_app(env).test_client()
    assert client.get("/login").status_code == 503
    assert client.get("/readyz").status_code == 503
    text = scrape(client)
    assert value(text, "portal_session_store_errors_total") >= 2
    assert value(text, "portal_readyz_failures_total", check="store") == 1


def test_every_series_exists_before_the_first_event(client):
    text = scrape(client)
    names = {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }
    assert {
        "portal_logins_total",
        "portal_logouts_total",
        "portal_backchannel_logouts_total",
        "portal_sessions_ended_total",
        "portal_idp_request_duration_seconds_bucket",
        "portal_idp_request_failures_total",
        "portal_session_store_errors_total",
        "portal_readyz_failures_total",
    } <= names


@pytest.mark.parametrize("method", ["OPTIONS", "POST", "PUT", "DELETE", "PATCH", "PROPFIND"])
def test_other_clients_get_the_same_404_whatever_the_method(client, method):
    """No 405, no Allow header, no CSRF refusal: nothing tells /metrics from a missing page."""
    missing = client.open("/no-such-page", method=method, environ_base=OTHER_HOST)
    response = client.open("/metrics", method=method, environ_base=OTHER_HOST)
    assert response.status_code == missing.status_code == 404
    assert "Allow" not in response.headers
    assert response.get_data() == missing.get_data()
