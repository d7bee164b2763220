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


class TlsFiles:
    """A CA and a server certificate for 127.0.0.1 (and localhost), made for one test.

    Every server of a TLS deployment uses the same pair; clients check it against ``ca``.
    """

    def __init__(self, folder: Path) -> None:
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        folder.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)

        def certificate(subject: str, key, issuer: str, issuer_key, *, ca: bool) -> bytes:
            builder = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            )
            if not ca:
                names = [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost"),
                ]
                builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
            cert = builder.sign(issuer_key, hashes.SHA256())
            return cert.public_bytes(serialization.Encoding.PEM)

        def pem(key) -> bytes:
            return key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )

        ca_key, server_key = (
            ec.generate_private_key(ec.SECP256R1()),
            ec.generate_private_key(ec.SECP256R1()),
        )
        self.ca = folder / "ca.pem"
        self.cert = folder / "server.pem"
        self.key = folder / "server-key.pem"
        self.ca.write_bytes(
            certificate("portal test CA", ca_key, "portal test CA", ca_key, ca=True)
        )
        self.cert.write_bytes(
            certificate("127.0.0.1", server_key, "portal test CA", ca_key, ca=False)
        )
        self.key.write_bytes(pem(server_key))
        self.key.chmod(0o600)

    def server_args(self) -> list[str]:
        """redis-server's TLS options: this certificate; clients need none of their own."""
        return [
            "--tls-cert-file", str(self.cert),
            "--tls-key-file", str(self.key),
            "--tls-ca-cert-file", str(self.ca),
            "--tls-auth-clients", "no",
        ]  # fmt: skip

    def client_kwargs(self) -> dict[str, object]:
        return {"ssl": True, "ssl_ca_certs": str(self.ca)}


def _server(
    workdir: Path, name: str, port: int, *extra: str, tls: TlsFiles | None = None
) -> LiveProcess:
    """A redis-server on ``port``: plain TCP, or with ``tls`` that port speaks TLS only."""
    folder = workdir / name
    folder.mkdir(parents=True, exist_ok=True)
    ports = ["--port", str(port)] if tls is None else ["--port", "0", "--tls-port", str(port)]
    return LiveProcess(
        name,
        [
            _binary(),
            "--bind", "127.0.0.1",
            *ports,
            *(tls.server_args() if tls is not None else []),
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


class TlsRedis:
    """A standalone Redis that speaks TLS only, with a certificate of :class:`TlsFiles`."""

    def __init__(self, workdir: Path, tls: TlsFiles) -> None:
        self.port = free_port()
        self.url = f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={tls.ca}"
        self.process = _server(workdir, f"tls-{self.port}", self.port, tls=tls)

    def start(self) -> TlsRedis:
        self.process.start()
        self.process.wait_tcp(self.port)
        return self

    def stop(self) -> None:
        self.process.stop()


class SentinelSet:
    """One master, one replica, three sentinels that fail over within a few seconds; with
    ``tls``, the nodes, the replication, the sentinels and the clients speak TLS only."""

    def __init__(self, workdir: Path, *, tls: TlsFiles | None = None) -> None:
        self.workdir = workdir
        self.tls = tls
        replication = ["--tls-replication", "yes"] if tls is not None else []
        self.ports = {"a": free_port(), "b": free_port()}
        self.servers = {
            "a": _server(workdir, "node-a", self.ports["a"], *replication, tls=tls),
            "b": _server(
                workdir,
                "node-b",
                self.ports["b"],
                "--replicaof",
                "127.0.0.1",
                str(self.ports["a"]),
                *replication,
                tls=tls,
            ),  # fmt: skip
        }
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.sentinels = [self._sentinel(port) for port in self.sentinel_ports]
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        if tls is None:
            self.url = f"redis+sentinel://{hosts}/{MASTER_NAME}/0"
        else:
            self.url = f"rediss+sentinel://{hosts}/{MASTER_NAME}/0?ssl_ca_certs={tls.ca}"

    def _client(self, port: int) -> redis.Redis:
        extra = self.tls.client_kwargs() if self.tls is not None else {}
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, **extra)

    def _sentinel(self, port: int) -> LiveProcess:
        folder = self.workdir / f"sentinel-{port}"
        folder.mkdir(parents=True, exist_ok=True)
        conf = folder / "sentinel.conf"
        if self.tls is None:
            listen = f"port {port}\n"
        else:
            listen = (
                f"port 0\ntls-port {port}\ntls-replication yes\n"
                f"tls-cert-file {self.tls.cert}\ntls-key-file {self.tls.key}\n"
                f"tls-ca-cert-file {self.tls.ca}\ntls-auth-clients no\n"
            )
        conf.write_text(
            listen + "bind 127.0.0.1\n"
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
        return self._client(port or self.sentinel_ports[0])

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
        return self._client(self.ports[name])

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
    """Three masters sharing the 16384 slots, created with ``redis-cli --cluster create``;
    with ``tls``, every node, the cluster bus and the clients speak TLS only."""

    def __init__(self, workdir: Path, masters: int = 3, *, tls: TlsFiles | None = None) -> None:
        self.tls = tls
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
                *(["--tls-cluster", "yes"] if tls is not None else []),
                tls=tls,
            )  # fmt: skip
            for port in self.ports
        ]
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.ports)
        if tls is None:
            self.url = f"redis+cluster://{hosts}"
        else:
            self.url = f"rediss+cluster://{hosts}?ssl_ca_certs={tls.ca}"

    def node_client(self, port: int) -> redis.Redis:
        extra = self.tls.client_kwargs() if self.tls is not None else {}
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, **extra)

    def start(self) -> Cluster:
        for port, server in zip(self.ports, self.servers, strict=True):
            server.start()
            server.wait_tcp(port)
        cli = shutil.which("redis-cli")
        assert cli is not None, "redis-cli is not installed (it comes with redis-server)"
        tls = ["--tls", "--cacert", str(self.tls.ca)] if self.tls is not None else []
        result = subprocess.run(
            [cli, *tls, "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
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
            with self.node_client(port) as client:
                info = client.execute_command("CLUSTER", "INFO")
                if isinstance(info, bytes):
                    info = info.decode()
                if "cluster_state:ok" not in str(info):
                    return False
        return True

    def node_of(self, key: str) -> int:
        """The port of the master that holds ``key``'s slot."""
        with self.node_client(self.ports[0]) as client:
            slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
            for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    return int(master[1])
        raise AssertionError(f"no node holds slot {slot}")

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
