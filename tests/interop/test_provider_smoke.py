"""node-oidc-provider, driven by a hand-made relying party: proves the interop IdP itself.

No portal is involved: a ``requests.Session`` plays the browser, Authlib's ``OAuth2Session``
plays the RP (PKCE S256), BeautifulSoup reads the provider's pages, joserfc verifies the
tokens against the provider's JWKS, and a tiny ``http.server`` on 127.0.0.1 receives the
back-channel logout token (OpenID Connect Back-Channel Logout 1.0, section 2.4).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pyotp
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from bs4 import BeautifulSoup
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.node_provider import ACR
from tests.support.node_provider import AMR
from tests.support.node_provider import BACKCHANNEL_LOGOUT_PATH
from tests.support.node_provider import LOGIN_BUTTON
from tests.support.node_provider import LOGIN_ERROR
from tests.support.node_provider import LOGIN_FIELDS
from tests.support.node_provider import LOGOUT_BUTTON
from tests.support.node_provider import NodeProvider
from tests.support.node_provider import node_toolchain_missing
from tests.support.node_provider import start_node_provider

pytestmark = pytest.mark.interop

CLIENT_ID = "customer-portal"
CLIENT_SECRET = "interop-client-secret-" + "x" * 16
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
ALICE = {
    "username": "alice",
    "password": "correct horse battery staple",
    "totp_secret": pyotp.random_base32(),
    "name": "Alice Example",
    "email": "alice@example.com",
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", autouse=True)
def node_toolchain() -> None:
    reason = node_toolchain_missing()
    if reason is None:
        return
    if os.environ.get("PORTAL_REQUIRE_INTEROP") == "1":
        pytest.fail(f"PORTAL_REQUIRE_INTEROP=1 but {reason}")
    pytest.skip(reason)


class BackchannelReceiver:
    """Collects logout tokens POSTed to BACKCHANNEL_LOGOUT_PATH on 127.0.0.1."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                tokens = parse_qs(body).get("logout_token", [])
                if urlsplit(self.path).path != BACKCHANNEL_LOGOUT_PATH or len(tokens) != 1:
                    self.send_response(400)
                    self.end_headers()
                    return
                with receiver._changed:
                    receiver.tokens.append(tokens[0])
                    receiver._changed.notify_all()
                self.send_response(200)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for_token(self, predicate, *, deadline_s: float = 10.0) -> str:
        """Block until a received token satisfies ``predicate`` (delivery is asynchronous)."""
        end = time.monotonic() + deadline_s
        with self._changed:
            while True:
                for token in self.tokens:
                    if predicate(token):
                        return token
                remaining = end - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching logout_token within {deadline_s}s")
                self._changed.wait(remaining)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def receiver() -> Iterator[BackchannelReceiver]:
    receiver = BackchannelReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def provider(tmp_path_factory, receiver: BackchannelReceiver) -> Iterator[NodeProvider]:
    provider = start_node_provider(
        tmp_path_factory.mktemp("node-provider"),
        portal_base_url=receiver.base_url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        users=[ALICE],
    )
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def metadata(provider: NodeProvider) -> dict:
    response = requests.get(provider.discovery_url, timeout=5)
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="module")
def jwks(metadata: dict) -> KeySet:
    response = requests.get(metadata["jwks_uri"], timeout=5)
    response.raise_for_status()
    return KeySet.import_key_set(response.json())


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


# --------------------------------------------------------------------------- the relying party


@dataclass
class Authorization:
    """One authorization request in flight: what the RP keeps, and where the browser is."""

    rp: OAuth2Session
    state: str
    nonce: str
    code_verifier: str
    response: requests.Response


def follow_at_provider(
    browser: requests.Session, response: requests.Response, provider: NodeProvider
) -> requests.Response:
    """Follow redirects while they stay at the provider; stop at a page or a hop to the RP."""
    for _ in range(10):
        if response.status_code not in (302, 303):
            return response
        location = urljoin(response.url, response.headers["Location"])
        if not location.startswith(provider.url + "/"):
            return response
        response = browser.get(location, allow_redirects=False, timeout=5)
    raise AssertionError("too many redirects at the provider")


