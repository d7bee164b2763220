"""devidp/exposure.py and ``devidp run``: the shipped credentials never serve other machines."""

from __future__ import annotations

import secrets
import tomllib

import pytest

from devidp import cli
from devidp import exposure
from tests.support.devidp import portal_client
from tests.support.devidp import write_config
from tests.support.processes import REPO_ROOT

STRONG_KEY = "Qm8v2kT1xZp0yR7wNc4aLs9dUe3hGj6f"
SHIPPED_FILE = REPO_ROOT / "config" / "devidp.toml"


@pytest.fixture
def served(monkeypatch):
    """Calls of werkzeug's run_simple: the IdP would have started serving."""
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(cli, "run_simple", lambda host, port, *a, **kw: calls.append((host, port)))
    return calls


def configure(tmp_path, monkeypatch, *, secret_key, password, client_secret, issuer=None):
    path = tmp_path / "devidp.toml"
    write_config(
        path,
        issuer=issuer or "http://127.0.0.1:9000",
        db_path=tmp_path / "devidp.sqlite3",
        clients=[portal_client("https://portal.example.com", client_secret)],
        users=[{"username": "demo", "password": password, "name": "Demo", "email": ""}],
        idp={"secret_key": secret_key},
    )
    monkeypatch.setenv("DEVIDP_CONFIG", str(path))


def shipped(tmp_path, monkeypatch, **changes):
    values = {
        "secret_key": exposure.SHIPPED_SECRET_KEY,
        "password": exposure.SHIPPED_PASSWORD,
        "client_secret": exposure.SHIPPED_CLIENT_SECRET,
        **changes,
    }
    configure(tmp_path, monkeypatch, **values)


def test_the_constants_are_the_values_the_repository_ships():
    data = tomllib.loads(SHIPPED_FILE.read_text())
    assert data["idp"]["secret_key"] == exposure.SHIPPED_SECRET_KEY
    assert data["users"][0]["username"] == exposure.SHIPPED_USER
    assert data["users"][0]["password"] == exposure.SHIPPED_PASSWORD
    assert data["clients"][0]["client_secret"] == exposure.SHIPPED_CLIENT_SECRET


def test_the_shipped_file_cannot_serve_other_machines(tmp_path, monkeypatch, served, capsys):
    monkeypatch.setenv("DEVIDP_CONFIG", str(SHIPPED_FILE))
    monkeypatch.setenv("DEVIDP_DATABASE", str(tmp_path / "devidp.sqlite3"))
    assert cli.main(["run", "--host", "0.0.0.0", "--public"]) == 2  # noqa: S104
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("devidp: error: refusing to serve on 0.0.0.0 with the development")
    assert "secret_key" in err
    assert "password of user 'demo' (devidp set-password demo)" in err
    assert "client_secret of client 'portal'" in err
    assert served == []


def test_the_shipped_file_serves_loopback_as_before(tmp_path, monkeypatch, served):
    monkeypatch.setenv("DEVIDP_CONFIG", str(SHIPPED_FILE))
    monkeypatch.setenv("DEVIDP_DATABASE", str(tmp_path / "devidp.sqlite3"))
    assert cli.main(["run", "--port", "9123"]) == 0
    assert served == [("127.0.0.1", 9123)]


@pytest.mark.parametrize(
    ("changes", "still_named"),
    [
        ({"password": "another-password"}, ["secret_key", "client_secret"]),
        ({"secret_key": STRONG_KEY}, ["user 'demo'", "client_secret"]),
        ({"client_secret": "another-secret"}, ["secret_key", "user 'demo'"]),
        ({"secret_key": "x" * 64, "password": "p", "client_secret": "s"}, ["secret_key"]),
    ],
)
def test_each_shipped_credential_left_is_named(
    tmp_path, monkeypatch, served, capsys, changes, still_named
):
    shipped(tmp_path, monkeypatch, **changes)
    assert cli.main(["run", "--host", "192.0.2.1", "--public"]) == 2
    err = capsys.readouterr().err
    for name in still_named:
        assert name in err
    named = sum(err.count(item) for item in ("set [idp]", "change the password", "change client"))
    assert named == len(still_named)
    assert served == []


def test_all_changed_serves_other_machines(tmp_path, monkeypatch, served):
    configure(tmp_path, monkeypatch, secret_key=STRONG_KEY, password="p-1", client_secret="s-1")
    assert cli.main(["run", "--host", "0.0.0.0", "--public", "--port", "9000"]) == 0  # noqa: S104
    assert served == [("0.0.0.0", 9000)]  # noqa: S104


def test_a_public_issuer_behind_a_proxy_counts_as_exposed(tmp_path, monkeypatch, served, capsys):
    shipped(tmp_path, monkeypatch, secret_key=STRONG_KEY, issuer="https://idp.example.com")
    assert cli.main(["run"]) == 2
    assert "refusing to serve as https://idp.example.com" in capsys.readouterr().err
    assert served == []


def test_set_password_clears_the_shipped_password(tmp_path, monkeypatch, served, capsys):
    shipped(tmp_path, monkeypatch, secret_key=STRONG_KEY, client_secret="s-1")
    assert cli.main(["run", "--host", "0.0.0.0", "--public"]) == 2  # noqa: S104
    assert cli.main(["set-password", "demo", "--password", "a-new-one"]) == 0
    assert "set a new password for demo" in capsys.readouterr().out
    assert cli.main(["run", "--host", "0.0.0.0", "--public"]) == 0  # noqa: S104
    assert len(served) == 1


def test_set_password_names_an_unknown_user(tmp_path, monkeypatch, capsys):
    shipped(tmp_path, monkeypatch)
    assert cli.main(["set-password", "nobody", "--password", "x"]) == 2
    assert capsys.readouterr().err.strip() == "devidp: error: no user named 'nobody'"


@pytest.mark.parametrize(
    ("key", "strong"),
    [
        (secrets.token_urlsafe(32), True),
        (secrets.token_hex(32), True),
        (STRONG_KEY, True),
        ("dev-only-change-me", False),
        ("dev-only-change-me" * 2, False),  # long enough, but a block repeated
        ("a" * 64, False),
        ("changemechangemechangemechangeme!", False),  # too few distinct characters
        ("Qm8v2kT1xZp0yR7wNc4aLs9dUe3hGj6", False),  # 31 characters
    ],
)
def test_secret_key_strength(key, strong):
    assert exposure.secret_key_is_strong(key) is strong
