"""devidp/lockout.py: five wrong answers in a row lock the username, for longer each time."""

from __future__ import annotations

import sqlite3

import pytest

from devidp import db
from devidp import lockout

NOW = 1_800_000_000.0


@pytest.fixture
def conn(tmp_path):
    db.init_db(tmp_path / "lockout.sqlite3")
    connection = db.connect(tmp_path / "lockout.sqlite3")
    yield connection
    connection.close()


def fail(conn: sqlite3.Connection, key: str, times: int, now: float) -> int:
    wait = 0
    for _ in range(times):
        wait = lockout.begin_attempt(conn, key, now) or lockout.attempt_failed(conn, key, now)
    return wait


def test_four_failures_do_not_lock(conn):
    assert fail(conn, "user:demo", 4, NOW) == 0
    assert lockout.seconds_left(conn, "user:demo", NOW) == 0


def test_the_fifth_failure_locks_for_30_seconds(conn):
    assert fail(conn, "user:demo", 5, NOW) == 30
    assert lockout.seconds_left(conn, "user:demo", NOW) == 30
    assert lockout.seconds_left(conn, "user:demo", NOW + 29.5) == 1
    assert lockout.seconds_left(conn, "user:demo", NOW + 30) == 0


def test_each_lockout_doubles_the_wait(conn):
    now = NOW
    waits = []
    for _ in range(4):
        waits.append(fail(conn, "user:demo", 5, now))
        now += waits[-1]
    assert waits == [30, 60, 120, 240]


def test_the_wait_is_capped():
    assert lockout.lock_seconds(50) == lockout.MAX_SECONDS


def test_a_completed_login_resets_the_counters(conn):
    fail(conn, "user:demo", 5, NOW)
    lockout.reset(conn, "user:demo")
    assert lockout.seconds_left(conn, "user:demo", NOW) == 0
    assert fail(conn, "user:demo", 5, NOW) == 30  # back to the first wait


def test_usernames_are_counted_separately_and_case_insensitively(conn):
    assert lockout.key_for(" Demo ") == lockout.key_for("demo")
    fail(conn, lockout.key_for("demo"), 5, NOW)
    assert lockout.seconds_left(conn, lockout.key_for("DEMO"), NOW) == 30
    assert lockout.seconds_left(conn, lockout.key_for("nobody"), NOW) == 0


@pytest.mark.parametrize(("seconds", "text"), [(30, "Wait 30 seconds"), (1, "Wait 1 second ")])
def test_the_message_says_how_long_to_wait(seconds, text):
    message = lockout.message(seconds)
    assert message.startswith("Too many attempts")
    assert text in message + " "


def test_attempts_are_counted_before_they_are_checked(conn):
    # Twenty guesses arrive together: each is counted before its (slow) check, so only the
    # first five may be checked at all; the others are refused, and the sixth locks.
    waits = [lockout.begin_attempt(conn, "user:demo", NOW) for _ in range(20)]
    assert waits[:5] == [0] * 5
    assert all(wait == 30 for wait in waits[5:])
    assert lockout.seconds_left(conn, "user:demo", NOW) == 30
    # The five checked guesses turn out wrong: no further lock stacks up.
    assert [lockout.attempt_failed(conn, "user:demo", NOW) for _ in range(5)] == [0] * 5
    assert lockout.seconds_left(conn, "user:demo", NOW) == 30


def test_the_fifth_counted_wrong_attempt_locks(conn):
    for _ in range(4):
        assert lockout.begin_attempt(conn, "user:demo", NOW) == 0
        assert lockout.attempt_failed(conn, "user:demo", NOW) == 0
    assert lockout.begin_attempt(conn, "user:demo", NOW) == 0
    assert lockout.attempt_failed(conn, "user:demo", NOW) == 30
    assert lockout.begin_attempt(conn, "user:demo", NOW + 10) == 20  # refused while locked


def test_a_right_answer_does_not_count_as_a_failure(conn):
    for _ in range(4):
        lockout.begin_attempt(conn, "user:demo", NOW)
        lockout.attempt_failed(conn, "user:demo", NOW)
    assert lockout.begin_attempt(conn, "user:demo", NOW) == 0
    lockout.attempt_succeeded(conn, "user:demo")  # e.g. the right password, a code still due
    assert lockout.begin_attempt(conn, "user:demo", NOW) == 0
    assert lockout.attempt_failed(conn, "user:demo", NOW) == 30  # still the fifth failure
