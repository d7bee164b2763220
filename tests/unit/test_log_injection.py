"""Log injection: a value from a request can never write a line of its own in the portal's log."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from portal import create_app
from portal.logs import FORMAT
from portal.logs import SafeFormatter
from portal.logs import escape_controls
from portal.logs import sid_hash
from tests.support.portal_env import idp_env
from tests.support.tokens import rsa_key

FAKE_EVENT = "2026-11-28 14:05:00,000 INFO portal.auth: back-channel logout: ended 99 session(s)"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("tab\there", "tab\\there"),
        ("esc\x1b[31mred", "esc\\x1b[31mred"),
        ("nul\x00", "nul\\x00"),
        ("c1\x85next-line", "c1\\x85next-line"),
        ("ls\u2028ps\u2029", "ls\\u2028ps\\u2029"),
        ("bidi\u202eevil", "bidi\\u202eevil"),
        ("plain ascii, accents é and 日本", "plain ascii, accents é and 日本"),
    ],
)
def test_control_characters_are_escaped(raw, shown):
    assert escape_controls(raw) == shown


def test_formatter_escapes_message_and_args_and_indents_tracebacks():
    formatter = SafeFormatter(FORMAT)
    record = logging.LogRecord(
        "portal.auth", logging.WARNING, __file__, 1, "refused sid=%s", ("x\n" + FAKE_EVENT,), None
    )
    line = formatter.format(record)
    assert "\n" not in line
    assert line.endswith("refused sid=x\\n" + FAKE_EVENT)
    try:
        raise ValueError("boom\n" + FAKE_EVENT)
    except ValueError:
        record = logging.LogRecord(
            "portal", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    text = formatter.format(record)
    first, *rest = text.split("\n")
    assert first.endswith("portal: failed")
    assert rest and all(part.startswith("    ") for part in rest)
    assert not any(part.startswith("2026-11-28 14:05") for part in rest)


def test_refused_logout_token_cannot_forge_a_log_line(tmp_path, mock_idp):
    app = create_app(idp_env(mock_idp, tmp_path))
    handler = next(h for h in logging.getLogger("portal").handlers if getattr(h, "_portal", False))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)  # what the portal's own handler writes
    try:
        stranger = rsa_key(mock_idp.key.kid)  # the IdP's kid, a key it never published
        claimed = "s\r\n" + FAKE_EVENT[:40]
        token = mock_idp.logout_token(key=stranger, sid=claimed)
        response = app.test_client().post("/auth/backchannel-logout", data={"logout_token": token})
    finally:
        handler.setStream(previous)
    assert response.status_code == 400
    lines = buffer.getvalue().splitlines()
    refused = [line for line in lines if "back-channel logout refused" in line]
    assert len(refused) == 1, lines
    # the claimed sid is written as its digest, so nothing of the sender's text reaches the line
    assert f"claimed sid_hash={sid_hash(claimed)}" in refused[0]
    assert not any(line.startswith("2026-11-28 14:05:00") for line in lines), lines
