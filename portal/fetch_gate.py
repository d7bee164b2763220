"""One fetch from the IdP at a time, and a failed fetch remembered for a short while.

The discovery document and the JWKS are fetched when first needed, and the first need can come
from anyone: ``POST /auth/backchannel-logout`` is open to the internet. While the IdP is down
or hanging, each such request would start a fetch of its own and queue behind the one under
way, holding a server thread for up to ``PORTAL_HTTP_TIMEOUT`` each; a handful of requests
would tie up every thread, and signed-in pages (which never need the IdP) would stall with
them. So:

* a failure is remembered for :data:`FAILURE_MEMORY` seconds (on the portal's clock), during
  which every caller gets the same error at once, without calling the IdP;
* a caller that finds a fetch under way does not queue behind it: it gets :class:`Busy` at
  once (the routes answer 503) when the IdP has failed since it last answered. While the IdP
  is not known to be failing (a cold start), it waits for that fetch to end, which the
  fetch's own timeout (``PORTAL_HTTP_TIMEOUT``) bounds, so that the first burst of logins
  after start-up is not turned away: half a second was too little for a busy two-core
  machine (50 concurrent first logins got "not reachable"). An IdP that hangs from the start
  holds the waiting threads for that one timeout, once; its failure is then remembered.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import TypeVar

from portal.clock import Clock

T = TypeVar("T")

#: Seconds a failed fetch is remembered: no new fetch, the same error at once.
FAILURE_MEMORY = 15.0
#: Seconds a caller may wait for another caller's fetch while the IdP is not known to fail;
#: in practice the fetch ends sooner, at the latest after PORTAL_HTTP_TIMEOUT (at most 60).
HEALTHY_WAIT = 60.0


class Busy(Exception):
    """Another request is fetching right now (while the IdP is failing); answer 503."""


class FetchGate:
    """Guards one kind of fetch (discovery, JWKS) of one provider. Thread-safe."""

    def __init__(
        self,
        clock: Clock,
        *,
        failure_memory: float = FAILURE_MEMORY,
        healthy_wait: float = HEALTHY_WAIT,
    ) -> None:
        self._clock = clock
        self._memory = failure_memory
        self._healthy_wait = healthy_wait
        self._lock = threading.Lock()
        self._failed_at: float | None = None
        self._failure: Exception | None = None

    def run(self, fetch: Callable[[], T], *, done: Callable[[], T | None]) -> T:
        """``done()`` if it has a result, else ``fetch()`` under the rules above.

        ``done`` is asked again once the lock is held: another caller may have finished the
        fetch meanwhile. Raises :class:`Busy`, the remembered failure, or ``fetch``'s error.
        """
        self._raise_remembered()
        wait = 0.0 if self._failed_at is not None else self._healthy_wait
        acquired = self._lock.acquire(timeout=wait) if wait > 0 else self._lock.acquire(False)
        if not acquired:
            raise Busy("a fetch from the IdP is already under way")
        try:
            result = done()
            if result is not None:
                return result
            self._raise_remembered()
            try:
                result = fetch()
            except Exception as exc:
                self._failed_at, self._failure = self._clock.now(), exc
                raise
            self._failed_at, self._failure = None, None
            return result
        finally:
            self._lock.release()

    def failing(self) -> bool:
        """Whether the last fetch failed (and no later one succeeded)."""
        return self._failed_at is not None

    def _raise_remembered(self) -> None:
        failed_at, failure = self._failed_at, self._failure
        if failed_at is None or failure is None:
            return
        if self._clock.now() - failed_at >= self._memory:
            return
        # a copy: the same exception object raised in several threads would share a traceback
        again = copy.copy(failure)
        if isinstance(getattr(again, "reason", None), str):
            again.reason = (
                f"{again.reason} (failed less than {self._memory:.0f} s ago; not retried yet)"  # type: ignore[attr-defined]
            )
        raise again
