"""The demo wired for tests: a live dev IdP and live portal(s), sessions in a real Redis.

``Stack`` hands out fresh users (so tests sharing one stack never share a customer) and
``Journey`` objects that walk the customer journey over HTTP.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from tests.support.devidp import DevIdP
from tests.support.devidp import start_devidp
from tests.support.journey import Authenticator
from tests.support.journey import Journey
from tests.support.journey import User
from tests.support.portal_server import CLIENT_SECRET
from tests.support.portal_server import LivePortal
from tests.support.processes import free_port

USER_POOL = 60


def pool_user(n: int) -> User:
    return User(
        username=f"customer{n:02d}",
        password=f"password-of-customer-{n:02d}",
        name=f"Customer {n:02d}",
        email=f"customer{n:02d}@example.com",
    )


class Stack:
    def __init__(
        self,
        workdir: Path,
        *,
        redis_url: str | None,
        idp_options: dict | None = None,
        portal_env: dict[str, str] | None = None,
        portals: int = 1,
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        ports = [free_port() for _ in range(portals)]
        base_urls = [f"http://127.0.0.1:{p}" for p in ports]
        options = dict(idp_options or {})
        clients_extra = dict(options.pop("clients_extra", {}))
        clients_extra.setdefault("redirect_uris", [f"{u}/auth/callback" for u in base_urls])
        clients_extra.setdefault(
            "post_logout_redirect_uris", [f"{u}/logged-out" for u in base_urls]
        )
        self.idp: DevIdP = start_devidp(
            workdir / "devidp",
            portal_base_url=base_urls[0],
            client_secret=CLIENT_SECRET,
            users=[pool_user(n).as_config() for n in range(USER_POOL)],
            clients_extra=clients_extra,
            **options,
        )
        self.portals: list[LivePortal] = []
        try:
            for i, port in enumerate(ports):
                env = {"PORTAL_SSO_NAME": "Example Business Auth", **(portal_env or {})}
                portal = LivePortal(
                    workdir,
                    issuer=self.idp.url,
                    port=port,
                    redis_url=redis_url,
                    env=env,
                    name=f"portal{i}",
                )
                self.portals.append(portal.start())
        except BaseException:
            self.stop()
            raise
        self._users = itertools.count()
        self.phone = Authenticator()

    @property
    def portal(self) -> LivePortal:
        return self.portals[0]

    def user(self) -> User:
        n = next(self._users)
        assert n < USER_POOL, "user pool exhausted: raise USER_POOL"
        return pool_user(n)

    def journey(self, portal: LivePortal | None = None) -> Journey:
        """A new browser for one customer; authenticator secrets are shared (same phone)."""
        return Journey(portal or self.portal, self.idp, self.phone)

    def advance_clocks(self, seconds: float) -> None:
        """Move the IdP's and every portal's clock together (time passes for everyone)."""
        self.idp.advance_clock(seconds)
        for portal in self.portals:
            portal.advance_clock(seconds)

    def stop(self) -> None:
        for portal in self.portals:
            portal.stop()
        self.idp.stop()
