"""`make demo`: the development IdP and the portal, wired together on this machine.

Starts a private redis-server when one is installed (filesystem sessions otherwise), the dev
IdP on 127.0.0.1:9000 and the portal on localhost:8000 (two host names, so the two apps'
cookies stay apart), prints the URL and the demo login, and stops everything on Ctrl-C.
DEMO_IDP_PORT and DEMO_PORTAL_PORT move them; the IdP gets DEMO_PORTAL_PORT too, so the portal's
redirect, post-logout and back-channel URIs in config/devidp.toml follow the portal's port.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance" / "demo"


def read_port(environ: Mapping[str, str], name: str, default: int) -> int:
    """A port from the environment (empty means unset); a bad value stops the demo, naming it."""
    value = environ.get(name, "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 65536:
        sys.exit(f"demo: {name} must be a port number (1-65535), not {value!r}")
    return int(value)


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """The demo portal's settings as an env file (0600: it holds the secret key), so that
    ``PORTAL_ENV_FILE=instance/demo/portal.env .venv/bin/portal check`` checks the demo."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write("# Written by `make demo`; rewritten at each start.\n")
        out.writelines(f'{name}="{value}"\n' for name, value in sorted(env.items()))


def idp_environment(
    environ: Mapping[str, str], config_path: Path, idp_port: int, portal_port: int
) -> dict[str, str]:
    """The dev IdP's environment: this config, this issuer, and the portal's port."""
    return {
        **environ,
        "DEVIDP_CONFIG": str(config_path),
        "DEVIDP_ISSUER": f"http://127.0.0.1:{idp_port}",
        "DEMO_PORTAL_PORT": str(portal_port),
    }


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def wait_http(url: str, proc: subprocess.Popen, name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"demo: {name} stopped (exit {proc.returncode}); see the lines above")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback URL
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"demo: {name} did not start within 30 s")


def main() -> None:
    idp_port = read_port(os.environ, "DEMO_IDP_PORT", 9000)
    portal_port = read_port(os.environ, "DEMO_PORTAL_PORT", 8000)
    INSTANCE.mkdir(parents=True, exist_ok=True)
    for port, what in ((idp_port, "DEMO_IDP_PORT"), (portal_port, "DEMO_PORTAL_PORT")):
        if not port_free(port):
            sys.exit(f"demo: port {port} is in use; stop what uses it or set {what}")
    config_path = ROOT / "config" / "devidp.toml"
    config = tomllib.loads(config_path.read_text())
    client = next(c for c in config["clients"] if c["client_id"] == "portal")
    user = config["users"][0]
    brand = config["idp"]["brand"]

    secret_file = INSTANCE / "portal-secret-key"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(48))
        secret_file.chmod(0o600)

    procs: list[subprocess.Popen] = []
    portal_env = {
        "PORTAL_OIDC_ISSUER": f"http://127.0.0.1:{idp_port}",
        "PORTAL_OIDC_CLIENT_ID": client["client_id"],
        "PORTAL_OIDC_CLIENT_SECRET": client["client_secret"],
        "PORTAL_BASE_URL": f"http://localhost:{portal_port}",
        "PORTAL_SECRET_KEY": secret_file.read_text().strip(),
        "PORTAL_SSO_NAME": f"{brand} Auth",
        "PORTAL_SESSION_DIR": str(INSTANCE / "sessions"),
    }
    redis_binary = shutil.which("redis-server")
    if redis_binary:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            redis_port = sock.getsockname()[1]
        procs.append(
            subprocess.Popen(
                [
                    redis_binary,
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(redis_port),
                    "--save",
                    "",
                    "--dir",
                    str(INSTANCE),
                ],
                stdout=subprocess.DEVNULL,
            )
        )
        portal_env.update(
            PORTAL_SESSION_BACKEND="redis", PORTAL_REDIS_URL=f"redis://127.0.0.1:{redis_port}/0"
        )
        sessions = "Redis"
    else:
        sessions = "files (no redis-server installed)"

    env_file = INSTANCE / "portal.env"
    write_env_file(env_file, portal_env)

    idp_env = idp_environment(os.environ, config_path, idp_port, portal_port)
    idp = subprocess.Popen(
        [sys.executable, "-m", "devidp", "run", "--host", "127.0.0.1", "--port", str(idp_port)],
        env=idp_env,
        cwd=ROOT,
    )
    procs.append(idp)
    portal = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "portal",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(portal_port),
        ],
        env={**os.environ, **portal_env},
        cwd=ROOT,
    )
    procs.append(portal)

    def stop(*_: object) -> None:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        print("\ndemo: stopped")
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    wait_http(f"http://127.0.0.1:{idp_port}/healthz", idp, "dev IdP")
    wait_http(f"http://127.0.0.1:{portal_port}/healthz", portal, "portal")
    print(
        f"""
  Customer Portal demo is running.

    Portal:    http://localhost:{portal_port}/
    Sign-in:   {brand} Auth (dev IdP) at http://127.0.0.1:{idp_port}/
    Username:  {user["username"]}
    Password:  {user["password"]}
    Sessions:  {sessions}

  On the first login scan the QR code with Google Authenticator (or copy the secret).
  Reset the authenticator: .venv/bin/devidp reset-totp {user["username"]}   (DEVIDP_CONFIG=config/devidp.toml)
  Check the IdP as a deployer would: PORTAL_ENV_FILE={env_file.relative_to(ROOT)} .venv/bin/portal check
  Press Ctrl-C to stop.
""",
        flush=True,
    )
    while True:
        for proc in procs:
            if proc.poll() is not None:
                print(f"demo: a process stopped (exit {proc.returncode}); stopping the rest")
                stop()
        time.sleep(1)


if __name__ == "__main__":
    main()
