"""Integration fixtures: the live dev IdP + live portal + real Redis, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import Stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_server) -> Iterator[Stack]:
    """One IdP and one portal for a test module; each test takes its own users."""
    live = Stack(tmp_path_factory.mktemp("stack"), redis_url=redis_server.url)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def own_stack(tmp_path, redis_server):
    """A stack for one test, for tests that move clocks or need special settings."""
    made: list[Stack] = []

    def make(**kwargs) -> Stack:
        kwargs.setdefault("redis_url", redis_server.url)
        live = Stack(tmp_path / f"stack{len(made)}", **kwargs)
        made.append(live)
        return live

    yield make
    for live in made:
        live.stop()