def rp_location(response: requests.Response, expected_prefix: str) -> str:
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    location = response.headers["Location"]
    assert location.startswith(expected_prefix + "?"), location
    return location


def authorize(
    browser: requests.Session,
    provider: NodeProvider,
    metadata: dict,
    *,
    auth_method: str = "client_secret_basic",
) -> Authorization:
    rp = OAuth2Session(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        scope="openid profile email",
        redirect_uri=provider.redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=auth_method,
    )
    nonce = generate_token(24)
    code_verifier = generate_token(64)
    url, state = rp.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
    )
    response = browser.get(url, allow_redirects=False, timeout=5)
    return Authorization(
        rp, state, nonce, code_verifier, follow_at_provider(browser, response, provider)
    )


def login_form(page: requests.Response) -> tuple[str, dict[str, str]]:
    """The login form's action and hidden fields; asserts the fields the portal tests rely on."""
    soup = BeautifulSoup(page.text, "html.parser")
    assert "Interop provider" in soup.title.get_text()
    form = soup.find("form", attrs={"method": "post"})
    assert form is not None, page.text[:500]
    names = {field.get("name") for field in form.find_all("input")}
    assert set(LOGIN_FIELDS) <= names
    assert [b.get_text(strip=True) for b in form.find_all("button")] == [LOGIN_BUTTON]
    hidden = {
        field["name"]: field.get("value", "")
        for field in form.find_all("input", attrs={"type": "hidden"})
    }
    return urljoin(page.url, form.get("action") or page.url), hidden


def submit_login(
    browser: requests.Session,
    provider: NodeProvider,
    page: requests.Response,
    *,
    username: str,
    password: str,
    code: str,
) -> requests.Response:
    assert page.status_code in (200, 400), (page.status_code, page.text[:500])
    action, hidden = login_form(page)
    data = {**hidden, "username": username, "password": password, "code": code}
    response = browser.post(action, data=data, allow_redirects=False, timeout=5)
    return follow_at_provider(browser, response, provider)


def redeem(auth: Authorization, metadata: dict, provider: NodeProvider, location: str) -> dict:
    query = parse_qs(urlsplit(location).query)
    assert query["iss"] == [provider.url]  # RFC 9207
    token = auth.rp.fetch_token(
        metadata["token_endpoint"],
        authorization_response=location,
        state=auth.state,
        code_verifier=auth.code_verifier,
    )
    auth.rp.close()
    return token


def verify_id_token(id_token: str, jwks: KeySet, provider: NodeProvider, nonce: str) -> dict:
    token = jwt.decode(id_token, jwks, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        leeway=60,
        iss={"essential": True, "value": provider.url},
        aud={"essential": True, "value": provider.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    ).validate(token.claims)
    return token.claims


def current_code(user: dict) -> str:
    return pyotp.TOTP(user["totp_secret"]).now()


def wrong_code(user: dict) -> str:
    """A well-formed code that is valid in none of the steps the provider accepts."""
    totp = pyotp.TOTP(user["totp_secret"])
    now = time.time()
    accepted = {totp.at(now + drift) for drift in (-60, -30, 0, 30, 60)}
    return next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if c not in accepted)


def full_login(
    browser: requests.Session, provider: NodeProvider, metadata: dict, jwks: KeySet
) -> dict:
    auth = authorize(browser, provider, metadata)
    final = submit_login(
        browser,
        provider,
        auth.response,
        username=ALICE["username"],
        password=ALICE["password"],
        code=current_code(ALICE),
    )
    token = redeem(auth, metadata, provider, rp_location(final, provider.redirect_uri))
    return {**token, "claims": verify_id_token(token["id_token"], jwks, provider, auth.nonce)}


# --------------------------------------------------------------------------- tests


