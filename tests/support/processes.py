"""Start real servers on free loopback ports and stop them again.

Modelled on werkzeug's ``dev_server`` fixture: the server runs in a subprocess bound to
127.0.0.1, the test polls a health URL until it answers (with a deadline, never a bare
sleep), and the process group is killed in a finalizer so no test leaves a server behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """Ask the kernel for a free loopback port (bind to 0, read it back, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveProcess:
    """A subprocess that serves HTTP (or TCP) on loopback and is stopped by the test."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd or REPO_ROOT
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file = None

    def start(self) -> LiveProcess:
        out = subprocess.DEVNULL
        if self.log_path is not None:
            self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            out = self._log_file
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def wait_http(self, url: str, *, deadline_s: float = 30.0) -> None:
        """Poll ``url`` until it answers 200; fail with the server's log otherwise."""
        end = time.monotonic() + deadline_s
        last_error: Exception | None = None
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                code, log = self.proc.returncode, self.log_text()[-4000:]
                self.stop()  # closes the log file, so no handle outlives the failure
                raise RuntimeError(f"{self.name} exited with {code}:\n{log}")
            try:
                if requests.get(url, timeout=1).status_code == 200:
                    return
            except requests.RequestException as exc:
                last_error = exc
            time.sleep(0.05)  # polling interval while a real process boots, not a test delay
        self.stop()
        raise RuntimeError(
            f"{self.name} did not answer {url}: {last_error}\n{self.log_text()[-4000:]}"
        )

    def wait_tcp(self, port: int, *, deadline_s: float = 15.0) -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                log = self.log_text()[-4000:]
                self.stop()
                raise RuntimeError(f"{self.name} exited:\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen on {port}\n{self.log_text()[-4000:]}")

    def stop(self) -> None:
        """Terminate the whole process group; kill it if it does not leave in time."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self.proc = None


def python_argv(*args: str) -> list[str]:
    """Run with the interpreter that runs the tests, so the virtual environment is used."""
    return [sys.executable, *args]
