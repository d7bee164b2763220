"""portal/i18n.py: the page language, its cookie, the switcher and ui_locales.

DESIGN.md "Language": ``?lang=xx`` (remembered in a cookie), else Accept-Language, else the
first of PORTAL_LANGUAGES; ``<html lang>`` says it, and the authorization request carries
``ui_locales`` so that the IdP's screens match. The cookie is the only thing kept: anonymous
pages still store nothing server-side.
"""

from __future__ import annotations

from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from portal import create_app
from portal import i18n
from tests.support.portal_env import idp_env
from tests.support.portal_env import portal_env
from tests.support.stored_records import StoredRecords

FRENCH_BROWSER = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}


def accept(header: str) -> LanguageAccept:
    return parse_accept_header(header, LanguageAccept)


@pytest.mark.parametrize(
    ("asked", "remembered", "header", "chosen"),
    [
        (None, None, "", "en"),  # nothing says: the first of PORTAL_LANGUAGES
        (None, None, "fr-CA,en;q=0.5", "fr"),  # the browser's
        (None, None, "de,fr;q=0.5", "fr"),  # the first the portal has
        (None, None, "de", "en"),
        (None, "fr", "en", "fr"),  # the cookie over the browser
        ("en", "fr", "fr", "en"),  # ?lang= over everything
        ("FR", None, "", "fr"),
        ("fr-BE", None, "", "fr"),
        ("de", "fr", "en", "fr"),  # a language not offered is ignored, not refused
        ("<script>", "../../etc", "", "en"),
        ("f" * 100, None, "", "en"),
    ],
)
def test_the_choice_of_language(asked, remembered, header, chosen):
    assert i18n.choose(("en", "fr"), asked=asked, remembered=remembered, accept=accept(header)) == (
        chosen
    )


def test_the_first_of_portal_languages_is_the_fallback():
    assert i18n.choose(("fr", "en"), asked=None, remembered=None, accept=accept("")) == "fr"


@pytest.fixture
def app(tmp_path):
    return create_app(portal_env(tmp_path))


