"""Under gunicorn as deployed, a forwarded header counts only per PORTAL_TRUSTED_PROXIES.

With the default of 0, a client on 127.0.0.1 (where gunicorn's own default trusts
``X-Forwarded-Proto``) cannot make the portal believe a request came over https. That belief
is visible: on https, Flask-WTF also demands a same-origin Referer on every form post.
"""

from __future__ import annotations


def test_x_forwarded_proto_from_loopback_is_ignored_without_trusted_proxies(stack):
    user = stack.user()
    journey = stack.journey()
    account = journey.first_login(user)
    token = account.find_form(button="Log out").find("input", attrs={"name": "csrf_token"})
    response = journey.browser.session.post(
        stack.portal.url + "/logout",
        data={"csrf_token": token["value"]},
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on"},
        allow_redirects=False,
        timeout=15,
    )
    assert response.status_code == 302, response.text[:500]  # plain http: no Referer needed
    assert "referrer" not in stack.portal.log_text().lower()
