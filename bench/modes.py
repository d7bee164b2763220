"""Benchmarks of the Redis deployments: ``python bench/modes.py [--quick]`` prints a table.

Two portal processes (each the Procfile's gunicorn) share one Redis, standalone and then a
three-master Cluster; the live dev IdP signs the customers in. For each: logins per second,
/account and /healthz views per second over both processes, Redis bytes per signed-in
session, and back-channel logout time with 1,000 and 100,000 sessions stored. Everything
runs on loopback and is stopped before the script exits. What the numbers mean:
bench/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import requests  # noqa: E402

from bench import backchannel  # noqa: E402
from bench.load import LoadResult  # noqa: E402
from bench.load import hammer  # noqa: E402
from bench.logins import LoginRun  # noqa: E402
from bench.logins import UserPool  # noqa: E402
from bench.logins import concurrent_logins  # noqa: E402
from bench.logins import login_with_cookies  # noqa: E402
from bench.servers import RATE_LIMIT  # noqa: E402
from bench.servers import bench_user  # noqa: E402
from bench.servers import procfile_argv  # noqa: E402
from portal.redis_connection import RedisClient  # noqa: E402
from portal.session_store import SID_FIRST_PREFIX  # noqa: E402
from portal.session_store import STATE_KEY  # noqa: E402
from portal.session_store import SUB_PREFIX  # noqa: E402
from portal.session_store import sid_key  # noqa: E402
from portal.session_store import store_key  # noqa: E402
from tests.support.devidp import DevIdP  # noqa: E402
from tests.support.devidp import start_devidp  # noqa: E402
from tests.support.journey import Authenticator  # noqa: E402
from tests.support.portal_server import CLIENT_SECRET  # noqa: E402
from tests.support.portal_server import SECRET_KEY  # noqa: E402
from tests.support.processes import LiveProcess  # noqa: E402
from tests.support.processes import free_port  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.redis_sessions import redis_client  # noqa: E402
from tests.support.redis_topologies import Cluster  # noqa: E402

CLIENTS = 8
PORTALS = 2


@dataclass(frozen=True)
class Plan:
    users: int
    logins: int
    page_seconds: float
    logout_sizes: tuple[int, ...]
    logout_repeats: int


FULL = Plan(
    users=160, logins=320, page_seconds=4.0, logout_sizes=(1_000, 100_000), logout_repeats=40
)
QUICK = Plan(
    users=48, logins=96, page_seconds=1.5, logout_sizes=(1_000, 100_000), logout_repeats=10
)


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class PortalPair:
    """The dev IdP and PORTALS portal processes sharing the Redis at ``redis_url``."""

    def __init__(self, workdir: Path, redis_url: str, users) -> None:
        ports = [free_port() for _ in range(PORTALS)]
        self.urls = [f"http://127.0.0.1:{port}" for port in ports]
        self.idp: DevIdP = start_devidp(
            workdir / "devidp",
            portal_base_url=self.urls[0],
            client_secret=CLIENT_SECRET,
            users=[user.as_config() for user in users],
            clients_extra={
                "redirect_uris": [f"{u}/auth/callback" for u in self.urls],
                "post_logout_redirect_uris": [f"{u}/logged-out" for u in self.urls],
            },
        )
        self.processes: list[LiveProcess] = []
        try:
            for n, (port, url) in enumerate(zip(ports, self.urls, strict=True)):
                env = {
                    "PORTAL_BIND": f"127.0.0.1:{port}",
                    "PORTAL_OIDC_ISSUER": self.idp.url,
                    "PORTAL_OIDC_CLIENT_ID": "portal",
                    "PORTAL_OIDC_CLIENT_SECRET": CLIENT_SECRET,
                    "PORTAL_BASE_URL": url,
                    "PORTAL_SECRET_KEY": SECRET_KEY,
                    "PORTAL_SESSION_BACKEND": "redis",
                    "PORTAL_REDIS_URL": redis_url,
                    "PORTAL_RATE_LIMIT": RATE_LIMIT,
                }
                process = LiveProcess(
                    f"portal{n}", procfile_argv(), env=env, log_path=workdir / f"portal{n}.log"
                )
                self.processes.append(process.start())
                process.wait_http(f"{url}/healthz")
        except BaseException:
            self.stop()
            raise

    def portal(self, n: int):
        return _Portal(self.urls[n])

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
        self.idp.stop()


@dataclass
class _Portal:
    url: str


def _in_threads(calls) -> list:
    results: list = [None] * len(calls)

    def run(i: int, call) -> None:
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class ModeBench:
    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        self.rows: list[tuple[str, str, str, str]] = []

    def run(self, mode: str, redis_url: str) -> None:
        users = [bench_user(n) for n in range(self.plan.users)]
        phone = Authenticator()
        halves = [users[: len(users) // 2], users[len(users) // 2 :]]
        pair = PortalPair(self.workdir / mode, redis_url, users)
        client = redis_client(redis_url)
        try:
            pools = [UserPool(half, phone) for half in halves]
            say(f"{mode}: first logins (TOTP setup) of {len(users)} users on {PORTALS} processes")
            self._logins(pair, pools, len(users))
            say(f"{mode}: {self.plan.logins} logins, {CLIENTS} clients over {PORTALS} processes")
            runs, wall = self._logins(pair, pools, self.plan.logins)
            count = sum(r.count for r in runs)
            failures = sum(len(r.failures) for r in runs)
            self.rows.append(
                (mode, f"Logins per second, {PORTALS} processes", f"**{count / wall:.1f}/s**",
                 f"{count} logins in {wall:.1f} s" + (f", {failures} failed" if failures else ""))
            )  # fmt: skip
            viewer = users[0]
            _, cookie, cookies = login_with_cookies(pair.portal(0), pair.idp, phone, viewer)
            self._views(mode, pair, cookies, viewer.name)
            self._session_bytes(mode, client, cookie)
            self._logouts(mode, pair, client)
        finally:
            client.close()
            pair.stop()

    def _logins(self, pair: PortalPair, pools, count: int) -> tuple[list[LoginRun], float]:
        start = time.perf_counter()
        runs = _in_threads(
            [
                lambda n=n: concurrent_logins(
                    pair.portal(n),
                    pair.idp,
                    pools[n],
                    count=count // PORTALS,
                    clients=CLIENTS // PORTALS,
                    time_limit_s=120,
                )  # fmt: skip
                for n in range(PORTALS)
            ]
        )
        return runs, time.perf_counter() - start

    def _views(self, mode: str, pair: PortalPair, cookies: str, name: str) -> None:
        rates: dict[str, float] = {}
        for path, headers, text in (
            ("/healthz", {}, b'"ok"'),
            ("/account", {"Cookie": cookies}, name.encode()),
            ("/healthz", {}, b'"ok"'),
            ("/account", {"Cookie": cookies}, name.encode()),
        ):
            results: list[LoadResult] = _in_threads(
                [
                    lambda url=url, path=path, headers=headers, text=text: hammer(
                        url,
                        path,
                        seconds=self.plan.page_seconds,
                        clients=CLIENTS // PORTALS,
                        headers=headers,
                        expect_text=text,
                        requests_per_connection=50,
                    )  # fmt: skip
                    for url in pair.urls
                ]
            )
            errors = sum(r.errors for r in results)
            assert errors == 0, f"{path}: {errors} unexpected answers"
            rates.setdefault(path, 0.0)
            rates[path] += sum(r.per_second for r in results) / 2  # two rounds each
        self.rows.append(
            (mode, f"/account views per second, {PORTALS} processes",
             f"**{rates['/account']:,.0f}/s**",
             f"/healthz {rates['/healthz']:,.0f}/s on the same processes; ratio "
             f"**{rates['/account'] / rates['/healthz']:.2f}**")
        )  # fmt: skip

    def _session_bytes(self, mode: str, client: RedisClient, cookie: str) -> None:
        """The session record, plus its share of each index key that lists it (a customer
        signed in on several devices shares one sub hash among them)."""
        state_key = store_key(cookie)
        session = client.memory_usage(state_key, samples=0) or 0
        sid = msgspec.msgpack.decode(client.get(state_key))[STATE_KEY]["sid"]
        tag = cookie.split(".", 1)[0]
        index = 0.0
        for key in (sid_key(sid, tag), f"{SUB_PREFIX}{{{tag}}}"):
            members = client.hlen(key)
            assert client.hexists(key, cookie), key
            index += (client.memory_usage(key, samples=0) or 0) / members
        index += (client.memory_usage(SID_FIRST_PREFIX + sid, samples=0) or 0) / client.hlen(
            sid_key(sid, tag)
        )
        self.rows.append(
            (mode, "Redis bytes per signed-in session, index included",
             f"**{session + index:,.0f} B**",
             f"MEMORY USAGE: session {session:,} B, its share of its sid and sub index and "
             f"sid record {index:,.0f} B; budget 2,048 B")
        )  # fmt: skip

    def _logouts(self, mode: str, pair: PortalPair, client: RedisClient) -> None:
        tokens = backchannel.LogoutTokens(pair.idp)
        http = requests.Session()
        http.trust_env = False
        template = b"x" * 1000
        backchannel.time_logouts(pair.urls[0], client, tokens, template, repeats=3, http=http)
        medians = {}
        for size in self.plan.logout_sizes:
            missing = size - backchannel.session_count(client)
            if missing > 0:
                say(f"{mode}: filling Redis to {size:,} sessions")
                backchannel.fill(client, template, missing)
            timings = backchannel.time_logouts(
                pair.urls[0], client, tokens, template, repeats=self.plan.logout_repeats, http=http
            )
            assert not timings.failures, timings.failures[:3]
            medians[size] = statistics.median(timings.ms)
            self.rows.append(
                (mode, f"Back-channel logout, {timings.sessions:,} sessions stored",
                 f"**{medians[size]:.1f} ms**",
                 f"median of {len(timings.ms)} POSTs, each ending one session (client round trip)")
            )  # fmt: skip
        small, large = min(medians), max(medians)
        self.rows.append(
            (mode, f"Ratio back-channel logout {large:,} ÷ {small:,}",
             f"**{medians[large] / medians[small]:.2f}**", "must stay near 1")
        )  # fmt: skip

    def table(self) -> str:
        lines = ["| Redis | Measure | Result | Notes |", "| --- | --- | --- | --- |"]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in self.rows]
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-modes-"))
    bench = ModeBench(QUICK if args.quick else FULL, workdir)
    started = time.perf_counter()
    try:
        standalone = RedisServer(workdir).start()
        try:
            bench.run("standalone", standalone.url)
        finally:
            standalone.stop()
        cluster = Cluster(workdir / "cluster").start()
        try:
            bench.run("cluster (3 masters)", cluster.url)
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(bench.table())
    say(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
