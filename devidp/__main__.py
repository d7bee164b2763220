"""``python -m devidp ...`` runs the same command as the ``devidp`` console script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
