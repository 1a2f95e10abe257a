"""``python -m datapipe.extract``: the extractor alone, as the DAGs' extraction pods run it."""

import sys

from datapipe.cli import extract_main

sys.exit(extract_main())