def html(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def h1(response) -> str:
    return html(response).h1.get_text().strip()


def test_english_is_the_default_and_html_lang_says_so(app):
    page = app.test_client().get("/")
    assert html(page).html["lang"] == "en"
    assert h1(page) == "Welcome to the Customer Portal"
    assert "Set-Cookie" not in page.headers  # nothing chosen, nothing remembered


def test_the_browser_language_is_used(app):
    page = app.test_client().get("/", headers=FRENCH_BROWSER)
    assert html(page).html["lang"] == "fr"
    assert h1(page) == "Bienvenue dans votre Espace client"
    assert html(page).find("a", class_="button").get_text() == "Se connecter"


def test_lang_in_the_address_is_remembered_in_a_cookie_of_its_own(app):
    client = app.test_client()
    first = client.get("/?lang=fr")
    assert html(first).html["lang"] == "fr"
    cookie = client.get_cookie(i18n.PLAIN_COOKIE_NAME)
    assert cookie.value == "fr"
    assert cookie.http_only and cookie.same_site == "Lax" and cookie.path == "/"
    assert cookie.max_age == i18n.COOKIE_MAX_AGE
    # every later page, whatever the browser says, until the customer picks another
    later = client.get("/logged-out", headers={"Accept-Language": "en"})
    assert html(later).html["lang"] == "fr"
    assert "Set-Cookie" not in later.headers  # already remembered: nothing rewritten
    back = client.get("/logged-out?lang=en")
    assert html(back).html["lang"] == "en"
    assert client.get_cookie(i18n.PLAIN_COOKIE_NAME).value == "en"


def test_a_language_not_offered_sets_nothing(app):
    client = app.test_client()
    page = client.get("/?lang=de")
    assert html(page).html["lang"] == "en"
    assert client.get_cookie(i18n.PLAIN_COOKIE_NAME) is None


def test_on_https_the_cookie_is_host_only_and_secure(tmp_path):
    env = portal_env(
        tmp_path,
        PORTAL_BASE_URL="https://portal.example.com",
        PORTAL_OIDC_ISSUER="https://idp.example.com",
    )
    client = create_app(env).test_client()
    response = client.get("/?lang=fr", base_url="https://portal.example.com")
    [set_cookie] = response.headers.getlist("Set-Cookie")
    assert set_cookie.startswith("__Host-portal_lang=fr;")
    assert "Secure" in set_cookie and "HttpOnly" in set_cookie and "Path=/" in set_cookie
    assert "Domain" not in set_cookie


def test_pages_say_they_vary_with_the_language_and_a_new_choice_is_not_cached(app):
    client = app.test_client()
    page = client.get("/")
    assert {"Cookie", "Accept-Language"} <= set(page.vary)
    chosen = client.get("/?lang=fr")
    assert chosen.headers["Cache-Control"] == "no-store"  # it sets a cookie
    static = client.get("/static/portal.css")
    static.close()
    assert "accept-language" not in static.vary.as_set()  # the same file in any language


def test_portal_languages_decides_what_is_offered(tmp_path):
    french_first = create_app(portal_env(tmp_path, PORTAL_LANGUAGES="fr,en")).test_client()
    assert html(french_first.get("/")).html["lang"] == "fr"
    english_only = create_app(portal_env(tmp_path, PORTAL_LANGUAGES="en")).test_client()
    page = english_only.get("/?lang=fr", headers=FRENCH_BROWSER)
    assert html(page).html["lang"] == "en"
    assert html(page).find("nav", class_="languages") is None  # nothing to switch to


def switcher(response) -> dict[str, dict]:
    nav = html(response).find("nav", class_="languages")
    entries = {}
    for item in nav.find_all("li"):
        element = item.find(["a", "span"])
        entries[element.get_text()] = {
            "href": element.get("href"),
            "lang": element.get("lang"),
            "current": element.get("aria-current") == "true",
        }
    return entries


def test_the_footer_switcher_offers_each_language_in_its_own_name(app):
    response = app.test_client().get("/", headers=FRENCH_BROWSER)
    nav = html(response).find("nav", class_="languages")
    assert nav["aria-label"] == "Langue"
    assert switcher(response) == {
        "English": {"href": "/?lang=en", "lang": "en", "current": False},
        "Français": {"href": None, "lang": "fr", "current": True},
    }
    assert html(response).find("a", hreflang="en") is not None


def test_the_switcher_keeps_the_page_and_its_query(app):
    response = app.test_client().get("/logged-out?scope=portal&lang=en")
    assert switcher(response)["Français"]["href"] == "/logged-out?scope=portal&lang=fr"


def test_the_switcher_never_repeats_a_one_time_code(app):
    response = app.test_client().get("/logged-out?code=secret-code&iss=x&lang=en")
    href = switcher(response)["Français"]["href"]
    assert "secret-code" not in href and "iss" not in href
    assert href == "/logged-out?lang=fr"


@pytest.mark.parametrize(
    "path", ["/no-such-page", "/%5Cevil.example/x", "//evil.example/x", "/%2F%2Fevil.example"]
)
def test_on_a_page_not_found_the_switcher_goes_to_the_start_page(app, path):
    """A 404's path is whatever the visitor typed: "/\\evil.example" as a link would
    leave the portal (browsers read a backslash as a slash)."""
    response = app.test_client().get(path)
    assert response.status_code == 404
    assert switcher(response)["Français"]["href"] == "/?lang=fr"


def test_on_an_answer_to_a_form_the_switcher_goes_to_the_start_page(app):
    response = app.test_client().post("/logout")  # no CSRF token: the expired-form page
    assert response.status_code == 400
    assert switcher(response)["Français"]["href"] == "/?lang=fr"


def test_the_authorization_request_carries_the_page_language(tmp_path, mock_idp):
    client = create_app(idp_env(mock_idp, tmp_path)).test_client()
    french = client.get("/login?lang=fr")
    assert french.status_code == 302
    assert parse_qs(urlsplit(french.location).query)["ui_locales"] == ["fr"]
    english = create_app(idp_env(mock_idp, tmp_path)).test_client().get("/login")
    assert parse_qs(urlsplit(english.location).query)["ui_locales"] == ["en"]
    remembered = client.get("/login")  # the cookie from ?lang=fr
    assert parse_qs(urlsplit(remembered.location).query)["ui_locales"] == ["fr"]


@pytest.mark.parametrize("backend", ["redis", "filesystem"])
def test_choosing_a_language_stores_nothing_on_the_server(backend, request, tmp_path, mock_idp):
    env = {"PORTAL_RATE_LIMIT": "1000 per minute"}
    if backend == "redis":
        redis_url = request.getfixturevalue("redis_url")
        env.update(PORTAL_SESSION_BACKEND="redis", PORTAL_REDIS_URL=redis_url)
        records = StoredRecords(redis_url=redis_url)
    else:
        records = StoredRecords(folder=tmp_path / "sessions")
    app = create_app(idp_env(mock_idp, tmp_path, **env))
    before = records.count()
    for path in ("/?lang=fr", "/logged-out?lang=fr", "/no-such-page?lang=fr", "/?lang=en"):
        for _ in range(5):
            response = app.test_client().get(path)
            assert response.status_code < 500
            assert "portal_session=" not in response.headers.get("Set-Cookie", "")
    assert records.count() == before, list(records.values())


def test_error_pages_speak_the_language(app):
    client = app.test_client()
    client.set_cookie(i18n.PLAIN_COOKIE_NAME, "fr")
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert h1(missing) == "Page introuvable"
    assert "Il n’y a aucune page à cette adresse." in missing.get_data(as_text=True)
    expired = client.post("/logout")
    assert h1(expired) == "Ce formulaire a expiré"


def test_the_logged_out_page_in_french(app):
    client = app.test_client()
    page = client.get("/logged-out?lang=fr")
    assert h1(page) == "Déconnexion effectuée"
    assert html(page).find(id="logout-scope").get_text() == (
        "Votre session de l’Espace client est terminée. Votre connexion à 127.0.0.1 reste"
        " active\u00a0: «\u00a0Se connecter\u00a0» vous reconnectera donc aussitôt."
    )
    assert html(page).find("button").get_text() == "Se déconnecter partout"


@pytest.mark.claims(amr=["pwd", "otp", "mfa"])
def test_the_signed_in_pages_in_french(signed_in_client, portal_clock):
    signed_in_client.set_cookie(i18n.PLAIN_COOKIE_NAME, "fr")
    account = signed_in_client.get("/account")
    page = html(account)
    assert page.html["lang"] == "fr"
    assert h1(account) == "Votre compte"
    assert [dt.get_text() for dt in page.find_all("dt")][:3] == [
        "Nom d’utilisateur",
        "Nom",
        "E-mail",
    ]
    assert page.find(id="session-ends").get_text().endswith(" UTC au plus tard")
    assert page.find(id="previous-sign-in").get_text() == "aucune depuis 90 jours"
    assert "12 heures après votre connexion" in account.get_data(as_text=True)
    assert "après une heure sans activité" in account.get_data(as_text=True)
    assert [b.get_text() for b in page.find_all("button")] == [
        "Se déconnecter partout",
        "Se déconnecter",
    ]
    details = html(signed_in_client.get("/account/security"))
    assert details.find(id="amr").get_text() == "Mot de passe et application d’authentification"
    devices = html(signed_in_client.get("/account/sessions"))
    assert devices.h1.get_text() == "Appareils connectés"
    assert devices.find("span", class_="this-device").get_text() == "(Cet appareil)"


def test_the_keycloak_realm_offers_the_portal_languages():
    """Keycloak honours ui_locales only for a supported locale of a realm with
    internationalization on (README "Languages")."""
    import json

    from tests.support.processes import REPO_ROOT

    realm = json.loads((REPO_ROOT / "config" / "keycloak" / "realm-portal.json").read_text())
    assert realm["internationalizationEnabled"] is True
    assert set(realm["supportedLocales"]) == {"en", "fr"}
    assert realm["defaultLocale"] == "en"
