"""One Redis client, in the mode ``PORTAL_REDIS_URL`` names, for everything the portal keeps there.

Sessions, the sid/sub index, the jti memory and the rate-limit counters all go through the
client :func:`connect` returns, so they always land in the same Redis, whichever mode:

* ``redis://`` / ``rediss://`` (TLS) / ``unix://``: one server; ACL user and password come from
  the URL, as redis-py reads them.
* ``redis+sentinel://[user:pass@]h1:p1[,h2:p2...]/<master name>[/db]``: the master is asked of
  the sentinels and asked again after a failover (redis-py's ``SentinelConnectionPool``). The
  user and password are the data nodes'; sentinels are reached without them.
* ``redis+cluster://[user:pass@]h1:p1[,h2:p2...]``: Redis Cluster; the nodes given are only
  where the client starts, it learns the others from them.
* ``rediss+sentinel://`` and ``rediss+cluster://``: the same over TLS, sentinels included,
  with the server certificates checked against the system's CAs, or against the file named by
  ``?ssl_ca_certs=/path/ca.pem`` (which ``rediss://`` takes too, as redis-py reads it).

The URL forms are parsed here rather than by redis-py or the ``limits`` library because each
of those reads the sentinel form differently (``limits`` takes ``/portalmaster/0`` for a
master named ``portalmaster0``); one parser means one meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Literal
from urllib.parse import unquote
from urllib.parse import urlsplit

import redis
from redis.cluster import ClusterNode
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel

Mode = Literal["standalone", "sentinel", "cluster"]
RedisClient = redis.Redis | RedisCluster

STANDALONE_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"
#: The TLS forms of the two above.
TLS_SCHEMES = {"rediss+sentinel": SENTINEL_SCHEME, "rediss+cluster": CLUSTER_SCHEME}
#: The one query parameter the Sentinel and Cluster forms take.
CA_PARAMETER = "ssl_ca_certs"


class RedisURLError(ValueError):
    """The URL is not one of the accepted forms; ``str()`` says what is wrong."""


@dataclass(frozen=True)
class RedisTarget:
    """Where the portal's Redis is, parsed from ``PORTAL_REDIS_URL``."""

    mode: Mode
    url: str = field(repr=False)
    nodes: tuple[tuple[str, int], ...] = ()
    master: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    #: Sentinel and Cluster over TLS (``rediss+...``), and the CA file to check them with.
    tls: bool = False
    ca_file: str | None = None

    def describe(self) -> str:
        """For logs and /readyz: the mode and the hosts, never the password."""
        if self.mode == "standalone":
            parts = urlsplit(self.url)
            where = (
                parts.path if parts.scheme == "unix" else f"{parts.hostname}:{parts.port or 6379}"
            )
            return f"{parts.scheme}://{where}"
        hosts = ",".join(f"{h}:{p}" for h, p in self.nodes)
        master = f" master {self.master}" if self.master else ""
        return f"{self.mode} {hosts}{master}" + (" (TLS)" if self.tls else "")


def parse_redis_url(url: str) -> RedisTarget:
    """Parse any accepted form; raise :class:`RedisURLError` naming what is wrong."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in STANDALONE_SCHEMES:
        try:
            redis.connection.parse_url(url)
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise RedisURLError(str(exc)) from None
        if scheme != "unix" and parts.path.strip("/") and not parts.path.strip("/").isdigit():
            raise RedisURLError(f"the database must be a number, not {parts.path.strip('/')!r}")
        return RedisTarget(mode="standalone", url=url)
    tls = scheme in TLS_SCHEMES
    scheme = TLS_SCHEMES.get(scheme, scheme)
    if scheme not in (SENTINEL_SCHEME, CLUSTER_SCHEME):
        raise RedisURLError(
            "a redis://, rediss://, unix://, redis[s]+sentinel:// or redis[s]+cluster:// URL"
        )
    userinfo, _, hostpart = url.split("://", 1)[1].rpartition("@")
    hostpart, _, query = hostpart.partition("?")  # after the credentials: a "?" there is theirs
    ca_file = _ca_file(query, tls)
    username, password = _credentials(userinfo)
    hosts, _, path = hostpart.partition("/")
    nodes = _nodes(hosts)
    if scheme == CLUSTER_SCHEME:
        if path.strip("/"):
            raise RedisURLError("redis+cluster:// takes no path (a cluster has only db 0)")
        return RedisTarget(
            mode="cluster",
            url=url,
            nodes=nodes,
            username=username,
            password=password,
            tls=tls,
            ca_file=ca_file,
        )
    segments = [unquote(s) for s in path.split("/") if s]
    if not segments or len(segments) > 2:
        raise RedisURLError("redis+sentinel://host:port[,host:port...]/<master name>[/db]")
    db = 0
    if len(segments) == 2:
        if not segments[1].isdigit():
            raise RedisURLError(
                f"the database after the master name must be a number, not {segments[1]!r}"
            )
        db = int(segments[1])
    return RedisTarget(
        mode="sentinel",
        url=url,
        nodes=nodes,
        master=segments[0],
        db=db,
        username=username,
        password=password,
        tls=tls,
        ca_file=ca_file,
    )


def _ca_file(query: str, tls: bool) -> str | None:
    """The CA file of ``?ssl_ca_certs=``, the only parameter these forms take."""
    if not query:
        return None
    # split by hand: parse_qs would read "+" in a path as a space
    params = dict(item.partition("=")[::2] for item in query.split("&") if item)
    unknown = sorted(set(params) - {CA_PARAMETER})
    if unknown:
        raise RedisURLError(f"the only parameter taken here is {CA_PARAMETER}, not {unknown[0]}")
    if not tls:
        raise RedisURLError(f"{CA_PARAMETER} needs TLS: rediss+sentinel:// or rediss+cluster://")
    value = unquote(params[CA_PARAMETER])
    if not value:
        raise RedisURLError(f"{CA_PARAMETER} must name a CA file")
    return value


def _credentials(userinfo: str) -> tuple[str | None, str | None]:
    if not userinfo:
        return None, None
    user, sep, password = userinfo.partition(":")
    if not sep:  # "redis+sentinel://secret@host" reads as a password, as redis-py does
        return None, unquote(user) or None
    return unquote(user) or None, unquote(password) or None


def _nodes(hosts: str) -> tuple[tuple[str, int], ...]:
    nodes = []
    for item in hosts.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RedisURLError(f"each node must be host:port, not {item.strip()!r}")
        nodes.append((host.strip("[]"), int(port)))
    return tuple(nodes)


def connect(target: RedisTarget, *, timeout: float) -> RedisClient:
    """A client for ``target``; every command and connection attempt has ``timeout``."""
    timeouts = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if target.mode == "standalone":
        return redis.Redis.from_url(target.url, **timeouts)
    # redis-py checks the certificate and the host name by default; the CA file only
    # replaces the system's CAs
    tls: dict[str, object] = {"ssl": True} if target.tls else {}
    if target.tls and target.ca_file:
        tls["ssl_ca_certs"] = target.ca_file
    if target.mode == "cluster":
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
            username=target.username,
            password=target.password,
            **timeouts,
            **tls,  # type: ignore[arg-type]
        )
    sentinel = Sentinel(list(target.nodes), sentinel_kwargs={**timeouts, **tls}, **timeouts, **tls)
    return sentinel.master_for(
        target.master,
        db=target.db,
        username=target.username,
        password=target.password,
        **timeouts,
    )
