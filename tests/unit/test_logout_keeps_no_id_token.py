"""After "Log out", nothing of the customer is kept, and "Log out everywhere" names no one.

Before, a portal-only logout kept the raw ID token server-side (for up to 600 s, restarted on
every write) so that "Log out everywhere" on the logged-out page could send it as
``id_token_hint`` in a GET URL: the next person at a shared browser found the previous
customer's sub, sid, email and name in its history. The account page's "Log out everywhere"
sent the live session's token the same way. Now both send only ``client_id``,
``post_logout_redirect_uri`` and ``state``, the IdP asks the customer to confirm, and the
portal never stores the ID token at all.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup

from portal import create_app
from tests.support.portal_env import idp_env
from tests.support.stored_records import StoredRecords


@pytest.fixture(params=["redis", "filesystem"])
def portal(request, tmp_path, mock_idp):
    idp = mock_idp
    env = {"PORTAL_RATE_LIMIT": "3 per minute"}
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
        env.update(PORTAL_SESSION_BACKEND="redis", PORTAL_REDIS_URL=redis_url)
        records = StoredRecords(redis_url=redis_url)
    else:
        records = StoredRecords(folder=tmp_path / "sessions")
    client = create_app(idp_env(idp, tmp_path, **env)).test_client()
    idp.sign_in(client)
    [id_token] = idp.id_tokens
    return idp, client, records, id_token


def csrf(client, path="/account") -> str:
    page = BeautifulSoup(client.get(path).get_data(as_text=True), "html.parser")
    return page.find("input", attrs={"name": "csrf_token"})["value"]


def token_signature(id_token: str) -> bytes:
    """The ID token as the session stores it: its parts as raw bytes (the signature is the
    part no other record could hold by chance)."""
    signature = id_token.rsplit(".", 1)[1]
    return base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))


def test_the_id_token_is_never_stored(portal):
    """Not even while signed in: nothing in the store can be replayed as a token."""
    idp, client, records, id_token = portal
    assert client.get("/account").status_code == 200
    assert records.holding("alice@example.com")  # the session record is there
    assert records.holding(token_signature(id_token)) == []
    assert records.holding(id_token) == []


def test_a_record_of_the_previous_version_with_its_id_token_stays_signed_in(portal):
    """Records written while the ID token was kept (packed in three parts) are read, and
    the token dropped at the next write: a deployment signs no one out."""
    from portal import sessions

    idp, client, records, id_token = portal
    with client.application.test_request_context():
        state = sessions.PortalSession.from_state(
            {**fresh_state(client), "id_token": [b"header", b"payload", b"signature"]}
        )
    assert not hasattr(state, "id_token")
    assert state.email == "alice@example.com"


def fresh_state(client) -> dict:
    """The stored state of the client's session, as ``sessions`` writes it."""
    from portal import sessions

    app = client.application
    cookie = client.get_cookie("portal_session").value
    with app.test_request_context(headers={"Cookie": f"portal_session={cookie}"}):
        app.preprocess_request()
        active = sessions.current()
        assert active is not None
        return active.to_state()


def test_nothing_of_the_customer_is_stored_after_logout(portal):
    idp, client, records, id_token = portal
    client.post("/logout", data={"csrf_token": csrf(client)})
    client.get("/logged-out?scope=portal")
    assert records.holding(token_signature(id_token)) == []
    assert records.holding(id_token) == []
    assert records.holding("alice@example.com") == []


def test_log_out_everywhere_after_logout_sends_no_token_and_no_identifier(portal):
    idp, client, records, id_token = portal
    client.post("/logout", data={"csrf_token": csrf(client)})
    page = BeautifulSoup(client.get("/logged-out").get_data(as_text=True), "html.parser")
    form = page.find("button", string="Log out everywhere").find_parent("form")
    assert form["method"] == "get"
    response = client.get(form["action"])
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(idp.metadata["end_session_endpoint"] + "?")
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert set(params) == {"client_id", "post_logout_redirect_uri", "state"}
    assert params["client_id"] == "portal"
    assert params["post_logout_redirect_uri"] == "http://127.0.0.1:8888/logged-out"
    for trace in (id_token, "user-123", "sid-1", "alice", "Alice Example"):
        assert trace not in unquote(location)
    back = client.get("/logged-out", query_string={"state": params["state"]})
    assert "You are logged out everywhere" in back.get_data(as_text=True)
    assert records.holding(params["state"]) == []  # the state is used up, its record gone


def test_log_out_everywhere_while_signed_in_sends_no_token_either(portal):
    """That URL stays in the browser's history, on the computer the button is meant for."""
    idp, client, records, id_token = portal
    response = client.post("/logout/everywhere", data={"csrf_token": csrf(client)})
    params = parse_qs(urlsplit(response.headers["Location"]).query)
    assert set(params) == {"client_id", "post_logout_redirect_uri", "state"}
    for trace in (id_token.rsplit(".", 1)[1], "user-123", "alice"):
        assert trace not in unquote(response.headers["Location"])
    assert records.holding("alice@example.com") == []


def test_the_tokenless_button_does_not_log_a_signed_in_customer_out(portal):
    idp, client, records, id_token = portal
    response = client.get("/logged-out/everywhere")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200


def test_the_tokenless_button_is_rate_limited(portal):
    idp, client, records, id_token = portal
    client.post("/logout", data={"csrf_token": csrf(client)})
    statuses = [client.get("/logged-out/everywhere").status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]


def test_records_stay_readable_by_the_previous_version(portal):
    """During a rolling deployment (or after a rollback) the previous version reads these
    records; it needs an ``id_token`` field and takes a string as it is, an empty one too."""
    idp, client, records, id_token = portal
    assert fresh_state(client)["id_token"] == ""
