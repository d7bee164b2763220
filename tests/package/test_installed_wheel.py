"""The portal as a deployer installs it: a wheel in a fresh virtual environment, outside the
checkout, serving every page.

The wheel is built from this repository, installed with its dependencies into a new virtual
environment in a temporary folder, and run from another temporary folder, so nothing of the
source tree can be imported or read: templates, CSS and both commands (``portal``, ``devidp``)
must come from the package. The dev IdP of the same installed package is the IdP, and a
customer walks the first login (username, password, TOTP enrolment, code) and logs out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.devidp import DevIdP
from tests.support.devidp import portal_client
from tests.support.devidp import write_config
from tests.support.journey import Journey
from tests.support.journey import User
from tests.support.processes import REPO_ROOT
from tests.support.processes import LiveProcess
from tests.support.processes import free_port

CLIENT_SECRET = "wheel-test-client-secret"
NOT_SOURCE = (
    ".git",
    ".venv",
    "node_modules",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "instance",
    "test-artifacts",
    ".pytest_cache",
    ".ruff_cache",
    "*.mo",  # the build compiles the catalogues: a clean clone has none
)
CUSTOMER = User("wheel", "password-of-the-wheel-customer", "Wheel Customer")


def _run(argv: list[str], cwd: Path, timeout: float = 900) -> str:
    """Run a set-up step; fail the test with its output when it fails."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONWARNINGS"] = "ignore"  # pip's own build notices are not under test
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (
        f"{argv} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


@dataclass
class Installed:
    venv: Path
    rundir: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel built and installed into a new virtual environment outside the checkout."""
    root = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools writes build/ into the source folder, and a build/ left
    # from an earlier run would put stale modules into the wheel.
    source = root / "source"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    dist = root / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        root,
    )
    wheels = list(dist.glob("customer_portal-*.whl"))
    assert len(wheels) == 1, wheels
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], root)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheels[0])], root)
    rundir = root / "elsewhere"
    rundir.mkdir()
    return Installed(venv=venv, rundir=rundir)


class InstalledDevIdP(DevIdP):
    """The dev IdP started with the installed package's ``devidp`` command."""

    def __init__(self, installed: Installed, **kwargs) -> None:
        super().__init__(**kwargs)
        self.installed = installed

    def start(self) -> InstalledDevIdP:
        argv = [
            self.installed.bin("devidp"),
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        self._process = LiveProcess(
            "devidp", argv, env=self.env(), cwd=self.installed.rundir, log_path=self.log_path
        ).start()
        try:
            self._process.wait_http(f"{self.url}/healthz")
        except BaseException:
            self.stop()
            raise
        return self


@dataclass
class InstalledPortal:
    url: str
    env: dict[str, str]
    process: LiveProcess


@pytest.fixture(scope="module")
def stack(
    installed: Installed, tmp_path_factory
) -> Iterator[tuple[InstalledDevIdP, InstalledPortal]]:
    work = tmp_path_factory.mktemp("wheel-stack")
    portal_port, idp_port = free_port(), free_port()
    portal_url = f"http://127.0.0.1:{portal_port}"
    idp = InstalledDevIdP(
        installed,
        workdir=work,
        port=idp_port,
        config_path=work / "devidp.toml",
        db_path=work / "devidp.sqlite3",
        clock_file=work / "devidp-clock",
    )
    write_config(
        idp.config_path,
        issuer=idp.url,
        db_path=idp.db_path,
        clients=[portal_client(portal_url, CLIENT_SECRET)],
        users=[CUSTOMER.as_config()],
    )
    idp.set_clock_offset(0)
    env = {
        "PORTAL_OIDC_ISSUER": idp.url,
        "PORTAL_OIDC_CLIENT_ID": "portal",
        "PORTAL_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "PORTAL_BASE_URL": portal_url,
        "PORTAL_SECRET_KEY": "wheel-test-secret-key-0123456789abcdefghij",
        "PORTAL_SESSION_DIR": str(work / "sessions"),
        "PORTAL_SSO_NAME": "Example Business Auth",
    }
    portal = InstalledPortal(
        url=portal_url,
        env=env,
        process=LiveProcess(
            "portal",
            [
                installed.bin("gunicorn"),
                "--bind",
                f"127.0.0.1:{portal_port}",
                "portal:create_app()",
            ],
            env=env,
            cwd=installed.rundir,
            log_path=work / "portal.log",
        ),
    )
    idp.start()
    try:
        portal.process.start()
        portal.process.wait_http(f"{portal_url}/healthz")
        yield idp, portal
    finally:
        portal.process.stop()
        idp.stop()


def test_the_package_is_imported_from_the_virtual_environment(installed):
    out = _run(
        [
            installed.bin("python"),
            "-c",
            "import portal, devidp; print(portal.__file__); print(devidp.__file__)",
        ],
        installed.rundir,
    )
    for line in out.split():
        assert Path(line).is_relative_to(installed.venv), line
        assert not Path(line).is_relative_to(REPO_ROOT), line


def test_first_login_and_logout_from_the_installed_wheel(stack):
    idp, portal = stack
    journey = Journey(portal, idp)
    landing = journey.open("/")
    assert landing.status == 200 and "Login" in landing.text
    account = journey.first_login(CUSTOMER)
    assert account.path == "/account", account.text[:500]
    assert "Wheel Customer" in account.text
    logged_out = journey.logout()
    assert logged_out.path == "/logged-out"
    assert "still signed in" in logged_out.text
    assert "Traceback" not in portal.process.log_text()


def test_the_installed_pages_speak_french(stack):
    """The wheel carries the compiled catalogues (built from the .po files), and the portal's
    French login reaches the IdP's screens in French through ui_locales."""
    idp, portal = stack
    browser = requests.Session()
    landing = browser.get(portal.url + "/?lang=fr", timeout=10)
    assert '<html lang="fr">' in landing.text
    assert "Bienvenue dans votre Espace client" in landing.text
    username = browser.get(portal.url + "/login", timeout=10)  # the choice is remembered
    assert username.url.startswith(idp.url + "/login"), username.url
    assert '<html lang="fr">' in username.text
    assert "Nom d’utilisateur" in username.text and "Se connecter" in username.text


@pytest.mark.parametrize("which", ["portal", "idp"])
def test_css_is_served_from_the_package(stack, which):
    idp, portal = stack
    base = portal.url if which == "portal" else idp.url
    page = requests.get(base + "/", timeout=10)
    css_links = [part.split('"')[0] for part in page.text.split('rel="stylesheet" href="')[1:]]
    assert css_links, page.text[:500]
    css = requests.get(requests.compat.urljoin(base + "/", css_links[0]), timeout=10)
    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert len(css.content) > 100


def test_portal_check_runs_from_the_installed_command(stack, installed):
    idp, portal = stack
    env = {**os.environ, **portal.env}
    result = subprocess.run(
        [installed.bin("portal"), "check"],
        cwd=installed.rundir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Result: ready" in result.stdout


def test_the_testing_extra_runs_the_example_tests_outside_the_checkout(installed, tmp_path):
    """A deployer's view of ``portal.testing``: the wheel with its ``testing`` extra, and
    examples/invoices copied out of the checkout, whose tests find the fixtures through the
    plugin's ``pytest11`` entry point (nothing from tests/ is there to import)."""
    [wheel] = (installed.venv.parent / "dist").glob("customer_portal-*.whl")
    _run(
        [installed.bin("python"), "-m", "pip", "install", "-q", f"{wheel}[testing]"],
        installed.rundir,
    )
    example = tmp_path / "invoices"
    shutil.copytree(
        REPO_ROOT / "examples" / "invoices",
        example,
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"),
    )
    out = _run(
        [installed.bin("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        example,
    )
    assert " passed" in out and "failed" not in out and "error" not in out, out[-2000:]
