"""Login, the callback and redirection page, logout, and the back-channel logout receiver."""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from portal import audit
from portal import metrics
from portal import provider
from portal import sessions
from portal.errors import error_page
from portal.errors import json_error
from portal.oidc import KeysUnavailable
from portal.oidc import TokenError
from portal.oidc import unverified_claims
from portal.redirects import safe_target
from portal.security import csrf
from portal.security import limiter
from portal.session_store import StoreUnavailable

bp = Blueprint("auth", __name__)
log = logging.getLogger("portal.auth")


def _rate_limit() -> str:
    return current_app.extensions["portal.settings"].rate_limit


def _unavailable_guard() -> Response | None:
    if sessions.store_unavailable():
        log.error("login refused: session store unavailable")
        audit.login_refused("store_unavailable", "session store unavailable")
        return error_page("unavailable", 503, login=False)
    return None


@bp.get("/login")
@limiter.limit(_rate_limit)
def login() -> Response:
    """Start the authorization code flow; ``next`` is kept only if it is a local path."""
    if (down := _unavailable_guard()) is not None:
        return down
    target = safe_target(request.args.get("next"))
    if sessions.current() is not None:
        return redirect(target)
    try:
        return provider.get().begin_login(target)
    except provider.LoginFailed as exc:
        log.warning("login failed: %s", exc.reason)
        audit.login_refused(exc.cause, exc.reason)
        return error_page(exc.kind, exc.status)


@bp.post("/login/confirm-authenticator")
@limiter.limit(_rate_limit)
def confirm_authenticator() -> Response:
    """Second pass after a sign-in without MFA evidence (e.g. authentik's enrolment login)."""
    offer = sessions.recall("mfa_offer")
    if not offer:
        return redirect(url_for("public.landing"))
    try:
        return provider.get().begin_login(
            safe_target(offer.get("next")), prompt="login", flow={"mfa_retry": True}
        )
    except provider.LoginFailed as exc:
        log.warning("login failed: %s", exc.reason)
        audit.login_refused(exc.cause, exc.reason)
        return error_page(exc.kind, exc.status)


@bp.get("/auth/callback")
@limiter.limit(_rate_limit)
def callback() -> Response:
    """Finish the login, start the session, and leave the code-bearing URL at once."""
    if (down := _unavailable_guard()) is not None:
        return down
    try:
        result = provider.get().finish_login(request.args.to_dict(flat=True))
    except provider.MfaEvidenceMissing as exc:
        return _missing_mfa(exc)
    except provider.GroupRefused as exc:
        return _not_in_allowed_group(exc)
    except provider.LoginFailed as exc:
        log.warning("login failed: %s", exc.reason)
        audit.login_refused(exc.cause, exc.reason)
        return error_page(exc.kind, exc.status)
    try:
        started = sessions.start(result.claims, result.profile)
    except (sessions.LoginEnded, StoreUnavailable) as exc:
        cause = "ended" if isinstance(exc, sessions.LoginEnded) else "store_unavailable"
        audit.login_refused(cause, str(exc), **_who(result.claims))
        raise
    log.info("login ok sub=%s amr=%s", started.sub, ",".join(started.amr))
    audit.login_ok(sub=started.sub, sid=started.sid, amr=started.amr)
    if not result.interactive:
        # Login passed silently through the live SSO session: no extra click (user guide:
        # "you can click Login and get logged in"). The redirection page follows a sign-in.
        return redirect(result.next_target)
    sessions.remember("continue_to", result.next_target)
    return redirect(url_for("auth.signed_in"))


def _who(claims: dict) -> dict[str, str | None]:
    sid = claims.get("sid")
    return {"sub": claims.get("sub"), "sid": sid if isinstance(sid, str) else None}


def _not_in_allowed_group(exc: provider.GroupRefused) -> Response:
    """Signed in at the IdP, but not allowed here: no portal session is created, and the
    browser leaves the code-bearing callback URL for the explanation."""
    log.warning("login refused: %s", exc.reason)
    audit.login_refused(exc.cause, exc.reason, **_who(exc.result.claims))
    return redirect(url_for("auth.no_access"), 303)


@bp.get("/auth/no-access")
def no_access() -> Response:
    """The PORTAL_ALLOWED_GROUPS refusal page. Static: it stores nothing and says nothing
    about who asked."""
    return error_page("group", 403, login=False)


def _missing_mfa(exc: provider.MfaEvidenceMissing) -> Response:
    if exc.result.flow.get("mfa_retry"):
        log.error("login refused (configuration problem at the IdP?): %s", exc.reason)
        audit.login_refused(exc.cause, exc.reason, **_who(exc.result.claims))
        return error_page("mfa", 403)
    log.warning("login needs authenticator confirmation: %s", exc.reason)
    sessions.remember("mfa_offer", {"next": exc.result.next_target})
    return Response(render_template("confirm_authenticator.html"), status=200)


@bp.get("/auth/signed-in")
def signed_in() -> Response | str:
    """The documented redirection page: "You're signed in as ...", then Continue.

    Shown after an interactive sign-in only (first login, or whenever the IdP asked for a
    password or a code); a silent login goes straight to its target.
    """
    active = sessions.current()
    if active is None:
        return redirect(url_for("public.landing"))
    target = safe_target(sessions.recall("continue_to", pop=False))
    return render_template("signed_in.html", active=active, target=target)


