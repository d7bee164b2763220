"""portal.gunicorn_conf's part in metrics and logs, each check in a fresh interpreter.

Reading the file must change nothing (tests and tools read it in-process); gunicorn's
``on_starting`` prepares the multiprocess folder; PORTAL_LOG_FORMAT=json routes gunicorn's
loggers through the portal's JSON handler. Under a running gunicorn:
tests/integration/test_metrics_under_gunicorn.py and tests/integration/test_json_logs.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.portal_env import portal_env
from tests.support.processes import REPO_ROOT


def run(code: str, env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={k: v for k, v in {**os.environ, **env}.items() if v is not None},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_reading_the_config_changes_nothing_in_the_process(tmp_path):
    seen = run(
        "import json, os, sys, portal.gunicorn_conf as c; print(json.dumps({"
        "'dir': os.environ.get('PROMETHEUS_MULTIPROC_DIR'),"
        "'imported': 'prometheus_client' in sys.modules}))",
        {**portal_env(tmp_path), "PROMETHEUS_MULTIPROC_DIR": ""},
    )
    assert seen == {"dir": "", "imported": False}


def test_on_starting_empties_the_named_folder(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_12345.db").write_bytes(b"old figures")
    (folder / "keep.txt").write_text("not prometheus_client's")
    seen = run(
        "import json, os, portal.gunicorn_conf as c; c.on_starting(None); "
        "print(json.dumps({'dir': os.environ['PROMETHEUS_MULTIPROC_DIR'],"
        "'files': sorted(os.listdir(os.environ['PROMETHEUS_MULTIPROC_DIR']))}))",
        {**portal_env(tmp_path), "PROMETHEUS_MULTIPROC_DIR": str(folder)},
    )
    assert seen == {"dir": str(folder), "files": ["keep.txt"]}


def test_without_a_named_folder_a_private_one_is_made_and_removed_at_exit(tmp_path):
    seen = run(
        "import json, os, stat, portal.gunicorn_conf as c; c.on_starting(None); "
        "d = os.environ['PROMETHEUS_MULTIPROC_DIR']; mode = stat.S_IMODE(os.stat(d).st_mode); "
        "c.on_exit(None); print(json.dumps({'mode': mode, 'left': os.path.exists(d)}))",
        {**portal_env(tmp_path), "PROMETHEUS_MULTIPROC_DIR": ""},
    )
    assert seen == {"mode": 0o700, "left": False}


def test_json_format_sends_gunicorns_loggers_through_the_portal_handler(tmp_path):
    code = "import json, portal.gunicorn_conf as c; print(json.dumps(c.logconfig_dict))"
    assert run(code, portal_env(tmp_path)) == {}
    config = run(code, portal_env(tmp_path, PORTAL_LOG_FORMAT="json"))
    assert config["handlers"]["portal"]["()"] == "portal.logs.make_handler"
    assert config["root"]["handlers"] == ["portal"]
    for name in ("gunicorn.error", "gunicorn.access"):
        assert config["loggers"][name] == {"level": "INFO", "handlers": [], "propagate": True}


def test_gunicorns_own_text_lines_are_escaped_in_gunicorns_layout(tmp_path):
    """Each handler gunicorn sets up (here a file, as ``--access-logfile`` and
    ``--error-logfile`` make) keeps its place and layout, with the portal's escaping around
    it, and a configuration reload (``setup`` again) neither loses nor doubles it."""
    access, error = tmp_path / "access.log", tmp_path / "error.log"
    code = (
        "import json, pathlib, portal.gunicorn_conf as c\n"
        "from gunicorn.config import Config\n"
        "cfg = Config()\n"
        f"cfg.set('accesslog', {str(access)!r}); cfg.set('errorlog', {str(error)!r})\n"
        "log = c.logger_class(cfg)\n"
        "log.setup(cfg)\n"
        "log.setup(cfg)\n"
        "log.access_log.info('%(h)s \"%(U)s\"', {'h': '127.0.0.1', 'U': '/\\nforged\\x1b[2J'})\n"
        "try:\n"
        "    raise ValueError('bad\\nforged')\n"
        "except ValueError:\n"
        "    log.exception('worker %s\\nforged', 'w1')\n"
        "print(json.dumps([pathlib.Path(p).read_text() for p in (cfg.accesslog, cfg.errorlog)]))"
    )
    access_text, error_text = run(code, portal_env(tmp_path))
    assert access_text == '127.0.0.1 "/\\nforged\\x1b[2J"\n'
    first, *traceback = error_text.splitlines()
    assert first.endswith("[ERROR] worker w1\\nforged") and first.startswith("[")
    assert traceback and all(line.startswith("    ") for line in traceback)
    assert "    ValueError: bad" in traceback and "    forged" in traceback  # indented
