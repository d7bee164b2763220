"""Every setting of the development IdP, its default, and the checks made at start-up.

Settings are layered like the Flask tutorial's factory: ``DEFAULTS``, then the TOML file named by
``DEVIDP_CONFIG`` (default ``config/devidp.toml``), then the environment (``DEVIDP_ISSUER``,
``DEVIDP_DATABASE``), then the test mapping. :func:`parse` turns the merged Flask config into one
typed :class:`Settings` object and refuses to start with a :class:`ConfigError` that names the bad
key. The issuer rule follows OpenID Connect Discovery 1.0 §3 (an https URL without query or
fragment), relaxed to plain http on loopback hosts so the demo runs without certificates.

Clients' URIs in the file may contain ``${DEMO_PORTAL_PORT}``, replaced when the file is read by
the port the demo runs the portal on (the ``DEMO_PORTAL_PORT`` environment variable, 8000 when
unset or empty), so ``DEMO_PORTAL_PORT=8001 make demo`` registers the portal at that port.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from werkzeug.security import generate_password_hash

DEFAULT_CONFIG_PATH = "config/devidp.toml"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
ENROLMENT_AMR_MODES = ("full", "authentik")
#: What a re-authentication (``prompt=login``, ``max_age``) does to the SSO session; see
#: :func:`devidp.sso.reauthenticate`. ``new-session`` (authentik's way) is the default.
REAUTH_NEW_SESSION = "new-session"
REAUTH_KEEP_SESSION = "keep-session"
REAUTH_MODES = (REAUTH_NEW_SESSION, REAUTH_KEEP_SESSION)
DEV_SECRET_KEY = "dev-only-change-me"  # noqa: S105 - the known-weak value refused off loopback

#: Longest username accepted anywhere (the login page, add-user, the config file), as authentik.
MAX_USERNAME_LENGTH = 150

PORTAL_PORT_ENV = "DEMO_PORTAL_PORT"
PORTAL_PORT_PLACEHOLDER = "${" + PORTAL_PORT_ENV + "}"
DEFAULT_PORTAL_PORT = 8000
#: Client keys whose URIs may carry ``PORTAL_PORT_PLACEHOLDER``.
CLIENT_URI_KEYS = ("redirect_uris", "post_logout_redirect_uris", "backchannel_logout_uri")

#: [idp] key in the TOML file -> Flask config key.
IDP_KEYS = {
    "issuer": "DEVIDP_ISSUER",
    "brand": "DEVIDP_BRAND",
    "footer": "DEVIDP_FOOTER",
    "sso_session_seconds": "DEVIDP_SSO_SESSION_SECONDS",
    "database": "DEVIDP_DATABASE",
    "secret_key": "SECRET_KEY",
    "password_hash_method": "DEVIDP_PASSWORD_HASH_METHOD",
    "test_hooks": "DEVIDP_TEST_HOOKS",
    "enrolment_amr": "DEVIDP_ENROLMENT_AMR",
    "skip_totp": "DEVIDP_SKIP_TOTP",
    "reauth": "DEVIDP_REAUTH",
    "trusted_proxies": "DEVIDP_TRUSTED_PROXIES",
}

#: Environment variables that override the file.
ENV_KEYS = ("DEVIDP_ISSUER", "DEVIDP_DATABASE")

DEFAULTS: dict[str, Any] = {
    "DEVIDP_ISSUER": "http://127.0.0.1:9000",
    "DEVIDP_BRAND": "Example Business",
    "DEVIDP_FOOTER": None,  # derived from the brand when unset
    "DEVIDP_SSO_SESSION_SECONDS": 43200,
    "DEVIDP_DATABASE": "instance/devidp.sqlite3",
    "SECRET_KEY": None,
    "DEVIDP_PASSWORD_HASH_METHOD": "scrypt",
    "DEVIDP_TEST_HOOKS": False,
    "DEVIDP_ENROLMENT_AMR": "full",
    "DEVIDP_SKIP_TOTP": False,
    "DEVIDP_REAUTH": REAUTH_NEW_SESSION,
    "DEVIDP_TRUSTED_PROXIES": 0,
    "DEVIDP_USERS": [],
    "DEVIDP_CLIENTS": [],
}

USER_KEYS = frozenset({"username", "password", "name", "email", "groups"})
CLIENT_KEYS = frozenset(
    {
        "client_id",
        "client_secret",
        "client_name",
        "redirect_uris",
        "post_logout_redirect_uris",
        "backchannel_logout_uri",
        "require_consent",
    }
)


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and the reason."""


