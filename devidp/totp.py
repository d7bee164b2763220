"""TOTP devices (RFC 6238): enrolment, the otpauth URI and QR code, and code checks.

Codes are 6 digits, SHA-1, 30 s steps, as authenticator apps expect. A code is accepted for the
current time step or one step either side (RFC 6238 §5.2 allows a small window for clock drift),
and only for a step later than the last one used, so a code cannot be replayed (§5.2: "the
verifier MUST NOT accept the second attempt of the OTP after the successful validation").
The device is stored only after a correct code, and only if the user has none yet; until then
the secret waits in the login flow's state (:func:`devidp.flow.enrolment_secret`), so the setup
page shows the same QR code on every try and the secret expires with the flow.
"""

from __future__ import annotations

import enum
import hmac
import sqlite3
from dataclasses import dataclass
from urllib.parse import quote

import pyotp
import segno

DIGITS = 6
PERIOD = 30
DRIFT_STEPS = 1


class Outcome(enum.Enum):
    VALID = "valid"
    INVALID = "invalid"
    REUSED = "reused"


@dataclass(frozen=True)
class Verification:
    """The result of checking a code; ``step`` is the time step it matched (if any)."""

    outcome: Outcome
    step: int | None = None


@dataclass(frozen=True)
class Device:
    user_id: int
    secret: str
    last_used_step: int | None


def new_secret() -> str:
    """A fresh 160-bit base32 secret (RFC 4226 §4 recommends 160 bits)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str, brand: str) -> str:
    """The Key URI authenticator apps scan; the entry shows as "<brand>: <username>"."""
    label = quote(f"{brand}:{username}", safe=":@")
    issuer = quote(brand, safe="")
    return (
        f"otpauth://totp/{label}?secret={secret}&issuer={issuer}"
        f"&algorithm=SHA1&digits={DIGITS}&period={PERIOD}"
    )


def qr_svg(uri: str, title: str = "QR code for your authenticator app") -> str:
    """The URI as an inline SVG QR code (no size attributes, so CSS scales it); ``title`` is
    its accessible name, in the screen's language."""
    qr = segno.make(uri, error="m")
    return qr.svg_inline(
        scale=1,
        border=2,
        omitsize=True,
        dark="#000",
        light="#fff",
        title=title,
        svgclass="qr",
        lineclass=None,
    )


def time_step(now: float) -> int:
    return int(now // PERIOD)


def code_at(secret: str, step: int) -> str:
    """The code an authenticator shows during ``step``."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).at(step * PERIOD)


def normalise(code: str) -> str:
    """Accept "123 456" as typed from some apps; keep only the digits."""
    return "".join(code.split())


def verify(secret: str, code: str, *, now: float, last_used_step: int | None) -> Verification:
    """Check ``code`` at ``now`` with one step of drift; refuse steps already used."""
    code = normalise(code)
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):  # not "١٢٣٤٥٦"
        return Verification(Outcome.INVALID)
    current = time_step(now)
    matched = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(code_at(secret, step), code):
            matched = step
    if matched is None:
        return Verification(Outcome.INVALID)
    if last_used_step is not None and matched <= last_used_step:
        return Verification(Outcome.REUSED, matched)
    return Verification(Outcome.VALID, matched)


# --- storage ----------------------------------------------------------------------------------


def get_device(conn: sqlite3.Connection, user_id: int) -> Device | None:
    row = conn.execute(
        "SELECT user_id, secret, last_used_step FROM totp_devices WHERE user_id = ?", (user_id,)
    ).fetchone()
    if row is None:
        return None
    return Device(row["user_id"], row["secret"], row["last_used_step"])


def confirm_device(
    conn: sqlite3.Connection, user_id: int, secret: str, step: int, now: float
) -> bool:
    """Save the device after a correct code (``step`` counts as used); False if one exists.

    A plain INSERT: an enrolled device is never replaced by a setup page that was still open
    in another flow (only the admin's ``reset`` removes a device).
    """
    try:
        conn.execute(
            "INSERT INTO totp_devices (user_id, secret, last_used_step, confirmed_at) "
            "VALUES (?, ?, ?, ?)",
            (user_id, secret, step, now),
        )
    except sqlite3.IntegrityError:
        conn.rollback()
        return False
    conn.commit()
    return True


def claim_step(conn: sqlite3.Connection, user_id: int, step: int) -> bool:
    """Mark ``step`` used, atomically; False if it (or a later step) was already used."""
    cur = conn.execute(
        "UPDATE totp_devices SET last_used_step = ? "
        "WHERE user_id = ? AND (last_used_step IS NULL OR last_used_step < ?)",
        (step, user_id, step),
    )
    conn.commit()
    return cur.rowcount == 1


def reset(conn: sqlite3.Connection, user_id: int) -> bool:
    """Remove the user's device; True if there was a device."""
    cur = conn.execute("DELETE FROM totp_devices WHERE user_id = ?", (user_id,))
    conn.commit()
    return cur.rowcount > 0
