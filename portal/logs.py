"""Log set-up: one line per event, to stderr, with the reason; never a token or secret.

Log lines carry values that come from requests (a refused logout token's claimed ``sid``, a
path, an IdP's error code). A newline in such a value would let its sender write a line that
looks like an event of its own (log injection, CWE-117), so the one formatter every portal
line goes through escapes control characters in the message, whatever the call site does.

With ``PORTAL_LOG_FORMAT=json`` every line is one JSON object instead (:class:`JsonFormatter`):
``time``, ``level``, ``logger``, ``event``, ``request_id`` and the event's fields. JSON strings
escape every control character and, with ``ensure_ascii``, every non-ASCII one, so the same
defence holds there. In that mode the handler sits on the root logger, so that lines of
libraries, of werkzeug and of gunicorn (portal/gunicorn_conf.py sends its loggers there) are
JSON too.

Every request gets an id (:func:`request_id`): the ``X-Request-ID`` a trusted proxy sent, else
a new one. It is echoed in the response's ``X-Request-ID`` and carried by every JSON line
written while the request runs, so one customer's complaint leads to its lines.

Also the one time format pages use, so the account page and the logs agree.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
import sys
import uuid
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import has_request_context
from flask import request

from portal.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the bidirectional
#: overrides and isolates (which make a terminal show text in another order than it is).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def sid_hash(sid: str | None) -> str | None:
    """The first 16 hex digits of SHA-256(sid): enough to correlate with the IdP's logs, not
    the sid itself, which names a live IdP session. Every line that speaks of a sid, audit
    trail or not, writes this instead."""
    if not sid:
        return None
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()[:16]


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\x1b``, ...)."""
    return _UNSAFE.sub(_escape_one, text)


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


class SafeFormatter(logging.Formatter):
    """A formatter whose every event is one line, however hostile its arguments.

    The message (``msg % args``) is escaped. A traceback keeps its lines, for readability,
    but every one of them is indented and has its control characters (other than the line
    breaks) escaped, so an exception message cannot start a line that passes for an event.
    """

    def format(self, record: logging.LogRecord) -> str:
        safe = copy.copy(record)  # other handlers (pytest's, gunicorn's) see the original
        safe.msg = escape_controls(record.getMessage())
        safe.args = None
        safe.exc_info = None
        safe.exc_text = None
        safe.stack_info = None
        line = self._line(safe)
        extra = []
        if record.exc_info:
            extra.append(self.formatException(record.exc_info))
        elif record.exc_text:
            extra.append(record.exc_text)
        if record.stack_info:
            extra.append(self.formatStack(record.stack_info))
        for block in extra:
            for part in block.splitlines():
                line += "\n    " + escape_controls(part)
        return line

    def _line(self, record: logging.LogRecord) -> str:
        return super().format(record)


class EscapingFormatter(SafeFormatter):
    """:class:`SafeFormatter`'s escaping around another formatter, whose layout it keeps.

    For gunicorn's own text lines (portal/gunicorn_conf.py): its access line shows the path
    decoded, so a request for ``/%0A...`` would otherwise write a line break, and a line of
    the sender's choosing, into the log.
    """

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def _line(self, record: logging.LogRecord) -> str:
        return self.inner.format(record)


#: Keys every JSON line has; an event field of the same name is written ``field_<name>``.
JSON_KEYS = ("time", "level", "logger", "event", "request_id")

#: gunicorn's access-log atoms a JSON access line carries, and their names there. Only these:
#: the query string (``q``), the request line (``r``), the referrer and the other headers may
#: carry an authorization code or a token.
ACCESS_ATOMS = {
    "remote": "h",
    "method": "m",
    "path": "U",
    "status": "s",
    "bytes": "b",
    "duration_us": "D",
}