def test_discovery_advertises_logout_and_pkce(provider: NodeProvider, metadata: dict) -> None:
    assert metadata["issuer"] == provider.url
    assert metadata["end_session_endpoint"] == f"{provider.url}/session/end"
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in metadata["id_token_signing_alg_values_supported"]


def test_login_with_password_and_totp_yields_mfa_id_token(
    browser: requests.Session, provider: NodeProvider, metadata: dict, jwks: KeySet
) -> None:
    auth = authorize(browser, provider, metadata)
    assert auth.response.status_code == 200
    assert urlsplit(auth.response.url).path.startswith("/interaction/")

    final = submit_login(
        browser,
        provider,
        auth.response,
        username=ALICE["username"],
        password=ALICE["password"],
        code=current_code(ALICE),
    )
    location = rp_location(final, provider.redirect_uri)
    assert parse_qs(urlsplit(location).query)["state"] == [auth.state]
    token = redeem(auth, metadata, provider, location)

    claims = verify_id_token(token["id_token"], jwks, provider, auth.nonce)
    assert claims["sub"] == ALICE["username"]
    assert claims["amr"] == AMR
    assert claims["acr"] == ACR
    assert claims["sid"]
    assert isinstance(claims["auth_time"], int)
    assert claims["name"] == ALICE["name"]
    assert claims["email"] == ALICE["email"]
    assert claims["email_verified"] is True


def test_authorization_without_pkce_is_refused(
    browser: requests.Session, provider: NodeProvider, metadata: dict
) -> None:
    rp = OAuth2Session(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        scope="openid",
        redirect_uri=provider.redirect_uri,
    )
    url, _ = rp.create_authorization_url(metadata["authorization_endpoint"], nonce="n")
    rp.close()
    response = browser.get(url, allow_redirects=False, timeout=5)
    location = rp_location(response, provider.redirect_uri)
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == ["invalid_request"]
    assert "PKCE" in query["error_description"][0]


def test_second_authorization_is_silent(
    browser: requests.Session, provider: NodeProvider, metadata: dict, jwks: KeySet
) -> None:
    first = full_login(browser, provider, metadata, jwks)

    auth = authorize(browser, provider, metadata, auth_method="client_secret_post")
    location = rp_location(auth.response, provider.redirect_uri)  # no form on the way
    token = redeem(auth, metadata, provider, location)
    claims = verify_id_token(token["id_token"], jwks, provider, auth.nonce)
    assert claims["sid"] == first["claims"]["sid"]
    assert claims["auth_time"] == first["claims"]["auth_time"]
    assert claims["amr"] == AMR
    assert claims["acr"] == ACR


@pytest.mark.parametrize(
    ("username", "password", "code"),
    [
        pytest.param(ALICE["username"], ALICE["password"], wrong_code, id="wrong-code"),
        pytest.param(ALICE["username"], "not the password", current_code, id="wrong-password"),
        pytest.param("mallory", ALICE["password"], current_code, id="unknown-user"),
        pytest.param(ALICE["username"], ALICE["password"], lambda _user: "", id="no-code"),
    ],
)
def test_bad_credentials_are_refused(
    browser: requests.Session,
    provider: NodeProvider,
    metadata: dict,
    jwks: KeySet,
    username: str,
    password: str,
    code,
) -> None:
    auth = authorize(browser, provider, metadata)
    page = submit_login(
        browser, provider, auth.response, username=username, password=password, code=code(ALICE)
    )
    assert page.status_code == 400
    assert LOGIN_ERROR in page.text
    assert "Location" not in page.headers
    login_form(page)  # the same form again

    # The interaction is still usable: the right credentials finish it.
    final = submit_login(
        browser,
        provider,
        page,
        username=ALICE["username"],
        password=ALICE["password"],
        code=current_code(ALICE),
    )
    token = redeem(auth, metadata, provider, rp_location(final, provider.redirect_uri))
    assert verify_id_token(token["id_token"], jwks, provider, auth.nonce)["amr"] == AMR


