"""``python -m benchmarks``: run every benchmark and print the table (``--help`` for sizes)."""

from benchmarks.run import main

raise SystemExit(main())
