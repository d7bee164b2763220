"""/metrics under gunicorn with two workers: the figures of both, whichever worker answers.

The portal runs as in the Procfile (``--config python:portal.gunicorn_conf``) with two
workers and PROMETHEUS_MULTIPROC_DIR named by the test, so the test can look at each worker's
own file: the logins must really be split between the workers, and every scrape, on a fresh
connection each, must still count all of them. A file left by an earlier run is in the folder
before the start, and must not count.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.support.devidp import start_devidp
from tests.support.journey import Authenticator
from tests.support.journey import Journey
from tests.support.metrics_text import value
from tests.support.portal_server import CLIENT_SECRET
from tests.support.portal_server import LivePortal
from tests.support.processes import free_port
from tests.support.stack import pool_user

MAX_LOGINS = 12
STALE_LOGINS = 100


def leave_stale_figures(folder: Path) -> None:
    """What a previous run of the portal left: 100 logins, in a process long gone."""
    folder.mkdir(parents=True, exist_ok=True)
    code = (
        "from prometheus_client import Counter; "
        f"Counter('portal_logins', 'x', ['result']).labels('ok').inc({STALE_LOGINS})"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert list(folder.glob("counter_*.db"))


def logins_per_worker(folder: Path) -> dict[str, float]:
    """Each worker's own count of successful logins, read from its file alone."""
    counts = {}
    for path in folder.glob("counter_*.db"):
        with tempfile.TemporaryDirectory() as alone:
            shutil.copy(path, alone)
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=alone)
            text = generate_latest(registry).decode()
        counts[path.stem] = value(text, "portal_logins_total", result="ok")
    return counts


@pytest.fixture(scope="module")
def live(tmp_path_factory, redis_server):
    workdir = tmp_path_factory.mktemp("metrics")
    port = free_port()
    idp = start_devidp(
        workdir / "devidp",
        portal_base_url=f"http://127.0.0.1:{port}",
        client_secret=CLIENT_SECRET,
        users=[pool_user(n).as_config() for n in range(MAX_LOGINS)],
    )
    folder = workdir / "prometheus"
    leave_stale_figures(folder)
    portal = LivePortal(
        workdir,
        issuer=idp.url,
        port=port,
        redis_url=redis_server.url,
        env={"PROMETHEUS_MULTIPROC_DIR": str(folder)},
        workers=2,
    )
    try:
        portal.start()
        yield portal, idp, folder
    finally:
        portal.stop()
        idp.stop()


def fresh_scrape(url: str) -> str:
    """A scrape on a new connection: any worker may answer it."""
    response = requests.get(url + "/metrics", headers={"Connection": "close"}, timeout=10)
    assert response.status_code == 200
    return response.text


def test_logins_are_counted_once_whichever_worker_answers(live):
    portal, idp, folder = live
    phone = Authenticator()
    logins = 0
    while logins < 4 or len([n for n in logins_per_worker(folder).values() if n]) < 2:
        assert logins < MAX_LOGINS, f"every login landed on one worker: {logins_per_worker(folder)}"
        journey = Journey(portal, idp, phone)
        journey.browser.session.headers["Connection"] = "close"  # each request: any worker
        journey.first_login(pool_user(logins))
        logins += 1
    per_worker = logins_per_worker(folder)
    assert sum(per_worker.values()) == logins
    scrapes = [
        value(fresh_scrape(portal.url), "portal_logins_total", result="ok") for _ in range(8)
    ]
    assert scrapes == [logins] * 8  # all workers' figures, and nothing of the earlier run


def test_the_folder_is_emptied_at_start_and_workers_write_there(live):
    _, _, folder = live
    files = {path.name for path in folder.glob("*.db")}
    assert files, "no worker wrote its figures to PROMETHEUS_MULTIPROC_DIR"
    assert sum(1 for name in files if name.startswith("counter_")) >= 2  # one per worker
    assert sum(logins_per_worker(folder).values()) < STALE_LOGINS