@dataclass(frozen=True)
class UserSeed:
    """A user listed in the config file, created in the database when absent."""

    username: str
    password: str
    name: str
    email: str
    #: Sent as the ``groups`` claim, as authentik does with the profile scope. Read from the
    #: file at every start (unlike the password, which only seeds a new user).
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClientConfig:
    """A relying party registered with the IdP (read from the file at every start)."""

    client_id: str
    client_secret: str
    client_name: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    backchannel_logout_uri: str | None
    require_consent: bool


@dataclass(frozen=True)
class Settings:
    """The checked settings of one IdP instance."""

    issuer: str
    brand: str
    footer: str
    sso_session_seconds: int
    database: Path
    secret_key: str
    password_hash_method: str
    test_hooks: bool
    enrolment_amr: str
    skip_totp: bool
    reauth: str
    #: Reverse proxies in front of the IdP whose X-Forwarded-For counts (the client address
    #: the per-address lockout uses); 0 when clients reach it directly.
    trusted_proxies: int
    users: tuple[UserSeed, ...]
    clients: Mapping[str, ClientConfig]

    @property
    def secure_cookies(self) -> bool:
        return self.issuer.startswith("https://")

    def groups_of(self, username: str) -> tuple[str, ...]:
        """The groups the config file gives ``username``; none for users it does not list
        (``devidp add-user``)."""
        for seed in self.users:
            if seed.username == username:
                return seed.groups
        return ()


def config_path(test_config: Mapping[str, Any] | None, environ: Mapping[str, str]) -> str | None:
    """The TOML file to read; a test mapping may name another one, or ``None`` for none."""
    if test_config is not None and "DEVIDP_CONFIG" in test_config:
        return test_config["DEVIDP_CONFIG"]
    return environ.get("DEVIDP_CONFIG") or DEFAULT_CONFIG_PATH


def read_file(path: str | Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read the TOML file into Flask config keys (see ``IDP_KEYS``).

    ``${DEMO_PORTAL_PORT}`` in clients' URIs becomes the port named by ``environ`` (default
    ``os.environ``), see :func:`portal_port`.
    """
    path = Path(path)
    environ = os.environ if environ is None else environ
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found (set DEVIDP_CONFIG)") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None

    unknown = set(data) - {"idp", "users", "clients"}
    if unknown:
        raise ConfigError(f"{path}: unknown section {sorted(unknown)[0]!r}")
    idp = data.get("idp", {})
    if not isinstance(idp, dict):
        raise ConfigError(f"{path}: [idp] must be a table")
    mapping: dict[str, Any] = {}
    for key, value in idp.items():
        if key not in IDP_KEYS:
            raise ConfigError(f"{path}: unknown key [idp] {key!r}")
        mapping[IDP_KEYS[key]] = value
    for section, target in (("users", "DEVIDP_USERS"), ("clients", "DEVIDP_CLIENTS")):
        if section in data:
            if not isinstance(data[section], list):
                raise ConfigError(f"{path}: {section} must be written as [[{section}]] tables")
            mapping[target] = data[section]
    if "DEVIDP_CLIENTS" in mapping:
        mapping["DEVIDP_CLIENTS"] = expand_portal_port(mapping["DEVIDP_CLIENTS"], environ)
    return mapping


def portal_port(environ: Mapping[str, str]) -> int:
    """The demo portal's port: ``DEMO_PORTAL_PORT``, or 8000 when unset or empty."""
    value = environ.get(PORTAL_PORT_ENV, "").strip()
    if not value:
        return DEFAULT_PORTAL_PORT
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 65536:
        raise ConfigError(f"{PORTAL_PORT_ENV} must be a port number (1-65535), not {value!r}")
    return int(value)


