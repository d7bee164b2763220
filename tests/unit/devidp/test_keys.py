"""devidp/keys.py: one RSA key, made on first start, kept across restarts, published as JWKS."""

from __future__ import annotations

from devidp import create_app
from devidp import keys

from .conftest import make_config


def test_the_key_is_kept_across_restarts(tmp_path, fake_clock):
    first = create_app(make_config(tmp_path))
    second = create_app(make_config(tmp_path))
    assert first.extensions["devidp.signing_key"].kid == second.extensions["devidp.signing_key"].kid
    with first.app_context():
        jwks_1 = keys.jwks()
    with second.app_context():
        assert keys.jwks() == jwks_1


def test_another_database_gets_another_key(tmp_path, fake_clock):
    first = create_app(make_config(tmp_path / "a"))
    second = create_app(make_config(tmp_path / "b"))
    assert first.extensions["devidp.signing_key"].kid != second.extensions["devidp.signing_key"].kid


def test_jwks_publishes_only_the_public_part(client):
    jwks = client.get("/jwks").get_json()
    [key] = jwks["keys"]
    assert set(key) == {"kty", "n", "e", "kid", "use", "alg"}
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"


def test_the_kid_is_the_rfc7638_thumbprint(app):
    key = app.extensions["devidp.signing_key"]
    assert key.kid == key.private.thumbprint()
    assert key.header() == {"alg": "RS256", "kid": key.kid}
