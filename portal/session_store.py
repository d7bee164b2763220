"""Where portal sessions live: Flask-Session interfaces plus the sid/sub index beside them.

Two backends, chosen by ``PORTAL_SESSION_BACKEND``: Redis (production, several processes) and
a cachelib ``FileSystemCache`` (the embedded default, one process). Both are Flask-Session's own
interfaces, subclassed for two reasons:

* the storage expiry follows each session's own end (idle timeout, or auth_time + SSO max age,
  whichever is first), instead of one app-wide lifetime, so an abandoned session cannot live
  on in the store;
* an unreachable store yields a marked empty session instead of an exception inside Flask's
  request context set-up (where no error handler can run), so the portal answers 503.

The index maps an IdP session id (``sid``) and a subject (``sub``) to the portal sessions
that belong to them, so a back-channel logout deletes exactly those sessions without scanning
the store. Every key prefix is defined here, once.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC
from abc import abstractmethod
from datetime import timedelta
from typing import Any

import redis
from cachelib import FileSystemCache
from flask import Flask
from flask import Request
from flask_session.base import ServerSideSession
from flask_session.cachelib import CacheLibSessionInterface
from flask_session.redis import RedisSessionInterface

from portal.clock import Clock

log = logging.getLogger("portal.sessions")

SESSION_PREFIX = "portal:session:"
SID_PREFIX = "portal:sid:"
SUB_PREFIX = "portal:sub:"
JTI_PREFIX = "portal:jti:"

#: The session key under which sessions.py keeps the signed-in state; read here only to
#: compute the storage expiry.
STATE_KEY = "portal"

STORE_ERRORS: tuple[type[Exception], ...] = (redis.exceptions.RedisError, OSError)


class StoreUnavailable(RuntimeError):
    """The session store cannot be reached; the portal answers 503 until it returns."""


class UnavailableSession(ServerSideSession):
    """Stand-in session when the store is down: empty, never saved."""

    store_unavailable = True


def storage_ttl(data: dict[str, Any], now: float, idle_timeout: int, login_timeout: int) -> int:
    """Seconds the stored session may live: the sooner of idle timeout and the SSO bound."""
    state = data.get(STATE_KEY)
    if isinstance(state, dict) and "ends_at" in state:
        return max(1, int(min(idle_timeout, state["ends_at"] - now)))
    return login_timeout


class _LifetimeBound:
    """Mixin for Flask-Session interfaces: per-session TTL and store-outage handling."""

    clock: Clock
    idle_timeout: int
    login_timeout: int

    def _upsert_session(
        self, session_lifetime: timedelta, session: ServerSideSession, store_id: str
    ) -> None:
        ttl = storage_ttl(dict(session), self.clock.now(), self.idle_timeout, self.login_timeout)
        if STATE_KEY in session and not getattr(session, "new_login", False):
            # A signed-in record is created once, at login; later saves only update it. A
            # request in flight while a back-channel logout deletes the record must not
            # bring it back (unindexed, so no later logout could find it).
            self._update_existing(timedelta(seconds=ttl), session, store_id)
            return
        super()._upsert_session(timedelta(seconds=ttl), session, store_id)  # type: ignore[misc]

    def _update_existing(
        self, lifetime: timedelta, session: ServerSideSession, store_id: str
    ) -> None:
        raise NotImplementedError

    def open_session(self, app: Flask, request: Request) -> ServerSideSession:
        try:
            return super().open_session(app, request)  # type: ignore[misc]
        except STORE_ERRORS as exc:
            log.error("session store unavailable: %s", type(exc).__name__)
            return UnavailableSession(sid="unavailable")

    def rotate(self, session: ServerSideSession) -> None:
        """Discard the stored record and give the session a new id, even when it is empty.

        Flask-Session's ``regenerate`` skips empty sessions, but at login the pre-login
        session may already be empty, and its id must still die (session fixation).
        """
        try:
            self._delete_session(self._get_store_id(session.sid))  # type: ignore[attr-defined]
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        session.sid = self._generate_sid(self.sid_length)  # type: ignore[attr-defined]
        session.modified = True

    def save_session(self, app: Flask, session: ServerSideSession, response: Any) -> None:
        if isinstance(session, UnavailableSession):
            return
        try:
            super().save_session(app, session, response)  # type: ignore[misc]
        except STORE_ERRORS as exc:
            # Named here, where a store error is certain, so the error handler never has to
            # guess whether an OSError came from the store or from elsewhere (a template).
            raise StoreUnavailable(type(exc).__name__) from exc


class PortalRedisSessionInterface(_LifetimeBound, RedisSessionInterface):
    def _update_existing(
        self, lifetime: timedelta, session: ServerSideSession, store_id: str
    ) -> None:
        # SET ... XX: written only if the key still exists, atomically.
        self.client.set(
            store_id,
            self.serializer.encode(session),
            ex=max(1, int(lifetime.total_seconds())),
            xx=True,
        )


class PortalFileSessionInterface(_LifetimeBound, CacheLibSessionInterface):
    def _update_existing(
        self, lifetime: timedelta, session: ServerSideSession, store_id: str
    ) -> None:
        # Not atomic (cachelib has no "set if exists"); the filesystem backend serves one
        # process, where the window is a few microseconds.
        if self.cache.has(store_id):
            CacheLibSessionInterface._upsert_session(self, lifetime, session, store_id)


class SessionIndex(ABC):
    """Which portal sessions belong to an IdP session (sid) or a subject (sub)."""

    @abstractmethod
    def add(self, session_id: str, *, sid: str | None, sub: str, ttl: int) -> None: ...

    @abstractmethod
    def end_by_sid(self, sid: str) -> int:
        """Delete every portal session of this IdP session at once; return how many."""

    @abstractmethod
    def end_by_sub(self, sub: str) -> int:
        """Delete every portal session of this subject at once; return how many."""

    @abstractmethod
    def jti_seen(self, jti: str) -> bool:
        """Whether a logout token with this id was applied before (and is still remembered)."""

    @abstractmethod
    def remember_jti(self, jti: str, ttl: int) -> None:
        """Remember an applied logout token id for ``ttl`` seconds."""

    @abstractmethod
    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` when the store cannot be reached."""


