"""portal.gunicorn_conf: the package's gunicorn settings; a bad setting is one line at start."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from unittest import mock

from tests.support.portal_env import portal_env


def _start(env: dict[str, str], cwd, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "python:portal.gunicorn_conf",
         "--bind", "127.0.0.1:0", *args, "portal:create_app()"],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip


def test_session_folder_writable_by_others_is_one_line_at_start(tmp_path):
    folder = tmp_path / "shared-sessions"
    folder.mkdir()
    folder.chmod(0o777)
    result = _start(portal_env(tmp_path, PORTAL_SESSION_DIR=str(folder)), tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("portal: configuration error: PORTAL_SESSION_DIR")
    )


def test_missing_setting_is_one_line_at_start(tmp_path):
    env = portal_env(tmp_path)
    env["PORTAL_OIDC_ISSUER"] = ""
    result = _start(env, tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "portal: configuration error: PORTAL_OIDC_ISSUER" in result.stderr


def test_a_worker_count_that_is_not_a_number_is_one_line_at_start(tmp_path):
    result = _start({**portal_env(tmp_path), "PORTAL_WORKERS": "two"}, tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "portal: configuration error: PORTAL_WORKERS: expected a whole number of at least 1 "
        "(got 'two')"
    )


def _settings_with(env: dict[str, str]) -> dict[str, object]:
    """The module's values when gunicorn reads it with ``env`` as the whole environment."""
    with mock.patch.dict(os.environ, env, clear=True):
        sys.modules.pop("portal.gunicorn_conf", None)
        try:
            return dict(vars(importlib.import_module("portal.gunicorn_conf")))
        finally:
            sys.modules.pop("portal.gunicorn_conf", None)


def test_gunicorn_reads_its_settings_from_the_env_file_too(tmp_path):
    """A deployer's env file (PORTAL_ENV_FILE) is where PORTAL_BIND and the worker count
    go as well; a Redis URL there makes several workers the default."""
    env = portal_env(tmp_path)
    env_file = tmp_path / "portal.env"
    env_file.write_text(
        "".join(f"{k}={v}\n" for k, v in env.items())
        + "PORTAL_BIND=unix:/run/portal/portal.sock\nPORTAL_THREADS=2\n"
        + "PORTAL_REDIS_URL=redis://127.0.0.1:6390/0\n"
    )
    values = _settings_with({"PORTAL_ENV_FILE": str(env_file)})
    assert values["bind"] == "unix:/run/portal/portal.sock"
    assert values["threads"] == 2
    assert values["workers"] >= 2
    # the environment wins over the file, as for every other setting
    values = _settings_with({"PORTAL_ENV_FILE": str(env_file), "PORTAL_WORKERS": "3"})
    assert values["workers"] == 3


def test_one_worker_by_default_with_the_filesystem_sessions(tmp_path):
    assert _settings_with(portal_env(tmp_path))["workers"] == 1


def test_several_workers_on_the_filesystem_sessions_is_one_line_at_start(tmp_path):
    """The file index's lock holds within one process only; several workers would lose
    logouts, so they are refused, whether from PORTAL_WORKERS or gunicorn's own -w."""
    for extra_env, extra_args in (({"PORTAL_WORKERS": "2"}, []), ({}, ["--workers", "3"])):
        result = _start({**portal_env(tmp_path), **extra_env}, tmp_path, *extra_args)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("portal: configuration error: PORTAL_WORKERS: expected 1 with the")
