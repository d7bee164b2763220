"""bench/profile_workers.py reads py-spy's raw samples into the README's shares."""

from __future__ import annotations

import pytest

from bench.profile_workers import OTHER
from bench.profile_workers import shares

HANDLE = "process 1:gunicorn;Thread.run (threading.py:1);ThreadWorker.handle (gthread.py:1)"
APP = f"{HANDLE};Flask.wsgi_app (flask/app.py:1)"


def test_each_sample_counts_once_for_the_first_part_it_is_in(tmp_path):
    raw = tmp_path / "samples.txt"
    raw.write_text(
        "\n".join(
            [
                f"{APP};Flask.dispatch_request (app.py:2);render_template (t.py:3) 6",
                f"{APP};RequestContext.push (ctx.py:1);open_session (s.py:9) 2",
                f"{APP};Flask.finalize_request (app.py:5) 1",
                f"{HANDLE};Logger.access (glogging.py:1) 1",
                "process 1:gunicorn;Arbiter.run (arbiter.py:1) 50",  # the master, not a request
            ]
        )
        + "\n"
    )
    total, parts = shares(raw)
    assert total == 10
    assert parts["rendering (templates)"] == pytest.approx(0.6)
    assert parts["session read (Redis)"] == pytest.approx(0.2)
    assert parts["request hooks (after)"] == pytest.approx(0.1)
    assert parts[OTHER] == pytest.approx(0.1)
    assert sum(parts.values()) == pytest.approx(1.0)
