"""Every ``PORTAL_*`` setting, its default and its check, in one place.

Read once at start-up into a frozen :class:`Settings`. A bad value stops the portal with one
line that names the variable and says what is expected (``SettingsError``), because a
deployer who mistypes an issuer should learn it before the first customer does, not from a
traceback at the first login.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from portal.redis_connection import RedisURLError
from portal.redis_connection import parse_redis_url

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

#: Algorithms the portal ever accepts for ID and logout tokens. HS256 is missing on purpose:
#: it would be keyed with the client secret, which every copy of the portal knows.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

#: Second-factor evidence each provider really sends (see config/*/README.md).
PRESET_MFA_AMR: dict[str, tuple[str, ...]] = {
    "generic": ("otp", "mfa"),
    "authentik": ("mfa",),
    "keycloak": ("otp",),
}


#: Who may read GET /metrics when PORTAL_METRICS_ALLOW is not set: the host itself.
DEFAULT_METRICS_ALLOW = ("127.0.0.1/32", "::1/128")

#: The language the pages are written in; every other one needs a compiled catalogue in
#: TRANSLATIONS (``<lang>/LC_MESSAGES/messages.mo``, made from the ``.po`` file at build time).
SOURCE_LANGUAGE = "en"
TRANSLATIONS = Path(__file__).parent / "translations"
DEFAULT_LANGUAGES = ("en", "fr")


class SettingsError(ValueError):
    """A setting is missing or malformed; ``str()`` is the one line shown to the deployer."""

    def __init__(self, variable: str, expected: str, value: str | None = None) -> None:
        self.variable = variable
        shown = "" if value is None else f" (got {value!r})"
        super().__init__(f"{variable}: expected {expected}{shown}")


@dataclass(frozen=True)
class Settings:
    """The portal's configuration, typed and checked. See README "Configuration"."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    base_url: str
    secret_key: str = field(repr=False)
    session_backend: str = "filesystem"
    session_dir: Path = Path("instance/sessions")
    redis_url: str = "redis://127.0.0.1:6379/0"
    sso_max_age: int = 43200
    idle_timeout: int = 3600
    login_timeout: int = 600
    require_mfa: bool = True
    provider_preset: str = "generic"
    mfa_amr: tuple[str, ...] = ("otp", "mfa")
    mfa_acr: tuple[str, ...] = ()
    clock_skew: int = 60
    id_token_algorithms: tuple[str, ...] = ("RS256", "ES256")
    sso_name: str = ""
    support_contact: str = ""
    http_timeout: float = 5.0
    fresh_auth_max_age: int = 600
    trusted_proxies: int = 0
    rate_limit: str = "30 per minute"
    log_level: str = "INFO"
    log_format: str = "text"
    #: Groups one of which a customer must have (empty: anyone the IdP signs in).
    allowed_groups: tuple[str, ...] = ()
    groups_claim: str = "groups"
    #: Networks whose clients may read GET /metrics (normalised CIDR strings).
    metrics_allow: tuple[str, ...] = DEFAULT_METRICS_ALLOW
    #: Languages offered to customers; the first is the one used when nothing else decides.
    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    test_clock_file: Path | None = None

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/auth/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.base_url}/logged-out"

    @property
    def backchannel_logout_uri(self) -> str:
        return f"{self.base_url}/auth/backchannel-logout"

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed (tests and the CLI use it)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default ``os.environ``).

        ``PORTAL_ENV_FILE`` names a file read first; real environment variables win over it.
        """
        return _parse(environment(environ))


def environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables that have a value, from ``environ`` (default ``os.environ``) over the
    env file that ``PORTAL_ENV_FILE`` names. gunicorn's settings (portal/gunicorn_conf.py)
    read the same, so ``PORTAL_BIND`` or ``PORTAL_WORKERS`` in the env file count too."""
    env = _set_values(os.environ if environ is None else environ)
    env_file = env.get("PORTAL_ENV_FILE")
    if env_file:
        path = Path(env_file)
        if not path.is_file():
            raise SettingsError("PORTAL_ENV_FILE", "a readable env file", env_file)
        env = {**_set_values(dotenv_values(path)), **env}
    return env


def _set_values(environ: Mapping[str, str | None]) -> dict[str, str]:
    """The variables that have a value. ``PORTAL_REDIS_URL=`` (as deployment tools write for
    "not set") behaves as unset, so the default or the env file's value applies."""
    return {k: v.strip() for k, v in environ.items() if v is not None and v.strip()}


