"""``python -m datapipe``: the datapipe CLI."""

import sys

from datapipe.cli import main

sys.exit(main())
