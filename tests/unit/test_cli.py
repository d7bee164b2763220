"""portal/cli.py: the development server's access log."""

from __future__ import annotations


def test_dev_server_access_log_drops_query_strings():
    import io
    import logging

    from portal.cli import _path_only_handler

    handler_cls = _path_only_handler()
    handler = handler_cls.__new__(handler_cls)
    handler.path = "/auth/callback?code=secret-code&state=secret-state"
    handler.command = "GET"
    handler.client_address = ("127.0.0.1", 1)
    stream = io.StringIO()
    log = logging.getLogger("werkzeug")
    log.addHandler(logging.StreamHandler(stream))
    log.setLevel(logging.INFO)
    try:
        handler.log_request(302, 0)
    finally:
        log.handlers.clear()
    assert "/auth/callback" in stream.getvalue()
    assert "secret-code" not in stream.getvalue()
