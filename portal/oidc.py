"""The OpenID Connect rules the portal enforces, one named check per rule.

Implements ID token validation per OpenID Connect Core 1.0, Section 3.1.3.7, the logout token
checks of Back-Channel Logout 1.0, Section 2.6, and the authorization response ``iss`` check of
RFC 9207, Section 2.4. Nothing here touches Flask: every function takes values (the raw token,
the expected values, ``now``) so unit tests call them directly with an injected clock.

Signature verification uses joserfc (Authlib's JOSE layer). The checks are written out here
rather than left to Authlib's ``parse_id_token`` because that function trusts the algorithms
the provider's discovery document advertises (which may include HS256, keyed with the client
secret, as authentik does without a signing key) and leaves ``aud`` membership to the caller.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"

#: Finds the verification key for a token header (alg, kid); see portal.jwks.
KeyFinder = Callable[[Mapping[str, Any]], Key]


class TokenError(ValueError):
    """A token broke a rule. ``reason`` is safe to log: it never contains the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SymmetricSignature(TokenError):
    """The IdP signs with a shared secret (HS256): a setup problem, not a forged token.

    authentik does this when its OAuth2 provider has no signing key.
    """


class KeysUnavailable(TokenError):
    """The provider's keys could not be read: the IdP's problem, not the token's."""


class MissingMfaEvidence(TokenError):
    """The ID token is valid but does not show that a second factor was used."""


class NotInAllowedGroup(TokenError):
    """The customer signed in, but is in none of the groups allowed to use the portal."""


@dataclass(frozen=True)
class Expected:
    """What a token from this provider to this client must say."""

    issuer: str
    client_id: str
    algorithms: tuple[str, ...]
    clock_skew: int = 60
    max_token_age: int = 600


def read_header(raw: str) -> dict[str, Any]:
    """The JOSE header, unverified: only to choose the algorithm and key."""
    if not isinstance(raw, str) or raw.count(".") != 2 or len(raw) > 16384:
        raise TokenError("token is not a compact JWS")
    try:
        obj = jws.extract_compact(raw.encode("ascii"))
    except (JoseError, ValueError, UnicodeError) as exc:
        raise TokenError(f"token header unreadable: {type(exc).__name__}") from None
    return dict(obj.headers())


def check_algorithm(header: Mapping[str, Any], allowed: Iterable[str]) -> str:
    """The portal's own allow-list decides, never the token and never discovery."""
    alg = header.get("alg")
    if isinstance(alg, str) and alg.startswith("HS"):
        raise SymmetricSignature(
            f"token signed with {alg} (a shared secret); give the IdP an asymmetric signing key "
            "(authentik: set the OAuth2 provider's Signing Key)"
        )
    if not isinstance(alg, str) or alg not in set(allowed):
        raise TokenError(f"signing algorithm {alg!r} is not allowed")
    return alg


def verify_signature(raw: str, key: Key, alg: str) -> dict[str, Any]:
    """Verify the signature with exactly one algorithm and return the claims."""
    try:
        token = jwt.decode(raw, key, algorithms=[alg])
    except (JoseError, ValueError) as exc:
        raise TokenError(f"signature check failed: {type(exc).__name__}") from None
    return dict(token.claims)


def check_issuer(claims: Mapping[str, Any], issuer: str) -> None:
    """Exact string comparison: authentik's issuer ends with '/', Keycloak's does not."""
    if claims.get("iss") != issuer:
        raise TokenError(
            f"iss {claims.get('iss')!r} does not match the configured issuer {issuer!r}"
        )


def check_audience(claims: Mapping[str, Any], client_id: str) -> None:
    """aud must contain the client id; azp must be the client id when there are several."""
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or client_id not in audiences:
        raise TokenError("aud does not contain this portal's client id")
    azp = claims.get("azp")
    if len(audiences) > 1 and azp != client_id:
        raise TokenError("several audiences and azp is not this portal's client id")
    if azp is not None and azp != client_id:
        raise TokenError("azp is not this portal's client id")


