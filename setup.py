"""Build step of the package: compile the translation catalogues.

The repository holds the catalogues as text (``<package>/translations/<lang>/LC_MESSAGES/
messages.po``), which is what translators edit and reviewers read. Flask-Babel reads the compiled
form (``messages.mo``), so every build makes it here: into the build folder for a wheel (the
installed package then carries every language it offers), and next to the ``.po`` file for an
editable install, whose package is the source folder itself. Everything else about the package
is in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py

PACKAGES_WITH_CATALOGUES = ("portal", "devidp")


def compile_catalogues(source: Path, target: Path) -> list[Path]:
    """Compile every ``source/<lang>/LC_MESSAGES/*.po`` to ``target/<lang>/LC_MESSAGES/*.mo``.

    Fuzzy entries are left out (they are guesses nobody checked), as ``pybabel compile`` does.
    """
    written = []
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        mo = target / po.relative_to(source).with_suffix(".mo")
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parent.parent.name)
        with mo.open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)
        written.append(mo)
    return written


class BuildPyWithCatalogues(build_py):
    """``build_py``, then the ``.mo`` files of each package's catalogues."""

    def run(self) -> None:
        super().run()
        for package in PACKAGES_WITH_CATALOGUES:
            source = Path(self.get_package_dir(package)) / "translations"
            target = source if self.editable_mode else Path(self.build_lib, package, "translations")
            compile_catalogues(source, target)


setup(cmdclass={"build_py": BuildPyWithCatalogues})
