"""A small browser for HTTP tests: keeps cookies, follows redirects, fills and submits forms.

Enough of a browser to walk the customer journey across the portal and the IdP without
JavaScript (which the journey never needs: every page works without it).
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin
from urllib.parse import urlsplit

import requests
import urllib3
from bs4 import BeautifulSoup
from bs4 import Tag
from requests.adapters import HTTPAdapter


@dataclass
class Page:
    response: requests.Response
    browser: Browser

    @property
    def url(self) -> str:
        return self.response.url

    @property
    def path(self) -> str:
        return urlsplit(self.response.url).path

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def html(self) -> str:
        return self.response.text

    @property
    def soup(self) -> BeautifulSoup:
        return BeautifulSoup(self.response.text, "html.parser")

    @property
    def text(self) -> str:
        """Visible text with whitespace collapsed, for assertions on what a person reads."""
        return " ".join(self.soup.get_text(" ").split())

    def find_form(self, button: str | None = None, action: str | None = None) -> Tag:
        forms = self.soup.find_all("form")
        for form in forms:
            if action is not None and not (form.get("action") or "").endswith(action):
                continue
            if button is not None and not _has_button(form, button, self.soup):
                continue
            return form
        raise AssertionError(
            f"no form with button={button!r} action={action!r} on {self.url}:\n{self.text[:2000]}"
        )

    def submit(
        self,
        fields: dict[str, str] | None = None,
        *,
        button: str | None = None,
        action: str | None = None,
        follow: bool = True,
    ) -> Page:
        """Submit a form as a browser would: hidden inputs included, then ``fields``."""
        form = self.find_form(button, action)
        data: dict[str, Any] = {}
        for field in form.find_all(["input", "textarea", "select"]):
            name = field.get("name")
            if not name or field.get("type") in ("submit", "button"):
                continue
            data[name] = field.get("value", "")
        if button is not None:
            named = _button(form, button, self.soup)
            if named is not None and named.get("name"):
                data[named["name"]] = named.get("value", "")
        data.update(fields or {})
        target = urljoin(self.url, form.get("action") or self.url)
        method = (form.get("method") or "get").lower()
        if method == "post":
            return self.browser.request("POST", target, data=data, follow=follow)
        return self.browser.request("GET", target, params=data, follow=follow)

    def click(self, text: str, *, follow: bool = True) -> Page:
        for link in self.soup.find_all("a"):
            if " ".join(link.get_text(" ").split()) == text:
                return self.browser.get(urljoin(self.url, link["href"]), follow=follow)
        raise AssertionError(f"no link {text!r} on {self.url}:\n{self.text[:2000]}")


def _has_button(form: Tag, label: str, soup: BeautifulSoup) -> bool:
    return _button(form, label, soup) is not None


def _button(form: Tag, label: str, soup: BeautifulSoup) -> Tag | None:
    candidates = list(form.find_all(["button", "input"]))
    if form.get("id"):
        candidates += soup.find_all(attrs={"form": form["id"]})
    for el in candidates:
        text = el.get_text(" ").strip() if el.name == "button" else el.get("value", "")
        if el.name == "input" and el.get("type") not in ("submit", "button"):
            continue
        if " ".join(text.split()) == label:
            return el
    return None


def _closed_before_answer(error: requests.ConnectionError) -> bool:
    """Whether the server reset or closed the connection without answering: what a server
    does when it drops a kept-alive connection at the moment the next request goes out."""
    reason = error.args[0] if error.args else None
    if not isinstance(reason, urllib3.exceptions.ProtocolError) or len(reason.args) < 2:
        return False
    return isinstance(reason.args[1], ConnectionResetError | http.client.RemoteDisconnected)


class _BrowserAdapter(HTTPAdapter):
    """Sends a GET again, once, when the connection was closed before any answer.

    A browser does this: a server may close an idle kept-alive connection (gunicorn after its
    ``keepalive`` seconds) just as the next request is sent on it, and the request was then
    never read. Only GET, which the journey's servers treat as safe to repeat; a second
    failure is raised.
    """

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        try:
            return super().send(request, **kwargs)
        except requests.ConnectionError as error:
            if request.method != "GET" or not _closed_before_answer(error):
                raise
            return super().send(request, **kwargs)


class Browser:
    def __init__(self, timeout: float = 15.0) -> None:
        self.session = requests.Session()
        self.session.mount("http://", _BrowserAdapter())
        self.session.mount("https://", _BrowserAdapter())
        self.timeout = timeout
        self.history: list[str] = []

    def request(self, method: str, url: str, *, follow: bool = True, **kwargs: Any) -> Page:
        response = self.session.request(
            method, url, allow_redirects=follow, timeout=self.timeout, **kwargs
        )
        self.history.extend(r.url for r in response.history)
        self.history.append(response.url)
        return Page(response, self)

    def get(self, url: str, *, follow: bool = True, **kwargs: Any) -> Page:
        return self.request("GET", url, follow=follow, **kwargs)

    def cookie(self, name: str) -> str | None:
        return self.session.cookies.get(name)

    def close(self) -> None:
        self.session.close()
