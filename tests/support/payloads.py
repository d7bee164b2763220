"""Attack payloads kept as data files, like mod_auth_openidc's open-redirect list."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"


def open_redirect_payloads() -> list[str]:
    """Post-login targets the portal must never follow (tests/data/open-redirect-payloads.txt)."""
    text = (DATA / "open-redirect-payloads.txt").read_text()
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
