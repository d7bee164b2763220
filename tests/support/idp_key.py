"""Sign tokens with the live dev IdP's own key (read from its database), for forged-claim tests."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from joserfc import jwt

from devidp.keys import load_or_create

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def sign_with_idp_key(db_path: Path, claims: dict[str, Any], **header: str) -> str:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        key = load_or_create(conn)
    finally:
        conn.close()
    return jwt.encode(key.header(**header), claims, key.private, algorithms=["RS256"])


def logout_token_claims(
    issuer: str, *, sid: str | None, sub: str | None, **extra: Any
) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": "portal",
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "events": {BACKCHANNEL_EVENT: {}},
        "sid": sid,
        "sub": sub,
        **extra,
    }
    return {k: v for k, v in claims.items() if v is not None}
