"""devidp/flow.py and the login screens: the flow cookie names a single-use, server-side state.

Whoever knows the cookie signing key (the shipped ``secret_key`` is public) can write any flow
cookie; whoever copies a browser's cookie can replay it. Neither may skip the password, choose
the TOTP secret of a user who has not enrolled, choose where the login goes afterwards, or
guess codes past the lockout. Guesses from another address do not lock the owner out.
"""

from __future__ import annotations

import re

import pyotp
import pytest

from devidp import db
from devidp import flow
from devidp import sso
from devidp import totp
from devidp import users

from .test_app import AUTHORIZE
from .test_app import PORTAL
from .test_app import csrf

PASSWORD = "demo-password-2fa"  # noqa: S105 - the test user's
ATTACKER_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105 - a TOTP seed of the attacker's
HOME = {"REMOTE_ADDR": "192.0.2.10"}
ELSEWHERE = {"REMOTE_ADDR": "198.51.100.20"}


def flow_cookie(client) -> str:
    return client.get_cookie("devidp_flow").value


def copy_of(app, client, environ=None):
    """Another browser holding a copy of ``client``'s flow cookie."""
    other = app.test_client()
    if environ:
        other.environ_base.update(environ)
    other.set_cookie("devidp_flow", flow_cookie(client))
    return other


def setup_secret(response) -> str:
    return "".join(re.findall(r"<span>([A-Z2-7]{1,4})</span>", response.get_data(as_text=True)))


def to_setup_page(client) -> tuple[str, str]:
    """Authorization request, username, password; return the CSRF token and the TOTP secret."""
    token = csrf(client.get(client.get("/authorize", query_string=AUTHORIZE).location))
    client.post("/login", data={"csrf_token": token, "username": "demo"})
    response = client.post("/login/password", data={"csrf_token": token, "password": PASSWORD})
    assert response.location == "/login/totp-setup"
    return token, setup_secret(client.get("/login/totp-setup"))


def enrolled(app) -> bool:
    with app.app_context():
        conn = db.get_db()
        return totp.get_device(conn, users.find_by_username(conn, "demo").id) is not None


def forged_cookie(app, data: dict) -> str:
    """A flow cookie written with the app's signing key, as anyone knowing the key can."""
    return app.session_interface.get_signing_serializer(app).dumps(data)


def demo_id(app) -> int:
    with app.app_context():
        return users.find_by_username(db.get_db(), "demo").id


# --- a known signing key ----------------------------------------------------------------------


def enrol(client, fake_clock) -> str:
    """A first login through the screens; return the enrolled TOTP secret."""
    token, secret = to_setup_page(client)
    code = pyotp.TOTP(secret).at(int(fake_clock()))
    client.post("/login/totp-setup", data={"csrf_token": token, "code": code})
    fake_clock.advance(30)
    return secret


@pytest.mark.parametrize("step", ["totp_setup", "totp"])
def test_a_forged_cookie_cannot_skip_the_password_plant_a_secret_or_guess_codes(
    app, client, fake_clock, step
):
    victim_secret = enrol(client, fake_clock) if step == "totp" else None
    attacker = app.test_client()
    path = "/login/totp-setup" if step == "totp_setup" else "/login/totp"
    code = pyotp.TOTP(ATTACKER_SECRET).at(int(fake_clock()))
    for attempt in range(12):  # a new username in each cookie: no lockout counter would fill
        state = {
            "username": f"demo{attempt}",
            "step": step,
            "user_id": demo_id(app),
            "at": fake_clock(),
            "totp_secret": ATTACKER_SECRET,
        }
        flow_id = "guessed" if attempt % 2 else None
        data = {"csrf": "t", "login": state, "flow": flow_id, "resume": "/authorize?x=1"}
        attacker.set_cookie("devidp_flow", forged_cookie(app, data))
        assert attacker.get(path).location == "/login"
        response = attacker.post(path, data={"csrf_token": "t", "code": code})
        assert response.location == "/login"
    with app.app_context():
        device = totp.get_device(db.get_db(), demo_id(app))
    assert (device.secret if device else None) == victim_secret
    assert attacker.get_cookie(sso.COOKIE_NAME) is None


