"""Invoices: a page of your own behind the portal's login.

The blueprint uses only the portal's public API: ``login_required`` sends a visitor through
Login and back, and ``current_customer()`` says who signed in. Everything else comes from
the portal: the base template, security headers, CSRF, the session rules, the error pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint
from flask import abort
from flask import render_template

from portal import current_customer
from portal import login_required

#: Customers see invoices when the IdP puts them in this group (the ID token's ``groups``).
BILLING_GROUP = "billing"

bp = Blueprint("invoices", __name__, template_folder="templates")


@dataclass(frozen=True)
class Invoice:
    number: str
    issued: str
    amount: str


#: Stands in for your billing system, keyed by the IdP's customer id (``sub``).
SAMPLE_INVOICES = {
    "user-123": [
        Invoice("INV-2026-0042", "2026-10-01", "€ 120.00"),
        Invoice("INV-2026-0057", "2026-11-01", "€ 95.50"),
    ],
}


def invoices_of(sub: str) -> list[Invoice]:
    """The customer's invoices. Look them up by ``sub``, the IdP's stable id: email and
    username may change at the IdP, and another customer may get them later."""
    return SAMPLE_INVOICES.get(sub, [])


@bp.get("/invoices")
@login_required
def invoice_list() -> str:
    customer = current_customer()
    assert customer is not None  # login_required
    if BILLING_GROUP not in customer.groups:
        abort(403)  # the portal's own error page, status 403
    return render_template(
        "invoices/list.html", customer=customer, invoices=invoices_of(customer.sub)
    )
