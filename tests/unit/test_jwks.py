"""portal/jwks.py: keys fetched once, refetched once on a new kid, never in a flood."""

from __future__ import annotations

import pytest

from portal.clock import FixedClock
from portal.jwks import JwksCache
from portal.oidc import TokenError
from tests.support.tokens import jwks_of
from tests.support.tokens import rsa_key

OLD = rsa_key("old")
NEW = rsa_key("new")


class Provider:
    def __init__(self, *keys):
        self.keys = list(keys)
        self.fetches = 0

    def fetch(self):
        self.fetches += 1
        return jwks_of(*self.keys)


def test_keys_are_fetched_once_for_many_tokens():
    idp = Provider(OLD)
    cache = JwksCache(idp.fetch, FixedClock(0))
    for _ in range(5):
        cache.find_key({"alg": "RS256", "kid": "old"})
    assert idp.fetches == 1


def test_rotation_refetches_once_on_unknown_kid():
    idp, clock = Provider(OLD), FixedClock(0)
    cache = JwksCache(idp.fetch, clock)
    cache.find_key({"alg": "RS256", "kid": "old"})
    idp.keys = [NEW]
    clock.advance(120)
    assert cache.find_key({"alg": "RS256", "kid": "new"}).kid == "new"
    assert idp.fetches == 2


def test_flood_of_unknown_kids_is_rate_limited():
    idp, clock = Provider(OLD), FixedClock(0)
    cache = JwksCache(idp.fetch, clock, min_refetch_interval=60)
    cache.find_key({"alg": "RS256", "kid": "old"})
    for i in range(50):
        with pytest.raises(TokenError, match="kid"):
            cache.find_key({"alg": "RS256", "kid": f"bogus-{i}"})
    assert idp.fetches == 2  # the first miss refetched; the other 49 did not


def test_token_without_kid_uses_the_only_matching_key():
    cache = JwksCache(Provider(OLD).fetch, FixedClock(0))
    assert cache.find_key({"alg": "RS256"}).kid == "old"


def test_token_without_kid_and_several_keys_is_refused():
    cache = JwksCache(Provider(OLD, NEW).fetch, FixedClock(0), min_refetch_interval=0)
    with pytest.raises(TokenError):
        cache.find_key({"alg": "RS256"})


def test_unreadable_jwks_is_refused():
    cache = JwksCache(lambda: {"keys": [{"kty": "nonsense"}]}, FixedClock(0))
    with pytest.raises(TokenError, match="JWKS"):
        cache.find_key({"alg": "RS256", "kid": "x"})


def test_rotation_right_after_start_is_not_rate_limited():
    idp, clock = Provider(OLD), FixedClock(0)
    cache = JwksCache(idp.fetch, clock, min_refetch_interval=60)
    cache.find_key({"alg": "RS256", "kid": "old"})
    idp.keys = [NEW]
    assert cache.find_key({"alg": "RS256", "kid": "new"}).kid == "new"


def test_refetch_allowed_again_after_the_interval():
    idp, clock = Provider(OLD), FixedClock(0)
    cache = JwksCache(idp.fetch, clock, min_refetch_interval=60)
    cache.find_key({"alg": "RS256", "kid": "old"})
    with pytest.raises(TokenError):
        cache.find_key({"alg": "RS256", "kid": "new"})
    idp.keys = [NEW]
    with pytest.raises(TokenError):
        cache.find_key({"alg": "RS256", "kid": "new"})  # within the interval: not refetched
    clock.advance(61)
    assert cache.find_key({"alg": "RS256", "kid": "new"}).kid == "new"
    assert idp.fetches == 3