# Deletes the sessions named in an index set and the set itself in one atomic step, so a
# back-channel logout costs O(sessions of that sid), whatever the store holds in total.
_END_SCRIPT = """
local ids = redis.call('SMEMBERS', KEYS[1])
for _, id in ipairs(ids) do redis.call('DEL', ARGV[1] .. id) end
redis.call('DEL', KEYS[1])
return #ids
"""


class RedisSessionIndex(SessionIndex):
    """Redis sets ``portal:sid:<sid>`` and ``portal:sub:<sub>`` of session ids, with expiry.

    Shared by every portal process that uses the same Redis.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._end = client.register_script(_END_SCRIPT)

    def add(self, session_id: str, *, sid: str | None, sub: str, ttl: int) -> None:
        keys = [SUB_PREFIX + sub] + ([SID_PREFIX + sid] if sid else [])
        try:
            with self.client.pipeline() as pipe:
                for key in keys:
                    pipe.sadd(key, session_id)
                    pipe.expire(key, ttl, nx=True)
                    pipe.expire(key, ttl, gt=True)
                pipe.execute()
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    def end_by_sid(self, sid: str) -> int:
        return self._run_end(SID_PREFIX + sid)

    def end_by_sub(self, sub: str) -> int:
        return self._run_end(SUB_PREFIX + sub)

    def _run_end(self, key: str) -> int:
        try:
            return int(self._end(keys=[key], args=[SESSION_PREFIX]))
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    def jti_seen(self, jti: str) -> bool:
        try:
            return bool(self.client.exists(JTI_PREFIX + jti))
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    def remember_jti(self, jti: str, ttl: int) -> None:
        try:
            self.client.set(JTI_PREFIX + jti, 1, ex=max(1, ttl))
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    def ping(self) -> None:
        try:
            self.client.ping()
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc


class FileSessionIndex(SessionIndex):
    """The same index in the filesystem cache that holds the sessions.

    A process-local lock makes read-modify-write safe within one process; the filesystem
    backend is documented as single-process (use Redis for several).
    """

    def __init__(self, cache: FileSystemCache) -> None:
        self.cache = cache
        self._lock = threading.Lock()

    def add(self, session_id: str, *, sid: str | None, sub: str, ttl: int) -> None:
        keys = [SUB_PREFIX + sub] + ([SID_PREFIX + sid] if sid else [])
        with self._lock:
            for key in keys:
                members = set(self.cache.get(key) or ())
                members.add(session_id)
                self.cache.set(key, sorted(members), timeout=ttl)

    def end_by_sid(self, sid: str) -> int:
        return self._end(SID_PREFIX + sid)

    def end_by_sub(self, sub: str) -> int:
        return self._end(SUB_PREFIX + sub)

    def _end(self, key: str) -> int:
        with self._lock:
            members = list(self.cache.get(key) or ())
            if members:
                self.cache.delete_many(*[SESSION_PREFIX + m for m in members])
            self.cache.delete(key)
            return len(members)

    def jti_seen(self, jti: str) -> bool:
        return bool(self.cache.has(JTI_PREFIX + jti))

    def remember_jti(self, jti: str, ttl: int) -> None:
        self.cache.set(JTI_PREFIX + jti, 1, timeout=max(1, ttl))

    def ping(self) -> None:
        try:
            self.cache.has(JTI_PREFIX + "ping")
        except OSError as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
