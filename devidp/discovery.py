"""The provider metadata served at ``/.well-known/openid-configuration``.

OpenID Connect Discovery 1.0 §3 (plus RFC 8414 names), Back-Channel Logout 1.0 §2.1,
RP-Initiated Logout 1.0 §2.1 and RFC 9207 §3; ``ui_locales_supported`` lists the languages of
the screens (devidp/i18n.py). Relying parties learn every endpoint from here;
they never hard-code paths.
"""

from __future__ import annotations

from typing import Any

from .i18n import LANGUAGES
from .oauth2 import SCOPES
from .oauth2 import TOKEN_AUTH_METHODS
from .sso import ACR_MFA
from .sso import ACR_PASSWORD

CLAIMS = (
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "sid",
    "amr",
    "acr",
    "at_hash",
    "preferred_username",
    "name",
    "email",
    "groups",
)


def metadata(issuer: str) -> dict[str, Any]:
    """The discovery document for ``issuer`` (no trailing slash)."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "end_session_endpoint": f"{issuer}/end-session",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": list(TOKEN_AUTH_METHODS),
        "scopes_supported": list(SCOPES),
        "claims_supported": list(CLAIMS),
        "subject_types_supported": ["public"],
        "acr_values_supported": [ACR_MFA, ACR_PASSWORD],
        "prompt_values_supported": ["none", "login", "consent"],
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "authorization_response_iss_parameter_supported": True,
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "ui_locales_supported": list(LANGUAGES),
    }
