"""50 customers log in at once through the live dev IdP; then 50 account views at once.

Every customer must see only their own name: no session mix-up under concurrency.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

CUSTOMERS = 50


def test_fifty_concurrent_logins_and_account_views(stack):
    users = [stack.user() for _ in range(CUSTOMERS)]
    journeys = [stack.journey() for _ in users]

    def login(pair):
        user, journey = pair
        # 50 journeys move the shared test clocks at once, so whether the portal shows the
        # redirection page is not what this test checks (tests of that page do): only that
        # every customer lands signed in as themselves
        page = journey.through_idp(user)
        return page.click("Continue") if page.path == "/auth/signed-in" else page

    with ThreadPoolExecutor(max_workers=CUSTOMERS) as pool:
        accounts = list(pool.map(login, zip(users, journeys, strict=True)))
    for user, account in zip(users, accounts, strict=True):
        assert account.path == "/account"
        assert user.email in account.text

    def view(pair):
        user, journey = pair
        page = journey.open("/account")
        return user, page

    with ThreadPoolExecutor(max_workers=CUSTOMERS) as pool:
        views = list(pool.map(view, zip(users, journeys, strict=True)))
    cookies = set()
    for user, page in views:
        assert page.status == 200
        assert page.path == "/account"
        assert f"{user.username}@example.com" in page.text
        others = [u.email for u in users if u is not user and u.email in page.text]
        assert others == [], f"{user.username} sees {others}"
        cookies.add(page.browser.cookie("portal_session"))
    assert len(cookies) == CUSTOMERS
    assert "Traceback" not in stack.portal.log_text()
