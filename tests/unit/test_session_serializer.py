"""Session records are MessagePack: a pickle planted in the store is refused, never run."""

from __future__ import annotations

import logging
import pickle
import struct

import msgspec
import pytest
import redis

from portal.session_store import SESSION_PREFIX
from portal.session_store import store_key
from tests.support.session_app import login
from tests.support.session_app import session_app

#: Calls made by unpickling :class:`Planted`; stays empty while no pickle is ever loaded.
RAN: list[str] = []


def record_run(what: str) -> None:
    RAN.append(what)


class Planted:
    """What an attacker with write access to the store would plant: unpickling runs code."""

    def __reduce__(self):
        return (record_run, ("code ran while loading a session",))


PLANTED_ID = "planted-session-id-0123456789abcdef"


@pytest.fixture(params=["redis", "filesystem"])
def backend(request):
    return request.param


@pytest.fixture
def app(tmp_path, backend, mock_idp, request):
    url = request.getfixturevalue("redis_url") if backend == "redis" else None
    return session_app(mock_idp, tmp_path, backend, url)


def plant(app, backend: str, payload: bytes) -> None:
    key = SESSION_PREFIX + PLANTED_ID
    if backend == "redis":
        url = app.extensions["portal.settings"].redis_url
        with redis.Redis.from_url(url) as store:
            store.set(key, payload, ex=600)
    else:
        # cachelib's layout: a 4-byte expiry (0 = never), then the value
        path = app.session_interface.cache._get_filename(key)
        with open(path, "wb") as f:
            f.write(struct.pack("I", 0) + payload)


def stored(app, backend: str, client, *, replace: bytes | None = None) -> bytes:
    """The stored record of ``client``'s session, as bytes; with ``replace``, written instead
    (its expiry kept)."""
    key = store_key(client.get_cookie("portal_session").value)
    if backend == "redis":
        url = app.extensions["portal.settings"].redis_url
        with redis.Redis.from_url(url) as store:
            if replace is not None:
                store.set(key, replace, keepttl=True)
            return store.get(key)
    path = app.session_interface.cache._get_filename(key)
    if replace is not None:
        with open(path, "r+b") as f:
            f.seek(4)  # after cachelib's expiry header
            f.write(replace)
            f.truncate()
    with open(path, "rb") as f:
        return f.read()[4:]


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_planted_pickle_is_refused_and_never_run(app, backend, protocol, caplog):
    RAN.clear()
    plant(app, backend, pickle.dumps(Planted(), protocol=protocol))
    client = app.test_client()
    client.set_cookie("portal_session", PLANTED_ID)
    with caplog.at_level(logging.WARNING, logger="portal.sessions"):
        response = client.get("/account")
    assert RAN == []
    assert response.status_code == 302  # treated as no session: off to Login
    assert response.headers["Location"].startswith("/login")
    assert "session record refused" in caplog.text or "stored value refused" in caplog.text


def test_planted_messagepack_that_is_not_a_map_is_refused(app, backend, caplog):
    plant(app, backend, msgspec.msgpack.encode(["not", "a", "session"]))
    client = app.test_client()
    client.set_cookie("portal_session", PLANTED_ID)
    with caplog.at_level(logging.WARNING, logger="portal.sessions"):
        assert client.get("/account").status_code == 302
    assert "session record refused" in caplog.text


def test_a_signed_in_session_is_stored_as_messagepack(app, backend, mock_idp):
    idp = mock_idp
    client = app.test_client()
    login(client, idp)
    record = msgspec.msgpack.decode(stored(app, backend, client))
    assert record["portal"]["sub"] == "user-123"
    assert record["portal"]["amr"] == ["pwd", "otp", "mfa"]
    assert client.get("/account").status_code == 200


def test_planted_messagepack_nested_too_deep_is_refused(app, backend, caplog):
    deep = b"\x91" * 100_000 + b"\xc0"  # a list in a list ... : msgspec's decoder recurses
    plant(app, backend, b"\x81\xa6portal" + deep)
    client = app.test_client()
    client.set_cookie("portal_session", PLANTED_ID)
    with caplog.at_level(logging.WARNING, logger="portal.sessions"):
        assert client.get("/account").status_code == 302
    assert "refused" in caplog.text


@pytest.mark.parametrize(
    "field",
    [
        {"ends_at": "x"},
        {"last_seen": None},
        {"sub": 7},
        {"amr": [1, 2]},
        {"groups": "admins"},
        {"network": "text"},
    ],
    ids=lambda field: next(iter(field)),
)
def test_a_record_with_a_field_of_the_wrong_type_is_no_session(app, backend, mock_idp, field):
    """A corrupt or planted record must read as "no session" (off to Login), not fail later
    in a comparison or on a page (a 500)."""
    client = app.test_client()
    login(client, mock_idp)
    record = msgspec.msgpack.decode(stored(app, backend, client))
    record["portal"].update(field)
    stored(app, backend, client, replace=msgspec.msgpack.encode(record))
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
