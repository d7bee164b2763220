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
the store, and the devices page lists (and ends) a customer's sessions the same way. Beside
it, per ``sid``: the first ``auth_time`` seen (the session's bound, see
:func:`portal.sessions.start`) and, once a back-channel logout ended it, a tombstone (so a
login whose callback was still running when the logout arrived cannot outlive it); per
``sub``: its latest sign-in (time and browser label). Every key prefix is defined here, once.
"""

from __future__ import annotations

import functools
import hashlib
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
from portal.logs import sid_hash
from portal.redis_connection import RedisClient
from portal.session_files import SessionFiles
from portal.session_serializer import SessionSerializer
from portal.session_serializer import decode_record

log = logging.getLogger("portal.sessions")

# Key layout. Every key of a signed-in customer carries the subject's hash tag ``{T}``, T being
# subject_tag(sub), so that in a Redis Cluster a customer's sessions and the index hashes that
# list them share one slot, and a back-channel logout is one atomic script on one node that
# names every key it touches:
#
#   portal:session:<id>          a browser's session before login (random id, any slot)
#   portal:session:{T}<rest>     a signed-in session; its id (the cookie) is "T.<rest>"
#   portal:sub:{T}               hash: ids of the subject's sessions, each with its end
#                                (unix time; entries past it are dropped at the next login)
#   portal:sid:{T}<sid>          hash: ids of the sessions of one IdP session, the same way
#   portal:nosid:{T}             hash: ids of the subject's sessions whose ID token had no sid
#   portal:last-sign-in:{T}      the subject's latest sign-in: "<unix time> <browser label>"
#   portal:sub-ended:{T}         the iat of the last logout token that ended all the subject's
#                                sessions (no sid); an ID token issued before it starts none
#   portal:nosid-ended:{T}       the same for the subject's sessions without sid (a logout of
#                                one of its sids with the sub ends those too)
#
# The index is made of hashes rather than sets: Redis 7.0 keeps a small hash in a compact
# listpack, a set of strings in a hash table, and the difference is a tenth of a session's
# budget. Keys read or written alone may live in any slot: per sid, its subject tag and
# first auth_time (for the 12-hour bound, and for logout tokens without sub), and the
# ended-sid tombstone; a logout token's jti.
SESSION_PREFIX = "portal:session:"
SID_PREFIX = "portal:sid:"
SUB_PREFIX = "portal:sub:"
#: Sessions of a subject whose ID token carried no ``sid`` (see SessionIndex.end_by_sid).
NOSID_PREFIX = "portal:nosid:"
#: Per ``sid``: "<subject tag> <first auth_time>", so that a logout token with only a sid
#: finds its slot, and a session is bounded by the first sign-in of its IdP session.
SID_FIRST_PREFIX = "portal:sid-first:"
#: Per subject: its latest sign-in, so the next one can show "Previous sign-in" (see
#: portal.sessions.PREVIOUS_SIGN_IN_KEPT for how long).
LAST_SIGN_IN_PREFIX = "portal:last-sign-in:"
#: A ``sid`` ended by back-channel logout, remembered for the SSO bound.
ENDED_SID_PREFIX = "portal:sid-ended:"
#: Per subject: when the IdP logged it out (the logout token's iat), all its sessions or
#: those without sid; remembered for the SSO bound, like an ended sid.
SUB_ENDED_PREFIX = "portal:sub-ended:"
NOSID_ENDED_PREFIX = "portal:nosid-ended:"
#: The filesystem index's ends of the subject's sessions (Redis keeps them in the hashes).
SUB_ENDS_PREFIX = "portal:sub-ends:"
JTI_PREFIX = "portal:jti:"
#: Flask-Limiter's counters (see portal.rate_limit_storage).
RATE_LIMIT_PREFIX = "portal:ratelimit"


def subject_tag(sub: str) -> str:
    """The hash tag of a subject: short, fixed-length, and not the subject itself (the tag
    is part of the session cookie)."""
    return hashlib.sha256(sub.encode()).hexdigest()[:16]


def signed_in_id(sub: str, random_part: str) -> str:
    """The id of a signed-in session: ``T.<random>``, random_part from the session interface."""
    return f"{subject_tag(sub)}.{random_part}"


def store_key(session_id: str) -> str:
    """The store key of a session id; a signed-in id's tag becomes a Redis hash tag."""
    tag, dot, rest = session_id.partition(".")
    if dot:
        return f"{SESSION_PREFIX}{{{tag}}}{rest}"
    return SESSION_PREFIX + session_id


