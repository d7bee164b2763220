"""PORTAL_ALLOWED_GROUPS: only customers in one of the groups get a portal session.

The rule itself (``portal.oidc.check_groups``) as a table, then the login against the mock
IdP: refused after sign-in with a plain 403 page, no session, an audit line and a metric.
Against the live dev IdP: tests/integration/test_allowed_groups.py.
"""

from __future__ import annotations

import logging

import pytest

from portal.oidc import NotInAllowedGroup
from portal.oidc import check_groups
from portal.oidc import groups_in

ALLOWED = {"PORTAL_ALLOWED_GROUPS": "customers, partners", "PORTAL_SUPPORT_CONTACT": "help@x.test"}
REFUSAL = "Your account does not have access to the Customer Portal"


@pytest.mark.parametrize(
    ("claims", "found"),
    [
        ({"groups": ["a", "b"]}, ("a", "b")),
        ({"groups": "a"}, ("a",)),
        ({"groups": []}, ()),
        ({"groups": ["a", 3, None, {"x": 1}]}, ("a",)),
        ({"groups": {"a": True}}, ()),
        ({"groups": None}, ()),
        ({}, None),
    ],
)
def test_groups_in_reads_a_list_or_a_lone_string(claims, found):
    assert groups_in(claims, "groups") == found


@pytest.mark.parametrize(
    ("groups", "allowed", "refused"),
    [
        (("customers",), ("customers",), False),
        (("staff", "partners"), ("customers", "partners"), False),
        ((), (), False),  # nothing configured: anyone the IdP signs in
        (None, (), False),
        (("staff",), ("customers",), True),
        ((), ("customers",), True),
        (None, ("customers",), True),  # no claim at all
        (("/customers",), ("customers",), True),  # Keycloak's full path: names compare exactly
        (("Customers",), ("customers",), True),
    ],
)
def test_check_groups(groups, allowed, refused):
    if refused:
        with pytest.raises(NotInAllowedGroup):
            check_groups(groups, allowed, "groups")
    else:
        check_groups(groups, allowed, "groups")


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


@pytest.fixture
def portal_settings():
    return ALLOWED


def test_a_member_signs_in(portal_app, mock_idp):
    client = portal_app.test_client()
    mock_idp.sign_in(client, groups=["partners", "newsletter"])
    assert signed_in(client)


@pytest.mark.parametrize("groups", [["staff"], [], None])
def test_a_non_member_is_refused_after_sign_in_without_a_session(
    portal_app, mock_idp, groups, caplog
):
    client = portal_app.test_client()
    caplog.set_level(logging.INFO, logger="portal")
    response = mock_idp.login(client, sub="outsider-1", groups=groups)
    assert response.status_code == 303  # away from the callback URL and its code
    assert response.headers["Location"] == "/auth/no-access"
    response = client.get("/auth/no-access")
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert response.headers["Cache-Control"] == "no-store"
    assert REFUSAL in page
    assert "help@x.test" in page
    assert "Traceback" not in page
    assert not signed_in(client)
    [audit] = [r for r in caplog.records if r.name == "portal.audit"]
    assert audit.event == "login.refused"
    assert audit.fields["reason"] == "group"
    assert audit.fields["sub"] == "outsider-1"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'portal_logins_total{result="group"} 1.0' in metrics
    assert 'portal_logins_total{result="ok"} 0.0' in metrics


def test_the_groups_may_come_from_userinfo(portal_app, mock_idp):
    """An IdP that puts the claim at userinfo only (a Keycloak mapper set that way)."""
    client = portal_app.test_client()
    mock_idp.respond(
        "userinfo", json={"sub": "user-123", "email": "a@x.test", "groups": ["customers"]}
    )
    mock_idp.sign_in(client, sub="user-123", groups=None)
    assert signed_in(client)
    assert mock_idp.calls("userinfo") == 1


def test_userinfo_is_asked_for_the_groups_claim_only_when_needed(portal_app, mock_idp):
    client = portal_app.test_client()
    mock_idp.sign_in(client, groups=["customers"])
    assert mock_idp.calls("userinfo") == 0


@pytest.mark.parametrize("portal_settings", [{"PORTAL_ALLOWED_GROUPS": ""}, {}])
def test_empty_means_everyone_the_idp_signs_in(portal_app, mock_idp):
    client = portal_app.test_client()
    mock_idp.sign_in(client, groups=None)
    assert signed_in(client)


@pytest.mark.parametrize(
    "portal_settings", [{"PORTAL_ALLOWED_GROUPS": "admins", "PORTAL_GROUPS_CLAIM": "roles"}]
)
def test_the_groups_claim_is_configurable(portal_app, mock_idp):
    member, other = portal_app.test_client(), portal_app.test_client()
    mock_idp.sign_in(member, roles=["admins"], groups=["customers"])
    assert signed_in(member)
    assert mock_idp.login(other, roles=["users"], groups=["admins"]).status_code == 303
    assert not signed_in(other)


@pytest.mark.parametrize(
    "portal_settings", [{"PORTAL_ALLOWED_GROUPS": "admins", "PORTAL_GROUPS_CLAIM": "roles"}]
)
def test_customer_groups_follow_the_configured_claim(portal_app, mock_idp):
    from flask import Blueprint

    from portal import current_customer
    from portal import login_required

    bp = Blueprint("probe", __name__)

    @bp.get("/probe")
    @login_required
    def probe():
        return ",".join(current_customer().groups)

    portal_app.register_blueprint(bp)
    client = portal_app.test_client()
    mock_idp.sign_in(client, roles=["admins", "auditors"], groups=["customers"])
    assert client.get("/probe").get_data(as_text=True) == "admins,auditors"
