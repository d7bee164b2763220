"""The ``portal`` command: ``portal serve`` (development server) and ``portal check``.

Settings errors end the command with one line naming the variable, never a traceback.
"""

from __future__ import annotations

import sys

import click

from portal.settings import Settings
from portal.settings import SettingsError
from portal.settings import is_loopback


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        click.echo(f"portal: configuration error: {exc}", err=True)
        sys.exit(2)


def _path_only_handler() -> type:
    from werkzeug.serving import WSGIRequestHandler

    class PathOnlyLogHandler(WSGIRequestHandler):
        """Access log without query strings: /auth/callback carries the authorization code."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            path = self.path.split("?", 1)[0]
            self.log("info", '"%s %s" %s %s', self.command, path, code, size)

    return PathOnlyLogHandler


@click.group()
def main() -> None:
    """Customer portal: an OpenID Connect relying party with two-factor login at the IdP."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the portal with werkzeug's server (demo and tests; production uses gunicorn)."""
    settings = _settings()
    if not is_loopback(host):
        click.echo(
            "portal: serve binds to loopback only; use gunicorn (Procfile) in production", err=True
        )
        sys.exit(2)
    from werkzeug.serving import run_simple

    from portal import create_app

    try:
        app = create_app(settings)
    except SettingsError as exc:  # checks made while building the app (the session folder)
        click.echo(f"portal: configuration error: {exc}", err=True)
        sys.exit(2)
    run_simple(
        host, port, app, threaded=True, use_reloader=False, request_handler=_path_only_handler()
    )


@main.command()
def check() -> None:
    """Fetch discovery and JWKS and print a checklist of what this IdP needs."""
    from portal.checklist import run_checklist

    settings = _settings()
    results = run_checklist(settings)
    for item in results:
        click.echo(item.render())
    fatal = [r for r in results if r.level == "FAIL"]
    click.echo("")
    click.echo("Result: " + ("NOT READY" if fatal else "ready"))
    sys.exit(1 if fatal else 0)


def wsgi_app() -> object:
    """For gunicorn: ``portal.cli:wsgi_app()`` with a one-line error on bad settings."""
    from portal import create_app

    return create_app(_settings())
