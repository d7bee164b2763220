"""``portal check`` against the live dev IdP: every item ok, exit 0; a wrong issuer: exit 1."""

from __future__ import annotations

import subprocess
import sys

from tests.support.processes import REPO_ROOT


def run_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portal", "check"],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_against_dev_idp_passes(stack):
    result = run_check(stack.portal.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[FAIL]" not in result.stdout
    assert f"issuer matches exactly: {stack.idp.url}" in result.stdout
    assert "PKCE with S256 supported" in result.stdout
    assert "back-channel logout supported, logout tokens carry sid" in result.stdout
    assert f"register redirect URI: {stack.portal.url}/auth/callback" in result.stdout
    assert "Result: ready" in result.stdout


def test_check_with_trailing_slash_issuer_fails_and_shows_both(stack):
    env = {**stack.portal.env, "PORTAL_OIDC_ISSUER": stack.idp.url + "/"}
    result = run_check(env)
    assert result.returncode == 1
    assert "[FAIL] issuer differs" in result.stdout
    assert f"'{stack.idp.url}/'" in result.stdout and f"'{stack.idp.url}'" in result.stdout


def test_check_with_the_authentik_preset_notes_the_post_logout_story_and_stays_ready(stack):
    env = {**stack.portal.env, "PORTAL_PROVIDER_PRESET": "authentik"}
    result = run_check(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"[note] post-logout redirect URI: {stack.portal.url}/logged-out" in result.stdout
    assert "register_post_logout_uri: true" in result.stdout
    assert "Result: ready" in result.stdout


def test_check_with_the_keycloak_preset_reminds_front_channel_logout_off(stack):
    env = {**stack.portal.env, "PORTAL_PROVIDER_PRESET": "keycloak"}
    result = run_check(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "'Front channel logout' off" in result.stdout
    assert f"reach {stack.portal.url}/auth/backchannel-logout" in result.stdout
    assert "Result: ready" in result.stdout
