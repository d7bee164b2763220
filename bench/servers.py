"""The system under test: a real Redis, the live dev IdP, and the portal run from the Procfile.

The portal is started with the Procfile's ``web`` command (gunicorn with
``portal/gunicorn_conf.py``, so its worker and thread counts), bound to a free loopback port
through ``PORTAL_BIND``. Settings are production-like: no test clock file; only the login rate
limit is raised, because every benchmark client comes from 127.0.0.1 (the limit is per IP).
"""

from __future__ import annotations

import os
import runpy
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from bench.cpu import group_pids
from tests.support.devidp import DevIdP
from tests.support.devidp import start_devidp
from tests.support.journey import User
from tests.support.portal_server import CLIENT_SECRET
from tests.support.portal_server import SECRET_KEY
from tests.support.processes import REPO_ROOT
from tests.support.processes import LiveProcess
from tests.support.processes import free_port
from tests.support.redis_server import RedisServer

RATE_LIMIT = "1000000 per minute"
PROCFILE_APP = "portal:create_app()"


def bench_user(n: int) -> User:
    return User(
        username=f"bench{n:04d}",
        password=f"password-of-bench-user-{n:04d}",
        name=f"Bench Customer {n:04d}",
        email=f"bench{n:04d}@example.com",
    )


def procfile_argv(process_type: str = "web") -> list[str]:
    """The Procfile's command for ``process_type``, run with this interpreter's gunicorn."""
    for line in (REPO_ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process_type:
            argv = shlex.split(command)
            if argv[0] != "gunicorn":
                raise RuntimeError(f"Procfile {process_type}: expected gunicorn, got {argv[0]}")
            return [sys.executable, "-m", "gunicorn", *argv[1:]]
    raise RuntimeError(f"Procfile has no {process_type!r} process")


def gunicorn_settings(argv: list[str], env: dict[str, str]) -> dict[str, object]:
    """Workers and threads as the config file named in ``argv`` computes them with ``env``."""
    config = argv[argv.index("--config") + 1]
    with mock.patch.dict(os.environ, env):
        if config.startswith("python:"):
            values = runpy.run_module(config.removeprefix("python:"))
        else:
            values = runpy.run_path(str(REPO_ROOT / config))
    return {"workers": values["workers"], "threads": values["threads"]}


@dataclass
class Portal:
    url: str
    process: LiveProcess
    argv: list[str]
    workers: int
    threads: int

    @property
    def pgid(self) -> int:
        assert self.process.proc is not None
        return self.process.proc.pid

    def log_text(self) -> str:
        return self.process.log_text()


class Servers:
    """Start Redis, the dev IdP with ``users`` and the portal; ``stop()`` ends all three.

    ``app`` replaces the Procfile's app (``portal:create_app()``), as a deployer's own
    factory does; the command and its gunicorn settings stay the Procfile's.
    """

    def __init__(self, workdir: Path, users: list[User], *, app: str | None = None) -> None:
        self.workdir = workdir
        self.users = users
        self.app = app
        self.redis: RedisServer | None = None
        self.idp: DevIdP | None = None
        self.portal: Portal | None = None

    def start(self) -> Servers:
        try:
            self.redis = RedisServer(self.workdir).start()
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            self.idp = start_devidp(
                self.workdir / "devidp",
                portal_base_url=base_url,
                client_secret=CLIENT_SECRET,
                users=[user.as_config() for user in self.users],
            )
            argv = procfile_argv()
            if self.app:
                argv = [self.app if arg == PROCFILE_APP else arg for arg in argv]
                if self.app not in argv:
                    raise RuntimeError(f"the Procfile's web command does not run {PROCFILE_APP}")
            env = {
                "PORTAL_BIND": f"127.0.0.1:{port}",
                "PORTAL_OIDC_ISSUER": self.idp.url,
                "PORTAL_OIDC_CLIENT_ID": "portal",
                "PORTAL_OIDC_CLIENT_SECRET": CLIENT_SECRET,
                "PORTAL_BASE_URL": base_url,
                "PORTAL_SECRET_KEY": SECRET_KEY,
                "PORTAL_SESSION_BACKEND": "redis",
                "PORTAL_REDIS_URL": self.redis.url,
                "PORTAL_SSO_NAME": "Example Business Auth",
                "PORTAL_SUPPORT_CONTACT": "support@example.com",
                "PORTAL_RATE_LIMIT": RATE_LIMIT,
            }
            process = LiveProcess("portal", argv, env=env, log_path=self.workdir / "portal.log")
            settings = gunicorn_settings(argv, env)
            self.portal = Portal(
                url=base_url,
                process=process,
                argv=argv,
                workers=int(settings["workers"]),
                threads=int(settings["threads"]),
            )
            process.start()
            process.wait_http(f"{base_url}/healthz")
            self._check_workers()
        except BaseException:
            self.stop()
            raise
        return self

    def _check_workers(self) -> None:
        """The worker processes really running: the portal's process group minus the master."""
        assert self.portal is not None
        deadline = time.monotonic() + 10
        while True:
            running = len(group_pids(self.portal.pgid)) - 1
            if running >= self.portal.workers or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # workers boot one after the other
        if running != self.portal.workers:
            raise RuntimeError(
                f"gunicorn runs {running} workers, its config says {self.portal.workers}"
            )

    @property
    def pgids(self) -> dict[str, int]:
        """Process groups to meter: each server runs in its own session."""
        groups = {}
        if self.portal is not None:
            groups["portal"] = self.portal.pgid
        if self.idp is not None and self.idp._process is not None and self.idp._process.proc:
            groups["idp"] = self.idp._process.proc.pid
        if self.redis is not None and self.redis.process.proc is not None:
            groups["redis"] = self.redis.process.proc.pid
        return groups

    def stop(self) -> None:
        if self.portal is not None:
            self.portal.process.stop()
        if self.idp is not None:
            self.idp.stop()
        if self.redis is not None:
            self.redis.stop()