REQUEST_ID_HEADER = "X-Request-ID"
#: What an incoming request id may look like (a UUID, a proxy's hex or base64url id ...).
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``event``, ``request_id``,
    then the event's fields.

    ``event`` is the event's name for structured events (the audit trail passes
    ``extra={"event": ..., "fields": {...}}``), ``http.access`` for gunicorn's access lines,
    and the message itself for every other line. A traceback goes into ``exception``, as one
    JSON string.
    """

    def format(self, record: logging.LogRecord) -> str:
        event, fields = _event_of(record)
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": event,
            "request_id": fields.pop("request_id", None) or getattr(record, "request_id", None),
        }
        for name, value in fields.items():
            entry[f"field_{name}" if name in JSON_KEYS else name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # ensure_ascii writes everything outside printable ASCII (controls, DEL, U+2028,
        # bidirectional overrides ...) as an escape: the line stays one line, as it reads
        return json.dumps(entry, ensure_ascii=True, default=str, separators=(",", ":"))


def _event_of(record: logging.LogRecord) -> tuple[str, dict[str, Any]]:
    event = getattr(record, "event", None)
    if isinstance(event, str):
        fields = getattr(record, "fields", None)
        return event, dict(fields) if isinstance(fields, Mapping) else {}
    if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
        fields = {name: _atom(record.args, atom) for name, atom in ACCESS_ATOMS.items()}
        for name in ("status", "bytes", "duration_us"):
            if isinstance(fields[name], str) and fields[name].isdigit():
                fields[name] = int(fields[name])
        header = _atom(record.args, "{" + REQUEST_ID_HEADER.lower() + "}o")
        fields["request_id"] = header if header != "-" else None
        return "http.access", fields
    return record.getMessage(), {}


def _atom(atoms: Mapping[str, Any], name: str) -> Any:
    try:
        return atoms[name]
    except KeyError:
        return "-"


class RequestIdFilter(logging.Filter):
    """Gives every record written during a request that request's id (``request_id``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id()
        return True


def request_id() -> str | None:
    """This request's id: from a trusted proxy's ``X-Request-ID``, else a new UUID.

    Made on first use (a log line written while the session is opened may come first) and
    kept on ``g``. ``X-Request-ID`` counts only with PORTAL_TRUSTED_PROXIES above 0, the same
    switch that decides whether forwarded headers count, and only when it looks like an id:
    anything else a client sends is ignored, never logged.
    """
    if not has_request_context():
        return None
    existing = g.get("request_id")
    if existing is not None:
        return existing
    settings = current_app.extensions.get("portal.settings")
    if settings is None:  # another app (the dev IdP in the same process, in tests)
        return None
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    if settings.trusted_proxies and _REQUEST_ID.fullmatch(incoming):
        g.request_id = incoming
    else:
        g.request_id = uuid.uuid4().hex
    return g.request_id


def make_handler(fmt: str = "json", stream: Any = None) -> logging.Handler:
    """The portal's handler, to stderr: :class:`SafeFormatter` lines, or JSON lines.

    Also the handler factory of gunicorn's logging configuration in JSON mode (see
    portal/gunicorn_conf.py), so the master's lines and the workers' are one format.
    """
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else SafeFormatter(FORMAT))
    handler.addFilter(RequestIdFilter())
    handler._portal = fmt  # type: ignore[attr-defined]
    return handler


def install(fmt: str) -> None:
    """One portal handler in the process: on the root logger for JSON (every library's lines
    become JSON), on the ``portal`` logger for text (as before). Idempotent; an app built
    with the other format moves it."""
    root, portal = logging.getLogger(), logging.getLogger("portal")
    target = root if fmt == "json" else portal
    for logger in (root, portal):
        for handler in list(logger.handlers):
            kind = getattr(handler, "_portal", None)
            if kind and (logger is not target or kind != fmt):
                logger.removeHandler(handler)
    if not any(getattr(h, "_portal", None) == fmt for h in target.handlers):
        target.addHandler(make_handler(fmt))


def init_app(app: Flask, settings: Settings) -> None:
    install(settings.log_format)
    logging.getLogger("portal").setLevel(settings.log_level)
    # Authlib logs the PKCE code_verifier at DEBUG: keep it quiet whatever the root level.
    logging.getLogger("authlib").setLevel(logging.WARNING)
    app.logger.setLevel(settings.log_level)

    @app.before_request
    def assign_request_id() -> None:
        request_id()

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        rid = request_id()
        if rid:
            response.headers[REQUEST_ID_HEADER] = rid
        return response


def format_time(timestamp: float) -> str:
    """``2026-11-28 14:05 UTC``: unambiguous for customers in any time zone."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
