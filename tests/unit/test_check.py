"""``portal check`` against broken discovery documents (the live dev IdP case is integration)."""

from __future__ import annotations

import pytest

from portal.checklist import run_checklist
from portal.settings import Settings
from portal.testing import MockIdP
from tests.support.portal_env import idp_env


@pytest.fixture
def idp(mock_idp):
    return mock_idp


def settings(idp, tmp_path, **env):
    return Settings.from_env(idp_env(idp, tmp_path, **env))


def levels(items):
    return {i.level for i in items}


def failing(items):
    return [i.render() for i in items if i.level == "FAIL"]


def test_healthy_provider_passes(idp, tmp_path):
    items = run_checklist(settings(idp, tmp_path))
    assert "FAIL" not in levels(items)
    text = "\n".join(i.render() for i in items)
    assert "issuer matches exactly" in text
    assert "register redirect URI: http://127.0.0.1:8888/auth/callback" in text


def test_issuer_without_trailing_slash_shows_both(tmp_path):
    with MockIdP(issuer_path="/application/o/portal/") as idp:  # authentik's shape
        issuer = idp.issuer
        s = settings(
            idp,
            tmp_path,
            PORTAL_OIDC_ISSUER=issuer.rstrip("/"),
            PORTAL_PROVIDER_PRESET="authentik",
        )
        bad = failing(run_checklist(s))
    assert any(issuer in line and issuer.rstrip("/") + "'" in line for line in bad)
    assert any("trailing slash" in line for line in bad)


def test_hs256_only_provider_is_fatal_with_authentik_fix(idp, tmp_path):
    idp.metadata["id_token_signing_alg_values_supported"] = ["HS256"]
    idp.respond("jwks", json={"keys": []})
    bad = failing(run_checklist(settings(idp, tmp_path, PORTAL_PROVIDER_PRESET="authentik")))
    assert any("Signing Key" in line for line in bad)
    assert any("no public signing key" in line for line in bad)


def test_missing_end_session_and_backchannel_warn(idp, tmp_path):
    idp.metadata.update(end_session_endpoint=None, backchannel_logout_supported=False)
    items = run_checklist(settings(idp, tmp_path, PORTAL_PROVIDER_PRESET="keycloak"))
    warnings = [i.render() for i in items if i.level == "WARN"]
    assert any("end_session_endpoint" in w for w in warnings)
    assert any("backchannel.logout.url" in w for w in warnings)
    assert "FAIL" not in levels(items)


def test_unreachable_discovery_is_fatal(idp, tmp_path):
    idp.down()
    bad = failing(run_checklist(settings(idp, tmp_path)))
    assert len(bad) == 1 and "could not be read" in bad[0]


def test_discovery_not_json_is_fatal(idp, tmp_path):
    idp.respond("discovery", body="<html>login</html>")
    assert failing(run_checklist(settings(idp, tmp_path)))


def test_no_code_flow_is_fatal(idp, tmp_path):
    idp.metadata["response_types_supported"] = ["id_token"]
    assert any("code flow" in line for line in failing(run_checklist(settings(idp, tmp_path))))


def test_mfa_evidence_expected_is_printed(idp, tmp_path):
    text = "\n".join(
        i.render()
        for i in run_checklist(settings(idp, tmp_path, PORTAL_PROVIDER_PRESET="authentik"))
    )
    assert "MFA evidence expected (authentik preset): amr containing one of mfa" in text


def rendered(items) -> str:
    return "\n".join(i.render() for i in items)


def test_authentik_post_logout_uri_is_a_note_with_the_blueprint_story(idp, tmp_path):
    items = run_checklist(settings(idp, tmp_path, PORTAL_PROVIDER_PRESET="authentik"))
    text = rendered(items)
    # Not an "ok": up to 2026.2 authentik ignores the URI, from 2026.5 the blueprint registers it.
    assert "register post-logout redirect URI" not in text
    note = next(i for i in items if "post-logout redirect URI" in i.message)
    assert note.level == "NOTE"
    assert "[note] post-logout redirect URI: http://127.0.0.1:8888/logged-out" in text
    assert "register_post_logout_uri: true" in text and "2026.5" in text
    assert "FAIL" not in levels(items)


def test_other_presets_still_list_the_post_logout_uri_to_register(idp, tmp_path):
    text = rendered(run_checklist(settings(idp, tmp_path, PORTAL_PROVIDER_PRESET="keycloak")))
    assert "[ok]   register post-logout redirect URI: http://127.0.0.1:8888/logged-out" in text
    assert "register_post_logout_uri" not in text


def test_keycloak_preset_reminds_what_back_channel_logout_needs(idp, tmp_path):
    items = run_checklist(settings(idp, tmp_path, PORTAL_PROVIDER_PRESET="keycloak"))
    text = rendered(items)
    assert "'Front channel logout' off" in text
    assert "reach http://127.0.0.1:8888/auth/backchannel-logout" in text
    assert "TLS certificate" in text
    assert "never when a session expires" in text
    assert "FAIL" not in levels(items)


def test_other_presets_get_no_keycloak_reminder(idp, tmp_path):
    for preset in ("generic", "authentik"):
        text = rendered(run_checklist(settings(idp, tmp_path, PORTAL_PROVIDER_PRESET=preset)))
        assert "Front channel logout" not in text


def test_back_channel_logout_with_sid_is_ok(idp, tmp_path):
    text = rendered(run_checklist(settings(idp, tmp_path)))
    assert "[ok]   back-channel logout supported, logout tokens carry sid" in text
    assert "backchannel_logout_session_supported" not in text


def test_back_channel_logout_without_session_support_notes_the_missing_sid(idp, tmp_path):
    idp.metadata["backchannel_logout_session_supported"] = None  # backchannel only
    items = run_checklist(settings(idp, tmp_path))
    notes = [i.render() for i in items if i.level == "NOTE"]
    assert any("backchannel_logout_session_supported not advertised" in n for n in notes)
    assert any("every portal session of that customer" in n for n in notes)
    assert "FAIL" not in levels(items)
