"""``portal check``: does this IdP offer what the portal needs? Each item names the fix.

Fetches the discovery document and the JWKS (with the portal's timeout) and compares them with
the settings. Fixes are worded in the IdP's own terms (authentik provider fields, Keycloak
client attributes), chosen by ``PORTAL_PROVIDER_PRESET``. What discovery cannot show (a client
setting, whether the IdP reaches the portal) is printed as a note, so that the checklist never
says "ok" about something it did not check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from portal.settings import Settings

ASYMMETRIC_KTY = {"RSA", "EC", "OKP"}


@dataclass(frozen=True)
class CheckItem:
    level: str  # "ok", "NOTE" (not checkable here: what to do), "WARN" or "FAIL"
    message: str
    fix: str = ""

    def render(self) -> str:
        mark = {"ok": "[ok]  ", "NOTE": "[note]", "WARN": "[WARN]", "FAIL": "[FAIL]"}[self.level]
        text = f"{mark} {self.message}"
        if self.fix and self.level == "NOTE":
            text += f"\n         {self.fix}"
        elif self.fix and self.level != "ok":
            text += f"\n         fix: {self.fix}"
        return text


# authentik up to 2026.2 ignores post_logout_redirect_uri; from 2026.5 it honours it only when
# the provider lists it as a redirect URI of type logout, which the blueprint (and only the
# blueprint: the worker re-applies it over hand edits) does when asked. config/authentik/README.md
# tells the same story; tests/unit/test_authentik_blueprint.py checks that they agree.
AUTHENTIK_POST_LOGOUT_NOTE = (
    "authentik 2026.5 or later: set register_post_logout_uri: true in the blueprint's context "
    "and apply it again (a URI added by hand is overwritten when the worker re-applies the "
    "blueprint). Up to 2026.2 keep it false: authentik ignores the URI and 'Log out everywhere' "
    "ends on authentik's own page."
)

KEYCLOAK_BACKCHANNEL_NOTE = (
    "turn 'Front channel logout' off on the client (the admin console turns it on for new "
    "clients, and then Keycloak silently skips the back-channel URL); Keycloak must reach {uri} "
    "and trust its TLS certificate. Keycloak sends logout tokens on explicit logouts only, never "
    "when a session expires: the portal's own bound (the first auth_time of the sid + PORTAL_SSO_MAX_AGE) covers that."
)


FIXES = {
    "authentik": {
        "issuer": "use the provider's 'OpenID Configuration Issuer' from authentik, with its trailing slash",
        "signing": "set a 'Signing Key' on the OAuth2 provider (without one authentik signs with HS256 and the client secret)",
        "end_session": "authentik always has one; check the provider's invalidation flow",
        "backchannel": "authentik 2025.10+: set the provider's logout URI and logout method 'backchannel'",
        "mfa": "keep the authenticator-validation stage in the authentication flow (amr then contains 'mfa')",
        "groups": "authentik sends 'groups' (the group names) with the profile scope: keep the profile scope mapping on the provider (the blueprint maps it)",
    },
    "keycloak": {
        "issuer": "use https://<host>/realms/<realm> without a trailing slash",
        "signing": "keep an RS256 key in the realm's Keys tab",
        "end_session": "Keycloak always has one; check the client's post.logout.redirect.uris",
        "backchannel": "set the client's backchannel.logout.url and backchannel.logout.session.required",
        "mfa": "add the oidc-amr-mapper and reference values pwd/otp on the password and OTP executions",
        "groups": "add a 'Group Membership' mapper to the client (token claim name 'groups', 'Full group path' off, added to the ID token), as config/keycloak/realm-portal.json does; Keycloak never lists a mapper's claim in claims_supported, so once the mapper is there this warning is expected",
    },
    "generic": {
        "issuer": "set PORTAL_OIDC_ISSUER to exactly the 'issuer' of the discovery document",
        "signing": "configure an RS256 or ES256 signing key for ID tokens at the IdP",
        "end_session": "enable RP-initiated logout at the IdP",
        "backchannel": "enable back-channel logout for this client at the IdP",
        "mfa": "make the IdP put 'otp' or 'mfa' in amr, or set PORTAL_MFA_ACR",
        "groups": "make the IdP send the claim in the ID token or at userinfo, or set PORTAL_GROUPS_CLAIM to the claim it sends",
    },
}


def run_checklist(settings: Settings, session: requests.Session | None = None) -> list[CheckItem]:
    http = session or requests.Session()
    fixes = FIXES[settings.provider_preset]
    items: list[CheckItem] = []
    try:
        resp = http.get(settings.discovery_url, timeout=settings.http_timeout)
        resp.raise_for_status()
        metadata: dict[str, Any] = resp.json()
        if not isinstance(metadata, dict):
            raise ValueError("not a JSON object")
    except (requests.RequestException, ValueError) as exc:
        return [
            CheckItem(
                "FAIL",
                f"discovery document at {settings.discovery_url} could not be read ({type(exc).__name__})",
                "check PORTAL_OIDC_ISSUER and that the IdP is reachable from the portal",
            )
        ]
    items.append(CheckItem("ok", f"discovery document read from {settings.discovery_url}"))

    found = metadata.get("issuer")
    if found == settings.issuer:
        items.append(CheckItem("ok", f"issuer matches exactly: {found}"))
    else:
        items.append(
            CheckItem(
                "FAIL",
                f"issuer differs: configured {settings.issuer!r}, discovery says {found!r}",
                fixes["issuer"],
            )
        )

    if "code" in metadata.get("response_types_supported", []):
        items.append(CheckItem("ok", "authorization code flow supported"))
    else:
        items.append(
            CheckItem("FAIL", "authorization code flow not advertised", "enable the code flow")
        )
    if "S256" in metadata.get("code_challenge_methods_supported", []):
        items.append(CheckItem("ok", "PKCE with S256 supported"))
    else:
        items.append(
            CheckItem(
                "WARN", "PKCE S256 not advertised (the portal sends it anyway)", "enable PKCE S256"
            )
        )

    items.extend(_check_signing(settings, metadata, http, fixes["signing"]))

    if metadata.get("end_session_endpoint"):
        items.append(CheckItem("ok", f"end_session_endpoint: {metadata['end_session_endpoint']}"))
    else:
        items.append(
            CheckItem(
                "WARN",
                "no end_session_endpoint: 'Log out everywhere' will explain that it is unavailable",
                fixes["end_session"],
            )
        )
    if metadata.get("backchannel_logout_supported"):
        if metadata.get("backchannel_logout_session_supported"):
            items.append(CheckItem("ok", "back-channel logout supported, logout tokens carry sid"))
        else:
            items.append(CheckItem("ok", "back-channel logout supported"))
            items.append(
                CheckItem(
                    "NOTE",
                    "backchannel_logout_session_supported not advertised: logout tokens may carry no sid",
                    "then a logout at the IdP ends every portal session of that customer, not only "
                    "the sessions of the ended IdP session",
                )
            )
    else:
        items.append(
            CheckItem(
                "WARN",
                "back-channel logout not advertised: sessions ended at the IdP live on in the portal until idle or 12 h",
                fixes["backchannel"],
            )
        )
    if metadata.get("authorization_response_iss_parameter_supported"):
        items.append(CheckItem("ok", "RFC 9207 iss in authorization responses (checked)"))

    items.append(CheckItem("ok", f"register redirect URI: {settings.redirect_uri}"))
    if settings.provider_preset == "authentik":
        items.append(
            CheckItem(
                "NOTE",
                f"post-logout redirect URI: {settings.post_logout_redirect_uri}",
                AUTHENTIK_POST_LOGOUT_NOTE,
            )
        )
    else:
        items.append(
            CheckItem(
                "ok", f"register post-logout redirect URI: {settings.post_logout_redirect_uri}"
            )
        )
    items.append(
        CheckItem("ok", f"register back-channel logout URI: {settings.backchannel_logout_uri}")
    )
    if settings.provider_preset == "keycloak":
        items.append(
            CheckItem(
                "NOTE",
                "Keycloak back-channel logout needs 'Front channel logout' off on the client",
                KEYCLOAK_BACKCHANNEL_NOTE.format(uri=settings.backchannel_logout_uri),
            )
        )

    evidence = f"amr containing one of {', '.join(settings.mfa_amr)}"
    if settings.mfa_acr:
        evidence += f", or acr one of {', '.join(settings.mfa_acr)}"
    if settings.require_mfa:
        items.append(
            CheckItem(
                "ok", f"MFA evidence expected ({settings.provider_preset} preset): {evidence}"
            )
        )
        advertised = set(metadata.get("claims_supported", []))
        if advertised and "amr" not in advertised and not settings.mfa_acr:
            items.append(
                CheckItem("WARN", "the IdP does not list 'amr' in claims_supported", fixes["mfa"])
            )
    else:
        items.append(
            CheckItem(
                "WARN",
                "PORTAL_REQUIRE_MFA is off: password-only sign-ins are accepted",
                fixes["mfa"],
            )
        )
    items.extend(_check_groups_claim(settings, metadata, fixes["groups"]))
    return items


def _check_groups_claim(settings: Settings, metadata: dict[str, Any], fix: str) -> list[CheckItem]:
    """With PORTAL_ALLOWED_GROUPS, a customer whose sign-in lacks the claim is refused: an IdP
    that does not send it at all refuses everyone."""
    if not settings.allowed_groups:
        return []
    claim, groups = settings.groups_claim, ", ".join(settings.allowed_groups)
    if claim in metadata.get("claims_supported", []):
        return [CheckItem("ok", f"access limited to the groups {groups} ('{claim}' claim listed)")]
    return [
        CheckItem(
            "WARN",
            f"PORTAL_ALLOWED_GROUPS is set ({groups}) but the IdP does not list '{claim}' in "
            "claims_supported: without the claim every customer is refused",
            fix,
        )
    ]


def _check_signing(
    settings: Settings, metadata: dict[str, Any], http: requests.Session, fix: str
) -> list[CheckItem]:
    advertised = metadata.get("id_token_signing_alg_values_supported", [])
    usable = [a for a in advertised if a in settings.id_token_algorithms]
    items: list[CheckItem] = []
    if usable:
        items.append(
            CheckItem(
                "ok", f"ID token signing algorithm allowed by the portal: {', '.join(usable)}"
            )
        )
    else:
        items.append(
            CheckItem(
                "FAIL",
                f"the IdP signs ID tokens with {advertised or 'nothing advertised'}; the portal accepts only "
                f"{', '.join(settings.id_token_algorithms)}",
                fix,
            )
        )
    uri = metadata.get("jwks_uri")
    if not uri:
        items.append(CheckItem("FAIL", "discovery has no jwks_uri", fix))
        return items
    try:
        resp = http.get(uri, timeout=settings.http_timeout)
        resp.raise_for_status()
        keys = resp.json().get("keys", [])
    except (requests.RequestException, ValueError, AttributeError) as exc:
        items.append(
            CheckItem("FAIL", f"JWKS at {uri} could not be read ({type(exc).__name__})", fix)
        )
        return items
    asymmetric = [k for k in keys if isinstance(k, dict) and k.get("kty") in ASYMMETRIC_KTY]
    if asymmetric:
        items.append(CheckItem("ok", f"JWKS has {len(asymmetric)} public signing key(s)"))
    else:
        items.append(CheckItem("FAIL", "JWKS has no public signing key", fix))
    return items
