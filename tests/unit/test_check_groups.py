"""``portal check`` with PORTAL_ALLOWED_GROUPS: it warns when the IdP does not list the claim."""

from __future__ import annotations

import pytest

from portal.checklist import run_checklist
from portal.settings import Settings


def check(mock_idp, tmp_path, **env):
    return run_checklist(Settings.from_env(mock_idp.portal_env(tmp_path / "s", **env)))


def lines(items, level):
    return [i.render() for i in items if i.level == level]


def test_nothing_is_said_about_groups_when_none_are_required(mock_idp, tmp_path):
    mock_idp.metadata["claims_supported"] = ["sub", "email"]
    items = check(mock_idp, tmp_path)
    assert not [i for i in items if "groups" in i.message]


def test_a_listed_claim_is_ok(mock_idp, tmp_path):
    items = check(mock_idp, tmp_path, PORTAL_ALLOWED_GROUPS="customers,partners")
    assert "[ok]   access limited to the groups customers, partners ('groups' claim listed)" in (
        lines(items, "ok")
    )


@pytest.mark.parametrize(
    ("preset", "fix"),
    [
        ("generic", "PORTAL_GROUPS_CLAIM"),
        ("authentik", "profile scope"),
        ("keycloak", "'Full group path' off"),
    ],
)
def test_an_unlisted_claim_warns_with_the_fix_in_the_idps_terms(mock_idp, tmp_path, preset, fix):
    mock_idp.metadata["claims_supported"] = ["sub", "email"]
    items = check(
        mock_idp, tmp_path, PORTAL_ALLOWED_GROUPS="customers", PORTAL_PROVIDER_PRESET=preset
    )
    [warning] = [w for w in lines(items, "WARN") if "PORTAL_ALLOWED_GROUPS" in w]
    assert "does not list 'groups' in claims_supported" in warning
    assert fix in warning
    assert not lines(items, "FAIL")


def test_the_configured_claim_is_the_one_looked_for(mock_idp, tmp_path):
    items = check(mock_idp, tmp_path, PORTAL_ALLOWED_GROUPS="admins", PORTAL_GROUPS_CLAIM="roles")
    assert any("does not list 'roles'" in w for w in lines(items, "WARN"))