def _parse(env: Mapping[str, str]) -> Settings:
    def get(name: str, default: str = "") -> str:
        return env.get(name, "").strip() or default

    def required(name: str, expected: str) -> str:
        value = get(name)
        if not value:
            raise SettingsError(name, expected)
        return value

    issuer = _url(required("PORTAL_OIDC_ISSUER", "the IdP's issuer URL"), "PORTAL_OIDC_ISSUER")
    client_id = required("PORTAL_OIDC_CLIENT_ID", "the portal's client id at the IdP")
    client_secret = required("PORTAL_OIDC_CLIENT_SECRET", "the portal's client secret")
    base_url = _url(
        required("PORTAL_BASE_URL", "the portal's external URL, e.g. https://portal.example.com"),
        "PORTAL_BASE_URL",
    ).rstrip("/")
    if urlsplit(base_url).path not in ("", "/"):
        raise SettingsError("PORTAL_BASE_URL", "a URL without a path", base_url)
    secret_key = required("PORTAL_SECRET_KEY", "a random string of at least 32 characters")
    if len(secret_key) < 32:
        raise SettingsError("PORTAL_SECRET_KEY", "a random string of at least 32 characters")
    if not is_loopback(urlsplit(base_url).hostname):
        _refuse_placeholder("PORTAL_SECRET_KEY", secret_key)
        _refuse_placeholder("PORTAL_OIDC_CLIENT_SECRET", client_secret)

    # A Redis URL alone says where the sessions go; the embedded files are for a portal
    # that names no Redis at all.
    backend = get(
        "PORTAL_SESSION_BACKEND", "redis" if get("PORTAL_REDIS_URL") else "filesystem"
    ).lower()
    if backend not in ("redis", "filesystem"):
        raise SettingsError("PORTAL_SESSION_BACKEND", "'redis' or 'filesystem'", backend)
    redis_url = get("PORTAL_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        parse_redis_url(redis_url)
    except RedisURLError as exc:
        # the URL is not echoed: it may carry the Redis password
        raise SettingsError("PORTAL_REDIS_URL", str(exc)) from None

    preset = get("PORTAL_PROVIDER_PRESET", "generic").lower()
    if preset not in PRESET_MFA_AMR:
        raise SettingsError(
            "PORTAL_PROVIDER_PRESET", "'generic', 'authentik' or 'keycloak'", preset
        )
    mfa_amr = _csv(get("PORTAL_MFA_AMR")) or PRESET_MFA_AMR[preset]
    mfa_acr = _csv(get("PORTAL_MFA_ACR"))

    algorithms = _csv(get("PORTAL_ID_TOKEN_ALGORITHMS", "RS256,ES256"))
    bad = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS]
    if not algorithms or bad:
        raise SettingsError(
            "PORTAL_ID_TOKEN_ALGORITHMS",
            "a comma-separated list of asymmetric algorithms (RS256, ES256, PS256, EdDSA ...)",
            ",".join(bad) or "",
        )

    test_clock = get("PORTAL_TEST_CLOCK_FILE")
    if test_clock and urlsplit(base_url).hostname not in LOOPBACK_HOSTS:
        raise SettingsError("PORTAL_TEST_CLOCK_FILE", "to be used only with a loopback base URL")

    return Settings(
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        base_url=base_url,
        secret_key=secret_key,
        session_backend=backend,
        session_dir=Path(get("PORTAL_SESSION_DIR", "instance/sessions")),
        redis_url=redis_url,
        sso_max_age=_int(env, "PORTAL_SSO_MAX_AGE", 43200, minimum=60),
        idle_timeout=_int(env, "PORTAL_IDLE_TIMEOUT", 3600, minimum=60),
        login_timeout=_int(env, "PORTAL_LOGIN_TIMEOUT", 600, minimum=30),
        require_mfa=_bool(env, "PORTAL_REQUIRE_MFA", True),
        provider_preset=preset,
        mfa_amr=mfa_amr,
        mfa_acr=mfa_acr,
        clock_skew=_int(env, "PORTAL_CLOCK_SKEW", 60, minimum=0, maximum=600),
        id_token_algorithms=algorithms,
        sso_name=get("PORTAL_SSO_NAME") or _name_from_issuer(issuer),
        support_contact=get("PORTAL_SUPPORT_CONTACT"),
        http_timeout=_float(env, "PORTAL_HTTP_TIMEOUT", 5.0, minimum=0.1, maximum=60),
        fresh_auth_max_age=_int(env, "PORTAL_FRESH_AUTH_MAX_AGE", 600, minimum=30),
        trusted_proxies=_int(env, "PORTAL_TRUSTED_PROXIES", 0, minimum=0, maximum=10),
        rate_limit=_rate_limit(get("PORTAL_RATE_LIMIT", "30 per minute")),
        log_level=_log_level(get("PORTAL_LOG_LEVEL", "INFO")),
        log_format=_log_format(get("PORTAL_LOG_FORMAT", "text")),
        allowed_groups=_csv(get("PORTAL_ALLOWED_GROUPS")),
        groups_claim=_claim_name(get("PORTAL_GROUPS_CLAIM", "groups")),
        metrics_allow=_networks(get("PORTAL_METRICS_ALLOW"), "PORTAL_METRICS_ALLOW")
        or DEFAULT_METRICS_ALLOW,
        languages=_languages(get("PORTAL_LANGUAGES", ",".join(DEFAULT_LANGUAGES))),
        test_clock_file=Path(test_clock) if test_clock else None,
    )


