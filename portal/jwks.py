"""The provider's signing keys, fetched once and refetched only when a token names a new key.

Like Authlib's ``create_load_key`` (refetch once on an unknown ``kid``) with one addition:
refetches are rate-limited (``min_refetch_interval``), so a flood of tokens with invented
``kid`` values cannot make the portal hammer the IdP's JWKS endpoint.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import Key
from joserfc.jwk import KeySet

from portal.clock import Clock
from portal.oidc import KeysUnavailable
from portal.oidc import TokenError

log = logging.getLogger("portal.oidc")

#: JWK key types that can verify each algorithm family.
_KTY_FOR_ALG = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


class JwksCache:
    """Thread-safe cache of one provider's JWKS."""

    def __init__(
        self,
        fetch: Callable[[], Mapping[str, Any]],
        clock: Clock,
        min_refetch_interval: float = 60.0,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._min_interval = min_refetch_interval
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._refetched_at: float | None = None
        self.fetch_count = 0

    def keys(self) -> KeySet:
        with self._lock:
            if self._keys is None:
                self._refresh()
            assert self._keys is not None
            return self._keys

    def find_key(self, header: Mapping[str, Any]) -> Key:
        """The key for a token header; one refetch (rate-limited) when the kid is unknown."""
        key = self._pick(self.keys(), header)
        if key is not None:
            return key
        with self._lock:
            now = self._clock.now()
            if self._refetched_at is None or now - self._refetched_at >= self._min_interval:
                log.info("jwks refetch: token names unknown kid")
                self._refetched_at = now
                self._refresh()
            else:
                log.warning("jwks refetch skipped: last one %.0f s ago", now - self._refetched_at)
            keys = self._keys
        key = self._pick(keys, header) if keys is not None else None
        if key is None:
            raise TokenError("no key in the provider's JWKS matches the token's kid")
        return key

    def _refresh(self) -> None:
        data = self._fetch()
        try:
            self._keys = KeySet.import_key_set(dict(data))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise KeysUnavailable(f"provider JWKS unreadable: {type(exc).__name__}") from None
        self.fetch_count += 1

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
