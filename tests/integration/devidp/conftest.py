"""Fixtures for driving a live development IdP over HTTP, as a browser and as a relying party.

- ``receiver``: a tiny HTTP server on 127.0.0.1 standing in for the portal's back-channel logout
  endpoint; it records every logout token it is sent.
- ``idp``: a fresh ``devidp`` process whose ``portal`` client points at the receiver.
- ``browser``: a ``requests.Session`` that fills the IdP's forms by field name and stops where
  the IdP redirects away (to the relying party).
- ``rp``: the relying party, with Authlib's ``OAuth2Session`` and PKCE S256.
- ``journey``: the customer journey built from those (``journey.first_login()``, ...).
"""

from __future__ import annotations

import pytest

from tests.support.devidp import DevIdP
from tests.support.devidp import start_devidp

from .helpers import BackchannelReceiver
from .helpers import Browser
from .helpers import Journey
from .helpers import RelyingParty

CLIENT_SECRET = "integration-portal-secret"


@pytest.fixture
def receiver():
    server = BackchannelReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def idp_options() -> dict:
    """Override in a test module (or parametrize indirectly) to configure the IdP."""
    return {}


@pytest.fixture
def idp(tmp_path, receiver, idp_options):
    devidp = start_devidp(
        tmp_path / "devidp",
        portal_base_url=receiver.base_url,
        client_secret=CLIENT_SECRET,
        **idp_options,
    )
    yield devidp
    devidp.stop()


@pytest.fixture
def browser(idp: DevIdP):
    session = Browser(idp.url)
    yield session
    session.close()


@pytest.fixture
def rp(idp: DevIdP, receiver):
    party = RelyingParty(idp, client_secret=CLIENT_SECRET, base_url=receiver.base_url)
    yield party
    party.close()


@pytest.fixture
def journey(idp, browser, rp):
    return Journey(idp, browser, rp)
