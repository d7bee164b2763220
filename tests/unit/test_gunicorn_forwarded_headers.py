"""gunicorn as configured in config/gunicorn.conf.py trusts no forwarded header itself.

PORTAL_TRUSTED_PROXIES is the one switch (applied by the portal's ProxyFix). gunicorn's own
default would take ``X-Forwarded-Proto`` from 127.0.0.1, and from any unix-socket peer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gunicorn.app.base import Application
from gunicorn.http.parser import RequestParser

CONFIG = Path(__file__).resolve().parents[2] / "config" / "gunicorn.conf.py"


class ConfigOnly(Application):
    """gunicorn's own loading of the config file, without starting anything."""

    def load_config(self) -> None:
        self.load_config_from_file(str(CONFIG))

    def load(self):  # pragma: no cover - never served
        raise AssertionError("not served")


def parsed(cfg, peer, headers: str):
    raw = f"GET / HTTP/1.1\r\nHost: portal.example.com\r\n{headers}\r\n".encode()
    return next(iter(RequestParser(cfg, iter([raw]), peer)))


@pytest.mark.parametrize("proxies", ["0", "1", "2"])
@pytest.mark.parametrize(
    "peer", [("127.0.0.1", 50000), ("::1", 50000, 0, 0), ("10.1.2.3", 50000), ""]
)
@pytest.mark.parametrize(
    "header", ["X-Forwarded-Proto: https", "X-Forwarded-Ssl: on", "X-Forwarded-Protocol: ssl"]
)
def test_no_peer_can_set_the_scheme_through_gunicorn(monkeypatch, proxies, peer, header):
    monkeypatch.setenv("PORTAL_TRUSTED_PROXIES", proxies)
    cfg = ConfigOnly().cfg
    request = parsed(cfg, peer, header + "\r\n")
    assert request.scheme == "http"
