"""Back-channel logout against a Redis holding many sessions.

Redis is filled with fake portal sessions laid out exactly as the portal writes them: the
session record under ``portal:session:<id>`` (a copy of a real session's bytes) and the index
hashes as the portal's own :meth:`RedisSessionIndex.add` writes them, batched in pipelines.
Each timed logout ends one session of its own: a session indexed under a fresh ``sid``, and a
logout token for that ``sid`` signed with the dev IdP's private key (read from its database
as devidp/keys.py does), with a fresh ``jti``, POSTed to ``/auth/backchannel-logout``.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass
from dataclasses import field

import redis
import requests

from devidp import backchannel as idp_backchannel
from devidp import keys as idp_keys
from portal.session_store import SESSION_PREFIX
from portal.session_store import RedisSessionIndex
from portal.session_store import sid_key
from portal.session_store import signed_in_id
from portal.session_store import store_key
from portal.session_store import sub_key
from portal.session_store import subject_tag
from tests.support.devidp import DevIdP

SESSION_TTL = 3600  # the portal's default idle timeout
INDEX_TTL = 43200  # the SSO bound
BATCH = 2000


def new_session_id() -> str:
    """The portal's session ids: Flask-Session's token_urlsafe(32)."""
    return secrets.token_urlsafe(32)


def session_count(client: redis.Redis) -> int:
    return sum(1 for _ in client.scan_iter(match=SESSION_PREFIX + "*", count=5000))


def fill(client: redis.Redis, template: bytes, how_many: int) -> None:
    """Add ``how_many`` sessions, each with its own sid and sub, in pipelined batches.

    The index hashes are written as :meth:`RedisSessionIndex.add` leaves them for a subject
    with no other session (its script finds nothing past to drop): a Cluster pipeline may
    not carry scripts, and a fresh subject per session makes the script's result this."""
    done = 0
    while done < how_many:
        size = min(BATCH, how_many - done)
        with client.pipeline(transaction=False) as pipe:
            for _ in range(size):
                sub, sid = secrets.token_hex(16), secrets.token_urlsafe(24)
                session_id = signed_in_id(sub, new_session_id())
                pipe.set(store_key(session_id), template, ex=SESSION_TTL)
                for key in (sub_key(sub), sid_key(sid, subject_tag(sub))):
                    pipe.hset(key, session_id, int(time.time() + INDEX_TTL))
                    pipe.expire(key, INDEX_TTL)
            pipe.execute()
        done += size


class LogoutTokens:
    """Logout tokens as the dev IdP signs them, with its own key."""

    def __init__(self, idp: DevIdP, client_id: str = "portal") -> None:
        conn = sqlite3.connect(idp.db_path)
        conn.row_factory = sqlite3.Row
        try:
            self.key = idp_keys.load_or_create(conn)
        finally:
            conn.close()
        self.issuer = idp.url
        self.client_id = client_id

    def token(self, *, sid: str, sub: str) -> str:
        return idp_backchannel.logout_token(
            key=self.key,
            issuer=self.issuer,
            client_id=self.client_id,
            sub=sub,
            sid=sid,
            now=time.time(),
        )


@dataclass
class LogoutTimings:
    sessions: int
    ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def time_logouts(
    portal_url: str,
    client: redis.Redis,
    tokens: LogoutTokens,
    template: bytes,
    *,
    repeats: int,
    http: requests.Session,
) -> LogoutTimings:
    """POST ``repeats`` logout tokens, each ending one freshly indexed session."""
    timings = LogoutTimings(sessions=session_count(client))
    index = RedisSessionIndex(client)
    url = portal_url + "/auth/backchannel-logout"
    for _ in range(repeats):
        sid, sub = secrets.token_urlsafe(24), secrets.token_hex(16)
        session_id = signed_in_id(sub, new_session_id())
        client.set(store_key(session_id), template, ex=SESSION_TTL)
        now = time.time()
        index.add(session_id, sid=sid, sub=sub, ends_at=now + INDEX_TTL, now=now)
        token = tokens.token(sid=sid, sub=sub)
        start = time.perf_counter()
        response = http.post(url, data={"logout_token": token}, timeout=10)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            timings.failures.append(f"HTTP {response.status_code}: {response.text[:200]}")
        elif client.exists(store_key(session_id)):
            timings.failures.append("session still in Redis after the logout")
        else:
            timings.ms.append(elapsed)
    return timings
