"""Templates compiled per language (portal/page_templates.py) say exactly what they said when
every text was looked up at render time, and they really skip those lookups.

The reference is the same app with the per-language loading switched off
(``jinja_env.page_language`` answering None): every template then loads under its plain name
and Jinja's newstyle gettext translates at render time, as before the change.
"""

from __future__ import annotations

import gc

import pytest
from flask import Blueprint
from flask import render_template
from flask_babel import force_locale
from jinja2 import ChoiceLoader
from jinja2 import FileSystemLoader
from jinja2 import TemplateNotFound
from jinja2 import TemplatesNotFound

from portal import gunicorn_conf
from portal import i18n
from portal import page_templates
from portal.display import duration
from portal.display import local_time
from portal.display import portal_name
from portal.display import when

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}
#: Pages of a signed-in customer and of a visitor, error page included.
PAGES = ("/", "/account", "/account/sessions", "/account/security", "/no-such-page")


def _pages(client, headers) -> dict[str, str]:
    return {path: client.get(path, headers=headers).get_data(as_text=True) for path in PAGES}


def _translated_at_render(app) -> None:
    app.jinja_env.page_language = lambda: None


@pytest.mark.parametrize("headers", [FRENCH, ENGLISH], ids=["fr", "en"])
def test_every_page_reads_the_same_as_when_translated_at_render(
    portal_app, signed_in_client, headers
):
    compiled = _pages(signed_in_client, headers)
    _translated_at_render(portal_app)
    at_render = _pages(signed_in_client, headers)
    assert compiled == at_render
    if headers is FRENCH:  # the comparison is about translated pages
        assert "Votre compte" in compiled["/account"]
        assert "Your account" not in compiled["/account"]


@pytest.mark.parametrize("headers", [FRENCH, ENGLISH], ids=["fr", "en"])
def test_an_anonymous_visitors_pages_read_the_same(portal_app, headers):
    client = portal_app.test_client()
    paths = ("/", "/logged-out", "/no-such-page")
    compiled = [client.get(path, headers=headers).get_data(as_text=True) for path in paths]
    _translated_at_render(portal_app)
    at_render = [client.get(path, headers=headers).get_data(as_text=True) for path in paths]
    assert compiled == at_render


def _count_catalogue_lookups(monkeypatch) -> list[int]:
    """Count the runtime lookups of the template callables portal/i18n.py installs."""
    counted: list[int] = []
    real = i18n._translations

    def counting():
        counted.append(1)
        return real()

    monkeypatch.setattr(i18n, "_translations", counting)
    return counted


def test_a_french_account_page_looks_up_no_constant_text_at_render(
    portal_app, signed_in_client, monkeypatch
):
    counted = _count_catalogue_lookups(monkeypatch)
    signed_in_client.get("/account", headers=FRENCH)
    compiled = len(counted)
    counted.clear()
    _translated_at_render(portal_app)
    signed_in_client.get("/account", headers=FRENCH)
    # a count (ngettext) still picks its form at render time; the twenty constant texts don't
    assert compiled <= 1
    assert len(counted) >= 15


@pytest.fixture
def probe(portal_app, tmp_path):
    """A deployer-style blueprint with its own templates, beside the portal's."""
    (tmp_path / "probe.html").write_text(
        '{% extends "base.html" %}{% block content %}'
        '<p id="plain">{{ _("Your account") }}</p>'
        '<p id="vars">{{ _("Signed in at %(sso)s", sso=evil) }}</p>'
        '<p id="trans">{% trans who=evil %}Not in any catalogue, {{ who }}{% endtrans %}</p>'
        '<p id="percent">{{ _("100%% sure") }}</p>'
        '<p id="context">{{ pgettext("header", "Log out") }}</p>'
        '<p id="nested">{{ _("%(time)s at the latest", time=_("Your account")) }}</p>'
        '<p id="computed">{{ _(message) }}</p>'
        '<p id="concat">{{ _("<b>bold</b>") ~ " " ~ _("Your account") }}</p>'
        '{% set joined = _("<i>x</i>") ~ "!" %}<p id="set">{{ joined }}</p>'
        '<p id="pcontext">{{ pgettext("header", "In %(context)s: %(x)s", x=evil) }}</p>'
        '{% include "probe_part.html" %}'
        "{% endblock %}"
    )
    (tmp_path / "probe_part.html").write_text('<p id="included">{{ _("Username") }}</p>')
    (tmp_path / "shadowed.html").write_text(
        '{% set _ = "set".format %}<p id="shadow">{{ _("Your account") }}</p>'
    )
    (tmp_path / "shadowed_macro.html").write_text(
        '{% macro gettext(text) %}[{{ text }}]{% endmacro %}<p>{{ gettext("Your account") }}</p>'
    )
    (tmp_path / "shadowed_import.html").write_text(
        '{% from "probe_macros.html" import bracket as _ %}<p>{{ _("Your account") }}</p>'
    )
    (tmp_path / "probe_macros.html").write_text(
        "{% macro bracket(text) %}[{{ text }}]{% endmacro %}"
    )
    blueprint = Blueprint("probe", __name__, template_folder=str(tmp_path))
    portal_app.register_blueprint(blueprint)
    return portal_app


def _render(app, name: str, headers) -> str:
    with app.test_request_context("/", headers=headers):
        return render_template(name, evil="<b>&", message="Your account")


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("probe.html", "Votre compte"),
        ("shadowed.html", "set"),  # "_" is the template's own here, and stays so
        ("shadowed_macro.html", "[Your account]"),
        ("shadowed_import.html", "[Your account]"),
    ],
)
def test_a_deployers_template_reads_the_same(probe, name, says):
    compiled = _render(probe, name, FRENCH)
    assert says in compiled
    _translated_at_render(probe)
    assert compiled == _render(probe, name, FRENCH)


