"""``python -m versioning``: see :mod:`versioning.cli`."""

import sys

from versioning.cli import main

sys.exit(main(prog_name="python -m versioning"))
