"""portal/oidc.py: each ID token and logout token rule, with an injected clock."""

from __future__ import annotations

import time

import pytest
from joserfc.jwk import OctKey

from portal import oidc
from portal.clock import FixedClock
from portal.jwks import JwksCache
from tests.support.tokens import CLIENT_ID
from tests.support.tokens import ISSUER
from tests.support.tokens import ec_key
from tests.support.tokens import id_token_claims
from tests.support.tokens import jwks_of
from tests.support.tokens import logout_claims
from tests.support.tokens import rsa_key
from tests.support.tokens import sign
from tests.support.tokens import unsigned

NOW = 1_800_000_000.0
KEY = rsa_key("key-1")
OTHER_KEY = rsa_key("key-1")  # same kid, different key: a forged signature
EC = ec_key("ec-1")
EXPECTED = oidc.Expected(issuer=ISSUER, client_id=CLIENT_ID, algorithms=("RS256", "ES256"))


def finder(*keys):
    return JwksCache(lambda: jwks_of(*keys), FixedClock(NOW)).find_key


def validate(token: str, *, nonce: str = "nonce-abc", max_age=None, now: float = NOW):
    return oidc.validate_id_token(
        token, find_key=finder(KEY, EC), expected=EXPECTED, nonce=nonce, now=now, max_age=max_age
    )


def test_valid_rs256_token_is_accepted():
    claims = validate(sign(id_token_claims(NOW), KEY))
    assert claims["sub"] == "user-123"
    assert claims["amr"] == ["pwd", "otp", "mfa"]


def test_valid_es256_token_is_accepted():
    assert validate(sign(id_token_claims(NOW), EC, "ES256"))["sub"] == "user-123"


BAD_ID_TOKENS = [
    ("alg none", lambda: unsigned(id_token_claims(NOW)), "not allowed"),
    (
        "HS256 with the client secret",
        lambda: sign(id_token_claims(NOW), OctKey.import_key("test-client-secret" * 3), "HS256"),
        "HS256",
    ),
    ("forged signature", lambda: sign(id_token_claims(NOW), OTHER_KEY), "signature"),
    ("unknown kid", lambda: sign(id_token_claims(NOW), rsa_key("other")), "kid"),
    ("wrong issuer", lambda: sign(id_token_claims(NOW, iss=ISSUER.rstrip("/")), KEY), "iss"),
    ("aud without client", lambda: sign(id_token_claims(NOW, aud="someone-else"), KEY), "aud"),
    (
        "several audiences, no azp",
        lambda: sign(id_token_claims(NOW, aud=[CLIENT_ID, "other"]), KEY),
        "azp",
    ),
    (
        "azp of another client",
        lambda: sign(id_token_claims(NOW, aud=[CLIENT_ID, "other"], azp="other"), KEY),
        "azp",
    ),
    (
        "one aud, azp of another client",
        lambda: sign(id_token_claims(NOW, azp="other"), KEY),
        "azp",
    ),
    (
        "auth_time in future",
        lambda: sign(id_token_claims(NOW, auth_time=int(NOW) + 61), KEY),
        "auth_time",
    ),
    ("expired", lambda: sign(id_token_claims(NOW, exp=int(NOW) - 61), KEY), "expired"),
    ("no exp", lambda: sign(id_token_claims(NOW, exp=None), KEY), "exp"),
    ("iat in future", lambda: sign(id_token_claims(NOW, iat=int(NOW) + 61), KEY), "future"),
    ("no iat", lambda: sign(id_token_claims(NOW, iat=None), KEY), "iat"),
    ("wrong nonce", lambda: sign(id_token_claims(NOW, nonce="other"), KEY), "nonce"),
    ("no nonce", lambda: sign(id_token_claims(NOW, nonce=None), KEY), "nonce"),
    ("no sub", lambda: sign(id_token_claims(NOW, sub=None), KEY), "sub"),
    ("no auth_time", lambda: sign(id_token_claims(NOW, auth_time=None), KEY), "auth_time"),
    ("garbage", lambda: "not-a-token", "compact"),
]


@pytest.mark.parametrize(
    ("case", "make", "reason"), BAD_ID_TOKENS, ids=[c[0] for c in BAD_ID_TOKENS]
)
def test_bad_id_token_is_refused_with_reason(case, make, reason):
    with pytest.raises(oidc.TokenError) as excinfo:
        validate(make())
    assert reason in excinfo.value.reason


def test_clock_skew_tolerates_a_slightly_expired_token():
    token = sign(id_token_claims(NOW, exp=int(NOW) - 30), KEY)
    assert validate(token)["sub"] == "user-123"