def test_a_forged_resume_cannot_send_the_browser_to_another_site(app, client, fake_clock):
    client.set_cookie("devidp_flow", forged_cookie(app, {"resume": "https://evil.example/"}))
    token = csrf(client.get("/login"))
    client.post("/login", data={"csrf_token": token, "username": "demo"})
    client.post("/login/password", data={"csrf_token": token, "password": PASSWORD})
    secret = setup_secret(client.get("/login/totp-setup"))
    code = pyotp.TOTP(secret).at(int(fake_clock()))
    response = client.post("/login/totp-setup", data={"csrf_token": token, "code": code})
    assert response.location == "/login/done"


@pytest.mark.parametrize(
    "url", ["https://evil.example/authorize?x=1", "//evil.example/authorize?x=1", "/login/done"]
)
def test_only_the_authorization_endpoint_is_ever_resumed(app, fake_clock, url):
    state = flow.LoginState("k", "demo", flow.STEP_TOTP, None, fake_clock(), url, None)
    with app.test_request_context():
        assert flow.is_resumable("/authorize?client_id=portal")
        assert not flow.is_resumable(url)
        assert flow.finish_login(state, "sid", fake_clock()) is None
        flow.remember_request(url, fake_clock())
        [row] = db.get_db().execute("SELECT resume FROM login_flows").fetchall()
        assert row["resume"] is None


# --- a copied cookie --------------------------------------------------------------------------


def test_a_copy_taken_after_the_password_is_worthless_once_the_login_finished(
    app, client, fake_clock
):
    token, secret = to_setup_page(client)
    copy = copy_of(app, client)
    code = pyotp.TOTP(secret).at(int(fake_clock()))
    response = client.post("/login/totp-setup", data={"csrf_token": token, "code": code})
    assert client.get(response.location).location.startswith(PORTAL + "/auth/callback?code=")

    fake_clock.advance(30)
    assert copy.get("/login/totp-setup").location == "/login"
    assert copy.get("/login/totp").location == "/login"
    next_code = pyotp.TOTP(secret).at(int(fake_clock()))
    for path in ("/login/totp-setup", "/login/totp"):
        response = copy.post(path, data={"csrf_token": token, "code": next_code})
        assert response.location == "/login"
    assert copy.get_cookie(sso.COOKIE_NAME) is None


def test_a_copy_cannot_redo_a_step_the_browser_has_done(app, client):
    token = csrf(client.get(client.get("/authorize", query_string=AUTHORIZE).location))
    client.post("/login", data={"csrf_token": token, "username": "demo"})
    copy = copy_of(app, client)  # taken at the password step
    client.post("/login/password", data={"csrf_token": token, "password": PASSWORD})
    response = copy.post("/login/password", data={"csrf_token": token, "password": PASSWORD})
    assert response.location == "/login"
    assert copy.get("/login/totp-setup").location == "/login"


def test_only_one_of_two_racing_copies_signs_in(app, client, fake_clock):
    token, secret = to_setup_page(client)
    copy = copy_of(app, client)
    code = pyotp.TOTP(secret).at(int(fake_clock()))
    first = client.post("/login/totp-setup", data={"csrf_token": token, "code": code})
    second = copy.post("/login/totp-setup", data={"csrf_token": token, "code": code})
    assert first.location.startswith("/authorize?")
    assert second.location == "/login"
    with app.app_context():
        assert len(sso.live_for_user(db.get_db(), demo_id(app), fake_clock())) == 1


def test_a_step_is_passed_once_even_by_requests_that_read_the_flow_together(app, fake_clock):
    # Both requests read the flow before either moves it (as concurrent requests can).
    with app.test_request_context():
        flow.begin_login("demo", fake_clock())
        state = flow.login_state(fake_clock())
        assert flow.advance(state, flow.STEP_TOTP, demo_id(app)) is True
        assert flow.advance(state, flow.STEP_TOTP, demo_id(app)) is False
        at_code = flow.login_state(fake_clock())
        assert flow.consume(at_code) is True
        assert flow.consume(at_code) is False
        assert flow.login_state(fake_clock()) is None


def test_wrong_answers_keep_the_flow(client, fake_clock):
    token, _ = to_setup_page(client)
    before = flow_cookie(client)
    response = client.post("/login/totp-setup", data={"csrf_token": token, "code": "000000"})
    assert "code is not valid" in response.get_data(as_text=True)
    assert flow_cookie(client) == before


