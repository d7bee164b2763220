"""Flask-Limiter's counters in the very Redis client the sessions use.

Flask-Limiter builds its storage from a URL, and the ``limits`` library parses Redis URLs its
own way: ``redis+sentinel://h:26379/portalmaster/0`` names a master "portalmaster0" there, so
counters could silently go to another Redis than the sessions, or nowhere (Flask-Limiter
swallows storage errors). This storage is handed the client that
:func:`portal.redis_connection.connect` made, so the counters follow the sessions through
every mode and every failover. It reuses ``limits``' Redis storage (its scripts take one key
each, which a Cluster allows) and only replaces how the connection is made.
"""

from __future__ import annotations

from typing import Any

from limits.storage import RedisStorage
from limits.storage.base import Storage

from portal.redis_connection import RedisClient

#: The URI that selects this storage in RATELIMIT_STORAGE_URI.
SCHEME = "portal+redis"


class SharedRedisStorage(RedisStorage):
    """``limits`` Redis storage over an existing client (``RATELIMIT_STORAGE_OPTIONS``)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(
        self,
        uri: str,
        *,
        client: RedisClient,
        key_prefix: str,
        wrap_exceptions: bool = False,
        **options: Any,
    ) -> None:
        Storage.__init__(self, uri, wrap_exceptions=wrap_exceptions)
        self.key_prefix = key_prefix
        self.target_server = "redis"
        self.dependency = self.dependencies["redis"].module
        self.storage = client
        self.initialize_storage(uri)