def sub_key(sub: str) -> str:
    return f"{SUB_PREFIX}{{{subject_tag(sub)}}}"


def nosid_key(sub: str) -> str:
    return f"{NOSID_PREFIX}{{{subject_tag(sub)}}}"


def sid_key(sid: str, tag: str) -> str:
    return f"{SID_PREFIX}{{{tag}}}{sid}"


def last_sign_in_key(sub: str) -> str:
    return f"{LAST_SIGN_IN_PREFIX}{{{subject_tag(sub)}}}"


def subject_ended_keys(sub: str, *, without_sid: bool) -> list[str]:
    """The markers a new login of ``sub`` must be later than (see SessionIndex)."""
    tag = subject_tag(sub)
    keys = [f"{SUB_ENDED_PREFIX}{{{tag}}}"]
    return keys + ([f"{NOSID_ENDED_PREFIX}{{{tag}}}"] if without_sid else [])


#: The session key under which sessions.py keeps the signed-in state; read here only to
#: compute the storage expiry.
STATE_KEY = "portal"

#: What redis-py raises when Redis cannot answer. A Cluster none of whose nodes answers raises
#: RedisClusterException (or its SlotNotCoveredError), which is not a RedisError.
REDIS_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.RedisError,
    redis.exceptions.RedisClusterException,
)
STORE_ERRORS: tuple[type[Exception], ...] = (*REDIS_ERRORS, OSError)


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

    def _get_store_id(self, sid: str) -> str:
        return store_key(sid)

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

    def rotate(self, session: ServerSideSession, *, sub: str | None = None) -> None:
        """Discard the stored record and give the session a new id, even when it is empty.

        Flask-Session's ``regenerate`` skips empty sessions, but at login the pre-login
        session may already be empty, and its id must still die (session fixation). With
        ``sub`` (at login) the new id carries the subject's tag (see the key layout above).
        """
        try:
            self._delete_session(self._get_store_id(session.sid))  # type: ignore[attr-defined]
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        new_id = self._generate_sid(self.sid_length)  # type: ignore[attr-defined]
        session.sid = signed_in_id(sub, new_id) if sub is not None else new_id
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
            self._drop_if_ended_during_login(session)

    def _drop_if_ended_during_login(self, session: ServerSideSession) -> None:
        """After creating a signed-in record: delete it if a back-channel logout ended it
        while the callback ran, between :func:`portal.sessions.start` and this save.

        ``start`` indexes the session before it is saved, so a logout of that moment found
        its id, deleted a record not yet written, and took the id out of the index: either
        that logout deleted the record, or this check sees that. A logout of the sid leaves
        a tombstone too; one of the subject alone (no sid) or of another sid that also ends
        the subject's sessions without sid leaves only the index, hence both checks.
        """
        state = session.get(STATE_KEY)
        if not isinstance(state, dict) or not isinstance(state.get("sub"), str):
            return
        sid, sub = state.get("sid"), state["sub"]
        issued_at = getattr(session, "login_issued_at", None)
        ended_at = self.index.subject_ended_at(sub, without_sid=not sid)
        if sid and self.index.sid_ended(sid):
            reason = f"back-channel logout for sid_hash={sid_hash(sid)} during login"
        elif not self.index.indexed(session.sid, sid=sid, sub=sub):
            reason = "back-channel logout of the subject during login"
        elif ended_at is not None and issued_at is not None and issued_at <= ended_at:
            reason = "back-channel logout of the subject after this ID token was issued"
        else:
            return
        try:
            self._delete_session(self._get_store_id(session.sid))  # type: ignore[attr-defined]
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        log.warning("session ended at once: %s", reason)


