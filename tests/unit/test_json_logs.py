"""PORTAL_LOG_FORMAT=json: one JSON object a line, request ids, and nothing secret in them.

Under gunicorn (its own lines and the access lines too): tests/integration/test_json_logs.py.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from urllib.parse import urlsplit

import pytest

from portal import create_app
from portal.logs import ACCESS_ATOMS
from portal.logs import JsonFormatter
from portal.logs import make_handler

FAKE_EVENT = '{"time":"2026-11-28T14:05:00.000+00:00","level":"INFO","event":"login.ok"}'


def record(msg: str, *args, name: str = "portal.auth", **extra) -> logging.LogRecord:
    made = logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args or None, None)
    made.__dict__.update(extra)
    return made


def test_a_line_is_one_json_object_with_the_keys_in_order():
    line = JsonFormatter().format(record("login failed: %s", "state unknown"))
    entry = json.loads(line)
    assert list(entry)[:5] == ["time", "level", "logger", "event", "request_id"]
    assert entry["level"] == "WARNING" and entry["logger"] == "portal.auth"
    assert entry["event"] == "login failed: state unknown"
    assert entry["time"].endswith("+00:00")


@pytest.mark.parametrize(
    "hostile",
    ["x\n" + FAKE_EVENT, "x\r\n" + FAKE_EVENT, "esc\x1b[31m", "del\x7f", "nel\x85", "ls\u2028"],
)
def test_a_value_from_a_request_cannot_write_a_line_of_its_own(hostile):
    line = JsonFormatter().format(record("refused sid=%s", hostile))
    assert "\n" not in line and "\r" not in line
    assert line.isascii() and line.isprintable()  # every control character is escaped
    assert json.loads(line)["event"] == "refused sid=" + hostile


def test_a_traceback_is_one_json_string():
    try:
        raise ValueError("boom\n" + FAKE_EVENT)
    except ValueError:
        failed = logging.LogRecord(
            "portal", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = JsonFormatter().format(failed)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]


def test_event_fields_are_keys_and_cannot_overwrite_the_fixed_ones():
    line = JsonFormatter().format(
        record("x", event="login.ok", fields={"sub": "s1", "level": "DEBUG", "event": "forged"})
    )
    entry = json.loads(line)
    assert entry["event"] == "login.ok" and entry["level"] == "WARNING"
    assert entry["sub"] == "s1"
    assert entry["field_level"] == "DEBUG" and entry["field_event"] == "forged"


def test_gunicorn_access_lines_carry_no_query_string_nor_headers():
    atoms = {
        "h": "127.0.0.1",
        "m": "GET",
        "U": "/auth/callback",
        "q": "code=SECRET-CODE&state=SECRET-STATE",
        "r": "GET /auth/callback?code=SECRET-CODE HTTP/1.1",
        "f": "http://idp/?code=SECRET-CODE",
        "s": "302",
        "b": "189",
        "D": "1520",
        "{authorization}i": "Bearer SECRET-TOKEN",
        "{x-request-id}o": "abc123",
    }
    access = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, '%(h)s "%(r)s"', (atoms,), None
    )
    line = JsonFormatter().format(access)
    entry = json.loads(line)
    assert "SECRET" not in line
    assert entry["event"] == "http.access"
    assert entry["path"] == "/auth/callback" and entry["status"] == 302
    assert entry["duration_us"] == 1520 and entry["request_id"] == "abc123"
    assert set(ACCESS_ATOMS) <= set(entry)


@pytest.fixture
def json_lines():
    """What the portal's handler writes, as parsed JSON objects (every line must parse)."""
    buffer = io.StringIO()
    handlers: list[logging.Handler] = []

    def capture(app) -> None:
        handler = next(h for h in logging.getLogger().handlers if getattr(h, "_portal", None))
        assert isinstance(handler.formatter, JsonFormatter)
        handler.setStream(buffer)
        handlers.append(handler)

    def lines() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines()]

    capture.lines = lines  # type: ignore[attr-defined]
    capture.text = buffer.getvalue  # type: ignore[attr-defined]
    yield capture
    for handler in handlers:
        handler.setStream(sys.stderr)


