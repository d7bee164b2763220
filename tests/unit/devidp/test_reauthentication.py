"""The ``reauth`` setting: what ``prompt=login`` or ``max_age`` does to the SSO session.

``new-session`` (the default) behaves as authentik: a new session and sid, and a logout token
for the old sid. ``keep-session`` behaves as Keycloak: the same session and sid, ``auth_time``
and ``amr`` of the new sign-in, the end still counted from the first sign-in, and no logout
token. Relying parties are tested against both (tests/integration/
test_sso_bound_across_reauthentication.py).
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pyotp
import pytest

from devidp import backchannel
from devidp import config
from devidp import create_app
from devidp import db
from devidp import sso
from devidp import users
from devidp.config import ConfigError
from tests.support.processes import REPO_ROOT

from .conftest import CLIENT_SECRET
from .conftest import PORTAL
from .conftest import make_config
from .test_app import AUTHORIZE
from .test_app import csrf
from .test_login_flow import setup_secret

HOUR = 3600
SSO_SECONDS = 43200
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 B: AUTHORIZE's challenge
PASSWORDS = {"demo": "demo-password-2fa", "other": "other-password-2fa"}
OTHER_USER = {"username": "other", "password": PASSWORDS["other"], "name": "Other Customer"}
REAUTHENTICATIONS = [{"prompt": "login"}, {"max_age": "600"}]


@pytest.fixture
def logouts(monkeypatch) -> list[backchannel.Delivery]:
    """The logout tokens the IdP would POST to clients (nothing leaves the test)."""
    sent: list[backchannel.Delivery] = []
    monkeypatch.setattr(backchannel, "deliver_in_background", sent.extend)
    return sent


def idp(tmp_path, **overrides):
    base = make_config(tmp_path)
    users_ = [*base["DEVIDP_USERS"], OTHER_USER]
    return create_app(make_config(tmp_path, DEVIDP_USERS=users_, **overrides))


def sign_in(client, clock, secrets: dict[str, str], username: str = "demo", **params) -> dict:
    """An authorization request answered through the login screens; the ID token's claims.

    Enrols TOTP on a user's first login (the secret goes into ``secrets``), else enters a code.
    """
    query = {**AUTHORIZE, "nonce": f"n{clock()}", **params}
    assert client.get("/authorize", query_string=query).location == "/login"
    token = csrf(client.get("/login"))
    client.post("/login", data={"csrf_token": token, "username": username})
    response = client.post(
        "/login/password", data={"csrf_token": token, "password": PASSWORDS[username]}
    )
    if response.location == "/login/totp-setup":
        secrets[username] = setup_secret(client.get(response.location))
    code = pyotp.TOTP(secrets[username]).at(int(clock()))
    response = client.post(response.location, data={"csrf_token": token, "code": code})
    return exchange(client, client.get(response.location).location)


def silent(client, clock) -> dict | None:
    """The ID token's claims when the SSO session answers at once, else ``None``."""
    query = {**AUTHORIZE, "nonce": f"s{clock()}"}
    location = client.get("/authorize", query_string=query).location
    return None if location == "/login" else exchange(client, location)


def exchange(client, location: str) -> dict:
    assert location.startswith(PORTAL + "/auth/callback?"), location
    code = parse_qs(urlsplit(location).query)["code"][0]
    response = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": AUTHORIZE["redirect_uri"],
            "code_verifier": VERIFIER,
        },
        auth=("portal", CLIENT_SECRET),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return claims_of(response.get_json()["id_token"])


def claims_of(token: str) -> dict:
    """A JWT's claims, unverified (the protocol tests check signatures)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def sessions_of(app, username: str) -> list[dict]:
    """The user's SSO sessions as stored, ended ones included, oldest first."""
    with app.app_context():
        conn = db.get_db()
        user = users.find_by_username(conn, username)
        rows = conn.execute(
            "SELECT sid, auth_time, expires_at, ended_at FROM sso_sessions WHERE user_id = ?"
            " ORDER BY rowid",
            (user.id,),
        ).fetchall()
        return [dict(row) for row in rows]


def logged_out_sids(deliveries: list[backchannel.Delivery]) -> list[str]:
    return [claims_of(delivery.logout_token)["sid"] for delivery in deliveries]


# --- the setting -------------------------------------------------------------------------------


def test_new_session_is_the_default_and_the_shipped_value(tmp_path):
    assert create_app(make_config(tmp_path)).extensions["devidp.settings"].reauth == "new-session"
    shipped = config.read_file(REPO_ROOT / "config" / "devidp.toml", environ={})
    assert shipped["DEVIDP_REAUTH"] == "new-session"


