"""What the browser tests look with: screenshots, a phone's QR scanner and authenticator, layout.

Playwright is imported lazily (inside functions) so that collecting these tests never fails on a
machine without it: the fixtures skip with a reason there instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit

import pyotp
import pytest

from tests.support.processes import REPO_ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Locator
    from playwright.sync_api import Page
    from playwright.sync_api import Response

    from tests.support.devidp import DevIdP

REQUIRE_ENV = "PORTAL_REQUIRE_E2E"
UPDATE_SCREENSHOTS_ENV = "PORTAL_UPDATE_SCREENSHOTS"
DOCS_SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
DOCS_MAX_BYTES = 150_000  # the README's pictures stay small in the repository (a phone page each)


def unavailable(reason: str) -> None:
    """Skip, or fail when CI requires the browser tests to run (``PORTAL_REQUIRE_E2E=1``)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1, so the browser tests must run)", pytrace=False)
    pytest.skip(reason)


# --- screenshots ---------------------------------------------------------------------------


class Camera:
    """Numbered full-page screenshots of one test: ``NN-step.png`` in ``folder``.

    With ``docs=True`` and ``PORTAL_UPDATE_SCREENSHOTS=1``, pages named with ``doc=`` are also
    written to docs/screenshots/ (the README shows those).
    """

    def __init__(self, page: Page, folder: Path, *, docs: bool = False) -> None:
        self.page = page
        self.folder = folder
        self.docs = docs and os.environ.get(UPDATE_SCREENSHOTS_ENV) == "1"
        self.count = 0

    def shot(self, step: str, *, doc: str | None = None) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True, animations="disabled")
        if doc is not None and self.docs:
            size = path.stat().st_size
            assert size <= DOCS_MAX_BYTES, f"{path.name} is {size} bytes: too big for docs/"
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SCREENSHOTS / f"{doc}.png")
        return path

    def element(self, locator: Locator, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        locator.screenshot(path=str(path), animations="disabled")
        return path


# --- the phone: QR scanner and authenticator app -------------------------------------------


def scan_qr(png: Path) -> str:
    """Decode the QR code in ``png`` with zbarimg (Debian's zbar-tools), as a phone would."""
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        unavailable("zbarimg is not installed (Debian package `zbar-tools`)")
    result = subprocess.run(
        [zbarimg, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(png)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, f"zbarimg found no QR code in {png}: {result.stderr.strip()}"
    symbols = result.stdout.strip().splitlines()
    assert len(symbols) == 1, f"expected one QR code in {png}, found {symbols}"
    return symbols[0]


@dataclass(frozen=True)
class KeyUri:
    """An ``otpauth://`` Key URI, the fields an authenticator app reads from it."""

    kind: str
    label: str
    secret: str
    issuer: str
    algorithm: str
    digits: int
    period: int

    @classmethod
    def parse(cls, uri: str) -> KeyUri:
        parts = urlsplit(uri)
        assert parts.scheme == "otpauth", uri
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        return cls(
            kind=parts.netloc,
            label=unquote(parts.path.lstrip("/")),
            secret=query.get("secret", ""),
            issuer=query.get("issuer", ""),
            algorithm=query.get("algorithm", "SHA1"),
            digits=int(query.get("digits", "0")),
            period=int(query.get("period", "0")),
        )


@dataclass
class Authenticator:
    """The app on the phone: one secret, and the 30 s steps it has already shown and used.

    The IdP accepts the current step or one either side, and only steps later than the last one
    used. The app offers the IdP's current step (the middle of that window, so the code stays
    good for at least 30 s), or the next one when the current step is used up.
    """

    idp: DevIdP
    secret: str
    period: int = 30
    last_step: int | None = field(default=None)

    def code(self) -> str:
        step = int(self.idp.now() // self.period)
        candidate = step if self.last_step is None else max(step, self.last_step + 1)
        if candidate > step + 1:  # both acceptable steps used: let the IdP's clock move on
            self.idp.advance_clock(self.period)
        self.last_step = candidate
        return pyotp.TOTP(self.secret, interval=self.period).at(candidate * self.period)


# --- what the IdP showed -------------------------------------------------------------------


class IdpScreens:
    """The IdP pages the browser rendered (documents answered 200, not redirects)."""

    def __init__(self, page: Page, idp_url: str) -> None:
        self.page = page
        self.idp_url = idp_url
        self.seen: list[str] = []
        page.on("response", self._on_response)

    def _on_response(self, response: Response) -> None:
        request = response.request
        if (
            request.resource_type == "document"
            and request.frame == self.page.main_frame
            and response.url.startswith(self.idp_url)
            and response.status == 200
        ):
            self.seen.append(urlsplit(response.url).path)

    def clear(self) -> None:
        self.seen.clear()


# --- layout ---------------------------------------------------------------------------------


def assert_fits(page: Page, *controls: Locator) -> None:
    """No horizontal scrolling; every control visible and inside the viewport's width."""
    from playwright.sync_api import expect

    width = page.viewport_size["width"] if page.viewport_size else None
    scroll_width, inner_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    limit = min(inner_width, width or inner_width)
    assert scroll_width <= limit, (
        f"{page.url} scrolls sideways: content is {scroll_width}px wide in a {limit}px viewport"
    )
    for control in controls:
        expect(control).to_be_visible()
        box = control.bounding_box()
        assert box is not None, f"{control} has no box on {page.url}"
        assert box["x"] >= 0 and box["x"] + box["width"] <= limit + 0.5, (
            f"{control} is outside the {limit}px viewport on {page.url}: {box}"
        )


# --- accessibility --------------------------------------------------------------------------

#: The axe-core rule tags of WCAG 2.1, levels A and AA.
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def assert_accessible(page: Page, where: str) -> None:
    """axe-core finds no violation of the WCAG 2.1 A and AA rules on the page as shown.

    axe.min.js comes bundled in the ``axe-playwright-python`` wheel from PyPI (the ``test``
    extra): nothing is downloaded at test time. Playwright evaluates it through the DevTools
    protocol, so the pages' CSP (no inline script) stays as it is.
    """
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        unavailable("axe-playwright-python is not installed (the test extra)")
    results = Axe().run(
        page,
        options={"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]},
    )
    assert results.violations_count == 0, f"{where} ({page.url}):\n{results.generate_report()}"


# --- keyboard -------------------------------------------------------------------------------

#: What a keyboard reaches with Tab (the pages set no positive tabindex).
FOCUSABLE = (
    "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select, "
    "textarea, [tabindex]:not([tabindex='-1'])"
)
_DESCRIBE = """el => {
  if (!el || el === document.body || el === document.documentElement) return null;
  const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim();
  return `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} ${text}`.trim();
}"""
_FOCUS_SHOWN = """el => {
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  return outline || style.boxShadow !== 'none';
}"""


def controls(page: Page) -> list[str]:
    """The visible controls of the page, in document (so Tab) order."""
    return page.eval_on_selector_all(
        FOCUSABLE,
        f"""els => els.filter(el => el.offsetParent !== null || el.getClientRects().length)
                      .map({_DESCRIBE})""",
    )


def focused(page: Page) -> str | None:
    return page.evaluate(f"({_DESCRIBE})(document.activeElement)")


def assert_keyboard_pass(page: Page) -> None:
    """Tab reaches every control of the page once, in document order, each with a visible
    focus indicator; after the last one focus leaves the page or starts over at the first
    (headless Chromium does either), so nothing holds it (no trap)."""
    page.wait_for_load_state("load")
    # two frames: autofocus is applied at a rendering opportunity, after the load
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    expected = controls(page)
    assert expected, f"no control on {page.url}"
    seen: list[str | None] = []
    for _ in range(2 * len(expected) + 4):
        page.keyboard.press("Tab")
        now = focused(page)
        seen.append(now)
        if now is not None:
            shown = page.evaluate(f"({_FOCUS_SHOWN})(document.activeElement)")
            assert shown, f"no visible focus on {now} ({page.url})"
    assert expected[0] in seen, f"Tab never reaches {expected[0]} on {page.url}: {seen}"
    first = seen.index(expected[0])
    lap = seen[first : first + len(expected) + 1]
    assert lap[:-1] == expected, f"Tab order on {page.url}: {lap}, controls {expected}"
    assert lap[-1] in (None, expected[0]), f"focus held after the last control: {lap[-1]}"


def tab_to(page: Page, name: str) -> None:
    """Press Tab until the control whose text is ``name`` (or whose id is ``name``) has
    the focus."""
    for _ in range(40):
        now = focused(page)
        if now is not None:
            element, _, text = now.partition(" ")
            if text == name or element.endswith("#" + name):
                return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {name!r} on {page.url}")


# --- a quick first login --------------------------------------------------------------------


def to_totp_setup(page: Page, stack, user) -> None:
    """Landing, Login, username and password: a first login up to the TOTP setup page."""
    page.goto(stack.portal.url + "/")
    page.get_by_role("link", name="Login", exact=True).click()
    page.get_by_label("Username").fill(user.username)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Continue", exact=True).click()


def first_login(page: Page, stack, user) -> Authenticator:
    """Landing, Login, username, password, TOTP setup, redirection page, account: the whole
    first login without the walkthrough's checks. Returns the phone's authenticator."""
    from playwright.sync_api import expect

    to_totp_setup(page, stack, user)
    secret = "".join(page.locator("#totp-secret span").all_inner_texts())
    phone = Authenticator(stack.idp, secret)
    page.get_by_label("TOTP code").fill(phone.code())
    page.get_by_role("button", name="Continue", exact=True).click()
    page.get_by_role("link", name="Continue", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    return phone