@pytest.fixture
def json_app(tmp_path, mock_idp, json_lines):
    app = create_app(mock_idp.portal_env(tmp_path / "sessions", PORTAL_LOG_FORMAT="json"))
    json_lines(app)
    yield app
    create_app(mock_idp.portal_env(tmp_path / "sessions"))  # back to text for other tests


def test_json_mode_puts_the_handler_on_the_root_logger_and_text_mode_takes_it_back(
    tmp_path, mock_idp
):
    create_app(mock_idp.portal_env(tmp_path / "s", PORTAL_LOG_FORMAT="json"))
    root = [h for h in logging.getLogger().handlers if getattr(h, "_portal", None)]
    assert [h._portal for h in root] == ["json"]
    logging.getLogger("werkzeug").warning("a library's line")  # reaches the JSON handler
    create_app(mock_idp.portal_env(tmp_path / "s"))
    assert not [h for h in logging.getLogger().handlers if getattr(h, "_portal", None)]
    portal = [h for h in logging.getLogger("portal").handlers if getattr(h, "_portal", None)]
    assert [h._portal for h in portal] == ["text"]


def test_every_response_has_a_request_id_that_its_lines_carry(json_app, json_lines):
    client = json_app.test_client()
    first = client.get("/logout/everywhere-nothing")  # a 404: logged by nobody, still an id
    second = client.post("/auth/backchannel-logout")  # refused: one warning line
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(len(rid) == 32 for rid in ids) and ids[0] != ids[1]
    [refused] = [e for e in json_lines.lines() if "no logout_token" in e["event"]]
    assert refused["request_id"] == ids[1]


@pytest.mark.parametrize(
    ("proxies", "sent", "kept"),
    [
        ("0", "proxy-id-1", False),  # no trusted proxy: a client's header is ignored
        ("1", "proxy-id-1", True),
        ("1", "3f2a9c1e-7b4d-4c2a-9e1f-0a1b2c3d4e5f", True),
        ("1", "bad id forged", False),
        ("1", "id;<script>", False),
        ("1", "x" * 129, False),
        ("1", "", False),
    ],
)
def test_x_request_id_is_taken_from_a_trusted_proxy_only(tmp_path, mock_idp, proxies, sent, kept):
    app = create_app(mock_idp.portal_env(tmp_path / "s", PORTAL_TRUSTED_PROXIES=proxies))
    answer = app.test_client().get("/healthz", headers={"X-Request-ID": sent})
    assert (answer.headers["X-Request-ID"] == sent) is kept
    assert "\n" not in answer.headers["X-Request-ID"]


def test_a_journey_writes_json_lines_without_a_token_code_or_secret(json_app, json_lines, mock_idp):
    client = json_app.test_client()
    params = mock_idp.begin(client, "/login?next=/account%3Fsecret-query%3D1")
    answer = mock_idp.authorize(params)
    callback = client.get(urlsplit(params["redirect_uri"]).path, query_string=answer)
    assert callback.status_code == 302
    assert client.get("/account").status_code == 200
    client.post("/auth/backchannel-logout", data={"logout_token": mock_idp.logout_token()})
    entries = json_lines.lines()  # each line parsed on its own: all are JSON
    events = [e["event"] for e in entries]
    assert "login.ok" in events and "session.ended.backchannel" in events
    assert all(e["request_id"] for e in entries if e["logger"].startswith("portal"))
    text = json_lines.text()
    secrets = [
        answer["code"],
        answer["state"],
        params["nonce"],
        params["code_challenge"],
        mock_idp.id_tokens[-1],
        mock_idp.id_tokens[-1].split(".")[2],  # the signature alone
        mock_idp.access_tokens[-1],
        mock_idp.client_secret,
        "secret-query",
    ]
    for secret in secrets:
        assert secret not in text, secret


def test_make_handler_is_the_gunicorn_handler_factory():
    handler = make_handler("json", io.StringIO())
    assert isinstance(handler.formatter, JsonFormatter)
    assert handler._portal == "json"  # type: ignore[attr-defined]