def test_finished_and_abandoned_flows_leave_no_rows(app, client, fake_clock):
    token, secret = to_setup_page(client)
    code = pyotp.TOTP(secret).at(int(fake_clock()))
    response = client.post("/login/totp-setup", data={"csrf_token": token, "code": code})
    client.get(response.location)  # the resumed request consumes the fresh-login marker
    abandoned = app.test_client().get("/authorize", query_string={**AUTHORIZE, "nonce": "n2"})
    assert abandoned.location == "/login"
    fake_clock.advance(31 * 60)
    later = app.test_client().get("/authorize", query_string={**AUTHORIZE, "nonce": "n3"})
    assert later.location == "/login"  # and the flows too old are pruned
    with app.app_context():
        steps = [row["step"] for row in db.get_db().execute("SELECT step FROM login_flows")]
    assert steps == ["username"]


# --- lockout per account and address ----------------------------------------------------------


def test_guesses_from_another_address_do_not_lock_the_owner_out(app, fake_clock):
    attacker = app.test_client()
    attacker.environ_base.update(ELSEWHERE)
    token = csrf(attacker.get("/login"))
    attacker.post("/login", data={"csrf_token": token, "username": "demo"})
    statuses = [
        attacker.post(
            "/login/password", data={"csrf_token": token, "password": "guess"}
        ).status_code
        for _ in range(10)
    ]
    assert statuses[:4] == [200] * 4 and statuses[4:] == [429] * 6

    owner = app.test_client()
    owner.environ_base.update(HOME)
    token = csrf(owner.get("/login"))
    owner.post("/login", data={"csrf_token": token, "username": "demo"})
    response = owner.post("/login/password", data={"csrf_token": token, "password": PASSWORD})
    assert response.location == "/login/totp-setup"


def test_wrong_codes_are_counted_for_the_user_whatever_was_typed(app, fake_clock):
    browser = app.test_client()
    browser.environ_base.update(HOME)
    enrol(browser, fake_clock)
    # Two new flows typing the name differently: their wrong codes add up for the one user.
    for typed in ("demo", "DEMO "):
        browser.delete_cookie(sso.COOKIE_NAME)
        token = csrf(browser.get("/login"))
        browser.post("/login", data={"csrf_token": token, "username": typed})
        browser.post("/login/password", data={"csrf_token": token, "password": PASSWORD})
        answers = [
            browser.post("/login/totp", data={"csrf_token": token, "code": "000000"}).status_code
            for _ in range(2 if typed == "demo" else 3)
        ]
    assert answers[-1] == 429


@pytest.mark.parametrize(("length", "status"), [(150, 302), (151, 400), (10_000, 400)])
def test_usernames_are_at_most_150_characters(client, length, status):
    token = csrf(client.get("/login"))
    response = client.post("/login", data={"csrf_token": token, "username": "u" * length})
    assert response.status_code == status
    if status == 400:
        assert "at most 150 characters" in response.get_data(as_text=True)


@pytest.mark.parametrize("proxies", [0, 1])
def test_behind_a_proxy_the_lockout_keys_on_the_forwarded_address(tmp_path, fake_clock, proxies):
    """Every client reaches the IdP from the proxy's address: with trusted_proxies, an
    attacker's guesses lock out the attacker's address only, as without a proxy."""
    from devidp import create_app

    from .conftest import make_config

    app = create_app(make_config(tmp_path, DEVIDP_TRUSTED_PROXIES=proxies))
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    attacker = app.test_client()
    attacker.environ_base.update(proxy, HTTP_X_FORWARDED_FOR="198.51.100.20")
    token = csrf(attacker.get("/login"))
    attacker.post("/login", data={"csrf_token": token, "username": "demo"})
    for _ in range(6):
        attacker.post("/login/password", data={"csrf_token": token, "password": "guess"})

    owner = app.test_client()
    owner.environ_base.update(proxy, HTTP_X_FORWARDED_FOR="192.0.2.10")
    token = csrf(owner.get("/login"))
    owner.post("/login", data={"csrf_token": token, "username": "demo"})
    response = owner.post("/login/password", data={"csrf_token": token, "password": PASSWORD})
    if proxies:
        assert response.location == "/login/totp-setup"
    else:  # the attacker's address is the owner's: the lock shows what the setting is for
        assert response.status_code == 429


def test_trusted_proxies_is_a_small_whole_number(tmp_path):
    from devidp import config as devidp_config
    from devidp import create_app

    from .conftest import make_config

    for bad in (-1, 11, "1", True):
        with pytest.raises(devidp_config.ConfigError, match="trusted_proxies"):
            create_app(make_config(tmp_path, DEVIDP_TRUSTED_PROXIES=bad))
