"""devidp/i18n.py: the screens in the language the relying party asks for with ui_locales.

OpenID Connect Core 1.0 §3.1.2.1: the first tag of ``ui_locales`` the IdP has screens in wins;
the choice is kept for this browser's next screens (a cookie), else Accept-Language, else
English. Every screen a customer reads in the first login is checked in French here, the QR
code's accessible name and the copy button's words included.
"""

from __future__ import annotations

import re

import pyotp
import pytest
from bs4 import BeautifulSoup

from devidp import i18n
from devidp import lockout
from devidp import login as login_screens

from .conftest import PORTAL
from .test_app import AUTHORIZE
from .test_app import csrf


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def heading(response) -> str:
    return page(response).h1.get_text().strip()


def authorize(client, **extra):
    """The portal's authorization request, followed to the username screen."""
    response = client.get("/authorize", query_string={**AUTHORIZE, **extra})
    assert response.status_code == 302
    return client.get(response.location)


@pytest.mark.parametrize(
    ("ui_locales", "language"),
    [
        ("fr", "fr"),
        ("fr-CA", "fr"),
        ("de fr en", "fr"),  # the first one the IdP has
        ("en fr", "en"),
        ("de", "en"),  # none it has: English
        ("", "en"),
        ("x" * 300, "en"),  # oversized: ignored, not an error
    ],
)
def test_ui_locales_picks_the_first_language_the_idp_has(ui_locales, language):
    assert (i18n.requested(ui_locales) or "en") == language


def test_the_first_login_reads_in_french_when_the_portal_asks_for_it(client, fake_clock):
    username = authorize(client, ui_locales="fr")
    assert page(username).html["lang"] == "fr"
    assert heading(username) == "Se connecter"
    assert "Bienvenue sur Example Business Auth\u202f!" in username.get_data(as_text=True)
    assert page(username).find("label", attrs={"for": "username"}).get_text() == "Nom d’utilisateur"
    cookie = client.get_cookie(i18n.COOKIE_NAME)
    assert cookie is not None and cookie.value == "fr"
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure

    token = csrf(username)
    client.post("/login", data={"csrf_token": token, "username": "demo"})
    password = client.get("/login/password")  # no ui_locales here: the cookie keeps French
    assert heading(password) == "Saisissez votre mot de passe"
    assert "Connexion en tant que" in password.get_data(as_text=True)
    assert page(password).find("a", string="Ce n’est pas vous\u202f?") is not None
    wrong = client.post("/login/password", data={"csrf_token": token, "password": "nope"})
    assert "Nom d’utilisateur ou mot de passe incorrect." in wrong.get_data(as_text=True)
    assert "Erreur\u00a0:" in wrong.get_data(as_text=True)

    client.post("/login/password", data={"csrf_token": token, "password": "demo-password-2fa"})
    setup = client.get("/login/totp-setup")
    html = setup.get_data(as_text=True)
    assert heading(setup) == "Configurer l’authentification à deux facteurs"
    assert "Elle ajoute une entrée nommée «\u00a0Example Business: demo\u00a0»." in html
    assert "<title>Code QR pour votre application d’authentification</title>" in html
    copy = page(setup).find(id="copy-secret")
    assert copy.get_text() == "Copier la clé"
    assert (copy["data-copied-label"], copy["data-copied-status"]) == ("Copiée", "Clé copiée")
    assert page(setup).find("label", attrs={"for": "code"}).get_text() == "Code TOTP"
    # the entry's name in the authenticator app stays "<Brand>: <username>" in any language
    assert "otpauth://totp/Example%20Business:demo?" in html

    bad = client.post("/login/totp-setup", data={"csrf_token": token, "code": "000000"})
    assert "Ce code n’est pas valide." in bad.get_data(as_text=True)
    secret = "".join(re.findall(r"<span>([A-Z2-7]{1,4})</span>", html))
    code = pyotp.TOTP(secret).at(int(fake_clock()))
    done = client.post("/login/totp-setup", data={"csrf_token": token, "code": code})
    resumed = client.get(done.location)  # the authorization request, ui_locales and all
    assert resumed.location.startswith(PORTAL + "/auth/callback?code=")


