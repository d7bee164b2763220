"""The customer's signed-in devices: every live portal session, and End for the others.

Written against the public API (``portal.login_required``), as a deployer's pages are. The
rules (what is listed, how one session ends) live in :mod:`portal.sessions`.
"""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Response
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext
from flask_babel import ngettext

from portal import audit
from portal import display
from portal import login_required
from portal import sessions
from portal.device_info import is_handle
from portal.errors import render_error

bp = Blueprint("devices", __name__)
log = logging.getLogger("portal.sessions")


@bp.app_context_processor
def previous_sign_in_kept() -> dict[str, int]:
    """For the account page's "Previous sign-in" line: how many days the record is kept."""
    return {"previous_sign_in_days": sessions.PREVIOUS_SIGN_IN_KEPT // 86400}


@bp.get("/account/sessions")
@login_required
def device_list() -> str:
    found, more = sessions.devices()
    return render_template(
        "devices.html",
        devices=found,
        more=more,
        max_listed=sessions.MAX_DEVICES_LISTED,
        touch_granularity=sessions.TOUCH_GRANULARITY,
    )


@bp.post("/account/sessions/end")
@login_required
def end_device() -> Response:
    """End the portal session of another device (a POST with the page's CSRF token)."""
    handle = request.form.get("device", "")
    if not is_handle(handle) or handle == sessions.this_device_handle():
        reason = "this device's own session" if is_handle(handle) else "malformed device"
        log.warning("device session not ended: %s", reason)
        return render_error(
            gettext("This device cannot be ended here"),
            gettext(
                "Go back to your signed-in devices and try again. To end the session on this "
                "device, use Log out."
            ),
            400,
        )
    ended = sessions.end_device(handle)
    if ended is None:
        flash(gettext("That device was already signed out."), "gone")
        return redirect(url_for("devices.device_list"))
    log.info("device session ended by the customer sub=%s", ended.sub)
    audit.session_ended("device", sub=ended.sub, sid=ended.sid)
    if ended.device:
        message = gettext(
            "Ended the portal session on %(device)s.", device=display.device(ended.device)
        )
    else:
        message = gettext("Ended the portal session on that device.")
    flash(message, "ended")
    return redirect(url_for("devices.device_list"))


@bp.post("/account/sessions/end-others")
@login_required
def end_other_devices() -> Response:
    """End the portal session of every other device, listed or not (a POST with the page's
    CSRF token): the answer to a sign-in that was not the customer's, however many."""
    count = sessions.end_other_devices()
    active = sessions.current()
    if active is not None and count:
        log.info("other device sessions ended by the customer sub=%s count=%d", active.sub, count)
        audit.session_ended("device", sub=active.sub, sid=None, sessions=count)
    flash(
        ngettext(
            "Ended the portal session on %(num)d other device.",
            "Ended the portal sessions on %(num)d other devices.",
            count,
        )
        if count
        else gettext("No other device was signed in."),
        "ended",
    )
    return redirect(url_for("devices.device_list"))
