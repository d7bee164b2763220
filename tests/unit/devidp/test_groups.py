"""Users' ``groups`` in config/devidp.toml, sent as the ``groups`` claim (as authentik does).

The portal's PORTAL_ALLOWED_GROUPS is tried against the dev IdP with these (see
tests/integration/test_allowed_groups.py).
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pyotp
import pytest

from devidp import config
from devidp import create_app
from devidp.config import ConfigError
from tests.support.processes import REPO_ROOT

from .conftest import CLIENT_SECRET
from .conftest import PORTAL
from .conftest import make_config
from .test_app import AUTHORIZE
from .test_app import csrf
from .test_login_flow import setup_secret
from .test_reauthentication import VERIFIER


def app_with(tmp_path, **user_fields):
    user = {"username": "demo", "password": "demo-password-2fa", "name": "Demo", **user_fields}
    return create_app(make_config(tmp_path, DEVIDP_USERS=[user]))


def tokens(client, clock) -> dict:
    """Sign ``demo`` in through the screens (enrolling TOTP) and redeem the code."""
    query = {**AUTHORIZE, "nonce": "n1"}
    assert client.get("/authorize", query_string=query).location == "/login"
    token = csrf(client.get("/login"))
    client.post("/login", data={"csrf_token": token, "username": "demo"})
    response = client.post(
        "/login/password", data={"csrf_token": token, "password": "demo-password-2fa"}
    )
    secret = setup_secret(client.get(response.location))
    code = pyotp.TOTP(secret).at(int(clock()))
    response = client.post(response.location, data={"csrf_token": token, "code": code})
    location = client.get(response.location).location
    assert location.startswith(PORTAL + "/auth/callback?"), location
    answer = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": parse_qs(urlsplit(location).query)["code"][0],
            "redirect_uri": AUTHORIZE["redirect_uri"],
            "code_verifier": VERIFIER,
        },
        auth=("portal", CLIENT_SECRET),
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_groups_are_in_the_id_token_and_at_userinfo(tmp_path, fake_clock):
    app = app_with(tmp_path, groups=["customers", "billing"])
    client = app.test_client()
    answer = tokens(client, fake_clock)
    assert claims_of(answer["id_token"])["groups"] == ["customers", "billing"]
    userinfo = client.get(
        "/userinfo", headers={"Authorization": f"Bearer {answer['access_token']}"}
    ).get_json()
    assert userinfo["groups"] == ["customers", "billing"]


def test_a_user_without_groups_gets_an_empty_list_as_authentik_sends(tmp_path, fake_clock):
    client = app_with(tmp_path).test_client()
    assert claims_of(tokens(client, fake_clock)["id_token"])["groups"] == []


def test_discovery_lists_the_groups_claim(tmp_path, fake_clock):
    meta = app_with(tmp_path).test_client().get("/.well-known/openid-configuration").get_json()
    assert "groups" in meta["claims_supported"]


@pytest.mark.parametrize("groups", ["customers", [""], [1], ["ok", None]])
def test_bad_groups_are_refused_with_the_user_named(tmp_path, groups):
    with pytest.raises(ConfigError, match=r"\[\[users\]\] #1: groups must be a list"):
        app_with(tmp_path, groups=groups)


def test_the_shipped_demo_user_is_in_the_customers_group():
    mapping = config.read_file(REPO_ROOT / config.DEFAULT_CONFIG_PATH, {})
    settings = config.parse({**config.DEFAULTS, **mapping})
    assert settings.groups_of("demo") == ("customers",)
    assert settings.groups_of("someone-added-later") == ()
