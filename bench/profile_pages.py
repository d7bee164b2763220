"""Where the portal's time goes on a signed-in page view, against /healthz: a profile, not a guess.

Runs the portal's WSGI app in this process (no gunicorn, no sockets to the portal), with
sessions in a real redis-server on a free loopback port and a customer signed in through the
real login flow against the mock IdP. For each path it reports the time per request and, with
``--profile``, cProfile's top functions by cumulative time.

    .venv/bin/python -m bench.profile_pages [--requests 2000] [--profile /account]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path

from portal import create_app
from portal.clock import FixedClock
from portal.mock_idp import MockIdP
from tests.support.redis_server import RedisServer

PATHS = ("/healthz", "/account", "/account/sessions")


def _time_per_request(client, path: str, requests: int) -> float:
    """Seconds of this process's CPU per request (the app is the only thing running here)."""
    for _ in range(50):  # warm the template cache, the catalogues and the connection pool
        client.get(path)
    started = time.process_time()
    for _ in range(requests):
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")
    return (time.process_time() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="append", default=[], help="a path to profile")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portal-profile-") as folder:
        redis_server = RedisServer(Path(folder)).start()
        clock = FixedClock()
        try:
            with MockIdP(clock=clock.now) as idp:
                env = idp.portal_env(
                    Path(folder) / "sessions",
                    PORTAL_SESSION_BACKEND="redis",
                    PORTAL_REDIS_URL=redis_server.url,
                )
                app = create_app(env, clock=clock)
                client = app.test_client()
                idp.sign_in(client)
                client.get("/auth/signed-in")
                for path in PATHS:
                    per = _time_per_request(client, path, args.requests)
                    print(f"{path:<20} {per * 1000:.3f} ms CPU per request (WSGI app only)")
                for path in args.profile:
                    profiler = cProfile.Profile()
                    profiler.enable()
                    for _ in range(args.requests):
                        client.get(path)
                    profiler.disable()
                    out = io.StringIO()
                    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
                    stats.print_stats(args.top)
                    print(f"\n== profile of {path}, {args.requests} requests ==")
                    print(out.getvalue())
        finally:
            redis_server.stop()


if __name__ == "__main__":
    main()
