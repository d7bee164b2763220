"""The public API is a promise: these tests fail when a name disappears or changes shape.

A deployer's blueprint uses ``portal.login_required``, ``portal.fresh_login_required`` and
``portal.current_customer()``, and inherits the portal's base template, headers, CSRF and
session rules. The blueprint below is such a page, tested through the ``portal.testing``
fixtures as a deployer would.
"""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from importlib.metadata import entry_points

import pytest
from bs4 import BeautifulSoup
from flask import Blueprint
from flask import render_template_string

import portal
from portal import current_customer
from portal import fresh_login_required
from portal import login_required

PROMISED = {"Customer", "create_app", "current_customer", "fresh_login_required", "login_required"}
CUSTOMER_FIELDS = ("sub", "email", "name", "username", "groups", "auth_time", "amr")

PAGE = """{% extends "base.html" %}
{% block title %}Extra{% endblock %}
{% block header %}Extra page{% endblock %}
{% block content %}
<p id="who">{{ customer.display_name if customer else "nobody" }}</p>
<form method="post" action="/extra">
  <input type="hidden" name="csrf_token" value="{{ csrf_token() }}"><button>Send</button>
</form>
{% endblock %}"""

bp = Blueprint("extra", __name__)
ran: list[str] = []


@bp.get("/extra")
@login_required
def extra() -> str:
    return render_template_string(PAGE, customer=current_customer())


@bp.post("/extra")
@login_required
def extra_post() -> str:
    ran.append("post")
    return "done"


@bp.get("/whoami")
@login_required
def whoami() -> dict:
    customer = current_customer()
    assert isinstance(customer, portal.Customer)
    return {**dataclasses.asdict(customer), "display_name": customer.display_name}


@bp.get("/public-extra")
def public_extra() -> str:
    return render_template_string(PAGE, customer=current_customer())


@bp.get("/sensitive")
@fresh_login_required(120)
def sensitive() -> str:
    ran.append("sensitive")
    return "sensitive content"


@pytest.fixture
def portal_factory():
    def create_app_with_extra(settings, **kwargs):
        app = portal.create_app(settings, **kwargs)
        app.register_blueprint(bp)
        return app

    return create_app_with_extra


@pytest.fixture(autouse=True)
def _forget_runs():
    ran.clear()


def test_the_promised_names_are_exported():
    assert set(portal.__all__) == PROMISED
    for name in PROMISED:
        assert callable(getattr(portal, name)), name


def test_the_signatures_are_stable():
    assert list(inspect.signature(portal.login_required).parameters) == ["view"]
    assert list(inspect.signature(portal.current_customer).parameters) == []
    fresh = inspect.signature(portal.fresh_login_required).parameters
    assert list(fresh) == ["max_age"] and fresh["max_age"].default is None
    assert tuple(f.name for f in dataclasses.fields(portal.Customer)) == CUSTOMER_FIELDS
    assert list(inspect.signature(portal.create_app).parameters) == ["settings", "clock"]


def test_the_plugin_is_registered_as_a_pytest11_entry_point():
    [plugin] = [ep for ep in entry_points(group="pytest11") if ep.name == "portal.testing"]
    assert plugin.value == "portal.testing"


def test_the_plugin_fixtures_exist(
    mock_idp, portal_app, signed_in_client, portal_clock, portal_settings, portal_redis_url
):
    assert signed_in_client.application is portal_app
    assert portal_app.extensions["portal.settings"].issuer == mock_idp.issuer


