"""Fixtures for the dev IdP's unit tests: an app built by ``create_app`` on a temporary database,
its test client, and a clock the test sets by hand."""

from __future__ import annotations

import pytest

from devidp import clock
from devidp import create_app

ISSUER = "http://127.0.0.1:9000"
CLIENT_SECRET = "unit-portal-secret"
PORTAL = "http://localhost:8000"


def make_config(tmp_path, **overrides) -> dict:
    """A complete configuration as a test mapping (no config file is read)."""
    config = {
        "DEVIDP_CONFIG": None,
        "DEVIDP_ISSUER": ISSUER,
        "DEVIDP_DATABASE": str(tmp_path / "devidp.sqlite3"),
        "SECRET_KEY": "unit-test-secret",
        "DEVIDP_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "DEVIDP_TEST_HOOKS": True,
        "DEVIDP_USERS": [
            {
                "username": "demo",
                "password": "demo-password-2fa",
                "name": "Demo Customer",
                "email": "demo@example.com",
            }
        ],
        "DEVIDP_CLIENTS": [
            {
                "client_id": "portal",
                "client_secret": CLIENT_SECRET,
                "client_name": "Customer Portal",
                "redirect_uris": [PORTAL + "/auth/callback"],
                "post_logout_redirect_uris": [PORTAL + "/logged-out"],
                "backchannel_logout_uri": PORTAL + "/auth/backchannel-logout",
            }
        ],
    }
    config.update(overrides)
    return config


class FakeClock:
    """The IdP's clock, frozen at ``t`` until the test moves it."""

    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch):
    for name in ("DEVIDP_CONFIG", "DEVIDP_ISSUER", "DEVIDP_DATABASE", "DEVIDP_CLOCK_FILE"):
        monkeypatch.delenv(name, raising=False)
    yield
    clock.configure(test_hooks=False, clock_file=None)


@pytest.fixture
def fake_clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock, "now", fake)
    return fake


@pytest.fixture
def app(tmp_path, fake_clock):
    return create_app(make_config(tmp_path))


@pytest.fixture
def client(app):
    return app.test_client()
