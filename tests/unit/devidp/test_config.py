"""devidp/config.py: layered settings, and a clear ConfigError for every bad value."""

from __future__ import annotations

import pytest

from devidp import config
from devidp import create_app
from devidp.config import ConfigError
from tests.support.devidp import to_toml
from tests.support.processes import REPO_ROOT

from .conftest import make_config


def write(tmp_path, document) -> str:
    path = tmp_path / "devidp.toml"
    path.write_text(to_toml(document) if isinstance(document, dict) else document)
    return str(path)


def minimal_file(tmp_path, **idp) -> dict:
    settings = {
        "issuer": "http://127.0.0.1:9000",
        "secret_key": "s",
        "database": str(tmp_path / "db.sqlite3"),
        "password_hash_method": "pbkdf2:sha256:1000",
        **idp,
    }
    return {
        "idp": settings,
        "users": [{"username": "demo", "password": "pw"}],
        "clients": [
            {"client_id": "portal", "client_secret": "x", "redirect_uris": ["http://a.test/cb"]}
        ],
    }


def test_the_file_is_read_and_the_environment_overrides_it(tmp_path, monkeypatch):
    path = write(tmp_path, minimal_file(tmp_path, brand="Acme"))
    monkeypatch.setenv("DEVIDP_CONFIG", path)
    monkeypatch.setenv("DEVIDP_ISSUER", "http://localhost:9100")
    monkeypatch.setenv("DEVIDP_DATABASE", str(tmp_path / "other.sqlite3"))
    settings = create_app().extensions["devidp.settings"]
    assert settings.brand == "Acme"
    assert settings.footer == "Acme Auth · Powered by the development IdP"
    assert settings.issuer == "http://localhost:9100"
    assert settings.database == tmp_path / "other.sqlite3"
    assert settings.clients["portal"].client_name == "portal"
    assert settings.clients["portal"].require_consent is False
    assert settings.users[0].name == "demo"


def test_the_test_mapping_wins_over_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("DEVIDP_ISSUER", "http://localhost:9100")
    app = create_app(make_config(tmp_path, DEVIDP_ISSUER="http://[::1]:9000"))
    assert app.extensions["devidp.settings"].issuer == "http://[::1]:9000"


def repository_settings(environ: dict[str, str]) -> config.Settings:
    mapping = config.read_file(REPO_ROOT / "config" / "devidp.toml", environ)
    return config.parse({**config.DEFAULTS, **mapping})


def test_the_repository_config_file_is_valid():
    settings = repository_settings({})
    assert settings.issuer == "http://127.0.0.1:9000"
    assert settings.users[0].username == "demo"
    portal = settings.clients["portal"]
    assert portal.redirect_uris == ("http://localhost:8000/auth/callback",)
    assert portal.post_logout_redirect_uris == ("http://localhost:8000/logged-out",)
    assert portal.backchannel_logout_uri == "http://localhost:8000/auth/backchannel-logout"


@pytest.mark.parametrize(("value", "port"), [("8001", 8001), ("", 8000), ("  ", 8000)])
def test_the_portal_uris_follow_demo_portal_port(value, port):
    portal = repository_settings({"DEMO_PORTAL_PORT": value}).clients["portal"]
    assert portal.redirect_uris == (f"http://localhost:{port}/auth/callback",)
    assert portal.post_logout_redirect_uris == (f"http://localhost:{port}/logged-out",)
    assert portal.backchannel_logout_uri == f"http://localhost:{port}/auth/backchannel-logout"


def test_create_app_reads_demo_portal_port_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DEVIDP_CONFIG", str(REPO_ROOT / "config" / "devidp.toml"))
    monkeypatch.setenv("DEVIDP_DATABASE", str(tmp_path / "devidp.sqlite3"))
    monkeypatch.setenv("DEMO_PORTAL_PORT", "8001")
    portal = create_app().extensions["devidp.settings"].clients["portal"]
    assert portal.redirect_uris == ("http://localhost:8001/auth/callback",)


