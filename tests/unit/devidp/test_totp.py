"""devidp/totp.py: RFC 6238 codes with one step of drift, no reuse, and the otpauth URI."""

from __future__ import annotations

import pyotp
import pytest

from devidp import totp

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 1_800_000_015.0  # inside step 60_000_000
STEP = int(NOW // 30)


def code(step: int) -> str:
    return pyotp.TOTP(SECRET).at(step * 30)


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_codes_within_one_step_of_drift_are_accepted(offset):
    result = totp.verify(SECRET, code(STEP + offset), now=NOW, last_used_step=None)
    assert result == totp.Verification(totp.Outcome.VALID, STEP + offset)


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_codes_further_away_are_refused(offset):
    assert totp.verify(SECRET, code(STEP + offset), now=NOW, last_used_step=None).outcome is (
        totp.Outcome.INVALID
    )


def test_a_used_step_and_earlier_steps_are_refused_as_reused():
    assert totp.verify(SECRET, code(STEP), now=NOW, last_used_step=STEP).outcome is (
        totp.Outcome.REUSED
    )
    assert totp.verify(SECRET, code(STEP - 1), now=NOW, last_used_step=STEP).outcome is (
        totp.Outcome.REUSED
    )
    assert totp.verify(SECRET, code(STEP + 1), now=NOW, last_used_step=STEP).outcome is (
        totp.Outcome.VALID
    )


@pytest.mark.parametrize(
    "bad", ["", "12345", "1234567", "abcdef", "12 34 5x", "١٢٣٤٥٦", "１２３４５６", "¹²³⁴⁵⁶"]
)
def test_malformed_codes_are_invalid(bad):
    assert totp.verify(SECRET, bad, now=NOW, last_used_step=None).outcome is totp.Outcome.INVALID


def test_spaces_inside_a_code_are_ignored():
    spaced = code(STEP)[:3] + " " + code(STEP)[3:]
    assert totp.verify(SECRET, spaced, now=NOW, last_used_step=None).outcome is totp.Outcome.VALID


def test_the_otpauth_uri_names_brand_and_user_and_the_parameters():
    uri = totp.provisioning_uri(SECRET, "demo", "Example Business")
    assert uri == (
        f"otpauth://totp/Example%20Business:demo?secret={SECRET}&issuer=Example%20Business"
        "&algorithm=SHA1&digits=6&period=30"
    )
    parsed = pyotp.parse_uri(uri)
    assert parsed.issuer == "Example Business"
    assert parsed.name == "demo"
    assert parsed.now() == pyotp.TOTP(SECRET).now()


def test_new_secrets_are_160_bit_base32():
    secret = totp.new_secret()
    assert len(secret) == 32
    assert secret != totp.new_secret()


def test_the_qr_code_is_a_scalable_inline_svg():
    svg = totp.qr_svg("otpauth://totp/x?secret=" + SECRET)
    assert svg.startswith("<svg") and "viewBox" in svg
    assert "width=" not in svg.split(">")[0]


def test_device_storage_claims_each_step_once(app):
    from devidp import db
    from devidp import users

    with app.app_context():
        conn = db.get_db()
        user = users.find_by_username(conn, "demo")
        secret = totp.new_secret()
        assert totp.get_device(conn, user.id) is None
        assert totp.confirm_device(conn, user.id, secret, STEP, NOW)
        assert totp.get_device(conn, user.id) == totp.Device(user.id, secret, STEP)
        # A second enrolment never replaces the device.
        assert not totp.confirm_device(conn, user.id, totp.new_secret(), STEP + 5, NOW)
        assert totp.get_device(conn, user.id) == totp.Device(user.id, secret, STEP)
        assert not totp.claim_step(conn, user.id, STEP)
        assert totp.claim_step(conn, user.id, STEP + 1)
        assert not totp.claim_step(conn, user.id, STEP)
        assert totp.reset(conn, user.id)
        assert totp.get_device(conn, user.id) is None
        assert not totp.reset(conn, user.id)
