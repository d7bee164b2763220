"""`make demo`: the development IdP and the portal, wired together on this machine.

Starts a private redis-server when one is installed (filesystem sessions otherwise), the dev
IdP on 127.0.0.1:9000 and the portal on localhost:8000 (two host names, so the two apps'
cookies stay apart), prints the URL and the demo login, and stops everything on Ctrl-C.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance" / "demo"
IDP_PORT = int(os.environ.get("DEMO_IDP_PORT", "9000"))
PORTAL_PORT = int(os.environ.get("DEMO_PORTAL_PORT", "8000"))


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
    INSTANCE.mkdir(parents=True, exist_ok=True)
    for port, what in ((IDP_PORT, "DEMO_IDP_PORT"), (PORTAL_PORT, "DEMO_PORTAL_PORT")):
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
        "PORTAL_OIDC_ISSUER": f"http://127.0.0.1:{IDP_PORT}",
        "PORTAL_OIDC_CLIENT_ID": client["client_id"],
        "PORTAL_OIDC_CLIENT_SECRET": client["client_secret"],
        "PORTAL_BASE_URL": f"http://localhost:{PORTAL_PORT}",
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

    idp_env = {
        **os.environ,
        "DEVIDP_CONFIG": str(config_path),
        "DEVIDP_ISSUER": f"http://127.0.0.1:{IDP_PORT}",
    }
    idp = subprocess.Popen(
        [sys.executable, "-m", "devidp", "run", "--host", "127.0.0.1", "--port", str(IDP_PORT)],
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
            str(PORTAL_PORT),
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
    wait_http(f"http://127.0.0.1:{IDP_PORT}/healthz", idp, "dev IdP")
    wait_http(f"http://127.0.0.1:{PORTAL_PORT}/healthz", portal, "portal")
    print(
        f"""
  Customer Portal demo is running.

    Portal:    http://localhost:{PORTAL_PORT}/
    Sign-in:   {brand} Auth (dev IdP) at http://127.0.0.1:{IDP_PORT}/
    Username:  {user["username"]}
    Password:  {user["password"]}
    Sessions:  {sessions}

  On the first login scan the QR code with Google Authenticator (or copy the secret).
  Reset the authenticator: .venv/bin/devidp reset-totp {user["username"]}   (DEVIDP_CONFIG=config/devidp.toml)
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
