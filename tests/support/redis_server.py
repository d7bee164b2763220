"""A real redis-server on a free loopback port, in a temporary folder, stopped by the test."""

from __future__ import annotations

import shutil
from pathlib import Path

import redis

from tests.support.processes import LiveProcess
from tests.support.processes import free_port


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed (the README's test command installs it)"
            )
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = LiveProcess(
            "redis-server",
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
                "--protected-mode",
                "yes",
            ],
            log_path=workdir / "redis.log",
        )

    def start(self) -> RedisServer:
        self.process.start()
        self.process.wait_tcp(self.port)
        return self

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def flush(self) -> None:
        with self.client() as client:
            client.flushall()

    def stop(self) -> None:
        self.process.stop()
