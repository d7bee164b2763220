"""The portal as a live server: gunicorn as in the Procfile, on a free loopback port."""

from __future__ import annotations

from pathlib import Path

from tests.support.processes import LiveProcess
from tests.support.processes import free_port
from tests.support.processes import python_argv

CLIENT_SECRET = "portal-test-client-secret"
SECRET_KEY = "portal-test-secret-key-0123456789abcdefghijkl"


class LivePortal:
    """One portal process. Several may share one Redis (``redis_url``)."""

    def __init__(
        self,
        workdir: Path,
        *,
        issuer: str,
        port: int | None = None,
        redis_url: str | None = None,
        client_id: str = "portal",
        client_secret: str = CLIENT_SECRET,
        env: dict[str, str] | None = None,
        name: str = "portal",
        workers: int = 1,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.clock_file = workdir / f"{name}-clock"
        self.clock_file.write_text("0")
        self.env = {
            "PORTAL_OIDC_ISSUER": issuer,
            "PORTAL_OIDC_CLIENT_ID": client_id,
            "PORTAL_OIDC_CLIENT_SECRET": client_secret,
            "PORTAL_BASE_URL": self.url,
            "PORTAL_SECRET_KEY": SECRET_KEY,
            "PORTAL_SESSION_DIR": str(workdir / f"{name}-sessions"),
            "PORTAL_TEST_CLOCK_FILE": str(self.clock_file),
            "PORTAL_SSO_NAME": "Example Business Auth",
            "PORTAL_SUPPORT_CONTACT": "support@example.com",
            "PORTAL_RATE_LIMIT": "1000 per minute",
            "PORTAL_LOG_LEVEL": "INFO",
            # the workers' metrics files stay in the test's folder, even if the portal is killed
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / f"{name}-metrics"),
        }
        if redis_url:
            self.env.update(PORTAL_SESSION_BACKEND="redis", PORTAL_REDIS_URL=redis_url)
        self.env.update(env or {})
        self.process = LiveProcess(
            name,
            python_argv(
                "-m",
                "gunicorn",
                "--config",
                "python:portal.gunicorn_conf",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--threads",
                "8",
                "portal:create_app()",
            ),
            env=self.env,
            log_path=workdir / f"{name}.log",
        )

    def start(self) -> LivePortal:
        self.process.start()
        self.process.wait_http(f"{self.url}/healthz")
        return self

    def advance_clock(self, seconds: float) -> None:
        offset = float(self.clock_file.read_text() or 0)
        self.clock_file.write_text(str(offset + seconds))

    def log_text(self) -> str:
        return self.process.log_text()

    def stop(self) -> None:
        self.process.stop()