def check_expiry(
    claims: Mapping[str, Any], now: float, skew: int, *, required: bool = True
) -> None:
    """exp in the future, with ``skew`` leeway (optional in logout tokens)."""
    exp = claims.get("exp")
    if exp is None and not required:
        return
    if not _is_number(exp):
        raise TokenError("exp is missing")
    if now > exp + skew:
        raise TokenError("token has expired")


def check_issued_at(claims: Mapping[str, Any], now: float, skew: int, max_age: int) -> None:
    """iat neither in the future nor older than ``max_age``, both with ``skew`` leeway."""
    iat = claims.get("iat")
    if not _is_number(iat):
        raise TokenError("iat is missing")
    if iat > now + skew:
        raise TokenError("iat is in the future")
    if iat < now - max_age - skew:
        raise TokenError("iat is too old")


def check_times(claims: Mapping[str, Any], now: float, skew: int, max_age: int) -> None:
    check_expiry(claims, now, skew)
    check_issued_at(claims, now, skew, max_age)


def check_nonce(claims: Mapping[str, Any], nonce: str) -> None:
    """The nonce sent in the authorization request binds the token to this browser's login."""
    if not nonce or claims.get("nonce") != nonce:
        raise TokenError("nonce does not match the login request")


def check_subject(claims: Mapping[str, Any]) -> str:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise TokenError("sub is missing")
    return sub


def check_auth_time(claims: Mapping[str, Any], now: float, skew: int, max_age: int | None) -> None:
    """auth_time must be present and, when max_age was requested, recent enough (Core 3.1.2.1)."""
    auth_time = claims.get("auth_time")
    if not _is_number(auth_time):
        raise TokenError("auth_time is missing")
    if auth_time > now + skew:
        raise TokenError("auth_time is in the future")
    if max_age is not None and auth_time < now - max_age - skew:
        raise TokenError("auth_time is older than the max_age the portal asked for")


def check_mfa_evidence(
    claims: Mapping[str, Any], accepted_amr: Iterable[str], accepted_acr: Iterable[str]
) -> None:
    """Refuse a sign-in that does not show a second factor (a misconfigured IdP flow)."""
    amr = claims.get("amr")
    amr_values = set(amr) if isinstance(amr, list) else set()
    if amr_values & set(accepted_amr):
        return
    if claims.get("acr") in set(accepted_acr):
        return
    raise MissingMfaEvidence(
        f"no second-factor evidence: amr={sorted(amr_values)} acr={claims.get('acr')!r}"
    )


def groups_in(claims: Mapping[str, Any], claim: str) -> tuple[str, ...] | None:
    """The groups a claim lists, or None when the claim is absent.

    A list of strings (authentik, Keycloak's group membership mapper), or one string (some
    IdPs send a lone group that way). Other values count as no group at all.
    """
    if claim not in claims:
        return None
    value = claims[claim]
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def check_groups(groups: Iterable[str] | None, allowed: Iterable[str], claim: str) -> None:
    """Access by group (like oauth2-proxy's --allowed-group or mod_auth_openidc's ``Require
    claim``): one of ``allowed`` must be among ``groups``. No ``allowed`` means anyone the
    IdP signs in. Names are compared exactly (Keycloak: turn "Full group path" off)."""
    wanted = set(allowed)
    if not wanted:
        return
    if groups is None:
        raise NotInAllowedGroup(f"no {claim!r} claim, and PORTAL_ALLOWED_GROUPS is set")
    if not wanted & set(groups):
        raise NotInAllowedGroup(f"{claim!r} lists none of the allowed groups")


def signed_in_during_login(
    claims: Mapping[str, Any], *, login_started_at: float, now: float
) -> bool:
    """Whether the IdP asked the customer to sign in (password, code) during this login.

    Core 2 defines ``auth_time`` as the time of the End-User authentication: a sign-in during
    this login has an ``auth_time`` after the moment the portal sent the browser to the IdP,
    while a login that passed silently through a live SSO session carries the earlier one.

    The IdP's clock may differ from the portal's by more than a login lasts, so the start is
    moved onto the IdP's clock: the ID token was issued (``iat``) moments ago, and the login
    started ``now - login_started_at`` seconds before that (an estimate never later than the
    true start, since ``iat`` is rounded down). ``auth_time`` is whole seconds too, so a sign-in
    in the same second as that estimate counts as during the login: a silent Login pressed
    within a second or two of the sign-in shows the redirection page once more (harmless),
    and an interactive one is never taken for silent.
    """
    auth_time = claims.get("auth_time")
    if not _is_number(auth_time):
        return True
    issued_at = claims.get("iat")
    idp_now = float(issued_at) if _is_number(issued_at) else now
    started_on_idp_clock = idp_now - max(0.0, now - login_started_at)
    return float(auth_time) >= math.floor(started_on_idp_clock)


