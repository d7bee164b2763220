"""Every response that depends on the browser's session is marked ``Cache-Control: no-store``.

The landing page shows the signed-in name, and any page (a 404 too) of a signed-in customer
carries their CSRF token; a shared cache or the browser's disk must keep neither.
"""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup


@pytest.fixture
def client(signed_in_client):
    return signed_in_client


def test_landing_page_with_the_signed_in_name_is_not_stored(client):
    response = client.get("/")
    assert "You are signed in as Alice Example" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_not_found_page_with_the_csrf_token_is_not_stored(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert page.find("input", attrs={"name": "csrf_token"}) is not None
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/", "/no-such-page", "/account", "/auth/signed-in"])
def test_every_page_for_a_browser_with_a_session_is_not_stored(client, path):
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_a_response_that_starts_a_session_is_not_stored(portal_app):
    client = portal_app.test_client()
    response = client.get("/login")
    assert "portal_session=" in response.headers.get("Set-Cookie", "")
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_stay_cacheable_for_signed_in_customers(client):
    response = client.get("/static/portal.css")
    response.close()
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_a_static_file_does_not_write_the_session(client, portal_clock):
    """Past the touch granularity a page would write the session (and set its cookie); a
    static file must not, or a cacheable file would carry the customer's session cookie."""
    portal_clock.advance(60)
    response = client.get("/static/portal.css")
    response.close()
    assert "Set-Cookie" not in response.headers
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert "Set-Cookie" in client.get("/account").headers  # a page still counts as activity


def test_a_static_file_that_ends_the_session_is_not_stored(client, portal_clock):
    portal_clock.advance(3601)  # past PORTAL_IDLE_TIMEOUT
    response = client.get("/static/portal.css")
    response.close()
    assert "portal_session=;" in response.headers.get("Set-Cookie", "")
    assert response.headers["Cache-Control"] == "no-store"
