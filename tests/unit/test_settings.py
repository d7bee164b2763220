"""portal/settings.py: every setting read, checked and named when wrong."""

from __future__ import annotations

import subprocess
import sys

import pytest

from portal.settings import Settings
from portal.settings import SettingsError
from tests.support.portal_env import portal_env
from tests.support.processes import REPO_ROOT


def test_defaults(tmp_path):
    s = Settings.from_env(portal_env(tmp_path))
    assert s.session_backend == "filesystem"
    assert s.sso_max_age == 43200
    assert s.idle_timeout == 3600
    assert s.require_mfa is True
    assert s.mfa_amr == ("otp", "mfa")
    assert s.clock_skew == 60
    assert s.id_token_algorithms == ("RS256", "ES256")
    assert s.redirect_uri == "http://127.0.0.1:8888/auth/callback"
    assert s.post_logout_redirect_uri == "http://127.0.0.1:8888/logged-out"
    assert s.backchannel_logout_uri == "http://127.0.0.1:8888/auth/backchannel-logout"
    assert s.sso_name == "127.0.0.1"
    assert s.secure_cookies is False


def test_authentik_issuer_keeps_its_trailing_slash(tmp_path):
    env = portal_env(
        tmp_path,
        PORTAL_OIDC_ISSUER="https://auth.example.com/application/o/portal/",
        PORTAL_BASE_URL="https://portal.example.com",
        PORTAL_PROVIDER_PRESET="authentik",
    )
    s = Settings.from_env(env)
    assert s.issuer == "https://auth.example.com/application/o/portal/"
    assert (
        s.discovery_url
        == "https://auth.example.com/application/o/portal/.well-known/openid-configuration"
    )
    assert s.mfa_amr == ("mfa",)
    assert s.secure_cookies is True


def test_keycloak_preset(tmp_path):
    s = Settings.from_env(
        portal_env(tmp_path, PORTAL_PROVIDER_PRESET="keycloak", PORTAL_MFA_ACR="gold")
    )
    assert s.mfa_amr == ("otp",)
    assert s.mfa_acr == ("gold",)


BAD = [
    ("PORTAL_OIDC_ISSUER", "", "PORTAL_OIDC_ISSUER"),
    ("PORTAL_OIDC_ISSUER", "http://idp.example.com", "https"),
    ("PORTAL_OIDC_ISSUER", "not a url", "PORTAL_OIDC_ISSUER"),
    ("PORTAL_OIDC_CLIENT_ID", "", "PORTAL_OIDC_CLIENT_ID"),
    ("PORTAL_OIDC_CLIENT_SECRET", "", "PORTAL_OIDC_CLIENT_SECRET"),
    ("PORTAL_BASE_URL", "http://portal.example.com", "https"),
    ("PORTAL_BASE_URL", "https://portal.example.com/sub", "without a path"),
    ("PORTAL_SECRET_KEY", "short", "32 characters"),
    ("PORTAL_SESSION_BACKEND", "memcached", "'redis' or 'filesystem'"),
    ("PORTAL_REDIS_URL", "http://127.0.0.1", "redis://"),
    ("PORTAL_REDIS_URL", "redis+sentinel://h1:26379", "<master name>"),
    ("PORTAL_REDIS_URL", "redis+cluster://h1", "host:port"),
    ("PORTAL_SSO_MAX_AGE", "twelve hours", "whole number"),
    ("PORTAL_SSO_MAX_AGE", "0", "at least"),
    ("PORTAL_IDLE_TIMEOUT", "-1", "at least"),
    ("PORTAL_REQUIRE_MFA", "maybe", "true or false"),
    ("PORTAL_CLOCK_SKEW", "3600", "at most"),
    ("PORTAL_PROVIDER_PRESET", "okta", "'generic'"),
    ("PORTAL_ID_TOKEN_ALGORITHMS", "RS256,HS256", "asymmetric"),
    ("PORTAL_ID_TOKEN_ALGORITHMS", "none", "asymmetric"),
    ("PORTAL_RATE_LIMIT", "lots", "per minute"),
    ("PORTAL_HTTP_TIMEOUT", "0", "between"),
    ("PORTAL_LOG_FORMAT", "xml", "'text' or 'json'"),
    ("PORTAL_GROUPS_CLAIM", "groups claim", "a claim name"),
    ("PORTAL_METRICS_ALLOW", "127.0.0.1/32,intranet", "networks"),
    ("PORTAL_METRICS_ALLOW", "10.0.0.0/33", "networks"),
    ("PORTAL_LANGUAGES", "en,de", "languages the portal has pages in (en,fr)"),
    ("PORTAL_LANGUAGES", "français", "languages the portal has pages in"),
    ("PORTAL_LANGUAGES", ",", "languages the portal has pages in"),
]


