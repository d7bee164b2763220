"""Test actors for the live IdP: a form-filling browser, a relying party, a logout receiver.

The browser follows redirects only while they stay on the IdP, so a test sees the exact
authorization response (``code``, ``state``, ``iss`` or ``error``) the IdP sends to the client.
"""

from __future__ import annotations

import queue
import secrets
import threading
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urljoin
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import pyotp
import requests
from authlib.integrations.requests_client import OAuth2Session
from bs4 import BeautifulSoup
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.devidp import BACKCHANNEL_LOGOUT_PATH
from tests.support.devidp import CLIENT_ID
from tests.support.devidp import DEMO_PASSWORD
from tests.support.devidp import DEMO_USERNAME
from tests.support.devidp import POST_LOGOUT_PATH
from tests.support.devidp import REDIRECT_PATH
from tests.support.devidp import DevIdP

TIMEOUT = 10


# --- the browser ------------------------------------------------------------------------------


@dataclass
class Landing:
    """Where the browser ended up: an IdP page, or a redirect leaving the IdP."""

    response: requests.Response
    redirect: str | None = None

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def url(self) -> str:
        return self.response.url

    @property
    def text(self) -> str:
        return self.response.text

    @property
    def soup(self) -> BeautifulSoup:
        return BeautifulSoup(self.response.text, "html.parser")

    def params(self) -> dict[str, str]:
        """The query parameters of the redirect that left the IdP."""
        assert self.redirect is not None, f"no redirect; page was:\n{self.text[:2000]}"
        return {k: v[0] for k, v in parse_qs(urlsplit(self.redirect).query).items()}

    def form(self):
        forms = self.soup.find_all("form")
        assert len(forms) == 1, f"expected one form on {self.url}:\n{self.text[:2000]}"
        return forms[0]

    def button_labels(self) -> list[str]:
        return [b.get_text(strip=True) for b in self.form().find_all("button")]

    def field_names(self) -> list[str]:
        return [i["name"] for i in self.form().find_all("input") if i.get("type") != "hidden"]


class Browser:
    """A requests session that keeps the IdP's cookies and fills its forms by field name."""

    def __init__(self, idp_url: str) -> None:
        self.origin = idp_url
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def open(self, url: str) -> Landing:
        return self._follow(self.session.get(url, allow_redirects=False, timeout=TIMEOUT))

    def submit(self, landing: Landing, **fields: str) -> Landing:
        """Submit the page's only form with its hidden inputs plus ``fields``."""
        form = landing.form()
        data = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
        data.update(fields)
        action = urljoin(landing.url, form.get("action") or landing.url)
        response = self.session.post(action, data=data, allow_redirects=False, timeout=TIMEOUT)
        return self._follow(response)

    def _follow(self, response: requests.Response) -> Landing:
        for _ in range(20):
            if not response.is_redirect:
                return Landing(response)
            location = urljoin(response.url, response.headers["Location"])
            if not location.startswith(self.origin + "/"):
                return Landing(response, redirect=location)
            response = self.session.get(location, allow_redirects=False, timeout=TIMEOUT)
        raise AssertionError("redirect loop at the IdP")

    def cookie(self, name: str) -> str | None:
        return self.session.cookies.get(name)


# --- the relying party ------------------------------------------------------------------------


@dataclass
class AuthRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass
class Tokens:
    raw: dict[str, Any]
    id_token_header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def access_token(self) -> str:
        return self.raw["access_token"]

    @property
    def id_token(self) -> str:
        return self.raw["id_token"]


