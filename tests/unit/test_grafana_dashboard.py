"""config/grafana/portal.json queries only metrics, labels and label values the portal serves.

A renamed metric or label would leave a dashboard panel silently empty; this test fails first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).resolve().parents[2] / "config" / "grafana" / "portal.json"
#: Labels Prometheus adds when it scrapes, and the histogram's own.
SCRAPE_LABELS = {"job", "instance", "le"}


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def expressions(dashboard) -> list[str]:
    exprs = [t["expr"] for p in panels(dashboard["panels"]) for t in p.get("targets", [])]
    exprs += [
        v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        for v in dashboard["templating"]["list"]
        if v["type"] == "query"
    ]
    assert len(exprs) >= 10
    return exprs


@pytest.fixture
def served(portal_app) -> dict[str, set[str]]:
    """Every sample name a fresh portal serves at /metrics, with its label names."""
    text = portal_app.test_client().get("/metrics").get_data(as_text=True)
    samples: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, set()).update(sample.labels)
    return samples


def test_every_metric_the_dashboard_queries_exists(expressions, served):
    queried = {name for expr in expressions for name in re.findall(r"\bportal_[a-z_]+\b", expr)}
    assert {
        "portal_logins_total",
        "portal_logouts_total",
        "portal_backchannel_logouts_total",
        "portal_sessions_ended_total",
        "portal_idp_request_duration_seconds_bucket",
        "portal_session_store_errors_total",
        "portal_readyz_failures_total",
    } <= queried
    missing = queried - set(served)
    assert not missing, f"the dashboard queries metrics the portal does not serve: {missing}"


def test_every_label_the_dashboard_groups_or_filters_by_exists(expressions, served):
    for expr in expressions:
        for name, selector in re.findall(r"\b(portal_[a-z_]+)\{([^}]*)\}", expr):
            for label in re.findall(r"([a-z_]+)\s*(?:=~|!=|=)", selector):
                assert label in served[name] | SCRAPE_LABELS, (expr, label)
        for grouping, name in re.findall(r"by \(([a-z_, ]+)\) \(\w+\((portal_[a-z_]+)", expr):
            for label in (part.strip() for part in grouping.split(",")):
                assert label in served[name] | SCRAPE_LABELS, (expr, label)


def test_every_label_value_the_dashboard_compares_with_exists(expressions, portal_app):
    text = portal_app.test_client().get("/metrics").get_data(as_text=True)
    values: set[tuple[str, str]] = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values.update(sample.labels.items())
    for expr in expressions:
        for label, value in re.findall(r'\b(result|kind|reason|endpoint|check)!?="([^"]*)"', expr):
            assert (label, value) in values, (expr, label, value)


def test_the_dashboard_asks_for_its_data_source(dashboard):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    for panel in panels(dashboard["panels"]):
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