def expand_portal_port(clients: Any, environ: Mapping[str, str]) -> Any:
    """Replace ``${DEMO_PORTAL_PORT}`` in every client's URIs (other values are left as they are).

    The variable is only read, and checked, when a URI uses it.
    """
    if not isinstance(clients, list):
        return clients
    port: int | None = None

    def expand(uri: Any) -> Any:
        nonlocal port
        if not isinstance(uri, str) or PORTAL_PORT_PLACEHOLDER not in uri:
            return uri
        if port is None:
            port = portal_port(environ)
        return uri.replace(PORTAL_PORT_PLACEHOLDER, str(port))

    expanded = []
    for entry in clients:
        if isinstance(entry, dict):
            entry = dict(entry)
            for key in CLIENT_URI_KEYS:
                if key in entry:
                    value = entry[key]
                    entry[key] = (
                        [expand(v) for v in value] if isinstance(value, list) else expand(value)
                    )
        expanded.append(entry)
    return expanded


def from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """The environment overrides for the issuer and the database path."""
    return {key: environ[key] for key in ENV_KEYS if environ.get(key)}


def parse(config: Mapping[str, Any]) -> Settings:
    """Check the merged configuration and build :class:`Settings`."""
    issuer = _string(config, "DEVIDP_ISSUER", "issuer")
    check_issuer(issuer)
    brand = _string(config, "DEVIDP_BRAND", "brand")
    footer = config.get("DEVIDP_FOOTER") or default_footer(brand)
    if not isinstance(footer, str):
        raise ConfigError("[idp] footer must be a string")
    sso_seconds = config.get("DEVIDP_SSO_SESSION_SECONDS")
    if isinstance(sso_seconds, bool) or not isinstance(sso_seconds, int) or sso_seconds <= 0:
        raise ConfigError("[idp] sso_session_seconds must be a positive integer")
    secret_key = config.get("SECRET_KEY")
    if not isinstance(secret_key, str) or not secret_key:
        raise ConfigError("[idp] secret_key is required (it signs the IdP's cookies)")
    if secret_key == DEV_SECRET_KEY and not is_loopback_url(issuer):
        raise ConfigError("[idp] secret_key still has the development value on a public issuer")
    hash_method = _string(config, "DEVIDP_PASSWORD_HASH_METHOD", "password_hash_method")
    check_hash_method(hash_method)
    enrolment_amr = _string(config, "DEVIDP_ENROLMENT_AMR", "enrolment_amr")
    if enrolment_amr not in ENROLMENT_AMR_MODES:
        raise ConfigError(f"[idp] enrolment_amr must be one of {', '.join(ENROLMENT_AMR_MODES)}")
    reauth = _string(config, "DEVIDP_REAUTH", "reauth")
    if reauth not in REAUTH_MODES:
        raise ConfigError(f"[idp] reauth must be one of {', '.join(REAUTH_MODES)}")
    proxies = config.get("DEVIDP_TRUSTED_PROXIES")
    if isinstance(proxies, bool) or not isinstance(proxies, int) or not 0 <= proxies <= 10:
        raise ConfigError("[idp] trusted_proxies must be a whole number from 0 to 10")
    return Settings(
        issuer=issuer,
        brand=brand,
        footer=footer,
        sso_session_seconds=sso_seconds,
        database=Path(_string(config, "DEVIDP_DATABASE", "database")),
        secret_key=secret_key,
        password_hash_method=hash_method,
        test_hooks=_bool(config, "DEVIDP_TEST_HOOKS", "test_hooks"),
        enrolment_amr=enrolment_amr,
        skip_totp=_bool(config, "DEVIDP_SKIP_TOTP", "skip_totp"),
        reauth=reauth,
        trusted_proxies=proxies,
        users=tuple(_user(entry, i) for i, entry in enumerate(config.get("DEVIDP_USERS") or [])),
        clients=_clients(config.get("DEVIDP_CLIENTS") or []),
    )


def default_footer(brand: str) -> str:
    """The footer when the config names none (the screens show it in their language)."""
    return f"{brand} Auth · Powered by the development IdP"


