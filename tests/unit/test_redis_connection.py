"""portal/redis_connection.py: every accepted PORTAL_REDIS_URL form means one thing, and a
client made from it reaches a real server in each mode."""

from __future__ import annotations

import pytest
import redis

from portal.redis_connection import RedisTarget
from portal.redis_connection import RedisURLError
from portal.redis_connection import connect
from portal.redis_connection import parse_redis_url
from tests.support.redis_topologies import AclRedis
from tests.support.redis_topologies import Cluster
from tests.support.redis_topologies import SentinelSet
from tests.support.redis_topologies import TlsFiles
from tests.support.redis_topologies import TlsRedis


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", RedisTarget("standalone", "redis://127.0.0.1:6379/0")),
        (
            "rediss://u:p@redis.example.com:6380/1",
            RedisTarget("standalone", "rediss://u:p@redis.example.com:6380/1"),
        ),
        (
            "unix:///run/redis/redis.sock?db=2",
            RedisTarget("standalone", "unix:///run/redis/redis.sock?db=2"),
        ),
        (
            "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/portalmaster/3",
            RedisTarget(
                "sentinel", "", (("10.0.0.1", 26379), ("10.0.0.2", 26379)), "portalmaster", 3
            ),
        ),
        (
            "redis+sentinel://portal:s%40cret@h1:26379/portalmaster",
            RedisTarget("sentinel", "", (("h1", 26379),), "portalmaster", 0, "portal", "s@cret"),
        ),
        (
            "rediss+sentinel://h1:26379/portalmaster/1?ssl_ca_certs=/etc/portal/ca.pem",
            RedisTarget(
                "sentinel",
                "",
                (("h1", 26379),),
                "portalmaster",
                1,
                tls=True,
                ca_file="/etc/portal/ca.pem",
            ),
        ),
        (
            "rediss+cluster://h1:7000",
            RedisTarget("cluster", "", (("h1", 7000),), tls=True),
        ),
        (  # "+" in a path stays a "+"; a "?" in the credentials is theirs
            "rediss+cluster://u:p?w@h1:7000?ssl_ca_certs=/etc/ca+bundle%40v2.pem",
            RedisTarget(
                "cluster",
                "",
                (("h1", 7000),),
                "",
                0,
                "u",
                "p?w",
                tls=True,
                ca_file="/etc/ca+bundle@v2.pem",
            ),
        ),
        (
            "redis+cluster://portal:pw@h1:7000,h2:7001,[::1]:7002",
            RedisTarget(
                "cluster", "", (("h1", 7000), ("h2", 7001), ("::1", 7002)), "", 0, "portal", "pw"
            ),
        ),
    ],
)
def test_accepted_forms(url, expected):
    target = parse_redis_url(url)
    assert (target.mode, target.nodes, target.master, target.db, target.username, target.password) == (
        expected.mode, expected.nodes, expected.master, expected.db, expected.username, expected.password
    )  # fmt: skip


def test_master_name_and_db_are_two_segments_not_one():
    """The ``limits`` library reads /portalmaster/0 as a master named "portalmaster0"."""
    target = parse_redis_url("redis+sentinel://h1:26379/portalmaster/0")
    assert (target.master, target.db) == ("portalmaster", 0)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:6379", r"or redis\[s\]\+cluster:// URL"),
        ("redis+cluster://h1:7000?ssl_ca_certs=/ca.pem", "needs TLS"),
        ("rediss+cluster://h1:7000?ssl_cert_reqs=none", "only parameter taken here"),
        ("rediss+sentinel://h1:26379/m?ssl_ca_certs=", "must name a CA file"),
        ("redis+sentinel://h1:26379", "<master name>"),
        ("redis+sentinel://h1:26379/m/x", "must be a number"),
        ("redis+sentinel://h1:26379/m/0/extra", "<master name>"),
        ("redis+sentinel://h1/m", "host:port"),
        ("redis+cluster://h1:7000,:7001", "host:port"),
        ("redis+cluster://h1:99999", "host:port"),
        ("redis+cluster://h1:7000/0", "takes no path"),
        ("redis://127.0.0.1:6379/notadb", "database"),
    ],
)
def test_malformed_forms_say_what_is_wrong(url, message):
    with pytest.raises(RedisURLError, match=message):
        parse_redis_url(url)