def test_several_audiences_with_matching_azp_is_accepted():
    token = sign(id_token_claims(NOW, aud=[CLIENT_ID, "other"], azp=CLIENT_ID), KEY)
    assert validate(token)["sub"] == "user-123"


def test_max_age_requires_a_recent_auth_time():
    token = sign(id_token_claims(NOW, auth_time=int(NOW) - 700), KEY)
    with pytest.raises(oidc.TokenError, match="max_age"):
        validate(token, max_age=600)
    assert validate(token)["sub"] == "user-123"  # no max_age asked: accepted


def test_token_is_not_logged_in_reason():
    token = sign(id_token_claims(NOW, nonce="other"), KEY)
    with pytest.raises(oidc.TokenError) as excinfo:
        validate(token)
    assert token not in str(excinfo.value)
    assert token.split(".")[1] not in str(excinfo.value)


@pytest.mark.parametrize(
    ("amr", "acr", "accepted_amr", "accepted_acr", "ok"),
    [
        (["pwd", "otp"], None, ("otp", "mfa"), (), True),
        (["pwd", "mfa"], "goauthentik.io/providers/oauth2/default", ("mfa",), (), True),
        (["pwd"], "goauthentik.io/providers/oauth2/default", ("mfa",), (), False),
        (None, "1", ("otp",), (), False),
        (None, "gold", ("otp",), ("gold",), True),
        ("otp", None, ("otp",), (), False),  # amr must be a list
    ],
)
def test_mfa_evidence(amr, acr, accepted_amr, accepted_acr, ok):
    claims = id_token_claims(NOW, amr=amr, acr=acr)
    if ok:
        oidc.check_mfa_evidence(claims, accepted_amr, accepted_acr)
    else:
        with pytest.raises(oidc.MissingMfaEvidence):
            oidc.check_mfa_evidence(claims, accepted_amr, accepted_acr)


def test_userinfo_sub_must_match():
    oidc.check_userinfo_subject({"sub": "a"}, "a")
    with pytest.raises(oidc.TokenError, match="userinfo"):
        oidc.check_userinfo_subject({"sub": "b"}, "a")


@pytest.mark.parametrize(
    ("iss", "advertised", "ok"),
    [
        (ISSUER, True, True),
        (None, False, True),
        (None, True, False),
        ("https://evil/", False, False),
    ],
)
def test_rfc9207_response_issuer(iss, advertised, ok):
    if ok:
        oidc.check_response_issuer(iss, ISSUER, advertised)
    else:
        with pytest.raises(oidc.TokenError):
            oidc.check_response_issuer(iss, ISSUER, advertised)


def validate_logout(token: str, now: float = NOW):
    return oidc.validate_logout_token(token, find_key=finder(KEY), expected=EXPECTED, now=now)


def test_valid_logout_token_is_accepted():
    assert validate_logout(sign(logout_claims(NOW), KEY, typ="logout+jwt"))["sid"] == "sid-1"


def test_logout_token_with_only_sub_is_accepted():
    assert validate_logout(sign(logout_claims(NOW, sid=None), KEY))["sub"] == "user-123"


BAD_LOGOUT_TOKENS = [
    ("nonce present", {"nonce": "n"}, "nonce"),
    ("no events", {"events": None}, "events"),
    ("wrong event", {"events": {"http://example.com/other": {}}}, "events"),
    ("wrong aud", {"aud": "other"}, "aud"),
    ("wrong iss", {"iss": "https://other/"}, "iss"),
    ("no sid nor sub", {"sid": None, "sub": None}, "neither"),
    ("no jti", {"jti": None}, "jti"),
    ("iat too old", {"iat": int(NOW) - 3600, "exp": int(NOW) + 60}, "iat"),
    ("iat in future", {"iat": int(NOW) + 3600}, "iat"),
    ("expired", {"exp": int(NOW) - 120}, "expired"),
]


@pytest.mark.parametrize(
    ("case", "change", "reason"), BAD_LOGOUT_TOKENS, ids=[c[0] for c in BAD_LOGOUT_TOKENS]
)
def test_bad_logout_token_is_refused(case, change, reason):
    with pytest.raises(oidc.TokenError) as excinfo:
        validate_logout(sign(logout_claims(NOW, **change), KEY))
    assert reason in excinfo.value.reason


def test_logout_token_with_bad_signature_is_refused():
    with pytest.raises(oidc.TokenError, match="signature"):
        validate_logout(sign(logout_claims(NOW), OTHER_KEY))


def test_real_clock_default_is_not_used_by_checks():
    # The checks take ``now`` as a value: a token valid "now" is refused 10 minutes later.
    token = sign(id_token_claims(time.time()), KEY)
    with pytest.raises(oidc.TokenError, match="expired"):
        validate(token, now=time.time() + 600)