@pytest.mark.parametrize(
    ("variable", "value", "message"), BAD, ids=[f"{v}={x!r}" for v, x, _ in BAD]
)
def test_bad_setting_names_the_variable(tmp_path, variable, value, message):
    with pytest.raises(SettingsError) as excinfo:
        Settings.from_env(portal_env(tmp_path, **{variable: value}))
    assert excinfo.value.variable == variable
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def test_production_settings_defaults_and_values(tmp_path):
    s = Settings.from_env(portal_env(tmp_path))
    assert (s.log_format, s.allowed_groups, s.groups_claim) == ("text", (), "groups")
    assert s.metrics_allow == ("127.0.0.1/32", "::1/128")
    s = Settings.from_env(
        portal_env(
            tmp_path,
            PORTAL_LOG_FORMAT="JSON",
            PORTAL_ALLOWED_GROUPS=" customers , partners,,",
            PORTAL_GROUPS_CLAIM="roles",
            PORTAL_METRICS_ALLOW="10.0.0.7, 2001:db8::/32",
        )
    )
    assert s.log_format == "json"
    assert s.allowed_groups == ("customers", "partners")
    assert s.groups_claim == "roles"
    assert s.metrics_allow == ("10.0.0.7/32", "2001:db8::/32")


def test_loopback_hosts_may_use_http(tmp_path):
    for host in ("127.0.0.1", "localhost", "[::1]"):
        s = Settings.from_env(portal_env(tmp_path, PORTAL_OIDC_ISSUER=f"http://{host}:9000"))
        assert s.issuer.startswith("http://")


def test_test_clock_refused_outside_loopback(tmp_path):
    env = portal_env(
        tmp_path,
        PORTAL_BASE_URL="https://portal.example.com",
        PORTAL_TEST_CLOCK_FILE=str(tmp_path / "clock"),
    )
    with pytest.raises(SettingsError, match="PORTAL_TEST_CLOCK_FILE"):
        Settings.from_env(env)


def test_env_file_is_read_first_and_environment_wins(tmp_path):
    env_file = tmp_path / "portal.env"
    env_file.write_text("PORTAL_IDLE_TIMEOUT=120\nPORTAL_SSO_NAME=From File\n")
    env = portal_env(tmp_path, PORTAL_ENV_FILE=str(env_file), PORTAL_SSO_NAME="From Env")
    s = Settings.from_env(env)
    assert s.idle_timeout == 120
    assert s.sso_name == "From Env"


def test_missing_env_file_is_named(tmp_path):
    with pytest.raises(SettingsError, match="PORTAL_ENV_FILE"):
        Settings.from_env(portal_env(tmp_path, PORTAL_ENV_FILE=str(tmp_path / "nope.env")))


def test_secrets_are_not_in_repr(tmp_path):
    s = Settings.from_env(portal_env(tmp_path))
    assert "test-client-secret" not in repr(s)
    assert "test-secret-key" not in repr(s)


def test_missing_issuer_stops_the_cli_with_one_line(tmp_path):
    env = {k: v for k, v in portal_env(tmp_path).items() if k != "PORTAL_OIDC_ISSUER"}
    env["PATH"] = "/usr/bin:/bin"
    result = subprocess.run(
        [sys.executable, "-m", "portal", "check"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "portal: configuration error: PORTAL_OIDC_ISSUER: expected the IdP's issuer URL"
    ]
    assert "Traceback" not in result.stderr + result.stdout


OPTIONAL_VARIABLES = (
    "PORTAL_SESSION_BACKEND",
    "PORTAL_SESSION_DIR",
    "PORTAL_REDIS_URL",
    "PORTAL_SSO_MAX_AGE",
    "PORTAL_IDLE_TIMEOUT",
    "PORTAL_LOGIN_TIMEOUT",
    "PORTAL_REQUIRE_MFA",
    "PORTAL_PROVIDER_PRESET",
    "PORTAL_MFA_AMR",
    "PORTAL_MFA_ACR",
    "PORTAL_CLOCK_SKEW",
    "PORTAL_ID_TOKEN_ALGORITHMS",
    "PORTAL_SSO_NAME",
    "PORTAL_SUPPORT_CONTACT",
    "PORTAL_HTTP_TIMEOUT",
    "PORTAL_FRESH_AUTH_MAX_AGE",
    "PORTAL_TRUSTED_PROXIES",
    "PORTAL_RATE_LIMIT",
    "PORTAL_LOG_LEVEL",
    "PORTAL_LOG_FORMAT",
    "PORTAL_ALLOWED_GROUPS",
    "PORTAL_GROUPS_CLAIM",
    "PORTAL_METRICS_ALLOW",
    "PORTAL_LANGUAGES",
    "PORTAL_ENV_FILE",
    "PORTAL_TEST_CLOCK_FILE",
)


@pytest.mark.parametrize("variable", OPTIONAL_VARIABLES)
def test_optional_variable_set_empty_behaves_as_unset(tmp_path, variable):
    base = portal_env(tmp_path)
    unset = Settings.from_env({k: v for k, v in base.items() if k != variable})
    for empty in ("", "  "):
        assert Settings.from_env({**base, variable: empty}) == unset


def test_empty_variable_in_the_environment_leaves_the_env_file_value(tmp_path):
    env_file = tmp_path / "portal.env"
    env_file.write_text("PORTAL_REDIS_URL=redis://127.0.0.1:6390/2\nPORTAL_SSO_NAME=\n")
    env = portal_env(tmp_path, PORTAL_ENV_FILE=str(env_file), PORTAL_REDIS_URL="")
    s = Settings.from_env(env)
    assert s.redis_url == "redis://127.0.0.1:6390/2"
    assert s.sso_name == "127.0.0.1"


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://portal:pw@h1:26379,h2:26379/portalmaster/0",
        "redis+cluster://h1:7000,h2:7000",
        "rediss+sentinel://portal:pw@h1:26379/portalmaster/0?ssl_ca_certs=/etc/portal/ca.pem",
        "rediss+cluster://h1:7000,h2:7000",
        "rediss://portal:pw@redis.example.com:6380/0",
        "unix:///run/redis/redis.sock",
    ],
)
def test_every_redis_mode_is_accepted(tmp_path, url):
    assert Settings.from_env(portal_env(tmp_path, PORTAL_REDIS_URL=url)).redis_url == url


