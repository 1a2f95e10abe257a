"""``python -m infra.render``: the documented command for the offline render (:mod:`infra.offline.render`)."""

import sys

from infra.offline.render import main

if __name__ == "__main__":
    sys.exit(main())
