"""The landing page and the health endpoints."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import render_template

from portal import current_customer
from portal import metrics
from portal import provider
from portal import sessions
from portal.session_store import StoreUnavailable

bp = Blueprint("public", __name__)


@bp.get("/")
def landing() -> str:
    return render_template("landing.html", active=current_customer())


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up (no dependency is checked: that is /readyz)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready when the session store answers and the provider's discovery is loaded."""
    try:
        sessions.check_store()
    except StoreUnavailable as exc:
        metrics.readyz_failure("store")
        metrics.store_error()
        return jsonify(status="unavailable", reason=f"session store unreachable ({exc})"), 503
    try:
        provider.get().metadata()
    except provider.LoginFailed as exc:
        metrics.readyz_failure("idp")
        return jsonify(status="unavailable", reason=f"provider discovery: {exc.reason}"), 503
    return jsonify(status="ready"), 200
