"""Throttling of password and TOTP guesses (NIST SP 800-63B §5.2.2), per account and address.

Every guess is counted by two counters (:func:`counters`):

- per account and client address: after ``PER_ADDRESS.threshold`` (5) wrong answers in a row
  that address is locked out of that account for 30 s, doubling with each lockout up to an
  hour. Guesses from another address do not count here, so an attacker cannot lock the real
  owner out from elsewhere.
- per account, from every address: a looser ceiling, ``PER_ACCOUNT.threshold`` (100) wrong
  answers in a row (the most NIST allows), locks the account for 15 minutes, doubling up to an
  hour. Without it an attacker with many addresses would get unlimited guesses; with it, it
  takes some twenty addresses, each locked in turn, to lock the owner out for a while.

The account is the user's id once the username is known to exist, else the typed username
(case-insensitive), so unknown usernames are throttled the same way and a lockout does not
reveal whether a user exists. Addresses are compared as IPv4 addresses, or IPv6 /64 networks
(one IPv6 host usually owns a whole /64). Only a completed login resets the counters: a right
password followed by wrong codes keeps counting, so knowing the password does not buy more code
guesses. Counters untouched for ``PRUNE_AFTER_SECONDS`` and not locked are deleted at every
attempt, so typing random usernames cannot grow the table without bound. Functions take the
connection and ``now`` so tests inject time.
"""

from __future__ import annotations

import ipaddress
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import ngettext


@dataclass(frozen=True)
class Policy:
    """How many wrong answers in a row lock a counter, and for how long."""

    threshold: int
    base_seconds: int
    max_seconds: int

    def lock_seconds(self, lockouts: int) -> int:
        """The wait imposed by the ``lockouts``-th lockout (1-based), doubling each time."""
        return min(self.max_seconds, self.base_seconds * 2 ** max(0, lockouts - 1))


PER_ADDRESS = Policy(threshold=5, base_seconds=30, max_seconds=3600)
PER_ACCOUNT = Policy(threshold=100, base_seconds=900, max_seconds=3600)
PRUNE_AFTER_SECONDS = 24 * 3600
IPV6_PREFIX = 64


@dataclass(frozen=True)
class Counter:
    """One row of the ``lockouts`` table and the policy that applies to it."""

    key: str
    policy: Policy


def account_for(user_id: int | None, username: str) -> str:
    """The account a guess is aimed at: the user's id, or the unknown username."""
    if user_id is not None:
        return f"user#{user_id}"
    return "name:" + username.strip().casefold()


def client_network(address: str | None) -> str:
    """The client address as counted: an IPv4 address, or the /64 of an IPv6 address."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


def counters(account: str, address: str | None) -> tuple[Counter, Counter]:
    """The counters a guess at ``account`` from ``address`` goes to."""
    return (
        Counter(f"{account} from {client_network(address)}", PER_ADDRESS),
        Counter(account, PER_ACCOUNT),
    )


def seconds_left(conn: sqlite3.Connection, key: str, now: float) -> int:
    """Whole seconds until the counter ``key`` may try again; 0 when it is not locked."""
    row = conn.execute("SELECT locked_until FROM lockouts WHERE key = ?", (key,)).fetchone()
    if row is None or row["locked_until"] <= now:
        return 0
    return max(1, math.ceil(row["locked_until"] - now))


def begin_attempt(conn: sqlite3.Connection, throttle: Sequence[Counter], now: float) -> int:
    """Count one attempt BEFORE its password or code is checked; return the wait if refused.

    In one ``BEGIN IMMEDIATE`` transaction: refuse while any counter is locked, and refuse
    (locking it now) once a counter has reached its threshold of attempts not yet resolved, so
    concurrent guesses cannot all pass the check while the slow password hash runs. Otherwise
    every counter counts the attempt. The caller then reports the outcome with
    :func:`attempt_failed` or :func:`attempt_succeeded`.
    """
    if conn.in_transaction:
        conn.commit()
    conn.execute("BEGIN IMMEDIATE")
    try:
        prune(conn, now)
        rows = {}
        for counter in throttle:
            conn.execute(
                "INSERT OR IGNORE INTO lockouts (key, updated_at) VALUES (?, ?)",
                (counter.key, now),
            )
            rows[counter.key] = conn.execute(
                "SELECT failures, lockouts, locked_until FROM lockouts WHERE key = ?",
                (counter.key,),
            ).fetchone()
        locked_until = max(row["locked_until"] for row in rows.values())
        if locked_until > now:
            wait = max(1, math.ceil(locked_until - now))
        else:
            wait = 0
            for counter in throttle:
                row = rows[counter.key]
                if row["failures"] >= counter.policy.threshold:
                    wait = max(wait, _lock(conn, counter, row["lockouts"], now))
        if not wait:
            conn.executemany(
                "UPDATE lockouts SET failures = failures + 1, updated_at = ? WHERE key = ?",
                [(now, counter.key) for counter in throttle],
            )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return wait


def attempt_failed(conn: sqlite3.Connection, throttle: Sequence[Counter], now: float) -> int:
    """The attempt counted by :func:`begin_attempt` was wrong: lock what reached its threshold."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        wait = 0
        for counter in throttle:
            row = conn.execute(
                "SELECT failures, lockouts FROM lockouts WHERE key = ?", (counter.key,)
            ).fetchone()
            if row is not None and row["failures"] >= counter.policy.threshold:
                wait = max(wait, _lock(conn, counter, row["lockouts"], now))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return wait


def attempt_succeeded(conn: sqlite3.Connection, throttle: Sequence[Counter]) -> None:
    """The attempt counted by :func:`begin_attempt` was right: it is not a failure."""
    for counter in throttle:
        conn.execute(
            "UPDATE lockouts SET failures = MAX(0, failures - 1) WHERE key = ?", (counter.key,)
        )
    conn.commit()


def _lock(conn: sqlite3.Connection, counter: Counter, lockouts: int, now: float) -> int:
    wait = counter.policy.lock_seconds(lockouts + 1)
    conn.execute(
        "UPDATE lockouts SET failures = 0, lockouts = ?, locked_until = ?, updated_at = ? "
        "WHERE key = ?",
        (lockouts + 1, now + wait, now, counter.key),
    )
    return wait


def reset(conn: sqlite3.Connection, throttle: Sequence[Counter]) -> None:
    """Forget the counters after a completed login."""
    conn.executemany("DELETE FROM lockouts WHERE key = ?", [(c.key,) for c in throttle])
    conn.commit()


def prune(conn: sqlite3.Connection, now: float) -> int:
    """Delete counters neither locked nor touched for a day; return how many went."""
    cur = conn.execute(
        "DELETE FROM lockouts WHERE updated_at < ? AND locked_until <= ?",
        (now - PRUNE_AFTER_SECONDS, now),
    )
    return cur.rowcount


def message(seconds: int) -> str:
    """What the login pages say while a username is locked (in the screen's language)."""
    return ngettext(
        "Too many attempts. Wait %(num)d second before trying again.",
        "Too many attempts. Wait %(num)d seconds before trying again.",
        seconds,
    )
