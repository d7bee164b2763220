"""Real Redis deployments on loopback for the tests: ACL, Sentinel and Cluster.

Each one is made of real ``redis-server`` processes on free 127.0.0.1 ports, in a temporary
folder, and stopped by the test (``stop()``). Waiting for Redis to converge (a replica in sync,
a cluster's slots agreed, a failover done) polls the servers' own state with a deadline; no
test sleeps a fixed time.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

from tests.support.processes import LiveProcess
from tests.support.processes import free_port

MASTER_NAME = "portalmaster"


def _binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (the README's test command installs it)")
    return binary


def _server(workdir: Path, name: str, port: int, *extra: str) -> LiveProcess:
    folder = workdir / name
    folder.mkdir(parents=True, exist_ok=True)
    return LiveProcess(
        name,
        [
            _binary(),
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(folder),
            *extra,
        ],
        cwd=folder,
        log_path=folder / "redis.log",
    )  # fmt: skip


def wait_until(condition: Callable[[], bool], what: str, *, deadline_s: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after the deadline."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if condition():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)  # polling interval while real servers converge, not a test delay
    raise AssertionError(f"timed out waiting for {what}")


class AclRedis:
    """A standalone Redis whose only usable account is an ACL user with a password."""

    USER = "portal"
    PASSWORD = "portal-acl-password-0123456789"

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://{self.USER}:{self.PASSWORD}@127.0.0.1:{self.port}/0"
        self.process = _server(
            workdir,
            f"acl-{self.port}",
            self.port,
            "--user", "default", "off",
            "--user", self.USER, "on", f">{self.PASSWORD}", "~*", "&*", "+@all",
        )  # fmt: skip

    def start(self) -> AclRedis:
        self.process.start()
        self.process.wait_tcp(self.port)
        return self

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def stop(self) -> None:
        self.process.stop()


class SentinelSet:
    """One master, one replica, three sentinels that fail over within a few seconds."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.ports = {"a": free_port(), "b": free_port()}
        self.servers = {
            "a": _server(workdir, "node-a", self.ports["a"]),
            "b": _server(
                workdir, "node-b", self.ports["b"], "--replicaof", "127.0.0.1", str(self.ports["a"])
            ),
        }
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.sentinels = [self._sentinel(port) for port in self.sentinel_ports]
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        self.url = f"redis+sentinel://{hosts}/{MASTER_NAME}/0"

    def _sentinel(self, port: int) -> LiveProcess:
        folder = self.workdir / f"sentinel-{port}"
        folder.mkdir(parents=True, exist_ok=True)
        conf = folder / "sentinel.conf"
        conf.write_text(
            f"port {port}\n"
            "bind 127.0.0.1\n"
            f"dir {folder}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.ports['a']} 2\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
            f"sentinel failover-timeout {MASTER_NAME} 4000\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        return LiveProcess(
            f"sentinel-{port}",
            [_binary(), str(conf), "--sentinel"],
            cwd=folder,
            log_path=folder / "sentinel.log",
        )

    def start(self) -> SentinelSet:
        for name, server in self.servers.items():
            server.start()
            server.wait_tcp(self.ports[name])
        for port, sentinel in zip(self.sentinel_ports, self.sentinels, strict=True):
            sentinel.start()
            sentinel.wait_tcp(port)
        wait_until(self._replica_in_sync, "the replica to sync")
        wait_until(self._sentinels_agree, "the sentinels to see the master and the replica")
        return self

    def sentinel_client(self, port: int | None = None) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port or self.sentinel_ports[0], socket_timeout=1)

    def master_port(self) -> int:
        """The port of the master as the sentinels see it now."""
        for port in self.sentinel_ports:
            try:
                with self.sentinel_client(port) as client:
                    host, master = client.execute_command(
                        "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME
                    )
                    return int(master)
            except (redis.RedisError, OSError, TypeError):
                continue
        raise AssertionError("no sentinel answers")

    def master_name(self) -> str:
        port = self.master_port()
        return next(name for name, p in self.ports.items() if p == port)

    def node_client(self, name: str) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.ports[name], socket_timeout=1)

    def _replica_in_sync(self) -> bool:
        with self.node_client("b") as client:
            info = client.info("replication")
        return info.get("master_link_status") == "up"

    def _sentinels_agree(self) -> bool:
        for port in self.sentinel_ports:
            with self.sentinel_client(port) as client:
                replicas = client.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)
                sentinels = client.execute_command("SENTINEL", "SENTINELS", MASTER_NAME)
            if len(replicas) < 1 or len(sentinels) < 2:
                return False
        return True

    def wait_replicated(self) -> None:
        """Block until the replica has every write the master took (WAIT 1)."""
        with self.node_client(self.master_name()) as client:
            assert client.execute_command("WAIT", 1, 5000) >= 1

    def kill_master(self) -> str:
        """Kill the master's process (no shutdown, no save); return which node it was."""
        name = self.master_name()
        self.servers[name].stop()
        return name

    def wait_failover(self, old: str) -> str:
        """Wait until the sentinels promoted the other node and it accepts writes."""
        new = "b" if old == "a" else "a"

        def promoted() -> bool:
            if self.master_port() != self.ports[new]:
                return False
            with self.node_client(new) as client:
                return client.info("replication").get("role") == "master"

        wait_until(promoted, f"the sentinels to promote node {new}")
        return new

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in self.servers.values():
            server.stop()


class Cluster:
    """Three masters sharing the 16384 slots, created with ``redis-cli --cluster create``."""

    def __init__(self, workdir: Path, masters: int = 3) -> None:
        self.ports = [free_port() for _ in range(masters)]
        self.servers = [
            _server(
                workdir,
                f"cluster-{port}",
                port,
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
                # the bus port is chosen too, so it is free (the default is port + 10000)
                "--cluster-port",
                str(free_port()),
            )  # fmt: skip
            for port in self.ports
        ]
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.ports)
        self.url = f"redis+cluster://{hosts}"

    def start(self) -> Cluster:
        for port, server in zip(self.ports, self.servers, strict=True):
            server.start()
            server.wait_tcp(port)
        cli = shutil.which("redis-cli")
        assert cli is not None, "redis-cli is not installed (it comes with redis-server)"
        result = subprocess.run(
            [cli, "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        wait_until(self._ready, "the cluster's slots to be agreed")
        return self

    def _ready(self) -> bool:
        for port in self.ports:
            with redis.Redis(host="127.0.0.1", port=port, socket_timeout=1) as client:
                info = client.execute_command("CLUSTER", "INFO")
                if isinstance(info, bytes):
                    info = info.decode()
                if "cluster_state:ok" not in str(info):
                    return False
        return True

    def node_of(self, key: str) -> int:
        """The port of the master that holds ``key``'s slot."""
        with redis.Redis(host="127.0.0.1", port=self.ports[0], socket_timeout=1) as client:
            slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
            for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    return int(master[1])
        raise AssertionError(f"no node holds slot {slot}")

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
