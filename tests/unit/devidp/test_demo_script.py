"""scripts/demo.py: the ports it reads, and the portal's port passed on to the dev IdP."""

from __future__ import annotations

import importlib.util

import pytest

from devidp import config
from tests.support.processes import REPO_ROOT


@pytest.fixture(scope="module")
def demo():
    spec = importlib.util.spec_from_file_location("demo_script", REPO_ROOT / "scripts" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("environ", "port"), [({}, 8000), ({"DEMO_PORTAL_PORT": ""}, 8000)])
def test_unset_or_empty_ports_take_the_default(demo, environ, port):
    assert demo.read_port(environ, "DEMO_PORTAL_PORT", 8000) == port


@pytest.mark.parametrize("value", ["abc", "0", "70000"])
def test_a_bad_port_stops_the_demo_naming_the_variable(demo, value):
    with pytest.raises(SystemExit) as caught:
        demo.read_port({"DEMO_PORTAL_PORT": value}, "DEMO_PORTAL_PORT", 8000)
    assert str(caught.value).startswith("demo: DEMO_PORTAL_PORT must be a port number")


def test_the_idp_is_given_the_portal_port(demo):
    config_path = REPO_ROOT / "config" / "devidp.toml"
    env = demo.idp_environment({"DEMO_PORTAL_PORT": "8000"}, config_path, 9100, 8001)
    assert env["DEVIDP_ISSUER"] == "http://127.0.0.1:9100"
    assert env["DEVIDP_CONFIG"] == str(config_path)
    # What the IdP then registers for the portal, from the repository's config file:
    clients = config.read_file(config_path, env)["DEVIDP_CLIENTS"]
    portal = next(c for c in clients if c["client_id"] == "portal")
    assert portal["redirect_uris"] == ["http://localhost:8001/auth/callback"]
    assert portal["backchannel_logout_uri"] == "http://localhost:8001/auth/backchannel-logout"


def test_the_demo_writes_its_portal_settings_for_portal_check(demo, tmp_path):
    from portal.settings import Settings

    env = {
        "PORTAL_OIDC_ISSUER": "http://127.0.0.1:9000",
        "PORTAL_OIDC_CLIENT_ID": "portal",
        "PORTAL_OIDC_CLIENT_SECRET": "demo-portal-secret-change-me",
        "PORTAL_BASE_URL": "http://localhost:8000",
        "PORTAL_SECRET_KEY": "k" + "0123456789abcdef" * 3,
        "PORTAL_SSO_NAME": "Example Business Auth",
        "PORTAL_SESSION_DIR": str(tmp_path / "sessions"),
    }
    path = tmp_path / "portal.env"
    path.write_text("stale")
    demo.write_env_file(path, env)
    assert path.stat().st_mode & 0o777 == 0o600  # it holds the secret key
    settings = Settings.from_env({"PORTAL_ENV_FILE": str(path)})
    assert (settings.sso_name, settings.client_secret) == (
        "Example Business Auth",
        env["PORTAL_OIDC_CLIENT_SECRET"],
    )
    assert settings.secret_key == env["PORTAL_SECRET_KEY"]
