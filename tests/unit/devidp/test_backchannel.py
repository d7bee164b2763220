"""devidp/backchannel.py: logout token claims (Back-Channel Logout 1.0 §2.4) and retries."""

from __future__ import annotations

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from devidp import backchannel
from devidp.keys import SigningKey

NOW = 1_800_000_000.0
PRIVATE = RSAKey.generate_key(2048, private=True)
KEY = SigningKey(PRIVATE.thumbprint(), PRIVATE)


def decode(token: str) -> jwt.Token:
    return jwt.decode(token, KeySet.import_key_set({"keys": [KEY.public_jwk()]}), ["RS256"])


def make_token() -> str:
    return backchannel.logout_token(
        key=KEY, issuer="http://127.0.0.1:9000", client_id="portal", sub="s-1", sid="sid-1", now=NOW
    )


def test_logout_token_claims_and_header():
    token = decode(make_token())
    assert token.header == {"typ": "logout+jwt", "alg": "RS256", "kid": KEY.kid}
    claims = token.claims
    assert claims["iss"] == "http://127.0.0.1:9000"
    assert claims["aud"] == "portal"
    assert claims["iat"] == int(NOW)
    assert claims["exp"] == int(NOW) + 120
    assert claims["sid"] == "sid-1"
    assert claims["sub"] == "s-1"
    assert claims["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
    assert "nonce" not in claims
    assert len(claims["jti"]) >= 16


def test_each_token_has_its_own_jti():
    assert decode(make_token()).claims["jti"] != decode(make_token()).claims["jti"]


class FakePost:
    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = []

    def __call__(self, url, **kwargs):
        self.calls.append((url, kwargs))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        response = requests.Response()
        response.status_code = outcome
        return response


DELIVERY = backchannel.Delivery("portal", "http://rp.test/auth/backchannel-logout", "tok")


def test_delivery_posts_the_token_as_a_form():
    post = FakePost(200)
    result = backchannel.deliver(DELIVERY, post=post, sleep=lambda s: None)
    assert result == backchannel.Result("portal", DELIVERY.uri, True, 1)
    url, kwargs = post.calls[0]
    assert url == DELIVERY.uri
    assert kwargs["data"] == {"logout_token": "tok"}
    assert kwargs["allow_redirects"] is False


def test_delivery_retries_with_backoff_then_succeeds():
    sleeps = []
    post = FakePost(requests.ConnectionError("down"), 503, 204)
    result = backchannel.deliver(DELIVERY, post=post, sleep=sleeps.append)
    assert result.delivered and result.attempts == 3
    assert sleeps == list(backchannel.BACKOFF_SECONDS)


def test_delivery_gives_up_after_three_tries_and_logs_without_the_token(caplog):
    post = FakePost(500, 500, 500)
    result = backchannel.deliver(DELIVERY, post=post, sleep=lambda s: None)
    assert not result.delivered and result.attempts == 3 and result.error == "HTTP 500"
    assert "given up" in caplog.text
    assert "tok" not in caplog.text.replace("token", "")


@pytest.mark.parametrize("status", [301, 400, 404])
def test_non_2xx_answers_count_as_failures(status):
    post = FakePost(status, status, status)
    assert not backchannel.deliver(DELIVERY, post=post, sleep=lambda s: None).delivered


def test_background_delivery_returns_without_waiting():
    assert backchannel.deliver_in_background([]) is None