def check_issuer(issuer: str) -> None:
    """An absolute URL without trailing slash, query or fragment; https unless on loopback."""
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"[idp] issuer {issuer!r} must be an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise ConfigError("[idp] issuer must not have a query or a fragment")
    if issuer.endswith("/"):
        raise ConfigError("[idp] issuer must not end with a slash")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"[idp] issuer {issuer!r} uses http on a non-loopback host; use https "
            "(http is only allowed on 127.0.0.1, ::1 and localhost)"
        )


def check_hash_method(method: str) -> None:
    """Refuse a password hashing method werkzeug does not know (e.g. a typo)."""
    try:
        generate_password_hash("probe", method=method)
    except (ValueError, TypeError):
        raise ConfigError(f"[idp] password_hash_method {method!r} is not supported") from None


def is_loopback_host(host: str) -> bool:
    """True for the hosts on which plain http is accepted."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname or "")


def settings() -> Settings:
    """The settings of the running app."""
    return current_app.extensions["devidp.settings"]


def _string(config: Mapping[str, Any], key: str, name: str) -> str:
    value = config.get(key)
    if not isinstance(value, str | os.PathLike) or not str(value):
        raise ConfigError(f"[idp] {name} must be a non-empty string")
    return str(value)


def _bool(config: Mapping[str, Any], key: str, name: str) -> bool:
    value = config.get(key)
    if not isinstance(value, bool):
        raise ConfigError(f"[idp] {name} must be true or false")
    return value


def _user(entry: Any, index: int) -> UserSeed:
    where = f"[[users]] #{index + 1}"
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} must be a table")
    unknown = set(entry) - USER_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    for key in ("username", "password"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ConfigError(f"{where}: {key} is required")
    for key in ("name", "email"):
        if key in entry and not isinstance(entry[key], str):
            raise ConfigError(f"{where}: {key} must be a string")
    groups = entry.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) and g.strip() for g in groups):
        raise ConfigError(f"{where}: groups must be a list of group names")
    username = entry["username"].strip()
    if len(username) > MAX_USERNAME_LENGTH:
        raise ConfigError(f"{where}: username is longer than {MAX_USERNAME_LENGTH} characters")
    return UserSeed(
        username=username,
        password=entry["password"],
        name=entry.get("name") or username,
        email=entry.get("email", ""),
        groups=tuple(g.strip() for g in groups),
    )


def _clients(entries: Any) -> dict[str, ClientConfig]:
    clients: dict[str, ClientConfig] = {}
    for index, entry in enumerate(entries):
        client = _client(entry, index)
        if client.client_id in clients:
            raise ConfigError(f"[[clients]]: client_id {client.client_id!r} is listed twice")
        clients[client.client_id] = client
    return clients


def _client(entry: Any, index: int) -> ClientConfig:
    where = f"[[clients]] #{index + 1}"
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} must be a table")
    unknown = set(entry) - CLIENT_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    for key in ("client_id", "client_secret"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise ConfigError(f"{where}: {key} is required")
    where = f"client {entry['client_id']!r}"
    redirect_uris = _uri_list(entry.get("redirect_uris"), f"{where}: redirect_uris")
    if not redirect_uris:
        raise ConfigError(f"{where}: redirect_uris must list at least one URI")
    backchannel = entry.get("backchannel_logout_uri") or None
    if backchannel is not None:
        _uri_list([backchannel], f"{where}: backchannel_logout_uri")
    require_consent = entry.get("require_consent", False)
    if not isinstance(require_consent, bool):
        raise ConfigError(f"{where}: require_consent must be true or false")
    client_name = entry.get("client_name") or entry["client_id"]
    if not isinstance(client_name, str):
        raise ConfigError(f"{where}: client_name must be a string")
    return ClientConfig(
        client_id=entry["client_id"],
        client_secret=entry["client_secret"],
        client_name=client_name,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=_uri_list(
            entry.get("post_logout_redirect_uris", []), f"{where}: post_logout_redirect_uris"
        ),
        backchannel_logout_uri=backchannel,
        require_consent=require_consent,
    )


def _uri_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list of URIs")
    for uri in value:
        parts = urlsplit(uri) if isinstance(uri, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}: {uri!r} is not an absolute http(s) URI")
        if parts.fragment:
            raise ConfigError(f"{where}: {uri!r} must not have a fragment")
    return tuple(value)
