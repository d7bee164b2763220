"""How session records are written to the store: MessagePack only, never pickle.

Flask-Session 0.8's ``MsgSpecSerializer`` tries msgpack, then JSON, then ``pickle.loads``
(a compatibility fallback for records written by older versions), and cachelib's
``FileSystemCache`` pickles every value. Unpickling runs whatever the data asks for, so
anyone who can write one key to Redis, or one file to the session folder, would run code in
the portal. Everything the portal stores is plain data (strings, numbers, booleans, lists and
string-keyed maps: the signed-in state, Authlib's login states, the CSRF token, index sets),
so MessagePack via msgspec, the library Flask-Session already uses, covers it; tuples come
back as lists, which :class:`portal.sessions.PortalSession` turns back into tuples.

A record that is not MessagePack (planted, corrupt, or pickled by an older version) is
refused: logged once per read and treated as absent, so the browser starts a new session.
"""

from __future__ import annotations

import logging
from typing import IO
from typing import Any

import msgspec
from cachelib.serializers import BaseSerializer
from flask_session.base import Serializer
from flask_session.base import ServerSideSession

log = logging.getLogger("portal.sessions")

_encoder = msgspec.msgpack.Encoder()
_any_decoder = msgspec.msgpack.Decoder()
_session_decoder = msgspec.msgpack.Decoder(type=dict[str, Any])


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


def decode_record(data: bytes) -> dict[str, Any] | None:
    """A session record (a string-keyed map), or None (logged) when it is anything else."""
    try:
        return _session_decoder.decode(data)
    except (msgspec.DecodeError, RecursionError):  # nesting too deep: also refused
        log.warning("session record refused: not a MessagePack map (tampered, corrupt or old)")
        return None


def decode_value(data: bytes) -> Any:
    """Any stored value (a session, an index set, a marker), or None (logged) when unreadable."""
    try:
        return _any_decoder.decode(data)
    except (msgspec.DecodeError, RecursionError):  # nesting too deep: also refused
        log.warning("stored value refused: not MessagePack (tampered, corrupt or old)")
        return None


class SessionSerializer(Serializer):
    """Flask-Session's serializer interface without the pickle fallback (Redis backend)."""

    def encode(self, session: ServerSideSession) -> bytes:
        return encode(dict(session))

    def decode(self, serialized_data: bytes) -> dict[str, Any] | None:  # type: ignore[override]
        # None means "no session": Flask-Session's open_session then starts a fresh one.
        return decode_record(serialized_data)


class FileSerializer(BaseSerializer):
    """cachelib's file serializer interface, MessagePack instead of pickle (files backend)."""

    def dump(self, value: Any, f: IO[bytes], *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        f.write(encode(value))

    def load(self, f: IO[bytes], *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return decode_value(f.read())
