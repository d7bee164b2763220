"""devidp/lockout.py: wrong answers lock an account from one address, under a per-account ceiling."""

from __future__ import annotations

import sqlite3

import pytest

from devidp import db
from devidp import lockout

NOW = 1_800_000_000.0
ACCOUNT = lockout.account_for(7, "demo")
HOME = "192.0.2.10"
ELSEWHERE = "198.51.100.20"


@pytest.fixture
def conn(tmp_path):
    db.init_db(tmp_path / "lockout.sqlite3")
    connection = db.connect(tmp_path / "lockout.sqlite3")
    yield connection
    connection.close()


def throttle(address: str = HOME, account: str = ACCOUNT) -> tuple[lockout.Counter, ...]:
    return lockout.counters(account, address)


def per_address(address: str = HOME, account: str = ACCOUNT) -> str:
    return throttle(address, account)[0].key


def fail(conn: sqlite3.Connection, times: int, now: float, address: str = HOME) -> int:
    wait = 0
    counters = throttle(address)
    for _ in range(times):
        wait = lockout.begin_attempt(conn, counters, now) or lockout.attempt_failed(
            conn, counters, now
        )
    return wait


def test_four_failures_do_not_lock(conn):
    assert fail(conn, 4, NOW) == 0
    assert lockout.seconds_left(conn, per_address(), NOW) == 0


def test_the_fifth_failure_locks_for_30_seconds(conn):
    assert fail(conn, 5, NOW) == 30
    assert lockout.seconds_left(conn, per_address(), NOW) == 30
    assert lockout.seconds_left(conn, per_address(), NOW + 29.5) == 1
    assert lockout.seconds_left(conn, per_address(), NOW + 30) == 0


def test_each_lockout_doubles_the_wait(conn):
    now = NOW
    waits = []
    for _ in range(4):
        waits.append(fail(conn, 5, now))
        now += waits[-1]
    assert waits == [30, 60, 120, 240]


def test_the_wait_is_capped():
    assert lockout.PER_ADDRESS.lock_seconds(50) == lockout.PER_ADDRESS.max_seconds == 3600
    assert lockout.PER_ACCOUNT.lock_seconds(50) == lockout.PER_ACCOUNT.max_seconds


def test_a_completed_login_resets_the_counters(conn):
    fail(conn, 5, NOW)
    lockout.reset(conn, throttle())
    assert lockout.seconds_left(conn, per_address(), NOW) == 0
    assert fail(conn, 5, NOW) == 30  # back to the first wait


def test_another_address_does_not_lock_the_owner_out(conn):
    # An attacker elsewhere fails 55 times (eleven lockouts of that address, over hours) ...
    now = NOW
    for _ in range(10):
        now += fail(conn, 5, now, address=ELSEWHERE)
    assert fail(conn, 5, now, address=ELSEWHERE) == 3600
    # ... and the owner, at home, is still checked.
    assert lockout.begin_attempt(conn, throttle(HOME), now) == 0


def test_the_per_account_ceiling_holds_against_many_addresses(conn):
    # 100 wrong answers in a row from 20 addresses: each address is locked after its fifth,
    # and the account as a whole after the hundredth, for every address, for 15 minutes.
    addresses = [f"203.0.113.{i}" for i in range(1, 21)]
    for address in addresses:
        fail(conn, 5, NOW, address=address)
    assert lockout.begin_attempt(conn, throttle(HOME), NOW) == 900
    assert lockout.seconds_left(conn, ACCOUNT, NOW) == 900
    assert lockout.begin_attempt(conn, throttle(HOME), NOW + 900) == 0


def test_refused_guesses_do_not_count_towards_the_ceiling(conn):
    for _ in range(200):  # hammering while locked
        fail(conn, 1, NOW, address=ELSEWHERE)
    row = conn.execute("SELECT failures FROM lockouts WHERE key = ?", (ACCOUNT,)).fetchone()
    assert row["failures"] == 5


