"""Templates compiled once per language, with their words already translated.

Why: a profile of ``/account`` (bench/profile_pages.py) put half of the page's time in Jinja,
and most of that in its twenty-odd translated strings. Jinja's newstyle gettext looks each
one up at every render: two ``Context.call`` layers, a catalogue lookup through the request
context, a ``Markup`` wrap and a ``%`` format, then an escape of the result. The words of a
page change only with its language, and the catalogues are read once per process, so the
translation can be done when the template is compiled.

How: rendered in French, ``account.html`` is loaded under the name ``fr::account.html``; the
loader reads the same file, and :meth:`PageEnvironment.compile` replaces each ``_()``,
``gettext()`` and ``pgettext()`` call (and each ``{% trans %}`` block, which Jinja parses
into such a call) whose message is a constant by its translation: a constant when it has no
variables, else the translation formatted with them at render time, escaped exactly as
newstyle gettext escapes them (``Markup(translation) % variables``). ``{% extends %}``,
``{% include %}`` and ``{% import %}`` stay in the language of the page that names them.
Calls with a computed message, and ``ngettext`` (its form depends on a count), stay calls to
the runtime functions portal/i18n.py installs, which a template loaded without a language
(outside a request, ``render_template_string``) uses for every string as before.

Jinja's i18n convention holds: in a template, ``_``, ``gettext`` and ``pgettext`` are the
translation functions. A template that gives one of those names another meaning itself (a
``set``, a macro, an import) is compiled as it is; one that receives another meaning from
outside (a variable passed to ``render_template``, a context processor, a parent template's
``set``) would still be translated, so those names are not to be used for anything else.
Only the languages the portal offers (PORTAL_LANGUAGES) get a compiled variant.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from flask import Flask
from flask import current_app
from flask import has_app_context
from flask import has_request_context
from flask.templating import Environment as FlaskEnvironment
from flask_babel import force_locale
from flask_babel import get_translations
from jinja2 import BaseLoader
from jinja2 import Template
from jinja2 import TemplatesNotFound
from jinja2 import nodes
from jinja2.visitor import NodeTransformer

#: Between the language and the template's own name: ``fr::account.html``. Not a path
#: separator, so no template file can be mistaken for a translated variant.
SEPARATOR = "::"
#: The names Jinja's i18n extension gives the translation functions.
_SINGULAR = frozenset({"_", "gettext"})
_CONTEXTUAL = "pgettext"


def split(name: str | None) -> tuple[str | None, str | None]:
    """``"fr::account.html"`` -> ``("fr", "account.html")``; a plain name has no language."""
    if name is None or SEPARATOR not in name:
        return None, name
    language, _, plain = name.partition(SEPARATOR)
    return language, plain


class LanguageLoader(BaseLoader):
    """Flask's loader (the app's and the blueprints' template folders), with the language
    taken off the name: every language's variant of a page is the same file."""

    def __init__(self, loader: BaseLoader) -> None:
        self.loader = loader

    def get_source(self, environment: Any, template: str) -> tuple[str, str | None, Any]:
        return self.loader.get_source(environment, split(template)[1] or template)

    def list_templates(self) -> list[str]:
        return self.loader.list_templates()


class _TranslateConstants(NodeTransformer):
    """Replaces the translation calls whose message is a constant by their translation."""

    def __init__(self, translations: Any) -> None:
        self.translations = translations

    def visit_Call(self, node: nodes.Call) -> nodes.Node:  # noqa: N802 (the visitor's naming)
        node = self.generic_visit(node)  # the variables may hold translated strings too
        text = self._translation(node)
        if text is None:
            return node
        variables = [nodes.Pair(nodes.Const(kw.key), kw.value) for kw in node.kwargs]
        if node.node.name == _CONTEXTUAL and "context" not in {kw.key for kw in node.kwargs}:
            # newstyle pgettext offers its context as %(context)s
            variables.append(nodes.Pair(nodes.Const("context"), node.args[0]))
        translated: nodes.Expr = nodes.MarkSafeIfAutoescape(nodes.Const(text))
        if not variables:
            try:
                # newstyle gettext always formats, so "%%" reads "%" with no variable
                translated = nodes.MarkSafeIfAutoescape(nodes.Const(text % {}))
            except (KeyError, TypeError, ValueError):
                return node  # fails at render time, as it did
        else:
            translated = nodes.Mod(translated, nodes.Dict(variables))
        return translated.set_lineno(node.lineno)

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802
        """``~`` keeps its translation calls: Jinja folds a concatenation of constants with
        ``str()``, which would drop the translation's Markup and escape it."""
        node.nodes = [
            self.generic_visit(part) if self._translation(part) is not None else self.visit(part)
            for part in node.nodes
        ]
        return node

    def _translation(self, node: nodes.Node) -> str | None:
        if not isinstance(node, nodes.Call) or not isinstance(node.node, nodes.Name):
            return None
        if node.dyn_args or node.dyn_kwargs:
            return None
        args = node.args
        if not all(isinstance(arg, nodes.Const) and isinstance(arg.value, str) for arg in args):
            return None
        if node.node.name in _SINGULAR and len(args) == 1:
            return self.translations.ugettext(args[0].value)
        if node.node.name == _CONTEXTUAL and len(args) == 2:
            return self.translations.upgettext(args[0].value, args[1].value)
        return None