#: What config/portal.env.example (and the dev IdP's demo client) write where a secret goes.
PLACEHOLDER = "change-me"


def _refuse_placeholder(name: str, value: str) -> None:
    """A portal reachable beyond this machine must not run on the example's secrets: with
    the example's secret key, anyone can sign session and CSRF cookies. On loopback (the
    demo, the tests) they are allowed, as the dev IdP allows its shipped ones there."""
    if PLACEHOLDER in value.lower():
        raise SettingsError(name, "your own random value, not the example's placeholder")
    if len(value) > 1 and value in (value + value)[1:-1]:  # "abcabc...": a block repeated
        raise SettingsError(name, "a random value, not a block written again and again")


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SettingsError(name, "an absolute https:// URL", value)
    if parts.query or parts.fragment:
        raise SettingsError(name, "a URL without query or fragment", value)
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise SettingsError(
            name, "https (http is accepted only on 127.0.0.1, ::1, localhost)", value
        )
    return value


def _csv(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _int(
    env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    bounds = f"at least {minimum}" + (f" and at most {maximum}" if maximum is not None else "")
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"a whole number of seconds, {bounds}", raw) from None
    if value < minimum or (maximum is not None and value > maximum):
        raise SettingsError(name, f"a whole number, {bounds}", raw)
    return value


def _float(
    env: Mapping[str, str], name: str, default: float, *, minimum: float, maximum: float
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(
            name, f"a number of seconds between {minimum} and {maximum}", raw
        ) from None
    if not minimum <= value <= maximum:
        raise SettingsError(name, f"a number of seconds between {minimum} and {maximum}", raw)
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(name, "true or false", raw)


def _rate_limit(value: str) -> str:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise SettingsError("PORTAL_RATE_LIMIT", "a rate such as '30 per minute'", value) from None
    return value


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError("PORTAL_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR", value)
    return level


def _log_format(value: str) -> str:
    fmt = value.lower()
    if fmt not in ("text", "json"):
        raise SettingsError("PORTAL_LOG_FORMAT", "'text' or 'json'", value)
    return fmt


def _claim_name(value: str) -> str:
    """A top-level claim name: the portal does not walk nested claims."""
    if len(value) > 64 or not all(c.isalnum() or c in "_-:." for c in value):
        raise SettingsError("PORTAL_GROUPS_CLAIM", "a claim name such as 'groups'", value)
    return value


def _networks(value: str, name: str) -> tuple[str, ...]:
    """Comma-separated CIDR networks (a bare address means that address alone)."""
    networks = []
    for item in _csv(value):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise SettingsError(
                name, "comma-separated networks such as 127.0.0.1/32,10.0.0.0/8", item
            ) from None
    return tuple(networks)


def translated_languages() -> tuple[str, ...]:
    """The languages the portal has pages in: its own, and each one with a compiled catalogue."""
    compiled = sorted(
        mo.parent.parent.name for mo in TRANSLATIONS.glob("*/LC_MESSAGES/messages.mo")
    )
    return (SOURCE_LANGUAGE, *(lang for lang in compiled if lang != SOURCE_LANGUAGE))


def _languages(value: str) -> tuple[str, ...]:
    """Language codes (``en,fr``), each one the portal has pages in: a language without its
    catalogue would show English pages under a French ``lang``, so it stops start-up."""
    languages = tuple(dict.fromkeys(item.lower() for item in _csv(value)))
    known = translated_languages()
    if not languages or any(lang not in known for lang in languages):
        raise SettingsError(
            "PORTAL_LANGUAGES",
            f"a comma-separated list of the languages the portal has pages in ({','.join(known)})",
            value,
        )
    return languages


def _name_from_issuer(issuer: str) -> str:
    """``https://auth.example.com/...`` becomes "auth.example.com" when no name is configured."""
    return urlsplit(issuer).hostname or issuer