def test_rp_initiated_logout_confirms_and_delivers_backchannel_logout(
    browser: requests.Session,
    provider: NodeProvider,
    metadata: dict,
    jwks: KeySet,
    receiver: BackchannelReceiver,
) -> None:
    login = full_login(browser, provider, metadata, jwks)
    sid = login["claims"]["sid"]
    state = generate_token(16)

    page = browser.get(
        metadata["end_session_endpoint"],
        params={
            "id_token_hint": login["id_token"],
            "post_logout_redirect_uri": provider.post_logout_redirect_uri,
            "state": state,
        },
        allow_redirects=False,
        timeout=5,
    )
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    form = soup.find("form", id="op.logoutForm")
    assert form is not None and form["method"] == "post"
    yes = soup.find("button", attrs={"form": "op.logoutForm", "name": "logout"})
    assert yes.get_text(strip=True) == LOGOUT_BUTTON
    data = {field["name"]: field.get("value", "") for field in form.find_all("input")}
    assert set(data) == {"xsrf"}
    data[yes["name"]] = yes["value"]  # what clicking "Yes, sign me out" submits

    response = browser.post(
        urljoin(page.url, form["action"]), data=data, allow_redirects=False, timeout=5
    )
    location = rp_location(response, provider.post_logout_redirect_uri)
    assert parse_qs(urlsplit(location).query) == {"state": [state]}

    def for_this_session(token: str) -> bool:
        return jwt.decode(token, jwks, algorithms=["RS256"]).claims.get("sid") == sid

    logout_token = jwt.decode(receiver.wait_for_token(for_this_session), jwks, algorithms=["RS256"])
    assert logout_token.header["typ"] == "logout+jwt"
    jwt.JWTClaimsRegistry(
        leeway=60,
        iss={"essential": True, "value": provider.url},
        aud={"essential": True, "value": provider.client_id},
        iat={"essential": True},
        jti={"essential": True},
    ).validate(logout_token.claims)
    assert logout_token.claims["events"] == {BACKCHANNEL_EVENT: {}}
    assert logout_token.claims["sub"] == ALICE["username"]
    assert logout_token.claims["sid"] == sid
    assert "nonce" not in logout_token.claims

    # The SSO session is gone: the next authorization asks for the password and code again.
    again = authorize(browser, provider, metadata)
    assert again.response.status_code == 200
    login_form(again.response)
    again.rp.close()


def test_backchannel_logout_to_other_loopback_names_is_still_refused(
    tmp_path, browser: requests.Session, receiver: BackchannelReceiver
) -> None:
    """Only the literal host 127.0.0.1 bypasses the library's SSRF protection."""
    port = urlsplit(receiver.base_url).port
    received_before = len(receiver.tokens)
    other = start_node_provider(
        tmp_path,
        portal_base_url=f"http://localhost:{port}",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        users=[ALICE],
    )
    try:
        with requests.Session() as discovery:
            metadata = discovery.get(other.discovery_url, timeout=5).json()
            keys = KeySet.import_key_set(discovery.get(metadata["jwks_uri"], timeout=5).json())
        login = full_login(browser, other, metadata, keys)
        page = browser.get(
            metadata["end_session_endpoint"],
            params={"id_token_hint": login["id_token"]},
            allow_redirects=False,
            timeout=5,
        )
        form = BeautifulSoup(page.text, "html.parser").find("form", id="op.logoutForm")
        data = {field["name"]: field.get("value", "") for field in form.find_all("input")}
        response = browser.post(
            urljoin(page.url, form["action"]),
            data={**data, "logout": "yes"},
            allow_redirects=False,
            timeout=5,
        )
        assert response.status_code == 303
        # The provider answers only after the delivery attempt; its log line may lag a little.
        end = time.monotonic() + 10
        while "special-use IP address" not in other.log_text():
            assert time.monotonic() < end, other.log_text()
            time.sleep(0.05)  # polling a log file written by another process
        assert len(receiver.tokens) == received_before
    finally:
        other.stop()
