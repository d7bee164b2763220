"""portal/errors.py: an unexpected error is a 500 with a traceback in the log, only a real
session-store failure is a 503, and a page that cannot render still gets an answer."""

from __future__ import annotations

import logging

import pytest
from jinja2 import TemplateNotFound

from portal import create_app
from tests.support.portal_env import portal_env


@pytest.fixture
def app(tmp_path):
    app = create_app(portal_env(tmp_path))

    @app.get("/boom/oserror")
    def oserror():
        raise FileNotFoundError("no such file: invoices.csv")

    @app.get("/boom/template")
    def missing_template():
        raise TemplateNotFound("landing.html")

    return app


@pytest.mark.parametrize("path", ["/boom/oserror", "/boom/template"])
def test_unexpected_oserror_is_a_500_not_a_store_outage(app, path, caplog):
    caplog.set_level(logging.ERROR, logger="portal")
    response = app.test_client().get(path)
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body
    assert "temporarily unavailable" not in body
    assert "Traceback" not in body
    assert "session store unavailable" not in caplog.text
    record = next(r for r in caplog.records if "unexpected error" in r.getMessage())
    assert record.exc_info is not None  # the traceback goes to the log


def test_error_page_that_cannot_render_still_answers(app, monkeypatch, caplog):
    """A broken install (no templates) gets a plain-text 500, never a dropped connection."""
    caplog.set_level(logging.ERROR, logger="portal")
    monkeypatch.setattr(app, "jinja_loader", None)
    app.jinja_env.loader = None
    response = app.test_client().get("/boom/oserror")
    assert response.status_code == 500
    assert response.mimetype == "text/plain"
    assert "Something went wrong" in response.get_data(as_text=True)
    assert "the error page could not be rendered" in caplog.text


def test_missing_page_when_templates_cannot_render_is_still_a_404(app):
    app.jinja_env.loader = None
    response = app.test_client().get("/no-such-page")
    assert response.status_code == 404
    assert "There is no page at this address." in response.get_data(as_text=True)


def test_templates_and_css_come_from_the_package(tmp_path, monkeypatch):
    """Pages render from any working directory: templates and CSS are package data."""
    monkeypatch.chdir(tmp_path)
    client = create_app(portal_env(tmp_path)).test_client()
    landing = client.get("/")
    assert landing.status_code == 200
    assert "Login" in landing.get_data(as_text=True)
    with client.get("/static/portal.css") as css:
        assert css.status_code == 200
        assert css.mimetype == "text/css"


@pytest.mark.parametrize("query", ["lang=\xff", "\xff=1", "next=/account&x=\xc3"])
def test_a_query_string_that_is_not_utf8_gets_the_400_page(app, query, caplog):
    """Raw bytes (the WSGI query string is latin-1 text of them): werkzeug's strict decoding
    would make every read of the query raise, the error page's own included."""
    with caplog.at_level(logging.WARNING, logger="portal"):
        response = app.test_client().get("/", environ_overrides={"QUERY_STRING": query})
    assert response.status_code == 400
    assert '<html lang="en">' in response.get_data(as_text=True)
    assert "query string is not UTF-8" in caplog.text


def test_percent_escapes_that_are_not_utf8_are_not_refused(app):
    assert app.test_client().get("/?x=%ff&lang=fr").status_code == 200
