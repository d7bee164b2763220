"""Throttling of password and TOTP guesses, per username (NIST SP 800-63B §5.2.2).

After ``THRESHOLD`` wrong passwords or codes in a row the username is locked for ``BASE_SECONDS``;
each further lockout doubles the wait, up to ``MAX_SECONDS``. Only a completed login resets the
counters: a right password followed by wrong codes keeps counting, so knowing the password does
not buy more code guesses. Unknown usernames are counted the same way, so the lockout does not
reveal whether a user exists. Functions take the connection and ``now`` so tests inject time.
"""

from __future__ import annotations

import math
import sqlite3

THRESHOLD = 5
BASE_SECONDS = 30
MAX_SECONDS = 3600


def key_for(username: str) -> str:
    """The counter key of a username (case-insensitive, like the users table)."""
    return "user:" + username.strip().casefold()


def seconds_left(conn: sqlite3.Connection, key: str, now: float) -> int:
    """Whole seconds until ``key`` may try again; 0 when it is not locked."""
    row = conn.execute("SELECT locked_until FROM lockouts WHERE key = ?", (key,)).fetchone()
    if row is None or row["locked_until"] <= now:
        return 0
    return max(1, math.ceil(row["locked_until"] - now))


def lock_seconds(lockouts: int) -> int:
    """The wait imposed by the ``lockouts``-th lockout (1-based): 30 s, 60 s, 120 s, ..."""
    return min(MAX_SECONDS, BASE_SECONDS * 2 ** max(0, lockouts - 1))


def begin_attempt(conn: sqlite3.Connection, key: str, now: float) -> int:
    """Count one attempt BEFORE its password or code is checked; return the wait if refused.

    In one ``BEGIN IMMEDIATE`` transaction: refuse while locked, and refuse (locking now) once
    ``THRESHOLD`` attempts are counted and not yet resolved, so concurrent guesses cannot all
    pass the check while the slow password hash runs. The caller then reports the outcome with
    :func:`attempt_failed` or :func:`attempt_succeeded`.
    """
    if conn.in_transaction:
        conn.commit()
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("INSERT OR IGNORE INTO lockouts (key) VALUES (?)", (key,))
        row = conn.execute(
            "SELECT failures, lockouts, locked_until FROM lockouts WHERE key = ?", (key,)
        ).fetchone()
        if row["locked_until"] > now:
            wait = max(1, math.ceil(row["locked_until"] - now))
        elif row["failures"] >= THRESHOLD:
            wait = _lock(conn, key, row["lockouts"], now)
        else:
            conn.execute("UPDATE lockouts SET failures = failures + 1 WHERE key = ?", (key,))
            wait = 0
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return wait


def attempt_failed(conn: sqlite3.Connection, key: str, now: float) -> int:
    """The attempt counted by :func:`begin_attempt` was wrong: lock if it was the last allowed."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(
            "SELECT failures, lockouts FROM lockouts WHERE key = ?", (key,)
        ).fetchone()
        wait = 0
        if row is not None and row["failures"] >= THRESHOLD:
            wait = _lock(conn, key, row["lockouts"], now)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return wait


def attempt_succeeded(conn: sqlite3.Connection, key: str) -> None:
    """The attempt counted by :func:`begin_attempt` was right: it is not a failure."""
    conn.execute(
        "UPDATE lockouts SET failures = MAX(0, failures - 1) WHERE key = ?",
        (key,),
    )
    conn.commit()


def _lock(conn: sqlite3.Connection, key: str, lockouts: int, now: float) -> int:
    wait = lock_seconds(lockouts + 1)
    conn.execute(
        "UPDATE lockouts SET failures = 0, lockouts = ?, locked_until = ? WHERE key = ?",
        (lockouts + 1, now + wait, key),
    )
    return wait


def reset(conn: sqlite3.Connection, key: str) -> None:
    """Forget the counters after a completed login."""
    conn.execute("DELETE FROM lockouts WHERE key = ?", (key,))
    conn.commit()


def message(seconds: int) -> str:
    """What the login pages say while a username is locked."""
    unit = "second" if seconds == 1 else "seconds"
    return f"Too many attempts. Wait {seconds} {unit} before trying again."
