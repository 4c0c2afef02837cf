"""``python -m embedforge``: the command line (same as the ``embedforge`` command)."""

from __future__ import annotations

import sys

from embedforge.cli import main

if __name__ == "__main__":
    sys.exit(main())
