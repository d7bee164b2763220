"""Which post-login targets the portal follows: same-origin relative paths, nothing else.

Written by hand because the rule is short and must be exact: werkzeug and Flask offer no
"is this a safe local redirect" helper. Payloads the tests throw at it are in
tests/data/open-redirect-payloads.txt.
"""

from __future__ import annotations

from urllib.parse import unquote
from urllib.parse import urlsplit

DEFAULT_TARGET = "/account"
_FORBIDDEN_CHARACTERS = set("\\\r\n\t\x00 ")


def safe_target(value: str | None, default: str = DEFAULT_TARGET) -> str:
    """``value`` when it is a local path such as ``/account?tab=1``, else ``default``."""
    if not value or len(value) > 512:
        return default
    # Check the value and its percent-decoded forms: browsers and proxies decode too.
    candidates = [value, unquote(value), unquote(unquote(value))]
    for candidate in candidates:
        if not _is_local_path(candidate):
            return default
    return value


def _is_local_path(candidate: str) -> bool:
    if not candidate.startswith("/") or candidate.startswith("//"):
        return False
    if _FORBIDDEN_CHARACTERS & set(candidate):
        return False
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in candidate):
        return False
    parts = urlsplit(candidate)
    return not parts.scheme and not parts.netloc