class PortalRedisSessionInterface(_LifetimeBound, RedisSessionInterface):
    def __init__(self, app: Flask, *, client: RedisClient, **options: Any) -> None:
        # RedisSessionInterface.__init__ swaps anything that is not a plain redis.Redis (a
        # RedisCluster) for a client of localhost:6379; its get/set/delete work in every
        # mode, so its own set-up is skipped and the rest of the chain runs as usual.
        self.client = client
        super(RedisSessionInterface, self).__init__(app, **options)
        self.serializer = SessionSerializer()

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
    def add(
        self, session_id: str, *, sid: str | None, sub: str, ends_at: float, now: float
    ) -> None:
        """Index a session until ``ends_at``; a hash's expiry only ever grows. Entries of the
        subject's sessions whose end is past ``now`` go at the same time: without that, a
        customer who signs in at least every 12 hours would keep every id ever indexed (the
        hash's expiry moves with each login), and the ids of sessions that simply ran out
        would pile up there for good."""

    @abstractmethod
    def end_by_sid(
        self, sid: str, *, sub: str | None = None, issued_at: float | None = None
    ) -> int:
        """Delete every portal session of this IdP session at once; return how many.

        Also deletes the sessions of ``sub`` that started without a sid (the IdP's ID token
        had none, so any of them may be this IdP session), and leaves a tombstone for the sid
        and, with ``sub``, a marker: a login of ``sub`` without sid whose ID token was issued
        up to ``issued_at`` (the logout token's iat) starts no session.
        """

    @abstractmethod
    def end_by_sub(self, sub: str, *, issued_at: float | None = None) -> int:
        """Delete every portal session of this subject at once; return how many. Leaves a
        marker: a login of ``sub`` whose ID token was issued up to ``issued_at`` (the logout
        token's iat) starts no session."""

    @abstractmethod
    def subject_ended_at(self, sub: str, *, without_sid: bool) -> float | None:
        """The latest ``issued_at`` of a logout that ended the subject's sessions (those
        without sid too when ``without_sid``), within ``tombstone_ttl``; None when none."""

    @abstractmethod
    def sid_ended(self, sid: str) -> bool:
        """Whether a back-channel logout ended this sid (within ``tombstone_ttl``)."""

    @abstractmethod
    def indexed(self, session_id: str, *, sid: str | None, sub: str) -> bool:
        """Whether the session is still listed under its subject and its sid (or the
        subject's sessions without sid): a logout that ended it took it out of one."""

    @abstractmethod
    def first_auth_time(self, sid: str, auth_time: float, ttl: int, *, sub: str) -> float:
        """The first ``auth_time`` seen for ``sid``; remembers ``auth_time`` (and whose sid
        it is) for ``ttl`` seconds when none is (ttl computed by the caller, as for the index)."""

    @abstractmethod
    def jti_seen(self, jti: str) -> bool:
        """Whether a logout token with this id was applied before (and is still remembered)."""

    @abstractmethod
    def remember_jti(self, jti: str, ttl: int) -> None:
        """Remember an applied logout token id for ``ttl`` seconds."""

    @abstractmethod
    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` when the store cannot be reached."""

    # --- the devices page ----------------------------------------------------------------

    @abstractmethod
    def end_others(self, sub: str, *, keep: str) -> int:
        """Delete every session of the subject but ``keep`` at once, and take them out of
        its sub index; return how many live records were deleted (ids of sessions that had
        expired meanwhile go too, uncounted). Their sid hashes keep the ids, harmlessly (a
        logout of that sid finds no record), until they expire."""

    @abstractmethod
    def records_of(self, sub: str, *, limit: int) -> tuple[dict[str, dict[str, Any]], int]:
        """The stored records of the subject's sessions, by session id, read through its
        sub index (never a scan of the store), and how many ids the index holds.

        At most ``limit`` ids are read (sorted, so the same ones each time). Ids whose record
        is gone (expired, ended) or unreadable are left out; the index keeps them, since a
        login indexes its session before the record is written.
        """

    @abstractmethod
    def end_one(self, session_id: str, *, sub: str, sid: str | None) -> None:
        """Delete one session of this subject and its index entries, in one step.

        As a back-channel logout: the record is deleted, and later saves of a request in
        flight only update a record that still exists, so it cannot come back.
        """

    @abstractmethod
    def swap_last_sign_in(
        self, sub: str, at: int, browser: str, *, ttl: int
    ) -> tuple[int, str] | None:
        """Remember this sign-in of ``sub`` for ``ttl`` seconds; return the one it replaces
        (time, browser label), or None when none is remembered."""


def _oldest(ends: dict[str, Any], count: int, *, keep: str) -> list[str]:
    """The ``count`` session ids with the earliest end (entries without one first: written
    before ends were kept), never ``keep``."""

    def end(item: tuple[str, Any]) -> float:
        try:
            return float(item[1])
        except (TypeError, ValueError):
            return 0.0

    if count <= 0:
        return []
    ordered = sorted((item for item in ends.items() if item[0] != keep), key=end)
    return [session_id for session_id, _ in ordered[:count]]


def _index_keys(sid: str | None, sub: str) -> list[str]:
    return [sub_key(sub), sid_key(sid, subject_tag(sub)) if sid else nosid_key(sub)]


def _logout_keys(sid: str, tag: str, sub: str | None) -> list[str]:
    return [sid_key(sid, tag)] + ([nosid_key(sub)] if sub else [])


# Deletes the sessions read from the index hashes (KEYS[n+1..], ids in ARGV[2..]) and takes
# them out of the hashes (KEYS[1..n]); the hashes go once empty. Every key is declared and all
# share the subject's slot, so the step is atomic and legal in a Redis Cluster. Returns how
# many ids the hashes still hold: sessions that joined between the read and this step.
# The devices page's End runs it for one session, with its sub and sid (or nosid) hashes.
# The "#!lua" line makes Redis 7 refuse a key of another slot even when the same node holds
# it, so a broken layout fails in every test, not only when keys happen to spread out.
_END_SCRIPT = """#!lua
local nsets = tonumber(ARGV[1])
for i = nsets + 1, #KEYS do redis.call('DEL', KEYS[i]) end
local left = 0
for i = 1, nsets do
  for j = 2, #ARGV do redis.call('HDEL', KEYS[i], ARGV[j]) end
  left = left + redis.call('HLEN', KEYS[i])
end
if left == 0 then for i = 1, nsets do redis.call('DEL', KEYS[i]) end end
return left
"""

# Indexes a session (ARGV[1]) with its end (ARGV[2]) in the hashes KEYS (the subject's, and its
# sid's or no-sid one: one slot), drops the entries whose end is past (ARGV[4], the portal's
# clock), and makes each hash live at least ARGV[3] seconds more (never less). Entries written
# before ends were kept (empty values) stay until their hash expires. Returns the size of the
# subject's hash (KEYS[1]), which the caller keeps under MAX_SESSIONS_PER_SUBJECT.
_ADD_SCRIPT = """#!lua
local id, ends, ttl, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 1, #KEYS do
  local entries = redis.call('HGETALL', KEYS[i])
  for j = 1, #entries, 2 do
    local e = tonumber(entries[j + 1])
    if e and e <= now then redis.call('HDEL', KEYS[i], entries[j]) end
  end
  redis.call('HSET', KEYS[i], id, ends)
  if redis.call('TTL', KEYS[i]) < ttl then redis.call('EXPIRE', KEYS[i], ttl) end
end
return redis.call('HLEN', KEYS[1])
"""

# Raises a subject's logout marker (KEYS[1]) to the logout token's iat (ARGV[1]) for ARGV[2]
# seconds, and never lowers it: logout tokens may be processed out of order, and a marker
# lowered by an older token would let a login issued between the two survive the newer one.
_MARK_SCRIPT = """#!lua
local current = tonumber(redis.call('GET', KEYS[1]))
if current == nil or current < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 0
"""

#: Signed-in sessions kept per customer: a sign-in past this many ends the customer's oldest.
#: Each login reads the customer's index entries (in Redis, inside a script that blocks the
#: server meanwhile), and entries stay until their 12-hour bound: without a cap, a loop of
#: silent sign-ins could grow them to tens of thousands and stall Redis for every customer.
MAX_SESSIONS_PER_SUBJECT = 100

#: Rounds of read-then-delete before a logout gives up on sessions still joining its hashes.
_END_ROUNDS = 10


class RedisSessionIndex(SessionIndex):
    """Redis hashes of session ids with expiry (see the key layout above), and plain keys
    per sid (subject tag and first auth_time, tombstone).

    Shared by every portal process that uses the same Redis, standalone, through Sentinel
    or in a Cluster: no command here spans two slots.
    """

    def __init__(self, client: RedisClient, *, tombstone_ttl: int = 43200 + 60) -> None:
        self.client = client
        self.tombstone_ttl = tombstone_ttl
        self._end = client.register_script(_END_SCRIPT)
        self._add = client.register_script(_ADD_SCRIPT)
        self._mark = client.register_script(_MARK_SCRIPT)
        self.max_sessions = MAX_SESSIONS_PER_SUBJECT

    def add(
        self, session_id: str, *, sid: str | None, sub: str, ends_at: float, now: float
    ) -> None:
        ttl = max(1, int(ends_at - now))
        keys = _index_keys(sid, sub)
        try:
            size = self._add(keys=keys, args=[session_id, int(ends_at), ttl, int(now)])
            if size > self.max_sessions:
                entries = self.client.hgetall(keys[0])
                oldest = _oldest(
                    {k.decode(): v.decode() for k, v in entries.items()},
                    size - self.max_sessions,
                    keep=session_id,
                )
                # one step in the subject's slot, as a logout: the records and their entries
                # in the subject's hash and in this sign-in's sid (or no-sid) hash
                self._end(keys=[*keys, *[store_key(i) for i in oldest]], args=[len(keys), *oldest])
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    def end_by_sid(
        self, sid: str, *, sub: str | None = None, issued_at: float | None = None
    ) -> int:
        try:
            # Tombstone first: see _LifetimeBound._drop_if_ended_during_login.
            self.client.set(ENDED_SID_PREFIX + sid, 1, ex=self.tombstone_ttl)
            if sub is not None and issued_at is not None:
                marker = subject_ended_keys(sub, without_sid=True)[1]
                self._mark(keys=[marker], args=[repr(float(issued_at)), self.tombstone_ttl])
            if sub is not None:
                tag = subject_tag(sub)
            else:
                first = self.client.get(SID_FIRST_PREFIX + sid)
                if first is None:
                    return 0
                tag = first.decode().split(" ", 1)[0]
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        return self._run_end(_logout_keys(sid, tag, sub))

    def end_by_sub(self, sub: str, *, issued_at: float | None = None) -> int:
        if issued_at is not None:
            try:  # marker first, as the sid's tombstone
                marker = subject_ended_keys(sub, without_sid=False)[0]
                self._mark(keys=[marker], args=[repr(float(issued_at)), self.tombstone_ttl])
            except STORE_ERRORS as exc:
                raise StoreUnavailable(type(exc).__name__) from exc
        return self._run_end([sub_key(sub)])

    def subject_ended_at(self, sub: str, *, without_sid: bool) -> float | None:
        try:  # one slot: the subject's
            found = self.client.mget(subject_ended_keys(sub, without_sid=without_sid))
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        times = [float(v) for v in found if v is not None]
        return max(times) if times else None

    def _run_end(self, index_keys: list[str]) -> int:
        """Read the hashes, then delete what they list in one script; again while sessions
        joined in between. A logout costs O(sessions it ends), whatever the store holds."""
        ended: set[bytes] = set()
        try:
            for _ in range(_END_ROUNDS):
                with self.client.pipeline(transaction=False) as pipe:
                    for key in index_keys:
                        pipe.hkeys(key)
                    members = sorted(set().union(*pipe.execute()))
                keys = index_keys + [store_key(m.decode()) for m in members]
                left = int(self._end(keys=keys, args=[len(index_keys), *members]))
                ended.update(members)
                if left == 0:
                    return len(ended)
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        log.warning("back-channel logout: sessions kept joining; %d ended", len(ended))
        return len(ended)

    def sid_ended(self, sid: str) -> bool:
        try:
            return bool(self.client.exists(ENDED_SID_PREFIX + sid))
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    def indexed(self, session_id: str, *, sid: str | None, sub: str) -> bool:
        try:
            with self.client.pipeline(transaction=False) as pipe:  # one slot: the subject's
                for key in _index_keys(sid, sub):
                    pipe.hexists(key, session_id)
                return all(pipe.execute())
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    def first_auth_time(self, sid: str, auth_time: float, ttl: int, *, sub: str) -> float:
        value = f"{subject_tag(sub)} {float(auth_time)!r}"
        try:
            # SET NX GET: set if absent and read the previous value, in one command
            first = self.client.set(
                SID_FIRST_PREFIX + sid, value, ex=max(1, ttl), nx=True, get=True
            )
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        return float(first.decode().split(" ", 1)[1]) if first is not None else float(auth_time)

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

    def records_of(self, sub: str, *, limit: int) -> tuple[dict[str, dict[str, Any]], int]:
        try:
            entries = self.client.hgetall(sub_key(sub))
            # the latest ends first: the latest sign-ins (entries without an end, last)
            ids = [
                i.decode() for i, _ in sorted(entries.items(), key=lambda e: (-_end_of(e[1]), e[0]))
            ]
            chosen = ids[:limit]
            # one MGET: the records carry the subject's hash tag, so they share one slot
            raw = self.client.mget([store_key(i) for i in chosen]) if chosen else []
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        return _decoded(chosen, raw), len(ids)

    def end_others(self, sub: str, *, keep: str) -> int:
        key = sub_key(sub)
        try:
            others = sorted(m for m in self.client.hkeys(key) if m.decode() != keep)
            if not others:
                return 0
            records = [store_key(m.decode()) for m in others]
            live = int(self.client.exists(*records))  # one slot: the subject's
            self._end(keys=[key, *records], args=[1, *others])
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        return live

    def end_one(self, session_id: str, *, sub: str, sid: str | None) -> None:
        index_keys = _index_keys(sid, sub)
        try:
            self._end(keys=[*index_keys, store_key(session_id)], args=[len(index_keys), session_id])
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    def swap_last_sign_in(
        self, sub: str, at: int, browser: str, *, ttl: int
    ) -> tuple[int, str] | None:
        try:
            # SET ... GET: write this sign-in and read the previous one in one command
            previous = self.client.set(last_sign_in_key(sub), f"{at} {browser}", ex=ttl, get=True)
        except STORE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        if previous is None:
            return None
        when, _, label = previous.decode(errors="replace").partition(" ")
        return (int(when), label) if when.isdigit() else None


def _end_of(value: bytes) -> float:
    """An index entry's end, 0 for an entry written before ends were kept."""
    try:
        return float(value)
    except ValueError:
        return 0.0


def _decoded(ids: list[str], raw: list[bytes | None]) -> dict[str, dict[str, Any]]:
    records = {}
    for session_id, value in zip(ids, raw, strict=True):
        record = decode_record(value) if value is not None else None
        if record is not None:
            records[session_id] = record
    return records


def _folder_errors_as_unavailable(cls: type) -> type:
    """Every public method of ``cls`` raises :class:`StoreUnavailable` for an OSError of the
    session folder (a full disk, a read-only file system), as the Redis index does for a Redis
    error: a logout that could not be applied answers 503, never 200 or 500."""

    def wrap(method: Any) -> Any:
        @functools.wraps(method)
        def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except OSError as exc:
                raise StoreUnavailable(type(exc).__name__) from exc

        return wrapped

    for name, value in list(vars(cls).items()):
        if callable(value) and not name.startswith("_"):
            setattr(cls, name, wrap(value))
    return cls


@_folder_errors_as_unavailable
class FileSessionIndex(SessionIndex):
    """The same index in the session folder, beside the sessions.

    A process-local lock makes read-modify-write safe within one process; the filesystem
    backend is documented as single-process (use Redis for several).
    """

    def __init__(self, cache: SessionFiles, *, tombstone_ttl: int = 43200 + 60) -> None:
        self.cache = cache
        self.tombstone_ttl = tombstone_ttl
        self._lock = threading.Lock()
        self.max_sessions = MAX_SESSIONS_PER_SUBJECT

    def add(
        self, session_id: str, *, sid: str | None, sub: str, ends_at: float, now: float
    ) -> None:
        ttl = max(1, int(ends_at - now))
        with self._lock:
            # The ends live in a key of their own, so the member lists keep their form.
            ends_key = f"{SUB_ENDS_PREFIX}{{{subject_tag(sub)}}}"
            ends = dict(self.cache.get(ends_key) or {})
            past = {i for i, end in ends.items() if end <= now}
            ends = {i: end for i, end in ends.items() if i not in past}
            ends[session_id] = float(ends_at)
            # past MAX_SESSIONS_PER_SUBJECT, the oldest sign-ins end, as in the Redis index
            oldest = set(_oldest(ends, len(ends) - self.max_sessions, keep=session_id))
            if oldest:
                self.cache.delete_many(*[store_key(i) for i in oldest])
                ends = {i: end for i, end in ends.items() if i not in oldest}
                past |= oldest
            self.cache.set(ends_key, ends, timeout=max(ttl, self._remaining(ends_key)))
            for key in _index_keys(sid, sub):
                members = set(self.cache.get(key) or ()) - past
                members.add(session_id)
                # Keep the later expiry, as Redis does with EXPIRE GT: a later login that
                # ends sooner must not make the set forget the sessions that end later.
                timeout = max(ttl, self._remaining(key))
                self.cache.set(key, sorted(members), timeout=timeout)

    def _mark(self, marker: str, issued_at: float) -> None:
        """Raise, never lower, a subject's logout marker (the Redis index's _MARK_SCRIPT);
        called under the lock."""
        current = self.cache.get(marker)
        if not isinstance(current, int | float) or current < issued_at:
            self.cache.set(marker, issued_at, timeout=self.tombstone_ttl)

    def _remaining(self, key: str) -> int:
        expires = self.cache.expires_at(key)
        if not expires:  # absent (or never expiring, which the index does not write)
            return 0
        return int(expires - time.time())

    def end_by_sid(
        self, sid: str, *, sub: str | None = None, issued_at: float | None = None
    ) -> int:
        with self._lock:
            self.cache.set(ENDED_SID_PREFIX + sid, 1, timeout=self.tombstone_ttl)
            if sub is not None and issued_at is not None:
                self._mark(subject_ended_keys(sub, without_sid=True)[1], float(issued_at))
            if sub is not None:
                tag = subject_tag(sub)
            else:
                first = self.cache.get(SID_FIRST_PREFIX + sid)
                if not isinstance(first, list):
                    return 0
                tag = first[0]
            return self._end(_logout_keys(sid, tag, sub))

    def end_by_sub(self, sub: str, *, issued_at: float | None = None) -> int:
        with self._lock:
            if issued_at is not None:
                self._mark(subject_ended_keys(sub, without_sid=False)[0], float(issued_at))
            return self._end([sub_key(sub)])

    def subject_ended_at(self, sub: str, *, without_sid: bool) -> float | None:
        found = [self.cache.get(k) for k in subject_ended_keys(sub, without_sid=without_sid)]
        times = [float(v) for v in found if isinstance(v, int | float)]
        return max(times) if times else None

    def _end(self, keys: list[str]) -> int:
        ended: set[str] = set()
        for key in keys:
            members = list(self.cache.get(key) or ())
            if members:
                self.cache.delete_many(*[store_key(m) for m in members])
            self.cache.delete(key)
            ended.update(members)
        return len(ended)

    def sid_ended(self, sid: str) -> bool:
        return bool(self.cache.has(ENDED_SID_PREFIX + sid))

    def indexed(self, session_id: str, *, sid: str | None, sub: str) -> bool:
        with self._lock:
            return all(session_id in (self.cache.get(k) or ()) for k in _index_keys(sid, sub))

    def first_auth_time(self, sid: str, auth_time: float, ttl: int, *, sub: str) -> float:
        key = SID_FIRST_PREFIX + sid
        with self._lock:
            first = self.cache.get(key)
            if isinstance(first, list) and len(first) == 2:
                return float(first[1])
            self.cache.set(key, [subject_tag(sub), float(auth_time)], timeout=max(1, ttl))
            return float(auth_time)

    def jti_seen(self, jti: str) -> bool:
        return bool(self.cache.has(JTI_PREFIX + jti))

    def remember_jti(self, jti: str, ttl: int) -> None:
        self.cache.set(JTI_PREFIX + jti, 1, timeout=max(1, ttl))

    def ping(self) -> None:
        """A write and a delete: reads alone still work on a full or read-only disk."""
        try:
            self.cache.set(JTI_PREFIX + "ping", 1, timeout=60)
            self.cache.delete(JTI_PREFIX + "ping")
        except OSError as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    def records_of(self, sub: str, *, limit: int) -> tuple[dict[str, dict[str, Any]], int]:
        ends = self.cache.get(f"{SUB_ENDS_PREFIX}{{{subject_tag(sub)}}}") or {}
        ids = sorted(self.cache.get(sub_key(sub)) or (), key=lambda i: (-ends.get(i, 0.0), i))
        records = {}
        for session_id in ids[:limit]:
            record = self.cache.get(store_key(session_id))
            if isinstance(record, dict):
                records[session_id] = record
        return records, len(ids)

    def end_others(self, sub: str, *, keep: str) -> int:
        key = sub_key(sub)
        with self._lock:
            members = set(self.cache.get(key) or ())
            others = sorted(members - {keep})
            live = sum(1 for m in others if self.cache.has(store_key(m)))
            if others:
                self.cache.delete_many(*[store_key(m) for m in others])
            if keep in members:
                self.cache.set(key, [keep], timeout=max(1, self._remaining(key)))
            else:
                self.cache.delete(key)
        return live

    def end_one(self, session_id: str, *, sub: str, sid: str | None) -> None:
        with self._lock:
            self.cache.delete(store_key(session_id))
            for key in _index_keys(sid, sub):
                members = set(self.cache.get(key) or ())
                members.discard(session_id)
                if members:
                    self.cache.set(key, sorted(members), timeout=max(1, self._remaining(key)))
                else:
                    self.cache.delete(key)

    def swap_last_sign_in(
        self, sub: str, at: int, browser: str, *, ttl: int
    ) -> tuple[int, str] | None:
        key = last_sign_in_key(sub)
        with self._lock:
            previous = self.cache.get(key)
            self.cache.set(key, [at, browser], timeout=ttl)
        if isinstance(previous, list) and len(previous) == 2:
            return int(previous[0]), str(previous[1])
        return None
