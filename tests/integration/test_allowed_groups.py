"""PORTAL_ALLOWED_GROUPS against the live dev IdP, whose users carry ``groups`` in its config.

A member signs in as usual. A customer outside the groups goes through the whole sign-in at
the IdP (username, password, TOTP setup) and is then refused by the portal: a 403 page in
plain words with the support contact, no portal session, an audit line and a metric.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.devidp import start_devidp
from tests.support.journey import Journey
from tests.support.journey import User
from tests.support.portal_server import CLIENT_SECRET
from tests.support.portal_server import LivePortal
from tests.support.processes import REPO_ROOT
from tests.support.processes import free_port
from tests.support.processes import python_argv

MEMBER = User("member", "member-password-2fa", "Member Customer", "member@example.com")
OUTSIDER = User("outsider", "outsider-password-2fa", "Out Sider", "outsider@example.com")
NO_GROUPS = User("nogroups", "nogroups-password-2fa", "No Groups", "nogroups@example.com")
GROUPS = {"member": ["partners", "customers"], "outsider": ["staff"]}
REFUSAL = "Your account does not have access to the Customer Portal"


@pytest.fixture(scope="module")
def live(tmp_path_factory, redis_server):
    workdir = tmp_path_factory.mktemp("groups")
    port = free_port()
    users = [
        {
            **user.as_config(),
            **({"groups": GROUPS[user.username]} if user.username in GROUPS else {}),
        }
        for user in (MEMBER, OUTSIDER, NO_GROUPS)
    ]
    idp = start_devidp(
        workdir / "devidp",
        portal_base_url=f"http://127.0.0.1:{port}",
        client_secret=CLIENT_SECRET,
        users=users,
    )
    portal = LivePortal(
        workdir,
        issuer=idp.url,
        port=port,
        redis_url=redis_server.url,
        env={"PORTAL_ALLOWED_GROUPS": "customers", "PORTAL_LOG_FORMAT": "json"},
    )
    try:
        portal.start()
        yield portal, idp
    finally:
        portal.stop()
        idp.stop()


def logins(portal: LivePortal, result: str) -> float:
    text = requests.get(portal.url + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "portal_logins_total" and sample.labels == {"result": result}:
                return sample.value
    raise AssertionError("portal_logins_total is not served")


def audit(portal: LivePortal) -> list[dict]:
    lines = (json.loads(line) for line in portal.log_text().splitlines())
    return [line for line in lines if line["logger"] == "portal.audit"]


def test_a_member_of_an_allowed_group_signs_in(live):
    portal, idp = live
    account = Journey(portal, idp).first_login(MEMBER)
    assert account.path == "/account" and "Member Customer" in account.text
    assert logins(portal, "ok") >= 1


@pytest.mark.parametrize("user", [OUTSIDER, NO_GROUPS], ids=["other-group", "no-group"])
def test_others_are_refused_after_signing_in_without_a_portal_session(live, user):
    portal, idp = live
    journey = Journey(portal, idp)
    refused_before, ok_before = logins(portal, "group"), logins(portal, "ok")
    page = journey.through_idp(user)
    assert "totp-setup" in journey.seen_idp_screens  # signed in at the IdP, both factors
    assert page.url == portal.url + "/auth/no-access"  # the callback's code is left behind
    assert page.status == 403
    assert REFUSAL in page.text
    assert "support@example.com" in page.text
    assert "Traceback" not in page.html
    assert logins(portal, "group") == refused_before + 1
    last = audit(portal)[-1]
    assert (last["event"], last["reason"]) == ("login.refused", "group")
    assert last["sub"] and last["sid_hash"] and last["client"] == "127.0.0.1"
    # no portal session: the account page sends the browser through Login again, where the
    # IdP's live SSO session signs it in silently and the portal refuses it once more
    again = journey.open("/account")
    assert again.status == 403 and REFUSAL in again.text
    assert again.path == "/auth/no-access"
    assert logins(portal, "ok") == ok_before


def test_portal_check_says_the_dev_idp_lists_the_groups_claim(live):
    portal, idp = live
    result = subprocess.run(
        python_argv("-m", "portal", "check"),
        cwd=REPO_ROOT,
        env={**portal.process.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[ok]   access limited to the groups customers ('groups' claim listed)" in result.stdout
