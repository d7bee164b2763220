"""The whole first login in French, on a phone, in a real Chromium.

The customer opens the portal in an English browser, picks "Français" in the footer, and from
then on every screen is French: the portal's pages, and the dev IdP's screens through
``ui_locales`` (username, password, TOTP setup with its QR code and copy button, a wrong
code, the code), the redirection page, the account with its dates, the sign-in details, the
devices, both logouts and the next login with a code. Each screen has ``<html lang="fr">``,
shows none of the English words of the pages, fits the phone, passes axe-core (WCAG 2.1 A/AA)
and leaves a screenshot; the README shows a few of them (``PORTAL_UPDATE_SCREENSHOTS=1``
writes them to docs/screenshots/fr-*.png).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.support.devidp import BRAND
from tests.support.journey import User
from tests.support.stack import Stack

from .helpers import Authenticator
from .helpers import Camera
from .helpers import KeyUri
from .helpers import assert_accessible
from .helpers import assert_fits
from .helpers import scan_qr

pytestmark = pytest.mark.e2e

SSO_NAME = "Example Business Auth"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 1,
    "is_mobile": True,
    "has_touch": True,
    "timezone_id": "Europe/Paris",
    "locale": "en-US",  # an English browser: the customer chooses French on the page
}
#: Words of the English pages that a French page must not show (the names "Example Business
#: Auth", "Google Authenticator" and the like are names, not words of the page).
ENGLISH = re.compile(
    r"\b(the|and|your|you|log|login|logged|sign|signed|continue|welcome|enter|back|password"
    r"|username|account|device|devices|copy|copied|code from|wait|after|ends?)\b",
    re.IGNORECASE,
)
#: French short month names as Intl.DateTimeFormat("fr") writes them.
FRENCH_DATE = re.compile(
    r"\b\d{1,2} (janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc)\.? \d{4}"
)


class FrenchJourney:
    def __init__(self, page, stack: Stack, user: User, camera: Camera) -> None:
        from playwright.sync_api import expect

        self.expect = expect
        self.page = page
        self.stack = stack
        self.user = user
        self.camera = camera
        self.phone: Authenticator | None = None

    def heading(self, text: str) -> None:
        self.expect(self.page.get_by_role("heading", level=1)).to_have_text(text)

    def button(self, name: str):
        return self.page.get_by_role("button", name=name, exact=True)

    def link(self, name: str):
        return self.page.get_by_role("link", name=name, exact=True)

    def french(self, step: str, *controls, doc: str | None = None) -> None:
        """The page is French through and through, fits the phone, passes axe; a picture."""
        page = self.page
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.lang") == "fr", f"{step}: {page.url}"
        text = page.evaluate("document.body.innerText")
        for name in (SSO_NAME, BRAND, "Google Authenticator", "Microsoft Authenticator"):
            text = text.replace(name, "")
        text = text.replace(self.user.username, "").replace(self.user.name, "")
        english = ENGLISH.findall(text)
        assert not english, f"{step}: English words {english} on {page.url}:\n{text}"
        assert_fits(page, *controls)
        assert_accessible(page, f"{step} in French on the phone")
        self.camera.shot(step, doc=doc)

    def welcome(self) -> None:
        self.expect(self.page.get_by_text(f"Bienvenue sur {SSO_NAME}\u202f!")).to_be_visible()

    # --- the journey ------------------------------------------------------------------------
    def choose_french(self) -> None:
        page = self.page
        page.goto(self.stack.portal.url + "/")
        self.heading("Welcome to the Customer Portal")
        switcher = page.get_by_role("navigation", name="Language")
        self.expect(switcher.get_by_text("English")).to_have_attribute("aria-current", "true")
        francais = switcher.get_by_role("link", name="Français")
        self.expect(francais).to_have_attribute("lang", "fr")
        francais.click()
        self.heading("Bienvenue dans votre Espace client")
        self.expect(page.get_by_role("navigation", name="Langue")).to_be_visible()
        self.french("landing", self.link("Se connecter"), self.link("English"), doc="fr-1-landing")

    def username(self, step: str, doc: str | None = None) -> None:
        self.expect(self.page).to_have_url(re.compile("^" + re.escape(self.stack.idp.url)))
        self.welcome()
        self.heading("Se connecter")
        field, button = self.page.get_by_label("Nom d’utilisateur"), self.button("Se connecter")
        self.french(step, field, button, doc=doc)
        field.fill(self.user.username)
        button.click()

    def password(self, step: str) -> None:
        self.welcome()
        self.heading("Saisissez votre mot de passe")
        self.expect(self.page.locator(".who")).to_contain_text(
            f"Connexion en tant que {self.user.username}"
        )
        field, button = self.page.get_by_label("Mot de passe"), self.button("Continuer")
        self.french(step, self.link("Ce n’est pas vous\u202f?"), field, button)
        field.fill(self.user.password)
        button.click()

    def totp_setup(self, step: str, doc: str | None = None) -> None:
        page = self.page
        self.welcome()
        self.heading("Configurer l’authentification à deux facteurs")
        self.expect(
            page.get_by_text(f"Elle ajoute une entrée nommée «\u00a0{BRAND}: {self.user.username}")
        ).to_be_visible()
        add = self.link("Ajouter à l’application d’authentification")
        qr = page.locator("#totp-qr")
        self.expect(qr.get_by_role("img")).to_have_accessible_name(
            "Code QR pour votre application d’authentification"
        )
        copy, field = self.button("Copier la clé"), page.get_by_label("Code TOTP")
        self.french(step, add, qr, copy, field, self.button("Continuer"), doc=doc)

        key = KeyUri.parse(add.get_attribute("href"))
        assert key.label == f"{BRAND}:{self.user.username}" and key.issuer == BRAND, key
        assert KeyUri.parse(scan_qr(self.camera.element(qr, "qr-code"))) == key
        copy.click()
        self.expect(page.locator("#copy-secret")).to_have_text("Copiée")
        self.expect(page.get_by_role("status")).to_have_text("Clé copiée")

        field.fill("000000")
        self.button("Continuer").click()
        self.expect(page.locator("#code-error")).to_contain_text("Ce code n’est pas valide.")
        self.expect(field).to_be_focused()
        self.french(f"{step}-wrong-code", field)

        self.phone = Authenticator(self.stack.idp, key.secret, period=key.period)
        field.fill(self.phone.code())
        self.button("Continuer").click()

    def code(self, step: str) -> None:
        self.welcome()
        self.heading("Saisissez votre code TOTP")
        field = self.page.get_by_label("Code TOTP")
        self.french(step, field, self.button("Continuer"))
        assert self.phone is not None
        field.fill(self.phone.code())
        self.button("Continuer").click()

    def redirection(self, step: str, doc: str | None = None) -> None:
        self.heading(f"Connexion réussie en tant que {self.user.name}")
        self.expect(self.page.get_by_text(f"{SSO_NAME} a confirmé votre connexion")).to_be_visible()
        self.french(step, self.link("Continuer"), doc=doc)
        self.link("Continuer").click()

    def account(self, step: str, doc: str | None = None) -> None:
        page = self.page
        self.heading("Votre compte")
        self.expect(page.get_by_text("Fin de la session", exact=True)).to_be_visible()
        self.expect(page.locator("#session-ends")).to_contain_text("au plus tard")
        self.local_times_in_french()
        everywhere, local = self.button("Se déconnecter partout"), self.button("Se déconnecter")
        self.french(step, everywhere, local, doc=doc)

    def local_times_in_french(self) -> None:
        """Times in the customer's time zone, written the French way (Intl, lang="fr")."""
        zone = ZoneInfo(self.page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone"))
        times = self.page.locator("time[data-local-time]").all()
        assert times
        for time in times:
            utc = datetime.fromisoformat(time.get_attribute("datetime").replace("Z", "+00:00"))
            self.expect(time).to_contain_text(utc.astimezone(zone).strftime("%H:%M"))
            assert FRENCH_DATE.search(time.inner_text()), time.inner_text()
            # the tooltip: the page's own French text in UTC
            assert FRENCH_DATE.search(time.get_attribute("title")), time.get_attribute("title")

    def sign_in_details(self) -> None:
        self.page.goto(self.stack.portal.url + "/account/security")
        self.heading("Détails de la connexion")
        self.expect(self.page.locator("#amr")).to_have_text(
            "Mot de passe et application d’authentification"
        )
        self.local_times_in_french()
        self.header_on_one_line()
        self.french("sign-in-details", self.link("Retour à votre compte"))

    def devices(self) -> None:
        self.page.goto(self.stack.portal.url + "/account/sessions")
        self.heading("Appareils connectés")
        self.expect(self.page.locator(".this-device")).to_have_text("(Cet appareil)")
        self.expect(self.page.locator(".devices h2")).to_contain_text(" sur ")  # "Chrome sur …"
        self.local_times_in_french()
        self.french("devices", self.link("Retour à votre compte"))
        self.link("Retour à votre compte").click()

    def header_on_one_line(self) -> None:
        items = self.page.locator(".site-header").locator("a, button").all()
        tops = {round(b["y"] + b["height"] / 2) for b in (i.bounding_box() for i in items)}
        assert len(tops) == 1, f"the header's links wrap in French: {tops}"

    def logout_confirm(self, step: str) -> None:
        self.expect(self.page).to_have_url(re.compile("^" + re.escape(self.stack.idp.url)))
        self.heading(f"Se déconnecter de {SSO_NAME}\u202f?")
        self.french(step, self.button("Se déconnecter"))
        self.button("Se déconnecter").click()

    def logged_out(self, step: str, heading: str, message: str, doc: str | None = None) -> None:
        self.heading(heading)
        self.expect(self.page.locator("#logout-scope")).to_contain_text(message)
        self.french(step, self.link("Se connecter"), doc=doc)


def test_the_first_login_reads_correctly_in_french_on_a_phone(stack, new_page, artifacts):
    user = stack.user()
    page = new_page(**PHONE)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.idp.url)
    walk = FrenchJourney(page, stack, user, Camera(page, artifacts, docs=True))

    walk.choose_french()
    walk.link("Se connecter").click()
    walk.username("idp-username", doc="fr-2-idp-username")
    walk.password("idp-password")
    walk.totp_setup("idp-totp-setup", doc="fr-3-idp-totp-setup")
    walk.redirection("redirection", doc="fr-4-redirection")
    walk.account("account")
    walk.sign_in_details()
    walk.devices()

    # Log out of the portal: the SSO session lives on, and Login gets straight back in.
    walk.button("Se déconnecter").click()
    walk.logged_out(
        "logged-out",
        "Déconnexion effectuée",
        f"Votre connexion à {SSO_NAME} reste active",
        doc="fr-5-logged-out",
    )
    stack.advance_clocks(5)
    walk.link("Se connecter").click()
    walk.account("account-again")

    # Log out everywhere: the next Login asks for everything, with a code this time.
    walk.button("Se déconnecter partout").click()
    walk.logout_confirm("idp-logout-confirm")
    walk.logged_out(
        "logged-out-everywhere",
        "Déconnexion effectuée partout",
        f"Votre session {SSO_NAME} a pris fin elle aussi",
    )
    walk.link("Se connecter").click()
    walk.username("idp-username-again")
    walk.password("idp-password-again")
    walk.code("idp-code")
    walk.redirection("redirection-after-code")
    walk.account("account-after-code")
