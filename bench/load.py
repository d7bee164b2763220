"""A small HTTP load generator: N threads, one keep-alive connection each, fixed duration.

``http.client`` rather than requests, to keep the client's share of the CPU small: the client
runs on the same cores as the servers.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    path: str
    requests: int = 0
    errors: int = 0
    reconnects: int = 0
    wall_s: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.requests / self.wall_s if self.wall_s else 0.0


def hammer(
    base_url: str,
    path: str,
    *,
    seconds: float,
    clients: int,
    headers: dict[str, str] | None = None,
    expect_status: int = 200,
    expect_text: bytes | None = None,
    requests_per_connection: int = 0,
) -> LoadResult:
    """GET ``path`` as fast as ``clients`` connections allow for ``seconds``.

    A response counts when it has ``expect_status`` (and contains ``expect_text``); anything
    else is an error, so a signed-out session cannot pass for a fast page. With
    ``requests_per_connection`` each connection is renewed after that many requests.
    """
    parts = urlsplit(base_url)
    result = LoadResult(path)
    lock = threading.Lock()
    start_gate = threading.Event()
    stop_at = [0.0]

    def client() -> None:
        done = errors = reconnects = 0
        statuses: dict[int, int] = {}
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        on_conn = 0
        start_gate.wait()
        while time.perf_counter() < stop_at[0]:
            if requests_per_connection and on_conn >= requests_per_connection:
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                reconnects += 1
                on_conn = 0
            on_conn += 1
            try:
                conn.request("GET", path, headers=headers or {})
                response = conn.getresponse()
                body = response.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                reconnects += 1
                continue
            statuses[response.status] = statuses.get(response.status, 0) + 1
            if response.status == expect_status and (expect_text is None or expect_text in body):
                done += 1
            else:
                errors += 1
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                reconnects += 1
        conn.close()
        with lock:
            result.requests += done
            result.errors += errors
            result.reconnects += reconnects
            for status, n in statuses.items():
                result.statuses[status] = result.statuses.get(status, 0) + n

    threads = [threading.Thread(target=client, name=f"load-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    begin = time.perf_counter()
    stop_at[0] = begin + seconds
    start_gate.set()
    for thread in threads:
        thread.join()
    result.wall_s = time.perf_counter() - begin
    return result
