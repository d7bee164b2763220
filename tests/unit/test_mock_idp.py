"""The mock IdP of ``portal.testing`` is a strict provider: what a relying party could get
wrong is refused, as authentik or Keycloak would, so a portal bug cannot pass against it.
Its misbehaviours (down, canned answers, claims) are what deployers test error handling with.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

CALLBACK = "http://localhost/auth/callback"
VERIFIER = "v" * 64


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
def idp(mock_idp):
    mock_idp.register_portal("http://localhost")
    return mock_idp


@pytest.fixture
def http():
    with requests.Session() as session:
        session.trust_env = False
        yield session


def authorize(http, idp, **overrides) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": idp.client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile email",
        "state": "state-1",
        "nonce": "nonce-1",
        "code_challenge": challenge(VERIFIER),
        "code_challenge_method": "S256",
        **overrides,
    }
    params = {k: v for k, v in params.items() if v is not None}
    response = http.get(f"{idp.origin}/authorize", params=params, allow_redirects=False)
    assert response.status_code == 302, response.text
    return dict(parse_qsl(urlsplit(response.headers["Location"]).query))


def redeem(http, idp, code: str, *, secret: str | None = None, **overrides) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER,
        **overrides,
    }
    form = {k: v for k, v in form.items() if v is not None}
    auth = (idp.client_id, idp.client_secret if secret is None else secret)
    return http.post(f"{idp.origin}/token", data=form, auth=auth)


def id_token_claims(http, idp, raw: str) -> dict:
    keys = KeySet.import_key_set(http.get(f"{idp.origin}/jwks").json())
    return jwt.decode(raw, keys).claims


def test_discovery_names_the_issuer_and_every_endpoint(http, idp):
    doc = http.get(f"{idp.issuer}/.well-known/openid-configuration").json()
    assert doc["issuer"] == idp.issuer == idp.origin
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert doc[name].startswith(idp.origin + "/")
    assert doc["end_session_endpoint"] == f"{idp.origin}/end-session"
    assert idp.origin.startswith("http://127.0.0.1:")


def test_a_changed_metadata_key_is_served_and_none_leaves_it_out(http, idp):
    idp.metadata["end_session_endpoint"] = None
    idp.metadata["extra"] = "x"
    doc = http.get(f"{idp.issuer}/.well-known/openid-configuration").json()
    assert "end_session_endpoint" not in doc and doc["extra"] == "x"


def test_the_code_gives_an_rs256_id_token_with_the_login_claims(http, idp):
    answer = authorize(http, idp)
    assert answer["state"] == "state-1" and answer["iss"] == idp.issuer
    token = redeem(http, idp, answer["code"]).json()
    claims = id_token_claims(http, idp, token["id_token"])
    assert claims["iss"] == idp.issuer and claims["aud"] == "portal"
    assert claims["nonce"] == "nonce-1"
    assert claims["sub"] == "user-123" and claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["sid"] == "sid-1"
    assert jwt.decode(token["id_token"], KeySet([idp.key])).header["alg"] == "RS256"
    userinfo = http.get(
        f"{idp.origin}/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    ).json()
    assert userinfo == {
        "sub": "user-123",
        "preferred_username": "alice",
        "name": "Alice Example",
        "email": "alice@example.com",
    }


def test_claims_of_a_login_come_on_top_and_none_leaves_one_out(http, idp):
    idp.claims["email"] = None  # every login from now on
    params = {
        "response_type": "code",
        "client_id": "portal",
        "redirect_uri": CALLBACK,
        "scope": "openid",
        "state": "s1",
        "code_challenge": challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    answer = idp.authorize(params, groups=["billing"], amr=None, auth_time=1000)
    first = id_token_claims(http, idp, redeem(http, idp, answer["code"]).json()["id_token"])
    assert first["groups"] == ["billing"] and first["auth_time"] == 1000
    assert "amr" not in first and "email" not in first and "nonce" not in first
    second_answer = authorize(http, idp, state="s2")
    second = id_token_claims(http, idp, redeem(http, idp, second_answer["code"]).json()["id_token"])
    assert "groups" not in second and second["amr"] == ["pwd", "otp", "mfa"]
    assert (first["sid"], second["sid"]) == ("sid-1", "sid-2")  # a new IdP session each


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
    ],
)
def test_bad_authorization_requests_are_answered_with_an_error(http, idp, overrides, error):
    assert authorize(http, idp, **overrides)["error"] == error


@pytest.mark.parametrize(
    "overrides",
    [{"redirect_uri": "http://evil.example.com/auth/callback"}, {"client_id": "someone"}],
)
def test_an_unregistered_redirect_uri_or_client_is_not_redirected_to(http, idp, overrides):
    params = {"response_type": "code", "client_id": "portal", "redirect_uri": CALLBACK}
    params.update(overrides)
    response = http.get(f"{idp.origin}/authorize", params=params, allow_redirects=False)
    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"code_verifier": "w" * 64}, 400, "invalid_grant"),
        ({"code_verifier": None}, 400, "invalid_grant"),
        ({"redirect_uri": "http://localhost/other"}, 400, "invalid_grant"),
        ({"secret": "wrong-secret"}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
    ],
)
def test_bad_token_requests_are_refused(http, idp, kwargs, status, error):
    code = authorize(http, idp)["code"]
    response = redeem(http, idp, code, **kwargs)
    assert response.status_code == status
    assert response.json()["error"] == error


def test_a_code_works_once(http, idp):
    code = authorize(http, idp)["code"]
    assert redeem(http, idp, code).status_code == 200
    assert redeem(http, idp, code).json()["error"] == "invalid_grant"


def test_a_code_expires_after_a_minute(http, idp, portal_clock):
    code = authorize(http, idp)["code"]
    portal_clock.advance(61)
    assert redeem(http, idp, code).json()["error"] == "invalid_grant"


def test_userinfo_needs_an_access_token_it_issued(http, idp):
    response = http.get(f"{idp.origin}/userinfo", headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401


def test_end_session_returns_only_to_a_registered_uri(http, idp):
    back = http.get(
        f"{idp.origin}/end-session",
        params={"post_logout_redirect_uri": "http://localhost/logged-out", "state": "st"},
        allow_redirects=False,
    )
    assert back.headers["Location"] == "http://localhost/logged-out?state=st"
    evil = http.get(
        f"{idp.origin}/end-session",
        params={"post_logout_redirect_uri": "http://evil.example.com/"},
        allow_redirects=False,
    )
    assert evil.status_code == 400


def test_down_drops_connections_and_up_answers_again(http, idp):
    discovery = f"{idp.issuer}/.well-known/openid-configuration"
    idp.down()
    with pytest.raises(requests.ConnectionError):
        http.get(discovery, timeout=5)
    idp.up()
    assert http.get(discovery, timeout=5).status_code == 200
    assert idp.calls("discovery") == 2
    assert [seen.dropped for seen in idp.requests] == [True, False]


def test_one_endpoint_can_be_down_alone(http, idp):
    idp.down("jwks")
    with pytest.raises(requests.ConnectionError):
        http.get(f"{idp.origin}/jwks", timeout=5)
    assert http.get(f"{idp.issuer}/.well-known/openid-configuration").status_code == 200


def test_a_canned_answer_replaces_the_real_one_until_reset(http, idp):
    idp.respond("jwks", json={"keys": []})
    assert http.get(f"{idp.origin}/jwks").json() == {"keys": []}
    idp.respond("jwks", status=503, body="busy", content_type="text/plain")
    assert http.get(f"{idp.origin}/jwks").status_code == 503
    idp.reset()
    assert http.get(f"{idp.origin}/jwks").json()["keys"][0]["kid"] == idp.key.kid


def test_unknown_endpoint_names_are_refused(idp):
    with pytest.raises(ValueError, match="unknown endpoint"):
        idp.down("tokens")


def test_a_rotated_key_replaces_the_published_one(http, idp):
    old = idp.key.kid
    new = idp.rotate_key().kid
    assert new != old
    assert [k["kid"] for k in http.get(f"{idp.origin}/jwks").json()["keys"]] == [new]


def test_a_failure_inside_the_mock_is_a_500_and_recorded(http, idp):
    def broken(request):
        raise RuntimeError("mock bug")

    idp.respond("jwks", handler=broken)
    assert http.get(f"{idp.origin}/jwks").status_code == 500
    assert "RuntimeError: mock bug" in idp.errors[0]
    idp.errors.clear()  # else the fixture fails this test at teardown, as it should


def test_issuer_with_a_path_serves_discovery_under_it(http):
    from portal.testing import MockIdP

    with MockIdP(issuer_path="/application/o/portal/") as idp:
        assert idp.issuer == idp.origin + "/application/o/portal/"
        doc = http.get(idp.issuer + ".well-known/openid-configuration").json()
        assert doc["issuer"] == idp.issuer