def test_translated_texts_are_escaped_and_formatted_as_gettext_does(probe):
    page = _render(probe, "probe.html", FRENCH)
    assert '<p id="plain">Votre compte</p>' in page
    assert "&lt;b&gt;&amp;" in page and "<b>&" not in page  # variables escaped
    assert '<p id="percent">100% sure</p>' in page
    assert '<p id="nested">Votre compte' in page
    assert '<p id="computed">Votre compte</p>' in page  # looked up at render, still French
    assert '<p id="included">Nom d’utilisateur</p>' in page
    assert '<p id="concat"><b>bold</b> Votre compte</p>' in page  # "~" keeps the Markup
    assert '<p id="set"><i>x</i>!</p>' in page
    assert '<p id="pcontext">In header: &lt;b&gt;&amp;</p>' in page
    assert '<html lang="fr">' in page
    english = _render(probe, "probe.html", ENGLISH)
    assert '<p id="plain">Your account</p>' in english


def test_each_language_has_its_own_compiled_page(probe):
    _render(probe, "probe.html", FRENCH)
    _render(probe, "probe.html", ENGLISH)
    cached = {key[1] for key in probe.jinja_env.cache}
    assert {"fr::probe.html", "en::probe.html", "fr::base.html", "fr::probe_part.html"} <= cached


def test_a_missing_template_is_named_as_the_deployer_wrote_it(probe):
    with probe.test_request_context("/", headers=FRENCH), pytest.raises(TemplateNotFound) as e:
        render_template("no-such.html")
    assert str(e.value) == "no-such.html"


def test_outside_a_request_a_template_loads_by_its_plain_name(probe):
    with probe.app_context():
        template = probe.jinja_env.get_template("probe_part.html")
    assert template.name == "probe_part.html"


def test_names_with_a_language():
    assert page_templates.split("fr::account.html") == ("fr", "account.html")
    assert page_templates.split("account.html") == (None, "account.html")
    env = page_templates.PageEnvironment.join_path
    assert env(None, "base.html", "fr::account.html") == "fr::base.html"
    assert env(None, "base.html", "account.html") == "base.html"


def test_times_are_written_in_each_pages_language(portal_app):
    """The times are memoised per language: the same instant on an English, a French, then
    an English page again reads in each page's language."""
    moment = 1_800_000_000
    seen = []
    for headers in (ENGLISH, FRENCH, ENGLISH):
        with portal_app.test_request_context("/", headers=headers):
            portal_app.preprocess_request()
            seen.append((when(moment), str(local_time(moment))))
    assert seen[0] == seen[2]
    assert seen[0][0] == "Jan 15, 2027, 08:00 UTC"
    assert seen[1][0] == "15 janv. 2027, 08:00 UTC"
    assert seen[1][1] == (
        '<time datetime="2027-01-15T08:00:00Z" data-local-time>15 janv. 2027, 08:00 UTC</time>'
    )


def test_accept_language_is_read_only_when_nothing_else_decides():
    def header():
        raise AssertionError("Accept-Language parsed although the cookie decided")

    assert i18n.choose(("en", "fr"), asked=None, remembered="fr", accept=header) == "fr"


def test_a_gunicorn_worker_freezes_what_it_built_before_serving():
    gc.unfreeze()
    try:
        gunicorn_conf.post_worker_init(None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_compiling_a_page_runs_no_teardown_in_the_middle_of_its_request(probe):
    """A deployer's teardown handler (closing a database session, say) must not run while a
    page is being compiled for the request's language."""
    torn_down = []
    probe.teardown_appcontext(lambda exc: torn_down.append(exc))
    with probe.test_request_context("/", headers=FRENCH):
        render_template("probe_part.html")
        assert torn_down == []
    assert len(torn_down) == 1


def test_a_list_of_missing_templates_is_named_as_written(probe):
    with probe.test_request_context("/", headers=FRENCH), pytest.raises(TemplatesNotFound) as e:
        render_template(["nope1.html", "nope2.html"])
    assert e.value.templates == ["nope1.html", "nope2.html"]


def test_a_language_the_portal_does_not_offer_gets_no_compiled_variant(probe):
    with probe.test_request_context("/", headers=FRENCH):
        page = render_template("xx::probe_part.html")  # a name no request can produce
    # compiled as written, so its text is looked up at render time, in the request's language
    assert page == '<p id="included">Nom d’utilisateur</p>'


def test_a_theme_loader_set_by_a_deployer_is_used_in_every_language(probe, tmp_path):
    """Flask's theming pattern: a loader of the deployer's wraps the app's."""
    theme = tmp_path / "theme"
    theme.mkdir()
    (theme / "probe_part.html").write_text('<p id="included">{{ _("Email") }}</p>')
    probe.jinja_env.loader = ChoiceLoader([FileSystemLoader(str(theme)), probe.jinja_env.loader])
    french = _render(probe, "probe.html", FRENCH)
    assert '<p id="included">E-mail</p>' in french
    assert '<p id="plain">Votre compte</p>' in french  # the app's own templates still found


def test_a_forced_locale_leaves_no_other_language_in_the_memos(portal_app):
    """A deployer writing an email in a customer's saved language (``force_locale``) must not
    leave French words behind for the English pages that follow."""
    with portal_app.test_request_context("/", headers=ENGLISH):
        portal_app.preprocess_request()
        assert duration(7200) == "2 hours"
        with force_locale("fr"):
            assert (duration(10800), portal_name()) == ("3 heures", "Espace client")
    with portal_app.test_request_context("/", headers=ENGLISH):
        portal_app.preprocess_request()
        assert (duration(10800), portal_name()) == ("3 hours", "Customer Portal")
