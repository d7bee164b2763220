"""PORTAL_* variables for a test portal."""

from __future__ import annotations

from pathlib import Path

from portal.testing import MockIdP

#: The provider's part of the settings, which ``idp_env`` takes from the mock IdP.
PROVIDER_VARIABLES = ("PORTAL_OIDC_ISSUER", "PORTAL_OIDC_CLIENT_ID", "PORTAL_OIDC_CLIENT_SECRET")


def portal_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The PORTAL_* variables of a test portal; override any of them."""
    env = {
        "PORTAL_OIDC_ISSUER": "http://127.0.0.1:9999",
        "PORTAL_OIDC_CLIENT_ID": "portal",
        "PORTAL_OIDC_CLIENT_SECRET": "test-client-secret",
        "PORTAL_BASE_URL": "http://127.0.0.1:8888",
        "PORTAL_SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
        "PORTAL_SESSION_DIR": str(tmp_path / "sessions"),
    }
    env.update(overrides)
    return env


def idp_env(idp: MockIdP, tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The same, with the mock IdP (``portal.testing``'s) as provider, the portal registered
    there at its base URL."""
    env = {k: v for k, v in portal_env(tmp_path).items() if k not in PROVIDER_VARIABLES}
    return idp.portal_env(env["PORTAL_SESSION_DIR"], **{**env, **overrides})
