"""devidp/clock.py: real time, plus the clock file's offset when test hooks are on."""

from __future__ import annotations

import time

import pytest

from devidp import clock


@pytest.fixture(autouse=True)
def _reset():
    yield
    clock.configure(test_hooks=False, clock_file=None)


def test_the_offset_is_read_on_every_call(tmp_path):
    path = tmp_path / "clock"
    path.write_text("43200")
    clock.configure(test_hooks=True, clock_file=path)
    assert clock.now() - time.time() == pytest.approx(43200, abs=5)
    path.write_text("-60.5")
    assert clock.offset() == -60.5


@pytest.mark.parametrize("content", [None, "", "  \n", "not a number"])
def test_missing_empty_or_bad_files_mean_no_offset(tmp_path, content):
    path = tmp_path / "clock"
    if content is not None:
        path.write_text(content)
    clock.configure(test_hooks=True, clock_file=path)
    assert clock.offset() == 0


def test_the_file_is_ignored_without_test_hooks(tmp_path, caplog):
    path = tmp_path / "clock"
    path.write_text("43200")
    clock.configure(test_hooks=False, clock_file=path)
    assert clock.offset() == 0
    assert "test_hooks is off" in caplog.text
