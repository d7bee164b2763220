"""bench/floor_page.py: the bench's empty signed-in page must cost what any signed-in page costs
(the login check, the session read, the hooks), or its ratio would say nothing about /account."""

from __future__ import annotations

import pytest

from bench import floor_page


@pytest.fixture
def portal_factory():
    return floor_page.create_app


def test_a_visitor_is_sent_to_login(portal_app):
    response = portal_app.test_client().get(floor_page.PATH)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={floor_page.PATH}"


@pytest.mark.claims(name="Alice <Example>")
def test_a_customer_gets_a_page_of_the_account_pages_size(signed_in_client):
    response = signed_in_client.get(floor_page.PATH)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Alice &lt;Example&gt;" in page
    assert len(response.data) == floor_page.BODY_BYTES
    assert response.headers["Cache-Control"] == "no-store"  # the portal's hooks ran
    account = signed_in_client.get("/account")
    assert abs(len(account.data) - floor_page.BODY_BYTES) < len(account.data) // 4
