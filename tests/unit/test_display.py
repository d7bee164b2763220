"""Plain words for protocol values on the customer's pages (portal/display.py)."""

from __future__ import annotations

import re

import pytest

from portal.display import duration
from portal.display import factors
from portal.display import iso_time


@pytest.mark.parametrize(
    ("amr", "words"),
    [
        (["pwd", "otp", "mfa"], "Password and authenticator app"),  # the dev IdP
        (["pwd", "mfa"], "Password and a second factor"),  # authentik after a TOTP code
        (["pwd"], "Password"),  # authentik and Keycloak at TOTP enrolment
        (["otp", "pwd"], "Password and authenticator app"),
        (["pwd", "hwk", "otp"], "Password, authenticator app and security key"),
        (["mfa"], "A second factor"),
        (["urn:example:unknown"], ""),
        ([], ""),
    ],
)
def test_factors(amr, words):
    assert factors(amr) == words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (3600, "an hour"),
        (43200, "12 hours"),
        (600, "10 minutes"),
        (60, "a minute"),
        (90, "90 seconds"),
    ],
)
def test_duration(seconds, words):
    assert duration(seconds) == words


def test_iso_time_is_utc():
    assert iso_time(1_800_000_000) == "2027-01-15T08:00:00Z"


def test_account_page_marks_times_up_for_local_display(signed_in_client, mock_idp):
    page = signed_in_client.get("/account").get_data(as_text=True)
    assert '<time datetime="' in page and "data-local-time" in page
    assert " UTC</time>" in page  # the fallback without JavaScript
    assert '<script src="/static/local-time.js" defer></script>' in page


def test_sign_in_details_say_the_factors_in_words(signed_in_client):
    page = signed_in_client.get("/account/security").get_data(as_text=True)
    assert "Password and authenticator app" in page
    assert "pwd" not in page


@pytest.mark.parametrize(
    ("portal_settings", "language", "words"),
    [
        ({}, "en", "if it is older than 10 minutes)"),
        ({"PORTAL_FRESH_AUTH_MAX_AGE": "300"}, "en", "if it is older than 5 minutes)"),
        ({"PORTAL_FRESH_AUTH_MAX_AGE": "1800"}, "fr", "si elle date de plus de 30 minutes)"),
    ],
)
def test_account_page_says_the_configured_age_of_a_fresh_sign_in(
    signed_in_client, portal_settings, language, words
):
    page = signed_in_client.get(f"/account?lang={language}").get_data(as_text=True)
    assert words in re.sub(r"[ \n]+", " ", page)  # the template's line breaks, not NBSP