def _assigns_translation_names(tree: nodes.Template) -> bool:
    """Whether the template gives ``_``, ``gettext`` or ``pgettext`` another meaning: a
    ``set``, a loop or macro variable, a macro, or an import of that name."""
    names = _SINGULAR | {_CONTEXTUAL}
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    assigned |= {macro.name for macro in tree.find_all(nodes.Macro)}
    assigned |= {i.target for i in tree.find_all(nodes.Import)}
    for imported in tree.find_all(nodes.FromImport):
        assigned |= {n[1] if isinstance(n, tuple) else n for n in imported.names}
    return not assigned.isdisjoint(names)


class PageEnvironment(FlaskEnvironment):
    """Flask's template environment, loading each page in the language of the request."""

    def __init__(self, app: Flask, **options: Any) -> None:
        self.languages: frozenset[str] = frozenset()
        self.page_language: Callable[[], str | None] = lambda: None
        super().__init__(app, **options)

    @property
    def loader(self) -> BaseLoader | None:  # type: ignore[override]
        return self._language_loader

    @loader.setter
    def loader(self, value: BaseLoader | None) -> None:
        """Whatever loader is set (Flask's, or a deployer's theme wrapping it in a
        ChoiceLoader) reads templates by their plain names."""
        if value is not None and not isinstance(value, LanguageLoader):
            value = LanguageLoader(value)
        self._language_loader = value

    def get_template(self, name: str | Template, parent: str | None = None, globals: Any = None):  # noqa: A002, ANN201
        if isinstance(name, str) and parent is None:
            name = self._in_page_language(name)
        return super().get_template(name, parent, globals)

    def select_template(self, names: Any, parent: str | None = None, globals: Any = None):  # noqa: A002, ANN201
        if parent is None and not isinstance(names, Template):
            names = [self._in_page_language(n) if isinstance(n, str) else n for n in names]
        try:
            return super().select_template(names, parent, globals)
        except TemplatesNotFound as missing:
            plain = [split(n)[1] if isinstance(n, str) else n for n in missing.templates]
            raise TemplatesNotFound(plain) from None

    def join_path(self, template: str, parent: str) -> str:
        language, _ = split(parent)
        if language is None or SEPARATOR in template:
            return template
        return f"{language}{SEPARATOR}{template}"

    def compile(  # type: ignore[override]
        self,
        source: str | nodes.Template,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> Any:
        language, _ = split(name)
        if language in self.languages and isinstance(source, str):
            tree = self.parse(source, name, filename)
            if not _assigns_translation_names(tree):
                tree = _TranslateConstants(self._catalogue(language)).visit(tree)
                tree.set_environment(self)
            source = tree
        return super().compile(source, name, filename, raw, defer_init)

    def _in_page_language(self, name: str) -> str:
        if SEPARATOR in name or not has_request_context():
            return name
        language = self.page_language()
        if language not in self.languages:
            return name
        return f"{language}{SEPARATOR}{name}"

    def _catalogue(self, language: str) -> Any:
        """The catalogue Flask-Babel gives a request in ``language``: the same object, from
        Flask-Babel's own cache, so a compiled page says what a runtime lookup would."""
        if has_app_context() and current_app._get_current_object() is self.app:  # type: ignore[attr-defined]
            # compiled while rendering: no second app context, whose teardown would run the
            # app's teardown handlers in the middle of the request
            with force_locale(language):
                return get_translations()
        with self.app.app_context(), force_locale(language):
            return get_translations()


def init_app(app: Flask, languages: Iterable[str], page_language: Callable[[], str | None]) -> None:
    """Make ``app`` load its templates per language, for the ``languages`` it offers; call
    before anything touches ``app.jinja_env`` (Flask creates it on first use)."""
    if "jinja_env" in app.__dict__:
        raise RuntimeError("page_templates.init_app must run before app.jinja_env is created")
    app.jinja_environment = PageEnvironment
    app.jinja_env.languages = frozenset(languages)  # type: ignore[attr-defined]
    app.jinja_env.page_language = page_language  # type: ignore[attr-defined]
