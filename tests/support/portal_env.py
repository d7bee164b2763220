"""PORTAL_* variables for a test portal."""

from __future__ import annotations

from pathlib import Path


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


def redis_env(tmp_path: Path, redis_url: str, **overrides: str) -> dict[str, str]:
    """The same, with sessions in the given Redis and the mocked provider's issuer."""
    from tests.support.mock_idp import ISSUER

    return portal_env(
        tmp_path,
        **{
            "PORTAL_OIDC_ISSUER": ISSUER,
            "PORTAL_SESSION_BACKEND": "redis",
            "PORTAL_REDIS_URL": redis_url,
            **overrides,
        },
    )
