"""What a portal keeps in its session store, read from the outside (Redis keys, or files).

For tests that prove a request stored nothing, or that nothing stored holds a given value.
Rate-limit counters (Flask-Limiter's keys, under RATE_LIMIT_PREFIX) are not session state and
are left out.
"""

from __future__ import annotations

from pathlib import Path

import redis

from portal.session_store import RATE_LIMIT_PREFIX


class StoredRecords:
    def __init__(self, *, redis_url: str | None = None, folder: Path | None = None) -> None:
        assert (redis_url is None) != (folder is None)
        self.redis_url = redis_url
        self.folder = folder

    def values(self) -> dict[str, bytes]:
        """Every record: key (or file name) to its raw bytes (a Redis set: members joined)."""
        if self.folder is not None:
            if not self.folder.exists():
                return {}
            return {str(p): p.read_bytes() for p in sorted(self.folder.rglob("*")) if p.is_file()}
        records: dict[str, bytes] = {}
        with redis.Redis.from_url(self.redis_url) as client:
            for raw_key in client.scan_iter(count=1000):
                key = raw_key.decode()
                if key.startswith(RATE_LIMIT_PREFIX):
                    continue
                kind = client.type(raw_key).decode()
                if kind == "string":
                    records[key] = client.get(raw_key) or b""
                elif kind == "hash":
                    records[key] = b"\n".join(sorted(client.hkeys(raw_key)))
                else:
                    records[key] = kind.encode()
        return records

    def count(self) -> int:
        return len(self.values())

    def holding(self, needle: str | bytes) -> list[str]:
        """The records whose bytes contain ``needle``."""
        data = needle.encode() if isinstance(needle, str) else needle
        return [key for key, value in self.values().items() if data in value]
