"""The repository's config/devidp.toml, served as `make demo` serves it, on another portal port.

``DEMO_PORTAL_PORT=8001 make demo`` must give a working Login: the IdP registers the portal's
redirect, post-logout and back-channel URIs at port 8001, and no longer at 8000.
"""

from __future__ import annotations

import tomllib

import pytest

from tests.support.devidp import DevIdP
from tests.support.processes import REPO_ROOT
from tests.support.processes import free_port

from .helpers import Browser
from .helpers import Journey
from .helpers import RelyingParty

CONFIG = REPO_ROOT / "config" / "devidp.toml"
PORTAL_PORT = "8001"


class DemoIdP(DevIdP):
    """The dev IdP on the repository's config, with the demo's DEMO_PORTAL_PORT."""

    def env(self) -> dict[str, str]:
        return {**super().env(), "DEMO_PORTAL_PORT": PORTAL_PORT}


@pytest.fixture
def demo_idp(tmp_path):
    workdir = tmp_path / "devidp"
    workdir.mkdir()
    idp = DemoIdP(
        workdir=workdir,
        port=free_port(),
        config_path=CONFIG,
        db_path=workdir / "devidp.sqlite3",
        clock_file=workdir / "devidp-clock",
    )
    yield idp.start()
    idp.stop()


def portal_secret() -> str:
    config = tomllib.loads(CONFIG.read_text())
    return next(c for c in config["clients"] if c["client_id"] == "portal")["client_secret"]


def test_login_returns_to_the_portal_on_demo_portal_port(demo_idp):
    base_url = f"http://localhost:{PORTAL_PORT}"
    rp = RelyingParty(demo_idp, client_secret=portal_secret(), base_url=base_url)
    browser = Browser(demo_idp.url)
    try:
        journey = Journey(demo_idp, browser, rp)
        result = journey.first_login()  # rp.finish checks the redirect to base_url/auth/callback
        assert result.claims["amr"] == ["pwd", "otp", "mfa"]

        landing = journey.end_session(result.tokens)
        assert landing.redirect.startswith(f"{base_url}/logged-out?")
    finally:
        browser.close()
        rp.close()


def test_the_default_port_is_no_longer_registered(demo_idp):
    rp = RelyingParty(demo_idp, client_secret=portal_secret(), base_url="http://localhost:8000")
    browser = Browser(demo_idp.url)
    try:
        landing = browser.open(rp.authorization_request().url)
        assert landing.status == 400
        assert "return address that is not registered" in landing.text
    finally:
        browser.close()
        rp.close()
