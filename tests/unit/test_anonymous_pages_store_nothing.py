"""Anonymous visits store nothing: no page a stranger can reach creates server-side state.

Before, the logged-out page rendered a CSRF token for its "Log out everywhere" form, so every
anonymous visit stored a new session: 200 requests, 200 records. Only Login (and the logged-out
page's "Log out everywhere", which must keep the logout ``state``) may store something, and
both are rate-limited.
"""

from __future__ import annotations

import pytest

from portal import create_app
from tests.support.portal_env import idp_env
from tests.support.stored_records import StoredRecords

VISITS = 20

ANONYMOUS_REQUESTS = [
    ("GET", "/"),
    ("GET", "/logged-out"),
    ("GET", "/logged-out?scope=portal"),
    ("GET", "/logged-out?state=forged-state"),
    ("GET", "/no-such-page"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/account"),
    ("GET", "/account/security"),
    ("GET", "/auth/signed-in"),
    ("GET", "/auth/callback?state=forged&code=forged"),
    ("GET", "/auth/no-access"),
    ("GET", "/metrics"),
    ("GET", "/static/portal.css"),
    ("POST", "/logout"),
    ("POST", "/logout/everywhere"),
    ("POST", "/login/confirm-authenticator"),
    ("POST", "/account/security"),
    ("POST", "/account/confirm-sign-in"),
    ("POST", "/auth/backchannel-logout"),
]


@pytest.fixture(params=["redis", "filesystem"])
def portal(request, tmp_path, mock_idp):
    overrides = {"PORTAL_RATE_LIMIT": "1000 per minute"}
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
        overrides.update(PORTAL_SESSION_BACKEND="redis", PORTAL_REDIS_URL=redis_url)
        records = StoredRecords(redis_url=redis_url)
    else:
        records = StoredRecords(folder=tmp_path / "sessions")
    return create_app(idp_env(mock_idp, tmp_path, **overrides)), records


@pytest.mark.parametrize(
    ("method", "path"), ANONYMOUS_REQUESTS, ids=[" ".join(r) for r in ANONYMOUS_REQUESTS]
)
def test_anonymous_requests_store_no_session(portal, method, path):
    app, records = portal
    before = records.count()
    for _ in range(VISITS):
        response = app.test_client().open(path, method=method)
        response.close()
        assert response.status_code < 500, response.get_data(as_text=True)[:500]
        assert "portal_session=" not in response.headers.get("Set-Cookie", "")
    assert records.count() == before, list(records.values())


def test_logged_out_page_needs_no_session_for_log_out_everywhere(portal):
    app, _ = portal
    page = app.test_client().get("/logged-out").get_data(as_text=True)
    assert "Log out everywhere" in page
    assert 'name="csrf_token"' not in page
    assert 'action="/logged-out/everywhere"' in page


def test_log_out_everywhere_after_logout_stores_its_state_only_when_pressed(portal):
    app, records = portal
    before = records.count()
    client = app.test_client()
    client.get("/logged-out")
    assert records.count() == before
    response = client.get("/logged-out/everywhere")
    assert response.status_code == 302
    assert records.count() == before + 1  # the logout state, to check on return
