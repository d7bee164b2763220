"""The provider's signing keys, fetched once and refetched only when a token names a new key.

Like Authlib's ``create_load_key`` (refetch once on an unknown ``kid``) with one addition:
refetches are rate-limited (``min_refetch_interval``), so a flood of tokens with invented
``kid`` values cannot make the portal hammer the IdP's JWKS endpoint; and while the IdP is down,
fetches are not repeated or queued for (see portal/fetch_gate.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import Key
from joserfc.jwk import KeySet

from portal.clock import Clock
from portal.fetch_gate import FetchGate
from portal.oidc import KeysUnavailable
from portal.oidc import TokenError

log = logging.getLogger("portal.oidc")

#: JWK key types that can verify each algorithm family.
_KTY_FOR_ALG = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


class JwksCache:
    """Thread-safe cache of one provider's JWKS.

    Fetches go through a :class:`~portal.fetch_gate.FetchGate`: one at a time, a failure
    remembered briefly, and no queueing behind a fetch while the IdP is failing (``Busy``
    propagates; the provider answers 503). Reading loaded keys never waits for a fetch.
    """

    def __init__(
        self,
        fetch: Callable[[], Mapping[str, Any]],
        clock: Clock,
        min_refetch_interval: float = 60.0,
        gate: FetchGate | None = None,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._min_interval = min_refetch_interval
        self._gate = gate or FetchGate(clock)
        self._keys: KeySet | None = None
        self._refetched_at: float | None = None
        self.fetch_count = 0

    def keys(self) -> KeySet:
        keys = self._keys
        if keys is not None:
            return keys
        return self._gate.run(self._load, done=lambda: self._keys)

    def find_key(self, header: Mapping[str, Any]) -> Key:
        """The key for a token header; one refetch (rate-limited) when the kid is unknown."""
        key = self._pick(self.keys(), header)
        if key is not None:
            return key
        if self._refetch_skipped():
            keys = self._keys
        else:
            keys = self._gate.run(self._refetch, done=lambda: None)
        key = self._pick(keys, header) if keys is not None else None
        if key is None:
            raise TokenError("no key in the provider's JWKS matches the token's kid")
        return key

    def _refetch_skipped(self) -> bool:
        now = self._clock.now()
        if self._refetched_at is None or now - self._refetched_at >= self._min_interval:
            return False
        log.warning("jwks refetch skipped: last one %.0f s ago", now - self._refetched_at)
        return True

    def _refetch(self) -> KeySet | None:
        # asked again under the gate's lock: another request may have just refetched
        if self._refetch_skipped():
            return self._keys
        log.info("jwks refetch: token names unknown kid")
        self._refetched_at = self._clock.now()
        return self._load()

    def _load(self) -> KeySet:
        data = self._fetch()
        try:
            keys = KeySet.import_key_set(dict(data))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise KeysUnavailable(f"provider JWKS unreadable: {type(exc).__name__}") from None
        self._keys = keys
        self.fetch_count += 1
        return keys

    @staticmethod
    def _pick(keys: KeySet, header: Mapping[str, Any]) -> Key | None:
        alg = str(header.get("alg", ""))
        kty = _KTY_FOR_ALG.get(alg[:2])
        kid = header.get("kid")
        candidates = [k for k in keys.keys if k.key_type == kty and k.get("use", "sig") == "sig"]
        if kid is not None:
            candidates = [k for k in candidates if k.kid == kid]
        elif len(candidates) != 1:
            return None
        return candidates[0] if candidates else None
