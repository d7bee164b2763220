"""Read a live portal's sessions straight from its Redis, in any mode, as the portal stores them."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import msgspec

from portal.redis_connection import RedisClient
from portal.redis_connection import connect
from portal.redis_connection import parse_redis_url
from portal.session_store import STATE_KEY
from portal.session_store import store_key
from tests.support.journey import Journey
from tests.support.journey import User


def redis_client(url: str) -> RedisClient:
    """A client for PORTAL_REDIS_URL, made the way the portal makes its own."""
    return connect(parse_redis_url(url), timeout=2)


def session_key(journey: Journey) -> str:
    cookie = journey.browser.cookie("portal_session")
    assert cookie, "this browser has no portal session cookie"
    return store_key(cookie)


def signed_in_state(client: RedisClient, journey: Journey) -> dict[str, Any] | None:
    """The signed-in state of this browser's session as stored, or None when it is gone."""
    raw = client.get(session_key(journey))
    if raw is None:
        return None
    return msgspec.msgpack.decode(raw).get(STATE_KEY)


def sub_of(idp_db: Path, user: User) -> str:
    """The subject the dev IdP gives this user (read from the IdP's own database)."""
    with sqlite3.connect(idp_db) as db:
        (sub,) = db.execute("SELECT sub FROM users WHERE username = ?", (user.username,)).fetchone()
    return sub
