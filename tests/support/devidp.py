"""Run the development IdP (``python -m devidp run``) as a live server for tests.

``start_devidp`` writes a TOML config into ``workdir`` (test hooks on, fast password hashing, a
clock file), starts the IdP on a free loopback port through :class:`LiveProcess` and waits for
``/healthz``. The portal's client is ``portal`` with its URIs derived from ``portal_base_url``
the way DESIGN.md says: ``/auth/callback``, ``/logged-out``, ``/auth/backchannel-logout``.

Tests never sleep to let time pass: ``advance_clock(43200)`` moves the IdP 12 hours ahead by
writing the offset into the clock file, which the IdP re-reads on every call to its clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .processes import REPO_ROOT
from .processes import LiveProcess
from .processes import free_port
from .processes import python_argv

CLIENT_ID = "portal"
REDIRECT_PATH = "/auth/callback"
POST_LOGOUT_PATH = "/logged-out"
BACKCHANNEL_LOGOUT_PATH = "/auth/backchannel-logout"

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password-2fa"
DEFAULT_USERS: tuple[dict[str, str], ...] = (
    {
        "username": DEMO_USERNAME,
        "password": DEMO_PASSWORD,
        "name": "Demo Customer",
        "email": "demo@example.com",
    },
)
BRAND = "Example Business"

#: What the IdP's screens render (the test suites fill forms by these names).
FIELD_USERNAME = "username"
FIELD_PASSWORD = "password"
FIELD_CODE = "code"
BUTTON_USERNAME = "Log in"
BUTTON_CONTINUE = "Continue"
MESSAGE_WRONG_PASSWORD = "Incorrect username or password"
MESSAGE_WRONG_CODE = "code is not valid"
MESSAGE_REUSED_CODE = "already been used"
MESSAGE_LOCKED = "Too many attempts"
ACR_MFA = "urn:devidp:mfa"
ACR_PASSWORD = "urn:devidp:pwd"
AMR_MFA = ["pwd", "otp", "mfa"]


class DevIdP:
    """A running development IdP and the files that configure it."""

    def __init__(
        self, *, workdir: Path, port: int, config_path: Path, db_path: Path, clock_file: Path
    ) -> None:
        self.workdir = workdir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.config_path = config_path
        self.db_path = db_path
        self.clock_file = clock_file
        self.log_path = workdir / "devidp.log"
        self._process: LiveProcess | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {
            "DEVIDP_CONFIG": str(self.config_path),
            "DEVIDP_CLOCK_FILE": str(self.clock_file),
            "DEVIDP_ISSUER": self.url,
            "DEVIDP_DATABASE": str(self.db_path),
            "PYTHONUNBUFFERED": "1",
        }

    def start(self) -> DevIdP:
        argv = python_argv("-m", "devidp", "run", "--host", "127.0.0.1", "--port", str(self.port))
        process = LiveProcess("devidp", argv, env=self.env(), log_path=self.log_path)
        self._process = process.start()
        try:
            process.wait_http(f"{self.url}/healthz")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None

    def restart(self) -> None:
        """Stop and start again on the same port, with the same database and clock file."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._process is not None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> DevIdP:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- clock -------------------------------------------------------------------------------

    def clock_offset(self) -> float:
        text = self.clock_file.read_text().strip() if self.clock_file.exists() else ""
        return float(text) if text else 0.0

    def set_clock_offset(self, seconds: float) -> None:
        """Make the IdP's clock read real time plus ``seconds``."""
        self.clock_file.write_text(repr(float(seconds)))

    def advance_clock(self, seconds: float) -> None:
        """Move the IdP's clock ``seconds`` further ahead."""
        self.set_clock_offset(self.clock_offset() + seconds)

    def now(self) -> float:
        """The IdP's current time (e.g. to compute the TOTP code an app would show)."""
        return time.time() + self.clock_offset()

    # --- admin CLI ---------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``python -m devidp ARGS`` against this IdP's config and database."""
        return subprocess.run(
            python_argv("-m", "devidp", *args),
            cwd=REPO_ROOT,
            env={**os.environ, **self.env()},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def portal_client(portal_base_url: str, client_secret: str) -> dict[str, Any]:
    """The portal's registration, with URIs derived from its base URL."""
    base = portal_base_url.rstrip("/")
    return {
        "client_id": CLIENT_ID,
        "client_secret": client_secret,
        "client_name": "Customer Portal",
        "redirect_uris": [base + REDIRECT_PATH],
        "post_logout_redirect_uris": [base + POST_LOGOUT_PATH],
        "backchannel_logout_uri": base + BACKCHANNEL_LOGOUT_PATH,
        "require_consent": False,
    }


def write_config(
    path: Path,
    *,
    issuer: str,
    db_path: Path,
    clients: Sequence[Mapping[str, Any]],
    users: Sequence[Mapping[str, Any]],
    idp: Mapping[str, Any] | None = None,
) -> None:
    """Write a devidp TOML config for tests (test hooks on, fast password hashing)."""
    settings: dict[str, Any] = {
        "issuer": issuer,
        "brand": BRAND,
        "footer": f"{BRAND} Auth · Powered by the development IdP",
        "sso_session_seconds": 43200,
        "database": str(db_path),
        "secret_key": "test-secret-key-" + path.parent.name,
        "password_hash_method": "pbkdf2:sha256:1000",
        "test_hooks": True,
        "enrolment_amr": "full",
        "skip_totp": False,
    }
    settings.update(idp or {})
    path.write_text(to_toml({"idp": settings, "users": list(users), "clients": list(clients)}))


def start_devidp(
    workdir: Path,
    *,
    portal_base_url: str,
    client_secret: str,
    users: list[dict] | None = None,
    idp: dict | None = None,
    clients_extra: dict | None = None,
    port: int | None = None,
    extra_clients: list[dict] | None = None,
) -> DevIdP:
    """Start a development IdP for the portal at ``portal_base_url``; the caller stops it.

    ``idp`` overrides ``[idp]`` keys (e.g. ``{"enrolment_amr": "authentik"}``),
    ``clients_extra`` overrides keys of the portal's client (e.g. ``{"require_consent": True}``),
    ``extra_clients`` registers more clients.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    devidp = DevIdP(
        workdir=workdir,
        port=port,
        config_path=workdir / "devidp.toml",
        db_path=workdir / "devidp.sqlite3",
        clock_file=workdir / "devidp-clock",
    )
    client = {**portal_client(portal_base_url, client_secret), **(clients_extra or {})}
    write_config(
        devidp.config_path,
        issuer=devidp.url,
        db_path=devidp.db_path,
        clients=[client, *(extra_clients or [])],
        users=list(DEFAULT_USERS) if users is None else users,
        idp=idp,
    )
    devidp.set_clock_offset(0)
    return devidp.start()


# --- a tiny TOML writer (the project has no tomli-w) -------------------------------------------


def to_toml(document: Mapping[str, Any]) -> str:
    """Tables (``dict``) and arrays of tables (``list`` of ``dict``) of simple values."""
    lines: list[str] = []
    for name, value in document.items():
        if isinstance(value, Mapping):
            lines.append(f"[{name}]")
            lines.extend(_pairs(value))
            lines.append("")
        elif isinstance(value, list):
            for table in value:
                lines.append(f"[[{name}]]")
                lines.extend(_pairs(table))
                lines.append("")
        else:
            raise TypeError(f"top-level {name!r} must be a table or an array of tables")
    return "\n".join(lines)


def _pairs(table: Mapping[str, Any]) -> list[str]:
    return [f"{key} = {_value(value)}" for key, value in table.items() if value is not None]


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))  # JSON string escapes are valid TOML basic strings
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
