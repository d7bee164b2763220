"""The portal.testing fixtures build the app we deploy: the portal plus our blueprints."""

from __future__ import annotations

import my_portal
import pytest


@pytest.fixture
def portal_factory():
    return my_portal.create_app
