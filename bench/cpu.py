"""CPU seconds used by a process group, read from /proc (Linux), to see where time goes.

The servers are started in their own sessions (``start_new_session``), so each one's process
group holds the master and its workers. Without /proc the readings are None.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _group_stats(pgid: int) -> list[tuple[int, list[str]]]:
    """(pid, stat fields after the command name) of every live process in group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name may contain spaces: fields start after the last ')'
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:  # field 5 of stat: pgrp
            found.append((int(entry.name), fields))
    return found


def group_cpu_seconds(pgid: int) -> float | None:
    """utime + stime of every live process whose process group is ``pgid``."""
    if not Path("/proc").is_dir():
        return None
    # fields 14, 15 of stat: utime, stime
    total = sum(int(f[11]) + int(f[12]) for _, f in _group_stats(pgid))
    return total / _TICK


def group_pids(pgid: int) -> list[int]:
    return [pid for pid, _ in _group_stats(pgid)]


class CpuMeter:
    """CPU seconds per named process group between ``start()`` and ``stop()``."""

    def __init__(self, groups: dict[str, int]) -> None:
        self.groups = groups
        self._start: dict[str, float | None] = {}
        self.used: dict[str, float | None] = {}

    def start(self) -> CpuMeter:
        self._start = {name: group_cpu_seconds(pgid) for name, pgid in self.groups.items()}
        self._start["client"] = _own_cpu()
        return self

    def stop(self) -> dict[str, float | None]:
        now = {name: group_cpu_seconds(pgid) for name, pgid in self.groups.items()}
        now["client"] = _own_cpu()
        self.used = {
            name: (now[name] - before if now[name] is not None and before is not None else None)
            for name, before in self._start.items()
        }
        return self.used


def _own_cpu() -> float:
    """This process and its finished children (client processes are joined before reading)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system
