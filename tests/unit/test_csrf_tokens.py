"""portal/csrf_tokens.py: one signature per session's CSRF token, and forms still checked."""

from __future__ import annotations

from unittest import mock

from bs4 import BeautifulSoup
from flask_wtf import csrf as flask_wtf_csrf

from portal.csrf_tokens import SignedTokenCache


def form_token(client, path: str = "/account") -> str:
    page = BeautifulSoup(client.get(path).get_data(as_text=True), "html.parser")
    return page.find("input", attrs={"name": "csrf_token"})["value"]


def test_later_page_views_reuse_the_signed_token(signed_in_client):
    first = form_token(signed_in_client)
    with mock.patch.object(
        flask_wtf_csrf, "URLSafeTimedSerializer", side_effect=AssertionError("signed again")
    ):
        assert form_token(signed_in_client) == first


def test_the_reused_token_still_passes_and_a_forged_one_fails(signed_in_client):
    form_token(signed_in_client)
    token = form_token(signed_in_client)
    refused = signed_in_client.post("/logout", data={"csrf_token": token[:-2] + "xx"})
    assert refused.status_code == 400
    accepted = signed_in_client.post("/logout", data={"csrf_token": token})
    assert accepted.status_code in (302, 303)


def test_another_session_gets_its_own_token(portal_app, mock_idp):
    one, two = portal_app.test_client(), portal_app.test_client()
    mock_idp.sign_in(one)
    mock_idp.sign_in(two, sub="user-456")
    assert form_token(one) != form_token(two)


def test_the_cache_is_bounded():
    cache = SignedTokenCache(size=2)
    for raw in ("a", "b", "c"):
        cache.put(raw, raw.upper())
    assert cache.get("a") is None
    assert (cache.get("b"), cache.get("c")) == ("B", "C")
