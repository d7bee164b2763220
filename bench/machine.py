"""What the numbers were measured on: CPU model, cores, Python, Redis, kernel, date."""

from __future__ import annotations

import os
import platform
from datetime import UTC
from datetime import datetime
from pathlib import Path


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU"
    for line in text.splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def describe(redis_version: str) -> list[tuple[str, str]]:
    return [
        ("CPU", cpu_model()),
        ("Cores", str(cores())),
        ("Python", platform.python_version()),
        ("Redis", redis_version),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]
