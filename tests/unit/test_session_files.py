"""The filesystem backend: no folder scan per write, expired files swept a few at a time,
and a private folder (PORTAL_SESSION_DIR) or no start at all."""

from __future__ import annotations

import os
import stat
import struct
import time

import pytest

from portal.session_files import SWEEP_BATCH
from portal.session_files import SessionFiles
from portal.session_files import prepare_session_dir
from portal.settings import SettingsError
from tests.support.session_app import login
from tests.support.session_app import session_app
from tests.support.session_app import signed_in


def fill(folder, how_many: int, *, expires: int) -> None:
    """``how_many`` cache files in cachelib's layout (links to one file: creating 10,000
    files takes seconds on some disks, linking them a fraction of that)."""
    folder.mkdir(mode=0o700, exist_ok=True)
    model = folder.parent / "model-entry"
    model.write_bytes(struct.pack("I", expires) + b"\x80")  # expiry, then an empty map
    for n in range(how_many):
        os.link(model, folder / f"{n:064x}")


def test_a_login_never_scans_the_folder_however_many_sessions_it_holds(
    tmp_path, mock_idp, monkeypatch
):
    """cachelib lists and opens every file per write above its threshold (10,000 here
    before): a login went from 4 ms to 524 ms. Counted, not timed."""
    fill(tmp_path / "sessions", 10_050, expires=int(time.time()) + 3600)
    app = session_app(mock_idp, tmp_path, "filesystem")
    listings = []
    real_listdir, real_scandir = os.listdir, os.scandir
    monkeypatch.setattr(os, "listdir", lambda p=".": listings.append(p) or real_listdir(p))
    monkeypatch.setattr(os, "scandir", lambda p=".": listings.append(p) or real_scandir(p))
    opened = []
    monkeypatch.setattr(
        SessionFiles,
        "_remove_if_expired",
        lambda self, name, real=SessionFiles._remove_if_expired: (
            opened.append(name) or real(self, name)
        ),
    )
    client = app.test_client()
    login(client, mock_idp)
    assert signed_in(client)
    folder_listings = [p for p in listings if str(p) == str(tmp_path / "sessions")]
    assert len(folder_listings) <= 1  # at most the opening of the sweep's pass
    # pre-login session, sid and sub sets and their sessions' ends, sid owner, first
    # auth_time, session: a handful
    writes = 8
    assert len(opened) <= writes * SWEEP_BATCH


def test_expired_files_are_removed_a_few_per_write(tmp_path):
    folder = tmp_path / "sessions"
    fill(folder, 100, expires=int(time.time()) - 10)
    files = SessionFiles(folder)
    files.set("live", {"a": 1}, timeout=600)
    # the write looked at SWEEP_BATCH files (one of them perhaps its own, which is live)
    assert 100 - SWEEP_BATCH <= len(os.listdir(folder)) - 1 <= 100 - SWEEP_BATCH + 1
    for n in range(100 // SWEEP_BATCH + 2):
        files.set(f"k{n}", n, timeout=600)
    left = {name for name in os.listdir(folder)}
    assert len(left) == 1 + 100 // SWEEP_BATCH + 2  # only the live entries
    assert files.get("live") == {"a": 1}


def test_sweep_keeps_live_and_never_expiring_files(tmp_path):
    files = SessionFiles(tmp_path / "sessions")
    files.set("forever", 1, timeout=0)
    files.set("soon", 2, timeout=5)
    assert files.sweep(100) == 2
    assert files.get("forever") == 1 and files.get("soon") == 2


def test_absent_folder_is_created_private(tmp_path):
    folder = tmp_path / "a" / "sessions"
    old = os.umask(0)
    try:
        prepare_session_dir(folder)
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_an_owned_private_folder_is_accepted(tmp_path):
    folder = tmp_path / "sessions"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)  # noqa: S103  # readable by others is fine: each file is 0600
    assert prepare_session_dir(folder) == folder


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777, 0o1777])
def test_a_folder_writable_by_others_stops_start_up(tmp_path, mock_idp, mode):
    folder = tmp_path / "sessions"
    folder.mkdir()
    os.chmod(folder, mode)  # noqa: S103
    with pytest.raises(SettingsError) as refused:
        session_app(mock_idp, tmp_path, "filesystem", PORTAL_SESSION_DIR=str(folder))
    line = str(refused.value)
    assert line.startswith("PORTAL_SESSION_DIR:")
    assert "\n" not in line
    assert f"{mode & 0o7777:04o}" in line


def test_a_folder_of_another_user_stops_start_up(tmp_path, mock_idp, monkeypatch):
    folder = tmp_path / "sessions"
    folder.mkdir(mode=0o700)
    owner = folder.stat().st_uid
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1)  # the portal runs as someone else
    with pytest.raises(SettingsError, match="^PORTAL_SESSION_DIR: .*owned by uid"):
        session_app(mock_idp, tmp_path, "filesystem", PORTAL_SESSION_DIR=str(folder))


def test_a_file_instead_of_a_folder_stops_start_up(tmp_path, mock_idp):
    path = tmp_path / "sessions"
    path.write_text("")
    with pytest.raises(SettingsError, match="^PORTAL_SESSION_DIR: .*not a folder"):
        session_app(mock_idp, tmp_path, "filesystem", PORTAL_SESSION_DIR=str(path))