def test_the_portal_imports_neither_pytest_nor_the_plugin():
    code = (
        "import sys, portal; from portal import cli, views; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest') "
        "or m == 'portal.testing'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_a_page_needs_a_login_and_comes_back_after_it(portal_app, mock_idp):
    client = portal_app.test_client()
    response = client.get("/extra?tab=2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/extra?tab%3D2"
    mock_idp.sign_in(client, next="/extra?tab=2")
    page = client.get("/auth/signed-in").get_data(as_text=True)
    assert 'href="/extra?tab=2"' in page


@pytest.mark.claims(
    sub="cust-42",
    email="bea@example.com",
    name="Bea Customer",
    preferred_username="bea",
    groups=["billing", "support"],
    amr=["pwd", "otp"],
)
def test_current_customer_carries_the_id_token_claims(signed_in_client, portal_clock):
    assert signed_in_client.get("/whoami").json == {
        "sub": "cust-42",
        "email": "bea@example.com",
        "name": "Bea Customer",
        "username": "bea",
        "groups": ["billing", "support"],
        "auth_time": int(portal_clock.now()),
        "amr": ["pwd", "otp"],
        "display_name": "Bea Customer",
    }


def test_groups_are_empty_when_the_id_token_has_none(signed_in_client):
    assert signed_in_client.get("/whoami").json["groups"] == []
    assert "Groups" not in signed_in_client.get("/account").get_data(as_text=True)


@pytest.mark.claims(groups=["billing"])
def test_the_account_page_shows_the_groups(signed_in_client):
    page = BeautifulSoup(signed_in_client.get("/account").get_data(as_text=True), "html.parser")
    assert page.find(id="groups").get_text() == "billing"


def test_current_customer_is_none_on_a_public_page(portal_app):
    page = portal_app.test_client().get("/public-extra").get_data(as_text=True)
    assert '<p id="who">nobody</p>' in page


def test_a_page_inherits_the_base_template_headers_and_no_store(signed_in_client):
    response = signed_in_client.get("/extra")
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert page.find(id="who").get_text() == "Alice Example"
    assert page.title.get_text() == "Extra · Customer Portal"
    assert page.find("form", action="/logout") is not None  # the base template's header
    assert page.find("link", rel="stylesheet")["href"] == "/static/portal.css"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_form_of_the_page_is_protected_by_csrf(signed_in_client):
    assert signed_in_client.post("/extra").status_code == 400
    assert ran == []
    page = BeautifulSoup(signed_in_client.get("/extra").get_data(as_text=True), "html.parser")
    token = page.find("form", action="/extra").find("input", attrs={"name": "csrf_token"})
    assert signed_in_client.post("/extra", data={"csrf_token": token["value"]}).status_code == 200
    assert ran == ["post"]


def test_a_page_follows_the_session_rules(signed_in_client, portal_clock, mock_idp):
    assert signed_in_client.get("/extra").status_code == 200
    portal_clock.advance(3600)  # PORTAL_IDLE_TIMEOUT without a request
    assert signed_in_client.get("/extra").status_code == 302


def test_a_back_channel_logout_ends_the_page_too(signed_in_client, mock_idp, portal_app):
    assert mock_idp.backchannel_logout(portal_app.test_client()).status_code == 200
    assert signed_in_client.get("/extra").headers["Location"] == "/login?next=/extra"


def test_a_fresh_sign_in_page_runs_while_the_sign_in_is_recent(signed_in_client, portal_clock):
    portal_clock.advance(119)
    assert signed_in_client.get("/sensitive").get_data(as_text=True) == "sensitive content"
    assert ran == ["sensitive"]


def test_an_old_sign_in_is_confirmed_at_the_idp_then_the_page_runs(
    signed_in_client, portal_clock, mock_idp
):
    portal_clock.advance(121)
    confirm = signed_in_client.get("/sensitive?x=1")
    assert ran == []
    page = BeautifulSoup(confirm.get_data(as_text=True), "html.parser")
    assert "Confirm your sign-in" in page.get_text()
    assert "the last 2 minutes" in " ".join(page.get_text().split())
    form = page.find("form", action="/account/confirm-sign-in")
    fields = {i["name"]: i["value"] for i in form.find_all("input")}
    assert fields["next"] == "/sensitive?x=1" and fields["max_age"] == "120"
    assert signed_in_client.get("/extra").status_code == 200  # viewing ended nothing
    to_idp = signed_in_client.post("/account/confirm-sign-in", data=fields)
    params = mock_idp.authorization_params(to_idp)
    assert params["max_age"] == "120"
    assert mock_idp.callback(signed_in_client, params).headers["Location"] == "/auth/signed-in"
    assert 'href="/sensitive?x=1"' in signed_in_client.get("/auth/signed-in").get_data(as_text=True)
    assert signed_in_client.get("/sensitive?x=1").get_data(as_text=True) == "sensitive content"


def test_a_stale_post_to_a_fresh_sign_in_page_does_not_run_it(signed_in_client, portal_clock):
    portal_clock.advance(121)
    assert "Confirm your sign-in" in signed_in_client.get("/sensitive").get_data(as_text=True)
    assert ran == []


@pytest.mark.parametrize(
    ("fields", "target", "max_age"),
    [
        ({"next": "https://evil.example.com/", "max_age": "120"}, "/account", "120"),
        ({"next": "/sensitive", "max_age": "-5"}, "/sensitive", "600"),
        ({"next": "/sensitive", "max_age": "99999"}, "/sensitive", "43200"),
        ({"next": "/sensitive", "max_age": "١٢٠"}, "/sensitive", "600"),
        ({}, "/account", "600"),
    ],
)
def test_confirm_sign_in_keeps_next_local_and_max_age_bounded(
    signed_in_client, mock_idp, fields, target, max_age
):
    page = BeautifulSoup(signed_in_client.get("/account").get_data(as_text=True), "html.parser")
    token = page.find("input", attrs={"name": "csrf_token"})["value"]
    to_idp = signed_in_client.post("/account/confirm-sign-in", data={"csrf_token": token, **fields})
    params = mock_idp.authorization_params(to_idp)
    assert params["max_age"] == max_age
    mock_idp.callback(signed_in_client, params)
    page = signed_in_client.get("/auth/signed-in").get_data(as_text=True)
    assert f'href="{target}"' in page


def test_confirm_sign_in_needs_a_csrf_token(signed_in_client):
    assert signed_in_client.post("/account/confirm-sign-in", data={"next": "/x"}).status_code == 400
    assert signed_in_client.get("/extra").status_code == 200


def test_fresh_login_required_refuses_a_bare_use_and_a_bad_max_age():
    with pytest.raises(TypeError, match="with parentheses"):
        fresh_login_required(lambda: "page")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_age"):
        fresh_login_required(-1)
    with pytest.raises(TypeError):
        fresh_login_required(True)
