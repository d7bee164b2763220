"""The app the page-view benchmark serves: the portal plus one signed-in page that renders nothing.

``/bench/floor`` does what every signed-in page must do before it shows anything (read the
session from Redis, check the login, run the request hooks) and then answers a constant body
of the size of ``/account`` with the customer's name in it. It is added the way a deployer adds
pages (README, "Adding your own pages"), so gunicorn runs the Procfile's command with
``bench.floor_page:create_app()`` instead of ``portal:create_app()``.

On the same gunicorn, ``/bench/floor ÷ /healthz`` is the most that ``/account ÷ /healthz`` can
reach by making the account page itself cheaper; ``/account ÷ /bench/floor`` is what its
rendering costs.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Flask
from flask import Response
from markupsafe import escape

from portal import create_app as create_portal
from portal import current_customer
from portal import login_required

PATH = "/bench/floor"
#: about the size of the account page in English, so both responses cost gunicorn and the
#: client alike
BODY_BYTES = 3000

bp = Blueprint("bench_floor", __name__)


@bp.get(PATH)
@login_required
def floor() -> Response:
    name = str(escape(current_customer().name))
    head = f"<!doctype html><html lang='en'><title>floor</title><p id='name'>{name}</p><!--"
    padding = "x" * max(0, BODY_BYTES - len(head) - 3)
    return Response(head + padding + "-->", mimetype="text/html")


def create_app(*args: object, **kwargs: object) -> Flask:
    app = create_portal(*args, **kwargs)  # type: ignore[arg-type]
    app.register_blueprint(bp)
    return app
