#!/usr/bin/env bash
# Bring the translation catalogues up to date after a text changed in a template or in the code.
#
# For each package (portal, devidp): extract every text marked for translation (babel.cfg names
# the files; _(), gettext, ngettext, lazy_gettext and _l mark them), merge the new and changed
# ones into each <package>/translations/<lang>/LC_MESSAGES/messages.po (texts no longer used go
# away), then compile. New entries come with an empty translation: fill them in the .po file;
# tests/unit/test_translations.py names any entry left empty, and checks the compiled files.
# Usage: scripts/translations.sh            (run from anywhere; needs `make test`'s .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
pybabel=.venv/bin/pybabel
for package in portal devidp; do
  template=$(mktemp)
  "$pybabel" -q extract -F babel.cfg -k lazy_gettext -k _l -w 100 -o "$template" "$package"
  "$pybabel" -q update -i "$template" -d "$package/translations" -w 100 \
    --ignore-obsolete --no-fuzzy-matching
  rm -f "$template"
  "$pybabel" -q compile -d "$package/translations"
done