def test_accounts_are_user_ids_and_unknown_names_are_counted_alike():
    assert lockout.account_for(7, "Demo") == lockout.account_for(7, "someone-else") == "user#7"
    assert lockout.account_for(None, " Nobody ") == lockout.account_for(None, "nobody")
    assert lockout.account_for(None, "7") != lockout.account_for(7, "7")


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # the same /64: one client
        ("::ffff:192.0.2.1", "192.0.2.1"),
        (None, "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_client_networks(address, network):
    assert lockout.client_network(address) == network


@pytest.mark.parametrize(("seconds", "text"), [(30, "Wait 30 seconds"), (1, "Wait 1 second ")])
def test_the_message_says_how_long_to_wait(seconds, text):
    message = lockout.message(seconds)
    assert message.startswith("Too many attempts")
    assert text in message + " "


def test_attempts_are_counted_before_they_are_checked(conn):
    # Twenty guesses arrive together: each is counted before its (slow) check, so only the
    # first five may be checked at all; the others are refused, and the sixth locks.
    waits = [lockout.begin_attempt(conn, throttle(), NOW) for _ in range(20)]
    assert waits[:5] == [0] * 5
    assert all(wait == 30 for wait in waits[5:])
    assert lockout.seconds_left(conn, per_address(), NOW) == 30
    # The five checked guesses turn out wrong: no further lock stacks up.
    assert [lockout.attempt_failed(conn, throttle(), NOW) for _ in range(5)] == [0] * 5
    assert lockout.seconds_left(conn, per_address(), NOW) == 30


def test_the_fifth_counted_wrong_attempt_locks(conn):
    for _ in range(4):
        assert lockout.begin_attempt(conn, throttle(), NOW) == 0
        assert lockout.attempt_failed(conn, throttle(), NOW) == 0
    assert lockout.begin_attempt(conn, throttle(), NOW) == 0
    assert lockout.attempt_failed(conn, throttle(), NOW) == 30
    assert lockout.begin_attempt(conn, throttle(), NOW + 10) == 20  # refused while locked


def test_a_right_answer_does_not_count_as_a_failure(conn):
    for _ in range(4):
        lockout.begin_attempt(conn, throttle(), NOW)
        lockout.attempt_failed(conn, throttle(), NOW)
    assert lockout.begin_attempt(conn, throttle(), NOW) == 0
    lockout.attempt_succeeded(conn, throttle())  # e.g. the right password, a code still due
    assert lockout.begin_attempt(conn, throttle(), NOW) == 0
    assert lockout.attempt_failed(conn, throttle(), NOW) == 30  # still the fifth failure


def count_rows(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM lockouts").fetchone()[0]


def test_old_counters_are_pruned(conn):
    for i in range(50):  # fifty unknown usernames, one guess each
        names = lockout.counters(lockout.account_for(None, f"nobody{i}"), ELSEWHERE)
        lockout.begin_attempt(conn, names, NOW)
        lockout.attempt_failed(conn, names, NOW)
    assert count_rows(conn) == 100
    fail(conn, 5, NOW + 3600)  # the owner's address locked, an hour later
    later = NOW + lockout.PRUNE_AFTER_SECONDS + 1
    lockout.begin_attempt(conn, throttle(ELSEWHERE), later)
    # The day-old rows are gone; the owner's two (touched an hour later) and the new one stay.
    assert count_rows(conn) == 3
    assert lockout.seconds_left(conn, per_address(), NOW + 3600) == 30


def test_a_counter_still_locked_is_not_pruned(conn):
    later = NOW + lockout.PRUNE_AFTER_SECONDS + 1
    conn.executemany(
        "INSERT INTO lockouts (key, locked_until, updated_at) VALUES (?, ?, ?)",
        [("locked", later + 60, NOW), ("was locked", NOW + 60, NOW)],
    )
    conn.commit()
    assert lockout.prune(conn, later) == 1
    assert [row["key"] for row in conn.execute("SELECT key FROM lockouts")] == ["locked"]
