"""Unit-test fixtures: a ``responses`` mock for the provider's HTTP endpoints."""

from __future__ import annotations

import pytest
import responses


@pytest.fixture
def rsps():
    """HTTP to the provider is mocked; Redis (a real server) is let through."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("redis://")
        yield mock
