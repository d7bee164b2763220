"""devidp/db.py: the database (signing key, TOTP seeds, password hashes) is private to its owner."""

from __future__ import annotations

import os
import stat

import pytest

from devidp import create_app
from devidp import db

from .conftest import make_config


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def usual_umask():
    """The common umask 022, under which files are world-readable unless made otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_folders_the_idp_creates_are_0700(tmp_path):
    path = tmp_path / "instance" / "idp" / "devidp.sqlite3"
    db.init_db(path)
    assert mode(tmp_path / "instance") == 0o700
    assert mode(tmp_path / "instance" / "idp") == 0o700


def test_an_existing_folder_is_left_as_it_is(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    db.init_db(folder / "devidp.sqlite3")
    assert mode(folder) == 0o755


def test_the_database_and_its_wal_files_are_0600(tmp_path, fake_clock):
    path = tmp_path / "devidp.sqlite3"
    app = create_app(make_config(tmp_path, DEVIDP_DATABASE=str(path)))
    assert mode(path) == 0o600
    with app.app_context():  # a request's connection writes: SQLite makes -wal and -shm
        conn = db.get_db()
        conn.execute("UPDATE users SET name = name")
        conn.commit()
        for suffix in ("-wal", "-shm"):
            assert mode(f"{path}{suffix}") == 0o600, suffix


def test_a_world_readable_database_is_made_private_at_start(tmp_path):
    path = tmp_path / "devidp.sqlite3"
    wal = tmp_path / "devidp.sqlite3-wal"
    db.init_db(path)
    conn = db.connect(path)  # kept open, so its -wal file stays
    try:
        conn.execute("INSERT INTO lockouts (key) VALUES ('x')")
        conn.commit()
        for file in (path, wal):
            file.chmod(0o644)  # as made by an earlier version
        db.init_db(path)
        assert mode(path) == 0o600
        assert mode(wal) == 0o600
    finally:
        conn.close()