@bp.post("/logout")
def logout() -> Response:
    """End the portal session only; the SSO session at the IdP lives on.

    Nothing of the session is kept, the ID token least of all: the next person at a shared
    browser must find no trace of this customer (see ``end_sso_after_logout``).
    """
    ended = sessions.end()
    if ended is not None:
        log.info("logout (portal only) sub=%s", ended.sub)
        audit.logout("portal", sub=ended.sub, sid=ended.sid)
    return redirect(url_for("auth.logged_out", scope="portal"))


@bp.post("/logout/everywhere")
def logout_everywhere() -> Response | str:
    """End the portal session and send the browser to the IdP's end_session_endpoint.

    Without ``id_token_hint``, as from the logged-out page (see ``end_sso_after_logout``):
    that GET URL stays in the browser's history, and this is the button for a shared
    computer, whose next user must find no token naming the customer there. The IdP asks
    the customer to confirm instead (Keycloak and the dev IdP do; authentik shows its
    invalidation flow either way).
    """
    ended = sessions.end()
    response = _end_sso()
    if ended is not None:
        log.info("logout everywhere sub=%s", ended.sub)
        audit.logout("everywhere", sub=ended.sub, sid=ended.sid)
    return response


@bp.get("/logged-out/everywhere")
@limiter.limit(_rate_limit)
def end_sso_after_logout() -> Response | str:
    """The logged-out page's "Log out everywhere", after the portal session has ended.

    RP-Initiated Logout 1.0, Section 2, without ``id_token_hint``: only ``client_id``,
    ``post_logout_redirect_uri`` and ``state``, so that the URL (in the browser's history)
    names no one. The IdP then asks the customer to confirm (Section 6), as
    node-oidc-provider, Keycloak and the dev IdP do. ``logout_hint`` is not sent: it would be
    an identifier of the customer in that URL again, and it is optional for the IdP anyway.

    A GET, without a CSRF token: it changes nothing at the portal (no portal session is
    left), and a link from another site to it does no more than a link to the IdP's own
    end-session endpoint would, since the IdP confirms. So the logged-out page needs no
    session and no token, and an anonymous visit stores nothing; the logout ``state`` is
    stored only here, when the customer asks, under the same rate limit as Login.
    """
    if sessions.current() is not None:
        return redirect(url_for("account.account"))
    log.info("logout everywhere requested after a portal logout")
    return _end_sso()


def _end_sso() -> Response | str:
    try:
        response = provider.get().logout_redirect()
    except provider.LoginFailed as exc:
        log.warning("logout everywhere: provider unavailable: %s", exc.reason)
        return error_page("unreachable", 503, login=False)
    if response is None:
        log.info("logout everywhere unavailable (no end_session_endpoint)")
        return render_template("logged_out.html", scope="no-end-session")
    return response


@bp.get("/logged-out")
def logged_out() -> Response | str:
    """The page after any logout. It stores nothing: anonymous visits must cost no state."""
    if sessions.current() is not None:
        return redirect(url_for("account.account"))
    scope = "portal"
    if "state" in request.args:
        scope = (
            "everywhere"
            if provider.get().logout_confirmed(request.args["state"])
            else "unconfirmed"
        )
    return render_template("logged_out.html", scope=scope)


@bp.post("/auth/backchannel-logout")
@csrf.exempt
def backchannel_logout() -> Response:
    """OpenID Connect Back-Channel Logout 1.0, Section 2.5-2.8."""
    raw = request.form.get("logout_token", "")
    if not raw:
        log.warning("back-channel logout refused: no logout_token")
        metrics.backchannel("refused")
        return json_error("invalid_request", "missing logout_token", 400)
    idp = provider.get()
    try:
        claims = idp.validate_logout_token(raw)
    except KeysUnavailable as exc:
        log.error("back-channel logout cannot be checked: %s", exc.reason)
        metrics.backchannel("idp_unreachable")
        return json_error("temporarily_unavailable", "provider keys unavailable", 503)
    except TokenError as exc:
        hint = unverified_claims(raw)
        log.warning(
            "back-channel logout refused: %s (claimed sid_hash=%s)",
            exc.reason,
            audit.sid_hash(str(hint["sid"])) if hint.get("sid") else None,
        )
        metrics.backchannel("refused")
        return json_error("invalid_request", exc.reason, 400)
    except provider.LoginFailed as exc:
        log.error("back-channel logout cannot be checked: %s", exc.reason)
        metrics.backchannel("idp_unreachable")
        return json_error("temporarily_unavailable", "provider unavailable", 503)
    try:
        if sessions.logout_token_seen(claims["jti"]):
            log.warning("back-channel logout refused: jti replayed")
            metrics.backchannel("replayed")
            return json_error("invalid_request", "logout token replayed", 400)
        if claims.get("sid"):
            count = sessions.end_by_sid(
                claims["sid"], sub=claims.get("sub"), issued_at=claims.get("iat")
            )
        else:
            count = sessions.end_by_sub(claims["sub"], issued_at=claims.get("iat"))
        # remembered only once applied: a retry after a store failure must not be "replayed"
        sessions.remember_logout_token(claims["jti"], idp.jti_memory(claims))
    except StoreUnavailable as exc:
        log.error("back-channel logout not applied: session store unavailable (%s)", exc)
        metrics.backchannel("store_unavailable")
        metrics.store_error()
        return json_error("temporarily_unavailable", "session store unavailable", 503)
    log.info(
        "back-channel logout: ended %d session(s) sid_hash=%s sub=%s",
        count,
        audit.sid_hash(claims.get("sid")),
        claims.get("sub"),
    )
    metrics.backchannel("ok")
    audit.session_ended("backchannel", sub=claims.get("sub"), sid=claims.get("sid"), sessions=count)
    response = Response(status=200)
    response.headers["Cache-Control"] = "no-store"
    return response
