"""Full HTTP logins (landing page, Login, username, password, TOTP, Continue, /account).

Each login is :class:`tests.support.journey.Journey` with a fresh browser, as a new customer
would come. The IdP accepts a TOTP code of the current 30 s step or one step either side, and
never a step already used, so one user can log in about three times per step: the pool hands
out only users who still have an unused acceptable step, each to one client at a time, and
the IdP's clock is never moved.

Concurrent clients are separate processes (forked), each with its own share of the users, so
that the clients' HTML parsing does not serialise on one interpreter lock and show up as
server latency.
"""

from __future__ import annotations

import multiprocessing
import queue
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

from tests.support.journey import Authenticator
from tests.support.journey import Journey
from tests.support.journey import User

PERIOD = 30


class UserPool:
    """Users that can log in now, lent to one client at a time."""

    def __init__(self, users: Sequence[User], phone: Authenticator) -> None:
        self.phone = phone
        self._free = list(users)
        self._cond = threading.Condition()

    def _has_code(self, user: User) -> bool:
        if user.username not in self.phone.secrets:
            return True  # not enrolled yet: the setup page accepts the current step
        step = int(time.time() // PERIOD)
        last = self.phone.last_step.get(user.username, step - 2)
        return max(step - 1, last + 1) <= step + 1

    def checkout(self, deadline: float) -> User | None:
        with self._cond:
            while True:
                for i, user in enumerate(self._free):
                    if self._has_code(user):
                        return self._free.pop(i)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(min(remaining, 0.1))

    def checkin(self, user: User) -> None:
        with self._cond:
            self._free.append(user)  # to the back: users take turns
            self._cond.notify()

    def split(self, parts: int) -> list[list[User]]:
        """The free users dealt round-robin into ``parts`` hands."""
        with self._cond:
            return [self._free[i::parts] for i in range(parts)]


@dataclass
class LoginRun:
    durations_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def count(self) -> int:
        return len(self.durations_ms)

    def median(self) -> float:
        return statistics.median(self.durations_ms)

    def p95(self) -> float:
        return percentile(self.durations_ms, 95)

    def per_second(self) -> float:
        return self.count / self.wall_s if self.wall_s else 0.0


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil
    return ordered[int(rank) - 1]


def browser_cookies(journey: Journey) -> str:
    """Every cookie the browser holds for the portal, as a Cookie header: the session and
    the session-ended marker, as a real browser sends them on each page view."""
    return "; ".join(f"{c.name}={c.value}" for c in journey.browser.session.cookies)


def login_once(portal, idp, phone: Authenticator, user: User) -> tuple[float, str]:
    """One full login; returns (milliseconds, portal_session cookie)."""
    elapsed, cookie, _ = login_with_cookies(portal, idp, phone, user)
    return elapsed, cookie


def login_with_cookies(portal, idp, phone: Authenticator, user: User) -> tuple[float, str, str]:
    """One full login; returns (milliseconds, portal_session cookie, Cookie header)."""
    journey = Journey(portal, idp, phone)
    journey.browser.session.trust_env = False  # no proxy lookups from the environment
    try:
        start = time.perf_counter()
        page = journey.login(user)
        elapsed = (time.perf_counter() - start) * 1000
        if page.status != 200 or page.path != "/account":
            raise AssertionError(f"login ended on {page.url} ({page.status})")
        return elapsed, journey.browser.cookie("portal_session") or "", browser_cookies(journey)
    finally:
        journey.browser.close()


def _client_loop(portal, idp, pool: UserPool, take_ticket, deadline: float, run: LoginRun):
    while time.monotonic() < deadline and take_ticket():
        user = pool.checkout(deadline)
        if user is None:
            return
        try:
            ms, _ = login_once(portal, idp, pool.phone, user)
        except Exception as exc:  # a failed login is reported, not fatal
            run.failures.append(f"{user.username}: {type(exc).__name__}: {exc}"[:300])
        else:
            run.durations_ms.append(ms)
        finally:
            pool.checkin(user)


def sequential_logins(portal, idp, pool: UserPool, *, count: int, time_limit_s: float):
    """``count`` logins one after the other, in this process."""
    run = LoginRun()
    tickets = iter(range(count))
    deadline = time.monotonic() + time_limit_s
    start = time.perf_counter()
    _client_loop(portal, idp, pool, lambda: next(tickets, None) is not None, deadline, run)
    run.wall_s = time.perf_counter() - start
    return run


def concurrent_logins(
    portal, idp, pool: UserPool, *, count: int, clients: int, time_limit_s: float
) -> LoginRun:
    """``count`` logins by ``clients`` client processes, each with its own users.

    The children are forked (they share nothing with this process afterwards); each sends back
    its timings and its authenticator state, which is merged into ``pool.phone``.
    """
    ctx = multiprocessing.get_context("fork")
    tickets = ctx.Value("i", count)
    ready = ctx.Barrier(clients + 1)
    results = ctx.Queue()
    hands = pool.split(clients)
    deadline = time.monotonic() + time_limit_s

    def take_ticket() -> bool:
        with tickets.get_lock():
            if tickets.value <= 0:
                return False
            tickets.value -= 1
            return True

    def child(hand: list[User]) -> None:
        run = LoginRun()
        own = UserPool(hand, pool.phone)  # the forked copy of the phone
        try:
            ready.wait(timeout=30)
            _client_loop(portal, idp, own, take_ticket, deadline, run)
        finally:
            phone = {
                u.username: (
                    own.phone.secrets.get(u.username),
                    own.phone.last_step.get(u.username),
                )
                for u in hand
            }
            results.put((run.durations_ms, run.failures, phone))

    procs = [
        ctx.Process(target=child, args=(hand,), name=f"login-client-{i}")
        for i, hand in enumerate(hands)
    ]
    for proc in procs:
        proc.start()
    run = LoginRun()
    finished = False
    try:
        ready.wait(timeout=30)
        start = time.perf_counter()
        for _ in procs:
            durations, failures, phone = results.get(timeout=time_limit_s + 60)
            run.durations_ms += durations
            run.failures += failures
            for username, (secret, last_step) in phone.items():
                if secret is not None:
                    pool.phone.secrets[username] = secret
                if last_step is not None:
                    pool.phone.last_step[username] = last_step
        run.wall_s = time.perf_counter() - start
        finished = True
    except (queue.Empty, threading.BrokenBarrierError):
        run.failures.append("a client process did not start or sent no result in time")
    finally:
        for proc in procs:  # interrupted: stop the clients at once
            proc.join(timeout=10 if finished else 0)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return run
