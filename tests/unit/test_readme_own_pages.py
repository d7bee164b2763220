"""The README's "Adding your own pages" and "Testing your pages" work as written.

A developer with only the README should get a signed-in page and passing tests for it: the
files those sections show (each code block names its file on its first line) are written to
an empty folder outside the checkout and their tests run there with the installed plugin.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"```(?:python|html)\n(.*?)```", re.DOTALL)
FILE_NAME = re.compile(r"^(?:#|\{#)\s*([\w./-]+\.(?:py|html))\b")


def readme_files() -> dict[str, str]:
    text = README.read_text()
    start = text.index("## Adding your own pages")
    end = text.index("\n## ", text.index("## Testing your pages"))
    files = {}
    for block in BLOCK.findall(text[start:end]):
        named = FILE_NAME.match(block)
        if named:
            files[named.group(1)] = block
    return files


def test_the_readme_shows_a_page_its_app_and_its_tests():
    assert set(readme_files()) == {
        "invoices.py",
        "templates/invoices.html",
        "my_portal.py",
        "conftest.py",
        "test_invoices.py",
    }


def test_the_readme_page_and_its_tests_pass_as_written(tmp_path):
    for name, content in readme_files().items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "5 passed" in result.stdout