def test_bad_redis_url_does_not_echo_its_password(tmp_path):
    with pytest.raises(SettingsError) as excinfo:
        Settings.from_env(portal_env(tmp_path, PORTAL_REDIS_URL="redis+cluster://u:hunter2@h1"))
    assert "hunter2" not in str(excinfo.value)


def test_languages_default_to_english_then_french(tmp_path):
    assert Settings.from_env(portal_env(tmp_path)).languages == ("en", "fr")
    chosen = Settings.from_env(portal_env(tmp_path, PORTAL_LANGUAGES=" FR , en,fr "))
    assert chosen.languages == ("fr", "en")  # the first is the fallback; repeats dropped


PUBLIC = {"PORTAL_BASE_URL": "https://portal.example.com"}
EXAMPLE_FILE = REPO_ROOT / "config" / "portal.env.example"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PORTAL_SECRET_KEY", "change-me-change-me-change-me-change-me", "not the example's"),
        ("PORTAL_SECRET_KEY", "0123456789abcdef" * 3, "a block written again"),
        ("PORTAL_OIDC_CLIENT_SECRET", "change-me", "not the example's"),
        ("PORTAL_OIDC_CLIENT_SECRET", "demo-portal-secret-CHANGE-ME", "not the example's"),
    ],
)
def test_a_portal_beyond_loopback_refuses_placeholder_secrets(tmp_path, variable, value, message):
    with pytest.raises(SettingsError) as excinfo:
        Settings.from_env(portal_env(tmp_path, **PUBLIC, **{variable: value}))
    assert excinfo.value.variable == variable
    assert message in str(excinfo.value)
    assert value not in str(excinfo.value)


def test_the_example_file_as_shipped_does_not_start(tmp_path):
    with pytest.raises(SettingsError) as excinfo:
        Settings.from_env({"PORTAL_ENV_FILE": str(EXAMPLE_FILE)})
    assert excinfo.value.variable in ("PORTAL_SECRET_KEY", "PORTAL_OIDC_CLIENT_SECRET")


def test_placeholder_secrets_are_allowed_on_loopback(tmp_path):
    """The demo: the dev IdP's demo client secret says change-me, on 127.0.0.1 only."""
    settings = Settings.from_env(
        portal_env(tmp_path, PORTAL_OIDC_CLIENT_SECRET="demo-portal-secret-change-me")
    )
    assert settings.client_secret == "demo-portal-secret-change-me"


def test_random_secrets_are_accepted_beyond_loopback(tmp_path):
    settings = Settings.from_env(portal_env(tmp_path, **PUBLIC))
    assert settings.base_url == "https://portal.example.com"


def test_a_redis_url_alone_puts_the_sessions_in_redis(tmp_path):
    url = "redis://127.0.0.1:6390/2"
    assert Settings.from_env(portal_env(tmp_path)).session_backend == "filesystem"
    assert Settings.from_env(portal_env(tmp_path, PORTAL_REDIS_URL=url)).session_backend == "redis"
    chosen = portal_env(tmp_path, PORTAL_REDIS_URL=url, PORTAL_SESSION_BACKEND="filesystem")
    assert Settings.from_env(chosen).session_backend == "filesystem"


def _variables_read_by(*paths: str) -> set[str]:
    import re

    found: set[str] = set()
    for path in paths:
        found |= set(re.findall(r'"(PORTAL_[A-Z_]+)"', (REPO_ROOT / path).read_text()))
    return found


def test_every_variable_the_portal_reads_is_documented():
    """The README's table and the example file say every variable settings.py and the
    gunicorn settings read (the test clock, for the test suite only, is not in the example)."""
    read = _variables_read_by("portal/settings.py", "portal/gunicorn_conf.py")
    assert {"PORTAL_BIND", "PORTAL_LOGIN_TIMEOUT", "PORTAL_OIDC_ISSUER"} <= read
    readme = (REPO_ROOT / "README.md").read_text()
    example = EXAMPLE_FILE.read_text()
    assert sorted(v for v in read if f"`{v}`" not in readme) == []
    in_example = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line}
    missing = read - in_example - {"PORTAL_ENV_FILE", "PORTAL_TEST_CLOCK_FILE"}
    assert sorted(missing) == []