@pytest.mark.parametrize("value", ["abc", "80a", "0", "65536", "-1", "８００１"])
def test_a_bad_demo_portal_port_is_named(value):
    with pytest.raises(ConfigError) as caught:
        repository_settings({"DEMO_PORTAL_PORT": value})
    assert str(caught.value).startswith("DEMO_PORTAL_PORT must be a port number")


def test_demo_portal_port_is_only_read_where_the_placeholder_is_used(tmp_path):
    mapping = config.read_file(write(tmp_path, minimal_file(tmp_path)), {"DEMO_PORTAL_PORT": "x"})
    assert mapping["DEVIDP_CLIENTS"][0]["redirect_uris"] == ["http://a.test/cb"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DEVIDP_ISSUER": "http://idp.example.com"}, "http on a non-loopback host"),
        ({"DEVIDP_ISSUER": "http://127.0.0.1:9000/"}, "must not end with a slash"),
        ({"DEVIDP_ISSUER": "ftp://127.0.0.1"}, "absolute http(s) URL"),
        ({"DEVIDP_ISSUER": "https://idp.example.com?x=1"}, "query or a fragment"),
        ({"SECRET_KEY": ""}, "secret_key is required"),
        (
            {"DEVIDP_ISSUER": "https://idp.example.com", "SECRET_KEY": "dev-only-change-me"},
            "development value",
        ),
        ({"DEVIDP_SSO_SESSION_SECONDS": 0}, "sso_session_seconds"),
        ({"DEVIDP_SSO_SESSION_SECONDS": "43200"}, "sso_session_seconds"),
        ({"DEVIDP_ENROLMENT_AMR": "some"}, "enrolment_amr must be one of"),
        ({"DEVIDP_SKIP_TOTP": "yes"}, "skip_totp must be true or false"),
        ({"DEVIDP_PASSWORD_HASH_METHOD": "md5-please"}, "password_hash_method"),
        ({"DEVIDP_USERS": [{"username": "x"}]}, "password is required"),
        ({"DEVIDP_USERS": [{"username": "x", "password": "y", "role": "z"}]}, "unknown key"),
        ({"DEVIDP_USERS": [{"username": "u" * 151, "password": "y"}]}, "longer than 150"),
        (
            {"DEVIDP_CLIENTS": [{"client_id": "c", "redirect_uris": ["http://a/cb"]}]},
            "client_secret",
        ),
        (
            {"DEVIDP_CLIENTS": [{"client_id": "c", "client_secret": "s", "redirect_uris": []}]},
            "at least one URI",
        ),
        (
            {
                "DEVIDP_CLIENTS": [
                    {"client_id": "c", "client_secret": "s", "redirect_uris": ["/cb"]}
                ]
            },
            "not an absolute http(s) URI",
        ),
        (
            {
                "DEVIDP_CLIENTS": [
                    {"client_id": "c", "client_secret": "s", "redirect_uris": ["http://a/cb"]},
                    {"client_id": "c", "client_secret": "t", "redirect_uris": ["http://b/cb"]},
                ]
            },
            "listed twice",
        ),
    ],
)
def test_bad_settings_are_refused_with_the_key_named(tmp_path, overrides, message):
    with pytest.raises(ConfigError) as caught:
        create_app(make_config(tmp_path, **overrides))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[idp\nissuer = 1", "not valid TOML"),
        ("[idp]\nissuerr = 'http://127.0.0.1'\n", "unknown key [idp] 'issuerr'"),
        ("[server]\nport = 1\n", "unknown section 'server'"),
    ],
)
def test_bad_files_are_refused(tmp_path, monkeypatch, content, message):
    monkeypatch.setenv("DEVIDP_CONFIG", write(tmp_path, content))
    with pytest.raises(ConfigError) as caught:
        create_app()
    assert message in str(caught.value)


def test_a_missing_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("DEVIDP_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="nope.toml not found"):
        create_app()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.0.0.2"])
def test_http_is_allowed_on_loopback(tmp_path, host):
    create_app(make_config(tmp_path, DEVIDP_ISSUER=f"http://{host}:9000"))