class RelyingParty:
    """The portal's side of the protocol, with Authlib's client and PKCE S256."""

    def __init__(self, idp: DevIdP, *, client_secret: str, base_url: str) -> None:
        self.idp = idp
        self.client_secret = client_secret
        self.redirect_uri = base_url + REDIRECT_PATH
        self.post_logout_redirect_uri = base_url + POST_LOGOUT_PATH
        self.http = requests.Session()
        self.metadata = self.http.get(
            f"{idp.url}/.well-known/openid-configuration", timeout=TIMEOUT
        ).json()
        self._clients: list[OAuth2Session] = []

    def close(self) -> None:
        self.http.close()
        for client in self._clients:
            client.close()

    def oauth(self, auth_method: str = "client_secret_basic") -> OAuth2Session:
        client = OAuth2Session(
            CLIENT_ID,
            self.client_secret,
            scope="openid profile email",
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=auth_method,
        )
        self._clients.append(client)
        return client

    def authorization_request(self, *, pkce: bool = True, **params: str) -> AuthRequest:
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(16)
        client_id = params.pop("client_id", None)
        url, state = self.oauth().create_authorization_url(
            self.metadata["authorization_endpoint"],
            code_verifier=verifier if pkce else None,
            nonce=nonce,
            **params,
        )
        if client_id is not None:  # pose as another client
            parts = urlsplit(url)
            query = dict(parse_qsl(parts.query))
            query["client_id"] = client_id
            url = urlunsplit(parts._replace(query=urlencode(query)))
        return AuthRequest(url, state, nonce, verifier)

    def fetch_token(
        self,
        callback_url: str,
        auth: AuthRequest,
        *,
        code_verifier: str | None = "",
        auth_method: str = "client_secret_basic",
    ) -> dict[str, Any]:
        """Redeem the code; raises Authlib's ``OAuthError`` with the IdP's error code."""
        kwargs = {}
        verifier = auth.code_verifier if code_verifier == "" else code_verifier
        if verifier is not None:
            kwargs["code_verifier"] = verifier
        return dict(
            self.oauth(auth_method).fetch_token(
                self.metadata["token_endpoint"],
                authorization_response=callback_url,
                state=auth.state,
                **kwargs,
            )
        )

    def key_set(self) -> KeySet:
        return KeySet.import_key_set(
            self.http.get(self.metadata["jwks_uri"], timeout=TIMEOUT).json()
        )

    def verify_id_token(self, id_token: str, nonce: str) -> tuple[dict, dict]:
        token = jwt.decode(id_token, self.key_set(), algorithms=["RS256"])
        registry = jwt.JWTClaimsRegistry(
            now=int(self.idp.now()),
            leeway=5,
            iss={"essential": True, "value": self.idp.url},
            aud={"essential": True, "value": CLIENT_ID},
            nonce={"essential": True, "value": nonce},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        registry.validate(token.claims)
        return dict(token.header), dict(token.claims)

    def finish(self, landing: Landing, auth: AuthRequest, **kwargs: Any) -> Tokens:
        """Check the authorization response, redeem the code and verify the ID token."""
        assert landing.redirect is not None, f"IdP did not redirect:\n{landing.text[:2000]}"
        assert landing.redirect.startswith(self.redirect_uri + "?")
        params = landing.params()
        assert params.get("iss") == self.idp.url  # RFC 9207
        assert params.get("state") == auth.state
        raw = self.fetch_token(landing.redirect, auth, **kwargs)
        header, claims = self.verify_id_token(raw["id_token"], auth.nonce)
        return Tokens(raw, header, claims)

    def userinfo(self, access_token: str) -> requests.Response:
        return self.http.get(
            self.metadata["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=TIMEOUT,
        )

    def verify_logout_token(self, logout_token: str) -> tuple[dict, dict]:
        token = jwt.decode(logout_token, self.key_set(), algorithms=["RS256"])
        registry = jwt.JWTClaimsRegistry(
            now=int(self.idp.now()),
            leeway=5,
            iss={"essential": True, "value": self.idp.url},
            aud={"essential": True, "value": CLIENT_ID},
            iat={"essential": True},
            jti={"essential": True},
        )
        registry.validate(token.claims)
        return dict(token.header), dict(token.claims)


# --- the back-channel logout receiver ---------------------------------------------------------


class BackchannelReceiver:
    """Stands in for the portal's ``/auth/backchannel-logout``; records logout tokens."""

    def __init__(self) -> None:
        self.tokens: queue.Queue[str] = queue.Queue()
        self.failures_to_send = 0
        self.attempts = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode()
                if self.path != BACKCHANNEL_LOGOUT_PATH:
                    self.send_response(404)
                    self.end_headers()
                    return
                with receiver._lock:
                    receiver.attempts += 1
                    fail = receiver.failures_to_send > 0
                    if fail:
                        receiver.failures_to_send -= 1
                if fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                assert self.headers.get("Content-Type", "").startswith(
                    "application/x-www-form-urlencoded"
                )
                form = parse_qs(body)
                receiver.tokens.put(form["logout_token"][0])
                self.send_response(200)
                self.send_header("Cache-Control", "no-store")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> BackchannelReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def wait_for_token(self, timeout: float = 15) -> str:
        """The next logout token (waits for the IdP's delivery, not for a clock)."""
        try:
            return self.tokens.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no back-channel logout arrived") from None

    def pending(self) -> list[str]:
        items = []
        while True:
            try:
                items.append(self.tokens.get_nowait())
            except queue.Empty:
                return items


# --- the customer journey ---------------------------------------------------------------------


@dataclass
class LoginResult:
    tokens: Tokens
    auth: AuthRequest
    secret: str | None = None
    pages: list[Landing] = field(default_factory=list)

    @property
    def claims(self) -> dict[str, Any]:
        return self.tokens.claims


class Journey:
    """The customer journey as actions: ``first_login()``, ``code_login()``, ``silent_login()``."""

    def __init__(self, idp: DevIdP, browser: Browser, rp: RelyingParty) -> None:
        self.idp = idp
        self.browser = browser
        self.rp = rp
        self.secret: str | None = None

    def start(self, **params: str) -> tuple[Landing, AuthRequest]:
        """Send the browser to the authorization endpoint."""
        auth = self.rp.authorization_request(**params)
        return self.browser.open(auth.url), auth

    def enter_credentials(
        self, landing: Landing, username: str = DEMO_USERNAME, password: str = DEMO_PASSWORD
    ) -> Landing:
        """From the username page, through the password page."""
        landing = self.browser.submit(landing, username=username)
        return self.browser.submit(landing, password=password)

    def code(self, secret: str | None = None) -> str:
        """The code the authenticator app shows now (by the IdP's clock)."""
        return pyotp.TOTP(secret or self.secret).at(int(self.idp.now()))

    def next_code(self, secret: str | None = None) -> str:
        """Let one TOTP period pass (on the IdP's clock) and read the new code."""
        self.idp.advance_clock(30)
        return self.code(secret)

    @staticmethod
    def setup_secret(landing: Landing) -> str:
        return landing.soup.find("code", id="totp-secret").get_text(strip=True)

    def first_login(self, **params: str) -> LoginResult:
        """Username, password, TOTP setup with a correct code, back to the client."""
        landing, auth = self.start(**params)
        pages = [landing]
        landing = self.enter_credentials(landing)
        pages.append(landing)
        self.secret = self.setup_secret(landing)
        landing = self.browser.submit(landing, code=self.code())
        return LoginResult(self.rp.finish(landing, auth), auth, self.secret, pages)

    def code_login(self, **params: str) -> LoginResult:
        """Username, password, a fresh TOTP code, back to the client."""
        landing, auth = self.start(**params)
        landing = self.enter_credentials(landing)
        assert landing.form().find("input", attrs={"name": "code"}) is not None
        landing = self.browser.submit(landing, code=self.next_code())
        return LoginResult(self.rp.finish(landing, auth), auth, self.secret)

    def silent_login(self, **params: str) -> LoginResult:
        """No screen at all: the SSO session answers."""
        landing, auth = self.start(**params)
        assert landing.redirect is not None, f"expected a silent login:\n{landing.text[:1000]}"
        return LoginResult(self.rp.finish(landing, auth), auth, self.secret)

    def end_session(self, tokens: Tokens, **params: str) -> Landing:
        query = {
            "id_token_hint": tokens.id_token,
            "client_id": CLIENT_ID,
            "post_logout_redirect_uri": self.rp.post_logout_redirect_uri,
            "state": "logout-state",
            **params,
        }
        query = {k: v for k, v in query.items() if v is not None}
        request = requests.Request("GET", self.rp.metadata["end_session_endpoint"], params=query)
        return self.browser.open(request.prepare().url)
