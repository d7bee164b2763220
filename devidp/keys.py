"""The IdP's RSA signing key: made on first start, kept in the database, published as JWKS.

ID tokens and logout tokens are signed RS256 (OpenID Connect Core 1.0 §10.1: asymmetric
signatures let relying parties verify without sharing a secret). The key id is the RFC 7638
thumbprint, placed in every token header and in the JWKS (RFC 7517) so verifiers pick the key
by ``kid``. The key is stored as a private JWK in ``signing_keys``; restarts reuse it, so tokens
issued before a restart still verify.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask import current_app
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from . import clock
from . import db

ALGORITHM = "RS256"
KEY_SIZE = 2048


@dataclass(frozen=True)
class SigningKey:
    """The private key and its id."""

    kid: str
    private: RSAKey

    def public_jwk(self) -> dict[str, Any]:
        return {
            **self.private.as_dict(private=False),
            "kid": self.kid,
            "use": "sig",
            "alg": ALGORITHM,
        }

    def header(self, **extra: str) -> dict[str, str]:
        """A JWS header naming this key."""
        return {"alg": ALGORITHM, "kid": self.kid, **extra}


def load_or_create(conn: sqlite3.Connection) -> SigningKey:
    """Return the stored key, generating and storing one when the database has none."""
    row = conn.execute(
        "SELECT kid, private_jwk FROM signing_keys ORDER BY created_at LIMIT 1"
    ).fetchone()
    if row is not None:
        return SigningKey(row["kid"], RSAKey.import_key(json.loads(row["private_jwk"])))
    key = RSAKey.generate_key(KEY_SIZE, private=True)
    kid = key.thumbprint()
    conn.execute(
        "INSERT INTO signing_keys (kid, private_jwk, created_at) VALUES (?, ?, ?)",
        (kid, json.dumps(key.as_dict(private=True)), clock.now()),
    )
    conn.commit()
    return SigningKey(kid, key)


def current() -> SigningKey:
    """The signing key of the running app."""
    return current_app.extensions["devidp.signing_key"]


def jwks() -> dict[str, Any]:
    """The public JWK Set served at ``/jwks``."""
    return {"keys": [current().public_jwk()]}


def public_key_set() -> KeySet:
    """The public keys, for verifying tokens this IdP issued (e.g. ``id_token_hint``)."""
    return KeySet.import_key_set(jwks())


def init_app(app: Flask) -> None:
    with app.app_context():
        app.extensions["devidp.signing_key"] = load_or_create(db.get_db())