@pytest.mark.parametrize("value", ["keep", "", 1, None])
def test_an_unknown_mode_is_refused_with_the_key_named(tmp_path, value):
    with pytest.raises(ConfigError, match=r"\[idp\] reauth"):
        create_app(make_config(tmp_path, DEVIDP_REAUTH=value))


# --- new-session: authentik --------------------------------------------------------------------


@pytest.mark.parametrize("params", REAUTHENTICATIONS)
def test_new_session_mode_starts_a_new_sid_and_logs_the_old_one_out(
    tmp_path, fake_clock, logouts, params
):
    app = idp(tmp_path)
    client, secrets = app.test_client(), {}
    first = sign_in(client, fake_clock, secrets)
    fake_clock.advance(11 * HOUR)
    second = sign_in(client, fake_clock, secrets, **params)
    assert second["sid"] != first["sid"]
    assert second["auth_time"] == int(fake_clock())
    assert logged_out_sids(logouts) == [first["sid"]]
    old, new = sessions_of(app, "demo")
    assert old["sid"] == first["sid"] and old["ended_at"] is not None
    assert new["expires_at"] == second["auth_time"] + SSO_SECONDS  # 12 hours from this sign-in
    fake_clock.advance(HOUR + 60)
    assert silent(client, fake_clock)["sid"] == second["sid"]


# --- keep-session: Keycloak --------------------------------------------------------------------


@pytest.mark.parametrize("params", REAUTHENTICATIONS)
def test_keep_session_mode_keeps_the_sid_and_the_end_and_sends_no_logout(
    tmp_path, fake_clock, logouts, params
):
    # authentik-like enrolment amr, so that the re-authentication's amr is visibly new
    app = idp(tmp_path, DEVIDP_REAUTH="keep-session", DEVIDP_ENROLMENT_AMR="authentik")
    client, secrets = app.test_client(), {}
    first = sign_in(client, fake_clock, secrets)
    assert first["amr"] == ["pwd"]
    cookie = client.get_cookie(sso.COOKIE_NAME).value
    fake_clock.advance(11 * HOUR)
    second = sign_in(client, fake_clock, secrets, **params)
    assert second["sid"] == first["sid"]
    assert second["auth_time"] == first["auth_time"] + 11 * HOUR
    assert second["amr"] == ["pwd", "otp", "mfa"]
    assert second["acr"] == sso.ACR_MFA
    assert logouts == []
    assert client.get_cookie(sso.COOKIE_NAME).value == cookie
    [session] = sessions_of(app, "demo")
    assert session["ended_at"] is None
    assert session["expires_at"] == first["auth_time"] + SSO_SECONDS  # from the first sign-in
    again = silent(client, fake_clock)  # later ID tokens carry the new sign-in
    assert (again["sid"], again["auth_time"]) == (first["sid"], second["auth_time"])

    fake_clock.advance(HOUR - 61)  # first sign-in + 12 h - 1 min
    assert silent(client, fake_clock)["sid"] == first["sid"]
    fake_clock.advance(61)  # first sign-in + 12 h: ended, without a logout token
    assert silent(client, fake_clock) is None
    assert logouts == []


def test_keep_session_mode_starts_a_new_session_for_another_user(tmp_path, fake_clock, logouts):
    app = idp(tmp_path, DEVIDP_REAUTH="keep-session")
    client, secrets = app.test_client(), {}
    first = sign_in(client, fake_clock, secrets)
    fake_clock.advance(HOUR)
    other = sign_in(client, fake_clock, secrets, username="other", prompt="login")
    assert other["sid"] != first["sid"]
    assert logged_out_sids(logouts) == [first["sid"]]
    [old] = sessions_of(app, "demo")
    assert old["sid"] == first["sid"] and old["ended_at"] is not None


def test_a_session_ended_meanwhile_is_not_revived(tmp_path, fake_clock):
    app = idp(tmp_path, DEVIDP_REAUTH="keep-session")
    with app.app_context():
        conn = db.get_db()
        user = users.find_by_username(conn, "demo")
        _, session = sso.create(conn, user_id=user.id, amr=["pwd"], now=fake_clock(), lifetime=60)
        sso.mark_ended(conn, session, fake_clock())
        assert sso.reauthenticate(conn, session, amr=["pwd", "otp"], now=fake_clock()) is None
        _, expiring = sso.create(conn, user_id=user.id, amr=["pwd"], now=fake_clock(), lifetime=60)
        later = fake_clock() + 60
        assert sso.reauthenticate(conn, expiring, amr=["pwd", "otp"], now=later) is None