def test_password_is_not_in_repr_or_description():
    target = parse_redis_url("redis+cluster://portal:topsecret@h1:7000")
    assert "topsecret" not in repr(target)
    assert "topsecret" not in target.describe()


def _round_trip(url: str) -> None:
    client = connect(parse_redis_url(url), timeout=2)
    try:
        client.set("portal:test:key", "value", ex=60)
        assert client.get("portal:test:key") == b"value"
    finally:
        client.close()


def test_replies_are_parsed_by_hiredis(redis_server):
    """The C parser (the ``hiredis`` extra of the dependency) is what keeps the Redis read a
    small part of a signed-in page; without it redis-py falls back to its Python parser
    silently, so only this test would notice a lost extra."""
    client = connect(parse_redis_url(redis_server.url), timeout=2)
    connection = client.connection_pool.make_connection()
    try:
        assert type(connection._parser).__name__ == "_HiredisParser"
    finally:
        connection.disconnect()
        client.close()


def test_acl_user_from_the_url(tmp_path):
    server = AclRedis(tmp_path).start()
    try:
        _round_trip(server.url)
        with pytest.raises(Exception, match="(?i)auth|NOPERM|WRONGPASS|denied"):
            _round_trip(f"redis://127.0.0.1:{server.port}/0")
    finally:
        server.stop()


def test_sentinel_finds_the_master(tmp_path):
    sentinels = SentinelSet(tmp_path).start()
    try:
        _round_trip(sentinels.url)
    finally:
        sentinels.stop()


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_cluster_reaches_every_node(tmp_path, tls):
    cluster = Cluster(tmp_path, tls=TlsFiles(tmp_path / "tls") if tls else None).start()
    try:
        assert cluster.url.startswith("rediss+cluster://" if tls else "redis+cluster://")
        client = connect(parse_redis_url(cluster.url), timeout=2)
        try:
            keys = [f"portal:test:{n}" for n in range(30)]
            for key in keys:
                client.set(key, key)
            assert len({cluster.node_of(k) for k in keys}) == 3
            assert all(client.get(k) == k.encode() for k in keys)
        finally:
            client.close()
        if tls:
            untrusted = cluster.url.split("?", 1)[0]  # the system's CAs only
            with pytest.raises(redis.exceptions.RedisClusterException):
                connect(parse_redis_url(untrusted), timeout=2).ping()
    finally:
        cluster.stop()


def test_standalone_over_tls_checks_the_certificate(tmp_path):
    server = TlsRedis(tmp_path, TlsFiles(tmp_path / "tls")).start()
    port = server.port
    try:
        _round_trip(server.url)
        # the system's CAs do not know this test CA: the certificate is refused
        with pytest.raises(redis.exceptions.ConnectionError, match="(?i)certificate"):
            _round_trip(f"rediss://127.0.0.1:{port}/0")
        with pytest.raises(redis.exceptions.ConnectionError):
            _round_trip(f"redis://127.0.0.1:{port}/0")  # no TLS: the server does not answer
    finally:
        server.stop()


def test_sentinel_over_tls_finds_the_master(tmp_path):
    sentinels = SentinelSet(tmp_path, tls=TlsFiles(tmp_path / "tls")).start()
    try:
        assert sentinels.url.startswith("rediss+sentinel://")
        _round_trip(sentinels.url)
        with pytest.raises(redis.exceptions.ConnectionError):
            _round_trip(sentinels.url.split("?", 1)[0])  # the system's CAs only
    finally:
        sentinels.stop()
