"""The invoices page, tested signed in against the mock IdP of portal.testing.

Only the portal's public API and the plugin's fixtures are used: ``portal_app`` (our app,
see conftest.py), ``signed_in_client`` (a real login, with the claims of
``@pytest.mark.claims``), ``mock_idp`` and ``portal_clock``.
"""

from __future__ import annotations

import pytest


def test_a_visitor_goes_through_login_and_comes_back(portal_app, mock_idp):
    client = portal_app.test_client()
    response = client.get("/invoices")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/invoices"
    mock_idp.sign_in(client, next="/invoices", groups=["billing"])
    assert 'href="/invoices"' in client.get("/auth/signed-in").get_data(as_text=True)


@pytest.mark.claims(groups=["billing"])
def test_a_billing_customer_sees_their_invoices(signed_in_client):
    response = signed_in_client.get("/invoices")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Invoices for Alice Example." in page
    assert "INV-2026-0042" in page and "€ 95.50" in page
    assert response.headers["Cache-Control"] == "no-store"  # the portal's rules apply


def test_another_customer_sees_only_their_own(portal_app, mock_idp):
    client = portal_app.test_client()
    mock_idp.sign_in(client, sub="customer-9", name="Bob Other", groups=["billing"])
    page = client.get("/invoices").get_data(as_text=True)
    assert "You have no invoices yet." in page
    assert "INV-2026-0042" not in page


@pytest.mark.parametrize("groups", [["support"], [], None])
def test_without_the_billing_group_the_page_is_forbidden(portal_app, mock_idp, groups):
    client = portal_app.test_client()
    mock_idp.sign_in(client, groups=groups)  # None: the ID token has no groups claim
    response = client.get("/invoices")
    assert response.status_code == 403
    assert "INV-2026-0042" not in response.get_data(as_text=True)


def test_without_a_second_factor_nobody_is_signed_in(portal_app, mock_idp):
    client = portal_app.test_client()
    response = mock_idp.login(client, amr=["pwd"], groups=["billing"])  # password only
    assert "Confirm your authenticator app" in response.get_data(as_text=True)
    assert client.get("/invoices").status_code == 302


@pytest.mark.claims(groups=["billing"])
def test_an_idp_outage_keeps_signed_in_customers_in(signed_in_client, mock_idp):
    mock_idp.down()  # a signed-in page view never calls the IdP
    assert signed_in_client.get("/invoices").status_code == 200


def test_a_visitor_during_an_idp_outage_gets_a_clear_page(portal_app, mock_idp):
    mock_idp.down()
    response = portal_app.test_client().get("/invoices", follow_redirects=True)
    assert response.status_code == 503
    assert "The sign-in service is not reachable right now" in response.get_data(as_text=True)


@pytest.mark.claims(groups=["billing"])
def test_the_session_ends_after_an_hour_without_activity(signed_in_client, portal_clock):
    portal_clock.advance(3600)
    assert signed_in_client.get("/invoices").headers["Location"] == "/login?next=/invoices"
