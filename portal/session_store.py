"""Where portal sessions live: Flask-Session interfaces plus the sid/sub index beside them.

Two backends, chosen by ``PORTAL_SESSION_BACKEND``: Redis (production, several processes) and
a cachelib ``FileSystemCache`` (the embedded default, one process). Both are Flask-Session's own
interfaces, subclassed for two reasons:

* the storage expiry follows each session's own end (idle timeout, or auth_time + SSO max age,
  whichever is first), instead of one app-wide lifetime, so an abandoned session cannot live
  on in the store;
* an unreachable store yields a marked empty session instead of an exception inside Flask's
  request context set-up (where no error handler can run), so the portal answers 503.

Both store records with :mod:`portal.session_serializer` (MessagePack, never pickle).

The index maps an IdP session id (``sid``) and a subject (``sub``) to the portal sessions
that belong to them, so a back-channel logout deletes exactly those sessions without scanning
the store. Beside it, per ``sid``: the first ``auth_time`` seen (the session's bound, see
:func:`portal.sessions.start`) and, once a back-channel logout ended it, a tombstone (so a
login whose callback was still running when the logout arrived cannot outlive it). Every key
prefix is defined here, once.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC
from abc import abstractmethod
from datetime import timedelta
from typing import Any

import redis
from flask import Flask
from flask import Request
from flask_session.base import ServerSideSession
from flask_session.cachelib import CacheLibSessionInterface
from flask_session.redis import RedisSessionInterface

from portal.clock import Clock
from portal.session_files import SessionFiles
from portal.session_serializer import SessionSerializer

log = logging.getLogger("portal.sessions")

SESSION_PREFIX = "portal:session:"
SID_PREFIX = "portal:sid:"
SUB_PREFIX = "portal:sub:"
#: Sessions of a subject whose ID token carried no ``sid`` (see SessionIndex.end_by_sid).
NOSID_PREFIX = "portal:nosid:"
#: A ``sid`` ended by back-channel logout, remembered for the SSO bound.
ENDED_SID_PREFIX = "portal:sid-ended:"
#: The first ``auth_time`` seen for a ``sid``.
AUTH_TIME_PREFIX = "portal:sid-auth-time:"
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
    """Mixin for Flask-Session interfaces: per-session TTL, store outages, safe records."""

    clock: Clock
    idle_timeout: int
    login_timeout: int
    index: SessionIndex

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.serializer = SessionSerializer()

    def _retrieve_session_data(self, store_id: str) -> dict[str, Any] | None:
        data = super()._retrieve_session_data(store_id)  # type: ignore[misc]
        if data is not None and not isinstance(data, dict):
            log.warning("session record refused: not a map")
            return None
        return data

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
        if getattr(session, "new_login", False):
            self._drop_if_sid_ended(session)

    def _drop_if_sid_ended(self, session: ServerSideSession) -> None:
        """After creating a signed-in record: delete it if its sid was ended meanwhile.

        A back-channel logout writes the tombstone before deleting the sid's sessions, and
        :func:`portal.sessions.start` indexes the session before it is saved; so either that
        logout deletes the record, or this check sees the tombstone.
        """
        state = session.get(STATE_KEY)
        sid = state.get("sid") if isinstance(state, dict) else None
        if sid and self.index.sid_ended(sid):
            try:
                self._delete_session(self._get_store_id(session.sid))  # type: ignore[attr-defined]
            except STORE_ERRORS as exc:
                raise StoreUnavailable(type(exc).__name__) from exc
            log.warning("session ended at once: back-channel logout for sid=%s during login", sid)


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
    """Records in :class:`portal.session_files.SessionFiles` (its own MessagePack serializer)."""

    def _update_existing(
        self, lifetime: timedelta, session: ServerSideSession, store_id: str
    ) -> None:
        # Not atomic (cachelib has no "set if exists"); the filesystem backend serves one
        # process, where the window is a few microseconds.
        if self.cache.has(store_id):
            CacheLibSessionInterface._upsert_session(self, lifetime, session, store_id)


class SessionIndex(ABC):
    """Which portal sessions belong to an IdP session (sid) or a subject (sub).

    ``tombstone_ttl`` is how long an ended sid is remembered: the SSO bound (plus clock
    skew), after which no ID token of that sid can start a session anyway.
    """

    tombstone_ttl: int

    @abstractmethod
    def add(self, session_id: str, *, sid: str | None, sub: str, ttl: int) -> None:
        """Index a session for ``ttl`` seconds; an entry's expiry only ever grows."""

    @abstractmethod
    def end_by_sid(self, sid: str, *, sub: str | None = None) -> int:
        """Delete every portal session of this IdP session at once; return how many.

        Also deletes the sessions of ``sub`` that started without a sid (the IdP's ID token
        had none, so any of them may be this IdP session), and leaves a tombstone for the sid.
        """

    @abstractmethod
    def end_by_sub(self, sub: str) -> int:
        """Delete every portal session of this subject at once; return how many."""

    @abstractmethod
    def sid_ended(self, sid: str) -> bool:
        """Whether a back-channel logout ended this sid (within ``tombstone_ttl``)."""

    @abstractmethod
    def first_auth_time(self, sid: str, auth_time: float, ttl: int) -> float:
        """The first ``auth_time`` seen for ``sid``; remembers ``auth_time`` for ``ttl``
        seconds when none is (ttl computed from it by the caller, as for the index)."""

    @abstractmethod
    def jti_seen(self, jti: str) -> bool:
        """Whether a logout token with this id was applied before (and is still remembered)."""

    @abstractmethod
    def remember_jti(self, jti: str, ttl: int) -> None:
        """Remember an applied logout token id for ``ttl`` seconds."""

    @abstractmethod
    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` when the store cannot be reached."""


def _index_keys(sid: str | None, sub: str) -> list[str]:
    return [SUB_PREFIX + sub, SID_PREFIX + sid if sid else NOSID_PREFIX + sub]


def _logout_keys(sid: str, sub: str | None) -> list[str]:
    return [SID_PREFIX + sid] + ([NOSID_PREFIX + sub] if sub else [])


# Leaves the tombstone (if any), then deletes the sessions named in the index sets and the
# sets themselves, in one atomic step: a back-channel logout costs O(sessions it ends),
# whatever the store holds in total. Tombstone first: see _LifetimeBound._drop_if_sid_ended.
_END_SCRIPT = """
if ARGV[2] ~= '' then redis.call('SET', ARGV[2], '1', 'EX', ARGV[3]) end
local n = 0
for _, key in ipairs(KEYS) do
  local ids = redis.call('SMEMBERS', key)
  for _, id in ipairs(ids) do redis.call('DEL', ARGV[1] .. id) end
  redis.call('DEL', key)
  n = n + #ids
end
return n
"""


class RedisSessionIndex(SessionIndex):
    """Redis sets ``portal:sid:<sid>``, ``portal:sub:<sub>``, ``portal:nosid:<sub>`` of
    session ids, with expiry, and plain keys per sid (tombstone, first auth_time).

    Shared by every portal process that uses the same Redis.
    """

    def __init__(self, client: redis.Redis, *, tombstone_ttl: int = 43200 + 60) -> None:
        self.client = client
        self.tombstone_ttl = tombstone_ttl
        self._end = client.register_script(_END_SCRIPT)

    def add(self, session_id: str, *, sid: str | None, sub: str, ttl: int) -> None:
        try:
            with self.client.pipeline() as pipe:
                for key in _index_keys(sid, sub):
                    pipe.sadd(key, session_id)
                    pipe.expire(key, ttl, nx=True)
                    pipe.expire(key, ttl, gt=True)
                pipe.execute()
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    def end_by_sid(self, sid: str, *, sub: str | None = None) -> int:
        return self._run_end(_logout_keys(sid, sub), ENDED_SID_PREFIX + sid)

    def end_by_sub(self, sub: str) -> int:
        return self._run_end([SUB_PREFIX + sub], "")

    def _run_end(self, keys: list[str], tombstone: str) -> int:
        try:
            return int(self._end(keys=keys, args=[SESSION_PREFIX, tombstone, self.tombstone_ttl]))
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    def sid_ended(self, sid: str) -> bool:
        try:
            return bool(self.client.exists(ENDED_SID_PREFIX + sid))
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    def first_auth_time(self, sid: str, auth_time: float, ttl: int) -> float:
        key = AUTH_TIME_PREFIX + sid
        try:
            with self.client.pipeline() as pipe:  # MULTI/EXEC: set-if-absent, then read
                pipe.set(key, repr(float(auth_time)), ex=max(1, ttl), nx=True)
                pipe.get(key)
                _, first = pipe.execute()
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        return float(first) if first is not None else float(auth_time)

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
    """The same index in the session folder, beside the sessions.

    A process-local lock makes read-modify-write safe within one process; the filesystem
    backend is documented as single-process (use Redis for several).
    """

    def __init__(self, cache: SessionFiles, *, tombstone_ttl: int = 43200 + 60) -> None:
        self.cache = cache
        self.tombstone_ttl = tombstone_ttl
        self._lock = threading.Lock()

    def add(self, session_id: str, *, sid: str | None, sub: str, ttl: int) -> None:
        with self._lock:
            for key in _index_keys(sid, sub):
                members = set(self.cache.get(key) or ())
                members.add(session_id)
                # Keep the later expiry, as Redis does with EXPIRE GT: a later login that
                # ends sooner must not make the set forget the sessions that end later.
                timeout = max(ttl, self._remaining(key))
                self.cache.set(key, sorted(members), timeout=timeout)

    def _remaining(self, key: str) -> int:
        expires = self.cache.expires_at(key)
        if not expires:  # absent (or never expiring, which the index does not write)
            return 0
        return int(expires - time.time())

    def end_by_sid(self, sid: str, *, sub: str | None = None) -> int:
        with self._lock:
            self.cache.set(ENDED_SID_PREFIX + sid, 1, timeout=self.tombstone_ttl)
            return self._end(_logout_keys(sid, sub))

    def end_by_sub(self, sub: str) -> int:
        with self._lock:
            return self._end([SUB_PREFIX + sub])

    def _end(self, keys: list[str]) -> int:
        count = 0
        for key in keys:
            members = list(self.cache.get(key) or ())
            if members:
                self.cache.delete_many(*[SESSION_PREFIX + m for m in members])
            self.cache.delete(key)
            count += len(members)
        return count

    def sid_ended(self, sid: str) -> bool:
        return bool(self.cache.has(ENDED_SID_PREFIX + sid))

    def first_auth_time(self, sid: str, auth_time: float, ttl: int) -> float:
        key = AUTH_TIME_PREFIX + sid
        with self._lock:
            first = self.cache.get(key)
            if isinstance(first, int | float):
                return float(first)
            self.cache.set(key, float(auth_time), timeout=max(1, ttl))
            return float(auth_time)

    def jti_seen(self, jti: str) -> bool:
        return bool(self.cache.has(JTI_PREFIX + jti))

    def remember_jti(self, jti: str, ttl: int) -> None:
        self.cache.set(JTI_PREFIX + jti, 1, timeout=max(1, ttl))

    def ping(self) -> None:
        try:
            self.cache.has(JTI_PREFIX + "ping")
        except OSError as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
