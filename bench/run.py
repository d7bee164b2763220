"""Benchmarks of the portal: ``python bench/run.py [--quick]`` prints a Markdown table.

Against a real Redis, the live dev IdP and the portal started from the Procfile (gunicorn with
portal/gunicorn_conf.py), all on loopback. What each number means: bench/README.md. Progress
goes to stderr, the table to stdout. Every server is stopped before the script exits.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
import requests  # noqa: E402

from bench import backchannel  # noqa: E402
from bench import idp_counter  # noqa: E402
from bench import machine  # noqa: E402
from bench.cpu import CpuMeter  # noqa: E402
from bench.floor_page import PATH as FLOOR_PATH  # noqa: E402
from bench.idp_counter import IdpCounter  # noqa: E402
from bench.load import LoadResult  # noqa: E402
from bench.load import hammer  # noqa: E402
from bench.logins import LoginRun  # noqa: E402
from bench.logins import UserPool  # noqa: E402
from bench.logins import concurrent_logins  # noqa: E402
from bench.logins import login_with_cookies  # noqa: E402
from bench.logins import sequential_logins  # noqa: E402
from bench.portal_log import PortalLog  # noqa: E402
from bench.servers import Servers  # noqa: E402
from bench.servers import bench_user  # noqa: E402
from portal.session_store import SID_PREFIX  # noqa: E402
from portal.session_store import SUB_PREFIX  # noqa: E402
from portal.session_store import store_key  # noqa: E402
from tests.support.journey import Authenticator  # noqa: E402
from tests.support.journey import User  # noqa: E402

CLIENTS = 8
#: Renewing connections now and then spreads them over the gunicorn workers; with 8 kept
#: forever, one worker may hold most of them and the other idle (measured: up to 2x apart).
REQUESTS_PER_CONNECTION = 50
SETTLE_AFTER_FILL_S = 3.0


@dataclass(frozen=True)
class Plan:
    users: int
    sequential_logins: int
    concurrent_logins: int
    page_rounds: int
    page_seconds: float
    logout_sizes: tuple[int, ...]
    logout_repeats: int
    login_time_limit_s: float


FULL = Plan(
    users=260,
    sequential_logins=100,
    concurrent_logins=400,
    page_rounds=4,
    page_seconds=3.0,
    logout_sizes=(1_000, 10_000, 100_000),
    logout_repeats=50,
    login_time_limit_s=90.0,
)
QUICK = Plan(
    users=96,
    sequential_logins=20,
    concurrent_logins=100,
    page_rounds=2,
    page_seconds=1.5,
    logout_sizes=(1_000, 10_000, 100_000),
    logout_repeats=15,
    login_time_limit_s=25.0,
)


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def ms(value: float) -> str:
    return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"


def per_unit(cpu: dict[str, float | None], units: int, names: tuple[str, ...]) -> str:
    parts = []
    for name in names:
        seconds = cpu.get(name)
        if seconds is not None and units:
            parts.append(f"{name} {seconds * 1000 / units:.1f}")
    return ", ".join(parts) + " ms CPU" if parts else "n/a"


def redis_calls(client: redis.Redis) -> Counter[str]:
    stats = client.info("commandstats")
    return Counter({k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items()})


def calls_between(before: Counter[str], after: Counter[str]) -> Counter[str]:
    delta = Counter({k: after[k] - before.get(k, 0) for k in after})
    for ignored in ("info", "scan"):
        delta.pop(ignored, None)
    return +delta


FLOOR_APP = "bench.floor_page:create_app()"


class Bench:
    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.users = [bench_user(n) for n in range(plan.users)]
        self.phone = Authenticator()
        self.pool = UserPool(self.users, self.phone)
        # the Procfile's gunicorn, serving the portal plus the bench's own empty signed-in page
        self.servers = Servers(workdir, self.users, app=FLOOR_APP)
        self.rows: list[tuple[str, str, str]] = []
        self.notes: list[str] = []

    # --- helpers -----------------------------------------------------------------------------
    @property
    def portal(self):
        return self.servers.portal

    @property
    def idp(self):
        return self.servers.idp

    def redis(self) -> redis.Redis:
        assert self.servers.redis is not None
        return self.servers.redis.client()

    def meter(self) -> CpuMeter:
        return CpuMeter(self.servers.pgids).start()

    def row(self, measure: str, result: str, note: str = "") -> None:
        self.rows.append((measure, result, note))

    # --- phases ------------------------------------------------------------------------------
    def run(self) -> None:
        say("starting Redis, the dev IdP and the portal (Procfile)")
        self.servers.start()
        counter = IdpCounter(self.idp)
        portal_log = PortalLog(self.portal)

        say(f"warm-up: first login (TOTP setup) of {len(self.users)} users, {CLIENTS} clients")
        counter.mark()
        warm = concurrent_logins(
            self.portal,
            self.idp,
            self.pool,
            count=len(self.users),
            clients=CLIENTS,
            time_limit_s=self.plan.login_time_limit_s,
        )
        warm_calls = counter.read()
        self._check(warm, "warm-up")

        say(f"{self.plan.sequential_logins} sequential logins")
        counter.mark()
        portal_log.mark()
        cpu = self.meter()
        seq = sequential_logins(
            self.portal,
            self.idp,
            self.pool,
            count=self.plan.sequential_logins,
            time_limit_s=self.plan.login_time_limit_s,
        )
        seq_cpu = cpu.stop()
        seq_calls = counter.read()
        seq_portal = portal_log.read()
        self._check(seq, "sequential logins")

        say(f"{self.plan.concurrent_logins} logins by {CLIENTS} concurrent clients")
        counter.mark()
        cpu = self.meter()
        conc = concurrent_logins(
            self.portal,
            self.idp,
            self.pool,
            count=self.plan.concurrent_logins,
            clients=CLIENTS,
            time_limit_s=self.plan.login_time_limit_s,
        )
        conc_cpu = cpu.stop()
        conc_calls = counter.read()
        self._check(conc, "concurrent logins")

        self._idp_rows(warm, warm_calls, seq, seq_calls, conc, conc_calls)
        self._login_rows(seq, seq_cpu, seq_portal, conc, conc_cpu)

        viewer, cookie = self.page_views()
        template = self._session_bytes(cookie)
        self._backchannel(template)
        self._idp_delivered_logout(viewer.username, cookie)

    def page_views(self) -> tuple[User, str]:
        """Phase 4 alone (``--pages``); the servers must be running. Returns the customer who
        viewed the pages and their session cookie."""
        viewer = self.pool.checkout(time.monotonic() + 60)
        assert viewer is not None, "no user left to sign in for the page views"
        _, cookie, cookies = login_with_cookies(self.portal, self.idp, self.phone, viewer)
        self.pool.checkin(viewer)
        self._page_views(cookies, viewer.name)
        return viewer, cookie

    def _check(self, run: LoginRun, what: str) -> None:
        if run.failures:
            self.notes.append(
                f"{len(run.failures)} failed login(s) in the {what}, first: {run.failures[0]}"
            )
            say(f"{what}: {len(run.failures)} failures, first: {run.failures[0]}")
        if run.count == 0:
            raise RuntimeError(f"no login succeeded in the {what}")

    def _idp_rows(self, warm, warm_calls, seq, seq_calls, conc, conc_calls) -> None:
        logins = seq.count + conc.count
        calls = seq_calls + conc_calls
        own = {path: calls.get(path, 0) for path in idp_counter.PORTAL_CALLS}
        total = sum(own.values())
        detail = ", ".join(
            f"{name} {own[path] / logins:.2f}"
            for name, path in (
                ("token", idp_counter.TOKEN),
                ("userinfo", idp_counter.USERINFO),
                ("discovery", idp_counter.DISCOVERY),
                ("JWKS", idp_counter.JWKS),
            )
        )
        self.row(
            "IdP requests per login by the portal, after warm-up",
            f"**{total / logins:.2f}** ({detail})",
            f"target 1 (the token request); counted in the IdP's access log over {logins} logins",
        )
        browser = sum(n for path, n in calls.items() if path not in idp_counter.PORTAL_CALLS)
        self.row(
            "IdP requests per login by the browser (for context)",
            f"{browser / logins:.2f}",
            "authorize, username, password and TOTP pages: the customer's, not the portal's",
        )
        discovery = warm_calls.get(idp_counter.DISCOVERY, 0)
        jwks = warm_calls.get(idp_counter.JWKS, 0)
        workers = self.portal.workers
        note = (
            f"warm-up = {warm.count} first logins by {CLIENTS} clients; "
            f"expected once per gunicorn worker ({workers} worker(s))"
        )
        if discovery > workers:
            note += (
                "; more discovery fetches than workers: concurrent first requests of a cold "
                "worker each fetch it (JWKS is fetched under a lock)"
            )
        self.row("Discovery / JWKS fetches during warm-up", f"{discovery} / {jwks}", note)

    def _login_rows(self, seq, seq_cpu, seq_portal, conc, conc_cpu) -> None:
        portal_ms = sum(r.micros for r in seq_portal) / 1000 / max(1, seq.count)
        self.row(
            "Full login flow (HTTP, no browser), median / p95",
            f"**{ms(seq.median())} / {ms(seq.p95())}**",
            f"{seq.count} sequential logins of enrolled users (username, password, TOTP code); "
            f"of which portal server time {portal_ms:.1f} ms per login (access log)",
        )
        by_path: dict[str, list[float]] = {}
        for request in seq_portal:
            by_path.setdefault(f"{request.method} {request.path}", []).append(request.micros / 1000)
        self.row(
            "Portal server time per login step (median)",
            ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in by_path.items()) + " ms",
            "gunicorn access log, sequential logins; the callback includes the token request",
        )
        self.row(
            "CPU per login (sequential)",
            per_unit(seq_cpu, seq.count, ("portal", "idp", "redis", "client")),
            "client = this script's HTTP client and HTML parsing, on the same cores",
        )
        self.row(
            f"Logins per second, {CLIENTS} concurrent clients",
            f"**{conc.per_second():.1f}/s**",
            f"{conc.count} logins in {conc.wall_s:.1f} s; latency under load median "
            f"{ms(conc.median())}, p95 {ms(conc.p95())}",
        )
        self.row(
            f"CPU per login ({CLIENTS} clients)",
            per_unit(conc_cpu, conc.count, ("portal", "idp", "redis", "client")),
            "",
        )

    def _page_views(self, cookies: str, display_name: str) -> None:
        """/healthz, /account and the empty signed-in page in alternating rounds, so drift hits
        all three alike."""
        client = self.redis()
        signed_in = {"Cookie": cookies}
        targets = {
            "/healthz": ({}, b'"ok"'),
            "/account": (signed_in, display_name.encode()),
            FLOOR_PATH: (signed_in, display_name.encode()),
        }
        totals = {path: LoadResult(path) for path in targets}
        cpu_used: dict[str, Counter[str]] = {path: Counter() for path in targets}
        calls: dict[str, Counter[str]] = {path: Counter() for path in targets}
        say(
            f"{', '.join(targets)}: {self.plan.page_rounds} rounds of "
            f"{self.plan.page_seconds:.1f} s each, {CLIENTS} keep-alive clients"
        )
        for _ in range(self.plan.page_rounds):
            for path, (headers, text) in targets.items():
                before = redis_calls(client)
                cpu = self.meter()
                result = hammer(
                    self.portal.url,
                    path,
                    seconds=self.plan.page_seconds,
                    clients=CLIENTS,
                    headers=headers,
                    expect_text=text,
                    requests_per_connection=REQUESTS_PER_CONNECTION,
                )
                used = cpu.stop()
                calls[path] += calls_between(before, redis_calls(client))
                cpu_used[path] += Counter({k: v for k, v in used.items() if v is not None})
                total = totals[path]
                total.requests += result.requests
                total.errors += result.errors
                total.wall_s += result.wall_s
                for status, n in result.statuses.items():
                    total.statuses[status] = total.statuses.get(status, 0) + n
        for path, total in totals.items():
            if total.errors:
                self.notes.append(
                    f"{path}: {total.errors} unexpected responses, statuses {total.statuses}"
                )
        account, health, floor = totals["/account"], totals["/healthz"], totals[FLOOR_PATH]

        def ratio(a: LoadResult, b: LoadResult) -> float:
            return a.per_second / b.per_second if b.per_second else 0.0

        def portal_cpu(path: str) -> str:
            return per_unit(cpu_used[path], totals[path].requests, ("portal",))

        views = max(1, account.requests)
        redis_per_view = ", ".join(
            f"{cmd.upper()} {n / views:.2f}"
            for cmd, n in calls["/account"].most_common()
            if n / views >= 0.01
        )
        self.row(
            "Signed-in page views per second (/account)",
            f"**{account.per_second:,.0f}/s**",
            f"{CLIENTS} keep-alive clients, {account.requests:,} views in {account.wall_s:.0f} s; "
            f"Redis commands per view: {redis_per_view or 'none'}",
        )
        self.row(
            "/healthz per second, same server, same run",
            f"{health.per_second:,.0f}/s",
            f"{health.requests:,} requests in {health.wall_s:.0f} s, alternating with /account",
        )
        self.row("Ratio /account ÷ /healthz", f"**{ratio(account, health):.2f}**", "")
        self.row(
            f"Signed-in page that renders nothing ({FLOOR_PATH})",
            f"{floor.per_second:,.0f}/s; ÷ /healthz **{ratio(floor, health):.2f}**",
            "session read, login check and hooks, then a constant body of /account's size "
            "(bench/floor_page.py): the ceiling of the ratio above; /account ÷ this = "
            f"{ratio(account, floor):.2f}",
        )
        self.row(
            f"Portal CPU per request: /account, {FLOOR_PATH}, /healthz",
            f"{portal_cpu('/account')} · {portal_cpu(FLOOR_PATH)} · {portal_cpu('/healthz')}",
            "load generator: "
            + per_unit(cpu_used["/account"], account.requests, ("client",))
            + " per request, on the same cores",
        )

    def _session_bytes(self, cookie: str) -> bytes:
        client = self.redis()
        key = store_key(cookie)
        template = client.get(key)
        assert template is not None, "the signed-in session is not in Redis"
        value_bytes = client.strlen(key)
        memory = client.memory_usage(key, samples=0) or 0
        index_memory = 0
        for prefix in (SID_PREFIX, SUB_PREFIX):
            for index_key in client.scan_iter(match=prefix + "*", count=1000):
                if client.hexists(index_key, cookie):
                    index_memory += client.memory_usage(index_key, samples=0) or 0
                    break
        self.row(
            "Bytes per session in Redis",
            f"**{value_bytes:,} B** value; {memory:,} B with key and overhead",
            f"MEMORY USAGE; plus {index_memory:,} B for its sid and sub index hashes",
        )
        self.row(
            "Bytes of the session cookie",
            f"**{len(cookie)} B** value",
            f"portal_session=<{len(cookie)} characters>: an opaque id, the data stay in Redis",
        )
        return template

    def _backchannel(self, template: bytes) -> None:
        client = self.redis()
        tokens = backchannel.LogoutTokens(self.idp)
        http = requests.Session()
        http.trust_env = False
        portal_log = PortalLog(self.portal)
        # the first requests of a code path pay one-off costs (imports, connections)
        backchannel.time_logouts(self.portal.url, client, tokens, template, repeats=3, http=http)
        medians: dict[int, float] = {}
        server: dict[int, float] = {}
        memory_before = client.info("memory")["used_memory"]
        sessions_before = backchannel.session_count(client)
        for size in self.plan.logout_sizes:
            missing = size - backchannel.session_count(client)
            if missing > 0:
                say(f"filling Redis to {size:,} sessions")
                started = time.perf_counter()
                backchannel.fill(client, template, missing)
                say(f"  {missing:,} sessions added in {time.perf_counter() - started:.1f} s")
                # Redis grows its hash table incrementally for a while after a bulk insert;
                # measured right away, that shows as +30% on the first logouts at any size
                time.sleep(SETTLE_AFTER_FILL_S)
            say(f"back-channel logout x{self.plan.logout_repeats} with {size:,} sessions")
            backchannel.time_logouts(  # untimed: the first requests after a pause are slower
                self.portal.url, client, tokens, template, repeats=3, http=http
            )
            portal_log.mark()
            timings = backchannel.time_logouts(
                self.portal.url,
                client,
                tokens,
                template,
                repeats=self.plan.logout_repeats,
                http=http,
            )
            logged = [
                r.micros / 1000
                for r in portal_log.read()
                if r.path == "/auth/backchannel-logout" and r.status == 200
            ]
            if timings.failures:
                self.notes.append(
                    f"back-channel logout with {size:,} sessions: {len(timings.failures)} "
                    f"failed, first: {timings.failures[0]}"
                )
            if not timings.ms:
                continue
            medians[size] = statistics.median(timings.ms)
            server[size] = statistics.median(logged) if logged else float("nan")
            self.row(
                f"Back-channel logout, {timings.sessions:,} sessions in Redis",
                f"**{ms(medians[size])}**",
                f"median of {len(timings.ms)} POSTs (client round trip); portal server time "
                f"{server[size]:.2f} ms (access log)",
            )
        sessions_after = backchannel.session_count(client)
        memory_after = client.info("memory")["used_memory"]
        if sessions_after > sessions_before:
            per_session = (memory_after - memory_before) / (sessions_after - sessions_before)
            self.row(
                "Redis memory per session at scale",
                f"{per_session:,.0f} B",
                f"used_memory growth / sessions added ({sessions_after - sessions_before:,}), "
                "session record and its sid and sub index hashes",
            )
        if len(medians) >= 2:
            small, large = min(medians), max(medians)
            self.row(
                f"Ratio back-channel logout {large:,} ÷ {small:,}",
                f"**{medians[large] / medians[small]:.2f}**",
                f"must stay near 1; server time ratio {server[large] / server[small]:.2f}",
            )

    def _idp_delivered_logout(self, username: str, cookie: str) -> None:
        """End to end: the IdP itself sends the logout token; the session must be gone."""
        say("IdP-delivered back-channel logout (devidp end-sessions)")
        portal_log = PortalLog(self.portal)
        portal_log.mark()
        result = self.idp.cli("end-sessions", username)
        logged = [r for r in portal_log.read() if r.path == "/auth/backchannel-logout"]
        after = requests.get(
            self.portal.url + "/account",
            cookies={"portal_session": cookie},
            allow_redirects=False,
            timeout=10,
        )
        signed_out = after.status_code == 302 and "/login" in after.headers.get("Location", "")
        if result.returncode != 0 or not logged or not signed_out:
            self.notes.append(
                f"IdP-delivered logout check failed: exit {result.returncode}, "
                f"{len(logged)} POST(s) logged, /account answered {after.status_code}: "
                f"{result.stdout.strip()[:200]} {result.stderr.strip()[:200]}"
            )
            return
        self.notes.append(
            f"End to end: `devidp end-sessions` at {backchannel.session_count(self.redis()):,} "
            f"sessions: the portal took {logged[-1].micros / 1000:.2f} ms (access log) and "
            "the customer's /account then redirected to login."
        )

    # --- output ------------------------------------------------------------------------------
    def table(self, started: float, quick: bool) -> str:
        redis_version = self.redis().info("server")["redis_version"]
        lines = ["| Machine | |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in machine.describe(redis_version)]
        portal = self.portal
        lines.append(
            f"| Portal | gunicorn as in the Procfile: {portal.workers} worker(s) × "
            f"{portal.threads} threads (gthread), sessions in Redis; app {FLOOR_APP} "
            f"(the portal and {FLOOR_PATH}) |"
        )
        lines.append(
            "| IdP | dev IdP (werkzeug, threaded, SQLite) on loopback; clients in this "
            "script on the same cores |"
        )
        mode = "--quick" if quick else "full"
        lines.append(f"| Run | {mode}, {time.perf_counter() - started:.0f} s |")
        lines += ["", "| Measure | Result | Notes |", "| --- | --- | --- |"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in self.rows]
        if self.notes:
            lines.append("")
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, under a minute")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument(
        "--pages", action="store_true", help="only the page views (phase 4), about 40 s"
    )
    args = parser.parse_args(argv)

    def stop_on_signal(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop_on_signal)
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    bench = Bench(QUICK if args.quick else FULL, workdir)
    try:
        if args.pages:
            say("starting Redis, the dev IdP and the portal (Procfile)")
            bench.servers.start()
            bench.page_views()
        else:
            bench.run()
        table = bench.table(started, args.quick)
    finally:
        bench.servers.stop()
        if args.keep:
            say(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(table)
    say(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
