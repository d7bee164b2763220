"""The customer journey as test vocabulary: ``journey.first_login(user)``, ``journey.logout()``.

Drives the portal and the dev IdP the way the user guide tells it, through the same HTML forms
a customer fills (no JavaScript needed), computing TOTP codes with pyotp from the secret the
setup page shows, at the IdP's (possibly moved) clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import field
from urllib.parse import urlsplit

import pyotp

from tests.support.browser import Browser
from tests.support.browser import Page

#: Seconds that pass before each Login of a :class:`Journey` (see ``Journey.silent_login``).
SILENT_LOGIN_GAP = 5


@dataclass
class User:
    username: str
    password: str
    name: str = ""
    email: str = ""

    def as_config(self) -> dict[str, str]:
        return {
            "username": self.username,
            "password": self.password,
            "name": self.name or self.username.title(),
            "email": self.email or f"{self.username}@example.com",
        }


@dataclass
class Authenticator:
    """The customer's phone: secrets scanned at enrolment, and the last 30 s step used.

    The IdP refuses a code whose step is not later than the last one used (no replay), and
    accepts one step of drift either side, so the phone offers the earliest step still
    acceptable; when none is left the caller moves the IdP clock on by one step.
    """

    secrets: dict[str, str] = field(default_factory=dict)
    last_step: dict[str, int] = field(default_factory=dict)

    def code(self, username: str, idp_now: float) -> str | None:
        step = int(idp_now // 30)
        candidate = max(step - 1, self.last_step.get(username, step - 2) + 1)
        if candidate > step + 1:
            return None
        self.last_step[username] = candidate
        return pyotp.TOTP(self.secrets[username]).at(candidate * 30)


class Journey:
    """One customer with one browser."""

    def __init__(self, portal, idp, phone: Authenticator | None = None) -> None:
        self.portal = portal
        self.idp = idp
        self.phone = phone or Authenticator()
        self.browser = Browser()
        self.seen_idp_screens: list[str] = []

    # --- pages ---------------------------------------------------------------------------
    def open(self, path: str = "/") -> Page:
        return self.browser.get(self.portal.url + path)

    def idp_now(self) -> float:
        return time.time() + self.idp.clock_offset()

    def press_login(self) -> Page:
        return self.open("/").click("Login")

    # --- the journey ---------------------------------------------------------------------
    def login(
        self, user: User, page: Page | None = None, *, expect_screens: bool | None = None
    ) -> Page:
        """From Login to the account page, answering whatever the IdP asks.

        The redirection page ("You're signed in as ...", Continue) follows a sign-in at the
        IdP, when it asked anything; a Login through the live SSO session skips it.
        """
        page = self.through_idp(user, page)
        if expect_screens is not None:
            assert bool(self.seen_idp_screens) == expect_screens, self.seen_idp_screens
        if self.seen_idp_screens:
            assert page.path == "/auth/signed-in", f"ended on {page.url}: {page.text[:800]}"
            return page.click("Continue")
        if page.path == "/auth/signed-in":
            # The portal shows the redirection page when it cannot tell a silent Login from
            # a sign-in (auth_time has whole seconds; see portal.oidc.signed_in_during_login);
            # silent_login() is the strict check that a silent Login skips it.
            return page.click("Continue")
        return page

    def through_idp(self, user: User, page: Page | None = None) -> Page:
        """From Login (or ``page``) through the IdP's screens to the first portal page."""
        if page is None:
            self.a_moment_passes()
            page = self.press_login()
        self.seen_idp_screens = []
        for _ in range(10):
            if page.url.startswith(self.portal.url):
                break
            page = self.answer(user, page)
        return page

    def first_login(self, user: User) -> Page:
        account = self.login(user)
        assert "totp-setup" in self.seen_idp_screens, self.seen_idp_screens
        return account

    def silent_login(self) -> Page:
        """Login while the SSO session lives: no IdP screen, no redirection page, the account.

        A few seconds pass first (on both clocks), as they do for a person: ``auth_time`` has
        whole seconds, so the portal cannot tell a Login pressed within a second or two of
        the sign-in from one that signed in (it shows the redirection page then).
        """
        self.a_moment_passes()
        page = self.press_login()
        assert page.path == "/account", f"IdP asked something: {page.url} {page.text[:500]}"
        return page

    def a_moment_passes(self) -> None:
        """A few seconds on both clocks, as between a person's sign-in and their next Login
        (see :meth:`silent_login`). A portal without a movable clock (the installed wheel's)
        keeps its time, and so does the IdP then."""
        if hasattr(self.portal, "advance_clock") and hasattr(self.idp, "advance_clock"):
            self.portal.advance_clock(SILENT_LOGIN_GAP)
            self.idp.advance_clock(SILENT_LOGIN_GAP)

    def logout(self) -> Page:
        return self.open("/account").submit(button="Log out")

    def logout_everywhere(self) -> Page:
        """The account page's "Log out everywhere", and the IdP's confirmation: the portal
        sends no token naming the customer, so the IdP asks."""
        page = self.open("/account").submit(button="Log out everywhere")
        if urlsplit(page.url).path == "/end-session":
            page = page.submit(button="Log out")
        return page

    def _code(self, user: User) -> str:
        code = self.phone.code(user.username, self.idp_now())
        if code is None:  # every acceptable step used: wait one step, on both clocks
            # time passes for the portal too: a jump of the IdP's clock alone, while other
            # customers' logins are in flight, would make their sign-ins look older than the
            # logins that carried them (see portal.oidc.signed_in_during_login)
            self.idp.advance_clock(30)
            if hasattr(self.portal, "advance_clock"):
                self.portal.advance_clock(30)
            code = self.phone.code(user.username, self.idp_now())
        assert code is not None
        return code

    def answer(self, user: User, page: Page) -> Page:
        """Answer one IdP screen as the customer would."""
        soup = page.soup
        if soup.find(id="totp-secret") is not None:
            self.seen_idp_screens.append("totp-setup")
            secret = soup.find(id="totp-secret").get_text(strip=True).replace(" ", "")
            self.phone.secrets[user.username] = secret
            self.phone.last_step.pop(user.username, None)
            return page.submit({"code": self._code(user)}, button="Continue")
        if soup.find("input", attrs={"name": "code"}) is not None:
            self.seen_idp_screens.append("totp-code")
            return page.submit({"code": self._code(user)}, button="Continue")
        if soup.find("input", attrs={"name": "password"}) is not None:
            self.seen_idp_screens.append("password")
            return page.submit({"password": user.password}, button="Continue")
        if soup.find("input", attrs={"name": "username"}) is not None:
            self.seen_idp_screens.append("username")
            return page.submit({"username": user.username}, button="Log in")
        if "redirected to" in page.text:
            self.seen_idp_screens.append("consent")
            return page.submit(button="Continue")
        raise AssertionError(f"unexpected IdP page {page.url} ({page.status}): {page.text[:800]}")
