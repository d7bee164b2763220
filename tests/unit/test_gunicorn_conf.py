"""portal.gunicorn_conf: the package's gunicorn settings; a bad setting is one line at start."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.portal_env import portal_env


def _start(env: dict[str, str], cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "python:portal.gunicorn_conf",
         "--bind", "127.0.0.1:0", "portal:create_app()"],
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
