"""The ``devidp`` command (also ``python -m devidp``): run the IdP and administer it.

- ``devidp run [--host 127.0.0.1] [--port 9000] [--public]``: serve over HTTP (werkzeug, threaded);
  a host that is not loopback is refused unless ``--public`` is given, and, like a non-loopback
  issuer, while the credentials shipped in config/devidp.toml are in use
  (:mod:`devidp.exposure`).
- ``devidp add-user USERNAME --password ... --name ... --email ...``
- ``devidp set-password USERNAME [--password ...]``: give a user a new password.
- ``devidp reset-totp USERNAME``: the next login enrols a new authenticator.
- ``devidp end-sessions USERNAME``: ends every live SSO session of the user and delivers the
  back-channel logouts (Back-Channel Logout 1.0 §2.5) before exiting, printing the results.

Errors are one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import run_simple

from . import clock
from . import config
from . import create_app
from . import db
from . import exposure
from . import sso
from . import totp
from . import users

PROG = "devidp"


class CommandError(Exception):
    """A user-facing error of a command."""


class QuietRequestHandler(WSGIRequestHandler):
    """Logs requests without their query strings, which can carry tokens (``id_token_hint``)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        full_path = self.path
        self.path = urlsplit(full_path).path
        try:
            super().log_request(code, size)
        finally:
            self.path = full_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return args.handler(args)
    except (config.ConfigError, CommandError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="The development OpenID Provider.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="serve the IdP over HTTP")
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    run.add_argument("--port", type=int, default=9000, help="port to listen on (9000)")
    run.add_argument("--public", action="store_true", help="allow a non-loopback --host")
    run.set_defaults(handler=_run)

    add = commands.add_parser("add-user", help="register a user")
    add.add_argument("username")
    add.add_argument("--password", help="asked for when omitted")
    add.add_argument("--name", default="", help="display name (defaults to the username)")
    add.add_argument("--email", default="")
    add.set_defaults(handler=_add_user)

    passwd = commands.add_parser("set-password", help="give a user a new password")
    passwd.add_argument("username")
    passwd.add_argument("--password", help="asked for when omitted")
    passwd.set_defaults(handler=_set_password)

    reset = commands.add_parser("reset-totp", help="remove a user's authenticator")
    reset.add_argument("username")
    reset.set_defaults(handler=_reset_totp)

    end = commands.add_parser(
        "end-sessions", help="end a user's SSO sessions and send back-channel logouts"
    )
    end.add_argument("username")
    end.set_defaults(handler=_end_sessions)
    return parser


def _run(args: argparse.Namespace) -> int:
    if not (args.public or config.is_loopback_host(args.host)):
        raise CommandError(
            f"--host {args.host} is not a loopback address; add --public to allow it"
        )
    if not 0 < args.port < 65536:
        raise CommandError(f"--port {args.port} is not a valid port")
    app = create_app()
    settings = app.extensions["devidp.settings"]
    _refuse_shipped_credentials(app, args.host)
    if settings.trusted_proxies and not config.is_loopback_host(args.host):
        print(
            f"{PROG}: warning: [idp] trusted_proxies is set but clients can reach "
            f"{args.host} directly and write their own X-Forwarded-For; listen on loopback "
            "behind the proxy",
            file=sys.stderr,
            flush=True,
        )
    if (
        config.is_loopback_host(args.host)
        and not config.is_loopback_url(settings.issuer)
        and not settings.trusted_proxies
    ):
        print(
            f"{PROG}: warning: serving {settings.issuer} from {args.host}, behind a proxy, with "
            "[idp] trusted_proxies = 0: every client has the proxy's address, so anyone's wrong "
            "passwords lock an account for everyone; set it to the number of proxies",
            file=sys.stderr,
            flush=True,
        )
    print(f"{PROG}: issuer {settings.issuer}, listening on {args.host}:{args.port}", flush=True)
    try:
        run_simple(args.host, args.port, app, threaded=True, request_handler=QuietRequestHandler)
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    return 0


def _refuse_shipped_credentials(app: Flask, host: str) -> None:
    """Other machines may reach the IdP: refuse while the shipped credentials are in use."""
    settings = app.extensions["devidp.settings"]
    if not config.is_loopback_host(host):
        where = f"on {host}"
    elif not config.is_loopback_url(settings.issuer):
        where = f"as {settings.issuer}"
    else:
        return
    with app.app_context():
        found = exposure.problems(settings, db.get_db())
    if found:
        raise CommandError(
            f"refusing to serve {where} with the development credentials of "
            f"config/devidp.toml: {'; '.join(found)}"
        )


def _new_password(args: argparse.Namespace) -> str:
    password = args.password
    if password is None:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat password: "):
            raise CommandError("the passwords do not match")
    if not password:
        raise CommandError("the password must not be empty")
    return password


def _set_password(args: argparse.Namespace) -> int:
    password = _new_password(args)
    app = create_app()
    with app.app_context():
        user = _user(app, args.username)
        users.set_password(
            db.get_db(),
            user.id,
            password,
            hash_method=app.extensions["devidp.settings"].password_hash_method,
        )
    print(f"set a new password for {user.username}")
    return 0


def _add_user(args: argparse.Namespace) -> int:
    password = _new_password(args)
    app = create_app()
    with app.app_context():
        try:
            user = users.create(
                db.get_db(),
                username=args.username,
                password=password,
                name=args.name,
                email=args.email,
                hash_method=app.extensions["devidp.settings"].password_hash_method,
            )
        except users.UserExists:
            raise CommandError(f"user {args.username!r} already exists") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    print(f"added user {user.username}")
    return 0


def _reset_totp(args: argparse.Namespace) -> int:
    app = create_app()
    with app.app_context():
        user = _user(app, args.username)
        removed = totp.reset(db.get_db(), user.id)
    if removed:
        print(f"removed the TOTP device of {user.username}; the next login sets up a new one")
    else:
        print(f"{user.username} had no TOTP device; the next login sets one up")
    return 0


def _end_sessions(args: argparse.Namespace) -> int:
    app = create_app()
    failed = 0
    with app.app_context():
        user = _user(app, args.username)
        sessions = sso.live_for_user(db.get_db(), user.id, clock.now())
        if not sessions:
            print(f"{user.username} has no live SSO session")
            return 0
        for session in sessions:
            results = sso.end(session, reason="ended by the admin CLI", wait=True)
            print(f"ended SSO session {session.sid[:8]}… of {user.username}")
            if not results:
                print("  no client to notify by back-channel logout")
            for result in results:
                if result.delivered:
                    tries = "try" if result.attempts == 1 else "tries"
                    status = f"delivered after {result.attempts} {tries}"
                else:
                    failed += 1
                    status = f"FAILED after {result.attempts} tries ({result.error})"
                print(f"  back-channel logout to {result.client_id} at {result.uri}: {status}")
    return 1 if failed else 0


def _user(app: Flask, username: str) -> users.User:
    user = users.find_by_username(db.get_db(), username)
    if user is None:
        raise CommandError(f"no user named {username!r}")
    return user
