"""The README's security model states the Referrer-Policy the portal really sends."""

from __future__ import annotations

import re
from pathlib import Path

from portal import create_app
from tests.support.portal_env import portal_env

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_states_the_referrer_policy_that_is_sent(tmp_path):
    text = " ".join(README.read_text(encoding="utf-8").split())
    stated = re.findall(r"Referrer-Policy:\s*([a-z-]+)", text)
    sent = create_app(portal_env(tmp_path)).test_client().get("/healthz")
    assert stated == [sent.headers["Referrer-Policy"]]
