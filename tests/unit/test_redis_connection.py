"""portal/redis_connection.py: every accepted PORTAL_REDIS_URL form means one thing, and a
client made from it reaches a real server in each mode."""

from __future__ import annotations

import pytest

from portal.redis_connection import RedisTarget
from portal.redis_connection import RedisURLError
from portal.redis_connection import connect
from portal.redis_connection import parse_redis_url
from tests.support.redis_topologies import AclRedis
from tests.support.redis_topologies import Cluster
from tests.support.redis_topologies import SentinelSet


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
        ("http://127.0.0.1:6379", "or redis[+]cluster:// URL"),
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


def test_cluster_reaches_every_node(tmp_path):
    cluster = Cluster(tmp_path).start()
    try:
        client = connect(parse_redis_url(cluster.url), timeout=2)
        try:
            keys = [f"portal:test:{n}" for n in range(30)]
            for key in keys:
                client.set(key, key)
            assert len({cluster.node_of(k) for k in keys}) == 3
            assert all(client.get(k) == k.encode() for k in keys)
        finally:
            client.close()
    finally:
        cluster.stop()
