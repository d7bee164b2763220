"""devidp/cli.py: the admin commands, and one-line errors without tracebacks."""

from __future__ import annotations

import pytest

from devidp import clock
from devidp import create_app
from devidp import db
from devidp import sso
from devidp import totp
from devidp import users
from devidp.cli import main
from tests.support.devidp import portal_client
from tests.support.devidp import write_config


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    path = tmp_path / "devidp.toml"
    write_config(
        path,
        issuer="http://127.0.0.1:9000",
        db_path=tmp_path / "devidp.sqlite3",
        clients=[portal_client("http://127.0.0.1:1", "secret")],
        users=[{"username": "demo", "password": "pw", "name": "Demo", "email": "d@x.test"}],
    )
    monkeypatch.setenv("DEVIDP_CONFIG", str(path))
    return path


def test_add_user_then_log_in_with_the_password(config_file, capsys):
    assert main(["add-user", "alice", "--password", "pw-a", "--name", "Alice"]) == 0
    assert "added user alice" in capsys.readouterr().out
    app = create_app()
    with app.app_context():
        user = users.authenticate(db.get_db(), "alice", "pw-a", hash_method="pbkdf2:sha256:1000")
        assert user is not None and user.name == "Alice"


def test_add_user_refuses_a_taken_username(config_file, capsys):
    assert main(["add-user", "demo", "--password", "x"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "devidp: error: user 'demo' already exists"


def test_add_user_refuses_a_username_longer_than_150_characters(config_file, capsys):
    assert main(["add-user", "u" * 151, "--password", "x"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "devidp: error: the username is longer than 150 characters"


def test_reset_totp_removes_the_device(config_file, capsys):
    app = create_app()
    with app.app_context():
        conn = db.get_db()
        user = users.find_by_username(conn, "demo")
        totp.confirm_device(conn, user.id, totp.new_secret(), 1, clock.now())
    assert main(["reset-totp", "demo"]) == 0
    assert "removed the TOTP device of demo" in capsys.readouterr().out
    with app.app_context():
        assert totp.get_device(db.get_db(), user.id) is None


def test_end_sessions_ends_every_live_session(config_file, capsys):
    app = create_app()
    with app.app_context():
        conn = db.get_db()
        user = users.find_by_username(conn, "demo")
        for _ in range(2):
            sso.create(conn, user_id=user.id, amr=["pwd"], now=clock.now(), lifetime=60)
    assert main(["end-sessions", "demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("ended SSO session") == 2
    assert "no client to notify" in out
    with app.app_context():
        assert sso.live_for_user(db.get_db(), user.id, clock.now()) == []
    assert main(["end-sessions", "demo"]) == 0
    assert "has no live SSO session" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["reset-totp", "end-sessions"])
def test_unknown_users_are_named(config_file, capsys, command):
    assert main([command, "nobody"]) == 2
    assert capsys.readouterr().err.strip() == "devidp: error: no user named 'nobody'"


def test_bad_config_is_one_line_and_no_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEVIDP_CONFIG", str(tmp_path / "missing.toml"))
    assert main(["reset-totp", "demo"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "missing.toml not found" in err


def test_run_refuses_a_public_host_without_public(config_file, capsys):
    assert main(["run", "--host", "192.0.2.1"]) == 2
    assert "--public" in capsys.readouterr().err