def test_english_stays_the_default(client):
    username = authorize(client)
    assert page(username).html["lang"] == "en"
    assert heading(username) == "Log in"
    assert client.get_cookie(i18n.COOKIE_NAME) is None  # nothing asked, nothing remembered


def test_accept_language_decides_without_ui_locales(client):
    response = client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert page(response).html["lang"] == "fr"
    assert heading(response) == "Se connecter"


def test_ui_locales_wins_over_the_browser_and_the_cookie(client):
    authorize(client, ui_locales="fr")
    response = authorize(client, ui_locales="en")
    assert heading(response) == "Log in"
    assert client.get_cookie(i18n.COOKIE_NAME).value == "en"
    french_browser = {"Accept-Language": "fr"}
    assert heading(client.get("/login", headers=french_browser)) == "Log in"  # remembered


def test_a_forged_cookie_is_ignored(client):
    client.set_cookie(i18n.COOKIE_NAME, "<script>")
    response = client.get("/login")
    assert page(response).html["lang"] == "en"


def test_the_logout_screens_follow_the_language(client, fake_clock):
    from .test_app import login

    login(client, fake_clock)  # English sign-in; the portal then asks for French at logout
    confirm = client.get("/end-session", query_string={"client_id": "portal", "ui_locales": "fr"})
    assert heading(confirm) == "Se déconnecter de Example Business Auth\u202f?"
    token = csrf(confirm)
    done = client.post("/end-session", data={"csrf_token": token, "client_id": "portal"})
    assert heading(done) == "Déconnexion effectuée"
    assert page(done).html["lang"] == "fr"


def test_error_pages_are_translated(client):
    client.set_cookie(i18n.COOKIE_NAME, "fr")
    missing = client.get("/no-such-screen")
    assert missing.status_code == 404
    assert heading(missing) == "Page introuvable"
    unknown = client.get("/authorize", query_string={**AUTHORIZE, "client_id": "nope"})
    assert heading(unknown) == "Cette demande de connexion ne peut pas être traitée"
    assert "n’est pas enregistrée" in unknown.get_data(as_text=True)
    expired = client.post("/login", data={"username": "demo"})
    assert heading(expired) == "Cette page a expiré"


def test_the_footer_is_translated_unless_the_deployer_wrote_it(tmp_path, fake_clock):
    from devidp import create_app

    from .conftest import make_config

    default = create_app(make_config(tmp_path / "a")).test_client()
    default.set_cookie(i18n.COOKIE_NAME, "fr")
    footer = page(default.get("/login")).footer.get_text()
    assert footer == "Example Business Auth · Propulsé par l’IdP de développement"
    own = create_app(make_config(tmp_path / "b", DEVIDP_FOOTER="Acme · support 555")).test_client()
    own.set_cookie(i18n.COOKIE_NAME, "fr")
    assert page(own.get("/login")).footer.get_text() == "Acme · support 555"


def test_discovery_lists_the_languages(client):
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert meta["ui_locales_supported"] == ["en", "fr"]


def test_messages_made_outside_a_request_are_english():
    assert lockout.message(30) == "Too many attempts. Wait 30 seconds before trying again."
    assert str(login_screens.WRONG_PASSWORD) == "Incorrect username or password."


def test_the_lockout_message_is_french_in_a_french_screen(app):
    with app.test_request_context("/login", headers={"Cookie": f"{i18n.COOKIE_NAME}=fr"}):
        assert (
            lockout.message(1) == "Trop de tentatives. Patientez 1\u00a0seconde avant de réessayer."
        )
        assert lockout.message(30) == (
            "Trop de tentatives. Patientez 30\u00a0secondes avant de réessayer."
        )
