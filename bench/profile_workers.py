"""Where a gunicorn worker's time goes on /account and /healthz, under the benchmark's load.

The complement of bench/profile_pages.py (cProfile of the WSGI app alone, which inflates every
Python call): this samples the real thing. It starts Redis, the dev IdP and the portal as in
the Procfile (bench/servers.py), signs a customer in, and for each path runs py-spy on the
gunicorn master and its workers (``--subprocesses --gil``: only samples where a thread holds
the interpreter, so waiting on sockets is not counted) while 8 keep-alive clients load that
path. It prints, per path, the share of a request's samples spent in each part: gunicorn's own
work, the session read, the request hooks, the view and its rendering.

py-spy is not a dependency of the portal: ``.venv/bin/pip install py-spy`` first.

    .venv/bin/python -m bench.profile_workers [--seconds 6] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load import hammer  # noqa: E402
from bench.logins import login_with_cookies  # noqa: E402
from bench.servers import Servers  # noqa: E402
from bench.servers import bench_user  # noqa: E402
from tests.support.journey import Authenticator  # noqa: E402

CLIENTS = 8
#: A request, in a gthread worker: everything below this frame is the request's.
REQUEST = "ThreadWorker.handle ("
#: The parts reported, by the frame that starts each (the first that matches wins).
PARTS = (
    ("rendering (templates)", "render_template ("),
    ("session read (Redis)", "open_session ("),
    ("request hooks (before)", "Flask.preprocess_request ("),
    ("request hooks (after)", "Flask.finalize_request ("),
    ("the view, besides rendering", "Flask.dispatch_request ("),
    ("Flask's request setup and teardown", "Flask.wsgi_app ("),
)
OTHER = "gunicorn (parse, write, access log)"


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        print("bench: py-spy not found: .venv/bin/pip install py-spy", file=sys.stderr)
        sys.exit(2)
    return found


def shares(raw: Path) -> tuple[int, dict[str, float]]:
    """Samples inside a request, and the share of each part (py-spy's raw format: one line
    per distinct stack, frames separated by ';', then the count)."""
    total = 0
    parts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        starts = [i for i, frame in enumerate(frames) if REQUEST in frame]
        if not starts:
            continue
        inside = frames[starts[0] :]
        n = int(count)
        total += n
        part = next(
            (name for name, marker in PARTS if any(marker in f for f in inside)),
            OTHER,
        )
        parts[part] += n
    return total, {name: parts[name] / total for name in [*dict(PARTS), OTHER] if total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="sampling time per path")
    parser.add_argument("--keep", action="store_true", help="keep the raw samples")
    args = parser.parse_args()
    spy = py_spy()
    workdir = Path(tempfile.mkdtemp(prefix="portal-profile-"))
    users = [bench_user(0)]
    servers = Servers(workdir, users).start()
    try:
        _, _, cookies = login_with_cookies(servers.portal, servers.idp, Authenticator(), users[0])
        targets = {"/healthz": {}, "/account": {"Cookie": cookies}}
        results = {}
        for path, headers in targets.items():
            hammer(servers.portal.url, path, seconds=1.0, clients=CLIENTS, headers=headers)
            raw = workdir / f"samples{path.replace('/', '-')}.txt"
            record = subprocess.Popen(
                [spy, "record", "--gil", "--subprocesses", "--rate", "1000", "--format", "raw"]
                + ["--duration", str(int(args.seconds) + 1), "--output", str(raw)]
                + ["--pid", str(servers.portal.process.proc.pid)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)  # py-spy attaches to every worker
            load = hammer(
                servers.portal.url,
                path,
                seconds=args.seconds,
                clients=CLIENTS,
                headers=headers,
                requests_per_connection=50,
            )
            record.wait(timeout=args.seconds + 30)
            results[path] = (load, *shares(raw))
        for path, (load, total, parts) in results.items():
            print(f"\n{path}: {load.per_second:,.0f}/s, {total:,} samples inside requests")
            for name, share in parts.items():
                print(f"  {share:6.1%}  {name}")
        if args.keep:
            print(f"\nraw samples: {workdir}")
    finally:
        servers.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
