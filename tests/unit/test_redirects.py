"""portal/redirects.py: only same-origin paths are followed after login."""

from __future__ import annotations

import pytest

from portal.redirects import DEFAULT_TARGET
from portal.redirects import safe_target
from tests.support.payloads import open_redirect_payloads

PAYLOADS = open_redirect_payloads()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_is_refused(payload):
    assert safe_target(payload) == DEFAULT_TARGET


@pytest.mark.parametrize("target", ["/account", "/account/security", "/account?tab=profile", "/"])
def test_local_path_is_kept(target):
    assert safe_target(target) == target


@pytest.mark.parametrize("empty", [None, ""])
def test_missing_target_gives_default(empty):
    assert safe_target(empty) == DEFAULT_TARGET


def test_overlong_target_is_refused():
    assert safe_target("/" + "a" * 600) == DEFAULT_TARGET