def check_userinfo_subject(userinfo: Mapping[str, Any], id_token_sub: str) -> None:
    """Core 5.3.2: the userinfo sub must equal the ID token's, or the response is not used."""
    if userinfo.get("sub") != id_token_sub:
        raise TokenError("userinfo sub does not match the ID token")


def check_response_issuer(iss: str | None, issuer: str, advertised: bool) -> None:
    """RFC 9207: when the provider says it sends ``iss``, it must be there and be exact."""
    if iss is None:
        if advertised:
            raise TokenError("authorization response lacks the iss parameter")
        return
    if iss != issuer:
        raise TokenError("authorization response iss does not match the issuer (mix-up?)")


def check_logout_events(claims: Mapping[str, Any]) -> None:
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise TokenError("events claim lacks the back-channel logout event")


def check_no_nonce(claims: Mapping[str, Any]) -> None:
    """A nonce would mean an ID token is being replayed as a logout token (BCL 2.4)."""
    if "nonce" in claims:
        raise TokenError("logout token carries a nonce")


def check_sid_or_sub(claims: Mapping[str, Any]) -> None:
    sid, sub = claims.get("sid"), claims.get("sub")
    for name in ("sid", "sub"):
        if name in claims and not (isinstance(claims[name], str) and 0 < len(claims[name]) <= 255):
            raise TokenError(f"{name} is not a non-empty string")
    if not (isinstance(sid, str) and sid) and not (isinstance(sub, str) and sub):
        raise TokenError("logout token has neither sid nor sub")


def check_jti(claims: Mapping[str, Any]) -> str:
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 255:
        raise TokenError("logout token has no jti")
    return jti


def validate_id_token(
    raw: str,
    *,
    find_key: KeyFinder,
    expected: Expected,
    nonce: str,
    now: float,
    max_age: int | None = None,
) -> dict[str, Any]:
    """All ID token checks in order; returns the claims or raises :class:`TokenError`."""
    header = read_header(raw)
    alg = check_algorithm(header, expected.algorithms)
    claims = verify_signature(raw, find_key(header), alg)
    check_issuer(claims, expected.issuer)
    check_audience(claims, expected.client_id)
    check_times(claims, now, expected.clock_skew, expected.max_token_age)
    check_nonce(claims, nonce)
    check_subject(claims)
    check_auth_time(claims, now, expected.clock_skew, max_age)
    return claims


def validate_logout_token(
    raw: str, *, find_key: KeyFinder, expected: Expected, now: float
) -> dict[str, Any]:
    """Back-Channel Logout 1.0, Section 2.6, steps 1-7 (jti replay is the caller's store)."""
    header = read_header(raw)
    alg = check_algorithm(header, expected.algorithms)
    claims = verify_signature(raw, find_key(header), alg)
    check_issuer(claims, expected.issuer)
    check_audience(claims, expected.client_id)
    check_issued_at(claims, now, expected.clock_skew, expected.max_token_age)
    check_expiry(claims, now, expected.clock_skew, required=False)
    check_logout_events(claims)
    check_no_nonce(claims)
    check_sid_or_sub(claims)
    check_jti(claims)
    return claims


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def unverified_claims(raw: str) -> dict[str, Any]:
    """Claims without verification, for log context on a refused token (never for decisions)."""
    try:
        payload = jws.extract_compact(raw.encode("ascii")).payload
        value = json.loads(payload)
    except (JoseError, ValueError, UnicodeError):
        return {}
    return value if isinstance(value, dict) else {}
