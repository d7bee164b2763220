"""The file backend on a disk that fails writes and deletes (full, or remounted read-only).

cachelib only logs such failures; unchecked, a back-channel logout answered 200 having deleted
nothing, so the customer stayed signed in, and /readyz said ready. They are store outages, as
with Redis: 503, and the session is not reported ended.
"""

from __future__ import annotations

import errno
import os
import tempfile

import pytest

from tests.support.session_app import backchannel
from tests.support.session_app import login
from tests.support.session_app import session_app


@pytest.fixture
def app(tmp_path, mock_idp):
    return session_app(mock_idp, tmp_path, "filesystem")


@pytest.fixture
def read_only(monkeypatch):
    """From now on every file write and delete fails as on a read-only file system (root, who
    runs CI, is not stopped by permissions, so the system calls themselves fail here)."""

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    def start() -> None:
        monkeypatch.setattr(os, "remove", refuse)
        monkeypatch.setattr(tempfile, "mkstemp", refuse)

    return start


def test_a_logout_that_cannot_delete_answers_503_not_200(app, mock_idp, read_only):
    client = app.test_client()
    login(client, mock_idp, sid="sid-ro")
    read_only()
    response = backchannel(app.test_client(), mock_idp, sid="sid-ro")
    assert response.status_code == 503
    assert response.get_json()["error"] == "temporarily_unavailable"


def test_readyz_says_the_store_is_unavailable(app, read_only):
    assert app.test_client().get("/readyz").status_code == 200
    read_only()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503


def test_a_page_that_must_write_the_session_answers_503(app, mock_idp, read_only, portal_clock):
    client = app.test_client()
    login(client, mock_idp)
    read_only()
    portal_clock.advance(60)  # the next view writes the session's activity
    assert client.get("/account").status_code == 503
