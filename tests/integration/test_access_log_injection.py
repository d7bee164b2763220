"""Under gunicorn as deployed, with the default text logs, a request cannot write a log line.

gunicorn's access line shows the path decoded (``%(U)s``), so ``/%0A...`` arrives there as a
real line break: without the portal's formatter on gunicorn's loggers, whoever sends that
request writes a line of their choosing into the log (CWE-117). The JSON format escapes by
construction (tests/integration/test_json_logs.py).
"""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

FORGED = "2026-11-30 12:00:00,000 INFO portal.audit: login.ok sub=admin"


def test_a_line_break_in_the_path_is_escaped_in_the_access_line(stack):
    parts = urlsplit(stack.portal.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", "/%0A" + FORGED.replace(" ", "%20") + "%1B%5B2J")
        assert conn.getresponse().status == 404
    finally:
        conn.close()
    deadline = time.monotonic() + 10
    while "%5B2J" not in stack.portal.log_text() and "[2J" not in stack.portal.log_text():
        assert time.monotonic() < deadline, "the request never reached the access log"
        time.sleep(0.05)  # polling a live process's log, not a test delay
    log = stack.portal.log_text()
    assert not any(line.startswith(FORGED) for line in log.splitlines())
    assert "\x1b" not in log
    assert "\\n" + FORGED in log and "\\x1b[2J" in log
